//! The calculator: a desk calculator's answers, not a float's. Numbers are exact
//! fractions of big integers (`0.1+0.2` is 0.3, `2^53+1` is 9007199254740993) while
//! they stay under [`MAX_EXACT_BITS`]; past that, and for fractional powers, they are
//! floats, shown to 17 significant digits. Input takes decimals and scientific
//! notation (`1e3`, `2.5E-3`); output is at most [`MAX_DIGITS`] significant digits,
//! in scientific notation when the number is very large or very small.
//! Pure: text in, text out.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::fmt;

/// Deepest nesting the calculator follows (parentheses, unary minus, `^` chains).
/// Checked before each recursive step, so hostile input cannot exhaust the stack.
pub const MAX_CALC_DEPTH: usize = 64;
/// Numerators and denominators stay exact up to this many bits (about 300 digits,
/// a float's range): the longest expression a line can hold then costs a few
/// milliseconds of the loop, not seconds.
const MAX_EXACT_BITS: u64 = 1024;
/// Work the exact arithmetic of one expression may do, in squared 64-bit limbs:
/// past it, what is left is worked out in floats. With the exact limit this keeps
/// the costliest line a client can send to about a millisecond of the loop.
const EXACT_WORK: u64 = 20_000;
/// Significant digits shown when a result is rounded.
const MAX_DIGITS: usize = 20;
/// Whole numbers with up to this many digits are shown in full.
const MAX_WHOLE_DIGITS: usize = 40;

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

/// Evaluates `+ - * / % ^`, parentheses, unary minus, decimals and scientific
/// notation, and formats the result as a person expects (`20`, `0.3`, `1e+400`).
pub fn calc(expr: &str) -> Result<String, CalcError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut p = Parser {
        s: &chars,
        i: 0,
        depth: 0,
        work: EXACT_WORK,
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
    v.show()
}

/// A value: exact while it can be, a float once it cannot.
#[derive(Debug, Clone)]
enum Num {
    Exact(BigRational),
    Float(f64),
}

fn bits(r: &BigRational) -> u64 {
    r.numer().bits().max(r.denom().bits())
}

impl Num {
    /// Keeps a result exact if it is small enough, else lets it go to a float.
    fn settle(r: BigRational) -> Num {
        if bits(&r) <= MAX_EXACT_BITS {
            Num::Exact(r)
        } else {
            Num::Float(to_f64(&r))
        }
    }

    fn float(&self) -> f64 {
        match self {
            Num::Exact(r) => to_f64(r),
            Num::Float(f) => *f,
        }
    }

    fn is_zero(&self) -> bool {
        match self {
            Num::Exact(r) => r.is_zero(),
            Num::Float(f) => *f == 0.0,
        }
    }

    fn neg(self) -> Num {
        match self {
            Num::Exact(r) => Num::Exact(-r),
            Num::Float(f) => Num::Float(-f),
        }
    }

    fn apply(
        self,
        other: Num,
        work: &mut u64,
        exact: impl FnOnce(BigRational, BigRational) -> BigRational,
        float: impl FnOnce(f64, f64) -> f64,
    ) -> Num {
        match (self, other) {
            (Num::Exact(a), Num::Exact(b)) => {
                // Quadratic in the limbs: what the multiplications and gcds cost.
                let limbs = (bits(&a) + bits(&b)) / 64 + 1;
                let cost = limbs * limbs;
                if *work < cost {
                    *work = 0;
                    return Num::Float(float(to_f64(&a), to_f64(&b)));
                }
                *work -= cost;
                Num::settle(exact(a, b))
            }
            (a, b) => Num::Float(float(a.float(), b.float())),
        }
    }

