//! natter-load: a load generator for natterd (and, for comparison, IRC servers and
//! Redis pub/sub). One process, one mio poll, thousands of connections.
//!
//! Scenarios: `fanout` (N clients each sending M messages to the room, flat out or
//! paced), `idle` (C registered connections held for T seconds), `churn` (connect,
//! register, quit, over and over), `download` (K clients fetching one file). It prints
//! `key value` lines: deliveries/s, latency percentiles, lost messages, errors, and the
//! server's CPU time and memory when given `--server-pid`.
//!
//! Every run is bounded by `--timeout`, and talks to loopback unless told otherwise.

mod net;
mod proto;

use clap::{Parser, Subcommand};
use net::{Happened, Net};
use proto::{Event, Owned, Proto};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "natter-load",
    version,
    about = "Load generator for natterd (and IRC servers, Redis pub/sub)"
)]
struct Args {
    /// Server host; loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = natter_protocol::DEFAULT_PORT)]
    port: u16,
    /// Protocol to speak.
    #[arg(long, value_enum, default_value_t = Proto::Natter)]
    proto: Proto,
    /// The server's process id, to report its CPU seconds and memory (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Stop and report after this many seconds, whatever the state.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Connections opened before waiting for them to register; keep it below the
    /// server's listen backlog (some IRC daemons use 10) or connects stall on SYN
    /// retransmits.
    #[arg(long, default_value_t = 128)]
    connect_batch: usize,
    /// Allow a host that is not loopback (only at a machine you run yourself).
    #[arg(long)]
    allow_remote: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N clients in one room, each sending M messages; every other client receives each.
    Fanout {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        messages: u64,
        /// Messages per second per client; 0 sends flat out (with a window of
        /// unacknowledged messages).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Bytes of payload per message, besides the timestamp.
        #[arg(long, default_value_t = 32)]
        size: usize,
        /// Unacknowledged messages a client may have in flight when flat out.
        #[arg(long, default_value_t = 32)]
        window: u64,
    },
    /// C registered connections held open for T seconds, and until nothing has arrived
    /// for 2 s (so the server's memory is read once its queues have drained).
    Idle {
        #[arg(long, default_value_t = 10000)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Connect, register, quit; over and over, C at a time.
    Churn {
        #[arg(long, default_value_t = 20000)]
        total: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// K clients downloading one file from the shared folder, or with --http the same
    /// file from a web server (to compare natterd with nginx).
    Download {
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// The file's name in the shared folder (with --http: its path on the server).
        #[arg(long)]
        file: String,
        /// Fetch with HTTP/1.1 GET instead of natter.
        #[arg(long)]
        http: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let addr = match resolve(&args.host, args.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("natter-load: {e}");
            return ExitCode::from(2);
        }
    };
    if !addr.ip().is_loopback() && !args.allow_remote {
        eprintln!("natter-load: {} is not a loopback address; load tests go to machines you run (add --allow-remote)", addr.ip());
        return ExitCode::from(2);
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let server = args.server_pid.map(ServerStats::new);
    let result = match args.scenario {
        Scenario::Fanout {
            clients,
            messages,
            rate,
            size,
            window,
        } => fanout(
            &args,
            addr,
            deadline,
            server.as_ref(),
            FanoutPlan {
                clients,
                messages,
                rate,
                size,
                window,
            },
        ),
        Scenario::Idle {
            connections,
            seconds,
        } => idle(&args, addr, deadline, server.as_ref(), connections, seconds),
        Scenario::Churn { total, concurrency } => churn(&args, addr, deadline, total, concurrency),
        Scenario::Download {
            clients,
            ref file,
            http,
        } => download(&args, addr, deadline, server.as_ref(), clients, file, http),
    };
    match result {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("natter-load: {e}");
            ExitCode::from(1)
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// Microseconds since the run began; carried in message texts for latency.
fn now_us(base: Instant) -> u64 {
    base.elapsed().as_micros() as u64
}

/// Latency histogram: 1 µs buckets to 10 ms, then 1 ms buckets to 10 s.
struct Histogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    count: u64,
    max: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            fine: vec![0; 10_000],
            coarse: vec![0; 10_000],
            count: 0,
            max: 0,
        }
    }

    fn record(&mut self, us: u64) {
        self.count += 1;
        self.max = self.max.max(us);
        if us < 10_000 {
            self.fine[us as usize] += 1;
        } else {
            let i = ((us / 1000) as usize).min(self.coarse.len() - 1);
            self.coarse[i] += 1;
        }
    }

    fn percentile(&self, p: f64) -> u64 {
        let want = ((self.count as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.fine.iter().enumerate() {
            seen += n;
            if seen >= want {
                return i as u64;
            }
        }
        for (i, n) in self.coarse.iter().enumerate() {
            seen += n;
            if seen >= want {
                return i as u64 * 1000;
            }
        }
        self.max
    }
}

/// The server's CPU time and memory, read from /proc.
struct ServerStats {
    pid: u32,
    start_cpu: f64,
    start_rss: u64,
}

impl ServerStats {
    fn new(pid: u32) -> ServerStats {
        let mut s = ServerStats {
            pid,
            start_cpu: 0.0,
            start_rss: 0,
        };
        s.start_cpu = s.cpu_seconds();
        s.start_rss = s.kib("VmRSS:");
        s
    }

    fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return 0.0;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return 0.0;
        };
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf has no side effects.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks / hz.max(1.0)
    }

    fn kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(field))
                    .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            })
            .unwrap_or(0)
    }

    /// Restarts the CPU clock (after setup, before the measured phase).
    fn mark(&mut self) {
        self.start_cpu = self.cpu_seconds();
    }

    fn cpu_since_mark(&self) -> f64 {
        self.cpu_seconds() - self.start_cpu
    }
}

