//! `seckill bench --embedded` end to end, small: the real server in this process, a few hundred
//! shoppers created in bulk, a rush (with bots and the hello-world baseline) and a flood, each
//! ending with the invariant check, the JSON report and the chart. Nothing here asserts a
//! timing: the figures only have to be there and make sense together.

use std::path::Path;

use clap::Parser as _;
use serde_json::Value;

/// Runs `seckill bench ARGS --quiet --report DIR/report.json --chart DIR/chart.svg` and returns
/// the report.
async fn bench(dir: &Path, args: &[&str]) -> Value {
    let report = dir.join("report.json");
    let chart = dir.join("chart.svg");
    let mut line = vec!["seckill", "bench", "--embedded", "--quiet"];
    line.extend_from_slice(args);
    let (report_arg, chart_arg) = (report.display().to_string(), chart.display().to_string());
    line.extend(["--report", &report_arg, "--chart", &chart_arg]);
    let cli = seckill::Cli::try_parse_from(&line).expect("a valid command line");
    seckill::run(cli).await.expect("the bench passes");
    let svg = std::fs::read_to_string(&chart).expect("the chart is written");
    assert!(svg.starts_with("<svg") && svg.contains("req/s"), "{}", &svg[..svg.len().min(200)]);
    serde_json::from_str(&std::fs::read_to_string(&report).expect("the report is written")).expect("JSON")
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number at {pointer}"))
}

fn assert_invariants_hold(report: &Value) {
    assert_eq!(report["invariants"]["passed"], true, "{:#}", report["invariants"]);
    let checks = report["invariants"]["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 7, "{checks:#?}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:#?}");
}

fn assert_latency_figures(latency: &Value) {
    let p = |k: &str| latency[k].as_f64().unwrap_or_else(|| panic!("no {k} in {latency}"));
    assert!(p("p50_ms") > 0.0);
    assert!(p("p50_ms") <= p("p90_ms") && p("p90_ms") <= p("p99_ms") && p("p99_ms") <= p("p999_ms"));
    assert!(p("p999_ms") <= p("max_ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_rush_sells_exactly_the_stock_holds_every_invariant_and_reports_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench(
        dir.path(),
        &[
            "--users",
            "300",
            "--stock",
            "15",
            "--skus",
            "2",
            "--total-limit",
            "2",
            "--connections",
            "16",
            "--duration",
            "2s",
            "--lead",
            "1s",
            "--bots",
            "0.1",
            "--bot-factor",
            "3",
            "--bot-lead",
            "500ms",
            "--replays",
            "50",
            "--baseline",
        ],
    )
    .await;
    assert_invariants_hold(&report);
    assert_eq!(report["plan"]["users"], 300);
    assert_eq!(report["plan"]["placement"], "in-process");

    let rush = &report["rush"];
    let requests = num(rush, "/requests");
    assert!(requests >= 300.0, "every shopper asked at least for a purchase token: {requests}");
    assert!(num(rush, "/req_per_sec") > 0.0);
    assert_latency_figures(&rush["latency"]);
    let answers = rush["answers"].as_object().expect("answers");
    let counted: f64 = answers.values().filter_map(Value::as_f64).sum();
    assert_eq!(counted, requests, "every answer is counted once: {answers:?}");
    let created = answers.get("order 201").and_then(Value::as_f64).unwrap_or(0.0);
    let timeline: f64 = rush["timeline"].as_array().expect("timeline").iter().map(|s| num(s, "/requests")).sum();
    assert_eq!(timeline, requests);

    // What the shoppers were told is what the records hold, within the stock.
    let sold = num(&report, "/invariants/units_sold");
    assert_eq!(num(&report, "/invariants/stock"), 30.0);
    assert!(sold <= 30.0);
    assert_eq!(num(&report, "/orders_acknowledged"), created, "one order per 201 (no retries were needed)");
    assert_eq!(num(&report, "/units_acknowledged"), sold);
    if report["invariants"]["sold_out"] == true {
        assert!(num(&report, "/sold_out_after_secs") >= 0.0);
    }
    // Bots started before the open.
    assert!(num(&report, "/load_started_secs") < 0.0);

    let baseline = &report["baseline"];
    assert!(num(baseline, "/requests") > 0.0);
    assert_latency_figures(&baseline["latency"]);
    assert!(num(&report, "/ratios/req_per_sec") > 0.0);
    assert!(report["server_memory"]["peak_mb"].as_f64().is_some_and(|mb| mb > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_flood_writes_every_order_it_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench(
        dir.path(),
        &[
            "--scenario",
            "flood",
            "--users",
            "200",
            "--total-limit",
            "5",
            "--connections",
            "8",
            "--duration",
            "2s",
            "--lead",
            "1s",
        ],
    )
    .await;
    assert_invariants_hold(&report);
    assert_eq!(num(&report, "/plan/stock"), 1000.0, "stock enough for every shopper's whole limit");
    let created = report["rush"]["answers"]["order 201"].as_f64().unwrap_or(0.0);
    assert!(created > 0.0);
    assert_eq!(num(&report, "/invariants/units_sold"), created);
    // Every order request won (shoppers stop at their limit, so the stock is never short).
    assert!(report["rush"]["answers"].get("order 409 SOLD_OUT").is_none(), "{}", report["rush"]["answers"]);
    assert!(report["rush"]["answers"].get("order 409 LIMIT_EXCEEDED").is_none(), "{}", report["rush"]["answers"]);
    assert!(report["baseline"].is_null() && report["ratios"].is_null());
}
