//! Probes and operations: `/healthz`, `/readyz`, `/metrics`, `/api/time`, `/api/openapi.json`.

use jiff::SignedDuration;
use reqwest::Method;
use seckill_testkit::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn the_probes_answer_ok_and_ready() {
    let app = spawn_app().await;
    let r = app.get("/healthz", None).await;
    r.expect(200);
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = app.get("/readyz", None).await;
    r.expect(200);
    assert_eq!(r.body, json!({"status": "ready"}));
}

#[tokio::test]
async fn readiness_follows_redis_in_the_cluster_shape() {
    let app =
        seckill_testkit::spawn_app_with(seckill_testkit::AppOptions::on(seckill_testkit::Database::Cluster)).await;
    app.get("/readyz", None).await.expect(200);
    app.redis().unwrap_or_else(|| panic!("a cluster app has a redis")).kill_standalone();
    let r = app.get("/readyz", None).await;
    r.assert_error(503, "NOT_READY");
    assert_eq!(r.header("retry-after"), "1");
    app.redis().unwrap_or_else(|| panic!("a cluster app has a redis")).restart_standalone();
    // The connection manager reconnects by itself (bounded wait, no fixed sleep).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.get("/readyz", None).await.status != reqwest::StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "not ready 20 s after redis came back");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The value of the `http_requests_total` sample with exactly these labels, or 0.
fn requests_total(metrics: &str, method: &str, route: &str, status: u16) -> u64 {
    let wanted = [format!("method=\"{method}\""), format!("route=\"{route}\""), format!("status=\"{status}\"")];
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("http_requests_total{"))
        .filter_map(|l| l.rsplit_once('}'))
        .filter(|(labels, _)| {
            let labels: Vec<&str> = labels.split(',').collect();
            labels.len() == 3 && wanted.iter().all(|w| labels.contains(&w.as_str()))
        })
        .map(|(_, value)| value.trim().parse::<f64>().unwrap_or_else(|_| panic!("value {value:?}")) as u64)
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_per_route_template_and_status() {
    let app = spawn_app().await;
    for id in [11, 12, 13] {
        app.get(&format!("/api/activities/{id}/status"), None).await.expect(404);
    }
    app.get("/api/activities/abc/status", None).await.expect(400);
    for _ in 0..2 {
        app.get("/api/time", None).await.expect(200);
    }
    app.get("/no/such/route/42", None).await.expect(404);
    app.post("/api/users", &json!({"username": "alice", "password": "long enough"}), None).await.expect(201);

    let r = app.get("/metrics", None).await;
    r.expect(200);
    assert!(r.header("content-type").starts_with("text/plain"), "{:?}", r.headers);
    let text = &r.text;
    assert_eq!(requests_total(text, "GET", "/api/activities/{id}/status", 404), 3, "{text}");
    assert_eq!(requests_total(text, "GET", "/api/activities/{id}/status", 400), 1, "{text}");
    assert_eq!(requests_total(text, "GET", "/api/time", 200), 2, "{text}");
    assert_eq!(requests_total(text, "POST", "/api/users", 201), 1, "{text}");
    assert_eq!(requests_total(text, "GET", "unmatched", 404), 1, "{text}");
    for raw in ["/api/activities/11", "/no/such/route"] {
        assert!(!text.contains(raw), "raw paths never become labels: {raw}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_request_duration_seconds_bucket{") && l.contains(r#"route="/api/time""#)),
        "latency is measured per route: {text}"
    );
    // The scrape itself is counted by the next one.
    let again = app.get("/metrics", None).await;
    assert_eq!(requests_total(&again.text, "GET", "/metrics", 200), 1, "{}", again.text);
}

#[tokio::test]
async fn the_server_time_follows_the_injected_clock_names_the_shops_zone_and_is_never_cached() {
    let app = spawn_app().await;
    let r = app.get("/api/time", None).await;
    r.expect(200);
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.body, json!({"now": "2026-11-10T00:00:00Z", "timezone": "Asia/Shanghai"}));
    app.clock.advance(SignedDuration::from_millis(90_250));
    assert_eq!(app.get("/api/time", None).await.body["now"], "2026-11-10T00:01:30.25Z");
    app.set_local_time("2026-11-11T10:00");
    assert_eq!(app.get("/api/time", None).await.body["now"], "2026-11-11T02:00:00Z");
}

/// Every path and method of API.md served so far.
const API_MD: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/time"),
    ("post", "/api/users"),
    ("post", "/api/sessions"),
    ("get", "/api/me"),
    ("post", "/api/me/addresses"),
    ("get", "/api/me/addresses"),
    ("get", "/api/time-slots"),
    ("get", "/api/activities"),
    ("get", "/api/activities/{id}"),
    ("get", "/api/activities/{id}/status"),
    ("post", "/api/admin/sessions"),
    ("post", "/api/admin/brands"),
    ("get", "/api/admin/brands"),
    ("post", "/api/admin/categories"),
    ("get", "/api/admin/categories"),
    ("post", "/api/admin/products"),
    ("get", "/api/admin/products"),
    ("get", "/api/admin/products/{id}"),
    ("put", "/api/admin/products/{id}"),
    ("post", "/api/admin/time-slots"),
    ("get", "/api/admin/time-slots"),
    ("put", "/api/admin/time-slots/{id}"),
    ("delete", "/api/admin/time-slots/{id}"),
    ("post", "/api/admin/activities"),
    ("get", "/api/admin/activities"),
    ("get", "/api/admin/activities/{id}"),
    ("put", "/api/admin/activities/{id}"),
    ("post", "/api/admin/activities/{id}/enable"),
    ("post", "/api/admin/activities/{id}/disable"),
];

#[tokio::test]
async fn the_openapi_document_lists_the_api_and_every_operation_it_lists_is_served() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let shopper = app.shopper("alice").await.token;
    let r = app.get("/api/openapi.json", None).await;
    r.expect(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let doc: Value = serde_json::from_str(&r.text).expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in API_MD {
        assert!(paths.get(*path).is_some_and(|p| p.get(*method).is_some()), "{method} {path} is not documented");
    }
    // And the document describes this server: each operation answers, never "no such route".
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else { continue };
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m.as_str()) {
                continue;
            }
            operations += 1;
            let concrete = path.replace("{id}", "1");
            let token = if path.starts_with("/api/me") { &shopper } else { &admin };
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let r = app.send(m.clone(), &concrete, body.as_ref(), Some(token)).await;
            assert_ne!(r.status.as_u16(), 405, "{method} {path} is documented but not served: {}", r.text);
            let unrouted = r.status.as_u16() == 404 && r.body["error"]["message"] == "route not found";
            assert!(!unrouted, "{method} {path} is documented but not served: {}", r.text);
            assert!(!r.status.is_server_error(), "{method} {path}: {}", r.text);
        }
    }
    assert!(operations >= API_MD.len(), "{operations} operations");
}
