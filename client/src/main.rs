//! natter: the command line, the connection, and the choice between interactive and
//! batch mode. Every way out is an [`Exit`] status, listed in the README (Exit statuses).

use clap::Parser;
use natter_client::display::{self, sanitize, Line, Style};
use natter_client::exit::Exit;
use natter_client::net::connect::{self, ConnectError};
use natter_client::net::known_hosts::{self, KnownHosts};
use natter_client::net::tls;
use natter_client::net::transport::{self, ReadHalf};
use natter_client::net::trust::{self, Fingerprint, Policy, Presented, Trust};
use natter_client::net::wire::FrameReader;
use natter_client::session::Session;
use natter_client::ui::trust::{self as ask, Decision, FirstUse};
use natter_client::ui::{batch, repl, secret};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "natter",
    version,
    about = "natter: chat with the people on a natterd server",
    long_about = "natter: chat with the people on a natterd server.\n\n\
        On a terminal it is a line editor with history and completion (/help lists the \
        commands). With --batch, or when stdin is not a terminal, it reads commands \
        from stdin, one per line, and prints one line per event."
)]
struct Args {
    /// Your name in the chat: 1 to 32 letters, digits, '_', '-' or '.', starting with
    /// a letter or digit.
    username: String,
    /// The server's host name or IP address, or HOST:PORT ([ADDR]:PORT for IPv6).
    host: String,
    /// The server's port, unless given with the host [default: 7878, natterd's].
    port: Option<u16>,
    /// Read commands from stdin without a prompt (automatic when stdin or stdout is
    /// not a terminal).
    #[arg(long)]
    batch: bool,
    /// Batch mode: after the last command, keep receiving this many seconds before
    /// quitting.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_secs, allow_negative_numbers = true)]
    linger: Duration,
    /// Where to keep the input history [default: $XDG_STATE_HOME/natter/history, or
    /// ~/.local/state/natter/history].
    #[arg(long, value_name = "PATH")]
    history_file: Option<PathBuf>,
    /// Where downloads go [default: ./<USERNAME>/]; created if missing.
    #[arg(long, value_name = "DIR")]
    download_dir: Option<PathBuf>,
    /// A download replaces a local file of the same name (without it, the download
    /// is saved as name_1.ext, name_2.ext, ...).
    #[arg(long)]
    overwrite: bool,
    /// No colours (the NO_COLOR environment variable does the same).
    #[arg(long)]
    no_color: bool,
    /// A file holding the server's shared secret (one trailing newline ignored); the
    /// NATTER_SECRET environment variable does the same. Without either, natter asks
    /// for it on a terminal if the server wants one.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// Connect with TLS, checking the server's certificate for HOST against the
    /// system's trusted authorities, or against --ca-file.
    #[arg(long)]
    tls: bool,
    /// With --tls: trust the certificates in this PEM file (the server's own, or its
    /// authority's) instead of the system's.
    #[arg(long, value_name = "PEM", requires = "tls")]
    ca_file: Option<PathBuf>,
    /// TLS without checking the server's certificate at all (implies --tls). For
    /// local testing only: anyone on the way could pretend to be the server.
    #[arg(long, conflicts_with = "ca_file")]
    tls_insecure: bool,
    /// After this many seconds without sending anything, send a quiet PING, so that
    /// the server (which drops connections idle for 5 minutes) keeps one that only
    /// reads (decimals allowed).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_limit, allow_negative_numbers = true)]
    keepalive: Duration,
    /// With --tls: trust the server's certificate whose SHA-256 fingerprint this is,
    /// whoever signed it (sha256:3F:A0:..., as natterd logs it and `openssl x509
    /// -fingerprint -sha256` prints it). May be given more than once.
    #[arg(long, value_name = "FINGERPRINT", value_parser = Fingerprint::parse, requires = "tls", conflicts_with = "tls_insecure")]
    pin: Vec<Fingerprint>,
    /// With --tls: how long the TLS handshake may take, in seconds (decimals allowed).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_limit, allow_negative_numbers = true)]
    tls_timeout: Duration,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds (examples: 0, 2, 0.5)"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        format!("{s:?} is not a usable number of seconds (0 or more, decimals allowed)")
    })
}

/// A time limit: seconds, more than none.
fn parse_limit(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?} leaves no time at all; give more than 0 seconds"
        ));
    }
    Ok(d)
}

