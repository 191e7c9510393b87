//! natter in batch mode, end to end: the real binary against a real natterd, with raw
//! protocol peers on the other side, and every documented exit status.

mod common;

use common::*;
use std::net::TcpListener;
use std::process::Stdio;

#[test]
fn broadcast_and_private_message_reach_a_peer() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let out = run_batch(
        &["alice", "127.0.0.1", &server.port()],
        "hello everyone\n/msg bob psst, bob\n",
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    bob.expect("JOIN alice");
    bob.expect("FROM alice hello everyone");
    bob.expect("PRIVATE alice psst, bob");
    bob.expect("LEAVE alice quit");
    assert!(stdout.contains("* you have joined as alice"), "{stdout}");
    assert!(stdout.contains("] <you> hello everyone ✓ 1"), "{stdout}");
    assert!(stdout.contains("] [you → bob] psst, bob"), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "no colours in batch mode: {stdout:?}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn modes_and_literal_slashes_work_as_typed() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let out = run_batch(
        &["alice", "127.0.0.1", &server.port()],
        "/to bob\njust for you\n/all\n//shrug\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    bob.expect("JOIN alice");
    bob.expect("PRIVATE alice just for you");
    bob.expect("FROM alice /shrug");
}

#[test]
fn a_message_longer_than_a_line_goes_as_several() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let long = "word ".repeat(1000);
    let out = run_batch(
        &["alice", "127.0.0.1", &server.port()],
        &format!("/msg bob {long}\n"),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    bob.expect("JOIN alice");
    let mut parts = Vec::new();
    for _ in 0..2 {
        let line = bob.line().expect("bob's connection open");
        let part = line
            .strip_prefix("PRIVATE alice ")
            .expect("private, from alice");
        parts.push(part.to_string());
    }
    assert_eq!(parts.concat(), long);
    bob.expect("LEAVE alice quit");
    assert!(
        stdout.contains(
            "* that message is 5,010 bytes on the wire, more than one line carries (4,096): sent as 2 messages"
        ),
        "{stdout}"
    );
}

#[test]
fn linger_prints_what_arrives_after_the_last_command() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    // A linger far longer than the test: the message is waited for as a condition,
    // not raced against the clock.
    let mut child = natter(&["--linger", "60", "alice", "127.0.0.1", &server.port()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let lines = lines_of(child.stdout.take().unwrap());
    bob.expect("JOIN alice");
    bob.send("SAY welcome, alice\n");
    bob.expect("OK SAY 1");
    let seen = loop {
        let line = lines
            .recv_timeout(WAIT)
            .expect("natter printed the message");
        if line.contains("] <bob> welcome, alice") {
            break line;
        }
    };
    assert!(seen.starts_with('['), "{seen}");
    assert_eq!(child.try_wait().unwrap(), None, "still lingering");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_linger_ends_by_itself_with_exit_0() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let child = natter(&["--linger", "0.3", "alice", "127.0.0.1", &server.port()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    bob.expect("JOIN alice");
    let out = wait_output(child);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    bob.expect("LEAVE alice quit");
}

/// The lines a pipe carries, as they come.
fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(out)) {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn connection_refused_is_exit_3() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run_batch(&["alice", "127.0.0.1", &port.to_string()], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "natter: cannot connect to 127.0.0.1:{port}: connection refused (is natterd running on that port?)"
        )
    );
    assert!(out.stdout.is_empty());
}

/// A web server on a free port, answering as `answer` says to the first line of each
/// connection (`None`: close without a word). Serves until the test ends.
fn web_server(answer: fn(&str) -> Option<&'static str>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = conn.set_read_timeout(Some(WAIT));
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut conn), &mut line);
            if let Some(reply) = answer(&line) {
                let _ = std::io::Write::write_all(&mut conn, reply.as_bytes());
            }
        }
    });
    port
}

#[test]
fn a_web_server_on_the_port_is_named_and_exit_3() {
    // As Python's http.server: a blank line closes; a request gets an answer.
    let closes_on_blank_lines =
        web_server(|line| (!line.trim().is_empty()).then_some("HTTP/1.0 400 Bad request\r\n\r\n"));
    // As many others: anything gets an answer.
    let answers_anything = web_server(|_| Some("HTTP/1.1 400 Bad Request\r\n\r\n"));
    for (port, status) in [
        (closes_on_blank_lines, "HTTP/1.0 400 Bad request"),
        (answers_anything, "HTTP/1.1 400 Bad Request"),
    ] {
        let out = run_batch(&["alice", "127.0.0.1", &port.to_string()], "hello\n");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "natter: cannot talk to 127.0.0.1:{port}: a web server answers there, not natterd (it said \"{status}\") (is that port a natterd?)"
            )
        );
    }
}

