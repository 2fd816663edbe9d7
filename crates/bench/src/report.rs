//! One run from start to verdict (`run_one`), and what it reports: the summary table, the
//! JSON report ([`Report`]) and the verdict.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::args::{BenchArgs, Placement, Plan};
use crate::baseline;
use crate::check::{self, Evidence, Invariants};
use crate::client::Endpoint;
use crate::crowd::{self, Minter};
use crate::host::Host;
use crate::load::{self, RushSpec};
use crate::sale::Admin;
use crate::stats::{Figures, Ratios, Spread};
use crate::target::{RssWatch, Target};

/// The machine a run was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub os: String,
}

impl Machine {
    /// This machine.
    pub fn here() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
            })
            .unwrap_or_else(|| std::env::consts::OS.into());
        Machine { cores: std::thread::available_parallelism().map_or(1, |n| n.get()), cpu, os }
    }
}

/// The server's memory during the rush.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub peak_mb: f64,
    pub end_mb: f64,
}

impl Memory {
    fn of(bytes: Option<(u64, u64)>) -> Option<Memory> {
        bytes.map(|(peak, end)| Memory { peak_mb: peak as f64 / 1_048_576.0, end_mb: end as f64 / 1_048_576.0 })
    }
}

/// Everything one run measured and checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    /// The command line that produced it.
    pub command: String,
    /// RFC 3339.
    pub started_at: String,
    pub machine: Machine,
    pub plan: Plan,
    pub base_url: String,
    /// How long creating the shoppers took.
    pub provisioning_secs: f64,
    /// The rush: every request of the virtual users.
    pub rush: Figures,
    /// When the load started, relative to the open, in seconds (negative: bots fired early).
    pub load_started_secs: f64,
    /// From the open to the last unit sold, if everything sold.
    pub sold_out_after_secs: Option<f64>,
    pub orders_acknowledged: usize,
    pub units_acknowledged: u64,
    /// Order requests that never got an answer (the order may exist).
    pub unanswered_orders: u64,
    /// Tickets still queued when the bench stopped polling.
    pub unsettled_tickets: u64,
    /// The server's memory (VmRSS), when its process could be read; in-process, it includes the
    /// load driver's.
    pub server_memory: Option<Memory>,
    /// The hello-world baseline under the same load.
    pub baseline: Option<Figures>,
    /// The rush's figures relative to the baseline's.
    pub ratios: Option<Ratios>,
    pub invariants: Invariants,
    /// How long the invariant check took.
    pub check_secs: f64,
}

/// Progress bars on standard error, or nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    pub show: bool,
}

impl Progress {
    pub(crate) fn bar(&self, len: u64, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if self.show { ProgressDrawTarget::stderr_with_hz(5) } else { ProgressDrawTarget::hidden() },
        );
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    pub(crate) fn say(&self, line: &str) {
        if self.show {
            eprintln!("{line}");
        }
    }
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n")?;
    Ok(())
}

/// One complete run: server, shoppers, baseline, sale, rush, check.
pub(crate) async fn run_one(args: &BenchArgs, plan: &Plan, host: &dyn Host, show: bool) -> anyhow::Result<Report> {
    let progress = Progress { show };
    progress.say(&format!("seckill bench: starting the server ({})", placement_name(plan.placement)));
    let target = Target::start(args, plan, host).await?;
    let result = drive(args, plan, host, &target, progress, None).await;
    let closed = target.close().await;
    let report = result?;
    closed.context("stopping the server")?;
    Ok(report)
}

/// A human name of a placement.
pub fn placement_name(p: Placement) -> &'static str {
    match p {
        Placement::InProcess => "in this process",
        Placement::Child => "a child `seckill serve`",
        Placement::Target => "the --target server",
    }
}

