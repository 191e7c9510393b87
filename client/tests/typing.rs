//! Typing as people really type, in a real pseudo-terminal against a real natterd:
//! keys typed ahead (right after Enter, while connecting, while messages print) and
//! pastes of several lines in one write, plain and bracketed. Each test writes
//! several lines to the terminal at once, so nothing waits for the screen between
//! them: what natter does not keep is lost, and the peer never receives it.
//!
//! The assertions are what the peer receives, in order, and what the screen shows.

mod common;

use common::tty::{args, Tty};
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

/// Starts alice at a prompt with bob in the room; bob has seen her join.
fn alice_and_bob(server: &Natterd, history: &TempPath) -> (Tty, Peer) {
    let port = server.port();
    let mut bob = server.join("bob");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    (tty, bob)
}

/// The next `n` messages alice sent to everyone, in order, skipping bob's replies.
fn from_alice(bob: &mut Peer, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let line = bob.line().expect("bob's connection open");
        if let Some(text) = line.strip_prefix("FROM alice ") {
            got.push(text.to_string());
        }
    }
    got
}

#[test]
fn text_typed_right_after_enter_is_kept() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // One write: what a fast typist or `tmux send-keys 'a' Enter 'b'` delivers.
    tty.type_text("normal msg\rtyped ahead");
    bob.expect("FROM alice normal msg");
    tty.wait_for_prompt("alice> typed ahead");
    tty.type_text(" and more\r");
    bob.expect("FROM alice typed ahead and more");
    tty.wait_for_text("<you> typed ahead and more ✓ 1");

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn text_typed_right_after_ctrl_c_is_kept() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // Ctrl-C clears the half line; what follows it in the same write is a new line.
    tty.type_text("never sent\x03after ctrl-c\r");
    assert_eq!(from_alice(&mut bob, 1), ["after ctrl-c"]);
    tty.wait_for_prompt("alice>");

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn keys_typed_as_a_line_goes_out_keep_their_meaning() {
    // Many lines in a row: no flood control.
    let server = Natterd::start(&["--max-rate", "0"]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // Each line is typed the moment the one before reaches bob, which is when
    // natter goes from one line to the next. Ctrl-A Ctrl-D deletes the first
    // character at the prompt; had the terminal been in line mode for an instant
    // then, the kernel would have taken that Ctrl-D as an end of file, and `x` would
    // stay. Such an instant is short, so the keys come a thousand times: with one
    // between lines (as natter had until this test), most runs catch it; without
    // one, nothing here depends on timing.
    tty.type_text("first\r");
    assert_eq!(from_alice(&mut bob, 1), ["first"]);
    for i in 0..1000 {
        tty.type_text(&format!("x{i}\x01\x04\r"));
        // The screen is read before the line reaches bob, not after: what natter
        // writes next stays unread when the next keys come (a program that waited
        // for its output to be read before setting the terminal would be caught
        // between two settings by them).
        tty.pump();
        assert_eq!(from_alice(&mut bob, 1), [i.to_string()]);
    }
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0, "Ctrl-D on an empty line quits");
}

