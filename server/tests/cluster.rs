//! Several natterd nodes acting as one chat through a real redis-server: what users
//! on different nodes see, and what they see when a node dies, when Redis restarts or
//! is gone, with a password, over TLS, and with nodes sharing one port and one folder.
//!
//! Every test starts its own redis-server (persistence off) on a free loopback port.

use natter_testkit::{temp_dir, Natterd, Peer, Redis};
use std::time::{Duration, Instant};

/// A node of the cluster behind `redis`, once it says it is linked.
fn node(redis: &Redis, name: &str, extra: &[&str]) -> Natterd {
    let url = redis.url();
    let mut args = vec!["--cluster", &url, "--node-name", name, "--max-rate", "0"];
    args.extend_from_slice(extra);
    let n = Natterd::start(&args);
    n.wait_log(&format!("node {name} linked to"));
    n
}

/// Waits until every node has heard from every other.
fn meshed(nodes: &[(&Natterd, &str)]) {
    for (n, _) in nodes {
        for (_, other) in nodes {
            if !n.log().contains(&format!("node {other} linked")) {
                n.wait_log(&format!("cluster: node {other} is here"));
            }
        }
    }
}

/// The reply to WHO: names in order, and the final line.
fn who(p: &mut Peer) -> (Vec<String>, String) {
    p.send("WHO\n");
    let mut names = Vec::new();
    loop {
        let l = p.reply();
        if let Some(u) = l.strip_prefix("USER ") {
            names.push(u.split(' ').next().unwrap_or("").to_string());
        } else {
            return (names, l);
        }
    }
}

/// Sends `line` from `from` until `to` receives `want`, within `within`: what comes
/// back after a failure comes back by timers, not at a known moment.
fn until_heard(from: &mut Peer, line: &str, to: &mut Peer, want: &str, within: Duration) {
    let end = Instant::now() + within;
    loop {
        from.send(line);
        let step = Instant::now() + Duration::from_millis(500);
        to.stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        while Instant::now() < step {
            if let Some(l) = try_line(to) {
                if l == want {
                    return;
                }
            }
        }
        assert!(Instant::now() < end, "{want:?} never arrived");
    }
}

/// A line if one comes within the peer's read timeout.
fn try_line(p: &mut Peer) -> Option<String> {
    use std::io::Read;
    let mut one = [0u8; 1];
    let mut line = Vec::new();
    loop {
        match p.stream.read(&mut one) {
            Ok(1) if one[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into_owned()),
            Ok(1) => line.push(one[0]),
            _ if line.is_empty() => return None,
            _ => continue,
        }
    }
}

