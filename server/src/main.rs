//! natterd: flags -> Config, logging, descriptor limit, bind, run.

use clap::Parser;
use log::LevelFilter;
use natter_server::{parse_size, Config, OnDuplicate, DEFAULT_MAX_CLIENTS};
use simplelog::{ColorChoice, CombinedLogger, SharedLogger, TermLogger, TerminalMode, WriteLogger};
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "natterd",
    version,
    about = "natter chat and shared-folder server: one thread, one poll loop"
)]
struct Args {
    /// TCP port to listen on; 0 picks a free one (printed at startup).
    #[arg(default_value_t = natter_protocol::DEFAULT_PORT)]
    port: u16,
    /// Address to listen on. The default accepts only this machine; use 0.0.0.0 or ::
    /// to accept other hosts.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Most connections at once; the next one gets `ERR server-full`.
    #[arg(long, default_value_t = DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
    /// Per-connection output cap (K/M/G suffixes); a client whose queue would pass it
    /// is dropped as too slow.
    #[arg(long, default_value = "1M", value_parser = parse_size_arg)]
    max_queue: u64,
    /// Welcome text sent to every connection (natterd adds how many users are online).
    #[arg(long)]
    motd: Option<String>,
    /// Room messages kept for those who join later (natter shows the last 20 on
    /// joining, /history more); also bounded to 256 KiB of text. 0 keeps none.
    /// Private messages are never kept.
    #[arg(long, default_value_t = natter_server::DEFAULT_HISTORY)]
    history: usize,
    /// Keep the history in this file too, so it survives restarts (created if
    /// missing; a line damaged by a crash is dropped when it is read back).
    #[arg(long, value_name = "PATH")]
    history_file: Option<PathBuf>,
    /// How many ended sessions `STATUS` remembers (live ones are always listed).
    #[arg(long, default_value_t = natter_server::DEFAULT_SESSION_HISTORY)]
    session_history: usize,
    /// The shared folder (created if missing). Default: $SERVER_SHARED_FILES, else
    /// $SERVERSHAREDFILES, else ./SharedFiles.
    #[arg(long)]
    shared_dir: Option<PathBuf>,
    /// Largest upload accepted (K/M/G suffixes).
    #[arg(long, default_value = "1G", value_parser = parse_size_arg)]
    max_file_size: u64,
    /// The most the shared folder's files may take together (K/M/G suffixes); an
    /// upload that would pass it is refused before a byte is written. Files put there
    /// by other means count too. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    max_folder_size: Option<u64>,
    /// The most files the shared folder may hold; an upload past it is refused.
    /// Default: no limit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_files: Option<u64>,
    /// When an upload's name is taken: store it as name_1.ext (rename) or refuse (reject).
    #[arg(long, value_enum, default_value_t = Duplicate::Rename)]
    on_duplicate: Duplicate,
    /// Refuse uploads, deletes and renames.
    #[arg(long)]
    read_only: bool,
    /// File holding the shared secret clients must send with AUTH (one trailing newline
    /// is ignored). Also taken from the NATTER_SECRET environment variable. Never give
    /// the secret itself on the command line: other users can read it there.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Connections allowed from one address (loopback is exempt); 0 for no limit.
    #[arg(long, default_value_t = natter_server::DEFAULT_MAX_PER_IP)]
    max_per_ip: usize,
    /// Apply --max-per-ip to loopback connections too (they are exempt by default so
    /// local load tests can open thousands); for trying the limit on one machine.
    #[arg(long)]
    limit_loopback: bool,
    /// Seconds a new connection has to send HELLO.
    #[arg(long, default_value_t = natter_server::DEFAULT_REGISTER_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    register_timeout: u64,
    /// Seconds a named client may send nothing (with no transfer running) before it
    /// is closed; the natter client pings on its own well within this.
    #[arg(long, default_value_t = natter_server::DEFAULT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Requests per second per connection before natterd stops reading it for a
    /// while (DATA for an upload in progress is not counted); 0 turns flood control off.
    #[arg(long, default_value_t = natter_server::DEFAULT_MAX_RATE)]
    max_rate: f64,
    /// Requests a connection may send at once before --max-rate applies.
    #[arg(long, default_value_t = natter_server::DEFAULT_MAX_BURST)]
    max_burst: f64,
    /// When busy, the longest (in milliseconds) queued output may gather before it is
    /// written, so many messages go out in one write; quiet, nothing waits. 0 writes
    /// every message at once however busy.
    #[arg(long, default_value_t = natter_server::DEFAULT_COALESCE_MAX.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=1000))]
    coalesce_max: u64,
    /// Serve TLS with this PEM certificate chain (needs --tls-key too).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Join a cluster: several natterd nodes that act as one chat through this Redis,
    /// redis://[USER:PASSWORD@]HOST:PORT[/DB], or rediss://... for TLS. Better give
    /// the password with --cluster-password-file or NATTER_CLUSTER_PASSWORD: other
    /// users of this machine can read a command line.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// File holding the cluster Redis's password (one trailing newline is ignored);
    /// also taken from NATTER_CLUSTER_PASSWORD. Overrides a password in the URL.
    #[arg(long, requires = "cluster")]
    cluster_password_file: Option<PathBuf>,
    /// For rediss://: trust only the certificate authorities in this PEM file (a
    /// private CA, or Redis's self-signed certificate) instead of the system's.
    #[arg(long, requires = "cluster")]
    cluster_ca: Option<PathBuf>,
    /// This node's name in the cluster, shown in STATUS; each node needs its own.
    /// Default: HOSTNAME:PORT (with --reuse-port, HOSTNAME:PORT-PID).
    #[arg(long, requires = "cluster")]
    node_name: Option<String>,
    /// Let several natterd processes listen on the same port (SO_REUSEPORT): the
    /// kernel spreads new connections over them; with --cluster they act as one chat,
    /// one core each.
    #[arg(long)]
    reuse_port: bool,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: LevelFilter,
    /// Also append the log to this file.
    #[arg(long)]
    log_file: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Duplicate {
    Rename,
    Reject,
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err("must be more than 0".into()),
        n => Ok(n),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_logging(&args) {
        eprintln!("natterd: {e}");
        return ExitCode::from(2);
    }
    let mut config = Config {
        bind: args.bind,
        port: args.port,
        max_clients: args.max_clients.max(1),
        max_queue: args.max_queue.min(usize::MAX as u64) as usize,
        session_history: args.session_history,
        history: args.history,
        history_file: args.history_file.clone(),
        shared_dir: args
            .shared_dir
            .clone()
            .unwrap_or_else(natter_server::default_shared_dir),
        max_file_size: args.max_file_size,
        max_folder_size: args.max_folder_size,
        max_files: args.max_files,
        on_duplicate: match args.on_duplicate {
            Duplicate::Rename => OnDuplicate::Rename,
            Duplicate::Reject => OnDuplicate::Reject,
        },
        read_only: args.read_only,
        max_per_ip: args.max_per_ip,
        limit_loopback: args.limit_loopback,
        register_timeout: Duration::from_secs(args.register_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        // 0 turns flood control off; anything else is at least one request a thousand
        // seconds, so the wait before the next token stays a sane duration.
        max_rate: if args.max_rate <= 0.0 {
            0.0
        } else {
            args.max_rate.max(0.001)
        },
        max_burst: args.max_burst.max(1.0),
        coalesce_max: Duration::from_millis(args.coalesce_max),
        ..Config::default()
    };
    if let Some(m) = args.motd.clone() {
        config.motd = m;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        match natter_server::load_tls_config(cert, key) {
            Ok(c) => config.tls = Some(c),
            Err(e) => {
                log::error!("{e} (scripts/dev-cert.sh makes a certificate for local use)");
                return ExitCode::from(2);
            }
        }
    }
    match load_secret(args.secret_file.as_deref()) {
        Ok(secret) => config.secret = secret,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::from(2);
        }
    }
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = match listen(addr, args.reuse_port) {
        Ok(l) => l,
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse if args.reuse_port => {
                    " (a process without --reuse-port has it; every natterd sharing a port needs the flag)"
                }
                std::io::ErrorKind::AddrInUse => {
                    " (is another natterd running? pick another port, or 0 for any free one)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (ports below 1024 need privileges; try 7878)"
                }
                std::io::ErrorKind::AddrNotAvailable => " (that address is not on this machine)",
                _ => "",
            };
            log::error!("cannot listen on {addr}: {}{hint}", describe_io(&e));
            return ExitCode::from(1);
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    if let Some(url) = &args.cluster {
        match cluster_config(&args, url, local.port()) {
            Ok(c) => config.cluster = Some(c),
            Err(e) => {
                log::error!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let fd_limit = raise_fd_limit();
    let (clients, files) = natter_server::descriptor_budget(fd_limit, config.max_clients);
    if clients < config.max_clients {
        log::warn!(
            "--max-clients {} is more than the descriptor limit ({}) allows; using {clients}",
            config.max_clients,
            fd_limit.unwrap_or_default()
        );
    }
    config.max_clients = clients;
    config.max_open_files = files;

    // The one line scripts and tests wait for; on stdout so it is there whatever the log level.
    println!("natterd listening on {local}");
    let _ = std::io::stdout().flush();
    if local.ip().is_loopback() {
        log::info!("only this machine can connect; start with --bind 0.0.0.0 (or --bind ::) to accept other hosts");
    } else if config.secret.is_none() && config.tls.is_none() {
        log::warn!("*** listening on {} with no secret and no TLS: anyone who can reach this port can chat and use the shared folder, and everything travels in the clear (see --secret-file, --tls-cert) ***", local.ip());
    } else if config.secret.is_none() {
        log::warn!("*** listening on {} with no secret: anyone who can reach this port can chat and use the shared folder (see --secret-file) ***", local.ip());
    } else if config.tls.is_none() {
        log::warn!("*** listening on {} without TLS: the secret and all chat travel in the clear (see --tls-cert) ***", local.ip());
    }
    if config.tls.is_some() {
        match args
            .tls_cert
            .as_deref()
            .and_then(natter_server::tls_fingerprint)
        {
            Some(fp) => log::info!("serving TLS with the certificate {fp}"),
            None => log::info!("serving TLS"),
        }
    }
    if config.secret.is_some() {
        log::info!("clients must send the shared secret (AUTH) before HELLO");
    }
    log::info!(
        "max clients {}, open files {}, output queue cap {} bytes per connection",
        config.max_clients,
        config.max_open_files,
        config.max_queue
    );
    match natter_server::run(listener, config) {
        Ok(()) => {
            log::info!("natterd stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("natterd stopped on an error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Binds the listener; with `reuse_port`, SO_REUSEPORT first, so several natterd
/// processes can share the port.
fn listen(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    if !reuse_port {
        return std::net::TcpListener::bind(addr);
    }
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// --cluster and its companions, checked before anything is served.
fn cluster_config(
    args: &Args,
    url: &str,
    port: u16,
) -> Result<natter_server::cluster::ClusterConfig, String> {
    use natter_server::cluster::{ClusterConfig, NodeName, RedisUrl};
    let mut url = RedisUrl::parse(url).map_err(|e| format!("--cluster: {e}"))?;
    let password = match (
        &args.cluster_password_file,
        std::env::var("NATTER_CLUSTER_PASSWORD"),
    ) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read the cluster password file {}: {}",
                    path.display(),
                    describe_io(&e)
                )
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                return Err(format!(
                    "the cluster password file {} is empty",
                    path.display()
                ));
            }
            Some(text.to_string())
        }
        (None, Ok(v)) if !v.is_empty() => Some(v),
        _ => None,
    };
    if password.is_some() {
        url.password = password;
    }
    if args.cluster_ca.is_some() && !url.tls {
        return Err("--cluster-ca is for a rediss:// (TLS) cluster URL".into());
    }
    let node = match &args.node_name {
        Some(n) => NodeName::new(n).map_err(|e| format!("--node-name: {e}"))?,
        None => {
            let host: String = natter_server::hostname()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
                .take(40)
                .collect();
            let host = if host.is_empty() {
                "natterd".into()
            } else {
                host
            };
            // Nodes sharing a port through --reuse-port share host and port too.
            let name = if args.reuse_port {
                format!("{host}:{port}-{}", std::process::id())
            } else {
                format!("{host}:{port}")
            };
            NodeName::new(&name).map_err(|e| {
                format!("the default node name {name:?}: {e} (give one with --node-name)")
            })?
        }
    };
    Ok(ClusterConfig {
        url,
        node,
        ca_file: args.cluster_ca.clone(),
    })
}

/// The shared secret from --secret-file or NATTER_SECRET, if either is given.
fn load_secret(file: Option<&std::path::Path>) -> Result<Option<natter_protocol::Secret>, String> {
    use natter_protocol::Secret;
    let (secret, from) = match (file, std::env::var_os("NATTER_SECRET")) {
        (Some(path), _) => {
            let b = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read the secret file {}: {}",
                    path.display(),
                    describe_io(&e)
                )
            })?;
            (
                Secret::from_file_contents(b),
                format!("the secret file {}", path.display()),
            )
        }
        // An empty NATTER_SECRET is refused, not ignored: ignoring it would open the
        // server to everyone while its operator believes it is protected.
        (None, Some(v)) => (
            Secret::new(v.as_encoded_bytes()),
            "NATTER_SECRET".to_string(),
        ),
        (None, None) => return Ok(None),
    };
    secret.map(Some).map_err(|e| format!("{from}: {e}"))
}

fn init_logging(args: &Args) -> Result<(), String> {
    let config = simplelog::ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .build();
    let color = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![TermLogger::new(
        args.log_level,
        config.clone(),
        TerminalMode::Stderr,
        color,
    )];
    if let Some(path) = &args.log_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                format!(
                    "cannot open log file {}: {}",
                    path.display(),
                    describe_io(&e)
                )
            })?;
        loggers.push(WriteLogger::new(args.log_level, config, file));
    }
    CombinedLogger::init(loggers).map_err(|e| format!("cannot start logging: {e}"))
}

/// Raises the soft descriptor limit to the hard one; returns the limit in force.
fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            log::warn!(
                "cannot read the descriptor limit: {}",
                std::io::Error::last_os_error()
            );
            return None;
        }
        let soft = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            } else {
                log::warn!(
                    "cannot raise the descriptor limit: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        log::info!(
            "descriptor limit: soft {soft} -> {} (hard {})",
            lim.rlim_cur,
            lim.rlim_max
        );
        Some(lim.rlim_cur)
    }
}

/// An I/O error in words, without the `(os error N)` tail.
fn describe_io(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}
