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
        "--server-pid",
        &a.pid().to_string(),
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
    assert!(line(&out, "server_cpu_s").is_some());
    assert!(line(&out, "server_rss_kib").is_some());
    assert_eq!(
        line(&out, "server_pid"),
        None,
        "one pid has no server_pid line"
    );
}

#[test]
fn idle_clients_go_round_robin_over_two_servers() {
    let (a, b) = (server(), server());
    let ports = format!("{},{}", a.port(), b.port());
    let pids = format!("{},{}", a.pid(), b.pid());
    let (code, out) = load(&[
        "--port",
        &ports,
        "--server-pid",
        &pids,
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
    // Each server's memory, and their sum.
    let held = |l: &str| -> u64 {
        let rest = l.strip_prefix("start ").expect("start KiB");
        let (_, held) = rest.split_once(" held ").expect("held KiB");
        held.parse().expect("a number")
    };
    let each: Vec<(u32, u64)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("server_pid "))
        .map(|l| {
            let (pid, rest) = l.split_once(" server_rss_kib ").expect("a server_rss_kib");
            (pid.parse().expect("a pid"), held(rest))
        })
        .collect();
    assert_eq!(
        each.iter().map(|e| e.0).collect::<Vec<_>>(),
        [a.pid(), b.pid()]
    );
    assert!(each.iter().all(|e| e.1 > 0), "every server has memory");
    let sum = held(line(&out, "server_rss_kib").expect("the sum"));
    assert_eq!(sum, each[0].1 + each[1].1);
}

/// Two servers that are not a cluster: each client hears only the clients of its own
/// server, so every message to the other server's clients is lost, and every delivery
/// that arrives is a same-port one.
#[test]
fn fanout_over_two_servers_apart_hears_only_its_own_server() {
    let (a, b) = (server(), server());
    let ports = format!("{},{}", a.port(), b.port());
    let (code, out) = load(&[
        "--port",
        &ports,
        "fanout",
        "--clients",
        "5",
        "--messages",
        "10",
    ]);
    assert_eq!(code, Some(1), "lost messages fail the run");
    let want = format!("{}:3 {}:2", a.port(), b.port());
    assert_eq!(line(&out, "ports"), Some(want.as_str()));
    // Clients 0, 2, 4 on one server hear each other, 1 and 3 on the other.
    let heard = 3 * 2 * 10 + 2 * 10;
    assert_eq!(line(&out, "expected"), Some("200"));
    assert_eq!(line(&out, "delivered"), Some(heard.to_string().as_str()));
    assert_eq!(line(&out, "lost"), Some((200 - heard).to_string().as_str()));
    assert_eq!(line(&out, "errors"), Some("0"));
    let same = line(&out, "latency_same_port_us").expect("same-port latency");
    assert!(same.starts_with(&format!("count {heard} p50 ")), "{same}");
    assert_eq!(line(&out, "latency_cross_port_us"), Some("count 0"));
}

#[test]
fn fanout_over_two_cluster_nodes_loses_nothing_and_measures_the_crossing() {
    let redis = natter_testkit::Redis::start();
    let url = redis.url();
    let node = |name: &str| {
        let n = Natterd::start(&["--max-rate", "0", "--cluster", &url, "--node-name", name]);
        n.wait_log(&format!("node {name} linked"));
        n
    };
    let (a, b) = (node("a"), node("b"));
    a.wait_log("cluster: node b is here");
    b.wait_log("cluster: node a is here");
    let ports = format!("{},{}", a.port(), b.port());
    let (code, out) = load(&[
        "--port",
        &ports,
        "fanout",
        "--clients",
        "6",
        "--messages",
        "20",
        "--rate",
        "50",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(line(&out, "lost"), Some("0"), "{out}");
    assert_eq!(line(&out, "delivered"), Some("600"), "{out}");
    // 6 clients, 3 per node: of each message's 5 receivers, 3 are on the other node.
    let cross = line(&out, "latency_cross_port_us").unwrap_or("");
    assert!(cross.starts_with("count 360 "), "{out}");
}
