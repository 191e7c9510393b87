//! `OutQueue`: the bytes waiting to go out on one connection.
//!
//! Small frames (replies, private messages) are encoded straight into an owned tail
//! chunk so many of them cost one allocation; a broadcast frame is written once into
//! an append-only block (`Arena`) and every recipient's queue holds a range of it,
//! one range for a run of consecutive broadcasts; a download's body on plain TCP is a
//! range of its file, which the kernel copies to the socket itself (`sendfile`), so
//! natterd never reads it. A flush hands the kernel up to [`MAX_SLICES`] chunks in
//! one `write_vectored`. An empty queue holds no memory. It never touches a socket
//! itself: the event loop passes the writer in.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// How many chunks one `write_vectored` call may carry: Linux's IOV_MAX. A busy room
/// queues one chunk per message for each member, thousands per loop turn; at 64 per
/// call, fan-out cost 40% more CPU per delivery, nearly all of it in system calls.
const MAX_SLICES: usize = 1024;
/// An owned tail chunk takes more small frames until it is this long.
const COALESCE: usize = 16 * 1024;

/// Broadcast frames, appended one after another into a block of fixed capacity that
/// every member's queue refers to by range. A member that gets consecutive broadcasts
/// holds one range for all of them, so a busy room's window of messages is one slice
/// of one write, and a broadcast costs each member a comparison and an addition, not
/// a chunk. A block is freed when the last range into it has gone out.
pub struct Block {
    /// Its capacity is fixed at creation and never passed, so the bytes never move;
    /// appends only write past every range handed out.
    buf: std::cell::UnsafeCell<Vec<u8>>,
    /// Blocks are numbered in the order they were made, across both arenas (plain
    /// and stamped), so a queue can tell a block it has not counted yet.
    seq: u32,
}

/// The next block's number (the loop is one thread; atomic only to be a static).
static NEXT_BLOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Bytes per block: many frames (a frame is at most 8 KiB), few blocks.
const BLOCK: usize = 32 * 1024;

impl Block {
    /// Appends `bytes` if they fit; where they went.
    fn append(&self, bytes: &[u8]) -> Option<(u32, u32)> {
        // SAFETY: one thread (Rc is !Send); no slice of this block is alive while the
        // loop broadcasts (slices live only inside a write call), and the write stays
        // within the capacity, so the buffer is never reallocated.
        let v = unsafe { &mut *self.buf.get() };
        if v.len() + bytes.len() > v.capacity() {
            return None;
        }
        let start = v.len();
        v.extend_from_slice(bytes);
        Some((start as u32, v.len() as u32))
    }

    fn slice(&self, start: u32, end: u32) -> &[u8] {
        // SAFETY: as in `append`: ranges are only of bytes already written, which no
        // later append touches.
        let v = unsafe { &*self.buf.get() };
        &v[start as usize..end as usize]
    }
}

/// Where the next broadcast frame goes: the block being filled, a new one when full.
#[derive(Default)]
pub struct Arena {
    current: Option<Rc<Block>>,
}

impl Arena {
    /// Copies `frame` into the arena; the block and range to queue.
    pub fn put(&mut self, frame: &[u8]) -> (Rc<Block>, u32, u32) {
        if let Some(b) = &self.current {
            if let Some((s, e)) = b.append(frame) {
                return (Rc::clone(b), s, e);
            }
        }
        // (No frame is bigger than a block; one that were would get a block its size.)
        let b = Rc::new(Block {
            buf: std::cell::UnsafeCell::new(Vec::with_capacity(BLOCK.max(frame.len()))),
            seq: NEXT_BLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
        let (s, e) = b.append(frame).unwrap_or((0, 0));
        self.current = Some(Rc::clone(&b));
        (b, s, e)
    }
}

enum Chunk {
    Owned(Vec<u8>),
    /// Bytes `start..end` of a block of broadcast frames; `first` if it is the one
    /// range that counts the block as pinned by this queue.
    Range {
        block: Rc<Block>,
        start: u32,
        end: u32,
        first: bool,
    },
    /// `len` bytes of `file` from `offset`: the body of a `DATA` frame of download
    /// `xfer`, sent by the kernel; `last` if it ends the download.
    File {
        file: Rc<File>,
        offset: u64,
        len: usize,
        xfer: u64,
        last: bool,
    },
}

impl Chunk {
    /// The bytes, for a chunk held in memory.
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Range {
                block, start, end, ..
            } => block.slice(*start, *end),
            Chunk::File { .. } => &[],
        }
    }

