//! natterd's chat core over real sockets: registration, broadcast, unicast, framing
//! under partial and pipelined I/O, drops, slow readers, limits and shutdown.

use natter_testkit::{Natterd, Peer};
use std::io::Write;
use std::time::Duration;

#[test]
fn three_clients_see_each_others_joins() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    let mut c = srv.join("carol");
    a.expect("JOIN carol");
    b.expect("JOIN carol");
    c.send("WHO\n");
    let mut names = Vec::new();
    for _ in 0..3 {
        let l = c.expect_prefix("USER ");
        let fields: Vec<&str> = l.split(' ').collect();
        assert_eq!(fields.len(), 4, "{l}");
        assert!(fields[2].starts_with("127.0.0.1:"), "{l}");
        assert!(fields[3].ends_with('Z'), "{l}");
        names.push(fields[1].to_string());
    }
    assert_eq!(names, ["alice", "bob", "carol"]);
    c.expect("OK WHO 3");
    let log = srv.wait_log("client 3 is now carol");
    assert!(log.contains("client 1 connected from 127.0.0.1:"), "{log}");
}

#[test]
fn welcome_counts_users_and_carries_the_motd() {
    let srv = Natterd::start(&["--motd", "Hello from the lab"]);
    let mut a = srv.connect();
    a.expect("WELCOME natter/1 1 Hello from the lab - 0 users online");
    let _b = srv.join("bob");
    let mut c = srv.connect();
    c.expect("WELCOME natter/1 3 Hello from the lab - 1 user online");
}

#[test]
fn broadcast_reaches_everyone_but_the_sender_with_the_count() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    let mut c = srv.join("carol");
    a.expect("JOIN carol");
    b.expect("JOIN carol");
    // An unnamed connection is not in the room.
    let mut lurker = srv.connect();
    lurker.expect_prefix("WELCOME ");
    a.send("SAY hi all  (two spaces kept)\n");
    a.expect("OK SAY 2");
    b.expect("FROM alice hi all  (two spaces kept)");
    c.expect("FROM alice hi all  (two spaces kept)");
    // Nothing reached the sender or the lurker: the next thing each sees is its own reply.
    a.send("PING a\n");
    a.expect("OK PING a");
    lurker.send("PING l\n");
    lurker.expect("OK PING l");
}

#[test]
fn unicast_reaches_one_client_only() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("Bob");
    a.expect("JOIN Bob");
    let mut c = srv.join("carol");
    a.expect("JOIN carol");
    b.expect("JOIN carol");
    a.send("TELL bob psst\n");
    a.expect("OK TELL Bob");
    b.expect("PRIVATE alice psst");
    c.send("PING\n");
    c.expect("OK PING");
    a.send("TELL dave hello?\n");
    a.expect("ERR no-such-user no user named dave is connected");
}

#[test]
fn registration_rules() {
    let srv = Natterd::start(&[]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    a.send("SAY too early\nWHO\n");
    a.expect("ERR no-name Choose a user name first: HELLO <name>");
    a.expect("ERR no-name Choose a user name first: HELLO <name>");
    a.send("HELLO -dash\nHELLO a234567890123456789012345678901234\nHELLO\n");
    a.expect_prefix("ERR bad-name ");
    a.expect_prefix("ERR bad-name ");
    a.expect("ERR bad-request usage: HELLO <name> [history=<n>] [stamps] [data=<N>]");
    a.send("hello Alice\n");
    a.expect("OK HELLO Alice");
    a.expect("JOIN Alice");
    a.send("HELLO other\n");
    a.expect_prefix("ERR already-named ");
    let mut b = srv.connect();
    b.expect_prefix("WELCOME ");
    b.send("HELLO aLiCe\n");
    b.expect("ERR name-taken Alice is taken; choose another name");
    // After Alice leaves, the name is free again.
    a.send("QUIT\n");
    a.expect("OK QUIT");
    assert!(a.expect_closed().is_empty());
    b.send("HELLO alice\n");
    b.expect("OK HELLO alice");
}

#[test]
fn bad_input_gets_err_and_the_connection_lives() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send("FROBNICATE now\n");
    a.expect("ERR unknown-command unknown command \"FROBNICATE\"");
    a.send_bytes(b"SAY \xff\xfe broken\n");
    a.expect("ERR bad-request a line must be valid UTF-8");
    a.send("\r\n\nPING still here\r\n");
    a.expect("OK PING still here");
}

#[test]
fn an_over_long_line_is_refused_and_closes() {
    let srv = Natterd::start(&[]);
    let mut watcher = srv.join("watcher");
    let mut a = srv.join("alice");
    watcher.expect("JOIN alice");
    a.send_bytes(&vec![b'x'; 4096]);
    let rest = a.expect_closed();
    assert_eq!(rest, ["ERR line-too-long a line is at most 4096 bytes"]);
    watcher.expect("LEAVE alice error a line is at most 4096 bytes");
}