#[test]
fn unknown_host_is_exit_4() {
    let out = run_batch(&["alice", "no-such-host.invalid", "7878"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.starts_with("natter: cannot connect to no-such-host.invalid:7878: unknown host"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_full_server_is_exit_5() {
    let server = Natterd::start(&["--max-clients", "1"]);
    let _holder = server.join("bob");
    let out = run_batch(&["alice", "127.0.0.1", &server.port()], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("the server is full"), "{stderr}");
    assert!(stderr.contains(&server.target()), "{stderr}");
}

#[test]
fn a_taken_name_is_exit_6() {
    let server = Natterd::start(&[]);
    let _alice = server.join("alice");
    let out = run_batch(&["ALICE", "127.0.0.1", &server.port()], "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("! the name ALICE is taken"), "{stderr}");
}

#[test]
fn an_invalid_name_is_exit_6() {
    let server = Natterd::start(&[]);
    let out = run_batch(&["--", "-x", "127.0.0.1", &server.port()], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("\"-x\" is not a valid user name"),
        "{stderr}"
    );
}

#[test]
fn an_err_reply_is_exit_1_and_the_script_goes_on() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let out = run_batch(
        &["alice", "127.0.0.1", &server.port()],
        "/msg nobody hi\n/msg bob\nstill here\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("! no such user: nobody"), "{stderr}");
    assert!(stderr.contains("! usage: /msg <name> <text>"), "{stderr}");
    bob.expect("JOIN alice");
    bob.expect("FROM alice still here");
}

#[test]
fn usage_errors_are_exit_2() {
    let out = run_batch(&["alice"], "");
    assert_eq!(out.status.code(), Some(2), "no host");
    let out = run_batch(&["alice", "127.0.0.1:1", "2"], "");
    assert_eq!(out.status.code(), Some(2), "two ports");
    let out = run_batch(&["alice", "127.0.0.1", "not-a-port"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = run_batch(&["--linger", "soon", "alice", "127.0.0.1", "1"], "");
    assert_eq!(out.status.code(), Some(2));
    // A negative time is a value to judge, not an unknown flag.
    let out = run_batch(&["--keepalive", "-1", "alice", "127.0.0.1", "1"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("\"-1\" is not a usable number of seconds (0 or more"),
        "{stderr}"
    );
    let help = run_batch(&["--help"], "");
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    for flag in [
        "--batch",
        "--linger",
        "--history-file",
        "--download-dir",
        "--overwrite",
        "--no-color",
        "--secret-file",
        "--tls",
        "--ca-file",
        "--tls-insecure",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let version = run_batch(&["--version"], "");
    assert!(text(&version.stdout).starts_with("natter "));
}

#[test]
fn a_killed_server_mid_session_is_exit_7_with_a_message() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let child = natter(&["--linger", "60", "alice", "127.0.0.1", &server.port()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    bob.expect("JOIN alice");
    server.signal(libc::SIGKILL);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "! connection to {} lost (the server closed the connection)",
            server.target()
        )
    );
}

#[test]
fn a_server_shutdown_is_exit_7_with_its_text() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let child = natter(&["--linger", "60", "alice", "127.0.0.1", &server.port()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    bob.expect("JOIN alice");
    server.signal(libc::SIGTERM);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!("! the server at {} shut down: ", server.target())),
        "{stderr}"
    );
}

#[test]
fn quit_in_a_script_stops_it_with_its_message() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let out = run_batch(
        &["alice", "127.0.0.1", &server.port()],
        "first\n/quit gotta go\nnever sent\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    bob.expect("JOIN alice");
    bob.expect("FROM alice first");
    bob.expect("LEAVE alice quit gotta go");
}

#[test]
fn sums_lists_each_shared_files_sha256_as_sha256sum_does() {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("hello.txt"), b"hello").unwrap();
    wait_hashed(&server, "hello.txt");
    let out = run_batch(&["alice", "127.0.0.1", &server.port()], "/sums\n");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "\n2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  hello.txt\n"
        ),
        "{stdout}"
    );
}
