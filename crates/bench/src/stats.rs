//! Figures of a load: latency histograms (HdrHistogram, microseconds, 3 significant digits),
//! answers by kind, status and code, a per-second timeline, and the summaries and ratios the
//! report prints.
//!
//! Workers record into a few shards behind std mutexes (held for a few nanoseconds, never across
//! an await), chosen by worker number, so recording stays cheap with a thousand connections and
//! the memory does not grow with them; [`Recorder::finish`] merges the shards.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency a histogram holds (longer ones are clamped): a minute, in microseconds.
pub const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// A latency histogram in microseconds, 1 µs to a minute, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low >= 1, high >= 2 * low, sigfig <= 5): never an error.
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).unwrap_or_else(|e| unreachable!("valid bounds: {e}"))
}

/// A coarser histogram for one second of the timeline (2 significant digits: p99 to 1 %).
fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 2).unwrap_or_else(|e| unreachable!("valid bounds: {e}"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_LATENCY_MICROS)
}

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `POST /api/activities/{id}/purchase-token`.
    Token,
    /// `POST /api/activities/{id}/orders`.
    Order,
    /// `GET /api/tickets/{ticket}`.
    Ticket,
    /// A request to the hello-world baseline.
    Hello,
}

impl Kind {
    /// The name in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::Order => "order",
            Kind::Ticket => "ticket",
            Kind::Hello => "hello",
        }
    }
}

/// Latency percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of `h` (microseconds) in milliseconds; all zero when it is empty.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// One second of a load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Second {
    /// Start of the second, in seconds since the load started.
    pub t: f64,
    /// Answers completed in that second.
    pub requests: u64,
    /// Answers per second: `requests`, or for the last, partial second, scaled by how much of
    /// it the load lasted.
    pub rate: f64,
    /// 99th percentile latency of those answers.
    pub p99_ms: f64,
}

#[derive(Debug)]
struct Shard {
    by_kind: BTreeMap<Kind, Histogram<u64>>,
    timeline: Vec<Histogram<u64>>,
    answers: HashMap<(Kind, u16, &'static str), u64>,
    failures: BTreeMap<Kind, u64>,
}

impl Shard {
    fn new() -> Self {
        Shard { by_kind: BTreeMap::new(), timeline: Vec::new(), answers: HashMap::new(), failures: BTreeMap::new() }
    }
}

/// Collects every answer of a load. Shared by all workers.
#[derive(Debug)]
pub struct Recorder {
    t0: Instant,
    shards: Box<[Mutex<Shard>]>,
    /// Answers so far (for the progress bar).
    pub answered: AtomicU64,
    /// `201`s so far (for the progress bar).
    pub created: AtomicU64,
    /// Requests without an answer so far.
    pub failed: AtomicU64,
}

impl Recorder {
    /// A recorder whose timeline starts at `t0`.
    pub fn new(t0: Instant) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = (0..(4 * cores).clamp(4, 64)).map(|_| Mutex::new(Shard::new())).collect();
        Recorder { t0, shards, answered: AtomicU64::new(0), created: AtomicU64::new(0), failed: AtomicU64::new(0) }
    }

    /// When the load started.
    pub fn t0(&self) -> Instant {
        self.t0
    }

