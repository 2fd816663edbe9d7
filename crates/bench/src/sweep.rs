//! `--sweep`: how cost grows. The rush again and again — first for each crowd size of
//! `--sweep-users` on one hot SKU, then for each number of hot SKUs of `--sweep-skus` (the
//! `--stock` units, 100 by default, spread over them, so every point sells about the same) —
//! each on a fresh child `seckill serve`, so the memory measured is the server's alone. The rejection path
//! should stay flat (req/s and p99 within ±10 %), and memory should grow with buyers, never with
//! requests.

use std::fmt::Write as _;

use serde::Serialize;

use crate::args::{BenchArgs, Placement, Scenario};
use crate::host::Host;
use crate::report::{self, Machine, Progress, Report};
use crate::stats::{Figures, Spread, ratio};
use crate::target::Target;

/// One point of the sweep: the median of its runs (one per round of `--repeat`).
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `"10k users"`, `"100 SKUs"`.
    pub label: String,
    /// The part of the sweep: `"users"` (crowds on one hot SKU) or `"skus"` (hot SKUs).
    pub part: &'static str,
    pub users: u32,
    pub skus: u32,
    /// How many times the point ran (`--repeat`); every figure below is the median.
    pub runs: u32,
    pub requests: u64,
    pub req_per_sec: f64,
    /// The slowest and the fastest of the runs.
    pub req_per_sec_min: f64,
    pub req_per_sec_max: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// p99 of the order requests alone.
    pub order_p99_ms: f64,
    /// Share of the requests that were orders (the rest: purchase tokens, tickets).
    pub order_share: f64,
    /// Server CPU per request in microseconds (flat when the cost does not grow).
    pub server_us_per_request: Option<f64>,
    pub rss_peak_mb: Option<f64>,
    pub rss_end_mb: Option<f64>,
    pub provisioning_secs: f64,
    /// req/s relative to the first point of its part of the sweep.
    pub relative_req_per_sec: Option<f64>,
    /// req/s relative to the hello-world baseline of the same round (median over the rounds).
    pub vs_baseline: Option<f64>,
    /// In every run.
    pub invariants_hold: bool,
}

impl Point {
    /// The point of `runs` (each with its ratio to its round's baseline); `None` without runs.
    fn of(case: Case, runs: &[(Report, Option<f64>)]) -> Option<Point> {
        let Case { label, part, users, skus } = case;
        let median = |pick: &dyn Fn(&Report) -> Option<f64>| {
            Spread::of(&runs.iter().filter_map(|(r, _)| pick(r)).collect::<Vec<_>>())
        };
        let rate = median(&|r| Some(r.rush.req_per_sec))?;
        let order = |r: &Report| r.rush.by_kind.get("order").map(|l| (l.count, l.p99_ms));
        Some(Point {
            label,
            part,
            users,
            skus,
            runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
            requests: median(&|r| Some(r.rush.requests as f64)).map_or(0, |s| s.median as u64),
            req_per_sec: rate.median,
            req_per_sec_min: rate.min,
            req_per_sec_max: rate.max,
            p50_ms: median(&|r| Some(r.rush.latency.p50_ms)).map_or(0.0, |s| s.median),
            p99_ms: median(&|r| Some(r.rush.latency.p99_ms)).map_or(0.0, |s| s.median),
            order_p99_ms: median(&|r| Some(order(r).map_or(0.0, |(_, p99)| p99))).map_or(0.0, |s| s.median),
            order_share: median(&|r| {
                let orders = order(r).map_or(0, |(count, _)| count);
                Some(if r.rush.requests > 0 { orders as f64 / r.rush.requests as f64 } else { 0.0 })
            })
            .map_or(0.0, |s| s.median),
            server_us_per_request: median(&|r| r.rush.cpu.map(|c| c.server_us_per_request)).map(|s| s.median),
            rss_peak_mb: median(&|r| r.server_memory.map(|m| m.peak_mb)).map(|s| s.median),
            rss_end_mb: median(&|r| r.server_memory.map(|m| m.end_mb)).map(|s| s.median),
            provisioning_secs: median(&|r| Some(r.provisioning_secs)).map_or(0.0, |s| s.median),
            relative_req_per_sec: None,
            vs_baseline: Spread::of(&runs.iter().filter_map(|(_, vs)| *vs).collect::<Vec<_>>()).map(|s| s.median),
            invariants_hold: runs.iter().all(|(r, _)| r.invariants.passed),
        })
    }