    fn len(&self) -> usize {
        match self {
            Chunk::File { len, .. } => *len,
            Chunk::Range { start, end, .. } => (end - start) as usize,
            c => c.bytes().len(),
        }
    }

    fn is_file(&self) -> bool {
        matches!(self, Chunk::File { .. })
    }
}

/// A download that ended: its transfer id, and whether its file held to the end.
type Ended = (u64, io::Result<()>);

#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// How much of `len` is file ranges, which hold no memory.
    file_bytes: usize,
    /// How much of `len` is ranges of broadcast blocks.
    range_bytes: usize,
    /// How much of the front chunk has already been written (a chunk is at most a
    /// few MiB).
    head: u32,
    /// Broadcast blocks this queue keeps alive (give or take the front one): a
    /// block lives while any range of it is queued, so a queue can pin far more
    /// memory than its ranges' bytes.
    blocks: u32,
    /// The newest block counted in `blocks`.
    newest_block: u32,
    /// Downloads whose last range has gone out (Ok), or whose file ended before a
    /// range of it did (Err), since the loop last asked; boxed, as most connections
    /// never download (an idle connection's size is the memory figure).
    #[allow(clippy::box_collection)] // one pointer inline instead of three
    ended: Option<Box<Vec<Ended>>>,
}

impl OutQueue {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory this queue holds: what the output cap bounds. A download's file
    /// ranges are not in it; the socket's pace pulls them, a frame at a time. Its
    /// broadcast ranges count as the blocks they keep alive, when that is more than
    /// their bytes: a reader that never reads, holding one small range in each of
    /// many blocks (filled by others' messages it does not get, its own among them),
    /// would otherwise pin hundreds of times its cap.
    pub fn memory_len(&self) -> usize {
        let own = self.len - self.file_bytes - self.range_bytes;
        let pinned = (self.blocks.saturating_sub(1) as usize).saturating_mul(BLOCK);
        own + self.range_bytes.max(pinned)
    }

    /// Queues bytes `start..end` of a block of broadcast frames: added to the range at
    /// the tail if they follow it (the member's previous broadcast), else a range of
    /// their own.
    pub fn push_range(&mut self, block: &Rc<Block>, start: u32, end: u32) {
        let n = (end - start) as usize;
        self.len += n;
        self.range_bytes += n;
        if let Some(Chunk::Range {
            block: b, end: e, ..
        }) = self.chunks.back_mut()
        {
            if *e == start && Rc::ptr_eq(b, block) {
                *e = end;
                return;
            }
        }
        // A member gets its ranges in the order the blocks were made (from two
        // arenas, for a member with stamps: its stamped messages and everyone's
        // plain events), so a block newer than the newest it counted is new to it.
        // (A block of the other arena that was made earlier and first reaches it
        // later goes uncounted, as does the front block once its first range has
        // gone out: one or two blocks, which the count's `- 1` allows for.)
        let counted = (block.seq.wrapping_sub(self.newest_block) as i32) <= 0;
        if !counted {
            self.blocks += 1;
            self.newest_block = block.seq;
        }
        self.chunks.push_back(Chunk::Range {
            block: Rc::clone(block),
            start,
            end,
            first: !counted,
        });
    }

    /// Queues `len` (> 0) bytes of `file` from `offset`, the body of a `DATA` frame of
    /// download `xfer`, to go to a socket by `sendfile`; `last` if it ends the
    /// download, which [`OutQueue::take_ended`] reports once it is out. Only for
    /// queues written with [`OutQueue::write_to_socket`].
    pub fn push_file(&mut self, file: Rc<File>, offset: u64, len: usize, xfer: u64, last: bool) {
        self.len += len;
        self.file_bytes += len;
        self.chunks.push_back(Chunk::File {
            file,
            offset,
            len,
            xfer,
            last,
        });
    }