    fn pow(self, exp: Num, work: &mut u64) -> Num {
        if let (Num::Exact(base), Num::Exact(e)) = (&self, &exp) {
            if e.is_integer() {
                if let Some(n) = e.to_integer().to_i64() {
                    // The result's size is bounded before it is computed (bits times
                    // the exponent, at most twice the truth): never build a number
                    // far past the exact limit only to throw it away.
                    let size = bits(base).saturating_mul(n.unsigned_abs());
                    let limbs = size / 64 + 1;
                    let cost = limbs * limbs * (64 - n.unsigned_abs().leading_zeros() as u64);
                    let small = size <= 2 * MAX_EXACT_BITS && cost <= *work;
                    if base.is_zero() || base.abs().is_one() || small {
                        *work = work.saturating_sub(cost);
                        if n < 0 && base.is_zero() {
                            return Num::Float(f64::INFINITY);
                        }
                        let p = num_traits::pow(base.clone(), n.unsigned_abs() as usize);
                        return Num::settle(if n < 0 { p.recip() } else { p });
                    }
                }
            }
        }
        Num::Float(self.float().powf(exp.float()))
    }

    fn show(&self) -> Result<String, CalcError> {
        match self {
            Num::Exact(r) => Ok(show_exact(r)),
            Num::Float(f) if f.is_nan() => Err(CalcError::NotANumber),
            Num::Float(f) if !f.is_finite() => Err(CalcError::NotFinite),
            Num::Float(f) => Ok(show_float(*f)),
        }
    }
}

fn to_f64(r: &BigRational) -> f64 {
    // Scaled first, so a huge numerator over a huge denominator still divides.
    let shift = r.numer().bits().max(r.denom().bits()).saturating_sub(900) as usize;
    let n = (r.numer() >> shift).to_f64().unwrap_or(f64::NAN);
    let d = (r.denom() >> shift).to_f64().unwrap_or(f64::NAN);
    if d == 0.0 {
        return if n == 0.0 {
            0.0
        } else {
            f64::INFINITY * n.signum()
        };
    }
    n / d
}

/// `value` as a person reads it: a whole number in full (up to 40 digits), a
/// decimal that ends within 20 significant digits in full, anything else rounded to
/// 20; scientific notation when very large or very small.
fn show_exact(r: &BigRational) -> String {
    if r.is_zero() {
        return "0".into();
    }
    let sign = if r.is_negative() { "-" } else { "" };
    let r = r.abs();
    if r.is_integer() {
        let digits = r.to_integer().to_string();
        if digits.len() <= MAX_WHOLE_DIGITS {
            return format!("{sign}{digits}");
        }
    }
    let (digits, exp) = significant(&r, MAX_DIGITS);
    // Exact as shown? Then the zeros rounding added are dropped: 0.125, not 0.12500...
    let shown = BigRational::from_integer(digits.parse::<BigInt>().unwrap_or_default())
        * pow10(exp - (digits.len() as i64 - 1));
    let digits = if shown == r {
        digits.trim_end_matches('0').to_string()
    } else {
        digits
    };
    format!("{sign}{}", place(&digits, exp))
}

fn pow10(e: i64) -> BigRational {
    let ten = BigInt::from(10);
    if e >= 0 {
        BigRational::from_integer(ten.pow(e as u32))
    } else {
        BigRational::new(BigInt::one(), ten.pow((-e) as u32))
    }
}

/// The first `n` significant digits of `r` (> 0), rounded half up, and the decimal
/// exponent of the first: `r` ≈ 0.d1d2... × 10^(exp+1).
fn significant(r: &BigRational, n: usize) -> (String, i64) {
    let ten = BigInt::from(10);
    // exp = floor(log10(r)), found from the digit counts and then corrected.
    let mut exp = r.numer().to_string().len() as i64 - r.denom().to_string().len() as i64;
    while *r < pow10(exp) {
        exp -= 1;
    }
    while *r >= pow10(exp + 1) {
        exp += 1;
    }
    let scaled = r * pow10(n as i64 - 1 - exp);
    let mut whole = scaled.round().to_integer();
    if whole.to_string().len() > n {
        // Rounding carried into a new digit (9.99... -> 10.0...).
        whole /= &ten;
        exp += 1;
    }
    (whole.to_string(), exp)
}

