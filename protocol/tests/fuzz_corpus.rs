//! The short form of scripts/fuzz.sh for the protocol targets: replays the committed
//! fuzz corpus (seeds and every input a fuzzer once crashed on) through the same
//! checks, on stable Rust.

use natter_protocol::{decode_request, decode_server_frame, Decoded, FileName};
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
    for (name, data) in corpus("decode") {
        let mut rest = &data[..];
        while let Ok(Decoded::Frame(_, used) | Decoded::Blank(used)) = decode_request(rest) {
            if let Ok(Decoded::Frame(req, _)) = decode_request(rest) {
                let again = req.to_bytes();
                match decode_request(&again) {
                    Ok(Decoded::Frame(back, n)) => {
                        assert_eq!(n, again.len(), "{name}");
                        assert_eq!(back, req, "{name}");
                    }
                    other => panic!("{name}: re-encoded {req:?} gave {other:?}"),
                }
            }
            rest = &rest[used..];
        }
        if let Ok(Decoded::Frame(f, _)) = decode_server_frame(&data) {
            let again = f.to_bytes();
            assert!(
                matches!(decode_server_frame(&again), Ok(Decoded::Frame(ref back, _)) if *back == f),
                "{name}"
            );
        }
    }
}

#[test]
fn file_name_corpus_stays_inside_the_folder() {
    for (name, data) in corpus("file_name") {
        let Ok(s) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(f) = FileName::decode(s) {
            let p = Path::new("/shared").join(f.as_str());
            assert_eq!(p.parent(), Some(Path::new("/shared")), "{name}");
            assert_eq!(FileName::decode(&f.to_wire()).as_ref(), Ok(&f), "{name}");
        }
    }
}