#[test]
fn a_client_sending_one_byte_at_a_time_is_served() {
    let srv = Natterd::start(&[]);
    let mut b = srv.join("bob");
    let mut slow = srv.connect();
    slow.expect_prefix("WELCOME ");
    for byte in b"HELLO dribble\r\nSAY one byte at a time\nPING\n" {
        slow.stream.write_all(&[*byte]).unwrap();
        slow.stream.flush().unwrap();
    }
    slow.expect("OK HELLO dribble");
    slow.expect("JOIN dribble");
    slow.expect("OK SAY 1");
    slow.expect("OK PING");
    b.expect("JOIN dribble");
    b.expect("FROM dribble one byte at a time");
}

#[test]
fn many_pipelined_frames_in_one_write_are_all_answered_in_order() {
    // Flood control off: this is about framing, not pacing.
    let srv = Natterd::start(&["--max-rate", "0"]);
    let mut b = srv.join("bob");
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    let mut batch = String::from("HELLO piper\n");
    for i in 0..500 {
        batch.push_str(&format!("SAY message {i}\n"));
    }
    batch.push_str("WHO\nPING done\n");
    a.send(&batch);
    a.expect("OK HELLO piper");
    a.expect("JOIN piper");
    for _ in 0..500 {
        a.expect("OK SAY 1");
    }
    a.expect_prefix("USER bob ");
    a.expect_prefix("USER piper ");
    a.expect("OK WHO 2");
    a.expect("OK PING done");
    b.expect("JOIN piper");
    for i in 0..500 {
        b.expect(&format!("FROM piper message {i}"));
    }
}

#[test]
fn an_abruptly_dropped_client_leaves_as_lost_and_the_server_serves_on() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut b = Peer::from_stream(sock.try_clone().unwrap().into());
    b.expect_prefix("WELCOME ");
    b.send("HELLO bob\n");
    b.expect("OK HELLO bob");
    a.expect("JOIN bob");
    // Linger 0 makes close send an RST instead of a FIN.
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(b);
    drop(sock);
    a.expect("LEAVE bob lost");
    let mut c = srv.join("carol");
    a.expect("JOIN carol");
    c.send("SAY still up\n");
    c.expect("OK SAY 1");
    a.expect("FROM carol still up");
}

#[test]
fn quit_flushes_ok_and_others_see_leave_quit() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    b.send("QUIT off to lunch\nSAY never handled\n");
    b.expect("OK QUIT");
    assert!(b.expect_closed().is_empty());
    a.expect("LEAVE bob quit off to lunch");
    srv.wait_log("bob (client 2) left: quit (\"off to lunch\")");
}

#[test]
fn a_client_that_never_reads_is_dropped_as_too_slow_while_readers_get_everything() {
    let srv = Natterd::start(&["--max-queue", "64K", "--max-rate", "0"]);
    let mut sender = srv.join("sender");
    let mut reader = srv.join("reader");
    sender.expect("JOIN reader");
    // A small receive window so the kernel holds little for the client that never reads.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut stuck = Peer::from_stream(sock.into());
    stuck.expect_prefix("WELCOME ");
    stuck.send("HELLO stuck\n");
    stuck.expect("OK HELLO stuck");
    sender.expect("JOIN stuck");
    reader.expect("JOIN stuck");

    srv.reset_peak_rss();
    let rss_before = srv.rss_kib();
    let payload = "x".repeat(1000);
    let mut next = 0u32;
    let mut left = false;
    let mut sender_saw_leave = false;
    // Bounded: 20,000 messages of 1 KB is far more than any socket buffers hold.
    while !left && next < 20_000 {
        let mut batch = String::new();
        for i in next..next + 100 {
            batch.push_str(&format!("SAY {i} {payload}\n"));
        }
        sender.send(&batch);
        for i in next..next + 100 {
            let line = reader.line().expect("reader connection open");
            if line == "LEAVE stuck too-slow output queue passed 65536 bytes" {
                left = true;
                let again = reader.line().expect("reader connection open");
                assert_eq!(again, format!("FROM sender {i} {payload}"));
                continue;
            }
            assert_eq!(
                line,
                format!("FROM sender {i} {payload}"),
                "reader missed or reordered a message"
            );
        }
        let mut acks = 0;
        while acks < 100 {
            let line = sender.line().expect("sender connection open");
            if line == "LEAVE stuck too-slow output queue passed 65536 bytes" {
                sender_saw_leave = true;
                continue;
            }
            assert!(line == "OK SAY 2" || line == "OK SAY 1", "{line}");
            acks += 1;
        }
        next += 100;
    }
    assert!(left, "the stuck client was never dropped");
    if !sender_saw_leave {
        // Departures go out at the end of the server's turn, after that turn's replies.
        sender.expect("LEAVE stuck too-slow output queue passed 65536 bytes");
    }
    srv.wait_log("stuck (client 3) left: too slow to keep up");
    // The design's promise: no queue holds more than its cap (64 KiB here) plus the
    // frame that took it over, whatever the stuck client does. Three named
    // connections, and a stated slack for the allocator and the read buffers.
    let peak = srv.peak_rss_kib();
    let promised = 3 * 64 + 512;
    assert!(
        peak <= rss_before + promised,
        "server RSS peaked at {peak} KiB from {rss_before} KiB; the caps promise at most +{promised} KiB"
    );
}