/// The hello-world baseline, placed like the server under test.
pub(crate) async fn measure_baseline(plan: &Plan, host: &dyn Host) -> anyhow::Result<Figures> {
    match plan.placement {
        Placement::Child => {
            let hello = baseline::start_child(&host.program()?).await?;
            let endpoint = Endpoint::resolve(&format!("http://{}", hello.addr)).await?;
            Ok(baseline::load(endpoint, plan.connections, plan.duration, hello.pid).await)
        }
        // A remote server's process conditions cannot be copied: the baseline runs here.
        Placement::InProcess | Placement::Target => {
            let hello = baseline::start_in_process().await?;
            let endpoint = Endpoint::resolve(&format!("http://{}", hello.addr)).await?;
            Ok(baseline::load(endpoint, plan.connections, plan.duration, Some(std::process::id())).await)
        }
    }
}

/// Shoppers are written, their tokens minted and the invariants read through the records and
/// secret this process opened from its configuration: for `--target` they must be that
/// server's, or the run would fail late and obscurely. The operator's session the server just
/// issued must verify with the opened secret and name the opened records' operator.
async fn same_server(admin: &Admin, target: &Target) -> anyhow::Result<()> {
    let advice = "run the bench with the server's configuration (the same SECKILL_DATA_DIR, or \
                  SECKILL_DATABASE_URL and SECKILL_REDIS_URL)";
    let key = seckill_domain::token::TokenKey::new(&target.opened.secret);
    let now = jiff::Timestamp::now().as_second();
    let Ok(claims) = key.verify(admin.token(), seckill_domain::token::Audience::Admin, now) else {
        anyhow::bail!(
            "{} signs its sessions with another secret than the records this bench opened: {advice}",
            target.base_url
        );
    };
    let known = target.opened.records.accounts.admin_credentials(&target.admin_user).await?;
    if known.is_none_or(|c| c.account.id.get() != claims.subject) {
        anyhow::bail!(
            "operator {:?} of {} is not in the records this bench opened: {advice}",
            target.admin_user,
            target.base_url
        );
    }
    Ok(())
}

