//! The calculator on arbitrary text: a value or a reason, never a panic or a stack
//! overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = natter_server::calc(s);
    }
});
