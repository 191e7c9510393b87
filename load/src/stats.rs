//! What a run measures and the figures it prints from it: the latency histogram, and
//! the servers' CPU time and memory read from `/proc`. Counting deliveries and losses
//! is each scenario's own business; this only turns samples into figures.
//!
//! Recording a sample must stay cheap (an index and an add): fan-out records one per
//! delivery, millions a second, and a load tool that slowed itself down would measure
//! itself, not the server.

use std::time::Instant;

/// Microseconds since the run began; carried in message texts for latency.
pub fn now_us(base: Instant) -> u64 {
    base.elapsed().as_micros() as u64
}

/// Latency histogram: 1 µs buckets to 10 ms, then 1 ms buckets to 10 s.
#[derive(Clone)]
pub struct Histogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    count: u64,
    pub max: u64,
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            fine: vec![0; 10_000],
            coarse: vec![0; 10_000],
            count: 0,
            max: 0,
        }
    }

    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.max = self.max.max(us);
        if us < 10_000 {
            self.fine[us as usize] += 1;
        } else {
            let i = ((us / 1000) as usize).min(self.coarse.len() - 1);
            self.coarse[i] += 1;
        }
    }

    /// Adds `other`'s samples to these, as if each had been recorded here.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.fine.iter_mut().zip(&other.fine) {
            *a += b;
        }
        for (a, b) in self.coarse.iter_mut().zip(&other.coarse) {
            *a += b;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    pub fn percentile(&self, p: f64) -> u64 {
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

    /// The `latency_us` line.
    pub fn print(&self) {
        println!(
            "latency_us p50 {} p99 {} p999 {} max {}",
            self.percentile(50.0),
            self.percentile(99.0),
            self.percentile(99.9),
            self.max
        );
    }

    /// A `KEY count N p50 .. p99 .. max ..` line (just the count when it is 0).
    pub fn print_part(&self, key: &str) {
        if self.count == 0 {
            println!("{key} count 0");
        } else {
            println!(
                "{key} count {} p50 {} p99 {} max {}",
                self.count,
                self.percentile(50.0),
                self.percentile(99.0),
                self.max
            );
        }
    }
}

/// The servers' CPU time and memory, read from /proc: one server, or several
/// (`--server-pid A,B`, the nodes of a cluster), whose figures are then their sums with
/// a `server_pid` line for each.
#[derive(Clone)]
pub struct ServerStats {
    servers: Vec<Server>,
}

#[derive(Clone)]
struct Server {
    pid: u32,
    start_cpu: f64,
    /// Its resident set when the run began, in KiB.
    start_rss: u64,
}

/// One server's figures at one moment (or, from [`total`], several servers' sums).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub pid: u32,
    /// CPU seconds since [`ServerStats::mark`].
    pub cpu_s: f64,
    /// Resident set in KiB: when the run began, now, and at its peak (`VmHWM`).
    pub start_rss_kib: u64,
    pub rss_kib: u64,
    pub peak_kib: u64,
}

impl ServerStats {
    /// Starts watching `pids`; `None` when there are none.
    pub fn new(pids: &[u32]) -> Option<ServerStats> {
        if pids.is_empty() {
            return None;
        }
        let servers = pids
            .iter()
            .map(|&pid| Server {
                pid,
                start_cpu: cpu_seconds(pid),
                start_rss: kib(&status(pid), "VmRSS:"),
            })
            .collect();
        Some(ServerStats { servers })
    }

    /// Restarts the CPU clocks (after setup, before the measured phase).
    pub fn mark(&mut self) {
        for s in &mut self.servers {
            s.start_cpu = cpu_seconds(s.pid);
        }
    }

    /// Every server's figures now, each read once.
    pub fn sample(&self) -> Vec<Sample> {
        self.servers
            .iter()
            .map(|s| {
                let status = status(s.pid);
                Sample {
                    pid: s.pid,
                    cpu_s: cpu_seconds(s.pid) - s.start_cpu,
                    start_rss_kib: s.start_rss,
                    rss_kib: kib(&status, "VmRSS:"),
                    peak_kib: kib(&status, "VmHWM:"),
                }
            })
            .collect()
    }
}

/// The sums of several servers' figures (pid 0).
pub fn total(samples: &[Sample]) -> Sample {
    samples.iter().fold(Sample::default(), |t, s| Sample {
        pid: 0,
        cpu_s: t.cpu_s + s.cpu_s,
        start_rss_kib: t.start_rss_kib + s.start_rss_kib,
        rss_kib: t.rss_kib + s.rss_kib,
        peak_kib: t.peak_kib + s.peak_kib,
    })
}

/// With several servers, a `server_pid PID ...` line for each, its figures as `what`
/// words them; with one, nothing (the sums are its own figures).
pub fn print_each(samples: &[Sample], what: impl Fn(&Sample) -> String) {
    if samples.len() > 1 {
        for s in samples {
            println!("server_pid {} {}", s.pid, what(s));
        }
    }
}

/// The `server_cpu_s` and `deliveries_per_cpu_s` lines, for `cpu` seconds (of all the
/// servers) since [`ServerStats::mark`].
pub fn print_cpu(cpu: f64, delivered: u64) {
    println!("server_cpu_s {cpu:.3}");
    // /proc counts CPU in clock ticks (10 ms): a shorter run says nothing.
    if cpu >= 0.1 {
        println!("deliveries_per_cpu_s {:.0}", delivered as f64 / cpu);
    } else {
        println!("deliveries_per_cpu_s n/a (the server used under 0.1 s of CPU; run longer)");
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
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

/// `/proc/PID/status`, empty when it cannot be read.
fn status(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 when it
/// is not there.
fn kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{kib, total, Histogram, Sample};

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

    #[test]
    fn merged_is_as_if_recorded_in_one() {
        let (mut a, mut b, mut one) = (Histogram::new(), Histogram::new(), Histogram::new());
        for us in [3, 9_999, 10_000, 2_500_000, 12_000_000] {
            a.record(us);
            one.record(us);
        }
        for us in [1, 4, 70_000] {
            b.record(us);
            one.record(us);
        }
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged.count, 8);
        assert_eq!(merged.max, 12_000_000);
        for p in [0.0, 12.5, 50.0, 87.5, 99.0, 100.0] {
            assert_eq!(merged.percentile(p), one.percentile(p), "p{p}");
        }
        merged.merge(&Histogram::new());
        assert_eq!((merged.count, merged.max), (8, 12_000_000));
    }

    #[test]
    fn several_servers_sum() {
        let a = Sample {
            pid: 10,
            cpu_s: 1.5,
            start_rss_kib: 100,
            rss_kib: 300,
            peak_kib: 400,
        };
        let b = Sample {
            pid: 11,
            cpu_s: 0.25,
            start_rss_kib: 50,
            rss_kib: 70,
            peak_kib: 90,
        };
        let want = Sample {
            pid: 0,
            cpu_s: 1.75,
            start_rss_kib: 150,
            rss_kib: 370,
            peak_kib: 490,
        };
        assert_eq!(total(&[a, b]), want);
        assert_eq!(total(&[a]), Sample { pid: 0, ..a });
    }

    #[test]
    fn status_figures() {
        let status = "Name:\tnatterd\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(kib(status, "VmRSS:"), 4096);
        assert_eq!(kib(status, "VmHWM:"), 5120);
        assert_eq!(kib("", "VmRSS:"), 0);
    }
}
