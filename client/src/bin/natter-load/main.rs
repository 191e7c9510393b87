//! natter-load: the load generator (being written).
fn main() {
    eprintln!("natter-load: not built yet");
    std::process::exit(2);
}
