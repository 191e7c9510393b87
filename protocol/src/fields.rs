//! Field kinds of protocol v1 and their rules: user names, percent-encoded file
//! names and secrets, times, error and leave codes.
//!
//! Every value that crosses the wire is validated here and only here, so the server
//! and the client never filter names by string matching anywhere else. A value of
//! type [`UserName`] or [`FileName`] is valid by construction.
//!
//! Longer than 500 lines on purpose: every field's rules sit side by side, so the one
//! place that validates wire values reads as one grammar, in the order of the spec's
//! field table.

use std::fmt;

/// Longest user name, in bytes.
pub const MAX_NAME: usize = 32;
/// Longest file name once decoded, in bytes (the common file-system limit).
pub const MAX_FILE_NAME: usize = 255;
/// Longest secret once decoded, in bytes.
pub const MAX_SECRET: usize = 1024;

/// Why a field was refused. `Display` is written for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    NameEmpty,
    NameTooLong(usize),
    NameBadStart(char),
    NameBadChar(char),
    FileEmpty,
    FileTooLong(usize),
    FileBadEscape,
    FileNotUtf8,
    FileSlash,
    FileControl,
    FileBidi,
    FileDot,
    SecretEmpty,
    SecretTooLong(usize),
    SecretBadEscape,
    BadInt(String),
    BadTime(String),
    BadAddr(String),
    BadCode(String),
    BadSha256,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::NameEmpty => write!(f, "a user name cannot be empty"),
            FieldError::BadSha256 => write!(f, "a SHA-256 is 64 hex digits"),
            FieldError::NameTooLong(n) => {
                write!(f, "a user name is at most {MAX_NAME} characters (got {n})")
            }
            FieldError::NameBadStart(c) => {
                write!(
                    f,
                    "a user name must start with a letter or digit, not {c:?}"
                )
            }
            FieldError::NameBadChar(c) => write!(
                f,
                "a user name may hold only letters, digits, '_', '-' and '.', not {c:?}"
            ),
            FieldError::FileEmpty => write!(f, "a file name cannot be empty"),
            FieldError::FileTooLong(n) => {
                write!(f, "a file name is at most {MAX_FILE_NAME} bytes (got {n})")
            }
            FieldError::FileBadEscape => {
                write!(f, "a file name has a '%' not followed by two hex digits")
            }
            FieldError::FileNotUtf8 => write!(f, "a file name must be valid UTF-8"),
            FieldError::FileSlash => write!(f, "a file name cannot contain '/' or '\\'"),
            FieldError::FileControl => write!(f, "a file name cannot contain control characters"),
            FieldError::FileBidi => write!(
                f,
                "a file name cannot contain bidirectional controls (they make a name show as another)"
            ),
            FieldError::FileDot => write!(f, "a file name cannot start with '.'"),
            FieldError::SecretEmpty => write!(f, "the secret cannot be empty"),
            FieldError::SecretTooLong(n) => {
                write!(f, "the secret is at most {MAX_SECRET} bytes (got {n})")
            }
            FieldError::SecretBadEscape => {
                write!(f, "the secret has a '%' not followed by two hex digits")
            }
            FieldError::BadInt(s) => write!(f, "expected a whole number, got {s:?}"),
            FieldError::BadTime(s) => {
                write!(f, "expected a time like 2026-11-22T17:03:05Z, got {s:?}")
            }
            FieldError::BadAddr(s) => {
                write!(f, "expected an address like 127.0.0.1:7878, got {s:?}")
            }
            FieldError::BadCode(s) => write!(f, "expected a lower-case code, got {s:?}"),
        }
    }
}

impl std::error::Error for FieldError {}

/// A refused value as quoted back in an error: at most 40 characters, so an `ERR`
/// line stays short whatever was sent.
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A valid user name: 1 to 32 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit.
/// Two names are the same user when they are equal without regard to ASCII case;
/// [`UserName::key`] gives the form to compare and index by.
///
/// Held inline (names are at most 32 ASCII bytes): a server keeps one per connection
/// for as long as it lives, and small heap blocks that outlive a burst of traffic pin
/// the heap pages around them, which the server then cannot give back.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName {
    /// Zero-padded; names hold no NUL, so comparing the arrays orders by the text.
    bytes: [u8; MAX_NAME],
    len: u8,
}

