//! RESP2, the Redis wire format, sans I/O: commands are encoded into a buffer the loop
//! writes, and replies are decoded from whatever bytes have arrived, however they were
//! split. Written here rather than taken from a crate: natterd needs arrays of bulk
//! strings out and five reply types in, about two hundred lines with their tests,
//! while the `redis-protocol` crate (even without its tokio codec) brings its own
//! buffer types and a parser framework for RESP3 that natterd never speaks.
//!
//! Every size is bounded before anything is allocated: a reply longer than
//! [`MAX_BULK`], an array longer than [`MAX_ARRAY`] or nested deeper than
//! [`MAX_DEPTH`] is an error (the link is dropped and made again), never a buffer
//! that grows with whatever the peer claims.

use std::fmt;

/// The longest string natterd accepts from Redis: a whole roster of 10,000 users is
/// about 1 MiB.
pub const MAX_BULK: usize = 16 * 1024 * 1024;
/// The most elements of one array (a claims refresh answers one per name, at most
/// 500 a call); a partial array is parsed again as more arrives, so this stays small.
pub const MAX_ARRAY: usize = 4096;
/// Replies natterd gets are at most two deep (pub/sub messages, script results).
pub const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: what Redis said, whole.
    Error(String),
    Int(i64),
    /// `$-1` is `Bulk(None)`.
    Bulk(Option<Vec<u8>>),
    /// `*-1` is `Array(None)`.
    Array(Option<Vec<Value>>),
}

impl Value {
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(Some(b)) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not RESP: {}", self.0)
    }
}

/// Appends one command (an array of bulk strings) to `out`.
pub fn command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    header(out, b'*', args.len());
    for a in args {
        let a = a.as_ref();
        header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Decodes one reply from the front of `buf`: `Ok(None)` if it has not all arrived,
/// else the reply and the bytes it took.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    let mut at = 0;
    match value(buf, &mut at, 0)? {
        Some(v) => Ok(Some((v, at))),
        None => Ok(None),
    }
}

fn value(buf: &[u8], at: &mut usize, depth: usize) -> Result<Option<Value>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError(format!("nested deeper than {MAX_DEPTH}")));
    }
    let Some(line) = line(buf, *at)? else {
        return Ok(None);
    };
    let (kind, rest) = (buf[*at], &buf[*at + 1..*at + line]);
    let after_line = *at + line + 2;
    let text = || String::from_utf8_lossy(rest).into_owned();
    let v = match kind {
        b'+' => Value::Simple(text()),
        b'-' => Value::Error(text()),
        b':' => Value::Int(int(rest)?),
        b'$' => {
            let n = int(rest)?;
            if n < 0 {
                Value::Bulk(None)
            } else {
                let n = bounded(n, MAX_BULK, "string")?;
                let end = after_line + n;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError("a string not ended by CRLF".into()));
                }
                *at = end + 2;
                return Ok(Some(Value::Bulk(Some(buf[after_line..end].to_vec()))));
            }
        }
        b'*' => {
            let n = int(rest)?;
            if n < 0 {
                Value::Array(None)
            } else {
                let n = bounded(n, MAX_ARRAY, "array")?;
                let mut pos = after_line;
                // Not sized by what the peer claims: grown as elements arrive.
                let mut items = Vec::new();
                for _ in 0..n {
                    match value(buf, &mut pos, depth + 1)? {
                        Some(v) => items.push(v),
                        None => return Ok(None),
                    }
                }
                *at = pos;
                return Ok(Some(Value::Array(Some(items))));
            }
        }
        other => {
            return Err(ProtocolError(format!(
                "a reply starting with byte {other:#04x}"
            )))
        }
    };
    *at = after_line;
    Ok(Some(v))
}

