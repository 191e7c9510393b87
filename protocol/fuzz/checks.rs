//! The checks behind the protocol's fuzz targets, one function per target. The fuzz
//! targets (fuzz_targets/) and the corpus replay on stable Rust
//! (protocol/tests/fuzz_corpus.rs) both include this file, so what the fuzzer checks
//! and what the test suite checks cannot drift apart.
//!
//! Each function panics on a broken rule and otherwise tells what the input
//! exercised, so the replay can insist that its corpus reaches the interesting paths
//! (a decoder that refused everything would otherwise pass).

use natter_protocol::{
    decode_request, decode_server_frame, DecodeError, Decoded, FileName, Request, ServerFrame,
    MAX_HEADER, MAX_SERVER_HEADER,
};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::{Component, Path};

/// What one input held, counted over both decoders.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The verbs of the client frames decoded (each re-encoded and decoded again).
    pub requests: BTreeSet<String>,
    /// The verbs of the server frames decoded (each re-encoded and decoded again).
    pub server_frames: BTreeSet<String>,
    /// Empty lines stepped over, by either decoder.
    pub blanks: usize,
    /// Frames refused by either decoder; a refusal that is not fatal is stepped over.
    pub errors: usize,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Seen) {
        self.requests.extend(o.requests);
        self.server_frames.extend(o.server_frames);
        self.blanks += o.blanks;
        self.errors += o.errors;
    }
}

/// The decode target: walks `data` as a client stream and as a server stream, the
/// way a reader does (stepping over a refused line by its `used` count unless the
/// refusal is fatal). Every answer uses at least one byte and no more than it was
/// given; every frame re-encodes to bytes that decode to it again, whole; the
/// decoder waits for more only inside a `DATA` body or a header under its limit.
pub fn decode(data: &[u8]) -> Seen {
    let (requests, mut seen) = walk(data, decode_request, Request::to_bytes, MAX_HEADER);
    let (server_frames, server) = walk(
        data,
        decode_server_frame,
        ServerFrame::to_bytes,
        MAX_SERVER_HEADER,
    );
    seen += server;
    Seen {
        requests,
        server_frames,
        ..seen
    }
}

fn walk<F: PartialEq + Debug>(
    data: &[u8],
    decode: fn(&[u8]) -> Result<Decoded<F>, DecodeError>,
    encode: fn(&F) -> Vec<u8>,
    max_header: usize,
) -> (BTreeSet<String>, Seen) {
    let (mut verbs, mut seen) = (BTreeSet::new(), Seen::default());
    let mut rest = data;
    loop {
        let used = match decode(rest) {
            Ok(Decoded::Frame(f, used)) => {
                let again = encode(&f);
                match decode(&again) {
                    Ok(Decoded::Frame(back, n)) => {
                        assert_eq!(n, again.len(), "{f:?} re-encoded to {again:?}");
                        assert_eq!(back, f, "re-encoded as {again:?}");
                    }
                    other => panic!("{f:?} re-encoded to {again:?}, which gave {other:?}"),
                }
                let verb = again.split(|&b| b == b' ' || b == b'\n').next();
                verbs.insert(String::from_utf8_lossy(verb.unwrap_or_default()).into_owned());
                used
            }
            Ok(Decoded::Blank(used)) => {
                seen.blanks += 1;
                used
            }
            Ok(Decoded::Incomplete) => {
                let first_line = rest.iter().position(|&b| b == b'\n').map(|i| &rest[..i]);
                match first_line {
                    None => assert!(rest.len() < max_header, "waits on {} bytes", rest.len()),
                    Some(line) => {
                        let verb = line.split(|&b| b == b' ').next().unwrap_or_default();
                        assert!(
                            verb.eq_ignore_ascii_case(b"DATA"),
                            "waits after a whole line that is not DATA: {line:?}"
                        );
                    }
                }
                return (verbs, seen);
            }
            Err(e) => {
                assert!(!e.text.is_empty(), "{e:?}");
                seen.errors += 1;
                if e.fatal {
                    assert!(e.used <= rest.len(), "{e:?} of {} bytes", rest.len());
                    return (verbs, seen);
                }
                e.used
            }
        };
        assert!(
            used > 0 && used <= rest.len(),
            "used {used} of {} bytes",
            rest.len()
        );
        rest = &rest[used..];
    }
}

/// What the file-name target made of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not UTF-8, so never a wire field.
    NotText,
    Accepted,
    Refused,
}

/// The file_name target: a wire name either is refused, or decodes to a name that
/// obeys every rule of the spec, stays directly inside the folder it is joined to,
/// and travels back through its wire form unchanged.
pub fn file_name(data: &[u8]) -> Verdict {
    let Ok(wire) = std::str::from_utf8(data) else {
        return Verdict::NotText;
    };
    let f = match FileName::decode(wire) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{e:?}");
            return Verdict::Refused;
        }
    };
    let name = f.as_str();
    assert!(!name.is_empty() && name.len() <= 255, "{name:?}");
    assert!(!name.contains('/') && !name.contains('\\'), "{name:?}");
    assert!(!name.starts_with('.'), "{name:?}");
    assert!(!name.bytes().any(|b| b < 0x20 || b == 0x7f), "{name:?}");
    // Nor anything that could disguise it when shown: C1 controls, line and
    // paragraph separators, bidirectional controls.
    assert!(
        !name.chars().any(|c| matches!(c,
            '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{name:?}"
    );
    // `join("..")` still has the folder as its parent, so the parent alone proves
    // nothing: the name must be one plain component, itself.
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(c)), None) => assert_eq!(c, name),
        other => panic!("{name:?} is not one plain path component: {other:?}"),
    }
    let folder = Path::new("/shared");
    let joined = folder.join(name);
    assert_eq!(joined.parent(), Some(folder), "{name:?}");
    assert_eq!(
        joined.file_name().and_then(|n| n.to_str()),
        Some(name),
        "{name:?}"
    );
    let again = f.to_wire();
    assert!(!again.bytes().any(|b| b <= b' ' || b == 0x7f), "{again:?}");
    assert_eq!(FileName::decode(&again).as_ref(), Ok(&f), "{again:?}");
    assert_eq!(FileName::new(name).as_ref(), Ok(&f), "{name:?}");
    Verdict::Accepted
}
