//! The small services on the chat connection: the calculator and the guessing game.
//! Pure: values in, values out; the handler does the talking.

use std::fmt;

/// Deepest nesting the calculator follows (parentheses, unary minus, `^` chains).
/// Checked before each recursive step, so hostile input cannot exhaust the stack.
pub const MAX_CALC_DEPTH: usize = 64;
/// The guessing game's range.
pub const GUESS_LO: u64 = 1;
pub const GUESS_HI: u64 = 100;

/// Why an expression has no value, for a person.
#[derive(Debug, Clone, PartialEq)]
pub enum CalcError {
    Empty,
    Unexpected { what: String, pos: usize },
    MissingNumber { pos: usize },
    MissingParen { opened: usize },
    TooDeep,
    DivByZero,
    ModByZero,
    NotFinite,
    NotANumber,
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalcError::Empty => write!(f, "the expression is empty"),
            CalcError::Unexpected { what, pos } => write!(f, "unexpected {what} at position {pos}"),
            CalcError::MissingNumber { pos } => write!(f, "expected a number at position {pos}"),
            CalcError::MissingParen { opened } => {
                write!(f, "missing ')' for the '(' at position {opened}")
            }
            CalcError::TooDeep => write!(
                f,
                "the expression nests deeper than {MAX_CALC_DEPTH} levels"
            ),
            CalcError::DivByZero => write!(f, "division by zero"),
            CalcError::ModByZero => write!(f, "modulo by zero"),
            CalcError::NotFinite => write!(f, "the result is too large to represent"),
            CalcError::NotANumber => write!(f, "the result is not a real number"),
        }
    }
}

/// Evaluates `+ - * / % ^`, parentheses, unary minus and decimals over f64, and
/// formats the result (`20`, not `20.0`).
pub fn calc(expr: &str) -> Result<String, CalcError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut p = Calc {
        s: &chars,
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.i == chars.len() {
        return Err(CalcError::Empty);
    }
    let v = p.expr()?;
    p.skip_ws();
    if let Some(&c) = chars.get(p.i) {
        return Err(CalcError::Unexpected {
            what: format!("'{c}'"),
            pos: p.i + 1,
        });
    }
    if v.is_nan() {
        return Err(CalcError::NotANumber);
    }
    if !v.is_finite() {
        return Err(CalcError::NotFinite);
    }
    Ok(format_number(v))
}

fn format_number(v: f64) -> String {
    // -0 is shown as 0; whole numbers without a fraction while they are exact.
    let v = if v == 0.0 { 0.0 } else { v };
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

struct Calc<'a> {
    s: &'a [char],
    i: usize,
    depth: usize,
}

impl Calc<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn enter(&mut self) -> Result<(), CalcError> {
        if self.depth >= MAX_CALC_DEPTH {
            return Err(CalcError::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }

    fn expr(&mut self) -> Result<f64, CalcError> {
        let mut v = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.i += 1;
            let r = self.term()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn term(&mut self) -> Result<f64, CalcError> {
        let mut v = self.unary()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                '*' => v * r,
                '/' if r == 0.0 => return Err(CalcError::DivByZero),
                '/' => v / r,
                _ if r == 0.0 => return Err(CalcError::ModByZero),
                // f64 `%` keeps the sign of the dividend, as the spec asks.
                _ => v % r,
            };
        }
        Ok(v)
    }

    /// Unary minus binds looser than `^`: `-2^2` is -4.
    fn unary(&mut self) -> Result<f64, CalcError> {
        match self.peek() {
            Some('-') => {
                self.i += 1;
                self.enter()?;
                let v = self.unary()?;
                self.depth -= 1;
                Ok(-v)
            }
            _ => self.power(),
        }
    }

    /// `^` is right-associative: `2^3^2` is 2^9.
    fn power(&mut self) -> Result<f64, CalcError> {
        let base = self.primary()?;
        if self.peek() == Some('^') {
            self.i += 1;
            self.enter()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<f64, CalcError> {
        match self.peek() {
            Some('(') => {
                let opened = self.i + 1;
                self.i += 1;
                self.enter()?;
                let v = self.expr()?;
                self.depth -= 1;
                match self.peek() {
                    Some(')') => {
                        self.i += 1;
                        Ok(v)
                    }
                    Some(c) => Err(CalcError::Unexpected {
                        what: format!("'{c}'"),
                        pos: self.i + 1,
                    }),
                    None => Err(CalcError::MissingParen { opened }),
                }
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) => Err(CalcError::Unexpected {
                what: format!("'{c}'"),
                pos: self.i + 1,
            }),
            None => Err(CalcError::MissingNumber { pos: self.i + 1 }),
        }
    }

    fn number(&mut self) -> Result<f64, CalcError> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.')
        {
            self.i += 1;
        }
        let text: String = self.s[start..self.i].iter().collect();
        text.parse::<f64>().map_err(|_| CalcError::Unexpected {
            what: format!("number {text:?}"),
            pos: start + 1,
        })
    }
}

/// One connection's guessing game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    secret: u64,
    tries: u64,
}

