//! The shared folder's watch: an inotify instance on the folder, read by the loop like
//! a socket, so the room's index of the folder hears of every change anyone makes
//! (another natterd, a person with `cp` or `rm`) without ever scanning it.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Event bytes read per turn, so a storm of changes cannot hold the loop.
const READ_BUDGET: usize = 64 * 1024;

/// What was read: the names that changed (possibly repeated), and whether the kernel
/// dropped events (then the folder must be read again).
pub struct Changes {
    pub names: Vec<Box<OsStr>>,
    pub overflow: bool,
    /// Stopped on the budget: come back next turn.
    pub more: bool,
}

pub struct Watch {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Watch {
    pub fn new(root: &Path) -> io::Result<Watch> {
        // SAFETY: inotify_init1 takes flags and returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a descriptor we just got and own alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let path = std::ffi::CString::new(root.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
        // Writes in progress are seen when the writer closes (IN_CLOSE_WRITE), not
        // on every write: a big copy would otherwise be thousands of events.
        let mask = libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_FROM
            | libc::IN_MOVED_TO
            | libc::IN_CLOSE_WRITE
            | libc::IN_ATTRIB
            | libc::IN_DELETE_SELF
            | libc::IN_MOVE_SELF
            | libc::IN_ONLYDIR;
        // SAFETY: a valid descriptor and a NUL-terminated path.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch {
            fd,
            buf: vec![0; 16 * 1024],
        })
    }

    /// Reads what has happened, until there is nothing more or the budget is spent.
    pub fn read(&mut self) -> Changes {
        let mut changes = Changes {
            names: Vec::new(),
            overflow: false,
            more: false,
        };
        let mut budget = READ_BUDGET;
        loop {
            if budget == 0 {
                changes.more = true;
                return changes;
            }
            // SAFETY: reads at most buf.len() bytes into our buffer.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                )
            };
            if n <= 0 {
                let e = io::Error::last_os_error();
                if n < 0 && e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return changes;
            }
            let n = n as usize;
            budget = budget.saturating_sub(n);
            parse(&self.buf[..n], &mut changes);
        }
    }
}

/// Takes inotify events apart: a fixed header (wd, mask, cookie, len), then `len`
/// bytes of NUL-padded name.
fn parse(mut bytes: &[u8], changes: &mut Changes) {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    while bytes.len() >= HEADER {
        let word =
            |i: usize| u32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mask = word(4);
        let len = word(12) as usize;
        let Some(name) = bytes.get(HEADER..HEADER + len) else {
            return;
        };
        if mask & libc::IN_Q_OVERFLOW != 0 {
            changes.overflow = true;
        }
        if mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
            log::error!("the shared folder itself was deleted or moved; its listing will not change any more");
        }
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if end > 0 {
            changes.names.push(OsStr::from_bytes(&name[..end]).into());
        }
        bytes = &bytes[HEADER + len..];
    }
}

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