impl UserName {
    pub fn new(s: &str) -> Result<UserName, FieldError> {
        let mut chars = s.chars();
        let first = chars.next().ok_or(FieldError::NameEmpty)?;
        if s.len() > MAX_NAME {
            return Err(FieldError::NameTooLong(s.chars().count()));
        }
        if !first.is_ascii_alphanumeric() {
            return Err(FieldError::NameBadStart(first));
        }
        if let Some(c) =
            chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(FieldError::NameBadChar(c));
        }
        let mut bytes = [0; MAX_NAME];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(UserName {
            bytes,
            len: s.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Valid ASCII by construction; the fallback is never taken.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The case-folded form under which names are unique.
    pub fn key(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// [`UserName::key`] as a name, for indexes that should not allocate.
    pub fn folded(&self) -> UserName {
        let mut folded = self.clone();
        folded.bytes.make_ascii_lowercase();
        folded
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserName").field(&self.as_str()).finish()
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid shared-folder file name, held decoded. It is safe to join onto the
/// shared folder's path: no separators, no `.`/`..`, no hidden names, no control bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName(String);

impl FileName {
    /// Validates a decoded name.
    pub fn new(s: &str) -> Result<FileName, FieldError> {
        check_file_bytes(s.as_bytes())?;
        Ok(FileName(s.to_string()))
    }

    /// Decodes and validates a name as it appears on the wire.
    pub fn decode(wire: &str) -> Result<FileName, FieldError> {
        let bytes = percent_decode(wire).ok_or(FieldError::FileBadEscape)?;
        check_file_bytes(&bytes)?;
        String::from_utf8(bytes)
            .map(FileName)
            .map_err(|_| FieldError::FileNotUtf8)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as it is written on the wire.
    pub fn encode(&self, out: &mut Vec<u8>) {
        percent_encode(self.0.as_bytes(), out);
    }

    /// The name with `_n` before its last extension: `song.mp3` -> `song_1.mp3`,
    /// `a.tar.gz` -> `a.tar_1.gz`, `README` -> `README_1`. The stem is shortened (on a
    /// character boundary) so the result stays within 255 bytes; `None` when nothing
    /// of it would be left. natterd names duplicate uploads this way, and natter
    /// names downloads that would overwrite a local file.
    pub fn numbered(&self, n: u32) -> Option<FileName> {
        let s = self.0.as_str();
        let (stem, ext) = match s.rfind('.') {
            Some(i) if i > 0 => (&s[..i], &s[i..]),
            _ => (s, ""),
        };
        let suffix = format!("_{n}");
        let room = MAX_FILE_NAME.checked_sub(suffix.len() + ext.len())?;
        let mut cut = stem.len().min(room);
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            return None;
        }
        FileName::new(&format!("{}{suffix}{ext}", &stem[..cut])).ok()
    }

    pub fn to_wire(&self) -> String {
        let mut v = Vec::with_capacity(self.0.len());
        self.encode(&mut v);
        // Percent-encoding only ever writes ASCII in place of bytes, so valid UTF-8 stays valid.
        String::from_utf8(v).unwrap_or_default()
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_file_bytes(b: &[u8]) -> Result<(), FieldError> {
    if b.is_empty() {
        return Err(FieldError::FileEmpty);
    }
    if b.len() > MAX_FILE_NAME {
        return Err(FieldError::FileTooLong(b.len()));
    }
    if b.iter().any(|&c| c == b'/' || c == b'\\') {
        return Err(FieldError::FileSlash);
    }
    if b.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return Err(FieldError::FileControl);
    }
    // Covers ".", ".." and every hidden name, which includes our own temporaries.
    if b[0] == b'.' {
        return Err(FieldError::FileDot);
    }
    let Ok(s) = std::str::from_utf8(b) else {
        return Err(FieldError::FileNotUtf8);
    };
    // C1 controls (some terminals take U+009B for an escape sequence's start), and
    // the line and paragraph separators, which some terminals honour.
    if s.chars()
        .any(|c| matches!(c, '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}'))
    {
        return Err(FieldError::FileControl);
    }
    // Bidirectional controls let `invoice\u{202e}txt.exe` show as `invoiceexe.txt`
    // in a listing or a log. Names written in right-to-left scripts need none of
    // them: the letters carry their own direction.
    if s.chars().any(is_bidi_control) {
        return Err(FieldError::FileBidi);
    }
    Ok(())
}

/// The invisible characters that change the direction text is shown in.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The shared secret, held decoded. Its `Debug` never shows the bytes, so a secret
/// cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: &[u8]) -> Result<Secret, FieldError> {
        if bytes.is_empty() {
            return Err(FieldError::SecretEmpty);
        }
        if bytes.len() > MAX_SECRET {
            return Err(FieldError::SecretTooLong(bytes.len()));
        }
        Ok(Secret(bytes.to_vec()))
    }

    pub fn decode(wire: &str) -> Result<Secret, FieldError> {
        let bytes = percent_decode(wire).ok_or(FieldError::SecretBadEscape)?;
        Secret::new(&bytes)
    }

    /// A secret as kept in a file: one trailing newline (`\n` or `\r\n`), which
    /// editors add, is not part of it. natterd and natter read secret files alike.
    pub fn from_file_contents(mut bytes: Vec<u8>) -> Result<Secret, FieldError> {
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        Secret::new(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unlike a file name, a secret need not be UTF-8, so every byte above 0x7F is
    /// escaped too: the header line stays valid UTF-8 whatever the secret holds.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for &b in &self.0 {
            if b >= 0x80 {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
            } else {
                percent_encode(&[b], out);
            }
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn needs_escape(b: u8) -> bool {
    b == b'%' || b < 0x21 || b == 0x7f
}

/// Percent-encodes `%`, space, bytes below 0x21 and 0x7F; every other byte as is.
pub fn percent_encode(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if needs_escape(b) {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.push(b);
        }
    }
}

/// Decodes `%XX` escapes (either case); `None` for a `%` without two hex digits.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex_val(*b.get(i + 1)?)?;
            let lo = hex_val(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An `int` field: decimal digits only (no sign, no spaces), fitting in u64.
pub fn parse_int(s: &str) -> Result<u64, FieldError> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::BadInt(shown(s)));
    }
    s.parse().map_err(|_| FieldError::BadInt(shown(s)))
}

/// A `code` field: `[a-z0-9-]+`.
pub fn check_code(s: &str) -> Result<(), FieldError> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        return Err(FieldError::BadCode(shown(s)));
    }
    Ok(())
}

/// A file's SHA-256, written as 64 lower-case hex digits (as `sha256sum` prints it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// 64 hex digits, either case.
    pub fn parse(s: &str) -> Result<Sha256, FieldError> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(FieldError::BadSha256);
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| FieldError::BadSha256)?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| FieldError::BadSha256)?;
        }
        Ok(Sha256(out))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// A point in time, whole seconds since the Unix epoch, written as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub fn now() -> Time {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Time(secs)
    }

    pub fn parse(s: &str) -> Result<Time, FieldError> {
        let bad = || FieldError::BadTime(shown(s));
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u64, FieldError> {
            let part = s.get(r).ok_or_else(bad)?;
            parse_int(part).map_err(|_| bad())
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if y < 1970
            || !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || se > 59
        {
            return Err(bad());
        }
        let days = days_from_civil(y as i64, mo as u32, d as u32);
        Ok(Time(days as u64 * 86400 + h * 3600 + mi * 60 + se))
    }

    /// Hours and minutes in UTC, for display.
    pub fn hour_minute(self) -> (u32, u32) {
        let s = self.0 % 86400;
        ((s / 3600) as u32, (s % 3600 / 60) as u32)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = (self.0 / 86400) as i64;
        let s = self.0 % 86400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s % 3600 / 60,
            s % 60
        )
    }
}

