//! The check behind the calculator's fuzz target, shared with the corpus replay in
//! server/tests/fuzz_corpus.rs so the two cannot drift apart.

/// What the calculator made of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8, so never an expression.
    NotText,
    Value,
    Refused,
}

/// The calc target: any text gives a finite number, written so that it reads back as
/// one, or a reason a person can read; never a panic or a stack overflow.
pub fn calc(data: &[u8]) -> Outcome {
    let Ok(expr) = std::str::from_utf8(data) else {
        return Outcome::NotText;
    };
    match natter_server::calc(expr) {
        Ok(v) => {
            let n: f64 = v
                .parse()
                .unwrap_or_else(|e| panic!("{expr:?} gave {v:?}, not a number: {e}"));
            assert!(n.is_finite(), "{expr:?} gave {v:?}");
            Outcome::Value
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{expr:?} gave {e:?}");
            Outcome::Refused
        }
    }
}
