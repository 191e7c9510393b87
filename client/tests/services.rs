//! The service commands end to end in batch mode: `/echo`, `/calc`, a whole `/guess`
//! game played by binary search through the batch client's stdin and stdout, and
//! `/status` listing the client's own live session and an ended one.

mod common;

use common::*;

fn args(server: &Natterd) -> [String; 3] {
    ["alice".into(), "127.0.0.1".into(), server.port()]
}

#[test]
fn echo_and_calc_answer_in_words() {
    let server = Natterd::start(&[]);
    let a = args(&server);
    let out = run_batch(
        &[&a[0], &a[1], &a[2]],
        "/echo hello   there\n/calc 2 + 3 * 6\n/calc -2^2\n",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("* echo: hello   there\n"), "{stdout}");
    assert!(stdout.contains("* = 20\n"), "{stdout}");
    assert!(stdout.contains("* = -4\n"), "{stdout}");
}

#[test]
fn a_calc_error_is_exit_1() {
    let server = Natterd::start(&[]);
    let a = args(&server);
    let out = run_batch(&[&a[0], &a[1], &a[2]], "/calc 1/0\n/calc 1 +\n/calc 7\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("! calc: division by zero\n"), "{stderr}");
    assert!(
        stderr.contains("! calc: expected a number at position 4\n"),
        "the error of `1 +`: {stderr}"
    );
    assert_eq!(stderr.matches("! calc: ").count(), 2, "{stderr}");
    assert!(text(&out.stdout).contains("* = 7\n"), "the script went on");
}

#[test]
fn a_whole_guessing_game_by_binary_search() {
    let server = Natterd::start(&[]);
    let mut nat = Live::start(natter(&["alice", "127.0.0.1", &server.port()]));
    nat.send("/guess");
    assert_eq!(nat.next_info(), "* guess a number from 1 to 100");
    let (mut lo, mut hi) = (1u32, 100u32);
    let mut guesses = 0;
    let tries = loop {
        let mid = (lo + hi) / 2;
        nat.send(&format!("/guess {mid}"));
        guesses += 1;
        match nat.next_info().as_str() {
            "* higher" => lo = mid + 1,
            "* lower" => hi = mid - 1,
            other => {
                let tries = other
                    .strip_prefix("* correct in ")
                    .and_then(|r| r.split(' ').next())
                    .unwrap_or_else(|| panic!("unexpected {other:?}"));
                break tries.parse::<u32>().expect("a number of tries");
            }
        }
        assert!(lo <= hi && guesses <= 7, "binary search cannot need more");
    };
    assert_eq!(tries, guesses);
    drop(nat.stdin);
    let out = wait_output(nat.child);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_bad_guess_is_explained_and_exit_1() {
    let server = Natterd::start(&[]);
    let a = args(&server);
    let out = run_batch(
        &[&a[0], &a[1], &a[2]],
        "/guess\n/guess 0\n/guess fifty\n/guess 50\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("* guess a number from 1 to 100\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("! a guess is a whole number from 1 to 100, not 0\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"fifty\" is not a whole number; guess like this: /guess 50"),
        "{stderr}"
    );
    assert!(
        ["* higher\n", "* lower\n", "* correct in 1 try!\n"]
            .iter()
            .any(|w| stdout.contains(w)),
        "{stdout}"
    );
}

#[test]
fn status_lists_our_live_session_and_an_ended_one() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let out = run_batch(&["bob", "127.0.0.1", &port], "/quit bye\n");
    assert_eq!(out.status.code(), Some(0));
    let _carol = server.join("carol");
    let out = run_batch(&["alice", "127.0.0.1", &port], "/status\n");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = lines
        .iter()
        .position(|l| l.starts_with("* 2 connected of at most 1000; up "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    assert_eq!(
        lines[summary + 1],
        "* shared folder: 0 files, 0 B",
        "{stdout}"
    );
    let table = &lines[summary + 2..];
    assert!(table[0].contains("name") && table[0].contains("address"));
    let row = |who: &str| {
        table
            .iter()
            .find(|l| l.split_whitespace().any(|w| w == who))
            .unwrap_or_else(|| panic!("no row for {who} in {stdout}"))
    };
    let me = row("alice");
    assert!(me.starts_with("  ●  alice (you)  127.0.0.1:"), "{me}");
    assert!(me.contains(" s ago"), "{me}");
    assert!(row("carol").starts_with("  ●  carol "), "{stdout}");
    let bob = row("bob");
    assert!(!bob.contains('●'), "bob's session ended: {bob}");
    assert!(bob.contains(" to "), "from when to when: {bob}");
    assert!(bob.contains(" B "), "traffic in human units: {bob}");
}