/// Everything after the server is up. `baseline` is a baseline measured earlier (the sweep's).
pub(crate) async fn drive(
    args: &BenchArgs,
    plan: &Plan,
    host: &dyn Host,
    target: &Target,
    progress: Progress,
    baseline: Option<Figures>,
) -> anyhow::Result<Report> {
    let started_at = jiff::Timestamp::now();
    let admin = Admin::login(&target.base_url, &target.admin_user, &target.admin_password).await?;
    if plan.placement == Placement::Target {
        same_server(&admin, target).await?;
    }
    let endpoint = Endpoint::resolve(admin.base()).await?;
    let tag = crowd::run_tag();

    let bar = progress.bar(u64::from(plan.users), "creating shoppers {bar:30} {pos}/{len} ({elapsed})");
    let t = Instant::now();
    let shoppers =
        crowd::provision(&target.opened.records, &format!("b{tag}"), plan.users, |n| bar.set_position(n)).await?;
    let provisioning = t.elapsed();
    bar.finish_and_clear();
    progress.say(&format!("seckill bench: {} shoppers created in {:.1} s", shoppers.len(), provisioning.as_secs_f64()));

    let baseline = match (baseline, plan.baseline) {
        (Some(b), _) => Some(b),
        (None, true) => {
            progress.say(&format!("seckill bench: loading the hello-world baseline for {:?}", plan.duration));
            Some(measure_baseline(plan, host).await?)
        }
        (None, false) => None,
    };

    let clock = admin.clock().await?;
    let lead = jiff::SignedDuration::try_from(plan.lead).unwrap_or(jiff::SignedDuration::from_secs(3));
    let opens_at = clock.now().checked_add(lead)?.checked_add(jiff::SignedDuration::from_millis(500))?;
    let sale = admin.create_sale(plan, &target.opened.timezone, opens_at, &tag).await?;
    let open = clock.instant_of(sale.opens_at);
    progress.say(&format!(
        "seckill bench: sale {} opens in {:.1} s: {} SKU(s) × {} units, {} per shopper",
        sale.id,
        open.saturating_duration_since(Instant::now()).as_secs_f64(),
        plan.skus,
        plan.stock,
        plan.total_limit
    ));

    let minter = Minter::new(&target.opened.secret);
    let bar = progress.bar(u64::try_from(plan.duration.as_millis()).unwrap_or(u64::MAX), "{bar:30} {elapsed:>4} {msg}");
    let last = std::sync::Mutex::new((0u64, Instant::now()));
    let tick = |answered: u64, created: u64, since_open: f64| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let dt = now.duration_since(last.1).as_secs_f64();
        let rate = if dt > 0.0 { answered.saturating_sub(last.0) as f64 / dt } else { 0.0 };
        *last = (answered, now);
        if since_open < 0.0 {
            bar.set_message(format!("opens in {:.1} s · {answered} answers", -since_open));
        } else {
            bar.set_position((since_open * 1000.0) as u64);
            bar.set_message(format!("{answered} answers · {rate:.0} req/s · {created} orders"));
        }
    };
    let rss = RssWatch::start(target.pid);
    let outcome = load::run(RushSpec {
        endpoint: endpoint.clone(),
        plan,
        sale: &sale,
        shoppers: &shoppers,
        minter: minter.clone(),
        tag: tag.clone(),
        open,
        server_pid: target.pid,
        progress: &tick,
    })
    .await;
    let memory = Memory::of(rss.finish());
    bar.finish_and_clear();

    progress.say("seckill bench: checking the invariants");
    let checking = Instant::now();
    let evidence = Evidence {
        sale: &sale,
        shoppers: &shoppers,
        outcome: &outcome,
        records: &target.opened.records,
        endpoint: Arc::clone(&endpoint),
        minter: &minter,
        tag: &tag,
        replays: plan.replays,
    };
    let invariants = check::run(&admin, &evidence).await?;
    let check_secs = checking.elapsed().as_secs_f64();
    if plan.placement == Placement::Target
        && let Err(e) = admin.disable(sale.id).await
    {
        eprintln!("seckill bench: could not switch the bench's activity {} off: {e:#}", sale.id);
    }

    let mut rush = outcome.recorded.figures(outcome.elapsed);
    rush.cpu = outcome.cpu;
    let ratios = baseline.as_ref().map(|b| Ratios::of(&rush, b));
    let sold_out_after_secs = if invariants.sold_out {
        outcome.acks.iter().map(|a| a.at_ms).max().map(|ms| ms as f64 / 1000.0)
    } else {
        None
    };
    Ok(Report {
        tool: "seckill bench",
        version: env!("CARGO_PKG_VERSION"),
        command: command_line(args),
        started_at: started_at.to_string(),
        machine: Machine::here(),
        plan: plan.clone(),
        base_url: target.base_url.clone(),
        provisioning_secs: provisioning.as_secs_f64(),
        load_started_secs: outcome.start_offset_secs,
        sold_out_after_secs,
        orders_acknowledged: outcome.acks.iter().map(|a| a.order_id).collect::<std::collections::HashSet<_>>().len(),
        units_acknowledged: {
            let mut seen = std::collections::HashSet::new();
            outcome.acks.iter().filter(|a| seen.insert(a.order_id)).map(|a| u64::from(a.quantity)).sum()
        },
        unanswered_orders: outcome.unanswered_orders,
        unsettled_tickets: outcome.unsettled,
        server_memory: memory,
        rush,
        baseline,
        ratios,
        invariants,
        check_secs,
    })
}