    /// Half the range of the runs' req/s, as a share of the median (0 for a single run).
    pub fn spread(&self) -> f64 {
        if self.req_per_sec > 0.0 {
            (self.req_per_sec_max - self.req_per_sec_min) / 2.0 / self.req_per_sec
        } else {
            0.0
        }
    }
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub tool: &'static str,
    pub machine: Machine,
    pub connections: usize,
    pub duration_secs: f64,
    /// Rounds: every point ran once per round, the points of a round one after another.
    pub rounds: u32,
    /// The hello-world baseline of the median round (by req/s).
    pub baseline: Option<Figures>,
    /// Every round's baseline, in order.
    pub baselines: Vec<Figures>,
    pub points: Vec<Point>,
    /// Every run's full report.
    pub runs: Vec<Report>,
}

fn users_label(n: u32) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M users", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k users", n / 1_000),
        n => format!("{n} users"),
    }
}

/// One point to run: label, part of the sweep, shoppers, SKUs.
struct Case {
    label: String,
    part: &'static str,
    users: u32,
    skus: u32,
}

/// Runs the sweep of `args`: `--repeat` rounds of every point, so that a slow stretch of a
/// shared machine falls on all the points of a round rather than on one point's every run.
pub async fn run(args: &BenchArgs, host: &dyn Host, show: bool) -> anyhow::Result<Sweep> {
    let progress = Progress { show };
    let base_plan = args.plan_for(Scenario::Rush, Some(args.sweep_sku_users), 1)?;
    let mut cases: Vec<Case> = args
        .sweep_users
        .iter()
        .map(|&users| Case { label: users_label(users), part: "users", users, skus: 1 })
        .collect();
    cases.extend(args.sweep_skus.iter().map(|&skus| Case {
        label: format!("{skus} SKU{}", if skus == 1 { "" } else { "s" }),
        part: "skus",
        users: args.sweep_sku_users,
        skus,
    }));
    let rounds = args.repeat.max(1);
    let mut baselines = Vec::new();
    let mut by_case: Vec<Vec<(Report, Option<f64>)>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        let of_rounds = if rounds > 1 { format!(" (round {round} of {rounds})") } else { String::new() };
        let baseline = if args.baseline {
            progress
                .say(&format!("seckill bench --sweep: loading the hello-world baseline (a child process){of_rounds}"));
            let figures = report::measure_baseline(&base_plan, host).await?;
            baselines.push(figures.clone());
            Some(figures)
        } else {
            None
        };
        for (case, runs) in cases.iter().zip(&mut by_case) {
            let mut plan = args.plan_for(Scenario::Rush, Some(case.users), case.skus)?;
            // The same units in total at every point, spread over the SKUs: the rush stays a
            // rush (a few hundred orders at most), so the points compare the rejection path alone.
            plan.stock = (plan.stock / case.skus).max(1);
            plan.placement = Placement::Child;
            plan.baseline = false;
            progress.say(&format!("seckill bench --sweep: {} on {} SKU(s){of_rounds}", case.label, case.skus));
            let target = Target::start(args, &plan, host).await?;
            let result = report::drive(args, &plan, host, &target, progress, baseline.clone()).await;
            let closed = target.close().await;
            let run = result?;
            closed?;
            let vs = baseline.as_ref().and_then(|b| ratio(run.rush.req_per_sec, b.req_per_sec));
            runs.push((run, vs));
        }
    }
    let mut points: Vec<Point> = Vec::new();
    let mut first_of_part = 0.0;
    for (case, runs) in cases.into_iter().zip(&by_case) {
        let Some(mut point) = Point::of(case, runs) else { continue };
        if points.last().is_none_or(|last| last.part != point.part) {
            first_of_part = point.req_per_sec;
        }
        point.relative_req_per_sec = ratio(point.req_per_sec, first_of_part);
        points.push(point);
    }
    let mut by_rate: Vec<&Figures> = baselines.iter().collect();
    by_rate.sort_by(|a, b| a.req_per_sec.total_cmp(&b.req_per_sec));
    let baseline = by_rate.get(by_rate.len() / 2).map(|f| (*f).clone());
    Ok(Sweep {
        tool: "seckill bench --sweep",
        machine: Machine::here(),
        connections: args.connections,
        duration_secs: args.duration.as_secs_f64(),
        rounds,
        baseline,
        baselines,
        points,
        runs: by_case.into_iter().flatten().map(|(run, _)| run).collect(),
    })
}

