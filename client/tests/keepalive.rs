//! The quiet `PING` a natter that only reads sends, so that natterd's idle timeout
//! does not drop it: after `--keepalive` seconds without sending anything (60 by
//! default; a fraction of a second here, on the same code path), against a fake
//! server that sees every byte natter sends.

mod common;

use common::*;

#[test]
fn a_natter_that_only_reads_pings_after_keepalive_and_shows_nothing() {
    let fake = FakeServer::bind();
    let port = fake.port();
    let mut natter = Live::start(natter(&[
        "--batch",
        "--keepalive",
        "0.3",
        "alice",
        "127.0.0.1",
        &port,
    ]));
    let mut p = fake.accept_named("alice");
    // Nothing typed: the next thing natter sends is its keepalive, and again.
    p.expect("PING keepalive");
    p.send("OK PING keepalive\n");
    p.expect("PING keepalive");
    p.send("OK PING keepalive\n");
    // Typed lines go out as ever, keepalives or not.
    natter.send("/echo awake");
    loop {
        match p.line().as_deref() {
            Some("PING keepalive") => p.send("OK PING keepalive\n"),
            Some("ECHO awake") => break,
            other => panic!("wanted the ECHO, got {other:?}"),
        }
    }
    p.send("OK ECHO awake\n");
    assert_eq!(
        natter.next_info(),
        "* echo: awake",
        "the pongs are not shown"
    );
    drop(natter.stdin);
    loop {
        match p.line().as_deref() {
            Some("PING keepalive") => p.send("OK PING keepalive\n"),
            Some("QUIT") => break,
            other => panic!("wanted the QUIT, got {other:?}"),
        }
    }
    p.send("OK QUIT\n");
    let out = wait_output(natter.child);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("pong") && !stdout.contains("keepalive"),
        "{stdout}"
    );

    let out = run_batch(&["--keepalive", "0", "alice", "127.0.0.1", &port], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// A natterd older than the HELLO options natter asks for (history, stamps, big
/// frames) refuses them as a bad request: natter says a plain HELLO and goes on.
#[test]
fn a_server_that_refuses_the_hello_options_gets_a_plain_hello() {
    let fake = FakeServer::bind();
    let port = fake.port();
    let mut natter = Live::start(natter(&["--batch", "alice", "127.0.0.1", &port]));
    let mut p = fake.accept_named_refusing_options("alice");
    natter.send("/echo still here");
    p.expect("ECHO still here");
    p.send("OK ECHO still here\n");
    assert_eq!(natter.next_info(), "* echo: still here");
}
