//! `fanout`: N clients in one room each send M messages, flat out (at most `window`
//! unacknowledged, or with `window` 0 all back to back) or paced at `rate` per
//! second; every other client receives each.
//! Reports deliveries per second, latency from the timestamp each message carries,
//! lost messages and errors, and with `--server-pid` the server's CPU per delivery.
//!
//! Over several servers (`--port A,B`: the nodes of one cluster) every client still
//! expects every other's messages, and latency is also reported apart for messages
//! whose sender and receiver are on the same port and on different ports: the cost of
//! crossing nodes. Each delivery is recorded once, in one of two histograms, merged
//! for the overall figures at the end.

use super::{connect_clients, Run};
use crate::net::{Happened, Net};
use crate::proto::Event;
use crate::stats::{self, now_us, Histogram, ServerStats};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The `fanout` options.
pub struct Plan {
    pub clients: usize,
    pub messages: u64,
    pub rate: f64,
    pub size: usize,
    pub window: u64,
}

/// One sender's progress.
struct Client {
    /// The connection that sends (and, but for Redis, receives).
    tx: usize,
    /// Redis: the subscribing connection.
    rx: Option<usize>,
    /// Which server it is connected to (an index in [`Run::addrs`]).
    node: usize,
    sent: u64,
    acked: u64,
    /// IRC: message counts at which window probes were sent.
    probes: VecDeque<u64>,
    next_send: Instant,
}

pub fn run(run: &Run, server: Option<&ServerStats>, plan: Plan) -> Result<bool, String> {
    let proto = run.proto;
    let deadline = run.deadline;
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let (members, owner) = connect_clients(&mut net, run, plan.clients, "load", true)?;
    let mut clients: Vec<Client> = members
        .into_iter()
        .map(|m| Client {
            tx: m.tx,
            rx: m.rx,
            node: m.node,
            sent: 0,
            acked: 0,
            probes: VecDeque::new(),
            next_send: Instant::now(),
        })
        .collect();
    let n = clients.len() as u64;
    let expected = n * plan.messages * (n - 1);
    let pad = "x".repeat(plan.size);
    let mut server = server.cloned();
    if let Some(s) = server.as_mut() {
        s.mark();
    }
    let base = Instant::now();
    let interval = if plan.rate > 0.0 {
        Some(Duration::from_secs_f64(1.0 / plan.rate))
    } else {
        None
    };
    for (i, c) in clients.iter_mut().enumerate() {
        // Spread paced senders over one interval so they do not all fire at once.
        if let Some(iv) = interval {
            c.next_send = base + iv.mul_f64(i as f64 / n as f64);
        }
    }
    // Latency of deliveries between clients of one server, and across servers.
    let (mut same, mut cross) = (Histogram::new(), Histogram::new());
    let nodes: Vec<usize> = clients.iter().map(|c| c.node).collect();
    let mut delivered = 0u64;
    let mut errors = Vec::new();
    let mut happened = Vec::new();
    let mut replies: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut buf = Vec::new();
    let mut last_progress = Instant::now();
    let mut all_sent_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        // Send what is due.
        let mut next_due: Option<Instant> = None;
        for (i, c) in clients.iter_mut().enumerate() {
            while c.sent < plan.messages {
                let due = match interval {
                    Some(iv) => {
                        if now < c.next_send {
                            next_due = Some(next_due.map_or(c.next_send, |d| d.min(c.next_send)));
                            break;
                        }
                        c.next_send += iv;
                        true
                    }
                    // Window 0: no window, every message written back to back.
                    None => plan.window == 0 || c.sent - c.acked < plan.window,
                };
                if !due {
                    break;
                }
                buf.clear();
                let text = format!("{i} {} {} {pad}", c.sent, now_us(base));
                proto.say(&text, &mut buf);
                c.sent += 1;
                if let Some(probe) = proto.window_probe() {
                    let every = if plan.window == 0 {
                        32
                    } else {
                        (plan.window / 2).max(1)
                    };
                    if c.sent % every == 0 || c.sent == plan.messages {
                        buf.extend_from_slice(probe);
                        c.probes.push_back(c.sent);
                    }
                }
                net.send(c.tx, &buf);
            }
        }
        if all_sent_at.is_none() && clients.iter().all(|c| c.sent == plan.messages) {
            all_sent_at = Some(Instant::now());
        }
        if delivered >= expected || now > deadline {
            break;
        }
        // Nothing arriving for 5 s after the last send: the rest is lost.
        if all_sent_at.is_some() && last_progress.elapsed() > Duration::from_secs(5) {
            break;
        }
        let timeout = match next_due {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_millis(100),
        };
        net.poll(Some(timeout), &mut happened);
        // One clock read per poll: every delivery in it arrived by then.
        let now = now_us(base);
        let before = delivered;
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            let Some(ci) = owner.get(k).copied().flatten() else {
                continue;
            };
            if matches!(h, Happened::Closed(_)) {
                errors.push(format!("client {ci} lost its connection"));
            }
            let Some(p) = net.peers.get_mut(k) else {
                continue;
            };
            let mut rbuf = std::mem::take(&mut p.rbuf);
            let client = &mut clients[ci];
            let used = proto.parse(&rbuf, &mut |e| match e {
                Event::Message(text) => {
                    let (from, rest) = number(text);
                    let (_seq, rest) = number(rest);
                    let (sent_us, _) = number(rest);
                    if from == Some(ci as u64) {
                        return; // Redis also delivers to the sender's own subscription.
                    }
                    if let Some(t) = sent_us {
                        let h = if crosses(&nodes, from, ci) {
                            &mut cross
                        } else {
                            &mut same
                        };
                        h.record(now.saturating_sub(t));
                    }
                    delivered += 1;
                }
                Event::Acked(1) => client.acked += 1,
                Event::Acked(_) => {
                    if let Some(upto) = client.probes.pop_front() {
                        client.acked = upto;
                    }
                }
                Event::Reply(b) => replies.push((k, b)),
                Event::Error(e) if errors.len() < 20 => errors.push(format!("client {ci}: {e}")),
                _ => {}
            });
            rbuf.drain(..used);
            if let Some(p) = net.peers.get_mut(k) {
                p.rbuf = rbuf;
            }
        }
        for (k, b) in replies.drain(..) {
            net.send(k, &b);
        }
        if delivered > before {
            last_progress = Instant::now();
        }
    }
    let elapsed = base.elapsed().as_secs_f64();
    for c in &clients {
        net.send(c.tx, proto.quit());
        if let Some(rx) = c.rx {
            net.send(rx, proto.quit());
        }
    }
    let sent: u64 = clients.iter().map(|c| c.sent).sum();
    let lost = expected.saturating_sub(delivered);
    println!("scenario fanout");
    println!("proto {:?}", proto);
    run.print_ports(clients.iter().map(|c| c.node));
    println!("clients {}", n);
    println!("messages_per_client {}", plan.messages);
    println!(
        "rate {}",
        if plan.rate > 0.0 {
            format!("{}", plan.rate)
        } else {
            "flat".into()
        }
    );
    println!("payload_bytes {}", plan.size);
    println!("sent {sent}");
    println!("delivered {delivered}");
    println!("expected {expected}");
    println!("lost {lost}");
    println!("errors {}", errors.len() as u64 + net.errors);
    println!("elapsed_s {elapsed:.3}");
    println!("deliveries_per_s {:.0}", delivered as f64 / elapsed);
    let mut all = same.clone();
    all.merge(&cross);
    all.print();
    if run.addrs.len() > 1 {
        same.print_part("latency_same_port_us");
        cross.print_part("latency_cross_port_us");
    }
    if let Some(s) = &server {
        let each = s.sample();
        let all = stats::total(&each);
        stats::print_cpu(all.cpu_s, delivered);
        println!("server_rss_kib {}", all.rss_kib);
        stats::print_each(&each, |s| {
            format!("server_cpu_s {:.3} server_rss_kib {}", s.cpu_s, s.rss_kib)
        });
    }
    for e in errors.iter().take(5) {
        eprintln!("natter-load: {e}");
    }
    Ok(lost == 0 && errors.is_empty())
}