/// The host and port from the command line: `HOST PORT`, `HOST:PORT`,
/// `[ADDR]:PORT`, or a host alone for natterd's default port. A bare IPv6 address
/// (`::1`) is a host without a port. `Err` is the message.
fn host_and_port(host: &str, port: Option<u16>) -> Result<(String, u16), String> {
    let (name, with) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((addr, "")) => (addr, None),
            Some((addr, tail)) => match tail.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return Err(format!("{host:?} is not an address: write [ADDR]:PORT")),
            },
            None => return Err(format!("{host:?} is not an address: a ']' is missing")),
        },
        None => match host.split_once(':') {
            Some((name, p)) if !p.contains(':') => (name, Some(p)),
            _ => (host, None),
        },
    };
    if name.is_empty() {
        return Err(format!("{host:?} has no host name before the port"));
    }
    let with = match with {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("{p:?} in {host:?} is not a port number (0 to 65535)"))?,
        ),
    };
    match (with, port) {
        (Some(a), Some(b)) if a != b => {
            Err(format!("two ports, {a} in {host:?} and {b}: give one"))
        }
        (Some(p), _) | (None, Some(p)) => Ok((name.to_string(), p)),
        (None, None) => Ok((name.to_string(), DEFAULT_PORT)),
    }
}

/// natterd's port unless told otherwise.
const DEFAULT_PORT: u16 = 7878;

fn main() -> ExitCode {
    let args = Args::parse();
    let (host, port) = match host_and_port(&args.host, args.port) {
        Ok(hp) => hp,
        Err(e) => {
            eprintln!("natter: {e}");
            return Exit::Usage.into();
        }
    };
    let interactive =
        !args.batch && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let style = Style {
        color: interactive && !args.no_color && !no_color_env,
    };
    // Before connecting: a secret that cannot be read is a mistake on the command
    // line, not the server's.
    let secret = match secret::load(
        args.secret_file.as_deref(),
        std::env::var_os("NATTER_SECRET"),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("natter: {e}");
            return Exit::Usage.into();
        }
    };
    let target = connect::target(&host, port);
    let (session, frames, welcome) = match join(&args, (&host, port), interactive, style, &target) {
        Ok(v) => v,
        Err(exit) => return exit.into(),
    };
    session.set_keepalive(args.keepalive);
    let welcome_line = Line::info(style, &sanitize(&welcome));
    println!("{}", welcome_line.text);

    let (frames, secret) = if interactive {
        println!(
            "{}",
            Line::info(style, "/help lists the commands; Ctrl-D quits").text
        );
        let history_file = args.history_file.clone().or_else(|| {
            repl::default_history_file(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
        });
        let opts = repl::Options {
            name: args.username.clone(),
            style,
            history_file,
            download_dir: args.download_dir.clone(),
            overwrite: args.overwrite,
        };
        match repl::run(session.clone(), frames, opts, secret) {
            Ok(exit) => return exit.into(),
            Err(fallback) => {
                let (repl::NoEditor(why), frames, secret) = *fallback;
                eprintln!("natter: {why}; reading commands without a prompt instead");
                (frames, secret)
            }
        }
    } else {
        (frames, secret)
    };
    let opts = batch::Options {
        download_dir: args
            .download_dir
            .unwrap_or_else(|| PathBuf::from(&args.username)),
        name: args.username,
        linger: args.linger,
        overwrite: args.overwrite,
        secret,
    };
    batch::run(session, frames, opts, std::io::stdin().lock()).into()
}

type Joined = (Arc<Session>, FrameReader<ReadHalf>, String);

/// Connects and reads the greeting, with TLS as the options ask; on a terminal, a
/// certificate nobody vouches for is asked about (trust on first use) and, once
/// trusted, connected to again. `Err` is the exit status, the reason already shown.
fn join(
    args: &Args,
    (host, port): (&str, u16),
    interactive: bool,
    style: Style,
    target: &str,
) -> Result<Joined, Exit> {
    if !args.tls && !args.tls_insecure {
        return open(host, port, target, None).map_err(|e| {
            eprintln!("natter: {e}");
            e.exit()
        });
    }
    let trust = match (&args.ca_file, args.tls_insecure) {
        (Some(path), _) => Trust::CaFile(path.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::System,
    };
    if args.tls_insecure {
        eprintln!(
            "natter: warning: --tls-insecure: the server's certificate is not checked, so anyone between you and it could pretend to be the server and read everything, the secret included; use it only for local testing"
        );
    }
    // Trust on first use: on a terminal, when nothing else was said about whom to
    // trust.
    let first_use = match &trust {
        Trust::System if interactive && args.pin.is_empty() => {
            match known_hosts::default_path(
                std::env::var_os("XDG_DATA_HOME"),
                std::env::var_os("HOME"),
            ) {
                Some(path) => match FirstUse::load(KnownHosts::new(path), target) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        eprintln!("natter: {e}");
                        return Err(Exit::Usage);
                    }
                },
                None => None,
            }
        }
        _ => None,
    };
    let mut policy = Policy {
        trust,
        pins: args.pin.clone(),
        roots_optional: first_use.is_some(),
    };
    policy
        .pins
        .extend(first_use.as_ref().and_then(FirstUse::trusted));
    loop {
        let (config, presented) = trust::config(&policy).map_err(|e| {
            eprintln!("natter: {e}");
            Exit::Usage
        })?;
        let tls = Some((config, presented, args.tls_timeout));
        let e = match open(host, port, target, tls) {
            Ok(joined) => return Ok(joined),
            Err(e) => e,
        };
        let unvouched = match (&e, &first_use) {
            (ConnectError::Untrusted { refusal, .. }, Some(f)) => refusal
                .unvouched
                .filter(|fp| !policy.pins.contains(fp))
                .map(|fp| (f, refusal.clone(), fp)),
            _ => None,
        };
        // A certificate nobody vouches for, when the user pinned others: not the
        // usual advice to pin it, which would read as "swap in this one".
        if let ConnectError::Untrusted { refusal, .. } = &e {
            if let Some(fp) = refusal.unvouched.filter(|_| !args.pin.is_empty()) {
                for l in ask::not_pinned(target, &args.pin, fp) {
                    eprintln!("{l}");
                }
                return Err(Exit::Untrusted);
            }
        }
        let Some((first_use, refusal, fp)) = unvouched else {
            eprintln!("natter: {e}");
            return Err(e.exit());
        };
        match first_use.settle(&refusal, fp, style) {
            Decision::Retry(fp) => policy.pins.push(fp),
            Decision::Refused(lines) => {
                for l in lines {
                    eprintln!("{l}");
                }
                return Err(Exit::Untrusted);
            }
        }
    }
}

