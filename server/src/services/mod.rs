//! The small services on the chat connection: the calculator and the guessing game.
//! Pure: values in, values out; the room does the talking.

mod calc;
mod game;

pub use calc::calc;
pub use game::{random_seed, Game, Hint, GUESS_HI, GUESS_LO};
