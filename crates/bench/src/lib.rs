//! `seckill bench`: a real sale driven over HTTP by many virtual shoppers, the invariants of
//! DESIGN.md checked against the records afterwards, and every figure also measured against a
//! plain hello-world axum server in the same run (absolute numbers drift on shared machines;
//! ratios hold).
//!
//! One run ([`run`]):
//! 1. a server to load — started in this process ([`host::Host::start`], `--embedded`), as a
//!    child `seckill serve` (`--spawn`, so its memory is its own), or one already running
//!    (`--target URL`);
//! 2. shoppers created in bulk in its records (one transaction per many thousands, each with an
//!    address) and shopper tokens minted with its secret — nobody signs in one by one;
//! 3. a product, a time slot and an activity opening a few seconds ahead, over the admin API;
//! 4. optionally the hello-world baseline, loaded exactly like the sale will be;
//! 5. the rush: virtual users ([`load`]) on a pool of HTTP/1.1 connections fetch a purchase
//!    token once the sale opens and place orders with an `Idempotency-Key`, retrying after
//!    `Retry-After`, polling `202` tickets; bots start early and fire more often;
//! 6. the invariant check ([`check`]) through the admin API;
//! 7. the summary table, `--report FILE.json` and `--chart FILE.svg` ([`report`], [`chart`]).
//!
//! `--sweep` repeats the rush for growing crowds and numbers of hot SKUs, each on a fresh child
//! server, and reports how throughput, p99 and the server's memory grow ([`sweep`]).
//!
//! Modules: [`args`] (the command line), [`host`] (what the `seckill` program lends: servers and
//! records), [`stats`] (histograms and summaries), `client` (the load connections), `sale` (the
//! admin API), `crowd` (bulk shoppers and tokens), [`load`], [`check`], [`baseline`],
//! [`report`], [`chart`], [`sweep`], `target` (where the server under test lives).
//!
//! This crate depends on the domain, the ports and the server's auth (to mint tokens exactly as
//! the server does) — never on a backend: the records come from the host, opened from the same
//! configuration as `seckill serve`.

pub mod args;
pub mod baseline;
pub mod chart;
pub mod check;
mod client;
mod crowd;
pub mod host;
pub mod load;
pub mod report;
mod sale;
pub mod stats;
pub mod sweep;
mod target;

use std::io::IsTerminal as _;

use anyhow::Context as _;

pub use args::{BenchArgs, Scenario};
pub use host::{Host, Opened, ServerSpec};
pub use report::Report;

/// Runs `seckill bench` with `args`, borrowing servers and records from `host`. An invariant
/// that does not hold is an error (the program exits non-zero), after the report is written.
pub async fn run(args: BenchArgs, host: &dyn Host) -> anyhow::Result<()> {
    if args.serve_hello {
        return baseline::serve_hello_until_stdin_closes().await;
    }
    args.validate()?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    if args.sweep {
        let sweep = sweep::run(&args, host, show).await?;
        println!("{}", sweep.table());
        if let Some(path) = &args.report {
            report::write_json(path, &sweep).with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Some(path) = &args.chart {
            chart::draw_sweep(path, &sweep).with_context(|| format!("cannot draw {}", path.display()))?;
        }
        return sweep.verdict();
    }
    let plan = args.plan()?;
    if args.repeat > 1 {
        let mut runs = Vec::new();
        for i in 1..=args.repeat {
            let run = report::run_one(&args, &plan, host, show).await?;
            println!("run {i} of {}:{}", args.repeat, run.table());
            runs.push(run);
        }
        let repeated = report::Repeated::of(runs);
        println!("{}", repeated.table());
        if let Some(path) = &args.report {
            report::write_json(path, &repeated).with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Some((path, median)) = args.chart.as_ref().zip(repeated.median_run()) {
            chart::draw_run(path, median).with_context(|| format!("cannot draw {}", path.display()))?;
        }
        return repeated.verdict();
    }
    let report = report::run_one(&args, &plan, host, show).await?;
    println!("{}", report.table());
    if let Some(path) = &args.report {
        report::write_json(path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.chart {
        chart::draw_run(path, &report).with_context(|| format!("cannot draw {}", path.display()))?;
    }
    report.verdict()
}
