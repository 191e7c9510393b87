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
use proto::{Event, Proto};
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
    /// C registered connections held open for T seconds.
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
    /// K clients downloading one file from the shared folder (natter only).
    Download {
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long)]
        file: String,
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
        Scenario::Download { clients, ref file } => {
            download(&args, addr, deadline, server.as_ref(), clients, file)
        }
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
                        proto.parse(&mut p.rbuf, &mut events);
                    }
                    for e in events.drain(..) {
                        match e {
                            Event::Ready => {
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
                            Event::Reply(b) => net.send(k, &b),
                            Event::Error(e) => return Err(format!("client {ci} refused: {e}")),
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
    let mut events = Vec::new();
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
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            let Some(ci) = owner.get(k).copied().flatten() else {
                continue;
            };
            if let Some(p) = net.peers.get_mut(k) {
                proto.parse(&mut p.rbuf, &mut events);
            }
            if matches!(h, Happened::Closed(_)) {
                errors.push(format!("client {ci} lost its connection"));
            }
            for e in events.drain(..) {
                match e {
                    Event::Message(text) => {
                        let mut f = text.split(' ');
                        let from: Option<usize> = f.next().and_then(|s| s.parse().ok());
                        let _seq = f.next();
                        let sent_us: Option<u64> = f.next().and_then(|s| s.parse().ok());
                        if from == Some(ci) {
                            continue; // Redis also delivers to the sender's own subscription.
                        }
                        if let Some(t) = sent_us {
                            hist.record(now_us(base).saturating_sub(t));
                        }
                        delivered += 1;
                        last_progress = Instant::now();
                    }
                    Event::Acked(1) => clients[ci].acked += 1,
                    Event::Acked(_) => {
                        if let Some(upto) = clients[ci].probes.pop_front() {
                            clients[ci].acked = upto;
                        }
                    }
                    Event::Reply(b) => net.send(k, &b),
                    Event::Error(e) if errors.len() < 20 => {
                        errors.push(format!("client {ci}: {e}"))
                    }
                    _ => {}
                }
            }
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
    // Let the server settle (natter sends every JOIN to every member), reading meanwhile.
    let hold_until = (Instant::now() + Duration::from_secs(seconds)).min(deadline);
    let mut happened = Vec::new();
    let mut events = Vec::new();
    let mut closed = 0;
    while Instant::now() < hold_until {
        net.poll(Some(Duration::from_millis(200)), &mut happened);
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            if matches!(h, Happened::Closed(_)) {
                closed += 1;
            }
            if let Some(p) = net.peers.get_mut(k) {
                proto.parse(&mut p.rbuf, &mut events);
            }
            for e in events.drain(..) {
                if let Event::Reply(b) = e {
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
                        proto.parse(&mut p.rbuf, &mut events);
                    }
                    for e in events.drain(..) {
                        match e {
                            Event::Ready => {
                                live.insert(k, true);
                            }
                            Event::Error(_) => errors += 1,
                            _ => {}
                        }
                    }
                }
                Happened::Closed(k) => {
                    if let Some(p) = net.peers.get_mut(k) {
                        proto.parse(&mut p.rbuf, &mut events);
                        for e in events.drain(..) {
                            if e == Event::Ready {
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

fn download(
    args: &Args,
    addr: SocketAddr,
    deadline: Instant,
    server: Option<&ServerStats>,
    clients: usize,
    file: &str,
) -> Result<bool, String> {
    if args.proto != Proto::Natter {
        return Err("the download scenario speaks natter only".into());
    }
    let wire = natter_protocol::FileName::new(file)
        .map_err(|e| e.to_string())?
        .to_wire();
    let mut net = Net::new().map_err(|e| e.to_string())?;
    let (list, owner) = connect_clients(&mut net, args, addr, clients, "fetch", deadline, false)?;
    let base = Instant::now();
    for c in &list {
        net.send(c.tx, format!("GET {wire}\n").as_bytes());
    }
    let mut bytes = 0u64;
    let mut finished = 0;
    let mut errors = Vec::new();
    let mut happened = Vec::new();
    let mut events = Vec::new();
    while finished + errors.len() < list.len() && Instant::now() < deadline {
        net.poll(Some(Duration::from_millis(100)), &mut happened);
        for h in happened.drain(..) {
            let (Happened::Data(k) | Happened::Closed(k)) = h;
            let Some(ci) = owner.get(k).copied().flatten() else {
                continue;
            };
            if let Some(p) = net.peers.get_mut(k) {
                Proto::Natter.parse(&mut p.rbuf, &mut events);
            }
            for e in events.drain(..) {
                match e {
                    Event::Body(n) => bytes += n as u64,
                    Event::Done => finished += 1,
                    Event::Error(e) => errors.push(format!("client {ci}: {e}")),
                    _ => {}
                }
            }
        }
    }
    let elapsed = base.elapsed().as_secs_f64();
    println!("scenario download");
    println!("clients {}", list.len());
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
    Ok(errors.is_empty() && finished == list.len())
}

#[cfg(test)]
mod tests {
    use super::Histogram;

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
