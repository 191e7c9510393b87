//! natter-load: a load generator for natterd (and, for comparison, IRC servers and
//! Redis pub/sub). One process, one mio poll, thousands of connections.
//!
//! Scenarios: `fanout` (N clients each sending M messages to the room, flat out or
//! paced), `idle` (C registered connections held for T seconds), `churn` (connect,
//! register, quit, over and over), `download` (K clients fetching one file). It prints
//! `key value` lines: deliveries/s, latency percentiles, lost messages, errors, and the
//! server's CPU time and memory when given `--server-pid` (several servers': each and
//! their sum).
//!
//! Every run is bounded by `--timeout`, and talks to loopback unless told otherwise.
//! Given several ports (`--port 7001,7002`), it spreads its clients round robin over
//! that many servers, or the nodes of one cluster.
//!
//! Layout: [`net`] moves bytes (the connection pool on one poll), [`proto`] says what
//! they mean in each protocol, [`stats`] measures (latency, the server's CPU and
//! memory), and each module under [`scenarios`] is one subcommand. This file is only
//! the command line.

mod net;
mod proto;
mod scenarios;
mod stats;

use clap::{Parser, Subcommand};
use proto::Proto;
use scenarios::{churn, download, fanout, idle, Run};
use stats::ServerStats;
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
    /// Server port, or several (comma-separated, or --port repeated) to spread the
    /// clients over several servers or cluster nodes on the host: client i connects to
    /// the (i mod N)-th port, round robin.
    #[arg(long, value_name = "PORT[,PORT...]", value_delimiter = ',',
          default_values_t = [natter_protocol::DEFAULT_PORT])]
    port: Vec<u16>,
    /// Protocol to speak.
    #[arg(long, value_enum, default_value_t = Proto::Natter)]
    proto: Proto,
    /// The server's process id, to report its CPU seconds and memory (Linux /proc);
    /// several (comma-separated, or repeated) are reported each and summed.
    #[arg(long, value_name = "PID[,PID...]", value_delimiter = ',')]
    server_pid: Vec<u32>,
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
        /// Unacknowledged messages a client may have in flight when flat out; 0 for no
        /// window at all: each client writes all its messages back to back, as fast
        /// as its socket takes them.
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
        /// The largest DATA body to ask natterd for (HELLO ... data=N), 65536 (the
        /// protocol's default) to 1048576 (what the natter client asks for).
        #[arg(long, default_value_t = natter_protocol::MAX_BIG_DATA as u32,
              value_parser = clap::value_parser!(u32).range(65536..=1048576))]
        frame: u32,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let ip = match check_ports(&args.port).and_then(|()| resolve(&args.host)) {
        Ok(ip) => ip,
        Err(e) => {
            eprintln!("natter-load: {e}");
            return ExitCode::from(2);
        }
    };
    if !ip.is_loopback() && !args.allow_remote {
        eprintln!("natter-load: {ip} is not a loopback address; load tests go to machines you run (add --allow-remote)");
        return ExitCode::from(2);
    }
    let run = Run {
        addrs: args.port.iter().map(|&p| SocketAddr::new(ip, p)).collect(),
        proto: args.proto,
        connect_batch: args.connect_batch,
        deadline: Instant::now() + Duration::from_secs(args.timeout),
        data: match args.scenario {
            // What the natter client asks for; 65536 is the frame of older clients.
            Scenario::Download { frame, .. } if frame != natter_protocol::MAX_DATA as u32 => {
                Some(frame)
            }
            _ => None,
        },
    };
    let server = ServerStats::new(&args.server_pid);
    let result = match args.scenario {
        Scenario::Fanout {
            clients,
            messages,
            rate,
            size,
            window,
        } => fanout::run(
            &run,
            server.as_ref(),
            fanout::Plan {
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
        } => idle::run(&run, server.as_ref(), connections, seconds),
        Scenario::Churn { total, concurrency } => churn::run(&run, total, concurrency),
        Scenario::Download {
            clients,
            ref file,
            http,
            ..
        } => download::run(&run, server.as_ref(), clients, file, http),
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

fn resolve(host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("{host} has no address"))
}

/// A port listed twice would be one server counted as two (and its messages split
/// between "same port" and "cross port"): refused.
fn check_ports(ports: &[u16]) -> Result<(), String> {
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].contains(p) {
            return Err(format!("--port {p} is listed twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_ports, Args};
    use clap::Parser;

    fn ports(argv: &[&str]) -> Result<Vec<u16>, String> {
        let args = Args::try_parse_from(argv.iter().copied().chain(["idle"]))
            .map_err(|e| e.kind().to_string())?;
        check_ports(&args.port)?;
        Ok(args.port)
    }

    #[test]
    fn port_lists() {
        assert_eq!(ports(&["natter-load"]), Ok(vec![7878]));
        assert_eq!(ports(&["natter-load", "--port", "7001"]), Ok(vec![7001]));
        assert_eq!(
            ports(&["natter-load", "--port", "7001,7002,7003"]),
            Ok(vec![7001, 7002, 7003])
        );
        assert_eq!(
            ports(&["natter-load", "--port", "7001", "--port", "7002,7003"]),
            Ok(vec![7001, 7002, 7003])
        );
        assert_eq!(
            ports(&["natter-load", "--port=7002,7001"]),
            Ok(vec![7002, 7001])
        );
        assert_eq!(
            ports(&["natter-load", "--port", "7001,7002,7001"]),
            Err("--port 7001 is listed twice".into())
        );
        assert!(ports(&["natter-load", "--port", "7001,"]).is_err());
        assert!(ports(&["natter-load", "--port", "7001,x"]).is_err());
        assert!(ports(&["natter-load", "--port", "70000"]).is_err());
    }
}