fn is_leap(y: u64) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms: exact for the proleptic Gregorian calendar, no tables.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A code this version does not know; kept so newer peers stay readable.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }

            pub fn parse(s: &str) -> Result<$name, FieldError> {
                check_code(s)?;
                Ok(match s {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum! {
    /// The code of an `ERR` reply or a `FAILED` event.
    ErrorCode {
        BadRequest = "bad-request",
        UnknownCommand = "unknown-command",
        LineTooLong = "line-too-long",
        NoName = "no-name",
        BadName = "bad-name",
        NameTaken = "name-taken",
        AlreadyNamed = "already-named",
        NoSuchUser = "no-such-user",
        NoSuchFile = "no-such-file",
        Exists = "exists",
        TooLarge = "too-large",
        NoSpace = "no-space",
        BadOffset = "bad-offset",
        Busy = "busy",
        ReadOnly = "read-only",
        AuthRequired = "auth-required",
        AuthFailed = "auth-failed",
        ServerFull = "server-full",
        NoSuchTransfer = "no-such-transfer",
        Timeout = "timeout",
        Calc = "calc",
        Internal = "internal",
        ClusterDown = "cluster-down",
        Checksum = "checksum",
    }
}

code_enum! {
    /// Why a user left, as carried by `LEAVE`.
    LeaveReason {
        Quit = "quit",
        Lost = "lost",
        Timeout = "timeout",
        TooSlow = "too-slow",
        Error = "error",
        Kicked = "kicked",
    }
}

impl LeaveReason {
    /// The reason in words, for people.
    pub fn describe(&self) -> &str {
        match self {
            LeaveReason::Quit => "quit",
            LeaveReason::Lost => "connection lost",
            LeaveReason::Timeout => "timed out",
            LeaveReason::TooSlow => "too slow to keep up",
            LeaveReason::Error => "protocol error",
            LeaveReason::Kicked => "kicked",
            LeaveReason::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in [
            "a",
            "A",
            "0",
            "alice",
            "Bob_2",
            "x.y-z",
            "a23456789012345678901234567890ab",
        ] {
            assert!(UserName::new(ok).is_ok(), "{ok}");
        }
        let cases: &[(&str, FieldError)] = &[
            ("", FieldError::NameEmpty),
            (
                "a234567890123456789012345678901234",
                FieldError::NameTooLong(34),
            ),
            ("_a", FieldError::NameBadStart('_')),
            ("-a", FieldError::NameBadStart('-')),
            (".a", FieldError::NameBadStart('.')),
            ("a b", FieldError::NameBadChar(' ')),
            ("a/b", FieldError::NameBadChar('/')),
            ("é", FieldError::NameBadStart('é')),
            ("aé", FieldError::NameBadChar('é')),
            ("a\0", FieldError::NameBadChar('\0')),
        ];
        for (input, want) in cases {
            assert_eq!(UserName::new(input).as_ref(), Err(want), "{input:?}");
        }
        assert_eq!(
            UserName::new("Alice").unwrap().key(),
            UserName::new("aLiCe").unwrap().key()
        );
        let n = UserName::new("Bob_2.X-y").unwrap();
        assert_eq!(n.key(), "bob_2.x-y");
        assert_eq!(n.folded().as_str(), "bob_2.x-y");
        assert_eq!(n.as_str(), "Bob_2.X-y");
        assert_eq!(format!("<{n}>"), "<Bob_2.X-y>");
        assert_eq!(format!("{n:?}"), "UserName(\"Bob_2.X-y\")");
    }

    #[test]
    fn field_errors_say_what_is_wrong() {
        assert_eq!(
            FieldError::FileDot.to_string(),
            "a file name cannot start with '.'"
        );
        assert_eq!(
            FieldError::NameTooLong(40).to_string(),
            "a user name is at most 32 characters (got 40)"
        );
        assert_eq!(
            FieldError::BadInt("x".into()).to_string(),
            "expected a whole number, got \"x\""
        );
    }

    #[test]
    fn file_names_accepted() {
        for (wire, decoded) in [
            ("cat.png", "cat.png"),
            ("holiday%20photo.jpg", "holiday photo.jpg"),
            ("100%25.txt", "100%.txt"),
            ("a..b", "a..b"),
            ("naïve.txt", "naïve.txt"),
            ("%e2%9c%93", "✓"),
            ("x%7E", "x~"),
        ] {
            let f = FileName::decode(wire).unwrap();
            assert_eq!(f.as_str(), decoded);
        }
        let long = "a".repeat(255);
        assert!(FileName::decode(&long).is_ok());
    }

    #[test]
    fn right_to_left_names_are_fine_without_direction_controls() {
        for name in [
            "שלום.txt",
            "مرحبا.pdf",
            "日本語 ファイル.png",
            "cafe\u{301}.txt",
        ] {
            assert!(FileName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn hostile_file_names_refused() {
        let cases: &[(&str, FieldError)] = &[
            ("", FieldError::FileEmpty),
            (".", FieldError::FileDot),
            ("..", FieldError::FileDot),
            ("%2e%2e", FieldError::FileDot),
            ("%2E%2E%2Fx", FieldError::FileSlash),
            ("%2e%2e%2f", FieldError::FileSlash),
            ("../x", FieldError::FileSlash),
            ("/etc/passwd", FieldError::FileSlash),
            ("a/b", FieldError::FileSlash),
            ("a\\b", FieldError::FileSlash),
            ("a%5Cb", FieldError::FileSlash),
            (".hidden", FieldError::FileDot),
            ("%2ehidden", FieldError::FileDot),
            ("a%00b", FieldError::FileControl),
            ("a\0b", FieldError::FileControl),
            ("a%0Ab", FieldError::FileControl),
            ("a%1bb", FieldError::FileControl),
            ("a%7Fb", FieldError::FileControl),
            ("a%C2%9Bb", FieldError::FileControl),
            ("a\u{9b}b", FieldError::FileControl),
            ("a\u{2028}b", FieldError::FileControl),
            ("invoice%E2%80%AEtxt.exe", FieldError::FileBidi),
            ("a\u{2066}b", FieldError::FileBidi),
            ("a\u{200f}b", FieldError::FileBidi),
            ("a\x7fb", FieldError::FileControl),
            ("a%", FieldError::FileBadEscape),
            ("a%4", FieldError::FileBadEscape),
            ("a%zz", FieldError::FileBadEscape),
            ("%ff%fe", FieldError::FileNotUtf8),
        ];
        for (wire, want) in cases {
            assert_eq!(FileName::decode(wire).as_ref(), Err(want), "{wire:?}");
        }
        assert_eq!(
            FileName::decode(&"a".repeat(256)),
            Err(FieldError::FileTooLong(256))
        );
        // 128 two-byte characters are 256 bytes once decoded.
        assert_eq!(
            FileName::decode(&"é".repeat(128)),
            Err(FieldError::FileTooLong(256))
        );
    }

    #[test]
    fn file_names_encode_what_must_be_escaped() {
        let f = FileName::new("a b%c\u{a0}d").unwrap();
        assert_eq!(f.to_wire(), "a%20b%25c\u{a0}d");
        assert_eq!(format!("<{f}>"), "<a b%c\u{a0}d>");
        assert_eq!(FileName::decode(&f.to_wire()).unwrap(), f);
        // `!` (0x21) is the first byte that goes as is; `~` (0x7E) the last before DEL.
        let mut wire = Vec::new();
        percent_encode(b"\x00\x1f \x21!~\x7f\x80\xff", &mut wire);
        assert_eq!(wire, b"%00%1F%20!!~%7F\x80\xff");
    }

    #[test]
    fn percent_escapes_decode_to_their_byte() {
        assert_eq!(
            percent_decode("%00%0f%10%7e%7F%a5%FF"),
            Some(vec![0, 0x0f, 0x10, 0x7e, 0x7f, 0xa5, 0xff])
        );
        assert_eq!(percent_decode("a%41b"), Some(b"aAb".to_vec()));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode(""), Some(vec![]));
    }

    #[test]
    fn numbered_names() {
        let f = |s: &str| FileName::new(s).unwrap();
        assert_eq!(f("song.mp3").numbered(1).unwrap().as_str(), "song_1.mp3");
        assert_eq!(f("a.tar.gz").numbered(2).unwrap().as_str(), "a.tar_2.gz");
        assert_eq!(f("README").numbered(1).unwrap().as_str(), "README_1");
        assert_eq!(f("x.").numbered(3).unwrap().as_str(), "x_3.");
        let long = "é".repeat(125) + ".txt"; // 254 bytes
        let n = f(&long).numbered(12).unwrap();
        assert!(
            n.as_str().len() <= 255 && n.as_str().ends_with("_12.txt"),
            "{n}"
        );
        assert_eq!(f(&format!("a.{}", "x".repeat(252))).numbered(1), None);
    }

    #[test]
    fn numbered_names_shorten_the_stem_only_as_far_as_needed() {
        let f = |s: &str| FileName::new(s).unwrap();
        // 250 bytes of stem, ".txt": `_1` leaves room for 249 bytes of stem, which
        // would cut an `é` in two, so 248 are kept.
        let long = "é".repeat(125) + ".txt";
        assert_eq!(
            f(&long).numbered(1).unwrap().as_str(),
            "é".repeat(124) + "_1.txt"
        );
        // A stem of one-byte characters is cut to exactly what fits: 255 bytes.
        let ascii = "a".repeat(250) + ".gz";
        let n = f(&ascii).numbered(10).unwrap();
        assert_eq!(n.as_str(), "a".repeat(249) + "_10.gz");
        // Short names are not shortened at all.
        assert_eq!(
            f("photo.jpeg").numbered(123).unwrap().as_str(),
            "photo_123.jpeg"
        );
        assert_eq!(f("a.b").numbered(7).unwrap().as_str(), "a_7.b");
        // Only what comes after the last dot is the extension, and a dot at the very
        // start never is (such a name cannot exist, but the rule holds).
        assert_eq!(f("a..b").numbered(1).unwrap().as_str(), "a._1.b");
        assert_eq!(f("x").numbered(1).unwrap().as_str(), "x_1");
    }

    #[test]
    fn secrets() {
        let s = Secret::decode("p%20w").unwrap();
        assert_eq!(s.as_bytes(), b"p w");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(Secret::decode(""), Err(FieldError::SecretEmpty));
        assert_eq!(
            Secret::decode(&"x".repeat(1025)),
            Err(FieldError::SecretTooLong(1025))
        );
        assert_eq!(Secret::decode("%g0"), Err(FieldError::SecretBadEscape));
        assert!(Secret::decode("%00%ff").is_ok());
        let from_file =
            |b: &[u8]| Secret::from_file_contents(b.to_vec()).map(|s| s.as_bytes().to_vec());
        assert_eq!(from_file(b"pw\n"), Ok(b"pw".to_vec()));
        assert_eq!(from_file(b"pw\r\n"), Ok(b"pw".to_vec()));
        assert_eq!(from_file(b"pw\n\n"), Ok(b"pw\n".to_vec()));
        assert_eq!(from_file(b"\n"), Err(FieldError::SecretEmpty));
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            "1.0",
            " 1",
            "18446744073709551616",
            "0x10",
            "١",
        ] {
            assert!(parse_int(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(Time(0).to_string(), "1970-01-01T00:00:00Z");
        let t = Time::parse("2026-11-22T17:03:05Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T17:03:05Z");
        assert_eq!(t.hour_minute(), (17, 3));
        assert_eq!(
            Time::parse("2024-02-29T23:59:59Z").unwrap().to_string(),
            "2024-02-29T23:59:59Z"
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-22 17:03:05Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T17:03:05",
            "1969-12-31T23:59:59Z",
            "2026-11-22T17:03:0Z",
        ] {
            assert!(Time::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_part_of_a_time_is_checked_on_its_own() {
        let ok = |s: &str| Time::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("1970-01-01T00:00:00Z"), Time(0));
        assert_eq!(ok("1970-03-01T00:00:00Z"), Time(5_097_600));
        assert_eq!(ok("2000-02-29T00:00:00Z"), Time(951_782_400));
        assert_eq!(ok("2024-12-31T23:59:59Z"), Time(1_735_689_599));
        assert_eq!(ok("2026-04-30T12:34:56Z"), Time(1_777_552_496));
        assert_eq!(ok("2100-03-01T00:00:00Z"), Time(4_107_542_400));
        assert_eq!(ok("9999-12-31T23:59:59Z"), Time(253_402_300_799));
        for m in ["01", "03", "05", "07", "08", "10", "12"] {
            ok(&format!("2026-{m}-31T00:00:00Z"));
        }
        for bad in [
            // one field out of range, everything else valid
            "1969-06-15T12:30:30Z",
            "2026-00-15T12:30:30Z",
            "2026-13-15T12:30:30Z",
            "2026-06-00T12:30:30Z",
            "2026-01-32T12:30:30Z",
            "2026-04-31T12:30:30Z",
            "2026-06-31T12:30:30Z",
            "2026-09-31T12:30:30Z",
            "2026-11-31T12:30:30Z",
            "2026-02-29T12:30:30Z",
            "2100-02-29T12:30:30Z",
            "2026-06-15T24:30:30Z",
            "2026-06-15T12:60:30Z",
            "2026-06-15T12:30:60Z",
            // one separator wrong, everything else valid
            "2026x06-15T12:30:30Z",
            "2026-06x15T12:30:30Z",
            "2026-06-15x12:30:30Z",
            "2026-06-15T12x30:30Z",
            "2026-06-15T12:30x30Z",
            "2026-06-15T12:30:30x",
            "2026-06-15T12:30:30ZZ",
        ] {
            assert_eq!(
                Time::parse(bad),
                Err(FieldError::BadTime(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_display_as_rfc_3339() {
        assert_eq!(Time(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Time(4_107_542_399).to_string(), "2100-02-28T23:59:59Z");
        assert_eq!(Time(1_777_552_496).to_string(), "2026-04-30T12:34:56Z");
        assert_eq!(Time(253_402_300_799).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Time(1_777_552_496).hour_minute(), (12, 34));
    }

    #[test]
    fn refused_values_are_quoted_short() {
        assert_eq!(shown("abc"), "abc");
        let long = "é".repeat(41);
        assert_eq!(shown(&long), "é".repeat(40) + "...");
        assert_eq!(parse_int("x1"), Err(FieldError::BadInt("x1".into())));
    }

    #[test]
    fn codes() {
        assert_eq!(ErrorCode::parse("no-such-user"), Ok(ErrorCode::NoSuchUser));
        assert_eq!(
            ErrorCode::parse("brand-new"),
            Ok(ErrorCode::Other("brand-new".into()))
        );
        assert!(ErrorCode::parse("Bad").is_err());
        assert!(ErrorCode::parse("").is_err());
        assert_eq!(LeaveReason::parse("too-slow"), Ok(LeaveReason::TooSlow));
        assert_eq!(LeaveReason::Lost.describe(), "connection lost");
    }

    proptest::proptest! {
        #[test]
        fn time_round_trips(secs in 0u64..253_402_300_799) {
            let t = Time(secs);
            proptest::prop_assert_eq!(Time::parse(&t.to_string()), Ok(t));
        }

        /// Every valid name (spaces, percent signs, dots inside, any Unicode, up to
        /// exactly 255 bytes) is accepted as is, and its wire form is one field that
        /// decodes back to it, as does the same name with every byte escaped.
        #[test]
        fn valid_file_names_round_trip(s in arb_valid_file_name()) {
            let f = FileName::new(&s);
            proptest::prop_assert!(f.is_ok(), "{:?} refused: {:?}", s, f);
            let f = f.unwrap();
            proptest::prop_assert_eq!(f.as_str(), s.as_str());
            let wire = f.to_wire();
            proptest::prop_assert!(!wire.bytes().any(|b| b <= b' ' || b == 0x7f), "{:?}", wire);
            proptest::prop_assert_eq!(FileName::decode(&wire), Ok(f.clone()));
            let escaped: String = s.bytes().map(|b| format!("%{b:02x}")).collect();
            proptest::prop_assert_eq!(FileName::decode(&escaped), Ok(f));
        }

        /// A name that breaks exactly one rule is refused for that rule, decoded or
        /// on the wire.
        #[test]
        fn invalid_file_names_refused((decoded, wire, want) in arb_invalid_file_name()) {
            if let Some(d) = &decoded {
                proptest::prop_assert_eq!(FileName::new(d), Err(want.clone()), "{:?}", d);
            }
            proptest::prop_assert_eq!(FileName::decode(&wire), Err(want), "{:?}", wire);
        }
    }

    /// A character a name may hold anywhere: anything but a control character, a
    /// separator or direction control, `/` and `\` (those become `_`). Spaces, `%` and `.` come up often.
    fn arb_name_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec![
                ' ', '%', '.', '~', 'é', '✓', '😀', '\u{a0}', '\u{200b}'
            ]),
            proptest::char::range('!', '~'),
            any::<char>(),
        ]
        .prop_map(|c| {
            let disguise =
                matches!(c, '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}') || is_bidi_control(c);
            if c.is_ascii_control() || c == '/' || c == '\\' || disguise {
                '_'
            } else {
                c
            }
        })
    }

    /// A valid name of at most `max` bytes, cut on a character boundary.
    fn arb_short_valid_file_name(max: usize) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            arb_name_char(),
            proptest::collection::vec(arb_name_char(), 0..80),
        )
            .prop_map(move |(first, rest)| {
                let first = if first == '.' { '_' } else { first };
                let mut s = String::from(first);
                for c in rest {
                    if s.len() + c.len_utf8() > max {
                        break;
                    }
                    s.push(c);
                }
                s
            })
    }

    /// `s` grown to exactly `len` bytes with two-byte and one-byte characters.
    fn pad_to(mut s: String, len: usize) -> String {
        while s.len() + 2 <= len {
            s.push('é');
        }
        while s.len() < len {
            s.push('a');
        }
        s
    }

    fn arb_valid_file_name() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            3 => arb_short_valid_file_name(MAX_FILE_NAME),
            1 => arb_short_valid_file_name(MAX_FILE_NAME).prop_map(|s| pad_to(s, MAX_FILE_NAME)),
        ]
    }

    /// Percent-encodes a decoded name as an encoder would.
    fn wire(s: &str) -> String {
        let mut v = Vec::new();
        percent_encode(s.as_bytes(), &mut v);
        String::from_utf8(v).unwrap()
    }

    /// A name that breaks one rule: its decoded form when it has one, its wire form,
    /// and the error it must get.
    fn arb_invalid_file_name(
    ) -> impl proptest::strategy::Strategy<Value = (Option<String>, String, FieldError)> {
        use proptest::prelude::*;
        // Room for one inserted character without passing the length limit.
        let base = || arb_short_valid_file_name(MAX_FILE_NAME - 4);
        let at = |s: &str, i: usize| {
            let mut i = i % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let decoded = |s: String, e: FieldError| (Some(s.clone()), wire(&s), e);
        prop_oneof![
            Just(decoded(String::new(), FieldError::FileEmpty)),
            (base(), MAX_FILE_NAME + 1..400).prop_map(move |(s, len)| {
                decoded(pad_to(s, len), FieldError::FileTooLong(len))
            }),
            (
                base(),
                any::<usize>(),
                prop::sample::select(vec!['/', '\\'])
            )
                .prop_map(move |(mut s, i, c)| {
                    s.insert(at(&s, i), c);
                    decoded(s, FieldError::FileSlash)
                }),
            (base(), any::<usize>(), prop_oneof![0u8..0x20, Just(0x7f)]).prop_map(
                move |(mut s, i, b)| {
                    s.insert(at(&s, i), char::from(b));
                    decoded(s, FieldError::FileControl)
                }
            ),
            prop_oneof![Just(String::new()), Just(".".to_string()), base()]
                .prop_map(move |s| decoded(format!(".{s}"), FieldError::FileDot)),
            (
                base(),
                any::<usize>(),
                prop::sample::select(vec!["%ff", "%80", "%C3", "%e2%9c"])
            )
                .prop_map(|(s, i, bad)| {
                    // Between two characters' escapes, never inside one.
                    let mut pieces: Vec<String> = s.chars().map(|c| wire(&c.to_string())).collect();
                    pieces.insert(i % (pieces.len() + 1), bad.to_string());
                    (None, pieces.concat(), FieldError::FileNotUtf8)
                }),
            (
                base(),
                prop::sample::select(vec!["%", "%4", "%zz", "%g0", "%0"])
            )
                .prop_map(move |(s, bad)| (
                    None,
                    format!("{}{bad}", wire(&s)),
                    FieldError::FileBadEscape
                )),
        ]
    }
}
