//! The reader's side of transfers: what a `GET` or `PUT` reply sets going, `DATA`
//! into `.part` files, `DONE` and `FAILED`, a download that starts over or is
//! verified, and what a connection that ends leaves behind. Every `/get` and `/put`
//! ends exactly once as an [`Outcome::Transfer`] for its job, whichever way it goes.

use super::{Active, Reader};
use crate::display::{self, group_digits, human_size, sanitize, Line};
use crate::session::download::{DownloadPlan, Start, Stop};
use crate::session::transfers::Plan;
use crate::session::{Outcome, Running};
use natter_protocol::{ErrorCode, FileName, Reply, Request};
use std::time::Instant;

impl Reader {
    /// Sets going what a request prepared, now that its reply is here. `Some` is the
    /// lines to show instead of the reply's usual words.
    pub(super) fn take_up(
        &mut self,
        plan: Plan,
        result: &Result<Reply, (ErrorCode, String)>,
    ) -> Option<Vec<Line>> {
        let s = self.style;
        match (plan, result) {
            (
                Plan::Download(p),
                Ok(Reply::Get {
                    xfer, size, sha256, ..
                }),
            ) => {
                let (xfer, size) = (*xfer, *size);
                let listed = self.listing.get(p.file.as_str()).copied();
                let job = p.job;
                match p.accepted(xfer, size, listed, *sha256, Instant::now()) {
                    Start::Going(d, notice) => {
                        let file = sanitize(d.file().as_str()).into_owned();
                        let what = format!("downloading {file}");
                        let running = Running {
                            xfer: Some(xfer),
                            what: what.clone(),
                            upload: false,
                            names: vec![d.file().to_string()],
                        };
                        self.session.transfer_started(job, running);
                        let text = match d.resumed() {
                            None => format!("{what} ({})", human_size(size)),
                            Some((_, had)) => format!(
                                "resuming {file} at {} of {} (the last bytes it has checked against the server's first)",
                                human_size(had),
                                human_size(size)
                            ),
                        };
                        self.transfers
                            .insert(xfer, Active::Download { d: Box::new(d) });
                        let mut lines: Vec<Line> = notice
                            .map(|n| Line::info(s, &sanitize(&n)))
                            .into_iter()
                            .collect();
                        // Batch mode shows only how a transfer ended, and why it
                        // started over.
                        if self.report.is_some() {
                            lines.push(Line::info(s, &text));
                        }
                        Some(lines)
                    }
                    Start::Again(plan, _) => {
                        self.abort_quietly(xfer);
                        self.get_again(plan);
                        Some(Vec::new())
                    }
                    Start::Failed(why) => {
                        self.abort_quietly(xfer);
                        self.end_job(job, false);
                        Some(vec![Line::error(s, &sanitize(&why))])
                    }
                }
            }
            (Plan::Download(p), Err((ErrorCode::BadOffset, _))) if p.offset > 0 => {
                let (plan, _) = p.too_long();
                self.get_again(plan);
                Some(Vec::new())
            }
            (Plan::Download(p), _) => {
                let job = p.job;
                p.refused();
                self.end_job(job, false);
                None
            }
            (Plan::Upload(p), Ok(Reply::Put { xfer, stored_as })) => {
                let (xfer, job) = (*xfer, p.job);
                let (local, size) = (p.local.display().to_string(), p.size);
                let mut text = format!("uploading {} ({})", sanitize(&local), human_size(size));
                if stored_as != &p.name {
                    text.push_str(&format!(
                        " as {} ({} is taken)",
                        sanitize(stored_as.as_str()),
                        sanitize(p.name.as_str())
                    ));
                }
                let mut names = vec![stored_as.to_string(), p.name.to_string(), local.clone()];
                names.dedup();
                let running = Running {
                    xfer: Some(xfer),
                    what: format!("uploading {}", sanitize(&local)),
                    upload: true,
                    names,
                };
                if !self.session.transfer_started(job, running) {
                    // Cancelled while its PUT was on the way.
                    self.abort_quietly(xfer);
                    self.end_job(job, false);
                    let text = format!(
                        "cancelled the upload of {}; nothing of it was sent",
                        sanitize(&local)
                    );
                    return Some(vec![Line::info(s, &text)]);
                }
                let up = p.start(xfer, stored_as.clone(), self.report.clone(), Instant::now());
                self.transfers.insert(
                    xfer,
                    Active::Upload {
                        name: stored_as.clone(),
                        job,
                    },
                );
                self.session.start_upload(up);
                Some(match self.report {
                    Some(_) => vec![Line::info(s, &text)],
                    None => Vec::new(),
                })
            }
            (Plan::Upload(p), _) => {
                self.end_job(p.job, false);
                None
            }
            (Plan::Abort { xfer, why }, _) => {
                // Already ended by a FAILED that crossed our ABORT: nothing to add.
                let job = job_of(&self.take(xfer)?);
                self.end_job(job, false);
                Some(vec![Line::error(s, &sanitize(&why))])
            }
            (Plan::Cancel { xfer }, Ok(_)) => {
                // Already ended by a DONE or FAILED that crossed our ABORT: its own
                // line said how.
                let active = self.take(xfer)?;
                let job = job_of(&active);
                let text = match active {
                    Active::Download { d, .. } => format!(
                        "cancelled the download of {}; {} is kept: /get {} resumes it",
                        sanitize(d.file().as_str()),
                        d.part().display(),
                        sanitize(d.file().as_str())
                    ),
                    Active::Upload { name, .. } => format!(
                        "cancelled the upload of {}; the server keeps nothing of it",
                        sanitize(name.as_str())
                    ),
                };
                self.end_job(job, false);
                Some(vec![Line::info(s, &text)])
            }
            (Plan::Cancel { .. }, Err(_)) => Some(Vec::new()),
            (Plan::Sums, Ok(Reply::Files { .. })) => {
                let mut names: Vec<(&String, &super::Listed)> = self.listing.iter().collect();
                names.sort_by(|a, b| a.0.cmp(b.0));
                let mut lines = Vec::new();
                let mut waiting = Vec::new();
                for (name, l) in names {
                    match l.sha256 {
                        // sha256sum's own format, so `sha256sum -c` checks a download.
                        Some(h) => lines.push(Line::plain(format!("{h}  {}", sanitize(name)))),
                        None => waiting.push(sanitize(name).into_owned()),
                    }
                }
                if !waiting.is_empty() {
                    let text = format!(
                        "not hashed yet (the server is at it): {}",
                        waiting.join(", ")
                    );
                    lines.push(Line::info(s, &text));
                }
                if lines.is_empty() {
                    lines.push(Line::info(s, "the shared folder is empty"));
                }
                Some(lines)
            }
            (Plan::Sums, Err(_)) => None,
            (Plan::Sums, Ok(_)) => Some(Vec::new()),
            (Plan::Verify(d), result) => {
                let job = d.job();
                self.verifying.remove(&job);
                let listed = match result {
                    Ok(Reply::Files { .. }) => Some(self.listing.get(d.file().as_str()).copied()),
                    _ => None,
                };
                let (line, ok) = match d.verify(listed) {
                    Ok(saved) => {
                        let check = match saved.sha256 {
                            Some(h) => format!(", SHA-256 verified: {h}"),
                            None => {
                                "; not verified: the server gave no SHA-256 (not hashed yet)".into()
                            }
                        };
                        let text = format!(
                            "Saved {} ({} bytes){check}",
                            saved.path.display(),
                            group_digits(saved.size)
                        );
                        (Line::info(s, &text), true)
                    }
                    Err(why) => (Line::error(s, &sanitize(&why)), false),
                };
                self.end_job(job, ok);
                Some(vec![line])
            }
        }
    }