#[test]
fn the_client_limit_rejects_the_next_connection() {
    let srv = Natterd::start(&["--max-clients", "2"]);
    let _a = srv.join("alice");
    let mut b = srv.connect();
    b.expect_prefix("WELCOME ");
    let mut c = srv.connect();
    let lines = c.expect_closed();
    assert_eq!(
        lines,
        ["ERR server-full natterd is full (2/2 clients); try again later"]
    );
    srv.wait_log("rejected 127.0.0.1:");
    srv.wait_log("server is full (2/2)");
    // A slot frees when someone leaves.
    b.send("QUIT\n");
    b.expect("OK QUIT");
    b.expect_closed();
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    loop {
        let mut d = srv.connect();
        let first = d.line().unwrap_or_default();
        if first.starts_with("WELCOME ") {
            break;
        }
        // The closing connection may still hold its slot for a moment.
        assert!(std::time::Instant::now() < end, "slot never freed: {first}");
    }
}

#[test]
fn sigterm_tells_every_client_and_exits_zero() {
    let mut srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    let mut c = srv.connect();
    c.expect_prefix("WELCOME ");
    a.expect("JOIN bob");
    assert_eq!(srv.signal_and_wait(libc::SIGTERM), Some(0));
    for p in [&mut a, &mut b, &mut c] {
        assert_eq!(p.expect_closed(), ["SHUTDOWN natterd is shutting down"]);
    }
}

#[test]
fn sigint_also_shuts_down_cleanly() {
    let mut srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    assert_eq!(srv.signal_and_wait(libc::SIGINT), Some(0));
    assert_eq!(a.expect_closed(), ["SHUTDOWN natterd is shutting down"]);
    assert!(!srv.is_running());
}

#[test]
fn data_for_an_unknown_transfer_fails_and_the_stream_stays_in_step() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send_bytes(b"DATA 9 5\nPING\nPING after\n");
    a.expect("FAILED 9 no-such-transfer no upload 9 is in progress on this connection");
    a.expect("OK PING after");
    a.send("DATA 1 999999\n");
    assert_eq!(
        a.expect_closed(),
        ["ERR bad-request a DATA header is `DATA <xfer> <bytes>` with at most 65536 bytes"]
    );
}

#[test]
fn broadcasts_and_who_stay_exact_as_members_leave_from_the_middle() {
    let srv = Natterd::start(&[]);
    let mut peers: Vec<Peer> = Vec::new();
    for name in ["m0", "m1", "m2", "m3", "m4"] {
        let p = srv.join(name);
        for q in peers.iter_mut() {
            q.expect(&format!("JOIN {name}"));
        }
        peers.push(p);
    }
    // m1 quits, m3 drops: the list is reordered underneath the rest.
    peers[1].send("QUIT\n");
    peers[1].expect("OK QUIT");
    for i in [0, 2, 3, 4] {
        peers[i].expect("LEAVE m1 quit");
    }
    let gone = peers.remove(3);
    drop(gone);
    for i in [0, 2, 3] {
        peers[i].expect("LEAVE m3 lost");
    }
    let mut late = srv.join("m5");
    for i in [0, 2, 3] {
        peers[i].expect("JOIN m5");
    }
    late.send("SAY who hears this?\nWHO\n");
    late.expect("OK SAY 3");
    for name in ["m0", "m2", "m4", "m5"] {
        late.expect_prefix(&format!("USER {name} "));
    }
    late.expect("OK WHO 4");
    for i in [0, 2, 3] {
        peers[i].expect("FROM m5 who hears this?");
    }
}

/// A message to more members than the loop writes in one turn reaches the last of
/// them at once, not on the loop's next timer: the rest of a flush goes out on the
/// turns right after the first slice. (Held back, the rest would wait for the next
/// sweep, up to a second; five messages in a row make that a near-certain failure.)
#[test]
fn a_message_to_more_members_than_one_turn_writes_reaches_the_last_at_once() {
    let srv = Natterd::start(&[]);
    let mut members: Vec<Peer> = (0..200).map(|i| srv.join(&format!("m{i}"))).collect();
    let last = members.len() - 1;
    for i in 0..5 {
        members[0].send(&format!("SAY number {i}\n"));
        // JOINs of those after it come first, the first time.
        members[last]
            .expect_eventually_within(&format!("FROM m0 number {i}"), Duration::from_millis(300));
    }
    for m in &mut members[1..last] {
        for i in 0..5 {
            m.expect_eventually(&format!("FROM m0 number {i}"));
        }
    }
}
