//! `churn`: connect, register and quit, `total` times, `concurrency` at a time.
//! Connection number i goes to the (i mod N)-th of N servers.
//! Reports connections completed per second and errors.

use super::Run;
use crate::net::{Happened, Net};
use crate::proto::Owned;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn run(run: &Run, total: u64, concurrency: usize) -> Result<bool, String> {
    let (proto, deadline) = (run.proto, run.deadline);
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let mut started = 0u64;
    let mut done = 0u64;
    let mut errors = 0u64;
    let mut live: HashMap<usize, bool> = Default::default();
    // The server of every connection started, for the `ports` line.
    let mut nodes = Vec::new();
    let mut happened = Vec::new();
    let mut events = Vec::new();
    let base = Instant::now();
    while (done + errors < total) && Instant::now() < deadline {
        while live.len() < concurrency && started < total {
            let name = format!("churn{started}");
            let node = run.node(started as usize);
            started += 1;
            nodes.push(node);
            match net.connect(run.addrs[node]) {
                Ok(k) => {
                    let mut hello = proto.register(&name, false);
                    hello.extend_from_slice(proto.quit());
                    net.send(k, &hello);
                    live.insert(k, false);
                }
                Err(_) => errors += 1,
            }
        }
        net.poll(Some(Duration::from_millis(100)), &mut happened);
        for h in happened.drain(..) {
            match h {
                Happened::Data(k) => {
                    if let Some(p) = net.peers.get_mut(k) {
                        proto.parse_owned(&mut p.rbuf, &mut events);
                    }
                    for e in events.drain(..) {
                        match e {
                            Owned::Ready => {
                                live.insert(k, true);
                            }
                            Owned::Error(_) => errors += 1,
                            _ => {}
                        }
                    }
                }
                Happened::Closed(k) => {
                    if let Some(p) = net.peers.get_mut(k) {
                        proto.parse_owned(&mut p.rbuf, &mut events);
                        for e in events.drain(..) {
                            if e == Owned::Ready {
                                live.insert(k, true);
                            }
                        }
                    }
                    match live.remove(&k) {
                        Some(true) => done += 1,
                        Some(false) => errors += 1,
                        None => {}
                    }
                    net.close(k);
                }
            }
        }
    }
    let elapsed = base.elapsed().as_secs_f64();
    println!("scenario churn");
    println!("proto {:?}", proto);
    run.print_ports(nodes);
    println!("completed {done}");
    println!("errors {}", errors + net.errors);
    println!("elapsed_s {elapsed:.3}");
    println!("connections_per_s {:.0}", done as f64 / elapsed);
    Ok(errors == 0 && done == total)
}
