//! Authentication, timeouts, flood control and the per-address limit, over real sockets.

use natter_testkit::{temp_dir, Natterd};
use std::time::{Duration, Instant};

const SECRET: &str = "correct horse battery staple";

fn secret_server(extra: &[&str]) -> (Natterd, std::path::PathBuf) {
    let dir = temp_dir("auth");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let log = dir.join("natterd.log");
    let mut args = vec![
        "--secret-file",
        file.to_str().unwrap(),
        "--log-level",
        "debug",
    ];
    args.extend_from_slice(&["--log-file", log.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Natterd::start_in(&dir.join("shared"), &args, &[]), log)
}

#[test]
fn auth_is_required_before_hello_and_then_works() {
    let (srv, _) = secret_server(&[]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    a.send("HELLO alice\n");
    a.expect("ERR auth-required this server needs its secret first: AUTH <secret>");
    a.send("SAY hi\n");
    a.expect("ERR no-name Choose a user name first: HELLO <name>");
    a.send("AUTH correct%20horse%20battery%20staple\n");
    a.expect("OK AUTH");
    a.send("HELLO alice\n");
    a.expect("OK HELLO alice");
}

#[test]
fn the_third_wrong_secret_closes_and_no_secret_reaches_the_log() {
    let (srv, log) = secret_server(&[]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    a.send("AUTH correct%20horse%20battery%20stapler\n");
    a.expect("ERR auth-failed wrong secret (1 of 3 tries used)");
    a.send("AUTH nope\nAUTH still-nope\n");
    a.expect("ERR auth-failed wrong secret (2 of 3 tries used)");
    assert_eq!(
        a.expect_closed(),
        ["ERR auth-failed wrong secret; too many tries, closing"]
    );
    // A right secret on a new connection still works: failures are per connection.
    let mut b = srv.connect();
    b.expect_prefix("WELCOME ");
    b.send("AUTH correct%20horse%20battery%20staple\nHELLO bob\n");
    b.expect("OK AUTH");
    b.expect("OK HELLO bob");
    let console = srv.wait_log("client 1 from 127.0.0.1");
    let file = std::fs::read_to_string(&log).unwrap();
    for text in [&console, &file] {
        assert!(text.contains("wrong secret (3 of 3)"), "{text}");
        for leak in ["horse", "stapler", "nope", "correct%20"] {
            assert!(!text.contains(leak), "the log shows {leak:?}:\n{text}");
        }
    }
}

#[test]
fn the_secret_can_come_from_the_environment() {
    let dir = temp_dir("envsecret");
    let srv = Natterd::start_in(&dir, &[], &[("NATTER_SECRET", "s3cret")]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    a.send("HELLO alice\nAUTH s3cret\nHELLO alice\n");
    a.expect_prefix("ERR auth-required ");
    a.expect("OK AUTH");
    a.expect("OK HELLO alice");
}

#[test]
fn without_a_secret_auth_is_accepted_and_ignored() {
    let srv = Natterd::start(&[]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    a.send("AUTH anything\nHELLO alice\n");
    a.expect("OK AUTH");
    a.expect("OK HELLO alice");
}

#[test]
fn a_connection_that_never_says_hello_times_out() {
    let srv = Natterd::start(&["--register-timeout", "1"]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    assert_eq!(a.expect_closed(), ["ERR timeout no HELLO within 1 s"]);
}

#[test]
fn an_idle_client_times_out_and_others_see_why() {
    let srv = Natterd::start(&["--idle-timeout", "2"]);
    let mut busy = srv.join("busy");
    let mut idle = srv.join("idle");
    busy.expect("JOIN idle");
    // busy keeps talking; idle says nothing. Wait for the outcome, pinging meanwhile.
    let end = Instant::now() + natter_testkit::WAIT;
    loop {
        busy.send("PING\n");
        let l = busy.line().unwrap();
        if l == "LEAVE idle timeout idle for 2 s" {
            break;
        }
        assert_eq!(l, "OK PING");
        assert!(Instant::now() < end, "idle never timed out");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(idle.expect_closed(), ["ERR timeout idle for 2 s"]);
    busy.send("PING\n");
    busy.expect("OK PING");
}

#[test]
fn a_flooding_client_is_slowed_not_dropped() {
    let srv = Natterd::start(&[
        "--max-rate",
        "20",
        "--max-burst",
        "5",
        "--log-level",
        "debug",
    ]);
    let mut a = srv.join("flood");
    let start = Instant::now();
    let mut batch = String::new();
    for i in 0..30 {
        batch.push_str(&format!("PING {i}\n"));
    }
    a.send(&batch);
    for i in 0..30 {
        a.expect(&format!("OK PING {i}"));
    }
    // HELLO took one token; 30 more at 20/s beyond a burst of 5 cannot take less
    // than (31 - 5) / 20 s. (A lower bound only: it cannot be met early.)
    assert!(
        start.elapsed() >= Duration::from_millis(1250),
        "{:?}",
        start.elapsed()
    );
    srv.wait_log("is over 20 requests/s: pausing it");
}

#[test]
fn upload_data_frames_take_no_tokens() {
    // At 1 request/s, 40 DATA frames would take 40 s if they counted; the test's
    // waits give up after 10.
    let srv = Natterd::start(&["--max-rate", "1", "--max-burst", "3"]);
    let mut a = srv.join("uploader");
    let data = vec![9u8; 40 * 1000];
    a.send(&format!("PUT f.bin {}\n", data.len()));
    let l = a.expect_prefix("OK PUT ");
    let xfer: u64 = l.split(' ').nth(2).unwrap().parse().unwrap();
    for chunk in data.chunks(1000) {
        a.send(&format!("DATA {xfer} 1000\n"));
        a.send_bytes(chunk);
    }
    a.expect(&format!("DONE {xfer} f.bin 40000"));
}

#[test]
fn the_per_address_limit_refuses_the_next_connection() {
    let srv = Natterd::start(&["--max-per-ip", "2", "--limit-loopback"]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    let mut b = srv.connect();
    b.expect_prefix("WELCOME ");
    let mut c = srv.connect();
    assert_eq!(
        c.expect_closed(),
        ["ERR server-full too many connections from 127.0.0.1 (at most 2); close one and try again"]
    );
    srv.wait_log("127.0.0.1 already has 2 connections");
    drop(a);
    // The slot comes back once the first connection is gone.
    let end = Instant::now() + natter_testkit::WAIT;
    loop {
        let mut d = srv.connect();
        if d.line().unwrap_or_default().starts_with("WELCOME ") {
            break;
        }
        assert!(Instant::now() < end);
    }
    b.send("PING\n");
    b.expect("OK PING");
}

#[test]
fn loopback_is_exempt_from_the_per_address_limit_by_default() {
    let srv = Natterd::start(&["--max-per-ip", "2"]);
    let peers: Vec<_> = (0..5).map(|_| srv.connect()).collect();
    for mut p in peers {
        p.expect_prefix("WELCOME ");
    }
}

#[test]
fn a_stalled_download_does_not_keep_a_connection_alive() {
    let dir = temp_dir("stall");
    std::fs::write(dir.join("big.bin"), vec![1u8; 16 << 20]).unwrap();
    let srv = Natterd::start_in(&dir, &["--idle-timeout", "2"], &[]);
    let mut watcher = srv.join("watcher");
    let mut stalled = srv.join("stalled");
    watcher.expect("JOIN stalled");
    // Asks for a file and never reads it: the transfer stops making progress.
    stalled.send("GET big.bin\n");
    let end = Instant::now() + natter_testkit::WAIT;
    loop {
        watcher.send("PING\n");
        let l = watcher.line().unwrap();
        if l == "LEAVE stalled timeout idle for 2 s" {
            break;
        }
        assert_eq!(l, "OK PING");
        assert!(
            Instant::now() < end,
            "the stalled connection was never timed out"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn quoted_values_in_errors_stay_short() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send(&format!("PUT a {}\n", "\u{1}".repeat(3000)));
    let l = a.expect_prefix("ERR bad-request ");
    assert!(l.len() < 400, "{} bytes", l.len());
    a.send("PING\n");
    a.expect("OK PING");
}
