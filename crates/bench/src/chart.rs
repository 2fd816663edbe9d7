//! SVG charts (plotters): a run's req/s and p99 over time with the open and the sell-out
//! marked; a sweep's req/s, p99 and server memory against the crowd and the hot SKUs.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{Report, open_in_timeline};
use crate::sweep::Sweep;

const REQS: RGBColor = RGBColor(31, 119, 180);
const P99: RGBColor = RGBColor(214, 39, 40);
const BASE: RGBColor = RGBColor(110, 110, 110);
const MEMORY: RGBColor = RGBColor(44, 160, 44);
const CPU: RGBColor = RGBColor(148, 103, 189);

fn top(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.fold(0.0f64, f64::max);
    if m > 0.0 { m * 1.1 } else { 1.0 }
}

/// Draws req/s (left axis) and p99 (right axis) per second of `report`'s rush, the baseline's
/// req/s for comparison, and vertical marks at the open and the sell-out.
pub fn draw_run(path: &Path, report: &Report) -> anyhow::Result<()> {
    let timeline = &report.rush.timeline;
    // Each point sits in the middle of its second; a last sliver of a second is too noisy to draw.
    let end = report.rush.elapsed_secs;
    let drawn: Vec<_> = timeline.iter().filter(|s| end - s.t >= 0.25).collect();
    let reqs: Vec<(f64, f64)> = drawn.iter().map(|s| (s.t + 0.5, s.rate)).collect();
    let p99: Vec<(f64, f64)> = drawn.iter().filter(|s| s.requests > 0).map(|s| (s.t + 0.5, s.p99_ms)).collect();
    let x_max = end.ceil().max(1.0);
    let base_rate = report.baseline.as_ref().map(|b| b.req_per_sec);
    let y_max = top(reqs.iter().map(|p| p.1).chain(base_rate));
    let y2_max = top(p99.iter().map(|p| p.1));

    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "seckill bench — {:?}, {} shoppers, {} connections",
        report.plan.scenario, report.plan.users, report.plan.connections
    )
    .to_lowercase();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?
        .set_secondary_coord(0f64..x_max, 0f64..y2_max);
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("seconds since the load started")
        .y_desc("answers per second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart.configure_secondary_axes().y_desc("p99 latency (ms)").y_label_formatter(&|v| format!("{v:.1}")).draw()?;
    chart
        .draw_series(LineSeries::new(reqs, REQS.stroke_width(2)))?
        .label("req/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], REQS.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(p99, P99.stroke_width(2)))?
        .label("p99 (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], P99.stroke_width(2)));
    if let Some(rate) = base_rate {
        chart
            .draw_series(LineSeries::new(vec![(0.0, rate), (x_max, rate)], BASE.stroke_width(1)))?
            .label("hello-world req/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BASE.stroke_width(1)));
    }
    let open = open_in_timeline(report);
    let mark = |x: f64| PathElement::new(vec![(x, 0.0), (x, y_max)], BLACK.stroke_width(1));
    if open > 0.0 {
        chart.draw_series(std::iter::once(mark(open)))?;
        chart.draw_series(std::iter::once(Text::new("open", (open, y_max * 0.97), ("sans-serif", 14))))?;
    }
    if let Some(after) = report.sold_out_after_secs {
        let x = open + after;
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, y_max)], BLACK.stroke_width(2))))?
            .label(format!("sold out ({after:.2} s after the open)"))
            .legend(|(x, y)| PathElement::new(vec![(x, y - 6), (x, y + 6)], BLACK.stroke_width(2)));
        chart.draw_series(std::iter::once(Text::new("sold out", (x, y_max * 0.92), ("sans-serif", 14))))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Draws the sweep: req/s, p99 and server memory per point (crowd sizes, then hot SKUs).
pub fn draw_sweep(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1000, 1100)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled("seckill bench --sweep: how cost grows (rush)", ("sans-serif", 22))?;
    let panels = root.split_evenly((4, 1));
    let labels: Vec<String> = sweep.points.iter().map(|p| p.label.clone()).collect();
    let n = sweep.points.len().max(1);
    let series: [(&str, RGBColor, Vec<f64>); 4] = [
        ("req/s", REQS, sweep.points.iter().map(|p| p.req_per_sec).collect()),
        ("p99 (ms)", P99, sweep.points.iter().map(|p| p.p99_ms).collect()),
        (
            "server CPU per request (µs)",
            CPU,
            sweep.points.iter().map(|p| p.server_us_per_request.unwrap_or(0.0)).collect(),
        ),
        ("server memory, peak (MB)", MEMORY, sweep.points.iter().map(|p| p.rss_peak_mb.unwrap_or(0.0)).collect()),
    ];
    let base_rate = sweep.baseline.as_ref().map(|b| b.req_per_sec);
    // Over several rounds each req/s point carries the range of its runs (the slowest to the
    // fastest), drawn as a whisker.
    let ranges: Vec<(f64, f64)> =
        sweep.points.iter().filter(|p| p.runs > 1).map(|p| (p.req_per_sec_min, p.req_per_sec_max)).collect();
    for (panel, (name, color, values)) in panels.iter().zip(series) {
        let rates = name == "req/s";
        let with_base = if rates { base_rate } else { None };
        let whiskers: &[(f64, f64)] = if rates && ranges.len() == values.len() { &ranges } else { &[] };
        let y_max = top(values.iter().copied().chain(with_base).chain(whiskers.iter().map(|&(_, max)| max)));
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max)?;
        let labels = labels.clone();
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(n)
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(name)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        // One line per part of the sweep (crowds, then SKUs): they measure different things.
        let mut start = 0;
        for part in sweep.points.chunk_by(|a, b| a.part == b.part) {
            let line = values.iter().enumerate().skip(start).take(part.len()).map(|(i, v)| (i as f64, *v));
            chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
            start += part.len();
        }
        chart.draw_series(values.iter().enumerate().map(|(i, v)| Circle::new((i as f64, *v), 4, color.filled())))?;
        chart.draw_series(whiskers.iter().enumerate().flat_map(|(i, &(min, max))| {
            let x = i as f64;
            [
                PathElement::new(vec![(x, min), (x, max)], color.stroke_width(1)),
                PathElement::new(vec![(x - 0.06, min), (x + 0.06, min)], color.stroke_width(1)),
                PathElement::new(vec![(x - 0.06, max), (x + 0.06, max)], color.stroke_width(1)),
            ]
        }))?;
        if let Some(rate) = with_base {
            chart.draw_series(LineSeries::new(vec![(-0.5, rate), (n as f64 - 0.5, rate)], BASE.stroke_width(1)))?;
            chart.draw_series(std::iter::once(Text::new("hello world", (-0.45, rate * 0.97), ("sans-serif", 13))))?;
        }
    }
    root.present()?;
    Ok(())
}
