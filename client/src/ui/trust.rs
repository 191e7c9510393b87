//! Trust on first use, on a terminal, as ssh does with host keys: a certificate no
//! authority vouches for is shown by its SHA-256 fingerprint and the user is asked;
//! the answer is kept per `host:port` (`net::known_hosts`), and a different
//! certificate later is refused loudly. Batch mode never asks (it needs `--ca-file`
//! or `--pin`), so none of this runs there.
//!
//! The question comes after the handshake that showed the certificate has failed;
//! a yes reconnects with the certificate pinned. Asking inside the handshake would
//! keep the server waiting while the user reads, past its handshake timeout.

use crate::display::{Line, Style};
use crate::net::known_hosts::KnownHosts;
use crate::net::trust::{Fingerprint, Refusal};
use std::io::{BufRead, Write};

/// The lines for a certificate no authority vouches for when `--pin` named others:
/// as loud as a changed certificate trusted on first use, since a pin says which
/// certificate to expect, and without the usual offer to pin the one presented.
pub fn not_pinned(server: &str, pinned: &[Fingerprint], presented: Fingerprint) -> Vec<String> {
    let mut lines = vec![format!(
        "natter: WARNING: the certificate of {server} is not the one you pinned!"
    )];
    for (i, pin) in pinned.iter().enumerate() {
        let label = if i == 0 { "pinned:   " } else { "          " };
        lines.push(format!("natter: {label} {pin}"));
    }
    lines.extend([
        format!("natter: presented: {presented}"),
        "natter: someone may be pretending to be the server, or its certificate was replaced.".into(),
        "natter: nothing was sent. If you know it was replaced, check the new fingerprint against natterd's startup log before you pin it".into(),
    ]);
    lines
}

/// The trust-on-first-use state of one server.
pub struct FirstUse {
    known: KnownHosts,
    /// `host:port`, as the user gave it.
    server: String,
    /// The fingerprint trusted for it earlier, if any.
    trusted: Option<Fingerprint>,
}

/// What to do after a certificate nobody vouches for.
pub enum Decision {
    /// Trusted now (and kept): connect again with it pinned.
    Retry(Fingerprint),
    /// Not trusted; the lines (for stderr) say why.
    Refused(Vec<String>),
}

impl FirstUse {
    /// `Err` when the file of trusted certificates cannot be read.
    pub fn load(known: KnownHosts, server: &str) -> Result<FirstUse, String> {
        let trusted = known.lookup(server)?;
        Ok(FirstUse {
            known,
            server: server.to_string(),
            trusted,
        })
    }

    /// The certificate trusted earlier, to pin.
    pub fn trusted(&self) -> Option<Fingerprint> {
        self.trusted
    }

    /// The server presented `presented`, which nobody vouches for (`refusal` says
    /// why) and which is not the one trusted earlier: refuse loudly if another was,
    /// else ask.
    pub fn settle(&self, refusal: &Refusal, presented: Fingerprint, style: Style) -> Decision {
        let file = self.known.path.display();
        if let Some(trusted) = self.trusted {
            return Decision::Refused(vec![
                format!(
                    "natter: WARNING: the certificate of {} is not the one you trusted!",
                    self.server
                ),
                format!("natter: trusted:   {trusted}"),
                format!("natter: presented: {presented}"),
                "natter: someone may be pretending to be the server, or its certificate was replaced.".into(),
                format!(
                    "natter: nothing was sent. If you know it was replaced, check the new fingerprint against natterd's startup log, then remove the line for {} from {file}",
                    self.server
                ),
            ]);
        }
        let out = &mut std::io::stdout().lock();
        let shown = [
            Line::error(
                style,
                &format!(
                    "the certificate of {} is not trusted: {}",
                    self.server, refusal.why
                ),
            ),
            Line::info(style, &format!("its SHA-256 fingerprint is {presented}")),
            Line::info(
                style,
                "natterd logs its own when it starts (\"serving TLS with the certificate sha256:...\"); trust it only if they are the same",
            ),
        ];
        for l in shown {
            let _ = writeln!(out, "{}", l.text);
        }
        let _ = write!(
            out,
            "trust this certificate for {} from now on? (yes/no) ",
            self.server
        );
        let _ = out.flush();
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer);
        if read.is_err() || !matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y") {
            return Decision::Refused(vec![format!(
                "natter: not trusted; nothing was kept (--ca-file with the server's certificate or --pin {presented} trust it without asking)"
            )]);
        }
        if let Err(e) = self.known.add(&self.server, &presented) {
            return Decision::Refused(vec![format!("natter: {e}")]);
        }
        let _ = writeln!(
            out,
            "{}",
            Line::info(
                style,
                &format!("trusted; kept for {} in {file}", self.server)
            )
            .text
        );
        Decision::Retry(presented)
    }
}