    /// A request's reply could not be read, and the session ends: a `.part` made
    /// for a `GET` goes again, as after a refusal. The job is not ended here: the
    /// end of the session tells whoever waits for it, and must come first (a
    /// batch script that went on would quit, and the end would look asked for).
    pub(super) fn unanswered(&mut self, plan: Option<Plan>) {
        if let Some(Plan::Download(p)) = plan {
            p.refused();
        }
    }

    /// Transfer `xfer` is no longer running here: its progress goes with it.
    fn take(&mut self, xfer: u64) -> Option<Active> {
        if let Some(report) = &self.report {
            report.ended(xfer);
        }
        self.transfers.remove(&xfer)
    }

    /// Stops transfer `xfer` on the server without a word: what it still sends is
    /// dropped, as a transfer nobody knows.
    fn abort_quietly(&mut self, xfer: u64) {
        self.take(xfer);
        self.session.send(Request::Abort { xfer }, true);
    }

    /// Asks for the whole file again, for a `.part` that cannot be continued.
    fn get_again(&mut self, plan: DownloadPlan) {
        let req = plan.request();
        self.session
            .send_with(req, false, Some(Plan::Download(plan)));
    }

    pub(super) fn data(&mut self, xfer: u64, data: &[u8]) {
        let Some(Active::Download { d }) = self.transfers.get_mut(&xfer) else {
            return;
        };
        match d.write(data, Instant::now()) {
            Ok(now) => {
                if let Some(report) = &self.report {
                    report.moved(xfer, now);
                }
            }
            Err(Stop::Local(why)) => {
                // Ended here and now, in the write's own words: the server may have
                // sent every byte and its DONE already, and what it still sends for
                // this transfer is dropped as a transfer nobody knows.
                let job = d.job();
                self.abort_quietly(xfer);
                self.sink.show(Line::error(self.style, &sanitize(&why)));
                self.end_job(job, false);
            }
            Err(Stop::Mismatch(at)) => {
                if let Some(Active::Download { d, .. }) = self.take(xfer) {
                    self.abort_quietly(xfer);
                    let (plan, _) = (*d).mismatch(at);
                    self.get_again(plan);
                }
            }
        }
    }

