//! `download`: K clients fetch one shared file at once, over natter or (`--http`)
//! from a web server by HTTP/1.1 GET, to compare natterd with nginx. Bodies are
//! counted as they stream, never copied or kept. Reports throughput, and with
//! `--server-pid` the server's memory, now and at its peak.

use super::{connect_clients, set_owner, Run};
use crate::net::{Happened, Net};
use crate::proto::Proto;
use crate::stats::{self, ServerStats};
use std::time::{Duration, Instant};

/// Where one download stands: reading a frame header (or HTTP's response head), or
/// counting body bytes that are never copied or kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fetch {
    Head,
    /// Body bytes still to come in this DATA frame (natter) or the response (HTTP).
    Body(usize),
    Done,
}

/// Consumes what it can of `buf` for one download; returns the bytes used and the
/// body bytes counted, or a refusal.
fn fetch_step(http: bool, state: &mut Fetch, buf: &[u8]) -> Result<(usize, u64), String> {
    let mut used = 0;
    let mut body = 0u64;
    while used < buf.len() {
        match *state {
            Fetch::Done => return Ok((buf.len(), body)),
            Fetch::Body(left) => {
                let n = left.min(buf.len() - used);
                used += n;
                body += n as u64;
                *state = match (left - n, http) {
                    (0, true) => Fetch::Done,
                    (0, false) => Fetch::Head,
                    (rest, _) => Fetch::Body(rest),
                };
            }
            Fetch::Head if http => {
                let rest = &buf[used..];
                let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
                    if rest.len() > 16384 {
                        return Err("an HTTP response head over 16 KiB".into());
                    }
                    return Ok((used, body));
                };
                let head = String::from_utf8_lossy(&rest[..end]);
                let status = head.split(' ').nth(1).unwrap_or("");
                if status != "200" {
                    let first = head.lines().next().unwrap_or("");
                    return Err(format!("HTTP status: {first}"));
                }
                let len = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .ok_or("an HTTP response without Content-Length")?;
                used += end + 4;
                *state = if len == 0 {
                    Fetch::Done
                } else {
                    Fetch::Body(len)
                };
            }
            Fetch::Head => {
                let rest = &buf[used..];
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    return Ok((used, body));
                };
                let line = String::from_utf8_lossy(&rest[..nl]);
                let mut words = line.split_whitespace();
                used += nl + 1;
                match words.next() {
                    Some("DATA") => {
                        let len = words
                            .nth(1)
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| format!("a bad DATA header: {line}"))?;
                        *state = Fetch::Body(len);
                    }
                    Some("DONE") => *state = Fetch::Done,
                    Some("ERR") | Some("FAILED") | Some("SHUTDOWN") => {
                        return Err(line.trim_end().to_string())
                    }
                    _ => {}
                }
            }
        }
    }
    Ok((used, body))
}

