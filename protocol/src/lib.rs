//! natter-protocol: the natter/1 wire protocol, with no I/O at all.
//!
//! - [`fields`]: the field kinds and their validation (names, file names, times, codes).
//! - [`frame`]: [`Request`] and [`ServerFrame`], and their encoder.
//! - [`decode`]: the incremental decoder, fed whatever bytes have arrived.
//!
//! The normative description is `protocol/README.md`; this crate is its executable form.

pub mod decode;
pub mod fields;
pub mod frame;

pub use decode::{decode_request, decode_server_frame, DecodeError, Decoded};
pub use fields::{ErrorCode, FieldError, FileName, LeaveReason, Secret, Sha256, Time, UserName};
pub use frame::{
    encode_data_header, FolderUsage, GuessReply, Reply, Request, ServerFrame, SessionInfo, VERSION,
};

/// Longest header a client may send, counting the `\n`. Large enough for any request
/// with a 255-byte file name percent-encoded three times over, small enough that a
/// reader's buffer stays tiny.
pub const MAX_HEADER: usize = 4096;
/// Longest header a server may send: a relayed message adds the sender's name and a
/// verb to a client's full-length text.
pub const MAX_SERVER_HEADER: usize = 8192;
/// Longest text a client's request can carry (a `SAY`'s): what a server takes as a
/// message or an away text from anywhere else (another node, its history file), so
/// every line it sends with one stays under [`MAX_SERVER_HEADER`].
pub const MAX_TEXT: usize = MAX_HEADER - "SAY \n".len();
/// Largest `DATA` body, unless a client asked for more. One chunk is what a transfer
/// holds in memory at once.
pub const MAX_DATA: usize = 65536;
/// Largest `DATA` body a client may ask for its downloads (`HELLO ... data=N`). Every
/// frame costs the server system calls of its own, so bigger frames are cheaper.
pub const MAX_BIG_DATA: usize = 1 << 20;
/// The port natterd listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7878;

#[cfg(test)]
mod tests;