/// Digits `d1d2...` with the first at 10^exp, written plainly when that reads well
/// and as `d1.d2...e±exp` when the number is very large or very small.
fn place(digits: &str, exp: i64) -> String {
    let n = digits.len() as i64;
    if (-7..MAX_WHOLE_DIGITS as i64).contains(&exp) {
        if exp >= n - 1 {
            return format!("{digits}{}", "0".repeat((exp - (n - 1)) as usize));
        }
        if exp >= 0 {
            let (int, frac) = digits.split_at(exp as usize + 1);
            return format!("{int}.{frac}");
        }
        return format!("0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let (first, rest) = digits.split_at(1);
    let sign = if exp < 0 { '-' } else { '+' };
    if rest.is_empty() {
        format!("{first}e{sign}{}", exp.abs())
    } else {
        format!("{first}.{rest}e{sign}{}", exp.abs())
    }
}

/// A float's value to 17 significant digits (enough to tell any two apart), the same
/// way, with trailing zeros dropped.
fn show_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.16e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if f < 0.0 { "-" } else { "" };
    format!("{sign}{}", place(digits, exp))
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    depth: usize,
    /// What is left of [`EXACT_WORK`].
    work: u64,
}

impl Parser<'_> {
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

    fn expr(&mut self) -> Result<Num, CalcError> {
        let mut v = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.i += 1;
            let r = self.term()?;
            v = if op == '+' {
                v.apply(r, &mut self.work, |a, b| a + b, |a, b| a + b)
            } else {
                v.apply(r, &mut self.work, |a, b| a - b, |a, b| a - b)
            };
        }
        Ok(v)
    }

    fn term(&mut self) -> Result<Num, CalcError> {
        let mut v = self.unary()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                '*' => v.apply(r, &mut self.work, |a, b| a * b, |a, b| a * b),
                '/' if r.is_zero() => return Err(CalcError::DivByZero),
                '/' => v.apply(r, &mut self.work, |a, b| a / b, |a, b| a / b),
                _ if r.is_zero() => return Err(CalcError::ModByZero),
                // `%` keeps the sign of the dividend, as the spec asks: a - b*trunc(a/b).
                _ => v.apply(
                    r,
                    &mut self.work,
                    |a, b| {
                        let q = (&a / &b).trunc();
                        a - b * q
                    },
                    |a, b| a % b,
                ),
            };
        }
        Ok(v)
    }

    /// Unary minus binds looser than `^`: `-2^2` is -4.
    fn unary(&mut self) -> Result<Num, CalcError> {
        match self.peek() {
            Some('-') => {
                self.i += 1;
                self.enter()?;
                let v = self.unary()?;
                self.depth -= 1;
                Ok(v.neg())
            }
            _ => self.power(),
        }
    }

    /// `^` is right-associative: `2^3^2` is 2^9.
    fn power(&mut self) -> Result<Num, CalcError> {
        let base = self.primary()?;
        if self.peek() == Some('^') {
            self.i += 1;
            self.enter()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(base.pow(exp, &mut self.work));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Num, CalcError> {
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

    /// `12`, `1.5`, `.5`, `1e3`, `2.5E-3`: digits with at most one point, then an
    /// optional exponent. Read exactly, as a fraction.
    fn number(&mut self) -> Result<Num, CalcError> {
        let start = self.i;
        let at = |p: &Self, i: usize| p.s.get(i).copied();
        while at(self, self.i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.i += 1;
        }
        let mantissa: String = self.s[start..self.i].iter().collect();
        let bad = |text: String| CalcError::Unexpected {
            what: format!("number {text:?}"),
            pos: start + 1,
        };
        let (whole, frac) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
        if frac.contains('.') || (whole.is_empty() && frac.is_empty()) {
            return Err(bad(mantissa));
        }
        let mut exp: i64 = 0;
        if matches!(at(self, self.i), Some('e' | 'E')) {
            let mut j = self.i + 1;
            let negative = at(self, j) == Some('-');
            if matches!(at(self, j), Some('+' | '-')) {
                j += 1;
            }
            let digits_from = j;
            while at(self, j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if j == digits_from {
                let text: String = self.s[start..j].iter().collect();
                return Err(bad(text));
            }
            let text: String = self.s[digits_from..j].iter().collect();
            // Past any float's range either way: kept as a sentinel size.
            exp = text.parse::<i64>().unwrap_or(100_000).min(100_000);
            if negative {
                exp = -exp;
            }
            self.i = j;
        }
        let digits = format!("{whole}{frac}");
        let n: BigInt = digits.parse().map_err(|_| bad(mantissa.clone()))?;
        let exp = exp - frac.len() as i64;
        let ten = BigInt::from(10);
        if exp.unsigned_abs() > 400 {
            let f =
                to_f64(&BigRational::from_integer(n)) * 10f64.powi(exp.clamp(-2000, 2000) as i32);
            return Ok(Num::Float(f));
        }
        let value = if exp >= 0 {
            BigRational::from_integer(n * ten.pow(exp as u32))
        } else {
            BigRational::new(n, ten.pow((-exp) as u32))
        };
        Ok(Num::settle(value))
    }
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
            ("2*3-4/2", "4"),
            ("100-10-1", "89"),
            ("2^10", "1024"),
            ("-0", "0"),
            // What a desk calculator says, not what a float says.
            ("0.1+0.2", "0.3"),
            ("2^53+1", "9007199254740993"),
            (
                "9999999999999999999*9999999999999999999",
                "99999999999999999980000000000000000001",
            ),
            ("2^128", "340282366920938463463374607431768211456"),
            ("1/3", "0.33333333333333333333"),
            ("2/3", "0.66666666666666666667"),
            ("1/8", "0.125"),
            ("1e3", "1000"),
            ("2.5E-3", "0.0025"),
            ("1e-30", "1e-30"),
            ("1.5e+50", "1.5e+50"),
            ("2^200", "1.6069380442589902755e+60"),
            ("10^300", "1e+300"),
            ("10^300*10", "1e+301"),
            ("2^-1074", "4.9406564584124654e-324"),
            ("2^0.5", "1.4142135623730951"),
            ("1e", ""),
            ("1e+", ""),
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
    fn output_stays_short_whatever_the_input() {
        for e in ["2^-1074", "9^9^9", "1/7", "10^300+1", "1e-320", "3^1000/7"] {
            match calc(e) {
                Ok(v) => assert!(v.len() <= 30, "{e} -> {v}"),
                Err(err) => assert!(matches!(err, CalcError::NotFinite), "{e}: {err}"),
            }
        }
    }

    #[test]
    fn the_costliest_lines_fall_back_to_floats_and_still_answer() {
        // Past the exact work an expression may do, the rest is done in floats: the
        // answers are still right to a float's precision (the time is in BENCHMARKS).
        assert_eq!(
            calc(&("9^99*".repeat(799) + "1")),
            Err(CalcError::NotFinite)
        );
        let sum = calc(&("1/7+".repeat(999) + "1")).unwrap();
        assert!(sum.starts_with("143.714285714285"), "{sum}");
        // Within the work, exact: a huge fraction times zero is zero, not NaN.
        assert_eq!(
            calc(&("(2^500/3^300)*".repeat(3) + "0")).as_deref(),
            Ok("0")
        );
    }

    #[test]
    fn calculator_errors() {
        let cases = [
            ("", CalcError::Empty),
            ("   ", CalcError::Empty),
            ("1/0", CalcError::DivByZero),
            ("1/(2-2)", CalcError::DivByZero),
            ("5%0", CalcError::ModByZero),
            ("10^4000", CalcError::NotFinite),
            ("(-8)^(1/3)", CalcError::NotANumber),
            ("0^-1", CalcError::NotFinite),
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

    proptest::proptest! {
        #[test]
        fn calculator_answers_ok_or_err_never_panics(s in "[0-9. +*/%^()eE-]{0,64}|.{0,64}") {
            if let Ok(v) = calc(&s) {
                proptest::prop_assert!(v.len() <= 30, "{} -> {}", s, v);
            }
        }

        #[test]
        fn whole_number_arithmetic_is_exact(a in -1_000_000_000_000i64..1_000_000_000_000, b in -1_000_000i64..1_000_000) {
            let want = (a as i128 * b as i128 + a as i128).to_string();
            proptest::prop_assert_eq!(calc(&format!("({a})*({b})+({a})")).unwrap(), want);
        }
    }
}