    fn shard(&self, worker: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A panic while recording leaves plain counters behind: still usable.
        self.shards[worker % self.shards.len()].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an answer of `status` (and error `code`, or "") to a request of `kind` that
    /// took `latency` and completed at `done`.
    pub fn answer(&self, worker: usize, kind: Kind, status: u16, code: &'static str, latency: Duration, done: Instant) {
        let us = micros(latency);
        let second = usize::try_from(done.saturating_duration_since(self.t0).as_secs()).unwrap_or(usize::MAX);
        {
            let mut shard = self.shard(worker);
            shard.by_kind.entry(kind).or_insert_with(latency_histogram).saturating_record(us);
            if second < 24 * 3600 {
                while shard.timeline.len() <= second {
                    shard.timeline.push(second_histogram());
                }
                shard.timeline[second].saturating_record(us);
            }
            *shard.answers.entry((kind, status, code)).or_default() += 1;
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        if status == 201 {
            self.created.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a request of `kind` that got no answer (connection refused, reset, timed out).
    pub fn failure(&self, worker: usize, kind: Kind) {
        *self.shard(worker).failures.entry(kind).or_default() += 1;
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Merges the shards.
    pub fn finish(&self) -> Recorded {
        let mut out = Recorded {
            all: latency_histogram(),
            by_kind: BTreeMap::new(),
            timeline: Vec::new(),
            answers: BTreeMap::new(),
            failures: BTreeMap::new(),
        };
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (kind, h) in &shard.by_kind {
                // Same bounds everywhere: adding never fails.
                let _ = out.all.add(h);
                let _ = out.by_kind.entry(*kind).or_insert_with(latency_histogram).add(h);
            }
            for (i, h) in shard.timeline.iter().enumerate() {
                while out.timeline.len() <= i {
                    out.timeline.push(second_histogram());
                }
                let _ = out.timeline[i].add(h);
            }
            for (&(kind, status, code), n) in &shard.answers {
                *out.answers.entry(answer_label(kind, status, code)).or_default() += n;
            }
            for (kind, n) in &shard.failures {
                *out.failures.entry(*kind).or_default() += n;
            }
        }
        out
    }
}

/// `"order 409 SOLD_OUT"`, `"token 200"`.
pub fn answer_label(kind: Kind, status: u16, code: &str) -> String {
    if code.is_empty() { format!("{} {status}", kind.name()) } else { format!("{} {status} {code}", kind.name()) }
}

/// Everything a load recorded, merged.
#[derive(Debug)]
pub struct Recorded {
    pub all: Histogram<u64>,
    pub by_kind: BTreeMap<Kind, Histogram<u64>>,
    pub timeline: Vec<Histogram<u64>>,
    /// Answers by [`answer_label`].
    pub answers: BTreeMap<String, u64>,
    pub failures: BTreeMap<Kind, u64>,
}

impl Recorded {
    /// The figures of a load that lasted `elapsed`.
    pub fn figures(&self, elapsed: Duration) -> Figures {
        let requests = self.all.len();
        let secs = elapsed.as_secs_f64();
        Figures {
            requests,
            failures: self.failures.values().sum(),
            elapsed_secs: secs,
            req_per_sec: if secs > 0.0 { requests as f64 / secs } else { 0.0 },
            latency: Latency::of(&self.all),
            by_kind: self.by_kind.iter().map(|(k, h)| (k.name().to_owned(), Latency::of(h))).collect(),
            answers: self.answers.clone(),
            timeline: self
                .timeline
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let span = (secs - i as f64).clamp(0.0, 1.0);
                    let rate = if span > 0.0 { h.len() as f64 / span } else { 0.0 };
                    Second { t: i as f64, requests: h.len(), rate, p99_ms: Latency::of(h).p99_ms }
                })
                .collect(),
            cpu: None,
        }
    }
}

/// The figures of one load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Requests answered.
    pub requests: u64,
    /// Requests without an answer.
    pub failures: u64,
    /// How long the load lasted.
    pub elapsed_secs: f64,
    /// `requests / elapsed_secs`.
    pub req_per_sec: f64,
    /// Latency of every answered request.
    pub latency: Latency,
    /// Latency by kind of request.
    pub by_kind: BTreeMap<String, Latency>,
    /// Answers by kind, status and code.
    pub answers: BTreeMap<String, u64>,
    /// Per second: answers and p99.
    pub timeline: Vec<Second>,
    /// Processor time the load cost, when the processes could be read.
    pub cpu: Option<CpuUse>,
}

/// Processor time spent during a load (`utime + stime` of `/proc/PID/stat`, 10 ms ticks): a
/// cost per request that holds up better than req/s when other work shares the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuUse {
    /// CPU seconds of the server's process (in-process: server and load driver together).
    pub server_secs: f64,
    /// CPU seconds of the load driver, when the server is another process.
    pub driver_secs: Option<f64>,
    /// `server_secs` per answered request, in microseconds.
    pub server_us_per_request: f64,
}

/// CPU seconds process `pid` has used so far (all threads, user and system).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_secs(&stat)
}

fn parse_cpu_secs(stat: &str) -> Option<f64> {
    // After the command name (which may hold spaces and parentheses): state is field 3,
    // utime 14 and stime 15, in clock ticks of 1/100 s on Linux.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Measures the CPU a load costs the server (and the driver, when separate).
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    server: Option<(u32, f64)>,
    driver: Option<f64>,
}

impl CpuMeter {
    /// Starts measuring: the server is process `server_pid` (this process if it is ours).
    pub fn start(server_pid: Option<u32>) -> Self {
        let own = std::process::id();
        let server = server_pid.and_then(|pid| cpu_secs(pid).map(|t| (pid, t)));
        let driver = server_pid.filter(|pid| *pid != own).and_then(|_| cpu_secs(own));
        CpuMeter { server, driver }
    }

    /// The CPU used since the start, for `answered` requests.
    pub fn finish(self, answered: u64) -> Option<CpuUse> {
        let (pid, before) = self.server?;
        let server_secs = (cpu_secs(pid)? - before).max(0.0);
        let driver_secs = self.driver.and_then(|b| cpu_secs(std::process::id()).map(|now| (now - b).max(0.0)));
        let per = if answered > 0 { server_secs * 1e6 / answered as f64 } else { 0.0 };
        Some(CpuUse { server_secs, driver_secs, server_us_per_request: per })
    }
}

/// `value / base`, when both are meaningful.
pub fn ratio(value: f64, base: f64) -> Option<f64> {
    (base > 0.0 && value.is_finite() && base.is_finite()).then(|| value / base)
}

/// Figures of a run as ratios to the baseline's (req/s: higher is better; latencies: lower
/// is better).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratios {
    pub req_per_sec: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    /// Server CPU per request (lower is better).
    pub cpu_per_request: Option<f64>,
}