#[test]
fn a_plain_paste_sends_every_line_in_order() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // A terminal without bracketed paste sends a pasted line break as Enter (CR);
    // some send LF. Both, in one write.
    tty.type_text("one\rtwo\rthree\nfour\rfive\r");
    for word in ["one", "two", "three", "four", "five"] {
        bob.expect(&format!("FROM alice {word}"));
    }
    tty.wait("every pasted line shown once, in order", |t| {
        let rows = t.rows();
        let shown: Vec<usize> = ["one", "two", "three", "four", "five"]
            .iter()
            .filter_map(|w| {
                rows.iter()
                    .position(|r| r.ends_with(&format!("] <you> {w} ✓ 1")))
            })
            .collect();
        shown.len() == 5 && shown.windows(2).all(|w| w[0] < w[1]) && t.cursor_row() == "alice>"
    });

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn a_bracketed_paste_sends_its_lines_without_an_extra_enter() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // Complete lines go at once; a tab inside a paste is text, not completion.
    tty.type_text("\x1b[200~first\rsecond\tcolumn\r\x1b[201~");
    bob.expect("FROM alice first");
    bob.expect("FROM alice second\tcolumn");
    tty.wait_for_prompt("alice>");

    // An unfinished last line waits at the prompt, as if typed, and typing goes on
    // after it.
    tty.type_text("\x1b[200~third\rfourth\x1b[201~ typed after");
    bob.expect("FROM alice third");
    tty.wait_for_prompt("alice> fourth typed after");
    tty.type_text("\r");
    bob.expect("FROM alice fourth typed after");

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn typing_while_messages_print_loses_nothing() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // A burst of 40 lines (under natterd's flood burst of 60), one write.
    let burst: String = (0..40).map(|i| format!("SAY burst {i}\n")).collect();
    bob.send(&burst);
    // Typed as soon as the first line is out, while the rest still prints (the
    // first scrolls off a 24-row screen, so it is looked for in the raw output).
    tty.wait_output("burst 0");
    tty.type_text("typed\rwhile\rprinting");
    assert_eq!(from_alice(&mut bob, 2), ["typed", "while"]);
    tty.wait("all 40 lines above the kept half line", |t| {
        let rows = t.rows();
        rows.iter().any(|r| r.ends_with("] <bob> burst 39"))
            && rows.iter().any(|r| r.ends_with("] <you> while ✓ 1"))
            && t.cursor_row() == "alice> printing"
    });
    tty.type_text("\r");
    assert_eq!(from_alice(&mut bob, 1), ["printing"]);

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

/// A TCP gate in front of natterd: it accepts natter's connection and forwards it
/// only once opened, so the test knows natter is connecting (waiting for the
/// server's welcome) while it types.
struct Gate {
    port: String,
    open: mpsc::Sender<()>,
    accepted: mpsc::Receiver<()>,
}

impl Gate {
    fn new(upstream: String) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        let port = listener
            .local_addr()
            .expect("gate address")
            .port()
            .to_string();
        let (open, opened) = mpsc::channel::<()>();
        let (accepted_tx, accepted) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let _ = accepted_tx.send(());
            if opened.recv().is_err() {
                return;
            }
            let server = TcpStream::connect(&upstream).expect("connect to natterd");
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            pipe(server, client);
        });
        Gate {
            port,
            open,
            accepted,
        }
    }
}

#[test]
fn keys_typed_while_connecting_are_kept() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let gate = Gate::new(server.target());
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &gate.port));
    gate.accepted
        .recv_timeout(WAIT)
        .expect("natter connects to the gate");
    // natter is waiting for the welcome: a line and a half typed now, echoed by the
    // terminal itself, as natter has not touched its settings yet.
    tty.type_text("early bird\rsecond wo");
    tty.wait_for_text("second wo");
    gate.open.send(()).expect("open the gate");

    bob.expect("JOIN alice");
    bob.expect("FROM alice early bird");
    tty.wait_for_prompt("alice> second wo");
    tty.type_text("rm\r");
    bob.expect("FROM alice second worm");

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn a_line_that_fails_locally_never_swallows_the_next() {
    let server = Natterd::start(&[]);
    let history = TempPath::new("history");
    let (mut tty, mut bob) = alice_and_bob(&server, &history);

    // Typed ahead, before the error is on screen.
    tty.type_text("/msg\rhello\r/put nosuch.txt\r/files\r");
    assert_eq!(from_alice(&mut bob, 1), ["hello"]);
    tty.wait_for_text("! usage: /msg <name> <text>");
    tty.wait_for_text("! no such file: nosuch.txt");
    tty.wait_for_text("* SharedFiles: 0 files");
    // And typed after the error was seen.
    tty.type_text("/frob\r");
    tty.wait_for_text("! unknown command /frob: /help lists the commands");
    tty.wait_for_prompt("alice>");
    tty.type_text("after\r");
    assert_eq!(from_alice(&mut bob, 1), ["after"]);
    let rows = tty.rows();
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("/msghello") || r.contains("/frobafter")),
        "typing was glued to a failed line:\n{}",
        rows.join("\n")
    );
    // The failed lines are in the history, to fix: Up, Up.
    tty.type_text("\x1b[A");
    tty.wait_for_prompt("alice> after");
    tty.type_text("\x1b[A");
    tty.wait_for_prompt("alice> /frob");

    tty.type_text("\x15\x04");
    assert_eq!(tty.wait_exit(), 0);
}
