//! natterd's life as its operator sees it: what it says when it starts, the statuses it
//! exits with, and how it stops (on a signal, and when its loop fails).

use natter_testkit::{natterd_bin, temp_dir, Natterd, Peer, WAIT};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs natterd to its end with `args`, its shared folder in a fresh temporary one.
fn natterd_exit(args: &[&str]) -> Output {
    let dir = temp_dir("exit");
    let mut child = Command::new(natterd_bin())
        .args(args)
        .arg("--shared-dir")
        .arg(&dir)
        .env_remove("NATTER_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natterd");
    let end = Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("natterd {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("natterd's output");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_port_that_is_taken_is_status_1_and_says_why() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = natterd_exit(&[&port]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port}: address already in use (is another natterd running?"
        )),
        "{err}"
    );
}

#[test]
fn bad_options_an_unreadable_secret_and_a_bad_certificate_are_status_2() {
    let dir = temp_dir("status2");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["0", "--max-queue", "0"], "must be more than 0"),
        (&["0", "--no-such-flag"], "--no-such-flag"),
        (
            &["0", "--secret-file", missing],
            "cannot read the secret file",
        ),
        (
            &["0", "--tls-cert", missing, "--tls-key", missing],
            "cannot read certificate",
        ),
    ];
    for (args, says) in cases {
        let out = natterd_exit(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} must not claim to listen");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn listening_beyond_loopback_says_plainly_what_is_exposed() {
    let dir = temp_dir("exposed");
    let secret = dir.join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let secret = secret.to_str().unwrap();
    let loopback = Natterd::start(&[]);
    loopback.wait_log("only this machine can connect; start with --bind 0.0.0.0");
    let open = Natterd::start(&["--bind", "0.0.0.0"]);
    open.wait_log("*** listening on 0.0.0.0 with no secret and no TLS: anyone who can reach this port can chat and use the shared folder, and everything travels in the clear");
    let clear = Natterd::start(&["--bind", "0.0.0.0", "--secret-file", secret]);
    clear.wait_log(
        "*** listening on 0.0.0.0 without TLS: the secret and all chat travel in the clear",
    );
    for srv in [&open, &clear] {
        assert!(!srv.log().contains("only this machine can connect"));
    }
    assert!(!loopback.log().contains("***"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_sigterm_queued_output_still_goes_out_before_shutdown() {
    let mut srv = Natterd::start(&["--max-rate", "0"]);
    let mut talker = srv.join("talker");
    // A reader with a tiny receive window, so what it is sent waits in natterd's queue.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut reader = Peer::from_stream(sock.into());
    reader.expect_prefix("WELCOME ");
    reader.send("HELLO reader\n");
    reader.expect("OK HELLO reader");
    reader.expect("JOIN reader");
    talker.expect("JOIN reader");
    let line = "y".repeat(1000);
    for i in 0..300 {
        talker.send(&format!("SAY {i} {line}\n"));
    }
    for _ in 0..300 {
        talker.expect("OK SAY 1");
    }
    srv.signal(libc::SIGTERM);
    // The reader reads only now, and still gets everything, then SHUTDOWN, then EOF.
    for i in 0..300 {
        reader.expect(&format!("FROM talker {i} {line}"));
    }
    assert_eq!(
        reader.expect_closed(),
        ["SHUTDOWN natterd is shutting down"]
    );
    assert_eq!(srv.signal_and_wait(libc::SIGTERM), Some(0));
}

#[test]
fn a_client_that_never_reads_holds_shutdown_back_two_seconds_at_most() {
    let dir = temp_dir("drain");
    std::fs::write(dir.join("big.bin"), vec![3u8; 32 << 20]).unwrap();
    let mut srv = Natterd::start_in(&dir, &[], &[]);
    let mut deaf = srv.join("deaf");
    deaf.send("GET big.bin\n");
    deaf.expect_prefix("OK GET ");
    let mut ok = srv.join("ok");
    let start = Instant::now();
    let status = srv.signal_and_wait(libc::SIGTERM);
    let took = start.elapsed();
    assert_eq!(status, Some(0));
    // It waited for the deaf client's queue, up to the drain deadline, and no longer.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "natterd exited after {took:?}"
    );
    assert_eq!(ok.expect_closed(), ["SHUTDOWN natterd is shutting down"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn when_the_loop_fails_every_client_still_hears_shutdown() {
    let dir = temp_dir("panic");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = natter_server::Config {
        shared_dir: dir.clone(),
        ..natter_server::Config::default()
    };
    let mut server = natter_server::Server::new(listener, config).unwrap();
    let mut a = Peer::connect(addr);
    let mut b = Peer::connect(addr);
    let result = natter_server::serve(&mut server, |s| {
        // Serve until both are welcomed (the kernel holds the WELCOMEs for them),
        // then fail the way a bug would.
        let end = Instant::now() + WAIT;
        while s.clients() < 2 {
            s.turn()?;
            assert!(Instant::now() < end, "the clients were never accepted");
        }
        s.turn()?;
        panic!("an injected fault");
    });
    let err = result.expect_err("a failed loop is an error");
    assert!(err.to_string().contains("an injected fault"), "{err}");
    for p in [&mut a, &mut b] {
        p.expect_prefix("WELCOME natter/1 ");
        assert_eq!(
            p.expect_closed(),
            ["SHUTDOWN natterd stopped: internal error"]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_and_sigusr_are_ignored_and_sigquit_stops_cleanly() {
    let mut srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    for sig in [libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2] {
        srv.signal(sig);
    }
    srv.wait_log("SIGUSR2 received and ignored: natterd keeps running");
    let log = srv.wait_log("SIGHUP received and ignored");
    assert!(log.contains("SIGUSR1 received and ignored"), "{log}");
    a.send("PING still here\n");
    a.expect("OK PING still here");
    assert!(srv.is_running());
    assert_eq!(srv.signal_and_wait(libc::SIGQUIT), Some(0));
    assert_eq!(a.expect_closed(), ["SHUTDOWN natterd is shutting down"]);
}

#[test]
fn the_history_file_survives_a_kill_and_a_torn_last_line() {
    let dir = temp_dir("history-file");
    let file = dir.join("history");
    let f = file.display().to_string();
    let mut first = Natterd::start(&["--history-file", &f]);
    let mut alice = first.join("alice");
    let _bob = first.join("bob");
    for i in 1..=3 {
        alice.send(&format!("SAY before the crash {i}\n"));
        alice.expect_reply_prefix("OK SAY");
    }
    // Written by the end of each turn: the file has all three before the kill.
    let end = Instant::now() + WAIT;
    while std::fs::read_to_string(&file).map_or(0, |s| s.lines().count()) < 3 {
        assert!(Instant::now() < end, "the history file never got its lines");
        std::thread::sleep(Duration::from_millis(10));
    }
    first.signal_and_wait(libc::SIGKILL);
    // What a crash in the middle of a write leaves: half a line.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"1234abcd 4 1700000000 alice the crash came in the mid");
    std::fs::write(&file, bytes).unwrap();

    let second = Natterd::start(&["--history-file", &f]);
    second.wait_log("1 line dropped: damaged, cut short");
    let mut carol = second.connect();
    carol.expect_prefix("WELCOME ");
    carol.send("HELLO carol history=10\n");
    let mut got = Vec::new();
    loop {
        let l = carol.line().expect("open");
        if l.starts_with("OK HELLO") {
            break;
        }
        got.push(l.splitn(5, ' ').nth(4).unwrap_or("").to_string());
    }
    assert_eq!(
        got,
        [
            "before the crash 1",
            "before the crash 2",
            "before the crash 3"
        ]
    );
    // Numbering goes on from the file: the next message is the fourth.
    carol.expect("JOIN carol");
    carol.send("SAY after\nHISTORY 1\n");
    carol.expect("OK SAY 0");
    let last = carol.line().unwrap();
    assert!(
        last.starts_with("HISTORY 4 ") && last.ends_with(" carol after"),
        "{last}"
    );
}
