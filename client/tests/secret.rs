//! A server that wants a shared secret, end to end in batch mode: the secret from
//! `NATTER_SECRET` and from `--secret-file`, none at all, a wrong one, and a secret
//! file that cannot be read. (The hidden prompt is tested in a pseudo-terminal, in
//! `interactive.rs`.)

mod common;

use common::*;

const SECRET: &str = "open sesame 42 ✓";

/// natterd wanting [`SECRET`], from its own secret file.
fn guarded() -> (Natterd, TempPath) {
    let dir = TempPath::new("secret");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("server-secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let server = Natterd::start(&["--secret-file", file.to_str().unwrap()]);
    (server, dir)
}

#[test]
fn the_secret_from_the_environment_lets_a_script_in() {
    let (server, _dir) = guarded();
    let mut bob = {
        let mut p = Peer::connect(server.addr);
        p.expect_prefix("WELCOME ");
        p.send(&format!("AUTH {}\n", SECRET.replace(' ', "%20")));
        p.expect("OK AUTH");
        p.send("HELLO bob\n");
        p.expect("OK HELLO bob");
        p.expect("JOIN bob");
        p
    };
    let mut cmd = natter(&["alice", "127.0.0.1", &server.port()]);
    cmd.env("NATTER_SECRET", SECRET);
    let out = run_cmd(cmd, "hello through the gate\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    bob.expect("JOIN alice");
    bob.expect("FROM alice hello through the gate");
    assert!(!text(&out.stdout).contains(SECRET) && !text(&out.stderr).contains(SECRET));
}

#[test]
fn the_secret_from_a_file_lets_a_script_in() {
    let (server, dir) = guarded();
    let mine = dir.0.join("client-secret");
    std::fs::write(&mine, format!("{SECRET}\r\n")).unwrap();
    let mut cmd = natter(&[
        "--secret-file",
        mine.to_str().unwrap(),
        "alice",
        "127.0.0.1",
        &server.port(),
    ]);
    // The file wins over the environment.
    cmd.env("NATTER_SECRET", "not this one");
    let out = run_cmd(cmd, "/echo in\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("* echo: in"));
}

#[test]
fn no_secret_is_exit_6_with_the_way_to_give_one() {
    let (server, _dir) = guarded();
    let out = run_batch(&["alice", "127.0.0.1", &server.port()], "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "! this server wants a secret before a name: give it with --secret-file PATH or the NATTER_SECRET environment variable"
    );
}

#[test]
fn a_wrong_secret_is_exit_6() {
    let (server, _dir) = guarded();
    let mut cmd = natter(&["alice", "127.0.0.1", &server.port()]);
    cmd.env("NATTER_SECRET", "open sesame 43");
    let out = run_cmd(cmd, "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.starts_with("! the server refused the secret: ")
            && stderr
                .trim_end()
                .ends_with("(the secret from NATTER_SECRET)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sesame"),
        "never the secret itself: {stderr}"
    );
}

#[test]
fn an_unreadable_secret_file_is_a_usage_error() {
    let dir = TempPath::new("nosecret");
    let missing = dir.0.join("missing");
    let out = run_batch(
        &[
            "--secret-file",
            missing.to_str().unwrap(),
            "alice",
            "127.0.0.1",
            "1",
        ],
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("natter: cannot read the secret file ")
            && stderr.trim_end().ends_with("(check --secret-file)"),
        "{stderr}"
    );
}
