//! Text from the network made safe to print ([`sanitize`]), so a peer cannot move the
//! cursor, clear the screen or reorder the line with control or
//! bidirectional-override characters. Everything shown that came from the server goes
//! through here first.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Makes text from the network safe to print: C0 controls become `^X`, DEL `^?`,
/// C1 controls and bidirectional overrides `<U+XXXX>`, a tab a space.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            '\x7f' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push((c as u8 + 0x40) as char);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        // Marks and overrides that reorder what follows them on the line.
        | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Line and paragraph separators, which some terminals honour.
        | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_text_cannot_drive_the_terminal() {
        assert_eq!(sanitize("plain ünïcode ✓"), "plain ünïcode ✓");
        assert!(matches!(sanitize("fine"), Cow::Borrowed(_)));
        assert_eq!(sanitize("\x1b[2J\x1b[H"), "^[[2J^[[H");
        assert_eq!(sanitize("a\rb\x07c\x08\x7f"), "a^Mb^Gc^H^?");
        assert_eq!(sanitize("tab\there"), "tab here");
        assert_eq!(sanitize("\u{9b}31m"), "<U+009B>31m");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc<U+202E>fed");
    }
}