/// The length of the line at `at` (up to its CR), once its CRLF has arrived.
fn line(buf: &[u8], at: usize) -> Result<Option<usize>, ProtocolError> {
    // A header line is a type byte and a number or a short status: 64 KiB is far
    // more than Redis ever sends on one, and bounds the search.
    const MAX_LINE: usize = 64 * 1024;
    let rest = &buf[at.min(buf.len())..];
    let scan = &rest[..rest.len().min(MAX_LINE + 2)];
    match scan.windows(2).position(|w| w == b"\r\n") {
        Some(0) => Err(ProtocolError("an empty line".into())),
        Some(n) => Ok(Some(n)),
        None if rest.len() > MAX_LINE => Err(ProtocolError("a line with no end".into())),
        None => Ok(None),
    }
}

fn int(s: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ProtocolError(format!("{:?} is not a number", String::from_utf8_lossy(s))))
}

fn bounded(n: i64, max: usize, what: &str) -> Result<usize, ProtocolError> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| ProtocolError(format!("a {what} of {n} (at most {max})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &["SET", "k", "a b\r\n"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n");
    }

    #[test]
    fn every_reply_type_decodes_and_says_how_much_it_took() {
        let wire = b"+OK\r\n-WRONGPASS invalid\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n:1";
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((v, n)) = decode(&wire[at..]).unwrap() {
            got.push(v);
            at += n;
        }
        assert_eq!(
            got,
            [
                Value::Simple("OK".into()),
                Value::Error("WRONGPASS invalid".into()),
                Value::Int(-42),
                bulk("a\r\n"),
                Value::Bulk(None),
                Value::Array(None),
                Value::Array(Some(vec![bulk("message"), bulk("c"), bulk("")])),
            ]
        );
        assert_eq!(&wire[at..], b":1", "an unended line waits for its CRLF");
    }

    #[test]
    fn a_reply_split_anywhere_decodes_once_whole() {
        let wire = b"*2\r\n$5\r\nhello\r\n*1\r\n:7\r\n";
        for cut in 0..wire.len() {
            assert_eq!(decode(&wire[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (v, n) = decode(wire).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(
            v,
            Value::Array(Some(vec![
                bulk("hello"),
                Value::Array(Some(vec![Value::Int(7)]))
            ]))
        );
    }

    #[test]
    fn empty_and_exactly_ended_replies_are_whole() {
        assert_eq!(
            decode(b"*0\r\n").unwrap(),
            Some((Value::Array(Some(vec![])), 4))
        );
        // A string ending exactly where the bytes end has arrived.
        assert_eq!(decode(b"$2\r\nok\r\n").unwrap(), Some((bulk("ok"), 8)));
        assert_eq!(bulk("ok").as_bytes(), Some(&b"ok"[..]));
        assert_eq!(Value::Simple("OK".into()).as_bytes(), Some(&b"OK"[..]));
        assert_eq!(Value::Int(1).as_bytes(), None);
    }

    #[test]
    fn a_roster_of_ten_thousand_users_fits() {
        let big = "u".repeat(2 * 1024 * 1024);
        let wire = format!("${}\r\n{big}\r\n", big.len());
        let (v, n) = decode(wire.as_bytes()).unwrap().unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(v.as_bytes().map(<[u8]>::len), Some(big.len()));
    }

    #[test]
    fn claims_past_the_bounds_are_errors_before_anything_is_allocated() {
        let huge = format!("${}\r\n", MAX_BULK + 1);
        assert!(decode(huge.as_bytes()).is_err());
        let long = format!("*{}\r\n", MAX_ARRAY + 1);
        assert!(decode(long.as_bytes()).is_err());
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(decode(deep.as_bytes()).is_err());
        assert!(
            decode(b"$3\r\nabcde\r\n").is_err(),
            "a string longer than said"
        );
        assert!(decode(b"?x\r\n").is_err());
        assert!(decode(b":12a\r\n").is_err());
        assert!(decode(b"\r\n").is_err());
        assert!(
            decode(&vec![b'+'; 70 * 1024]).is_err(),
            "a line with no end"
        );
        // At the bounds, still fine.
        let deep_ok = format!("{}:1\r\n", "*1\r\n".repeat(MAX_DEPTH));
        assert!(decode(deep_ok.as_bytes()).unwrap().is_some());
    }
}
