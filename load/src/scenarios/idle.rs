//! `idle`: C registered connections held open for T seconds, and until nothing has
//! arrived for 2 s, so the server's memory is read once its queues have drained.
//! Reports the server's RSS per connection.

use super::{connect_clients, Run};
use crate::net::{Happened, Net};
use crate::proto::Owned;
use crate::stats::{self, ServerStats};
use std::time::{Duration, Instant};

pub fn run(
    run: &Run,
    server: Option<&ServerStats>,
    connections: usize,
    seconds: u64,
) -> Result<bool, String> {
    let proto = run.proto;
    let deadline = run.deadline;
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let (clients, _) = connect_clients(&mut net, run, connections, "idle", false)?;
    let setup = start.elapsed().as_secs_f64();
    // Let the server settle (natter sends every JOIN to every member), reading meanwhile:
    // hold for the time asked and until nothing has arrived for two seconds, so the
    // server's memory is read once its queues have drained.
    let hold_until = Instant::now() + Duration::from_secs(seconds);
    let mut last_input = Instant::now();
    let mut happened = Vec::new();
    let mut events = Vec::new();
    let mut closed = 0;
    while (Instant::now() < hold_until || last_input.elapsed() < Duration::from_secs(2))
        && Instant::now() < deadline
    {
        net.poll(Some(Duration::from_millis(200)), &mut happened);
        if !happened.is_empty() {
            last_input = Instant::now();
        }
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            if matches!(h, Happened::Closed(_)) {
                closed += 1;
            }
            if let Some(p) = net.peers.get_mut(k) {
                proto.parse_owned(&mut p.rbuf, &mut events);
            }
            for e in events.drain(..) {
                if let Owned::Reply(b) = e {
                    net.send(k, &b);
                }
            }
        }
    }
    println!("scenario idle");
    println!("proto {:?}", proto);
    run.print_ports(clients.iter().map(|c| c.node));
    println!("connections {}", clients.len());
    println!("setup_s {setup:.3}");
    println!("closed_by_server {closed}");
    if let Some(s) = server {
        let each = s.sample();
        let all = stats::total(&each);
        let (start, rss) = (all.start_rss_kib, all.rss_kib);
        println!("server_rss_kib start {start} held {rss}");
        println!(
            "server_rss_per_connection_kib {:.3}",
            rss.saturating_sub(start) as f64 / clients.len() as f64
        );
        stats::print_each(&each, |s| {
            format!(
                "server_rss_kib start {} held {}",
                s.start_rss_kib, s.rss_kib
            )
        });
    }
    Ok(closed == 0)
}