#[test]
fn three_nodes_act_as_one_chat() {
    let redis = Redis::start();
    let (n1, n2, n3) = (
        node(&redis, "n1", &[]),
        node(&redis, "n2", &[]),
        node(&redis, "n3", &[]),
    );
    meshed(&[(&n1, "n1"), (&n2, "n2"), (&n3, "n3")]);
    let mut alice = n1.join("alice");
    let mut bob = n2.join("bob");
    alice.expect_eventually("JOIN bob");
    let mut carol = n3.join("carol");
    alice.expect_eventually("JOIN carol");
    bob.expect_eventually("JOIN carol");

    // Names are unique across the cluster, ignoring case.
    let mut dup = n2.connect();
    dup.expect_prefix("WELCOME natter/1 ");
    dup.send("HELLO ALICE\n");
    dup.expect("ERR name-taken alice is taken (on node n1); choose another name");

    // SAY reaches every member on every node once, and is not echoed to its sender.
    alice.send("SAY hello everyone\n");
    alice.expect("OK SAY 2");
    bob.expect("FROM alice hello everyone");
    carol.expect("FROM alice hello everyone");

    // TELL reaches one user on another node, spelled as its holder spells it.
    alice.send("TELL CAROL psst\n");
    alice.expect("OK TELL carol");
    carol.expect("PRIVATE alice psst");

    // Per-sender order holds across nodes.
    for i in 0..200 {
        bob.send(&format!("SAY n{i}\n"));
    }
    for i in 0..200 {
        carol.expect(&format!("FROM bob n{i}"));
        alice.expect(&format!("FROM bob n{i}"));
    }
    for _ in 0..200 {
        bob.expect("OK SAY 2");
    }

    // WHO lists every node's users; STATUS every node's sessions with their node.
    let (names, fin) = who(&mut carol);
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(fin, "OK WHO 3 cluster of 3 nodes; this is n3");
    bob.send("STATUS\n");
    let mut sessions = Vec::new();
    let fin = loop {
        let l = bob.reply();
        match l.strip_prefix("SESSION ") {
            Some(s) => sessions.push(s.to_string()),
            None => break l,
        }
    };
    assert!(
        fin.starts_with("OK STATUS ") && fin.ends_with("cluster of 3 nodes; this is n2"),
        "{fin}"
    );
    let live: Vec<(String, String)> = sessions
        .iter()
        .filter(|s| s.split(' ').nth(4) == Some("-"))
        .map(|s| {
            let f: Vec<&str> = s.split(' ').collect();
            (f[1].to_string(), f.last().unwrap().to_string())
        })
        .collect();
    assert!(live.contains(&("bob".into(), "n2".into())), "{sessions:?}");
    assert!(
        live.contains(&("alice".into(), "n1".into())),
        "{sessions:?}"
    );
    assert!(
        live.contains(&("carol".into(), "n3".into())),
        "{sessions:?}"
    );

    // LEAVE with its reason reaches everyone, and the name is free everywhere.
    alice.send("QUIT off to lunch\n");
    bob.expect_eventually("LEAVE alice quit off to lunch");
    carol.expect_eventually("LEAVE alice quit off to lunch");
    let mut again = n3.connect();
    again.expect_prefix("WELCOME natter/1 ");
    again.send("HELLO Alice\n");
    again.expect("OK HELLO Alice");
    bob.expect_eventually("JOIN Alice");
}