pub fn run(
    run: &Run,
    server: Option<&ServerStats>,
    clients: usize,
    file: &str,
    http: bool,
) -> Result<bool, String> {
    let deadline = run.deadline;
    if run.proto != Proto::Natter {
        return Err("the download scenario speaks natter (or HTTP with --http) only".into());
    }
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let mut owner: Vec<Option<usize>> = Vec::new();
    // Each client's server, for the `ports` line.
    let mut nodes = Vec::new();
    let request = if http {
        let path: String = file
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let host = run.addrs[0].ip();
        for i in 0..clients {
            let node = run.node(i);
            let addr = run.addrs[node];
            let k = net
                .connect(addr)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            set_owner(&mut owner, k, i);
            nodes.push(node);
        }
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    } else {
        let wire = natter_protocol::FileName::new(file)
            .map_err(|e| e.to_string())?
            .to_wire();
        let members;
        (members, owner) = connect_clients(&mut net, run, clients, "fetch", false)?;
        nodes = members.iter().map(|m| m.node).collect();
        format!("GET {wire}\n")
    };
    let conns: Vec<usize> = (0..owner.len()).filter(|&k| owner[k].is_some()).collect();
    let base = Instant::now();
    for &k in &conns {
        net.send(k, request.as_bytes());
    }
    let mut state = vec![Fetch::Head; owner.len()];
    let mut bytes = 0u64;
    let mut finished = 0;
    let mut errors = Vec::new();
    let mut happened = Vec::new();
    while finished + errors.len() < conns.len() && Instant::now() < deadline {
        net.poll(Some(Duration::from_millis(100)), &mut happened);
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            let Some(ci) = owner.get(k).copied().flatten() else {
                continue;
            };
            let Some(p) = net.peers.get_mut(k) else {
                continue;
            };
            let was_done = state[k] == Fetch::Done;
            match fetch_step(http, &mut state[k], &p.rbuf) {
                Ok((used, body)) => {
                    p.rbuf.drain(..used);
                    bytes += body;
                }
                Err(e) => {
                    errors.push(format!("client {ci}: {e}"));
                    state[k] = Fetch::Done;
                    net.close(k);
                    continue;
                }
            }
            if !was_done && state[k] == Fetch::Done {
                finished += 1;
            } else if matches!(h, Happened::Closed(_)) && state[k] != Fetch::Done {
                errors.push(format!("client {ci}: the connection closed mid-download"));
                state[k] = Fetch::Done;
            }
        }
    }
    let elapsed = base.elapsed().as_secs_f64();
    println!("scenario download");
    println!("proto {}", if http { "http" } else { "natter" });
    run.print_ports(nodes);
    println!("clients {}", conns.len());
    println!("completed {finished}");
    println!("errors {}", errors.len());
    println!("bytes {bytes}");
    println!("elapsed_s {elapsed:.3}");
    println!("throughput_gb_per_s {:.3}", bytes as f64 / elapsed / 1e9);
    if let Some(s) = server {
        let each = s.sample();
        let rss = |s: &stats::Sample| {
            format!(
                "server_rss_kib start {} now {} peak {}",
                s.start_rss_kib, s.rss_kib, s.peak_kib
            )
        };
        println!("{}", rss(&stats::total(&each)));
        stats::print_each(&each, rss);
    }
    for e in errors.iter().take(5) {
        eprintln!("natter-load: {e}");
    }
    Ok(errors.is_empty() && finished == conns.len())
}

#[cfg(test)]
mod tests {
    use super::{fetch_step, Fetch};

    /// Feeds `input` to a download in pieces of `step` bytes, as reads would.
    fn fetch_all(http: bool, input: &[u8], step: usize) -> Result<(u64, Fetch), String> {
        let (mut state, mut buf, mut body) = (Fetch::Head, Vec::new(), 0);
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            let (used, n) = fetch_step(http, &mut state, &buf)?;
            buf.drain(..used);
            body += n;
        }
        Ok((body, state))
    }

    #[test]
    fn downloads_count_bodies_however_split() {
        let natter = b"JOIN x\nOK GET 1 f 7\nDATA 1 4\nabcdDATA 1 3\nefgDONE 1\n";
        let http = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX: y\r\n\r\nabcdefg";
        for step in [1, 3, 1000] {
            assert_eq!(fetch_all(false, natter, step), Ok((7, Fetch::Done)));
            assert_eq!(fetch_all(true, http, step), Ok((7, Fetch::Done)));
        }
        assert_eq!(
            fetch_all(false, b"OK GET 1 f 7\nDATA 1 4\nab", 100),
            Ok((2, Fetch::Body(2)))
        );
        let refused = fetch_all(false, b"ERR no-such-file nothing called f\n", 100);
        assert_eq!(refused, Err("ERR no-such-file nothing called f".into()));
        let missing = fetch_all(true, b"HTTP/1.1 404 Not Found\r\n\r\n", 100);
        assert_eq!(missing, Err("HTTP status: HTTP/1.1 404 Not Found".into()));
    }
}
