//! Request metrics: `http_requests_total{method,route,status}` and
//! `http_request_duration_seconds{method,route}`, rendered in Prometheus text at `/metrics`.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder), installed once
//! however many apps a test process builds. `route` is the matched route template, never the raw
//! path, so ids and junk URLs cannot blow up the label set.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the latency histogram, 100 µs to 5 s.
pub const LATENCY_BUCKETS: [f64; 15] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
///
/// If another recorder was installed first (by something other than this function), the
/// handle renders an empty registry and a warning is logged.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), &LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(e) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %e, "another metrics recorder is installed; /metrics will be empty");
    }
    // Histograms keep raw samples until upkeep folds them in: do it on a timer, off the runtime.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start metrics upkeep; histograms are folded at each scrape only");
    }
    handle
}

/// Middleware counting and timing every request by method, route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route: Option<MatchedPath> = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    record(route, method, response.status().as_u16(), elapsed);
    response
}

/// The metric handles of one route template, registered on its first request: later requests
/// find them under a read lock instead of hashing labels into the registry every time.
#[derive(Default)]
struct RouteHandles {
    counters: Vec<(&'static str, u16, metrics::Counter)>,
    histograms: Vec<(&'static str, metrics::Histogram)>,
}

impl RouteHandles {
    fn get(&self, method: &'static str, status: u16) -> Option<(&metrics::Counter, &metrics::Histogram)> {
        let counter = self.counters.iter().find(|(m, s, _)| *m == method && *s == status).map(|(_, _, c)| c)?;
        let histogram = self.histograms.iter().find(|(m, _)| *m == method).map(|(_, h)| h)?;
        Some((counter, histogram))
    }
}

/// Route template → handles. Bounded: templates, methods and statuses are few.
static HANDLES: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<String, RouteHandles>>> =
    std::sync::LazyLock::new(Default::default);

fn record(route: &str, method: &'static str, status: u16, elapsed: f64) {
    {
        let map = HANDLES.read().unwrap_or_else(|p| p.into_inner());
        if let Some((counter, histogram)) = map.get(route).and_then(|h| h.get(method, status)) {
            counter.increment(1);
            histogram.record(elapsed);
            return;
        }
    }
    let mut map = HANDLES.write().unwrap_or_else(|p| p.into_inner());
    let handles = map.entry(route.to_owned()).or_default();
    if !handles.counters.iter().any(|(m, s, _)| *m == method && *s == status) {
        let counter = metrics::counter!(
            "http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status.to_string()
        );
        handles.counters.push((method, status, counter));
    }
    if !handles.histograms.iter().any(|(m, _)| *m == method) {
        let histogram =
            metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned());
        handles.histograms.push((method, histogram));
    }
    if let Some((counter, histogram)) = handles.get(method, status) {
        counter.increment(1);
        histogram.record(elapsed);
    }
}

/// Standard methods by name; anything else is one label, so clients cannot invent labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The scrape body.
pub fn render() -> String {
    let handle = metrics_handle();
    handle.run_upkeep();
    handle.render()
}