    /// Downloads that ended since the last call: `Ok` when the last byte of one went
    /// out, `Err(UnexpectedEof)` when its file got shorter than what it promised.
    pub fn take_ended(&mut self) -> Vec<(u64, io::Result<()>)> {
        self.ended.take().map(|e| *e).unwrap_or_default()
    }

    fn push_ended(&mut self, xfer: u64, result: io::Result<()>) {
        self.ended.get_or_insert_default().push((xfer, result));
    }

    /// Lets `encode` append to the owned tail chunk; returns how many bytes it added.
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> usize {
        // Appending to a half-written front chunk is fine: `head` counts from its start.
        let reuse = matches!(self.chunks.back(), Some(Chunk::Owned(v)) if v.len() < COALESCE);
        if !reuse {
            self.chunks.push_back(Chunk::Owned(Vec::with_capacity(256)));
        }
        let Some(Chunk::Owned(tail)) = self.chunks.back_mut() else {
            return 0;
        };
        let before = tail.len();
        encode(tail);
        let added = tail.len() - before;
        self.len += added;
        added
    }

    /// One vectored write of as much as the writer takes of the chunks in memory (up
    /// to a file range, which only [`OutQueue::write_to_socket`] sends). `Ok(n)` is
    /// bytes written.
    pub fn write_to<W: Write>(&mut self, w: &mut W) -> io::Result<usize> {
        let memory = self.chunks.iter().take_while(|c| !c.is_file()).count();
        // A chat message costs one write per member: keep the common short queue from
        // paying to set up IOV_MAX slices.
        let n = match memory {
            0 => return Ok(0),
            1 => w.write(&self.chunks[0].bytes()[self.head as usize..])?,
            2..=16 => self.write_slices::<W, 16>(w, memory)?,
            _ => self.write_slices::<W, MAX_SLICES>(w, memory)?,
        };
        self.advance(n);
        Ok(n)
    }