#[test]
fn a_killed_node_is_gone_for_everyone_within_15_seconds_and_its_names_are_free() {
    let redis = Redis::start();
    let mut n1 = node(&redis, "n1", &[]);
    let n2 = node(&redis, "n2", &[]);
    meshed(&[(&n1, "n1"), (&n2, "n2")]);
    let mut alice = n1.join("alice");
    let mut bob = n2.join("bob");
    alice.expect_eventually("JOIN bob");
    let killed = Instant::now();
    n1.signal_and_wait(libc::SIGKILL);
    bob.expect_eventually_within(
        "LEAVE alice lost node n1 unreachable",
        Duration::from_secs(15),
    );
    // Its claim on the name lapses as the others notice it gone.
    let end = killed + Duration::from_secs(15);
    loop {
        let mut p = n2.connect();
        p.expect_prefix("WELCOME ");
        p.send("HELLO alice\n");
        if p.reply() == "OK HELLO alice" {
            break;
        }
        assert!(
            Instant::now() < end,
            "alice's name was still held 15 s after n1 was killed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn with_redis_down_each_node_serves_its_own_and_after_a_restart_chat_crosses_again() {
    let mut redis = Redis::start();
    let n1 = node(&redis, "n1", &[]);
    let n2 = node(&redis, "n2", &[]);
    meshed(&[(&n1, "n1"), (&n2, "n2")]);
    let mut alice = n1.join("alice");
    let mut carol = n1.join("carol");
    let mut bob = n2.join("bob");
    alice.expect_eventually("JOIN bob");
    carol.expect_eventually("JOIN bob");

    redis.kill();
    n1.wait_log("serves its own users only");
    // Local chat goes on; WHO says the cluster is degraded; a TELL across is refused.
    alice.send("SAY still here\n");
    alice.expect("OK SAY 1");
    carol.expect_eventually("FROM alice still here");
    let (_, fin) = who(&mut alice);
    assert!(
        fin.contains("cluster degraded: node n1 cannot reach redis://127.0.0.1:"),
        "{fin}"
    );
    alice.send("TELL bob are you there\n");
    let refused = alice.reply();
    assert!(
        refused.starts_with("ERR cluster-down bob is on node n2, which this node cannot reach"),
        "{refused}"
    );
    // Both nodes take the same name while they cannot ask Redis.
    let mut dave1 = n1.join("dave");
    let mut dave2 = n2.join("dave");

    redis.restart();
    until_heard(
        &mut alice,
        "SAY anyone?\n",
        &mut bob,
        "FROM alice anyone?",
        Duration::from_secs(10),
    );
    let (names, fin) = who(&mut bob);
    assert_eq!(fin, "OK WHO 4 cluster of 2 nodes; this is n2", "{names:?}");
    // The names are claimed again: Redis holds them for their nodes...
    assert_eq!(redis.command(&["GET", "natter:name:bob"]), "$2\r\nn2");
    assert_eq!(redis.command(&["GET", "natter:name:alice"]), "$2\r\nn1");
    // ...and the name taken twice went to one node; the other's user was told.
    let holder = redis.command(&["GET", "natter:name:dave"]);
    let loser = if holder.ends_with("n1") {
        &mut dave2
    } else {
        &mut dave1
    };
    let told = loser.expect_closed();
    assert!(
        told.iter().any(
            |l| l.starts_with("ERR name-taken another node of the cluster holds the name dave")
        ),
        "{told:?}"
    );
}

#[test]
fn a_password_protected_redis_needs_the_password_and_it_is_never_logged() {
    let redis = Redis::with_password("s3cret-Pass");
    let file = temp_dir("pw").join("password");
    std::fs::write(&file, "s3cret-Pass\n").unwrap();
    let f = file.display().to_string();
    let n1 = node(&redis, "n1", &["--cluster-password-file", &f]);
    let url = redis.url().replace("redis://", "redis://:s3cret-Pass@");
    let n2 = Natterd::start(&["--cluster", &url, "--node-name", "n2"]);
    n2.wait_log("node n2 linked to redis://(password)@127.0.0.1:");
    meshed(&[(&n1, "n1"), (&n2, "n2")]);
    let mut a = n1.join("alice");
    let mut b = n2.join("bob");
    a.expect_eventually("JOIN bob");
    a.send("SAY pw ok\n");
    b.expect_eventually("FROM alice pw ok");

    let wrong = Natterd::start(&["--cluster", &redis.url(), "--node-name", "n3"]);
    wrong.wait_log("Redis refused");
    let mut c = wrong.join("carol");
    let (_, fin) = who(&mut c);
    assert!(fin.contains("cluster degraded"), "{fin}");
    for n in [&n1, &n2, &wrong] {
        assert!(
            !n.log().contains("s3cret"),
            "a password in the log:\n{}",
            n.log()
        );
    }
}

#[test]
fn a_tls_redis_is_reached_with_rediss_and_a_ca_file() {
    let dir = temp_dir("redis-tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
    let redis = Redis::with_tls(&c, &k);
    let ca = c.display().to_string();
    let n1 = node(&redis, "n1", &["--cluster-ca", &ca]);
    let mut a = n1.join("alice");
    // Enough users that n1's roster is several TLS records (past rustls's 64 KiB of
    // plaintext at a time).
    let crowd: Vec<std::net::TcpStream> = (0..800)
        .map(|i| {
            let mut s = std::net::TcpStream::connect(n1.addr).unwrap();
            std::io::Write::write_all(&mut s, format!("HELLO crowd{i:03}\n").as_bytes()).unwrap();
            s
        })
        .collect();
    let end = Instant::now() + Duration::from_secs(20);
    while who(&mut a).0.len() < 801 {
        assert!(Instant::now() < end, "the crowd never joined");
    }
    let n2 = node(&redis, "n2", &["--cluster-ca", &ca]);
    meshed(&[(&n1, "n1"), (&n2, "n2")]);
    let mut b = n2.join("bob");
    let (names, _) = who(&mut b);
    assert_eq!(names.len(), 802, "n2 knows all of n1's users");
    assert!(!n1.log().contains("writing to Redis"), "{}", n1.log());
    drop(crowd);
    a.expect_eventually("JOIN bob");
    b.send("TELL alice over tls\n");
    a.expect_eventually("PRIVATE bob over tls");
    // Without the CA the certificate is not trusted: the node says so and serves alone.
    let untrusting = Natterd::start(&["--cluster", &redis.url(), "--node-name", "n3"]);
    untrusting.wait_log("serves its own users only");
}

#[test]
fn nodes_sharing_a_port_and_a_folder_act_as_one_server() {
    let redis = Redis::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = temp_dir("shared-by-two");
    let url = redis.url();
    let args = |name: &'static str| {
        [
            "--cluster",
            &url,
            "--node-name",
            name,
            "--reuse-port",
            "--max-rate",
            "0",
        ]
        .map(String::from)
    };
    let a1 = args("p1");
    let a2 = args("p2");
    let n1 = Natterd::start_on(
        port,
        &dir,
        &a1.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let n2 = Natterd::start_on(
        port,
        &dir,
        &a2.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    n1.wait_log("node p1 linked");
    n2.wait_log("node p2 linked");
    meshed(&[(&n1, "p1"), (&n2, "p2")]);
    // The kernel spreads connections over both; every user sees every other.
    let mut peers: Vec<Peer> = (0..16).map(|i| n1.join(&format!("u{i:02}"))).collect();
    // The last to join is heard of on both nodes (it may have joined the other).
    peers[0].expect_eventually("JOIN u15");
    let (names, fin) = who(&mut peers[0]);
    assert_eq!(names.len(), 16, "{names:?}");
    assert!(
        fin.starts_with("OK WHO 16 cluster of 2 nodes; this is p"),
        "{fin}"
    );
    let on_p2 = n2.log().matches(" is now u").count();
    assert!(on_p2 > 0 && on_p2 < 16, "the kernel gave p2 {on_p2} of 16");

    // One folder: an upload on either node is there for both, under distinct names.
    put(&mut peers[1], "same.txt", b"one");
    put(&mut peers[2], "same.txt", b"two");
    let stored_as = |p: &mut Peer| {
        let done = p.expect_reply_prefix("DONE ");
        done.split(' ').nth(2).unwrap_or("").to_string()
    };
    let stored_by_u01 = stored_as(&mut peers[1]);
    let mut stored = vec![stored_by_u01.clone(), stored_as(&mut peers[2])];
    stored.sort();
    assert_eq!(stored, ["same.txt", "same_1.txt"]);
    peers[3].send("FILES\n");
    let mut files = Vec::new();
    loop {
        let l = peers[3].reply();
        if let Some(f) = l.strip_prefix("FILE ") {
            files.push(f.split(' ').next().unwrap().to_string());
        } else {
            break;
        }
    }
    files.sort();
    assert_eq!(files, ["same.txt", "same_1.txt"]);
    peers[4].expect_eventually(&format!("SHARED u01 {} 3", stored_by_u01));
}

/// An upload from a peer that shares the room: events may come before the reply.
fn put(p: &mut Peer, name: &str, data: &[u8]) -> String {
    p.send(&format!("PUT {name} {}\n", data.len()));
    let l = p.expect_reply_prefix("OK PUT ");
    let f: Vec<&str> = l.split(' ').collect();
    p.send(&format!("DATA {} {}\n", f[2], data.len()));
    p.send_bytes(data);
    f[3].to_string()
}

/// A `natter:name:` key that is not a claim (a list, put there by hand) is nobody's:
/// a user can take that name, and the node's refreshes go on keeping all its names.
/// (Before, its WRONGTYPE failed the whole refresh, and every name of the node lapsed.)
#[test]
fn a_name_key_of_the_wrong_type_spoils_no_claim() {
    let redis = Redis::start();
    let n1 = node(&redis, "n1", &[]);
    redis.command(&["LPUSH", "natter:name:poisoned", "x"]);
    let _solid = n1.join("solid");
    let _poisoned = n1.join("poisoned");
    assert!(redis
        .command(&["GET", "natter:name:poisoned"])
        .ends_with("n1"));
    // Spoilt again under a live user: the next refresh puts the claim back, and
    // keeps the other names in the same batch.
    redis.command(&["DEL", "natter:name:poisoned"]);
    redis.command(&["LPUSH", "natter:name:poisoned", "x"]);
    redis.command(&["PEXPIRE", "natter:name:solid", "60000"]);
    let end = Instant::now() + Duration::from_secs(10);
    while !redis
        .command(&["GET", "natter:name:poisoned"])
        .ends_with("n1")
    {
        assert!(
            Instant::now() < end,
            "the claim on poisoned never came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ttl = redis.command(&["PTTL", "natter:name:solid"]);
    let ms: u64 = ttl.trim_start_matches(':').parse().unwrap_or(u64::MAX);
    assert!(ms <= 9_000, "solid's claim was not refreshed: PTTL {ttl}");
}