/// How a guess compares with the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// The secret is higher than the guess.
    Higher,
    Lower,
    Correct,
}

impl Game {
    /// A game whose secret is drawn from `seed`, uniformly enough for a party game.
    pub fn new(seed: u64) -> Game {
        Game {
            secret: GUESS_LO + seed % (GUESS_HI - GUESS_LO + 1),
            tries: 0,
        }
    }

    /// Judges a guess already known to be in range; returns the hint and the tries so far.
    pub fn guess(&mut self, n: u64) -> (Hint, u64) {
        self.tries += 1;
        let hint = match n.cmp(&self.secret) {
            std::cmp::Ordering::Less => Hint::Higher,
            std::cmp::Ordering::Greater => Hint::Lower,
            std::cmp::Ordering::Equal => Hint::Correct,
        };
        (hint, self.tries)
    }
}

/// A random seed from the standard library's per-process random hasher keys.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculator_values() {
        let cases = [
            ("1+2*3", "7"),
            ("(1+2)*3", "9"),
            ("2^3^2", "512"),
            ("-2^2", "-4"),
            ("(-2)^2", "4"),
            ("2^-1", "0.5"),
            ("--3", "3"),
            ("10/4", "2.5"),
            ("7 % 3", "1"),
            ("-7 % 3", "-1"),
            ("7 % -3", "1"),
            ("5.5 % 2", "1.5"),
            ("  4 *  5 ", "20"),
            ("1.5+1.5", "3"),
            (".5*4", "2"),
            ("0.1+0.2", "0.30000000000000004"),
            ("2*3-4/2", "4"),
            ("100-10-1", "89"),
            ("2^10", "1024"),
            ("-0", "0"),
            ("1e", ""),
        ];
        for (e, want) in cases {
            if want.is_empty() {
                assert!(calc(e).is_err(), "{e}");
            } else {
                assert_eq!(calc(e).as_deref(), Ok(want), "{e}");
            }
        }
    }

    #[test]
    fn calculator_errors() {
        let cases = [
            ("", CalcError::Empty),
            ("   ", CalcError::Empty),
            ("1/0", CalcError::DivByZero),
            ("1/(2-2)", CalcError::DivByZero),
            ("5%0", CalcError::ModByZero),
            ("10^400", CalcError::NotFinite),
            ("(-8)^(1/3)", CalcError::NotANumber),
            ("(1+2", CalcError::MissingParen { opened: 1 }),
            ("1+", CalcError::MissingNumber { pos: 3 }),
            (
                "1+*2",
                CalcError::Unexpected {
                    what: "'*'".into(),
                    pos: 3,
                },
            ),
            (
                "1 2",
                CalcError::Unexpected {
                    what: "'2'".into(),
                    pos: 3,
                },
            ),
            (
                ")",
                CalcError::Unexpected {
                    what: "')'".into(),
                    pos: 1,
                },
            ),
            (
                "2x",
                CalcError::Unexpected {
                    what: "'x'".into(),
                    pos: 2,
                },
            ),
            (
                "1..2",
                CalcError::Unexpected {
                    what: "number \"1..2\"".into(),
                    pos: 1,
                },
            ),
        ];
        for (e, want) in cases {
            assert_eq!(calc(e), Err(want), "{e}");
        }
        assert_eq!(calc(&"(".repeat(65)), Err(CalcError::TooDeep));
        assert_eq!(
            calc(&format!("{}1{}", "(".repeat(64), ")".repeat(64))).as_deref(),
            Ok("1")
        );
        assert_eq!(calc(&"-".repeat(100_000)), Err(CalcError::TooDeep));
        assert_eq!(calc(&"2^".repeat(100_000)), Err(CalcError::TooDeep));
        assert_eq!(CalcError::DivByZero.to_string(), "division by zero");
    }

    #[test]
    fn binary_search_wins_within_seven_tries() {
        for seed in 0..100 {
            let mut g = Game::new(seed);
            let (mut lo, mut hi) = (GUESS_LO, GUESS_HI);
            loop {
                let mid = (lo + hi) / 2;
                match g.guess(mid) {
                    (Hint::Correct, tries) => {
                        assert!(tries <= 7);
                        break;
                    }
                    (Hint::Higher, _) => lo = mid + 1,
                    (Hint::Lower, _) => hi = mid - 1,
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn calculator_answers_ok_or_err_never_panics(s in "[0-9. +*/%^()-]{0,64}|.{0,64}") {
            let _ = calc(&s);
        }
    }
}
