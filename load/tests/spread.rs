//! natter-load against real natterd processes (each on a free loopback port, from the
//! testkit): one port as ever, and clients spread round robin over two servers. The
//! servers are separate natterds, not a cluster, so each delivers only among its own
//! clients; what each server logs says which clients it got.

use natter_testkit::Natterd;
use std::process::Command;

/// Runs natter-load; returns its exit code and what it printed.
fn load(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_natter-load"))
        .args(["--timeout", "60"])
        .args(args)
        .output()
        .expect("run natter-load");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("natter-load {args:?}:\n{stdout}{stderr}");
    (out.status.code(), stdout)
}

/// The rest of the `key ...` line, if natter-load printed one.
fn line<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
}

fn server() -> Natterd {
    Natterd::start(&["--max-rate", "0"])
}

#[test]
fn one_port_is_one_server_as_ever() {
    let a = server();
    let (code, out) = load(&[
        "--port",
        &a.port(),
        "fanout",
        "--clients",
        "3",
        "--messages",
        "5",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(line(&out, "expected"), Some("30"));
    assert_eq!(line(&out, "delivered"), Some("30"));
    assert_eq!(line(&out, "lost"), Some("0"));
    assert_eq!(line(&out, "ports"), None, "one port has no ports line");
}

#[test]
fn idle_clients_go_round_robin_over_two_servers() {
    let (a, b) = (server(), server());
    let ports = format!("{},{}", a.port(), b.port());
    let (code, out) = load(&[
        "--port",
        &ports,
        "idle",
        "--connections",
        "5",
        "--seconds",
        "0",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(line(&out, "connections"), Some("5"));
    let want = format!("{}:3 {}:2", a.port(), b.port());
    assert_eq!(line(&out, "ports"), Some(want.as_str()));
    // Each server named the clients natter-load says it sent there, and no others.
    for (srv, mine, theirs) in [
        (&a, [0, 2, 4].as_slice(), [1, 3].as_slice()),
        (&b, &[1, 3], &[0, 2, 4]),
    ] {
        for i in mine {
            srv.wait_log(&format!("is now idle{i}\n"));
        }
        let log = srv.log();
        for i in theirs {
            assert!(
                !log.contains(&format!("is now idle{i}\n")),
                "idle{i} on the wrong server:\n{log}"
            );
        }
    }
}