/// Connects (with TLS when there is a configuration) and reads the greeting.
fn open(
    host: &str,
    port: u16,
    target: &str,
    tls: Option<(Arc<rustls::ClientConfig>, Arc<Presented>, Duration)>,
) -> Result<(Arc<Session>, FrameReader<ReadHalf>, String), ConnectError> {
    let stream = connect::connect(host, port)?;
    let cannot_use = |e: std::io::Error| ConnectError::Other {
        target: target.to_string(),
        detail: format!("cannot use the connection: {}", display::io_words(&e)),
    };
    let t = match tls {
        None => transport::plain(stream).map_err(cannot_use)?,
        Some((config, presented, limit)) => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let conn = tls::handshake(&stream, config, &presented, bare, limit)
                .map_err(|e| connect::tls_error(e, bare, target))?;
            transport::tls(conn, stream).map_err(cannot_use)?
        }
    };
    let mut frames = FrameReader::new(t.read);
    let mut write = t.write;
    let welcome = connect::greet(&mut frames, &mut write, target)?;
    let session = Session::start(write, t.closer, target.to_string()).map_err(cannot_use)?;
    Ok((Arc::new(session), frames, welcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: Option<u16>) -> Result<(String, u16), String> {
        host_and_port(host, port)
    }

    #[test]
    fn the_port_comes_after_the_host_or_with_it() {
        let ok = |h: &str, p: u16| Ok((h.to_string(), p));
        assert_eq!(
            hp("chat.example.org", Some(9000)),
            ok("chat.example.org", 9000)
        );
        assert_eq!(
            hp("chat.example.org:9000", None),
            ok("chat.example.org", 9000)
        );
        assert_eq!(hp("chat.example.org", None), ok("chat.example.org", 7878));
        assert_eq!(hp("127.0.0.1:1", None), ok("127.0.0.1", 1));
        assert_eq!(hp("[::1]:9000", None), ok("::1", 9000));
        assert_eq!(hp("[::1]", Some(9000)), ok("::1", 9000));
        assert_eq!(hp("::1", None), ok("::1", 7878), "a bare IPv6 address");
        assert_eq!(hp("::1", Some(5)), ok("::1", 5));
        assert_eq!(
            hp("h:9000", Some(9000)),
            ok("h", 9000),
            "the same port twice"
        );
    }

    #[test]
    fn a_port_that_cannot_be_is_said_in_words() {
        let err = |h: &str, p| hp(h, p).unwrap_err();
        assert_eq!(
            err("h:9000", Some(9001)),
            "two ports, 9000 in \"h:9000\" and 9001: give one"
        );
        assert!(err("h:http", None).contains("is not a port number"));
        assert!(err("h:70000", None).contains("is not a port number"));
        assert!(err(":9000", None).contains("no host name"));
        assert!(err("[::1", None).contains("']' is missing"));
        assert!(err("[::1]9000", None).contains("[ADDR]:PORT"));
    }

    #[test]
    fn tls_insecure_alone_is_accepted() {
        let args = Args::try_parse_from(["natter", "--tls-insecure", "alice", "h:1"]).unwrap();
        assert!(args.tls_insecure && !args.tls);
        assert!(
            Args::try_parse_from(["natter", "--tls-insecure", "--ca-file", "c.pem", "a", "h"])
                .is_err()
        );
    }
}
