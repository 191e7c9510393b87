//! The short form of scripts/fuzz.sh for the protocol targets: replays the committed
//! corpus (seeds and every input a fuzzer once crashed on) through the very checks the
//! fuzz targets run (protocol/fuzz/checks.rs), on stable Rust.

#[path = "../fuzz/checks.rs"]
mod checks;

use checks::{Seen, Verdict};
use std::collections::BTreeSet;
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
fn decoder_corpus_round_trips() {
    let mut total = Seen::default();
    for (name, data) in corpus("decode") {
        let seen = std::panic::catch_unwind(|| checks::decode(&data))
            .unwrap_or_else(|_| panic!("{name} broke a decode check"));
        total += seen;
    }
    // A decoder that refused everything would pass every check above: the frames the
    // seeds were written to hold must all come out, and blank lines and refusals too.
    let verbs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let requests = verbs(&[
        "AUTH", "CALC", "DATA", "FILES", "GET", "GUESS", "HELLO", "PING", "PUT", "QUIT", "SAY",
        "STATUS", "TELL", "WHO",
    ]);
    let server = verbs(&["DATA", "DONE", "OK", "SESSION", "USER", "WELCOME"]);
    assert!(total.requests.is_superset(&requests), "{total:?}");
    assert!(total.server_frames.is_superset(&server), "{total:?}");
    assert!(total.blanks > 0 && total.errors > 0, "{total:?}");
}

#[test]
fn file_name_corpus_stays_inside_the_folder() {
    let (mut accepted, mut refused) = (0, 0);
    for (name, data) in corpus("file_name") {
        let verdict = std::panic::catch_unwind(|| checks::file_name(&data))
            .unwrap_or_else(|_| panic!("{name} broke a file-name check"));
        match verdict {
            Verdict::Accepted => accepted += 1,
            Verdict::Refused => refused += 1,
            Verdict::NotText => {}
        }
    }
    // Both verdicts, or the checks above prove little.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
