//! How arguments split into words: the first word and the rest ([`split_word`]), or
//! words as a shell would split them, quotes and backslashes and all ([`words`]). Tab
//! completion escapes what it inserts the same way, so what it writes parses back.

use super::spec::ArgError;

/// The first word, and the rest with the blanks before it removed. A blank at the
/// very start makes the first word empty, which is how `/ who` stays unknown.
pub fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// Splits arguments as a shell would, so names with spaces can be given: blanks
/// separate words; `'...'` keeps everything; `"..."` keeps everything but a backslash
/// before `"`, `\\`, `$` or a backquote; elsewhere a backslash keeps the next
/// character. This is also how rustyline's file name completion escapes what it
/// inserts.
pub fn words(s: &str) -> Result<Vec<String>, ArgError> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unclosed('\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unclosed('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unclosed('"')),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    Ok(out)
}

fn unclosed(q: char) -> ArgError {
    ArgError::Invalid(format!("a {q} is not closed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        let w = |s: &str| words(s).unwrap();
        assert_eq!(w("a b  c"), ["a", "b", "c"]);
        assert_eq!(w(r"holiday\ photo.jpg x"), ["holiday photo.jpg", "x"]);
        assert_eq!(w(r#""a b" 'c d' e"f"g"#), ["a b", "c d", "efg"]);
        assert_eq!(w(r#""say \"hi\" \n""#), [r#"say "hi" \n"#]);
        assert_eq!(w("it''s"), ["its"]);
        assert_eq!(w(""), Vec::<String>::new());
        assert_eq!(w("''"), [""]);
        assert!(words("'open").is_err());
    }
}
