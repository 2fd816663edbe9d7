//! Invariant 6 of DESIGN.md: a crash (kill -9) at any moment loses no acknowledged order and
//! breaks none of the other invariants after restart.
//!
//! The built binary serves a real sale on the real clock, with the default
//! `sqlite_synchronous=full`; two hundred shoppers rush it with hundreds of requests in flight,
//! and the process gets SIGKILL as soon as the first orders are acknowledged. Restarted on the
//! same data dir, the server must know every acknowledged order (each shopper's ticket answers
//! `created` with the same order), show `remaining = stock − sold`, and keep selling correctly.
//! Finally the records are opened through the store's own ports to check the per-user limits,
//! which the API cannot show.
//!
//! The child is the testkit's [`Running`], killed on drop, so a failing test never leaves a
//! server behind; every wait is bounded.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use seckill_domain::ids::{ActivityId, OrderId, Ticket};
use seckill_testkit::http::{Api, Sale};
use seckill_testkit::process::Running;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The server secret of the test (at least 32 bytes).
const SECRET: &str = "kill-nine-test-secret-0123456789-abcdef";
/// Stock of the two SKUs on sale.
const STOCK: [u64; 2] = [150, 100];
/// Shoppers in the rush; each sends [`TRIES`] orders.
const SHOPPERS: usize = 200;
const TRIES: usize = 5;
/// Acknowledged orders after which the server is killed.
const KILL_AFTER: usize = 120;
/// Bound on every wait for the server.
const PATIENCE: Duration = Duration::from_secs(30);

