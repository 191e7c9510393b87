//! natter in a real pseudo-terminal against a real natterd: the half-typed line that
//! survives an incoming message, the chat modes in the prompt, history across runs,
//! a taken name asked again, and a server that dies under the prompt.
//!
//! The terminal's output goes through a vt100 emulator, so the assertions are about
//! what a person would see on the screen, not about escape sequences.

mod common;

use common::tty::{args, Tty};
use common::*;

#[test]
fn a_message_arrives_above_the_half_typed_line() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");

    tty.type_text("hello wor");
    tty.wait_for_prompt("alice> hello wor");
    bob.send("SAY interrupting you\n");
    bob.expect("OK SAY 1");
    tty.wait("bob's message above the redrawn half line", |t| {
        let rows = t.rows();
        let msg = rows
            .iter()
            .position(|r| r.ends_with("] <bob> interrupting you"));
        msg.is_some_and(|i| i + 1 == rows.len() - 1)
            && rows.last().map(String::as_str) == Some("alice> hello wor")
            && t.cursor_row() == "alice> hello wor"
    });

    tty.type_text("ld\r");
    bob.expect("FROM alice hello world");
    tty.wait("the sent line shown once, with its acknowledgement", |t| {
        let rows = t.rows();
        rows.iter().any(|r| r.ends_with("] <you> hello world ✓ 1"))
            && !rows.iter().any(|r| r == "alice> hello world")
            && t.cursor_row() == "alice>"
    });

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
    bob.expect("LEAVE alice quit");
    assert!(tty.canonical(), "the terminal is back in line mode");
}

#[test]
fn to_and_all_switch_where_plain_text_goes() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");

    tty.type_text("/to bob\r");
    tty.wait_for_text("* talking privately to bob; /all to talk to everyone");
    tty.wait_for_prompt("alice → bob>");
    tty.type_text("psst\r");
    bob.expect("PRIVATE alice psst");
    tty.wait_for_text("] [you → bob] psst");

    bob.send("TELL alice hi back\n");
    bob.expect("OK TELL alice");
    tty.wait_for_text("] [bob → you] hi back");

    tty.type_text("/all\r");
    tty.wait_for_prompt("alice>");
    tty.type_text("to all\r");
    bob.expect("FROM alice to all");

    // Tab completes a user name after /msg.
    tty.type_text("/msg b\t");
    tty.wait_for_prompt("alice> /msg bob");
    tty.type_text("one-off\r");
    bob.expect("PRIVATE alice one-off");

    tty.type_text("/quit\r");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn history_comes_back_in_the_next_run() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("state");
    // A directory that does not exist yet: natter creates it.
    let file = history.0.join("natter").join("history");

    let mut first = Tty::start(&args(&file, "alice", &port));
    first.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    first.type_text("remember me\r");
    bob.expect("FROM alice remember me");
    first.type_text("remember me\r");
    bob.expect("FROM alice remember me");
    first.type_text("/quit\r");
    assert_eq!(first.wait_exit(), 0);
    bob.expect("LEAVE alice quit");
    let saved = std::fs::read_to_string(&file).expect("history file written");
    assert_eq!(
        saved.lines().filter(|l| *l == "remember me").count(),
        1,
        "consecutive duplicates are kept once: {saved:?}"
    );

    let mut second = Tty::start(&args(&file, "alice", &port));
    second.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    // Up: /quit, Up again: the message.
    second.type_text("\x1b[A");
    second.wait_for_prompt("alice> /quit");
    second.type_text("\x1b[A");
    second.wait_for_prompt("alice> remember me");
    second.type_text("\r");
    bob.expect("FROM alice remember me");
    second.type_text("\x04");
    assert_eq!(second.wait_exit(), 0);
}