/// Whether a message from client `from` (as its text says) to client `to` crossed from
/// one server to another, given each client's server. A sender it cannot name is taken
/// to be on the receiver's server.
fn crosses(nodes: &[usize], from: Option<u64>, to: usize) -> bool {
    let sender = from.and_then(|f| nodes.get(usize::try_from(f).ok()?));
    sender.is_some_and(|&s| Some(&s) != nodes.get(to))
}

/// The number at the front of a space-separated text, and what follows it.
fn number(text: &[u8]) -> (Option<u64>, &[u8]) {
    let (w, rest) = match memchr::memchr(b' ', text) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[][..]),
    };
    (crate::proto::digits(w), rest)
}

#[cfg(test)]
mod tests {
    use super::{crosses, number};
    use crate::scenarios::node_of;

    #[test]
    fn same_and_cross_port() {
        // Five clients round robin over two servers: 0, 2, 4 on one, 1, 3 on the other.
        let nodes: Vec<usize> = (0..5).map(|i| node_of(i, 2)).collect();
        assert!(!crosses(&nodes, Some(0), 2));
        assert!(!crosses(&nodes, Some(4), 0));
        assert!(!crosses(&nodes, Some(3), 1));
        assert!(crosses(&nodes, Some(0), 1));
        assert!(crosses(&nodes, Some(3), 4));
        // Senders it cannot name count as the receiver's own server.
        assert!(!crosses(&nodes, None, 1));
        assert!(!crosses(&nodes, Some(5), 1));
        assert!(!crosses(&nodes, Some(u64::MAX), 1));
        // One server: nothing crosses.
        let one = vec![0; 3];
        assert!((0..3).all(|f| (0..3).all(|t| !crosses(&one, Some(f), t))));
    }

    #[test]
    fn message_fields() {
        let (from, rest) = number(b"12 7 123456 xxxx");
        let (seq, rest) = number(rest);
        let (sent, rest) = number(rest);
        assert_eq!(
            (from, seq, sent, rest),
            (Some(12), Some(7), Some(123456), &b"xxxx"[..])
        );
        assert_eq!(number(b"x 1"), (None, &b"1"[..]));
        assert_eq!(number(b"5"), (Some(5), &b""[..]));
        // Digits only: no sign, no spaces, nothing past u64.
        assert_eq!(number(b"+5 x").0, None);
        assert_eq!(number(b" 5").0, None);
        assert_eq!(number(b"").0, None);
        assert_eq!(number(b"18446744073709551615").0, Some(u64::MAX));
        assert_eq!(number(b"18446744073709551616").0, None);
        assert_eq!(number(b"12a").0, None);
        assert_eq!(number(b"0009").0, Some(9));
    }
}
