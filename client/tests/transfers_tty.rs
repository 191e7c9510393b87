//! Transfers on a terminal: natter in a real pseudo-terminal (vt100 for the screen)
//! against a [`FakeServer`] the test plays by hand, so a transfer is exactly as far
//! along as the test says: the progress bar redrawn in place, cancelling with
//! `/cancel` and Ctrl-C, and what `/quit` says meanwhile.

mod common;

use common::tty::Tty;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const MTIME: &str = "2023-11-14T22:13:20Z";

/// natter on a terminal, logged in to `fake`; returns it and the server's side
/// after the quiet `WHO` and `FILES` it sends on joining.
fn join(fake: &FakeServer, downloads: &Path, history: &Path) -> (Tty, Peer) {
    let port = fake.port();
    let tty = Tty::start_env(
        &[
            "--download-dir",
            downloads.to_str().unwrap(),
            "--history-file",
            history.to_str().unwrap(),
            "alice",
            "127.0.0.1",
            &port,
        ],
        &[],
    );
    let mut p = fake.accept_named("alice");
    p.expect("WHO");
    p.send("USER alice 127.0.0.1:1 2023-11-14T22:13:20Z\nOK WHO 1\n");
    p.expect("FILES");
    p.send("OK FILES 0\n");
    (tty, p)
}

