//! The scenarios, one module per subcommand, and what they share: [`Run`], the
//! settings every scenario is given, and [`connect_clients`], which opens and
//! registers the clients a scenario needs before its measured phase.
//!
//! With several ports (`--port A,B,C`) client (or connection) number i goes to the
//! (i mod N)-th, round robin ([`Run::node`]), and each scenario prints a `ports` line
//! saying how many went to each.
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

/// Where the servers are, how to speak to them, and when to give up.
pub struct Run {
    /// One server, or several (`--port A,B,C`): nodes of one cluster, or servers apart.
    pub addrs: Vec<SocketAddr>,
    pub proto: Proto,
    /// Connections opened before waiting for them to register (`--connect-batch`).
    pub connect_batch: usize,
    /// Every run stops here, whatever the state (`--timeout`).
    pub deadline: Instant,
    /// natter only: the largest DATA body a client asks for in its HELLO
    /// (`download --frame`); natterd's 64 KiB default when `None`.
    pub data: Option<u32>,
}

impl Run {
    /// Which server (an index in `addrs`) client or connection number `i` goes to.
    pub fn node(&self, i: usize) -> usize {
        node_of(i, self.addrs.len())
    }

    /// The `ports` line, when there are several: how many of the clients whose nodes
    /// are given went to each port, as `PORT:COUNT` pairs.
    pub fn print_ports(&self, nodes: impl IntoIterator<Item = usize>) {
        if self.addrs.len() > 1 {
            let line: Vec<String> = tally(nodes, self.addrs.len())
                .iter()
                .zip(&self.addrs)
                .map(|(n, a)| format!("{}:{n}", a.port()))
                .collect();
            println!("ports {}", line.join(" "));
        }
    }
}

/// Round robin: number `i` of a run's clients or connections goes to node `i mod nodes`.
pub fn node_of(i: usize, nodes: usize) -> usize {
    i % nodes.max(1)
}

/// How many of `nodes` are each of `0..count`.
fn tally(nodes: impl IntoIterator<Item = usize>, count: usize) -> Vec<usize> {
    let mut per = vec![0; count];
    for n in nodes {
        per[n] += 1;
    }
    per
}

/// One registered client's connections, by their keys in [`Net::peers`].
pub struct Member {
    /// The connection that sends (and, but for Redis, receives).
    pub tx: usize,
    /// Redis: the subscribing connection.
    pub rx: Option<usize>,
    /// Which server both are connected to (an index in [`Run::addrs`]).
    pub node: usize,
}

/// Connects `n` clients, round robin over the servers, and waits until every one is
/// registered (and, with `pair`, in the room). Returns the clients, and which client each connection belongs to,
/// indexed by connection key.
pub fn connect_clients(
    net: &mut Net,
    run: &Run,
    n: usize,
    prefix: &str,
    pair: bool,
) -> Result<(Vec<Member>, Vec<Option<usize>>), String> {
    let proto = run.proto;
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
        let node = run.node(i);
        let addr = run.addrs[node];
        let tx = net
            .connect(addr)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let mut hello = proto.register(&name, false);
        if let (Proto::Natter, Some(n)) = (proto, run.data) {
            hello.pop();
            hello.extend_from_slice(format!(" data={n}\n").as_bytes());
        }
        net.send(tx, &hello);
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
        members.push(Member { tx, rx, node });
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

#[cfg(test)]
mod tests {
    use super::{node_of, tally};

    #[test]
    fn round_robin() {
        let nodes: Vec<usize> = (0..7).map(|i| node_of(i, 3)).collect();
        assert_eq!(nodes, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(tally(nodes, 3), [3, 2, 2]);
        assert!((0..5).all(|i| node_of(i, 1) == 0));
        assert_eq!(tally((0..2).map(|i| node_of(i, 3)), 3), [1, 1, 0]);
        // No server at all is not a division by zero (main never lets it happen).
        assert_eq!(node_of(4, 0), 0);
    }
}