impl Sweep {
    /// The sweep as a table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\nseckill bench --sweep (rush, {} connections, {:.0} s each, child server{}) on {} ({} cores)",
            self.connections,
            self.duration_secs,
            if self.rounds > 1 { format!(", median of {} rounds", self.rounds) } else { String::new() },
            self.machine.cpu,
            self.machine.cores
        );
        if let Some(b) = &self.baseline {
            let each: Vec<String> = self.baselines.iter().map(|b| format!("{:.0}", b.req_per_sec)).collect();
            let rounds =
                if self.baselines.len() > 1 { format!(" (rounds: {})", each.join(", ")) } else { String::new() };
            let _ =
                writeln!(t, "hello-world baseline: {:.0} req/s, p99 {:.2} ms{rounds}", b.req_per_sec, b.latency.p99_ms);
        }
        let _ = writeln!(
            t,
            "\n{:<12}{:>6}{:>11}{:>7}{:>9}{:>9}{:>10}{:>10}{:>8}{:>9}{:>9}{:>9}{:>9}  invariants",
            "point",
            "skus",
            "req/s",
            "±",
            "vs 1st",
            "vs base",
            "p99 ms",
            "order p99",
            "orders",
            "µs/req",
            "peak MB",
            "end MB",
            "setup s"
        );
        for p in &self.points {
            let opt = |v: Option<f64>, d: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.d$}"));
            let _ = writeln!(
                t,
                "{:<12}{:>6}{:>11.0}{:>7}{:>9}{:>9}{:>10.2}{:>10.2}{:>7.0}%{:>9}{:>9}{:>9}{:>9.1}  {}",
                p.label,
                p.skus,
                p.req_per_sec,
                if p.runs > 1 { format!("{:.0}%", p.spread() * 100.0) } else { "-".to_owned() },
                opt(p.relative_req_per_sec, 2),
                opt(p.vs_baseline, 2),
                p.p99_ms,
                p.order_p99_ms,
                p.order_share * 100.0,
                opt(p.server_us_per_request, 1),
                opt(p.rss_peak_mb, 0),
                opt(p.rss_end_mb, 0),
                p.provisioning_secs,
                if p.invariants_hold { "hold" } else { "BROKEN" }
            );
        }
        t
    }

    /// An error when an invariant failed at any point.
    pub fn verdict(&self) -> anyhow::Result<()> {
        let broken: Vec<&str> = self.points.iter().filter(|p| !p.invariants_hold).map(|p| p.label.as_str()).collect();
        if broken.is_empty() { Ok(()) } else { anyhow::bail!("invariants broken at: {}", broken.join(", ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowd_sizes_read_short() {
        assert_eq!(users_label(1_000), "1k users");
        assert_eq!(users_label(1_000_000), "1M users");
        assert_eq!(users_label(1_500), "1500 users");
        assert_eq!(users_label(300), "300 users");
    }
}