/// `/get big.bin` of a 1,000,000-byte file, of which the server sends 1,000 bytes
/// as transfer 7 and then waits.
fn start_download(tty: &mut Tty, p: &mut Peer, downloads: &Path) {
    tty.wait_for_prompt("alice>");
    tty.type_text("/get big.bin\r");
    p.expect("FILES");
    p.send(&format!("FILE big.bin 1000000 {MTIME}\nOK FILES 1\n"));
    p.expect("GET big.bin");
    p.send("OK GET 7 big.bin 1000000\nDATA 7 1000\n");
    p.send_bytes(&[42u8; 1000]);
    tty.wait_for_text("* downloading big.bin (976.6 KiB)");
    let part = downloads.join("big.bin.part");
    let end = Instant::now() + WAIT;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 1000 {
        assert!(
            Instant::now() < end,
            "the first bytes never reached the .part"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cancel_stops_a_download_and_quit_says_how() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    start_download(&mut tty, &mut p, &dl.0);

    tty.type_text("/quit\r");
    tty.wait_for_text("! still downloading big.bin; quit again to leave anyway (/get resumes a download), or /cancel to stop it and stay");
    tty.type_text("/cancel nothing.txt\r");
    tty.wait_for_text("! no transfer of nothing.txt is running (now: downloading big.bin); /cancel alone stops them all");
    tty.type_text("/cancel big.bin\r");
    p.expect("ABORT 7");
    p.send("OK ABORT 7\n");
    tty.wait_for_text(&format!(
        "* cancelled the download of big.bin; {}/big.bin.part is kept: /get big.bin resumes it",
        dl.0.display()
    ));
    assert_eq!(
        std::fs::metadata(dl.0.join("big.bin.part")).unwrap().len(),
        1000
    );
    assert!(dl.0.join("big.bin.part.info").exists(), "kept for resuming");
    tty.type_text("/cancel\r");
    tty.wait_for_text("! no transfer is running");
    // Nothing runs now: the first /quit leaves.
    tty.type_text("/quit\r");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn ctrl_c_on_an_empty_line_offers_to_cancel_and_a_second_one_does() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    start_download(&mut tty, &mut p, &dl.0);

    // On a line being typed, Ctrl-C only clears it.
    tty.type_text("half a thought");
    tty.wait_for_prompt("alice> half a thought");
    tty.type_text("\x03");
    tty.wait_for_prompt("alice>");
    tty.type_text("hello\r");
    p.expect("SAY hello");
    p.send("OK SAY 0\n");

    let offer = "! Ctrl-C again to cancel downloading big.bin (a download keeps its .part, and /get resumes it); anything else keeps it going";
    tty.type_text("\x03");
    tty.wait_for_text(offer);
    // Anything else in between takes the offer back.
    tty.type_text("/echo still here\r");
    p.expect("ECHO still here");
    p.send("OK ECHO still here\n");
    tty.wait_for_text("* echo: still here");
    tty.type_text("\x03");
    tty.wait("the offer made a second time", |t| {
        t.screen.screen().contents().matches(offer).count() == 2
    });
    tty.type_text("\x03");
    p.expect("ABORT 7");
    p.send("OK ABORT 7\n");
    tty.wait_for_text("* cancelled the download of big.bin; ");
    tty.type_text("\x04");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn cancel_stops_an_upload_and_no_chunk_follows_its_abort() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("up.bin");
    // Far more than the sockets between the two can hold, so it is still going when
    // cancelled (sparse: nothing to write to disk).
    let size: u64 = 256 << 20;
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    tty.wait_for_prompt("alice>");
    tty.type_text(&format!("/put {}\r", path.display()));
    // With the file's SHA-256, read before a byte is sent.
    p.expect_prefix(&format!("PUT up.bin {size} "));
    p.send("OK PUT 3 up.bin\n");
    tty.wait_for_text(&format!("* uploading {} (256.0 MiB)", path.display()));
    // The server reads nothing for now; natter's writer soon blocks on the socket.
    tty.type_text("/cancel up.bin\r");
    tty.wait_for_prompt("alice>");
    let mut sent = 0u64;
    loop {
        let line = p.line().expect("natter stays connected");
        if line == "ABORT 3" {
            break;
        }
        let n: usize = line
            .strip_prefix("DATA 3 ")
            .unwrap_or_else(|| panic!("wanted DATA or ABORT, got {line:?}"))
            .parse()
            .unwrap();
        p.bytes(n);
        sent += n as u64;
    }
    assert!(sent < size, "the whole file went out before the ABORT");
    p.send("OK ABORT 3\n");
    tty.wait_for_text("* cancelled the upload of up.bin; the server keeps nothing of it");
    // The next thing on the wire is what is typed next, not another chunk.
    tty.type_text("after\r");
    p.expect("SAY after");
    p.send("OK SAY 0\n");
    tty.type_text("/quit\r");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn an_upload_is_running_while_its_sha256_is_read() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("huge.bin");
    // Sparse, and so big that reading its SHA-256 takes far longer than the test
    // (tens of seconds at the fastest): every step below happens while it is read.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    tty.wait_for_prompt("alice>");
    tty.type_text(&format!("/put {}\r", path.display()));
    let what = format!("uploading {}", path.display());

    tty.type_text("/quit\r");
    tty.wait_for_text(&format!(
        "! still {what}; quit again to leave anyway (an upload starts over), or /cancel to stop it and stay"
    ));
    tty.type_text("/cancel other.bin\r");
    tty.wait_for_text(&format!(
        "! no transfer of other.bin is running (now: {what}); /cancel alone stops them all"
    ));
    tty.type_text("\x03");
    tty.wait_for_text(&format!(
        "! Ctrl-C again to cancel {what} (the server keeps nothing of an upload); anything else keeps it going"
    ));
    tty.type_text("\x03");
    tty.wait_for_text(&format!(
        "* cancelled the upload of {}; nothing of it was sent",
        path.display()
    ));
    // No PUT ever goes: the next thing on the wire is what is typed next.
    tty.type_text("after\r");
    p.expect("SAY after");
    p.send("OK SAY 0\n");
    tty.type_text("/cancel\r");
    tty.wait_for_text("! no transfer is running");
    tty.type_text("/quit\r");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn an_upload_cancelled_before_its_put_is_accepted_is_aborted_then() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("small.bin");
    std::fs::write(&path, b"twelve bytes").unwrap();
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    tty.wait_for_prompt("alice>");
    tty.type_text(&format!("/put {}\r", path.display()));
    p.expect_prefix("PUT small.bin 12 ");
    // Lines are taken in order: once the SAY is here, the /cancel was done.
    tty.type_text("/cancel small.bin\rhello\r");
    p.expect("SAY hello");
    p.send("OK PUT 3 small.bin\nOK SAY 0\n");
    p.expect("ABORT 3");
    p.send("OK ABORT 3\n");
    tty.wait_for_text(&format!(
        "* cancelled the upload of {}; nothing of it was sent",
        path.display()
    ));
    tty.type_text("/quit\r");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

/// Sends `bytes` of transfer 7 in frames of at most 64 KiB.
fn send_data(p: &mut Peer, bytes: &[u8]) {
    for chunk in bytes.chunks(65536) {
        p.send(&format!("DATA 7 {}\n", chunk.len()));
        p.send_bytes(chunk);
    }
}

/// The rows that are progress bars of big.bin, scrollback included.
fn bar_rows(tty: &mut Tty) -> Vec<String> {
    tty.all_rows()
        .into_iter()
        .filter(|r| r.starts_with("* downloading big.bin: "))
        .collect()
}

#[test]
fn progress_is_one_bar_redrawn_in_place_above_the_half_typed_line() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    // Wide enough for the bar itself, not only its figures.
    tty.resize(120, 24);
    tty.wait_for_prompt("alice>");
    // A screen full of chat first, so everything after it scrolls.
    for i in 0..30 {
        p.send(&format!("FROM bob line {i}\n"));
    }
    tty.wait_for_text("<bob> line 29");
    tty.type_text("/get big.bin\r");
    p.expect("FILES");
    p.send(&format!("FILE big.bin 1000000 {MTIME}\nOK FILES 1\n"));
    p.expect("GET big.bin");
    p.send("OK GET 7 big.bin 1000000\n");
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    send_data(&mut p, &data[..100_000]);
    let above_prompt = |t: &Tty, bar: &str, prompt: &str| {
        let rows = t.rows();
        let n = rows.len();
        n >= 2 && rows[n - 2].starts_with(bar) && rows[n - 1] == prompt && t.cursor_row() == prompt
    };
    tty.wait("the bar at 10% right above the prompt", |t| {
        above_prompt(
            t,
            "* downloading big.bin: 10% [==>                 ] 97.7 KiB of 976.6 KiB, ",
            "alice>",
        )
    });
    tty.type_text("half a thought");
    tty.wait_for_prompt("alice> half a thought");
    send_data(&mut p, &data[100_000..300_000]);
    tty.wait("the bar at 30% above the half-typed line", |t| {
        above_prompt(
            t,
            "* downloading big.bin: 30% [======>             ] 293.0 KiB of 976.6 KiB, ",
            "alice> half a thought",
        )
    });
    // A message goes above the bar; the bar stays right above the prompt.
    p.send("FROM bob hi there\n");
    tty.wait("the message above the bar", |t| {
        let rows = t.rows();
        let n = rows.len();
        n >= 3
            && rows[n - 3].ends_with("] <bob> hi there")
            && above_prompt(t, "* downloading big.bin: 30% ", "alice> half a thought")
    });
    // So does what natter prints itself, between two lines typed.
    tty.type_text("\x15/cancel nothing.txt\r");
    tty.wait("natter's own line above the bar", |t| {
        let rows = t.rows();
        let n = rows.len();
        n >= 3
            && rows[n - 3].starts_with("! no transfer of nothing.txt is running")
            && above_prompt(t, "* downloading big.bin: 30% ", "alice>")
    });
    tty.type_text("half a thought");
    tty.wait_for_prompt("alice> half a thought");
    send_data(&mut p, &data[300_000..600_000]);
    tty.wait("the bar at 60%", |t| {
        above_prompt(t, "* downloading big.bin: 60% ", "alice> half a thought")
    });
    // Three updates later, the whole terminal, scrollback included, holds one bar.
    let bars = bar_rows(&mut tty);
    assert_eq!(bars.len(), 1, "{bars:#?}");
    let all = tty.all_rows();
    assert_eq!(
        all.iter()
            .filter(|r| r.ends_with("] <bob> hi there"))
            .count(),
        1
    );
    assert_eq!(
        all.iter().filter(|r| r.ends_with("] <bob> line 0")).count(),
        1
    );

    // The line that says how it ended replaces the bar.
    send_data(&mut p, &data[600_000..]);
    p.send("DONE 7\n");
    p.expect("FILES");
    p.send(&format!("FILE big.bin 1000000 {MTIME}\nOK FILES 1\n"));
    let saved = format!("* Saved {}/big.bin (1,000,000 bytes)", dl.0.display());
    tty.wait("the saved line above the half-typed line", |t| {
        let rows = t.rows();
        let n = rows.len();
        // Its end (not verified: this server sends no SHA-256) may wrap to a row more.
        n >= 2
            && rows[..n - 1]
                .iter()
                .rev()
                .take(2)
                .any(|r| r.starts_with(&saved))
            && t.cursor_row() == "alice> half a thought"
    });
    assert_eq!(bar_rows(&mut tty), Vec::<String>::new());
    assert!(std::fs::read(dl.0.join("big.bin")).unwrap() == data);
    tty.type_text("\x15\x04");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}

/// The TCP socket from `local` to `remote` as the kernel shows it in
/// `/proc/net/tcp`: its send queue (bytes written and not yet acknowledged), its
/// receive queue (bytes arrived and not yet read), and whether a retransmission timer
/// runs (bytes sent and not yet acknowledged, which the other side may already hold).
fn queues(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> (u64, u64, bool) {
    let hex = |a: std::net::SocketAddr| {
        let std::net::IpAddr::V4(ip) = a.ip() else {
            panic!("IPv4 loopback expected")
        };
        format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), a.port())
    };
    let (l, r) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    for row in table.lines().skip(1) {
        let f: Vec<&str> = row.split_whitespace().collect();
        if f.len() > 5 && f[1] == l && f[2] == r {
            let (tx, rx) = f[4].split_once(':').unwrap();
            let timer = f[5].split_once(':').map_or("00", |(t, _)| t);
            return (
                u64::from_str_radix(tx, 16).unwrap(),
                u64::from_str_radix(rx, 16).unwrap(),
                timer == "01",
            );
        }
    }
    panic!("no socket {l} -> {r} in /proc/net/tcp");
}

/// Whether natter's writer thread is asleep in a write to its socket, which is
/// full: from `/proc`, the thread's state and the system call it is in.
fn writer_blocked(pid: u32) -> bool {
    // The numbers of write, writev and sendto; elsewhere, asleep is taken as enough.
    #[cfg(target_arch = "x86_64")]
    const WRITES: Option<&[&str]> = Some(&["1", "20", "44"]);
    #[cfg(target_arch = "aarch64")]
    const WRITES: Option<&[&str]> = Some(&["64", "66", "206"]);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const WRITES: Option<&[&str]> = None;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "natter-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        let syscall = std::fs::read_to_string(dir.join("syscall")).unwrap_or_default();
        let call = syscall.split_whitespace().next().unwrap_or("");
        let writing = match WRITES {
            Some(calls) => calls.contains(&call),
            None => true,
        };
        return state == Some('S') && writing;
    }
    false
}

