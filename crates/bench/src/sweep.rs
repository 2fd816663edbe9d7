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
use crate::stats::{Figures, ratio};
use crate::target::Target;

/// One point of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `"10k users"`, `"100 SKUs"`.
    pub label: String,
    pub users: u32,
    pub skus: u32,
    pub requests: u64,
    pub req_per_sec: f64,
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
    /// req/s relative to the hello-world baseline.
    pub vs_baseline: Option<f64>,
    pub invariants_hold: bool,
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub tool: &'static str,
    pub machine: Machine,
    pub connections: usize,
    pub duration_secs: f64,
    pub baseline: Option<Figures>,
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

/// Runs the sweep of `args`.
pub async fn run(args: &BenchArgs, host: &dyn Host, show: bool) -> anyhow::Result<Sweep> {
    let progress = Progress { show };
    let base_plan = args.plan_for(Scenario::Rush, Some(args.sweep_sku_users), 1)?;
    let baseline = if args.baseline {
        progress.say("seckill bench --sweep: loading the hello-world baseline (a child process)");
        Some(report::measure_baseline(&base_plan, host).await?)
    } else {
        None
    };
    let mut cases: Vec<(String, u32, u32, bool)> =
        args.sweep_users.iter().enumerate().map(|(i, &u)| (users_label(u), u, 1, i == 0)).collect();
    cases.extend(
        args.sweep_skus
            .iter()
            .enumerate()
            .map(|(i, &s)| (format!("{s} SKU{}", if s == 1 { "" } else { "s" }), args.sweep_sku_users, s, i == 0)),
    );
    let mut points: Vec<Point> = Vec::new();
    let mut runs = Vec::new();
    let mut first_of_part = 0.0;
    for (label, users, skus, first) in cases {
        let mut plan = args.plan_for(Scenario::Rush, Some(users), skus)?;
        // The same units in total at every point, spread over the SKUs: the rush stays a rush
        // (a few hundred orders at most), so the points compare the rejection path alone.
        plan.stock = (plan.stock / skus).max(1);
        plan.placement = Placement::Child;
        plan.baseline = false;
        progress.say(&format!("seckill bench --sweep: {label} on {skus} SKU(s)"));
        let target = Target::start(args, &plan, host).await?;
        let result = report::drive(args, &plan, host, &target, progress, baseline.clone()).await;
        let closed = target.close().await;
        let run = result?;
        closed?;
        let f = &run.rush;
        if first {
            first_of_part = f.req_per_sec;
        }
        let orders = f.by_kind.get("order").map_or(0, |l| l.count);
        points.push(Point {
            label,
            users,
            skus,
            requests: f.requests,
            req_per_sec: f.req_per_sec,
            p50_ms: f.latency.p50_ms,
            p99_ms: f.latency.p99_ms,
            order_p99_ms: f.by_kind.get("order").map_or(0.0, |l| l.p99_ms),
            order_share: if f.requests > 0 { orders as f64 / f.requests as f64 } else { 0.0 },
            server_us_per_request: f.cpu.map(|c| c.server_us_per_request),
            rss_peak_mb: run.server_memory.map(|m| m.peak_mb),
            rss_end_mb: run.server_memory.map(|m| m.end_mb),
            provisioning_secs: run.provisioning_secs,
            relative_req_per_sec: ratio(f.req_per_sec, first_of_part),
            vs_baseline: baseline.as_ref().and_then(|b| ratio(f.req_per_sec, b.req_per_sec)),
            invariants_hold: run.invariants.passed,
        });
        runs.push(run);
    }
    Ok(Sweep {
        tool: "seckill bench --sweep",
        machine: Machine::here(),
        connections: args.connections,
        duration_secs: args.duration.as_secs_f64(),
        baseline,
        points,
        runs,
    })
}

impl Sweep {
    /// The sweep as a table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "\nseckill bench --sweep (rush, {} connections, {:.0} s each, child server) on {} ({} cores)",
            self.connections, self.duration_secs, self.machine.cpu, self.machine.cores
        );
        if let Some(b) = &self.baseline {
            let _ = writeln!(t, "hello-world baseline: {:.0} req/s, p99 {:.2} ms", b.req_per_sec, b.latency.p99_ms);
        }
        let _ = writeln!(
            t,
            "\n{:<12}{:>6}{:>11}{:>9}{:>9}{:>10}{:>10}{:>8}{:>9}{:>9}{:>9}{:>9}  invariants",
            "point",
            "skus",
            "req/s",
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
                "{:<12}{:>6}{:>11.0}{:>9}{:>9}{:>10.2}{:>10.2}{:>7.0}%{:>9}{:>9}{:>9}{:>9.1}  {}",
                p.label,
                p.skus,
                p.req_per_sec,
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
