//! Server frames in, lines for people out: the words, the optional colours, and the
//! escaping of everything that came from the network; also sizes, durations and I/O
//! errors in words. It uses no other module of the client, so every layer may use it
//! (the connection's errors, the reader's lines, the prompt's messages).
//!
//! Pure, apart from [`local_hm`] and [`utc_offset`], which ask the C library for the
//! local time zone. Conventions (the README lists them for users):
//! - `[14:02] <bob> hi` a broadcast; `[14:02] <you> hi ✓ 3` your own, with how many it
//!   reached; `[14:02] [bob → you] psst` and `[14:02] [you → bob] psst` private ones.
//! - `* ...` something happened (joins, leaves, listings, replies).
//! - `! ...` something went wrong; batch mode writes these to stderr.
//!
//! Text from the network is passed through [`sanitize`] before it is shown, so a peer
//! cannot move the cursor, clear the screen or reorder the line with control or
//! bidirectional-override characters.
//!
//! - `line`: [`Line`] and [`Style`], the colours.
//! - `escape`: [`sanitize`].
//! - `frames`: frames to lines ([`event`], [`reply`]) and `ERR` codes in words.
//! - `words`: sizes, digit groups, durations and I/O errors in words.
//! - `progress`: a transfer's progress ([`Snapshot`]) and its one-row bar line.
//! - `local_time`: the local time zone.
//!
//! Callers use the names below; the files are this folder's own business.

mod escape;
mod frames;
mod line;
mod local_time;
mod progress;
mod words;

pub use escape::sanitize;
pub use frames::{error_words, event, reply, View};
pub use line::{Line, Style};
pub use local_time::{local_hm, utc_offset};
pub use progress::{bar_line, Snapshot};
pub use words::{duration_words, group_digits, human_size, io_words};