struct FanoutPlan {
    clients: usize,
    messages: u64,
    rate: f64,
    size: usize,
    window: u64,
}

struct Client {
    /// The connection that sends (and, but for Redis, receives).
    tx: usize,
    /// Redis: the subscribing connection.
    rx: Option<usize>,
    ready: u8,
    sent: u64,
    acked: u64,
    /// IRC: message counts at which window probes were sent.
    probes: std::collections::VecDeque<u64>,
    next_send: Instant,
}

/// Connects `n` clients and waits until every one is registered and in the room.
fn connect_clients(
    net: &mut Net,
    args: &Args,
    addr: SocketAddr,
    n: usize,
    prefix: &str,
    deadline: Instant,
    pair: bool,
) -> Result<(Vec<Client>, Vec<Option<usize>>), String> {
    let proto = args.proto;
    let batch = args.connect_batch.max(1);
    let mut clients = Vec::with_capacity(n);
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
        clients.push(Client {
            tx,
            rx,
            ready: 0,
            sent: 0,
            acked: 0,
            probes: Default::default(),
            next_send: Instant::now(),
        });
        // Connect in batches so the listen backlog never overflows.
        if (i + 1) % batch == 0 || i + 1 == n {
            while ready < i + 1 {
                if Instant::now() > deadline {
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
                                clients[ci].ready += 1;
                                // An IRC room member joins once it is welcomed.
                                if pair && clients[ci].ready == 1 {
                                    if let Some(join) = proto.join() {
                                        net.send(k, &join);
                                    }
                                }
                                if clients[ci].ready == needed {
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
    Ok((clients, owner))
}

/// The number at the front of a space-separated text, and what follows it.
fn number(text: &[u8]) -> (Option<u64>, &[u8]) {
    let (w, rest) = match text.iter().position(|&b| b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[][..]),
    };
    let n = std::str::from_utf8(w).ok().and_then(|w| w.parse().ok());
    (n, rest)
}

fn set_owner(owner: &mut Vec<Option<usize>>, k: usize, i: usize) {
    if owner.len() <= k {
        owner.resize(k + 1, None);
    }
    owner[k] = Some(i);
}

fn fanout(
    args: &Args,
    addr: SocketAddr,
    deadline: Instant,
    server: Option<&ServerStats>,
    plan: FanoutPlan,
) -> Result<bool, String> {
    let proto = args.proto;
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let (mut clients, owner) =
        connect_clients(&mut net, args, addr, plan.clients, "load", deadline, true)?;
    let n = clients.len() as u64;
    let expected = n * plan.messages * (n - 1);
    let pad = "x".repeat(plan.size);
    let mut server = server.map(|s| ServerStats {
        pid: s.pid,
        start_cpu: 0.0,
        start_rss: s.start_rss,
    });
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
    let mut hist = Histogram::new();
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
                    None => c.sent - c.acked < plan.window,
                };
                if !due {
                    break;
                }
                buf.clear();
                let text = format!("{i} {} {} {pad}", c.sent, now_us(base));
                proto.say(&text, &mut buf);
                c.sent += 1;
                if let Some(probe) = proto.window_probe() {
                    if c.sent % (plan.window / 2).max(1) == 0 || c.sent == plan.messages {
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
                        hist.record(now.saturating_sub(t));
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
    println!(
        "latency_us p50 {} p99 {} p999 {} max {}",
        hist.percentile(50.0),
        hist.percentile(99.0),
        hist.percentile(99.9),
        hist.max
    );
    if let Some(s) = &server {
        let cpu = s.cpu_since_mark();
        println!("server_cpu_s {cpu:.3}");
        // /proc counts CPU in clock ticks (10 ms): a shorter run says nothing.
        if cpu >= 0.1 {
            println!("deliveries_per_cpu_s {:.0}", delivered as f64 / cpu);
        } else {
            println!("deliveries_per_cpu_s n/a (the server used under 0.1 s of CPU; run longer)");
        }
        println!("server_rss_kib {}", s.kib("VmRSS:"));
    }
    for e in errors.iter().take(5) {
        eprintln!("natter-load: {e}");
    }
    Ok(lost == 0 && errors.is_empty())
}

fn idle(
    args: &Args,
    addr: SocketAddr,
    deadline: Instant,
    server: Option<&ServerStats>,
    connections: usize,
    seconds: u64,
) -> Result<bool, String> {
    let proto = args.proto;
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let (clients, _) = connect_clients(&mut net, args, addr, connections, "idle", deadline, false)?;
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
    println!("connections {}", clients.len());
    println!("setup_s {setup:.3}");
    println!("closed_by_server {closed}");
    if let Some(s) = server {
        let rss = s.kib("VmRSS:");
        println!("server_rss_kib start {} held {rss}", s.start_rss);
        println!(
            "server_rss_per_connection_kib {:.3}",
            rss.saturating_sub(s.start_rss) as f64 / clients.len() as f64
        );
    }
    Ok(closed == 0)
}

fn churn(
    args: &Args,
    addr: SocketAddr,
    deadline: Instant,
    total: u64,
    concurrency: usize,
) -> Result<bool, String> {
    let proto = args.proto;
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let mut started = 0u64;
    let mut done = 0u64;
    let mut errors = 0u64;
    let mut live: std::collections::HashMap<usize, bool> = Default::default();
    let mut happened = Vec::new();
    let mut events = Vec::new();
    let base = Instant::now();
    while (done + errors < total) && Instant::now() < deadline {
        while live.len() < concurrency && started < total {
            let name = format!("churn{started}");
            started += 1;
            match net.connect(addr) {
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
    println!("completed {done}");
    println!("errors {}", errors + net.errors);
    println!("elapsed_s {elapsed:.3}");
    println!("connections_per_s {:.0}", done as f64 / elapsed);
    Ok(errors == 0 && done == total)
}

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

#[allow(clippy::too_many_arguments)]
fn download(
    args: &Args,
    addr: SocketAddr,
    deadline: Instant,
    server: Option<&ServerStats>,
    clients: usize,
    file: &str,
    http: bool,
) -> Result<bool, String> {
    if args.proto != Proto::Natter {
        return Err("the download scenario speaks natter (or HTTP with --http) only".into());
    }
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let mut owner: Vec<Option<usize>> = Vec::new();
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
        let host = addr.ip();
        for i in 0..clients {
            let k = net
                .connect(addr)
                .map_err(|e| format!("connect {addr}: {e}"))?;
            set_owner(&mut owner, k, i);
        }
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    } else {
        let wire = natter_protocol::FileName::new(file)
            .map_err(|e| e.to_string())?
            .to_wire();
        owner = connect_clients(&mut net, args, addr, clients, "fetch", deadline, false)?.1;
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
    println!("clients {}", conns.len());
    println!("completed {finished}");
    println!("errors {}", errors.len());
    println!("bytes {bytes}");
    println!("elapsed_s {elapsed:.3}");
    println!("throughput_gb_per_s {:.3}", bytes as f64 / elapsed / 1e9);
    if let Some(s) = server {
        println!(
            "server_rss_kib start {} now {} peak {}",
            s.start_rss,
            s.kib("VmRSS:"),
            s.kib("VmHWM:")
        );
    }
    for e in errors.iter().take(5) {
        eprintln!("natter-load: {e}");
    }
    Ok(errors.is_empty() && finished == conns.len())
}

#[cfg(test)]
mod tests {
    use super::{fetch_step, Fetch, Histogram};

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

    #[test]
    fn percentiles() {
        let mut h = Histogram::new();
        for us in 1..=100 {
            h.record(us);
        }
        h.record(50_000);
        assert_eq!(h.percentile(50.0), 51);
        assert_eq!(h.percentile(99.0), 100);
        assert_eq!(h.percentile(100.0), 50_000);
        assert_eq!(h.max, 50_000);
    }
}