#[test]
fn history_keeps_the_last_thousand_lines() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let dir = TempPath::new("full-history");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("history");
    let old: Vec<String> = (0..1000).map(|i| format!("old line {i}")).collect();
    std::fs::write(&file, format!("#V2\n{}\n", old.join("\n"))).unwrap();

    let mut tty = Tty::start(&args(&file, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    tty.type_text("\x1b[A");
    tty.wait_for_prompt("alice> old line 999");
    tty.type_text("\x15newest\r");
    bob.expect("FROM alice newest");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);

    let saved = std::fs::read_to_string(&file).unwrap();
    let entries: Vec<&str> = saved.lines().filter(|l| !l.starts_with("#V")).collect();
    assert_eq!(entries.len(), 1000, "bounded to 1000 entries");
    assert_eq!(entries.last(), Some(&"newest"));
    assert_eq!(entries.first(), Some(&"old line 1"), "the oldest one went");
}

#[test]
fn a_taken_name_is_asked_again() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "bob", &port));
    tty.wait_for_text("! the name bob is taken");
    tty.wait_for_prompt("name>");
    tty.type_text("robert\r");
    bob.expect("JOIN robert");
    tty.wait_for_prompt("robert>");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn a_dead_server_ends_the_session_under_the_prompt() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let target = server.target();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    tty.type_text("half a thought");
    tty.wait_for_prompt("alice> half a thought");
    bob.send("SAY last words\n");
    bob.expect("OK SAY 1");
    tty.wait_for_text("] <bob> last words");

    server.signal(libc::SIGKILL);
    assert_eq!(tty.wait_exit(), 7);
    let rows = tty.rows();
    let lost = format!("! connection to {target} lost (the server closed the connection)");
    assert!(
        rows.iter().any(|r| r == &lost),
        "no {lost:?} on screen:\n{}",
        rows.join("\n")
    );
    assert!(rows.iter().any(|r| r.ends_with("] <bob> last words")));
    assert!(tty.canonical(), "the terminal is back in line mode");
    assert!(
        tty.raw.windows(8).any(|w| w == b"\x1b[?2004l"),
        "bracketed paste turned off"
    );
}

#[test]
fn help_and_mistakes_are_explained() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    tty.type_text("/help\r");
    tty.wait_for_text("/msg <name> <text>");
    tty.wait_for_text("leave (Ctrl-D too); others see the message (also /exit)");
    tty.type_text("/frob\r");
    tty.wait_for_text("! unknown command /frob: /help lists the commands");
    // The mistaken line is not put back, where typing would glue onto it; Up
    // brings it back for fixing.
    tty.wait_for_prompt("alice>");
    tty.type_text("\x1b[A");
    tty.wait_for_prompt("alice> /frob");
    tty.type_text("\x15/msg nobody hi\r");
    tty.wait_for_text("! no such user: nobody");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn download_progress_appears_above_the_half_typed_line() {
    let server = Natterd::start(&[]);
    // Sparse: nothing for the server to hold, and far more than the client can fetch
    // before its first progress line, 2 s in.
    std::fs::File::create(server.file("big.iso"))
        .unwrap()
        .set_len(16 << 30)
        .unwrap();
    let port = server.port();
    let history = TempPath::new("history");
    let downloads = TempPath::new("dl");
    let mut a = args(&history.0, "alice", &port);
    a.splice(0..0, ["--download-dir", downloads.0.to_str().unwrap()]);
    let mut tty = Tty::start(&a);
    tty.wait_for_prompt("alice>");
    tty.type_text("/get big.iso\r");
    tty.wait_for_text("* downloading big.iso (16.0 GiB)");
    tty.type_text("half a thought");
    tty.wait_for_prompt("alice> half a thought");
    tty.wait("a progress line above the intact half line", |t| {
        let rows = t.rows();
        let n = rows.len();
        n >= 2
            && rows[n - 2].starts_with("* downloading big.iso: ")
            && rows[n - 2].contains(" of 16.0 GiB, ")
            && rows[n - 2].ends_with(" left")
            && rows[n - 1] == "alice> half a thought"
            && t.cursor_row() == "alice> half a thought"
    });
    // Leaving stops the transfer: the first Ctrl-D (on an emptied line) warns.
    tty.type_text("\x15\x04");
    tty.wait_for_text("! still downloading big.iso; quit again to leave anyway");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
    assert!(downloads.0.join("big.iso.part").exists());
}

