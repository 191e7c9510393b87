//! The scenarios, one module per subcommand, and what they share: [`Run`], the
//! settings every scenario is given, and [`connect_clients`], which opens and
//! registers the clients a scenario needs before its measured phase.
//!
//! A scenario drives [`Net`] and reads what arrives through [`Proto`]; it never
//! touches a socket itself. Only `download` reads frames of its own (DATA headers and
//! HTTP response heads), to count bodies without copying them. Each prints its own
//! `key value` lines and returns whether the run was clean.

pub mod churn;
pub mod download;
pub mod fanout;
pub mod idle;

use crate::net::{Happened, Net};
use crate::proto::{Owned, Proto};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where the server is, how to speak to it, and when to give up.
pub struct Run {
    pub addr: SocketAddr,
    pub proto: Proto,
    /// Connections opened before waiting for them to register (`--connect-batch`).
    pub connect_batch: usize,
    /// Every run stops here, whatever the state (`--timeout`).
    pub deadline: Instant,
}

/// One registered client's connections, by their keys in [`Net::peers`].
pub struct Member {
    /// The connection that sends (and, but for Redis, receives).
    pub tx: usize,
    /// Redis: the subscribing connection.
    pub rx: Option<usize>,
}

/// Connects `n` clients and waits until every one is registered (and, with `pair`,
/// in the room). Returns the clients, and which client each connection belongs to,
/// indexed by connection key.
pub fn connect_clients(
    net: &mut Net,
    run: &Run,
    n: usize,
    prefix: &str,
    pair: bool,
) -> Result<(Vec<Member>, Vec<Option<usize>>), String> {
    let (proto, addr) = (run.proto, run.addr);
    let batch = run.connect_batch.max(1);
    let mut members = Vec::with_capacity(n);
    // How many of the replies it waits for each client has had.
    let mut progress: Vec<u8> = Vec::with_capacity(n);
    // Which client a connection belongs to, by its slab key.
    let mut owner: Vec<Option<usize>> = Vec::new();
    let mut happened = Vec::new();
    let mut events = Vec::new();
    let mut ready = 0;
    // Room members: Redis needs two connections (a subscribed connection cannot
    // publish), IRC is ready after both its welcome and its JOIN.
    let paired = pair && proto == Proto::Redis;
    let needed: u8 = if pair && proto != Proto::Natter { 2 } else { 1 };
    for i in 0..n {
        let name = format!("{prefix}{i}");
        let tx = net
            .connect(addr)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        net.send(tx, &proto.register(&name, false));
        set_owner(&mut owner, tx, i);
        let rx = if paired {
            let rx = net
                .connect(addr)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            net.send(rx, &proto.register(&name, true));
            set_owner(&mut owner, rx, i);
            Some(rx)
        } else {
            None
        };
        members.push(Member { tx, rx });
        progress.push(0);
        // Connect in batches so the listen backlog never overflows.
        if (i + 1) % batch == 0 || i + 1 == n {
            while ready < i + 1 {
                if Instant::now() > run.deadline {
                    return Err(format!(
                        "only {ready} of {n} clients registered before the timeout"
                    ));
                }
                net.poll(Some(Duration::from_millis(100)), &mut happened);
                for h in happened.drain(..) {
                    let (Happened::Data(k) | Happened::Closed(k)) = h;
                    let Some(ci) = owner.get(k).copied().flatten() else {
                        continue;
                    };
                    let closed = matches!(h, Happened::Closed(_));
                    if let Some(p) = net.peers.get_mut(k) {
                        proto.parse_owned(&mut p.rbuf, &mut events);
                    }
                    for e in events.drain(..) {
                        match e {
                            Owned::Ready => {
                                progress[ci] += 1;
                                // An IRC room member joins once it is welcomed.
                                if pair && progress[ci] == 1 {
                                    if let Some(join) = proto.join() {
                                        net.send(k, &join);
                                    }
                                }
                                if progress[ci] == needed {
                                    ready += 1;
                                }
                            }
                            Owned::Reply(b) => net.send(k, &b),
                            Owned::Error(e) => return Err(format!("client {ci} refused: {e}")),
                            _ => {}
                        }
                    }
                    if closed {
                        return Err(format!(
                            "client {ci}'s connection closed during registration"
                        ));
                    }
                }
            }
        }
    }
    Ok((members, owner))
}

/// Records that connection `k` belongs to client `i`.
pub fn set_owner(owner: &mut Vec<Option<usize>>, k: usize, i: usize) {
    if owner.len() <= k {
        owner.resize(k + 1, None);
    }
    owner[k] = Some(i);
}