/// `seckill` over `data_dir` with the test's configuration only (nothing inherited).
fn seckill(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seckill"));
    c.env_clear()
        .env("SECKILL_DATA_DIR", data_dir)
        .env("SECKILL_LISTEN", "127.0.0.1:0")
        .env("SECKILL_SECRET", SECRET)
        .env("SECKILL_PASSWORD_HASHING", "fast-insecure")
        .env("SECKILL_RATE_LIMITS", "off")
        .env("SECKILL_TIMEZONE", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `seckill serve` started, with its base URL.
fn serve(data_dir: &Path) -> (Running, String) {
    let mut c = seckill(data_dir);
    c.arg("serve");
    let mut child = Running::start(c);
    let base = child.serving_url();
    (child, base)
}

/// A registered shopper with an address.
#[derive(Debug, Clone)]
struct Shopper {
    id: i64,
    token: String,
    address: i64,
}

async fn register(api: &Api, name: String) -> Shopper {
    let password = format!("{name}-password");
    let user = api.create("/api/users", &json!({"username": name, "password": password}), None).await;
    let session = api.post("/api/sessions", &json!({"username": name, "password": password}), None).await;
    let token = session["token"].as_str().unwrap().to_owned();
    let address = json!({
        "contact": name, "phone": "13800138000", "province": "浙江省", "city": "杭州市",
        "district": "余杭区", "detail": "文一西路 969 号",
    });
    let address = api.create("/api/me/addresses", &address, Some(&token)).await;
    Shopper { id: user["id"].as_i64().unwrap(), token, address: address["id"].as_i64().unwrap() }
}

fn order_body(sku: i64, shopper: &Shopper, purchase_token: &str) -> Value {
    json!({"sku_id": sku, "quantity": 1, "address_id": shopper.address, "purchase_token": purchase_token})
}

async fn purchase_token(api: &Api, sale: &Sale, shopper: &Shopper) -> String {
    let r = api.post(&format!("/api/activities/{}/purchase-token", sale.id), &json!({}), Some(&shopper.token)).await;
    r["token"].as_str().unwrap().to_owned()
}

/// An acknowledged order: the `201` answer of a shopper's request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Acked {
    shopper: usize,
    order_id: i64,
    ticket: String,
    sku_id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_a_rush_loses_no_acknowledged_order_and_the_sale_goes_on() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let created = Running::start({
        let mut c = seckill(data);
        c.args(["admin", "create", "--username", "ops", "--password", "crash test passphrase"]);
        c
    })
    .finish();
    created.assert_success();
    // Commits are durable on power loss, the default.
    let config = Running::start({
        let mut c = seckill(data);
        c.arg("config");
        c
    })
    .finish();
    config.assert_success();
    let effective = |l: &String| {
        l.split_once('=')
            .is_some_and(|(k, v)| k.trim() == "sqlite_synchronous" && v.trim().eq_ignore_ascii_case("full"))
    };
    assert!(config.stdout.iter().any(effective), "{:?}", config.stdout);

    let (mut server, base) = serve(data);
    assert!(
        server.stderr.iter().any(|l| l.contains("sqlite records open") && l.contains("synchronous=Full")),
        "the server opened its records with synchronous=FULL: {:?}",
        server.stderr
    );
    let api = Api::new(base);
    let sale =
        api.open_sale(("ops", "crash test passphrase"), "kill -9", STOCK.map(|n| u32::try_from(n).unwrap()), 2).await;
    let shoppers: Vec<Shopper> =
        futures::stream::iter(0..SHOPPERS).map(|i| register(&api, format!("rusher-{i}"))).buffered(32).collect().await;
    let tokens: Vec<String> =
        futures::stream::iter(&shoppers).map(|s| purchase_token(&api, &sale, s)).buffered(32).collect().await;
    let setup = started.elapsed();

    // The rush, in its own task: every shopper's tries, 256 requests in flight.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    // Once the server is killed no request is sent any more: its port is free, and another
    // test's server may bind it (one stopped with SIGSTOP would leave a request hanging).
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rush = tokio::spawn({
        let (api, shoppers, tokens) = (api.clone(), Arc::new(shoppers.clone()), Arc::new(tokens));
        let (acknowledged, enough, path, skus) =
            (acknowledged.clone(), enough.clone(), format!("/api/activities/{}/orders", sale.id), sale.skus);
        let killed = killed.clone();
        async move {
            let shots: Vec<(usize, usize)> =
                (0..TRIES).flat_map(|t| (0..SHOPPERS).map(move |s| (s, (s + t) % 2))).collect();
            futures::stream::iter(shots)
                .map(|(s, sku)| {
                    let (api, shoppers, tokens, acknowledged, enough, path, killed) =
                        (&api, &shoppers, &tokens, &acknowledged, &enough, &path, &killed);
                    async move {
                        if killed.load(Ordering::SeqCst) {
                            return (s, Err("not sent: the server was killed".to_owned()));
                        }
                        let body = order_body(skus[sku], &shoppers[s], &tokens[s]);
                        let outcome = api
                            .try_send(reqwest::Method::POST, path, Some(&body), Some(&shoppers[s].token), None)
                            .await;
                        if matches!(outcome, Ok((201, _)))
                            && acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER
                        {
                            enough.notify_one();
                        }
                        (s, outcome)
                    }
                })
                .buffer_unordered(256)
                .collect::<Vec<_>>()
                .await
        }
    });
    tokio::time::timeout(PATIENCE, enough.notified()).await.expect("the first orders are acknowledged");
    let status = server.kill();
    killed.store(true, Ordering::SeqCst);
    let killed_after = started.elapsed();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let outcomes =
        tokio::time::timeout(PATIENCE, rush).await.expect("every request ends once the server is gone").unwrap();

    let mut acked = Vec::new();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for (s, outcome) in &outcomes {
        let key = match outcome {
            Ok((201, body)) => {
                let order = &body["order"];
                assert_eq!(order["user_id"], shoppers[*s].id);
                acked.push(Acked {
                    shopper: *s,
                    order_id: order["id"].as_i64().unwrap(),
                    ticket: order["ticket"].as_str().unwrap().to_owned(),
                    sku_id: order["sku_id"].as_i64().unwrap(),
                });
                "201".to_owned()
            }
            Ok((status, body)) => {
                let code = body["error"]["code"].as_str().unwrap_or("");
                assert!(
                    *status == 409 && ["SOLD_OUT", "LIMIT_EXCEEDED"].contains(&code),
                    "a rejection of the rush: {status} {body}"
                );
                format!("{status} {code}")
            }
            Err(_) => "no answer (killed)".to_owned(),
        };
        *answers.entry(key).or_default() += 1;
    }
    assert!(acked.len() >= KILL_AFTER);
    assert!(answers.contains_key("no answer (killed)"), "the kill landed while requests were in flight: {answers:?}");
    let ids: BTreeSet<i64> = acked.iter().map(|a| a.order_id).collect();
    assert_eq!(ids.len(), acked.len(), "one order per acknowledged request");

    // Restarted on the same data dir: every acknowledged order is there, as answered.
    let (server, base) = serve(data);
    let api = Api::new(base);
    for a in &acked {
        let ticket = api.get(&format!("/api/tickets/{}", a.ticket), Some(&shoppers[a.shopper].token)).await;
        assert_eq!(ticket, json!({"status": "created", "order_id": a.order_id}), "acknowledged order {a:?}");
    }
    // sold = the orders' units ≤ stock, and remaining = stock − sold, in the operators' view
    // and in the live status (the hot state rebuilt from the records).
    let view = api.get(&format!("/api/admin/activities/{}", sale.id), Some(&sale.admin)).await;
    let figures = &view["figures"];
    let sold: Vec<u64> = (0..2).map(|i| view["skus"][i]["sold"].as_u64().unwrap()).collect();
    for i in 0..2 {
        assert!(sold[i] <= STOCK[i], "{view}");
        assert_eq!(view["skus"][i]["remaining"], STOCK[i] - sold[i], "{view}");
    }
    assert_eq!(figures["sold"], sold[0] + sold[1], "{view}");
    assert_eq!(figures["orders"], sold[0] + sold[1], "one unit per order: {view}");
    assert!(sold[0] + sold[1] >= acked.len() as u64, "{view}");
    let status = api.get(&format!("/api/activities/{}/status", sale.id), None).await;
    for i in 0..2 {
        assert_eq!(status["skus"][i]["sku_id"], sale.skus[i]);
        assert_eq!(status["skus"][i]["remaining"], STOCK[i] - sold[i], "{status}");
    }

    // The sale goes on. Ten more units of each SKU are on sale at once (whatever the rush left)…
    let mut more = sale.body.clone();
    for i in 0..2 {
        more["skus"][i]["stock"] = json!(STOCK[i] + 10);
    }
    api.expect(
        200,
        reqwest::Method::PUT,
        &format!("/api/admin/activities/{}", sale.id),
        Some(&more),
        Some(&sale.admin),
    )
    .await;
    let status = api.get(&format!("/api/activities/{}/status", sale.id), None).await;
    for i in 0..2 {
        assert_eq!(status["skus"][i]["remaining"], STOCK[i] + 10 - sold[i], "{status}");
    }
    // …the shoppers' sessions still work and what they bought still counts…
    let orders_path = format!("/api/activities/{}/orders", sale.id);
    let mut per_shopper: BTreeMap<usize, usize> = BTreeMap::new();
    for a in &acked {
        *per_shopper.entry(a.shopper).or_default() += 1;
    }
    assert!(per_shopper.values().all(|n| *n <= 2), "{per_shopper:?}");
    if let Some((&full, _)) = per_shopper.iter().find(|(_, n)| **n == 2) {
        let s = &shoppers[full];
        let token = purchase_token(&api, &sale, s).await;
        let body = order_body(sale.skus[0], s, &token);
        let (status, body) =
            api.try_send(reqwest::Method::POST, &orders_path, Some(&body), Some(&s.token), None).await.unwrap();
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("LIMIT_EXCEEDED")), "{body}");
    }
    // …and a newcomer buys.
    let newcomer = register(&api, "newcomer".to_owned()).await;
    let token = purchase_token(&api, &sale, &newcomer).await;
    let r = api.create(&orders_path, &order_body(sale.skus[1], &newcomer, &token), Some(&newcomer.token)).await;
    let late = Acked {
        shopper: usize::MAX,
        order_id: r["order"]["id"].as_i64().unwrap(),
        ticket: r["order"]["ticket"].as_str().unwrap().to_owned(),
        sku_id: sale.skus[1],
    };
    let status = api.get(&format!("/api/activities/{}/status", sale.id), None).await;
    assert_eq!(status["skus"][1]["remaining"], STOCK[1] + 10 - sold[1] - 1, "{status}");

    // Stopped cleanly, the records — read through the store's own ports — hold every
    // acknowledged order, and no shopper holds more than total_limit.
    let sent = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill(1) runs");
    assert!(sent.success());
    let stopped = server.finish();
    assert!(stopped.status.success(), "{:?}: {:?}", stopped.status, stopped.stderr);

    let settings = seckill::Settings::embedded(data);
    let records = seckill::OpenedRecords::open(&settings).await.unwrap();
    let id = ActivityId::from_raw(sale.id);
    let activity = records.records.catalog.activity(id).await.unwrap();
    let hot = records.records.orders.hot_activity(id).await.unwrap();
    for (i, sku) in activity.skus.iter().enumerate() {
        let units: u32 = hot.holdings.iter().filter(|h| h.sku_id == sku.sku_id).map(|h| h.quantity).sum();
        assert_eq!(sku.sold, units, "sold = Σ quantity of the orders");
        assert!(sku.sold <= sku.stock);
        assert_eq!(u64::from(sku.sold), sold[i] + u64::from(i == 1), "what the server showed, and the newcomer's unit");
    }
    let mut per_user: BTreeMap<i64, u32> = BTreeMap::new();
    for h in &hot.holdings {
        *per_user.entry(h.user_id.get()).or_default() += h.quantity;
    }
    assert!(per_user.values().all(|n| *n <= 2), "{per_user:?}");
    for a in acked.iter().chain([&late]) {
        let order = records.records.orders.order(OrderId::from_raw(a.order_id)).await.unwrap();
        assert_eq!((order.ticket, order.sku_id.get()), (a.ticket.parse::<Ticket>().unwrap(), a.sku_id));
    }
    records.close().await;
    eprintln!(
        "kill -9: setup {setup:.2?}, killed after {killed_after:.2?} with {} acknowledged; answers {answers:?}; \
         {} orders after restart; total {:.2?}",
        acked.len(),
        hot.holdings.len(),
        started.elapsed()
    );
}
