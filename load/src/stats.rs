//! What a run measures and the figures it prints from it: the latency histogram, and
//! the server's CPU time and memory read from `/proc`. Counting deliveries and losses
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
}

/// The server's CPU time and memory, read from /proc.
#[derive(Clone)]
pub struct ServerStats {
    pid: u32,
    start_cpu: f64,
    /// The server's resident set when the run began, in KiB.
    pub start_rss: u64,
}

impl ServerStats {
    pub fn new(pid: u32) -> ServerStats {
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

    /// A `/proc/PID/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 when it
    /// cannot be read.
    pub fn kib(&self, field: &str) -> u64 {
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
    pub fn mark(&mut self) {
        self.start_cpu = self.cpu_seconds();
    }

    pub fn cpu_since_mark(&self) -> f64 {
        self.cpu_seconds() - self.start_cpu
    }

    /// The `server_cpu_s` and `deliveries_per_cpu_s` lines, since [`ServerStats::mark`].
    pub fn print_cpu(&self, delivered: u64) {
        let cpu = self.cpu_since_mark();
        println!("server_cpu_s {cpu:.3}");
        // /proc counts CPU in clock ticks (10 ms): a shorter run says nothing.
        if cpu >= 0.1 {
            println!("deliveries_per_cpu_s {:.0}", delivered as f64 / cpu);
        } else {
            println!("deliveries_per_cpu_s n/a (the server used under 0.1 s of CPU; run longer)");
        }
    }
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
