//! `Outbox`: the seam between the room and the loop. The room says what should go
//! where; the loop decides how and when bytes reach a socket.
//!
//! The room never writes: every method here only queues, marks or hands over. The
//! loop's implementation encodes a broadcast once and shares the bytes among the
//! recipients' queues, and checks output caps only after the handler has returned
//! (a queue past its cap is marked, never written to or dropped mid-handler). The
//! room's unit tests implement it as a recorder.

use crate::cluster::NodeName;
use crate::folder::FileSend;
use natter_protocol::{ServerFrame, UserName};

/// A connection as the room knows it. Opaque to the room: the loop decides what it
/// stands for, and the same value is used for one connection from its first byte to
/// the moment the loop reports it gone ([`crate::chat::Room::disconnected`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnRef(pub usize);

/// Bytes a connection has carried so far, counted by the loop, shown by `STATUS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_in: u64,
    pub bytes_out: u64,
}

pub trait Outbox {
    /// Queues one frame for one connection.
    fn send(&mut self, to: ConnRef, frame: &ServerFrame);

    /// The room has more to send `conn` (the rest of a listing): the loop calls
    /// [`crate::chat::Room::pull`] whenever the connection's queue has room, until it
    /// says there is no more, and hands the room no request from `conn` until then.
    fn pull_later(&mut self, conn: ConnRef);

    /// Queues `frame` for every connection in `members` but `except`, encoded once.
    /// Returns how many it was queued for.
    fn broadcast(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        frame: &ServerFrame,
    ) -> u64;

    /// As [`Outbox::broadcast`], but a connection that asked for stamps
    /// ([`Outbox::stamps`]) gets `stamped` instead of `plain`; each is encoded at most
    /// once however many receive it.
    fn broadcast_stamped(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        plain: &ServerFrame,
        stamped: &ServerFrame,
    ) -> u64;

    /// From now on `conn` gets room messages stamped (`SAID` for `FROM`).
    fn stamps(&mut self, conn: ConnRef);

    /// Ends a connection once its queued output is out. The room has already done
    /// its part of the departure; the loop does not report it back.
    fn close(&mut self, conn: ConnRef);

    /// Hands a download to the loop, which sends it at the socket's pace and reports
    /// its end through [`crate::chat::Room::download_ended`].
    fn start_download(&mut self, conn: ConnRef, send: FileSend);

    /// Takes a running download back (ABORT); `None` if the loop has no such one.
    fn stop_download(&mut self, conn: ConnRef, xfer: u64) -> Option<FileSend>;

    /// What the connection has carried so far.
    fn traffic(&self, conn: ConnRef) -> Traffic;

    // A cluster node's room also asks these of the loop; a lone server's never does.

    /// Hands a message to the bus: for every other node (`to` = `None`), or for one.
    /// Dropped if the link is down (the room checks first; the loop checks again).
    fn publish(&mut self, to: Option<&NodeName>, payload: Vec<u8>) {
        let _ = (to, payload);
    }

    /// Claims the name `folded` cluster-wide for `conn` (whose connection id is
    /// `conn_id`). The loop hands the room no further request from `conn` until it
    /// has said how it went, through [`crate::chat::Room::claimed`].
    fn claim(&mut self, conn: ConnRef, conn_id: u64, folded: &UserName) {
        let _ = (conn, conn_id, folded);
    }

    /// Gives this node's claim on `folded` back (and only this node's).
    fn release(&mut self, folded: &UserName) {
        let _ = folded;
    }
}
