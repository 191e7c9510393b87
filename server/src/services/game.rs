//! The guessing game, one per connection: a secret from 1 to 100, and how a guess
//! compares with it. Pure.

pub const GUESS_LO: u64 = 1;
pub const GUESS_HI: u64 = 100;

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
}
