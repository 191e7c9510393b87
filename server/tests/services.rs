//! STATUS, ECHO, CALC and GUESS over real sockets.

use natter_testkit::Natterd;

/// Reads `SESSION` items up to `OK STATUS`; returns the items' fields and the reply.
fn status(p: &mut natter_testkit::Peer) -> (Vec<Vec<String>>, String) {
    p.send("STATUS\n");
    let mut items = Vec::new();
    loop {
        let l = p.line().expect("open");
        if l.starts_with("OK STATUS ") {
            return (items, l);
        }
        assert!(l.starts_with("SESSION "), "{l}");
        items.push(l.split(' ').skip(1).map(String::from).collect());
    }
}

#[test]
fn status_lists_live_sessions_then_recent_ended_ones_bounded() {
    let srv = Natterd::start(&["--session-history", "2", "--max-clients", "50"]);
    let mut a = srv.join("alice");
    let mut lurker = srv.connect();
    lurker.expect_prefix("WELCOME ");
    let (items, reply) = status(&mut a);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0][0], "1");
    assert_eq!(items[0][1], "alice");
    assert!(items[0][2].starts_with("127.0.0.1:"));
    assert!(items[0][3].ends_with('Z'));
    assert_eq!(items[0][4], "-", "alice is live");
    assert!(items[0][5].parse::<u64>().unwrap() >= "HELLO alice\n".len() as u64);
    assert!(items[0][6].parse::<u64>().unwrap() > 0);
    assert_eq!(items[1][1], "-", "the lurker has no name");
    let fields: Vec<&str> = reply.split(' ').collect();
    assert_eq!(&fields[..4], ["OK", "STATUS", "2", "50"]);

    // Three sessions end: bob quits, carol drops, dave never names himself.
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    b.send("QUIT\n");
    b.expect("OK QUIT");
    b.expect_closed();
    a.expect("LEAVE bob quit");
    let c = srv.join("carol");
    a.expect("JOIN carol");
    drop(c);
    a.expect("LEAVE carol lost");
    let mut d = srv.connect();
    d.expect_prefix("WELCOME ");
    d.send("QUIT\n");
    d.expect("OK QUIT");
    d.expect_closed();
    srv.wait_log("client 5 left: quit");
    // Wait until dave's session is reaped into the history, then look.
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    let items = loop {
        let (items, reply) = status(&mut a);
        assert!(reply.starts_with("OK STATUS 2 50 "), "{reply}");
        if items.iter().any(|i| i[0] == "5") {
            break items;
        }
        assert!(std::time::Instant::now() < end);
    };
    let ids: Vec<&str> = items.iter().map(|i| i[0].as_str()).collect();
    // Live first (alice 1, lurker 2), then the two most recent to end (dave 5, carol 4).
    assert_eq!(ids, ["1", "2", "5", "4"], "{items:?}");
    assert_eq!(items[3][1], "carol");
    assert_ne!(items[3][4], "-", "carol has an end time");
}

#[test]
fn echo_returns_the_text_byte_for_byte() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send("ECHO  two  spaces, tabs\tand ünïcödé ✓ \n");
    a.expect("OK ECHO  two  spaces, tabs\tand ünïcödé ✓ ");
    a.send("ECHO\n");
    a.expect("OK ECHO");
}

#[test]
fn calc_over_the_wire() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    for (expr, want) in [
        ("2 + 3 * 6", "OK CALC 20"),
        ("2^3^2", "OK CALC 512"),
        ("-(4 - 10) / 4", "OK CALC 1.5"),
        ("1/0", "ERR calc division by zero"),
        ("(1+2", "ERR calc missing ')' for the '(' at position 1"),
        ("3 $ 4", "ERR calc unexpected '$' at position 3"),
        ("", "ERR calc the expression is empty"),
    ] {
        a.send(&format!("CALC {expr}\n"));
        a.expect(want);
    }
    a.send(&format!("CALC {}\n", "(".repeat(2000)));
    a.expect("ERR calc the expression nests deeper than 64 levels");
}

#[test]
fn a_guessing_game_played_by_binary_search_ends_correct_within_seven_tries() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send("GUESS\n");
    a.expect("OK GUESS started 1 100");
    let (mut lo, mut hi) = (1u64, 100u64);
    let mut tries = 0;
    loop {
        let mid = (lo + hi) / 2;
        a.send(&format!("GUESS {mid}\n"));
        tries += 1;
        let l = a.expect_prefix("OK GUESS ");
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[3], tries.to_string(), "{l}");
        match f[2] {
            "correct" => break,
            "higher" => lo = mid + 1,
            "lower" => hi = mid - 1,
            other => panic!("{other}"),
        }
        // Bad guesses are refused and are not counted as tries.
        if tries == 2 {
            a.send("GUESS 0\nGUESS 101\nGUESS fifty\n");
            a.expect("ERR bad-request a guess is a whole number from 1 to 100, not 0");
            a.expect("ERR bad-request a guess is a whole number from 1 to 100, not 101");
            a.expect("ERR bad-request a guess is a whole number from 1 to 100, not \"fifty\"");
        }
    }
    assert!(tries <= 7, "{tries} tries");
    // A guess with no game running starts one and counts as its first try.
    a.send("GUESS 50\n");
    let l = a.expect_prefix("OK GUESS ");
    assert!(l.ends_with(" 1"), "{l}");
}

#[test]
fn services_need_a_name() {
    let srv = Natterd::start(&[]);
    let mut a = srv.connect();
    a.expect_prefix("WELCOME ");
    for verb in ["STATUS", "ECHO x", "CALC 1+1", "GUESS"] {
        a.send(&format!("{verb}\n"));
        a.expect("ERR no-name Choose a user name first: HELLO <name>");
    }
}