#[test]
fn the_secret_is_asked_without_echo_and_never_kept() {
    let dir = TempPath::new("secret");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("server-secret");
    std::fs::write(&file, "hunter2 horse\n").unwrap();
    let server = Natterd::start(&["--secret-file", file.to_str().unwrap()]);
    let port = server.port();
    let history = dir.0.join("history");
    let mut tty = Tty::start(&args(&history, "alice", &port));
    tty.wait_for_text(&format!(
        "* {} wants a secret; type it (it is not shown) or Ctrl-C to give up",
        server.target()
    ));
    tty.wait_for_prompt("secret>");

    tty.type_text("wrong guess\r");
    tty.wait_for_text("! the server refused the secret: wrong secret (1 of 3 tries used)");
    tty.wait_for_prompt("secret>");
    // Backspace works on what cannot be seen.
    tty.type_text("hunter2 horsX\x7fe\r");
    tty.wait_for_prompt("alice>");
    tty.wait_for_text("* you have joined as alice");
    tty.type_text("in at last\r");
    tty.wait_for_text("<you> in at last");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);

    let shown = String::from_utf8_lossy(&tty.raw);
    for typed in ["hunter2", "horse", "wrong guess"] {
        assert!(!shown.contains(typed), "{typed:?} was echoed: {shown:?}");
    }
    let saved = std::fs::read_to_string(&history).expect("history written");
    assert!(saved.contains("in at last"), "{saved:?}");
    assert!(
        !saved.contains("hunter2") && !saved.contains("wrong guess"),
        "{saved:?}"
    );
    assert!(tty.canonical(), "the terminal is back in line mode");
}

