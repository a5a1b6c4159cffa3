//! Reading `/proc`: a process's memory (`VmRSS`, `VmHWM`) and how much CPU each party used
//! during a phase (the ingress, the broker, this load generator, and everything else).

use std::time::Duration;

use anyhow::Context;

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, …), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let prefix = format!("{field}:");
    let line = status
        .lines()
        .find(|line| line.starts_with(&prefix))
        .with_context(|| format!("{path} has no {field}"))?;
    let kb: u64 = line[prefix.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("parsing {field} in {path}"))?;
    Ok(kb * 1024)
}

/// CPU time (user + system, in clock ticks) a process has used so far; `who` is a pid or
/// `self`.
fn process_ticks(who: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{who}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may contain spaces and parentheses; the fields after it do not.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .with_context(|| format!("malformed {path}"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is index 0 here, so utime (14) and stime (15) are 11 and 12.
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .with_context(|| format!("short {path}"))?
            .parse()
            .with_context(|| format!("parsing {path}"))
    };
    Ok(tick(11)? + tick(12)?)
}

/// Busy and total clock ticks of the whole machine, and its number of CPUs.
fn machine_ticks() -> anyhow::Result<(u64, u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let mut lines = stat.lines();
    let first = lines.next().context("empty /proc/stat")?;
    let values: Vec<u64> = first
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().context("parsing /proc/stat"))
        .collect::<anyhow::Result<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    let cpus = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1);
    Ok((total.saturating_sub(idle), total, cpus))
}

/// Processes whose command name is `comm` (the broker runs as `beam.smp`).
pub fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    ingress: Option<u64>,
    broker: u64,
    generator: u64,
    busy: u64,
    total: u64,
    cpus: usize,
}

/// CPU used during a phase, in cores (1.0 = one core fully busy for the whole phase).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUsage {
    pub ingress: Option<f64>,
    pub broker: f64,
    pub generator: f64,
    /// Everything else on the machine (PostgreSQL, other users' builds and tests, …).
    pub other: f64,
    pub busy: f64,
    pub cpus: usize,
}

/// Who to account for.
#[derive(Debug, Clone)]
pub struct Accounting {
    pub ingress: Option<u32>,
    pub broker: Vec<u32>,
}

impl Accounting {
    pub fn snapshot(&self) -> anyhow::Result<CpuSnapshot> {
        let ingress = match self.ingress {
            Some(pid) => Some(process_ticks(&pid.to_string())?),
            None => None,
        };
        // The broker's pids are read leniently: a vanished helper process is not an error.
        let broker = self
            .broker
            .iter()
            .filter_map(|pid| process_ticks(&pid.to_string()).ok())
            .sum();
        let generator = process_ticks("self")?;
        let (busy, total, cpus) = machine_ticks()?;
        Ok(CpuSnapshot {
            ingress,
            broker,
            generator,
            busy,
            total,
            cpus,
        })
    }
}

impl CpuSnapshot {
    /// Usage between `self` (earlier) and `later`.
    pub fn until(&self, later: &CpuSnapshot) -> CpuUsage {
        let wall = later.total.saturating_sub(self.total) as f64 / self.cpus as f64;
        if wall <= 0.0 {
            return CpuUsage {
                cpus: self.cpus,
                ..CpuUsage::default()
            };
        }
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / wall;
        let ingress = match (self.ingress, later.ingress) {
            (Some(a), Some(b)) => Some(cores(a, b)),
            _ => None,
        };
        let broker = cores(self.broker, later.broker);
        let generator = cores(self.generator, later.generator);
        let busy = cores(self.busy, later.busy);
        let other = (busy - broker - generator - ingress.unwrap_or(0.0)).max(0.0);
        CpuUsage {
            ingress,
            broker,
            generator,
            other,
            busy,
            cpus: self.cpus,
        }
    }
}

/// Periodic `VmRSS` samples of one process, taken on a background task until stopped.
pub struct RssSampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<(u64, usize)>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut max = 0u64;
            let mut samples = 0usize;
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {
                        if let Ok(rss) = status_bytes(pid, "VmRSS") {
                            max = max.max(rss);
                            samples += 1;
                        }
                    }
                }
            }
            (max, samples)
        });
        Self { stop, task }
    }

    /// The largest sample and the number of samples.
    pub async fn finish(self) -> anyhow::Result<(u64, usize)> {
        let _ = self.stop.send(());
        self.task.await.context("RSS sampler")
    }
}