fn command_line(_args: &BenchArgs) -> String {
    let args: Vec<String> = std::env::args().collect();
    let shown: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && args[i - 1] == "--admin-password" || a.starts_with("--admin-password=") {
                "***".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    shown.join(" ")
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(String::new, |r| format!("{r:.2}×"))
}

impl Report {
    /// The summary table.
    pub fn table(&self) -> String {
        let p = &self.plan;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\nseckill bench — {:?}: {} shoppers ({:.0} % bots), {} SKU(s) × {} units, limit {} per shopper, {} connections, {:?} at most, rate limits {}, server {}",
            p.scenario,
            fmt_count(u64::from(p.users)),
            p.bots * 100.0,
            p.skus,
            fmt_count(u64::from(p.stock)),
            p.total_limit,
            p.connections,
            p.duration,
            if p.rate_limits { "on" } else { "off" },
            placement_name(p.placement),
        );
        let _ = writeln!(t, "{} on {} ({} cores)\n", self.machine.os, self.machine.cpu, self.machine.cores);
        let b = self.baseline.as_ref();
        let r = self.ratios.unwrap_or_default();
        let _ = writeln!(
            t,
            "{:<14}{:>14}{:>14}{:>10}",
            "",
            "seckill",
            if b.is_some() { "hello world" } else { "" },
            if b.is_some() { "ratio" } else { "" }
        );
        let row = |t: &mut String, name: &str, a: String, base: Option<String>, ratio: Option<f64>| {
            let _ = writeln!(t, "{name:<14}{a:>14}{:>14}{:>10}", base.unwrap_or_default(), fmt_ratio(ratio));
        };
        let s = &self.rush;
        row(&mut t, "requests", fmt_count(s.requests), b.map(|b| fmt_count(b.requests)), None);
        row(&mut t, "seconds", format!("{:.2}", s.elapsed_secs), b.map(|b| format!("{:.2}", b.elapsed_secs)), None);
        row(
            &mut t,
            "req/s",
            format!("{:.0}", s.req_per_sec),
            b.map(|b| format!("{:.0}", b.req_per_sec)),
            r.req_per_sec,
        );
        let ms = |v: f64| format!("{v:.2} ms");
        row(&mut t, "p50", ms(s.latency.p50_ms), b.map(|b| ms(b.latency.p50_ms)), r.p50);
        row(&mut t, "p90", ms(s.latency.p90_ms), b.map(|b| ms(b.latency.p90_ms)), r.p90);
        row(&mut t, "p99", ms(s.latency.p99_ms), b.map(|b| ms(b.latency.p99_ms)), r.p99);
        row(&mut t, "p99.9", ms(s.latency.p999_ms), b.map(|b| ms(b.latency.p999_ms)), r.p999);
        row(&mut t, "max", ms(s.latency.max_ms), b.map(|b| ms(b.latency.max_ms)), None);
        row(&mut t, "no answer", fmt_count(s.failures), b.map(|b| fmt_count(b.failures)), None);
        let us = |c: &Option<crate::stats::CpuUse>| c.map(|c| format!("{:.1} µs", c.server_us_per_request));
        if let Some(cpu) = us(&s.cpu) {
            row(&mut t, "server CPU/req", cpu, b.and_then(|b| us(&b.cpu)), r.cpu_per_request);
        }
        let _ = writeln!(t, "\nby request     count        p50        p99      p99.9");
        for (kind, l) in &s.by_kind {
            let _ = writeln!(
                t,
                "  {kind:<10}{:>10} {:>10} {:>10} {:>10}",
                fmt_count(l.count),
                ms(l.p50_ms),
                ms(l.p99_ms),
                ms(l.p999_ms)
            );
        }
        let _ = writeln!(t, "\nanswers");
        for (label, n) in &s.answers {
            let _ = writeln!(t, "  {label:<32}{:>12}", fmt_count(*n));
        }
        let inv = &self.invariants;
        let _ = writeln!(t);
        match self.sold_out_after_secs {
            Some(secs) => {
                let _ = writeln!(t, "sold out {secs:.3} s after the open ({} of {} units)", inv.units_sold, inv.stock);
            }
            None => {
                let _ =
                    writeln!(t, "not sold out: {} of {} units sold", fmt_count(inv.units_sold), fmt_count(inv.stock));
            }
        }
        let _ = writeln!(
            t,
            "{} orders acknowledged, {} in the records; shoppers created in {:.1} s",
            fmt_count(self.orders_acknowledged as u64),
            fmt_count(inv.orders as u64),
            self.provisioning_secs
        );
        if let Some(m) = self.server_memory {
            let whose =
                if p.placement == Placement::InProcess { " (this process: server and load driver)" } else { "" };
            let _ = writeln!(t, "server memory: peak {:.0} MB, at the end {:.0} MB{whose}", m.peak_mb, m.end_mb);
        }
        let _ = writeln!(t, "\ninvariants (checked in {:.1} s)", self.check_secs);
        for c in &inv.checks {
            let _ = writeln!(t, "  {} {} — {}", if c.passed { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
        let _ = writeln!(t, "\n{}", if inv.passed { "all invariants hold" } else { "INVARIANTS BROKEN" });
        t
    }

    /// An error when an invariant failed.
    pub fn verdict(&self) -> anyhow::Result<()> {
        if self.invariants.passed {
            Ok(())
        } else {
            let failed: Vec<&str> = self.invariants.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
            anyhow::bail!("invariants broken: {}", failed.join(", "))
        }
    }
}

/// The seconds since the load started at which the rush's timeline marks the open.
pub fn open_in_timeline(report: &Report) -> f64 {
    -report.load_started_secs
}

/// One figure over several runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub figure: &'static str,
    #[serde(flatten)]
    pub spread: Spread,
}

/// The same scenario run several times: every run, and the median and spread of each figure
/// (what BENCHMARKS.md records).
#[derive(Debug, Clone, Serialize)]
pub struct Repeated {
    /// Median, min and max of each figure over the runs.
    pub summary: Vec<Summary>,
    pub runs: Vec<Report>,
}

impl Repeated {
    /// Summarises `runs`.
    pub fn of(runs: Vec<Report>) -> Repeated {
        type Pick = fn(&Report) -> Option<f64>;
        let figures: [(&'static str, Pick); 11] = [
            ("req/s", |r| Some(r.rush.req_per_sec)),
            ("p50 ms", |r| Some(r.rush.latency.p50_ms)),
            ("p99 ms", |r| Some(r.rush.latency.p99_ms)),
            ("p99.9 ms", |r| Some(r.rush.latency.p999_ms)),
            ("server CPU µs/req", |r| r.rush.cpu.map(|c| c.server_us_per_request)),
            ("hello-world req/s", |r| r.baseline.as_ref().map(|b| b.req_per_sec)),
            ("hello-world p99 ms", |r| r.baseline.as_ref().map(|b| b.latency.p99_ms)),
            ("req/s ratio", |r| r.ratios.and_then(|x| x.req_per_sec)),
            ("p99 ratio", |r| r.ratios.and_then(|x| x.p99)),
            ("CPU/req ratio", |r| r.ratios.and_then(|x| x.cpu_per_request)),
            ("server memory peak MB", |r| r.server_memory.map(|m| m.peak_mb)),
        ];
        let summary = figures
            .iter()
            .filter_map(|(name, pick)| {
                let values: Vec<f64> = runs.iter().filter_map(pick).collect();
                (values.len() == runs.len())
                    .then(|| Spread::of(&values))
                    .flatten()
                    .map(|spread| Summary { figure: name, spread })
            })
            .collect();
        Repeated { summary, runs }
    }

    /// The run whose req/s is the median (for the chart).
    pub fn median_run(&self) -> Option<&Report> {
        let mut by_rate: Vec<&Report> = self.runs.iter().collect();
        by_rate.sort_by(|a, b| a.rush.req_per_sec.total_cmp(&b.rush.req_per_sec));
        by_rate.get(by_rate.len() / 2).copied()
    }

    /// Median and spread of every figure.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "\nover {} runs          median         min         max", self.runs.len());
        for Summary { figure, spread: s } in &self.summary {
            let _ = writeln!(t, "  {figure:<22}{:>10.2}  {:>10.2}  {:>10.2}", s.median, s.min, s.max);
        }
        let broken = self.runs.iter().filter(|r| !r.invariants.passed).count();
        let _ = writeln!(t, "\n{}", if broken == 0 { "all invariants hold in every run" } else { "INVARIANTS BROKEN" });
        t
    }

    /// An error when an invariant failed in any run.
    pub fn verdict(&self) -> anyhow::Result<()> {
        self.runs.iter().try_for_each(Report::verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_ratio(Some(0.856)), "0.86×");
        assert_eq!(fmt_ratio(None), "");
    }
}
