//! The short form of scripts/abuse.sh: while two well-behaved clients chat, many
//! others misbehave at once. Afterwards the good client has missed nothing, PING
//! still answers, the folder holds no temporary file, and memory never went past
//! what the queue caps and the download pump promise.

use natter_testkit::{temp_dir, Natterd, Peer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

/// A small deterministic generator, so a failing run can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn connect(srv: &Natterd) -> TcpStream {
    TcpStream::connect(srv.addr).expect("connect")
}

fn abusers(srv: &Natterd) -> Vec<thread::JoinHandle<()>> {
    let addr = srv.addr;
    let mut handles = Vec::new();
    // Random bytes, some with newlines, some without (line-too-long).
    handles.push(thread::spawn(move || {
        let mut rng = XorShift(0x9e3779b97f4a7c15);
        for i in 0..40 {
            let mut s = TcpStream::connect(addr).unwrap();
            let junk = rng.bytes(if i % 2 == 0 { 3000 } else { 9000 });
            let _ = s.write_all(&junk);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }));
    // Churn: connect, name, leave, many times; half of them just vanish.
    handles.push(thread::spawn(move || {
        for i in 0..300 {
            let mut p = Peer::connect(addr);
            p.expect_prefix("WELCOME ");
            p.send(&format!("HELLO churn{i}\n"));
            p.expect_reply_prefix(&format!("OK HELLO churn{i}"));
            if i % 2 == 0 {
                p.send("QUIT\n");
            }
        }
    }));
    // Hostile names and oversize declarations, on named connections.
    handles.push(thread::spawn(move || {
        for i in 0..10 {
            let mut p = Peer::connect(addr);
            p.expect_prefix("WELCOME ");
            p.send(&format!("HELLO hostile{i}\n"));
            p.expect_reply_prefix(&format!("OK HELLO hostile{i}"));
            p.send("GET ../../etc/passwd\nPUT %2e%2e%2fx 10\nPUT .hidden 1\nDELETE /etc/passwd\n");
            for _ in 0..4 {
                p.expect_reply_prefix("ERR bad-name ");
            }
            p.send("PUT huge.bin 99999999999999\n");
            p.expect_reply_prefix("ERR too-large ");
            p.send("DATA 1 99999999\n");
            p.expect_reply_prefix("ERR bad-request ");
        }
    }));
    // Uploads and downloads cut off in the middle.
    handles.push(thread::spawn(move || {
        for i in 0..10 {
            let mut p = Peer::connect(addr);
            p.expect_prefix("WELCOME ");
            p.send(&format!("HELLO cutter{i}\nPUT part{i}.bin 1000000\n"));
            p.expect_reply_prefix(&format!("OK HELLO cutter{i}"));
            let l = p.expect_reply_prefix("OK PUT ");
            let xfer: u64 = l.split(' ').nth(2).unwrap().parse().unwrap();
            p.send(&format!("DATA {xfer} 50000\n"));
            p.send_bytes(&[0u8; 50000]);
            p.send("GET big.bin\n");
            p.expect_reply_prefix("OK GET ");
            p.expect_reply_prefix("DATA ");
            // Gone mid-upload and mid-download.
        }
    }));
    handles
}

#[test]
fn the_server_shrugs_off_abuse_while_good_clients_chat() {
    let dir = temp_dir("abuse");
    std::fs::write(dir.join("big.bin"), vec![7u8; 8 << 20]).unwrap();
    let srv = Natterd::start_in(&dir, &["--max-queue", "256K"], &[]);
    let mut ears = srv.join("ears");
    let mut mouth = srv.join("mouth");
    ears.expect("JOIN mouth");
    srv.reset_peak_rss();
    let rss_start = srv.rss_kib();

    // Connections that never send anything, and named ones that never read.
    let silent: Vec<TcpStream> = (0..50).map(|_| connect(&srv)).collect();
    let deaf: Vec<Peer> = (0..5)
        .map(|i| {
            let mut p = srv.connect();
            p.expect_prefix("WELCOME ");
            p.send(&format!("HELLO deaf{i}\nGET big.bin\n"));
            p
        })
        .collect();
    let handles = abusers(&srv);

    // The good conversation, in order, while all that goes on.
    let mut heard = 0;
    for i in 0..100 {
        mouth.send(&format!("SAY message {i}\n"));
        loop {
            let l = mouth.line().expect("mouth connected");
            if l.starts_with("OK SAY ") {
                break;
            }
            assert!(l.starts_with("JOIN ") || l.starts_with("LEAVE "), "{l}");
        }
        while heard <= i {
            let l = ears.line().expect("ears connected");
            if l.starts_with("JOIN ") || l.starts_with("LEAVE ") {
                continue;
            }
            assert_eq!(
                l,
                format!("FROM mouth message {heard}"),
                "ears missed a message"
            );
            heard += 1;
        }
    }
    for h in handles {
        h.join().expect("an abuser thread failed");
    }
    drop(silent);
    drop(deaf);

    ears.send("PING still there\n");
    loop {
        let l = ears.line().expect("ears connected");
        if l == "OK PING still there" {
            break;
        }
        assert!(l.starts_with("JOIN ") || l.starts_with("LEAVE "), "{l}");
    }
    // Every abuser is gone: only the good pair is left, and no temporary remains.
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    loop {
        mouth.send("STATUS\n");
        let mut active = None;
        while active.is_none() {
            let l = mouth.line().expect("mouth connected");
            if let Some(rest) = l.strip_prefix("OK STATUS ") {
                active = rest.split(' ').next().map(|n| n.parse::<u64>().unwrap());
            }
        }
        if active == Some(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "abusers still connected: {active:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["big.bin"], "partial or temporary files left");
    // The design's promise, in KiB: a download holds at most the pump's low-water
    // mark (64) plus one chunk (64) queued, whether or not its client reads (5 deaf
    // clients and 1 cutter at a time); the good pair's queues stay under their cap
    // (256); everyone else holds a partial line at most. Slack: 1 MiB for the
    // allocator, the abusers' read buffers and the tables.
    let peak = srv.peak_rss_kib();
    let promised = 6 * (64 + 64) + 2 * 256 + 1024;
    eprintln!("natterd RSS: {rss_start} KiB before, peak {peak} KiB, promised +{promised} KiB");
    assert!(
        peak <= rss_start + promised,
        "RSS peaked at {peak} KiB from {rss_start} KiB; the design promises at most +{promised} KiB"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
