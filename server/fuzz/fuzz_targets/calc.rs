//! The calculator on arbitrary text: a finite value or a reason, never a panic or a
//! stack overflow. The check is in ../checks.rs, shared with the corpus replay.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::calc(data);
});