    /// As [`OutQueue::write_to`], and a file range at the front goes by `sendfile`. A
    /// file that ended before its range did is `UnexpectedEof`: the frame it belongs
    /// to cannot be finished, and the connection must end.
    ///
    /// A file that ends before its range does cannot be allowed to break the stream:
    /// the header already promised the bytes. The rest of that frame goes out as
    /// zeros, and the download is reported failed, so its `FAILED` follows.
    pub fn write_to_socket<S: Write + AsRawFd>(&mut self, s: &mut S) -> io::Result<usize> {
        let Some(Chunk::File {
            file,
            offset,
            len,
            xfer,
            ..
        }) = self.chunks.front()
        else {
            return self.write_to(s);
        };
        let mut off = (*offset + u64::from(self.head)) as libc::off_t;
        let count = len - self.head as usize;
        // SAFETY: both descriptors are open for the call; sendfile writes only `off`.
        let n = unsafe { libc::sendfile(s.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            let xfer = *xfer;
            self.push_ended(xfer, Err(io::ErrorKind::UnexpectedEof.into()));
            if let Some(front) = self.chunks.front_mut() {
                *front = Chunk::Owned(vec![0; count]);
                self.file_bytes -= count;
            }
            self.head = 0;
            return self.write_to(s);
        }
        let n = n as usize;
        self.advance(n);
        Ok(n)
    }

    fn write_slices<W: Write, const N: usize>(
        &self,
        w: &mut W,
        memory: usize,
    ) -> io::Result<usize> {
        let mut slices: [IoSlice<'_>; N] = [IoSlice::new(&[]); N];
        let mut count = 0;
        for (i, chunk) in self.chunks.iter().take(N.min(memory)).enumerate() {
            let b = chunk.bytes();
            slices[i] = IoSlice::new(if i == 0 { &b[self.head as usize..] } else { b });
            count += 1;
        }
        w.write_vectored(&slices[..count])
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.len() - self.head as usize;
            let file = front.is_file();
            let range = matches!(front, Chunk::Range { .. });
            let took = n.min(left);
            if file {
                self.file_bytes -= took;
            }
            if range {
                self.range_bytes -= took;
            }
            if n < left {
                self.head += n as u32;
                return;
            }
            n -= left;
            self.head = 0;
            match self.chunks.pop_front() {
                Some(Chunk::File {
                    xfer, last: true, ..
                }) => self.push_ended(xfer, Ok(())),
                Some(Chunk::Range { first: true, .. }) => self.blocks -= 1,
                _ => {}
            }
        }
        if self.chunks.is_empty() {
            self.head = 0;
        }
    }

    /// Writes what is left of a partly written front chunk, so that the stream ends on
    /// a frame boundary (a frame spans two chunks only when a file range follows its
    /// header). Returns whether it does. For a last word (`SHUTDOWN`) that must not
    /// land inside another frame.
    pub fn finish_front<W: Write>(&mut self, w: &mut W) -> bool {
        loop {
            let Some(front) = self.chunks.front() else {
                return true;
            };
            if front.is_file() {
                // Mid-frame, and no plain writer can send a file range.
                return false;
            }
            if self.head == 0 {
                return true;
            }
            match w.write(&front.bytes()[self.head as usize..]) {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.advance(n),
            }
        }
    }

    /// Gives an empty queue's memory back. Not done on every drain: a busy
    /// connection would regrow its ring every loop turn. The loop calls this when
    /// it is quiet, so an idle connection ends up holding nothing.
    pub fn release(&mut self) {
        if self.chunks.is_empty() && self.chunks.capacity() > 0 {
            self.chunks = VecDeque::new();
        }
    }

    /// Drops everything queued (the connection is going away).
    pub fn clear(&mut self) {
        *self = OutQueue::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `max` bytes per call, like a full socket.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = b.len().min(self.max);
            if n == 0 && !b.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut total = 0;
            for b in bufs {
                let n = (self.max - total).min(b.len());
                self.got.extend_from_slice(&b[..n]);
                total += n;
                if total == self.max {
                    break;
                }
            }
            Ok(total)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_keep_order_and_count() {
        let mut q = OutQueue::default();
        let mut arena = Arena::default();
        let (block, s, e) = arena.put(b"FROM bob hi\n");
        q.push_with(|v| v.extend_from_slice(b"OK SAY 2\n"));
        q.push_range(&block, s, e);
        q.push_with(|v| v.extend_from_slice(b"JOIN carol\n"));
        q.push_with(|v| v.extend_from_slice(b"JOIN dave\n"));
        let want = b"OK SAY 2\nFROM bob hi\nJOIN carol\nJOIN dave\n".to_vec();
        assert_eq!(q.len(), want.len());
        for max in [1, 3, 7, 100] {
            let mut q2 = OutQueue::default();
            q2.push_with(|v| v.extend_from_slice(b"OK SAY 2\n"));
            q2.push_range(&block, s, e);
            q2.push_with(|v| v.extend_from_slice(b"JOIN carol\nJOIN dave\n"));
            let mut w = Trickle {
                got: Vec::new(),
                max,
            };
            while !q2.is_empty() {
                q2.write_to(&mut w).unwrap();
            }
            assert_eq!(w.got, want, "max {max}");
            assert_eq!(q2.len(), 0);
        }
        let mut w = Trickle {
            got: Vec::new(),
            max: 1 << 20,
        };
        q.write_to(&mut w).unwrap();
        assert!(q.is_empty());
        q.release();
        assert_eq!(
            q.chunks.capacity(),
            0,
            "a released empty queue holds no memory"
        );
    }

    #[test]
    fn a_last_word_goes_after_the_frame_being_written_not_into_it() {
        let mut q = OutQueue::default();
        q.push_with(|v| v.extend_from_slice(b"FROM bob hello\n"));
        let (block, s, e) = Arena::default().put(b"JOIN carol\n");
        q.push_range(&block, s, e);
        // At a boundary nothing needs writing.
        let mut none = Trickle {
            got: Vec::new(),
            max: 0,
        };
        assert!(q.finish_front(&mut none));
        let mut w = Trickle {
            got: Vec::new(),
            max: 4,
        };
        q.write_to(&mut w).unwrap();
        assert_eq!(w.got, b"FROM");
        // A writer that takes nothing: the stream is mid-frame, no last word.
        assert!(!q.finish_front(&mut none));
        let mut w = Trickle {
            got: Vec::new(),
            max: 5,
        };
        assert!(q.finish_front(&mut w));
        assert_eq!(
            w.got, b" bob hello\n",
            "the rest of that frame, and no more"
        );
        assert_eq!(q.len(), b"JOIN carol\n".len());
    }

    #[test]
    fn file_ranges_go_by_sendfile_and_a_short_file_is_padded_and_reported() {
        use std::os::unix::net::UnixStream;
        let path = std::env::temp_dir().join(format!("natter-oq-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut q = OutQueue::default();
        q.push_with(|v| v.extend_from_slice(b"DATA 7 4\n"));
        q.push_file(file.clone(), 2, 4, 7, false);
        q.push_with(|v| v.extend_from_slice(b"DATA 7 6\n"));
        q.push_file(file.clone(), 6, 6, 7, true);
        assert_eq!(q.len(), 9 + 4 + 9 + 6);
        // File ranges hold no memory: only the headers count against the cap.
        assert_eq!(q.memory_len(), 9 + 9);
        let mut memory = vec![q.memory_len()];
        while !q.is_empty() {
            q.write_to_socket(&mut a).unwrap();
            memory.push(q.memory_len());
        }
        // Header, range, header, the short range's 4 bytes, then its 2 missing bytes
        // as zeros, which go in the same call.
        assert_eq!(memory, [18, 9, 9, 0, 0, 0]);
        let mut got = vec![0u8; 28];
        std::io::Read::read_exact(&mut b, &mut got).unwrap();
        // The last range wanted 6 bytes from offset 6 of a 10-byte file: 4, then zeros.
        assert_eq!(&got[..], b"DATA 7 4\n2345DATA 7 6\n6789\0\0");
        let ended = q.take_ended();
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].0, 7);
        assert_eq!(
            ended[0].1.as_ref().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        // A whole one reports Ok once its last byte is out, not before.
        q.push_file(file, 0, 10, 8, true);
        let mut half = Trickle {
            got: Vec::new(),
            max: 3,
        };
        q.write_to(&mut half).unwrap();
        assert!(q.take_ended().is_empty(), "a file range waits for sendfile");
        q.write_to_socket(&mut a).unwrap();
        assert!(matches!(q.take_ended()[..], [(8, Ok(()))]));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn many_chunks_take_several_writes() {
        let mut q = OutQueue::default();
        let mut arena = Arena::default();
        let mut want = Vec::new();
        let n = MAX_SLICES * 5 / 2;
        for i in 0..n {
            let frame = format!("FROM a {i}\n");
            want.extend_from_slice(frame.as_bytes());
            // A broadcast, then a reply, and so on: no two neighbours can merge.
            if i % 2 == 0 {
                let (block, s, e) = arena.put(frame.as_bytes());
                q.push_range(&block, s, e);
            } else {
                q.push_with(|v| v.extend_from_slice(frame.as_bytes()));
            }
        }
        let mut w = Trickle {
            got: Vec::new(),
            max: usize::MAX,
        };
        let mut calls = 0;
        while !q.is_empty() {
            q.write_to(&mut w).unwrap();
            calls += 1;
        }
        assert_eq!(w.got, want);
        assert_eq!(calls, 3);
    }

    #[test]
    fn a_members_consecutive_broadcasts_are_one_range_and_come_out_whole() {
        let mut arena = Arena::default();
        let (mut a, mut b) = (OutQueue::default(), OutQueue::default());
        let mut want_a = Vec::new();
        let mut want_b = Vec::new();
        // Enough frames to fill several blocks; b also gets a reply now and then, and
        // misses its own messages (every seventh).
        for i in 0..5000 {
            let frame = format!("FROM someone message number {i}\n");
            let (block, s, e) = arena.put(frame.as_bytes());
            a.push_range(&block, s, e);
            want_a.extend_from_slice(frame.as_bytes());
            if i % 7 != 0 {
                b.push_range(&block, s, e);
                want_b.extend_from_slice(frame.as_bytes());
            }
            if i % 100 == 0 {
                b.push_with(|v| v.extend_from_slice(b"OK SAY 1\n"));
                want_b.extend_from_slice(b"OK SAY 1\n");
            }
        }
        // One range per block for a: a block is 32 KiB, the frames 36 bytes or so.
        let blocks = want_a.len().div_ceil(BLOCK - 64) + 1;
        assert!(a.chunks.len() <= blocks, "{} chunks", a.chunks.len());
        assert_eq!(a.len(), want_a.len());
        assert_eq!(b.len(), want_b.len());
        for (q, want) in [(&mut a, want_a), (&mut b, want_b)] {
            let mut w = Trickle {
                got: Vec::new(),
                max: 1000,
            };
            while !q.is_empty() {
                q.write_to(&mut w).unwrap();
            }
            assert!(w.got == want);
        }
        // Once every range into a block is gone, so is the block (the current one
        // stays with the arena).
        assert_eq!(arena.current.as_ref().map(Rc::strong_count), Some(1));
    }

    #[test]
    fn a_queue_counts_the_blocks_it_keeps_alive_not_just_its_ranges_bytes() {
        let mut arena = Arena::default();
        let mut q = OutQueue::default();
        let big = vec![b'x'; 4000];
        // Each round fills a block with frames q does not get, then q gets one small
        // one, with a reply behind it: one block pinned per 40 bytes queued.
        for _ in 0..40 {
            for _ in 0..8 {
                arena.put(&big);
            }
            let (block, s, e) = arena.put(b"FROM y y\n");
            q.push_range(&block, s, e);
            q.push_with(|v| v.extend_from_slice(b"OK SAY 1 12345678901\n"));
        }
        assert!(q.len() < 2000, "{}", q.len());
        assert!(q.memory_len() >= 38 * BLOCK, "{}", q.memory_len());
        // A member behind by many consecutive broadcasts counts about their bytes:
        // their blocks are what they fill.
        let mut behind = OutQueue::default();
        for i in 0..3000 {
            let frame = format!("FROM someone message number {i}, behind\n");
            let (block, s, e) = arena.put(frame.as_bytes());
            behind.push_range(&block, s, e);
            if i % 50 == 0 {
                behind.push_with(|v| v.extend_from_slice(b"OK SAY 1\n"));
            }
        }
        assert!(
            behind.memory_len() <= behind.len() + BLOCK,
            "{}",
            behind.memory_len()
        );
        assert!(behind.memory_len() >= behind.len());
        // A member with stamps gets ranges of two arenas in turn (its stamped
        // messages, everyone's plain events): each block counts once, not each range.
        let mut stamped = Arena::default();
        let mut both = OutQueue::default();
        for i in 0..1000 {
            let (block, s, e) = arena.put(format!("JOIN user{i}\n").as_bytes());
            both.push_range(&block, s, e);
            let said = format!("SAID {i} 2026-12-02T00:00:00Z someone hello\n");
            let (block, s, e) = stamped.put(said.as_bytes());
            both.push_range(&block, s, e);
        }
        assert!(both.len() < 2 * BLOCK, "{}", both.len());
        assert!(both.memory_len() <= 4 * BLOCK, "{}", both.memory_len());
        // And blocks filled by others still count for it.
        for _ in 0..40 {
            for _ in 0..8 {
                stamped.put(&big);
            }
            let (block, s, e) = stamped.put(b"SAID 1 2026-12-02T00:00:00Z y y\n");
            both.push_range(&block, s, e);
            let (block, s, e) = arena.put(b"BACK y\n");
            both.push_range(&block, s, e);
        }
        assert!(both.memory_len() >= 38 * BLOCK, "{}", both.memory_len());
        // Written out, all hold nothing, by either count.
        for q in [&mut q, &mut behind, &mut both] {
            let mut w = Trickle {
                got: Vec::new(),
                max: 777,
            };
            while !q.is_empty() {
                q.write_to(&mut w).unwrap();
            }
            assert_eq!(q.memory_len(), 0);
            assert_eq!((q.blocks, q.range_bytes), (0, 0));
        }
    }
}