#[test]
fn a_chat_line_goes_out_before_the_upload_s_next_chunk() {
    let fake = FakeServer::bind();
    let dl = TempPath::new("dl");
    let history = TempPath::new("history");
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("up.bin");
    let size: u64 = 256 << 20;
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let (mut tty, mut p) = join(&fake, &dl.0, &history.0);
    let natter_end = p.stream.peer_addr().unwrap();
    tty.wait_for_prompt("alice>");
    tty.type_text(&format!("/put {}\r", path.display()));
    // With the file's SHA-256, read before a byte is sent.
    p.expect_prefix(&format!("PUT up.bin {size} "));
    p.send("OK PUT 3 up.bin\n");
    // The server reads nothing; natter streams until the sockets are full and its
    // writer waits in the middle of a chunk.
    let pid = tty.session.get_process().pid().as_raw() as u32;
    // And every byte sent is acknowledged (no retransmission timer), so natter's
    // send queue holds only bytes the server's side does not, and the two queues
    // together count each byte in flight once.
    let end = std::time::Instant::now() + WAIT;
    while !writer_blocked(pid) || queues(natter_end, fake.addr).2 {
        assert!(
            std::time::Instant::now() < end,
            "the writer never filled the socket"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    tty.type_text("hello there");
    tty.wait_for_prompt("alice> hello there");
    tty.type_text("\r");
    // The prompt is back: the line has been handed to natter's writer.
    tty.wait_for_prompt("alice>");
    // Everything natter has written and the server not read is in these queues, and
    // stays there while the server reads nothing; the writer can add at most the rest
    // of the chunk it is blocked in before the line.
    let (unsent, _, _) = queues(natter_end, fake.addr);
    let (_, unread, _) = queues(fake.addr, natter_end);
    let in_flight = p.buffered() as u64 + unsent + unread;
    let chunk = 65536 + "DATA 3 65536\n".len() as u64;
    let mut before = 0u64;
    loop {
        let line = p.line().expect("natter stays connected");
        if line == "SAY hello there" {
            break;
        }
        let n: usize = line
            .strip_prefix("DATA 3 ")
            .unwrap_or_else(|| panic!("wanted DATA or the SAY, got {line:?}"))
            .parse()
            .unwrap();
        p.bytes(n);
        before += line.len() as u64 + 1 + n as u64;
    }
    assert!(
        before <= in_flight + chunk,
        "{before} bytes of the upload went before the line, more than the {in_flight} in flight and one chunk"
    );
    p.send("OK SAY 0\n");
    tty.wait_for_text("<you> hello there");
    tty.type_text("/cancel\r");
    loop {
        let line = p.line().expect("natter stays connected");
        if line == "ABORT 3" {
            break;
        }
        let n: usize = line.strip_prefix("DATA 3 ").unwrap().parse().unwrap();
        p.bytes(n);
    }
    p.send("OK ABORT 3\n");
    tty.wait_for_text("* cancelled the upload of up.bin");
    tty.type_text("/quit\r");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    assert_eq!(tty.wait_exit(), 0);
}
