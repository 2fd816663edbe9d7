//! `deploy/nginx.conf` in front of a real server: the rendered product pages come straight
//! from the data dir (precompressed), the API is proxied, and the hot path is limited at the
//! edge with the API's error shape. Needs nginx (`./scripts/test` installs it).

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seckill_testkit::process::Running;
use seckill_testkit::spawn_app;
use serde_json::{Value, json};

/// How many requests the app has answered on `route` (from its own `/metrics`).
async fn answered(app: &seckill_testkit::TestApp, route: &str) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains(&format!("route=\"{route}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_the_rendered_pages_from_disk_proxies_the_api_and_limits_the_hot_path() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = app
        .post(
            "/api/admin/products",
            &json!({"name": "Mate 70 Pro", "skus": [{"name": "black", "price_cents": 599_900, "stock": 10}]}),
            Some(&admin),
        )
        .await;
    product.expect(201);
    let slot = app
        .post("/api/admin/time-slots", &json!({"name": "上午场", "start": "10:00", "end": "12:00"}), Some(&admin))
        .await;
    slot.expect(201);
    let activity = app
        .post(
            "/api/admin/activities",
            &json!({
                "name": "Mate 70 Pro 秒杀",
                "product_id": product.id("id"),
                "starts_at": app.local("2026-11-11T00:00").to_string(),
                "ends_at": app.local("2026-11-12T00:00").to_string(),
                "time_slot_ids": [slot.id("id")],
                "skus": [{"sku_id": product.body["skus"][0]["id"], "seckill_price_cents": 399_900, "stock": 5}],
                "total_limit": 1,
                "single_limit": 1,
            }),
            Some(&admin),
        )
        .await;
    activity.expect(201);
    let id = activity.id("id");
    app.set_local_time("2026-11-11T09:58:00");
    app.preheat().await;
    let pages = app.data_dir().join("pages");
    let page = pages.join(format!("seckill/{id}.html"));
    assert!(page.exists(), "preheat rendered {}", page.display());

    // deploy/nginx.conf, pointed at this app, this data dir and a free port.
    let run = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let upstream = app.base.trim_start_matches("http://").to_owned();
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nginx.conf")).unwrap();
    let mut conf = shipped
        .replace("listen 80 reuseport backlog=4096;", &format!("listen 127.0.0.1:{port};"))
        .replace("server 127.0.0.1:8080", &format!("server {upstream}"))
        .replace("root /var/lib/seckill/pages;", &format!("root {};", pages.display()))
        .replace("/tmp/seckill-nginx", &run.path().join("nginx").display().to_string());
    assert_ne!(conf, shipped);
    let root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap().trim() == "0";
    if root {
        // Workers would run as `nobody`, who cannot read a root-owned temp dir.
        conf = format!("user root;\n{conf}");
    }
    let conf_path = run.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let binary = if std::path::Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
    let mut nginx = Command::new(binary);
    nginx
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(run.path())
        .arg("-g")
        // One process: killed (also when the test fails), nothing is left behind — a master
        // killed with SIGKILL would orphan its workers.
        .arg("daemon off; master_process off;")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut nginx = Running::start(nginx);
    let edge = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("{edge}/healthz")).send().await.is_err() {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            panic!("nginx exited with {status}: {:?}", nginx.stderr);
        }
        assert!(Instant::now() < deadline, "nginx did not answer on {edge}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The page comes from disk, precompressed, cacheable; the app never sees the request.
    let before = answered(&app, "/seckill/{id}").await;
    let gz = client.get(format!("{edge}/seckill/{id}")).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert!(gz.headers()["cache-control"].to_str().unwrap().contains("max-age=30"));
    assert!(gz.headers().contains_key("etag"));
    let gz_body = gz.bytes().await.unwrap();
    assert_eq!(gz_body.as_ref(), std::fs::read(page.with_extension("html.gz")).unwrap().as_slice());
    let plain = client.get(format!("{edge}/seckill/{id}")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = plain.text().await.unwrap();
    assert_eq!(html, std::fs::read_to_string(&page).unwrap());
    assert!(html.contains("Mate 70 Pro"));
    assert_eq!(answered(&app, "/seckill/{id}").await, before, "nginx served the pages itself");

    // A page not on disk (yet) falls through to the app, which renders it.
    std::fs::remove_file(&page).unwrap();
    let fallback = client.get(format!("{edge}/seckill/{id}")).send().await.unwrap();
    assert_eq!(fallback.status(), 200);
    assert!(fallback.text().await.unwrap().contains("Mate 70 Pro"));
    assert!(page.exists(), "the app rendered the page again");
    assert_eq!(answered(&app, "/seckill/{id}").await, before + 1);

    // The API is proxied, errors and all.
    let time: Value = client.get(format!("{edge}/api/time")).send().await.unwrap().json().await.unwrap();
    assert!(time["now"].as_str().is_some_and(|t| t.starts_with("2026-11-11T01:58:00")), "{time}");
    let unknown = client.get(format!("{edge}/api/activities/999999")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // A burst at the hot path from one address meets the edge limit: 429 in the API's shape
    // with Retry-After; what passes reaches the app (which wants a shopper: 401).
    let burst: Vec<_> = (0..80)
        .map(|_| {
            let client = client.clone();
            let url = format!("{edge}/api/activities/{id}/purchase-token");
            tokio::spawn(async move {
                let r = client.post(url).send().await.unwrap();
                let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                let status = r.status().as_u16();
                let text = r.text().await.unwrap();
                let body: Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} not JSON ({e}): {text}"));
                (status, retry, body)
            })
        })
        .collect();
    let mut limited = 0;
    let mut passed = 0;
    for answer in burst {
        let (status, retry, body) = answer.await.unwrap();
        match status {
            429 => {
                limited += 1;
                assert_eq!(body["error"]["code"], "RATE_LIMITED");
                assert!(retry.is_some(), "429 carries Retry-After");
            }
            401 => {
                passed += 1;
                assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(limited > 0, "the edge limited a burst of 80");
    assert!(passed >= 20, "the burst allowance passed ({passed})");
    let _ = nginx.child.kill();
}
