//! The short form of scripts/fuzz.sh for the calculator: replays the committed fuzz
//! corpus (seeds and every input a fuzzer once crashed on) on stable Rust. The
//! protocol's targets are replayed by protocol/tests/fuzz_corpus.rs.

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no corpus in {}", dir.display());
    out
}

#[test]
fn calc_corpus_answers() {
    for (_, data) in corpus("calc") {
        if let Ok(s) = std::str::from_utf8(&data) {
            let _ = natter_server::calc(s);
        }
    }
    assert_eq!(natter_server::calc("2 + 3 * 6").as_deref(), Ok("20"));
}
