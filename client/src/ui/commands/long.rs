//! A message too long for one protocol line, as several messages, the way irssi
//! sends a long line: each piece as long as a line allows, cut between characters as
//! a person sees them (grapheme clusters, so an accent stays on its letter), after a
//! blank when one is near the end so that words stay whole.

use crate::display::group_digits;
use natter_protocol::{Request, MAX_HEADER};
use unicode_segmentation::UnicodeSegmentation;

/// A cut goes after the last blank in this last share of a piece, if there is one.
/// A quarter keeps pieces nearly full and words whole in any prose.
const BLANK_SEARCH: usize = 4;

/// `SAY` or `TELL` with a text too long for one line, as several of the same kind,
/// each within [`MAX_HEADER`]; `None` for any other request (which cannot be split)
/// or one that fits.
pub fn split_message(req: &Request) -> Option<Vec<Request>> {
    if req.to_bytes().len() <= MAX_HEADER {
        return None;
    }
    let (text, with): (&str, &dyn Fn(String) -> Request) = match req {
        Request::Say { text } => (text, &|text| Request::Say { text }),
        Request::Tell { name, text } => (text, &|text| Request::Tell {
            name: name.clone(),
            text,
        }),
        _ => return None,
    };
    // The line around the text: a one-byte text makes the line one byte longer.
    let room = MAX_HEADER.checked_sub(with("x".into()).to_bytes().len() - 1)?;
    Some(pieces(text, room).into_iter().map(with).collect())
}

/// What the user is told when a message goes as several: how long it was, the limit,
/// and into how many it was cut.
pub fn split_note(bytes: usize, parts: usize) -> String {
    format!(
        "that message is {} bytes on the wire, more than one line carries ({}): sent as {parts} messages",
        group_digits(bytes as u64),
        group_digits(MAX_HEADER as u64)
    )
}

/// `text` in pieces of at most `max` bytes (at least 4, the longest character), in
/// order, together exactly `text`.
fn pieces(text: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let cut = cut_at(rest, max);
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// Where to end a piece of `text` (longer than `max`): after the last blank (a
/// grapheme of its own) in the piece's last share, else at the last grapheme boundary that fits, else (one
/// grapheme longer than a line, a pile of combining marks) at the last character
/// boundary that fits.
fn cut_at(text: &str, max: usize) -> usize {
    let fits = |&i: &usize| i > 0 && i <= max;
    let grapheme = text
        .grapheme_indices(true)
        .map(|(i, _)| i)
        .take_while(|&i| i <= max)
        .filter(fits)
        .last();
    let Some(cut) = grapheme else {
        return (1..=max)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(max);
    };
    let floor = max - max / BLANK_SEARCH;
    text[..cut]
        .grapheme_indices(true)
        .rev()
        .take_while(|&(i, _)| i + 1 >= floor)
        .find(|&(_, g)| g == " " || g == "\t")
        .map_or(cut, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::UserName;
    use proptest::prelude::*;

    #[test]
    fn a_message_that_fits_is_not_split() {
        let fits = "x".repeat(MAX_HEADER - "SAY \n".len());
        assert_eq!(split_message(&Request::Say { text: fits }), None);
        let other = Request::Echo {
            text: "x".repeat(MAX_HEADER),
        };
        assert_eq!(split_message(&other), None, "only SAY and TELL are split");
    }

    #[test]
    fn each_piece_fills_a_line_and_together_they_are_the_text() {
        let room = MAX_HEADER - "SAY \n".len();
        let text = "y".repeat(room * 2 + 10);
        let parts = split_message(&Request::Say { text: text.clone() }).unwrap();
        assert_eq!(parts.len(), 3);
        let texts: Vec<String> = parts
            .iter()
            .map(|p| match p {
                Request::Say { text } => text.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts[0].len(), room);
        assert_eq!(texts[1].len(), room);
        assert_eq!(texts.concat(), text);
        for p in &parts {
            assert!(p.to_bytes().len() <= MAX_HEADER);
        }
    }

    #[test]
    fn a_private_message_stays_private_to_the_same_person() {
        let name = UserName::new("bob").unwrap();
        let text = "z".repeat(MAX_HEADER);
        let parts = split_message(&Request::Tell {
            name: name.clone(),
            text,
        })
        .unwrap();
        assert_eq!(parts.len(), 2);
        for p in &parts {
            assert!(matches!(p, Request::Tell { name: n, .. } if *n == name));
            assert!(p.to_bytes().len() <= MAX_HEADER);
        }
    }

    #[test]
    fn words_stay_whole_when_a_blank_is_near_the_end() {
        let text = "word ".repeat(2000);
        let parts = pieces(&text, 100);
        assert!(parts.iter().all(|p| p.ends_with(' ')), "{parts:?}");
        assert_eq!(parts[0].len(), 100);
        // No blank near the end: cut where the room ends.
        let parts = pieces(&format!("a {}", "b".repeat(300)), 100);
        assert_eq!(parts[0].len(), 100);
    }

    #[test]
    fn a_letter_keeps_its_accent() {
        // "e" + combining acute: three bytes, one grapheme.
        let text = "e\u{301}".repeat(100);
        for p in pieces(&text, 10) {
            assert!(p.len() <= 10);
            assert!(p.starts_with('e'), "{p:?}");
        }
    }

    #[test]
    fn one_grapheme_longer_than_a_line_is_cut_between_characters() {
        let text = format!("a{}", "\u{301}".repeat(50));
        let parts = pieces(&text, 10);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= 10 && !p.is_empty()));
    }

    proptest! {
        #[test]
        fn pieces_fit_and_join_back(text in "\\PC{0,600}", max in 4usize..64) {
            let parts = pieces(&text, max);
            prop_assert_eq!(parts.concat(), text.clone());
            for p in &parts {
                prop_assert!(p.len() <= max);
                prop_assert!(!p.is_empty() || text.is_empty());
            }
        }
    }
}