    pub(super) fn done(&mut self, xfer: u64, stored: Option<(FileName, u64)>) {
        let s = self.style;
        let (line, job, ok) = match self.take(xfer) {
            Some(Active::Download { d, .. }) => match d.complete() {
                // Every byte is here: saved once the server lists the file as it
                // was when the download started.
                Ok(()) => {
                    let job = d.job();
                    self.verifying
                        .insert(job, (d.file().clone(), d.part().to_path_buf()));
                    self.session
                        .send_with(Request::Files, true, Some(Plan::Verify(*d)));
                    return;
                }
                Err(why) => (Line::error(s, &sanitize(&why)), d.job(), false),
            },
            Some(Active::Upload { name, job }) => {
                let (name, size) = match stored {
                    Some((n, size)) => (n, Some(size)),
                    None => (name, None),
                };
                self.session.add_file(name.to_string());
                let size = size.map_or(String::new(), |n| format!(" ({} bytes)", group_digits(n)));
                (
                    Line::info(s, &format!("Uploaded as {}{size}", sanitize(name.as_str()))),
                    job,
                    true,
                )
            }
            None => return,
        };
        self.sink.show(line);
        self.end_job(job, ok);
    }

    pub(super) fn failed(&mut self, xfer: u64, code: &ErrorCode, text: &str) {
        let words = display::error_words(code, text, None);
        let Some(active) = self.take(xfer) else {
            return;
        };
        let job = job_of(&active);
        let line = match active {
            Active::Download { d, .. } => format!(
                "the download of {} failed: {words}; {} is kept: /get {} resumes it",
                sanitize(d.file().as_str()),
                d.part().display(),
                sanitize(d.file().as_str())
            ),
            Active::Upload { name, .. } => {
                self.session.cancel_upload(xfer);
                format!("the upload of {} failed: {words}", sanitize(name.as_str()))
            }
        };
        self.sink.show(Line::error(self.style, &line));
        self.end_job(job, false);
    }

    fn end_job(&mut self, job: u64, ok: bool) {
        self.session.transfer_ended(job);
        let _ = self.outcomes.send(Outcome::Transfer { job, ok });
    }

    /// The connection ended with transfers running: say what is kept.
    pub(super) fn left_behind(&mut self) {
        for (xfer, active) in std::mem::take(&mut self.transfers) {
            if let Some(report) = &self.report {
                report.ended(xfer);
            }
            let text = match active {
                Active::Download { d, .. } => format!(
                    "the download of {} stopped; {} is kept: /get {} resumes it",
                    sanitize(d.file().as_str()),
                    d.part().display(),
                    sanitize(d.file().as_str())
                ),
                Active::Upload { name, .. } => format!(
                    "the upload of {} stopped; the server keeps nothing of it",
                    sanitize(name.as_str())
                ),
            };
            self.sink.show(Line::error(self.style, &text));
        }
        for (_, (file, part)) in std::mem::take(&mut self.verifying) {
            let file = sanitize(file.as_str()).into_owned();
            self.sink.show(Line::error(
                self.style,
                &format!(
                    "every byte of {file} arrived, but the connection ended before it could be verified; {} is kept: /get {file} checks it again",
                    part.display()
                ),
            ));
        }
    }
}

fn job_of(active: &Active) -> u64 {
    match active {
        Active::Download { d, .. } => d.job(),
        Active::Upload { job, .. } => *job,
    }
}
