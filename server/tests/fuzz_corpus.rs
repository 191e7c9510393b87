//! The short form of scripts/fuzz.sh for the calculator: replays the committed corpus
//! (seeds and every input a fuzzer once crashed on) through the very check the fuzz
//! target runs (server/fuzz/checks.rs), on stable Rust. The protocol's targets are
//! replayed by protocol/tests/fuzz_corpus.rs.

#[path = "../fuzz/checks.rs"]
mod checks;

use checks::Outcome;
use std::path::Path;

#[test]
fn calc_corpus_answers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/calc");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    let (mut values, mut refused) = (0, 0);
    for path in inputs {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| checks::calc(&data))
            .unwrap_or_else(|_| panic!("{} broke the calc check", path.display()));
        match outcome {
            Outcome::Value => values += 1,
            Outcome::Refused => refused += 1,
            Outcome::NotText => {}
        }
    }
    // The corpus must reach both answers, or the check above proves little.
    assert!(
        values > 0 && refused > 0,
        "{values} values, {refused} refused"
    );
}
