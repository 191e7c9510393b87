//! The frame decoders on arbitrary bytes: never a panic, never fewer than one or more
//! bytes used than given, and every frame they accept re-encodes to bytes that decode
//! to it again. The checks are in ../checks.rs, shared with the corpus replay.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::decode(data);
});