#[test]
fn a_message_longer_than_a_line_goes_as_several() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");

    // 9,000 bytes of words with two-byte letters, pasted as one line.
    let text: String = (0..1000).map(|i| format!("née{i:04} ")).collect::<String>();
    let text = text.trim_end().to_string();
    tty.type_text(&format!("\x1b[200~{text}\r\x1b[201~"));
    let want = text.clone();
    let parts = tty.while_reading(move || {
        let mut parts = Vec::new();
        while parts.concat() != want {
            let line = bob.line().expect("bob's connection open");
            let part = line
                .strip_prefix("FROM alice ")
                .expect("a message from alice");
            assert!(part.len() + "SAY \n".len() <= 4096, "each fits a line");
            parts.push(part.to_string());
            assert!(parts.len() <= 3, "{} parts: {parts:?}", parts.len());
        }
        parts
    });
    assert_eq!(parts.len(), 3);
    // Cut between words.
    assert!(parts[..2].iter().all(|p| p.ends_with(' ')), "{parts:?}");
    // The pieces push it off the screen: looked for in what was written.
    assert_eq!(text.len() + "SAY \n".len(), 9004);
    tty.wait_output(
        "that message is 9,004 bytes on the wire, more than one line carries (4,096): sent as 3 messages",
    );
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn private_talk_is_with_someone_else_who_is_online() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    // natter asks who is online as it joins; this listing comes after that answer.
    tty.type_text("/files\r");
    tty.wait_for_text("* SharedFiles: 0 files");

    tty.type_text("/to ALICE\r");
    tty.wait_for_text("! alice is you: /to someone else; plain text still goes to everyone");
    tty.type_text("/to nobody\r");
    tty.wait_for_text(
        "! nobody is not online (/who lists who is); plain text still goes to everyone",
    );
    tty.wait_for_prompt("alice>");

    tty.type_text("/to bob\r");
    tty.wait_for_prompt("alice → bob>");
    bob.send("QUIT\n");
    bob.expect("OK QUIT");
    tty.wait_for_text("* bob has left (quit)");
    // Not even a line too long for one message goes, in parts.
    tty.type_text(&format!("{}\r", "long ".repeat(1000)));
    tty.type_text("are you there?\r");
    tty.wait("the line refused twice", |t| {
        String::from_utf8_lossy(&t.raw)
            .matches("bob has left, so that was not sent (Up brings it back; /all for everyone)")
            .count()
            == 2
    });
    assert!(
        !String::from_utf8_lossy(&tty.raw).contains("more than one line carries"),
        "nothing was split to be sent"
    );
    tty.wait_for_prompt("alice → bob (left)>");
    tty.type_text("\x1b[A");
    tty.wait_for_prompt("alice → bob (left)> are you there?");

    // Back again: the same line goes.
    let mut bob = server.join("bob");
    tty.wait_for_text("* bob has joined");
    tty.type_text("\r");
    bob.expect("PRIVATE alice are you there?");
    tty.wait_for_prompt("alice → bob>");

    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn joining_shows_what_was_said_before_and_history_shows_more() {
    let server = Natterd::start(&["--max-rate", "0"]);
    let port = server.port();
    let mut bob = server.join("bob");
    for i in 1..=25 {
        bob.send(&format!("SAY earlier {i}\n"));
        bob.expect("OK SAY 0");
    }
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    // The last 20, oldest first, before alice's own join; not the 5 before them.
    tty.wait_for_text("you have joined as alice");
    let rows = tty.all_rows();
    let at = |end: &str| rows.iter().position(|r| r.ends_with(end));
    let joined = rows
        .iter()
        .position(|r| r.contains("you have joined as alice"));
    assert!(
        matches!((at("<bob> earlier 6"), at("<bob> earlier 25"), joined),
            (Some(f), Some(l), Some(j)) if f < l && l < j),
        "{rows:#?}"
    );
    assert!(at("<bob> earlier 5").is_none(), "{rows:#?}");
    tty.type_text("/history 25\r");
    tty.wait_for_text("25 earlier messages above");
    assert!(tty
        .all_rows()
        .iter()
        .any(|r| r.ends_with("<bob> earlier 5")));
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn someone_away_shows_in_the_private_prompt_and_answers_a_message() {
    let server = Natterd::start(&[]);
    let port = server.port();
    let mut bob = server.join("bob");
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    tty.wait_for_prompt("alice>");
    bob.expect("JOIN alice");
    tty.type_text("/to bob\r");
    tty.wait_for_prompt("alice → bob>");
    bob.send("AWAY out for lunch\n");
    bob.expect("OK AWAY");
    tty.wait_for_text("bob is away: out for lunch");
    // The prompt says so from the next line on.
    tty.type_text("are you there?\r");
    bob.expect_eventually("PRIVATE alice are you there?");
    tty.wait_for_text("* bob is away: out for lunch");
    tty.wait_for_prompt("alice → bob (away)>");
    bob.send("BACK\n");
    bob.expect("OK BACK");
    tty.wait_for_text("bob is back");
    tty.type_text("welcome back\r");
    bob.expect_eventually("PRIVATE alice welcome back");
    tty.wait_for_prompt("alice → bob>");
    tty.type_text("\x04");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn an_older_server_that_refuses_the_hello_options_still_lets_you_in() {
    let fake = FakeServer::bind();
    let port = fake.port();
    let history = TempPath::new("history");
    let mut tty = Tty::start(&args(&history.0, "alice", &port));
    let mut p = tty.while_reading(move || fake.accept_named_refusing_options("alice"));
    tty.wait_for_prompt("alice>");
    tty.type_text("/echo in\r");
    tty.while_reading(move || loop {
        // What natter asks for on joining, answered as an empty server would.
        match p.line().as_deref() {
            Some("WHO") => p.send("OK WHO 0\n"),
            Some("FILES") => p.send("OK FILES 0\n"),
            Some("ECHO in") => return p.send("OK ECHO in\n"),
            other => panic!("wanted the ECHO, got {other:?}"),
        }
    });
    tty.wait_for_text("echo: in");
}