impl Ratios {
    /// `run` relative to `base`.
    pub fn of(run: &Figures, base: &Figures) -> Ratios {
        Ratios {
            req_per_sec: ratio(run.req_per_sec, base.req_per_sec),
            p50: ratio(run.latency.p50_ms, base.latency.p50_ms),
            p90: ratio(run.latency.p90_ms, base.latency.p90_ms),
            p99: ratio(run.latency.p99_ms, base.latency.p99_ms),
            p999: ratio(run.latency.p999_ms, base.latency.p999_ms),
            cpu_per_request: match (run.cpu, base.cpu) {
                (Some(a), Some(b)) => ratio(a.server_us_per_request, b.server_us_per_request),
                _ => None,
            },
        }
    }
}

/// Median and spread (min, max) of a few measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// Of `values` (`None` when empty; NaNs are ignored).
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_a_known_spread_are_within_the_histograms_precision() {
        let mut h = latency_histogram();
        for i in 1..=1000 {
            h.record(i * 1000).unwrap();
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert!(close(l.p50_ms, 500.0), "{l:?}");
        assert!(close(l.p90_ms, 900.0), "{l:?}");
        assert!(close(l.p99_ms, 990.0), "{l:?}");
        assert!(close(l.p999_ms, 999.0), "{l:?}");
        assert!(close(l.max_ms, 1000.0), "{l:?}");
        assert!(close(l.mean_ms, 500.5), "{l:?}");
        assert_eq!(Latency::of(&latency_histogram()), Latency::default());
    }

    #[test]
    fn shards_merge_into_one_histogram_timeline_and_answer_count() {
        let t0 = Instant::now();
        let r = Recorder::new(t0);
        // 100 answers in second 0 at 1 ms, 50 in second 2 at 10 ms, spread over many workers.
        for i in 0..100 {
            r.answer(i, Kind::Order, 409, "SOLD_OUT", ms(1), t0 + ms(10));
        }
        for i in 0..50 {
            r.answer(i * 7, Kind::Token, 200, "", ms(10), t0 + ms(2_500));
        }
        r.failure(3, Kind::Order);
        let rec = r.finish();
        assert_eq!(rec.all.len(), 150);
        assert_eq!(rec.answers["order 409 SOLD_OUT"], 100);
        assert_eq!(rec.answers["token 200"], 50);
        assert_eq!(rec.failures[&Kind::Order], 1);
        let f = rec.figures(Duration::from_secs(3));
        assert_eq!(f.requests, 150);
        assert!((f.req_per_sec - 50.0).abs() < 1e-9);
        assert_eq!(f.failures, 1);
        let per_second: Vec<u64> = f.timeline.iter().map(|s| s.requests).collect();
        assert_eq!(per_second, [100, 0, 50]);
        assert_eq!(f.timeline[2].rate, 50.0);
        // The same load cut at 2.5 s: its last half second ran at twice the count.
        let cut = rec.figures(Duration::from_millis(2_500));
        assert_eq!(cut.timeline[2].rate, 100.0);
        assert!((f.timeline[2].p99_ms - 10.0).abs() < 0.1, "{:?}", f.timeline);
        assert_eq!(f.by_kind["order"].count, 100);
        assert!((f.by_kind["token"].p50_ms - 10.0).abs() < 0.01);
        assert_eq!(r.answered.load(Ordering::Relaxed), 150);
        assert_eq!(r.created.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_not_lost() {
        let t0 = Instant::now();
        let r = Recorder::new(t0);
        r.answer(0, Kind::Order, 201, "", Duration::from_secs(3600), t0);
        r.answer(0, Kind::Order, 201, "", Duration::ZERO, t0);
        let rec = r.finish();
        assert_eq!(rec.all.len(), 2);
        assert!(rec.all.max() >= MAX_LATENCY_MICROS - MAX_LATENCY_MICROS / 1000);
        assert_eq!(r.created.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn ratios_need_a_meaningful_base() {
        assert_eq!(ratio(85.0, 100.0), Some(0.85));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
        let run =
            Figures { req_per_sec: 90.0, latency: Latency { p99_ms: 4.0, ..Latency::default() }, ..Figures::default() };
        let base = Figures {
            req_per_sec: 100.0,
            latency: Latency { p99_ms: 2.0, ..Latency::default() },
            ..Figures::default()
        };
        let r = Ratios::of(&run, &base);
        assert_eq!((r.req_per_sec, r.p99, r.p50), (Some(0.9), Some(2.0), None));
    }

    #[test]
    fn processor_time_is_read_from_proc_stat() {
        let stat = "1234 (tokio (rt) x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 1000 100";
        assert_eq!(parse_cpu_secs(stat), Some(3.0));
        assert_eq!(parse_cpu_secs("garbage"), None);
        assert!(cpu_secs(std::process::id()).is_some());
        let meter = CpuMeter::start(Some(std::process::id()));
        let used = meter.finish(1000).unwrap();
        assert!(used.server_secs >= 0.0 && used.driver_secs.is_none());
        assert!(CpuMeter::start(None).finish(1).is_none());
    }

    #[test]
    fn the_median_and_spread_of_runs() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).map(|s| s.median), Some(2.5));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[f64::NAN, 5.0]).map(|s| s.median), Some(5.0));
    }
}
