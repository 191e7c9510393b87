//! The file-name rules on arbitrary input: an accepted name obeys every rule, can
//! never leave the shared folder, and its wire form decodes back to it. The checks
//! are in ../checks.rs, shared with the corpus replay.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::file_name(data);
});
