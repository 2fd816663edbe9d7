//! The cluster shape with real processes: several `seckill serve` over one PostgreSQL and one
//! Redis (standalone or a Redis Cluster), on the real clock, rushed over HTTP — and an instance,
//! Redis or PostgreSQL taken down in the middle. After each scenario the invariants of
//! DESIGN.md are checked against the records, read through the store's own ports:
//!
//! 1. `sold = Σ quantity of the non-cancelled orders <= stock` for each SKU;
//! 2. no user holds more than `total_limit`, no order more than `single_limit`;
//! 3. once quiet, every live instance shows `remaining = stock − sold`;
//! 4. every request answered `201`/`202` has exactly one order (after its ticket settles, polled
//!    on another instance than the one that answered), nothing else has one, and one
//!    `Idempotency-Key` never makes two (some keys are sent again, to another instance, and
//!    must get the same ticket back).
//!
//! Every order carries an `Idempotency-Key`. A request whose outcome is open — its instance
//! died under it, or it was answered `503` while Redis or the records were unreachable — is
//! sent again with the same key (to the next instance) until it gets a definitive answer, as a
//! careful client would: that is what makes invariant 4 checkable exactly after a failure.
//!
//! Every child (`seckill`, `redis-server`, PostgreSQL) is killed when its handle is dropped, so
//! a failing test leaves nothing behind; every wait is bounded.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use seckill_cluster::{PgOptions, PgRecords};
use seckill_domain::TimeZone;
use seckill_domain::ids::{ActivityId, Ticket};
use seckill_domain::order::{Order, OrderStatus};
use seckill_store::orders::OrderFilter;
use seckill_store::{Page, Records};
use seckill_testkit::http::{Api, Outcome, Sale};
use seckill_testkit::postgres::{PgServer, fresh_database};
use seckill_testkit::process::Running;
use seckill_testkit::redis::{RedisCluster, RedisServer};
use serde_json::json;
use tokio::sync::Notify;

/// The server secret every instance shares (at least 32 bytes): a token minted by one instance
/// verifies on every other.
const SECRET: &str = "cluster-test-secret-0123456789-abcdef";
const ADMIN_PASSWORD: &str = "cluster test passphrase";
/// Bound on every wait: an answer, a ticket to settle, a view to catch up.
const PATIENCE: Duration = Duration::from_secs(30);
/// Order requests in flight at once during a rush.
const IN_FLIGHT: usize = 96;
/// Pause between two tries of a request whose outcome is still open, or two polls.
const PAUSE: Duration = Duration::from_millis(100);

/// Where the instances keep their records and their hot state.
#[derive(Debug, Clone)]
struct Backends {
    database: String,
    redis: String,
}

impl Backends {
    /// `seckill` over these backends with the test's configuration only (nothing inherited).
    fn seckill(&self, data_dir: &std::path::Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_seckill"));
        c.env_clear()
            .env("SECKILL_DATA_DIR", data_dir)
            .env("SECKILL_DATABASE_URL", &self.database)
            .env("SECKILL_REDIS_URL", &self.redis)
            .env("SECKILL_LISTEN", "127.0.0.1:0")
            .env("SECKILL_SECRET", SECRET)
            .env("SECKILL_PASSWORD_HASHING", "fast-insecure")
            .env("SECKILL_RATE_LIMITS", "off")
            .env("SECKILL_TIMEZONE", "UTC")
            // A request sent again after an outage must not fail for an expired purchase token.
            .env("SECKILL_PURCHASE_TOKEN_TTL_SECS", "600")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Creates the operator (which migrates the records once, before any instance starts).
    fn create_admin(&self) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = self.seckill(dir.path());
        c.args(["admin", "create", "--username", "ops", "--password", ADMIN_PASSWORD]);
        Running::start(c).finish().assert_success();
    }

    /// `seckill serve` over these backends, in a data dir of its own.
    fn serve(&self) -> Instance {
        self.serve_with(&[])
    }

    /// [`Backends::serve`] with some more settings.
    fn serve_with(&self, settings: &[(&str, &str)]) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let mut c = self.seckill(dir.path());
        c.envs(settings.iter().copied()).arg("serve");
        let mut server = Running::start(c);
        let api = Api::new(server.serving_url());
        Instance { server, api, _dir: dir }
    }
}

/// One running instance.
struct Instance {
    // Declared before the dir: the process is killed before its dir is removed.
    server: Running,
    api: Api,
    _dir: tempfile::TempDir,
}

/// Puts `stock` on sale (through `api`'s admin API).
async fn restock(api: &Api, sale: &Sale, stock: [u32; 2]) {
    let mut body = sale.body.clone();
    for (i, units) in stock.iter().enumerate() {
        body["skus"][i]["stock"] = json!(units);
    }
    let path = format!("/api/admin/activities/{}", sale.id);
    api.expect(200, reqwest::Method::PUT, &path, Some(&body), Some(&sale.admin)).await;
}

/// A registered shopper with an address and a purchase token.
#[derive(Debug, Clone)]
struct Shopper {
    id: i64,
    token: String,
    address: i64,
    /// Minted by one instance, good on every one (tokens are stateless).
    purchase_token: String,
}

async fn register(api: &Api, sale_id: i64, name: String) -> Shopper {
    let password = format!("{name}-password");
    let user = api.create("/api/users", &json!({"username": name, "password": password}), None).await;
    let session = api.post("/api/sessions", &json!({"username": name, "password": password}), None).await;
    let token = session["token"].as_str().unwrap().to_owned();
    let address = json!({
        "contact": name, "phone": "13800138000", "province": "浙江省", "city": "杭州市",
        "district": "余杭区", "detail": "文一西路 969 号",
    });
    let address = api.create("/api/me/addresses", &address, Some(&token)).await;
    let purchase = api.post(&format!("/api/activities/{sale_id}/purchase-token"), &json!({}), Some(&token)).await;
    Shopper {
        id: user["id"].as_i64().unwrap(),
        token,
        address: address["id"].as_i64().unwrap(),
        purchase_token: purchase["token"].as_str().unwrap().to_owned(),
    }
}

/// What an order request came to, once definitive.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// `201`: the order is committed.
    Created { order_id: i64, ticket: String },
    /// `202`: the stock is held and the order queued under this ticket.
    Queued { ticket: String },
    /// `409` with this code.
    Rejected(String),
}

impl Answer {
    /// The ticket of an acknowledged request (`201` or `202`).
    fn ticket(&self) -> Option<&str> {
        match self {
            Answer::Created { ticket, .. } | Answer::Queued { ticket } => Some(ticket),
            Answer::Rejected(_) => None,
        }
    }

    fn label(&self) -> String {
        match self {
            Answer::Created { .. } => "201".to_owned(),
            Answer::Queued { .. } => "202".to_owned(),
            Answer::Rejected(code) => format!("409 {code}"),
        }
    }
}

/// One order request: who asked for which SKU under which key, which instance gave the
/// definitive answer, and what it was.
#[derive(Debug, Clone)]
struct Attempt {
    /// The shopper's index in its crowd.
    shopper: usize,
    user: i64,
    /// The shopper's session, to poll the ticket.
    session: String,
    sku: i64,
    key: String,
    instance: usize,
    answer: Answer,
}

/// The answers of a rush, counted by kind.
fn tally<'a>(attempts: impl IntoIterator<Item = &'a Attempt>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for a in attempts {
        *counts.entry(a.answer.label()).or_default() += 1;
    }
    counts
}

/// Called with the instance behind every acknowledgement, as it arrives.
type OnAck = Arc<dyn Fn(usize) + Send + Sync>;

/// Shoppers and the instances they reach.
struct Crowd {
    apis: Vec<Api>,
    sale_id: i64,
    skus: [i64; 2],
    shoppers: Vec<Shopper>,
    /// Requests sent again after a transport failure or a `503`.
    resent: AtomicUsize,
}

impl Crowd {
    /// Registers `count` shoppers named `{name}-{i}`, spread over the instances, each with a
    /// purchase token from the instance that registered it.
    async fn gather(apis: Vec<Api>, sale: &Sale, name: &str, count: usize) -> Arc<Crowd> {
        let shoppers = futures::stream::iter(0..count)
            .map(|i| register(&apis[i % apis.len()], sale.id, format!("{name}-{i}")))
            .buffered(32)
            .collect()
            .await;
        Arc::new(Crowd { apis, sale_id: sale.id, skus: sale.skus, shoppers, resent: AtomicUsize::new(0) })
    }

    /// Sends one order request once, to `instance`.
    async fn order_once(&self, shopper: usize, sku: i64, key: &str, instance: usize) -> Outcome {
        let s = &self.shoppers[shopper];
        let body = json!({"sku_id": sku, "quantity": 1, "address_id": s.address, "purchase_token": s.purchase_token});
        let path = format!("/api/activities/{}/orders", self.sale_id);
        self.apis[instance].try_send(reqwest::Method::POST, &path, Some(&body), Some(&s.token), Some(key)).await
    }

    /// The definitive answer of an order request, if `outcome` is one.
    fn definitive(&self, shopper: usize, outcome: &Outcome) -> Option<Answer> {
        let (status, body) = outcome.as_ref().ok()?;
        match status {
            201 => {
                let order = &body["order"];
                assert_eq!(order["user_id"], self.shoppers[shopper].id, "{body}");
                Some(Answer::Created {
                    order_id: order["id"].as_i64().unwrap(),
                    ticket: order["ticket"].as_str().unwrap().to_owned(),
                })
            }
            202 => {
                assert_eq!(body["status"], "queued", "{body}");
                Some(Answer::Queued { ticket: body["ticket"].as_str().unwrap().to_owned() })
            }
            409 => {
                let code = body["error"]["code"].as_str().unwrap_or("");
                assert!(["SOLD_OUT", "LIMIT_EXCEEDED"].contains(&code), "a rejection of the rush: {body}");
                Some(Answer::Rejected(code.to_owned()))
            }
            503 => None,
            _ => panic!("an order request answered {status} {body}"),
        }
    }

    /// Sends one order request until it has a definitive answer, starting with instance
    /// `first`. A transport failure (the instance died under it) or a `503` (Redis or the
    /// records unreachable for a moment, or the activity not loaded there yet) leaves its
    /// outcome open: the same request — same key, so it can never buy twice — goes again to
    /// the next instance, for at most [`PATIENCE`]. Returns the instance that answered.
    async fn order(&self, shopper: usize, sku: i64, key: &str, first: usize) -> (usize, Answer) {
        let deadline = Instant::now() + PATIENCE;
        let mut instance = first % self.apis.len();
        loop {
            let outcome = self.order_once(shopper, sku, key, instance).await;
            if let Some(answer) = self.definitive(shopper, &outcome) {
                return (instance, answer);
            }
            assert!(Instant::now() < deadline, "no definitive answer to order {key} within {PATIENCE:?}: {outcome:?}");
            self.resent.fetch_add(1, Ordering::Relaxed);
            instance = (instance + 1) % self.apis.len();
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Sends the acknowledged request `a` again, with its key, starting with instance `first`:
    /// it must get the same ticket back (and the same order once that is committed), never a
    /// second order.
    async fn replay(&self, a: &Attempt, first: usize) {
        let (_, again) = self.order(a.shopper, a.sku, &a.key, first).await;
        assert_eq!(again.ticket(), a.answer.ticket(), "key {} replayed: {again:?}, first {:?}", a.key, a.answer);
        if let (Answer::Created { order_id, .. }, Answer::Created { order_id: first_id, .. }) = (&again, &a.answer) {
            assert_eq!(order_id, first_id, "key {} replayed", a.key);
        }
        assert!(
            !matches!((&again, &a.answer), (Answer::Queued { .. }, Answer::Created { .. })),
            "key {}: committed, then queued again",
            a.key
        );
    }

    /// Every shopper's `tries` orders (one unit, alternating SKUs, key `{label}-{shopper}-{try}`),
    /// [`IN_FLIGHT`] at a time, each sent first to another instance than the one that minted
    /// the shopper's token (when the try allows); every fourth acknowledged one is sent again
    /// with its key to yet another instance. `on_ack` hears the instance of each acknowledgement.
    async fn rush(self: Arc<Self>, label: String, tries: usize, on_ack: OnAck) -> Vec<Attempt> {
        let n = self.shoppers.len();
        let shots: Vec<(usize, usize)> = (0..tries).flat_map(|t| (0..n).map(move |s| (s, t))).collect();
        futures::stream::iter(shots)
            .map(|(s, t)| {
                let (me, label, on_ack) = (&self, &label, &on_ack);
                async move {
                    let sku = me.skus[(s + t) % 2];
                    let key = format!("{label}-{s}-{t}");
                    let (instance, answer) = me.order(s, sku, &key, s + t + 1).await;
                    let attempt = Attempt {
                        shopper: s,
                        user: me.shoppers[s].id,
                        session: me.shoppers[s].token.clone(),
                        sku,
                        key,
                        instance,
                        answer,
                    };
                    if attempt.answer.ticket().is_some() {
                        on_ack(instance);
                        if (s + t) % 4 == 0 {
                            me.replay(&attempt, instance + 1).await;
                        }
                    }
                    attempt
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await
    }
}

/// Polls the ticket of every `202` answer — on instance `poll_on(attempt)`, or the next one if
/// that one is gone — until it answers `created`; returns the order of every acknowledged
/// ticket, as the shoppers were told.
async fn settle(apis: &[Api], attempts: &[Attempt], poll_on: impl Fn(&Attempt) -> usize) -> BTreeMap<String, i64> {
    let mut orders = BTreeMap::new();
    let mut queued = Vec::new();
    for a in attempts {
        match &a.answer {
            Answer::Created { order_id, ticket } => {
                orders.insert(ticket.clone(), *order_id);
            }
            Answer::Queued { ticket } => queued.push((a, ticket, poll_on(a))),
            Answer::Rejected(_) => {}
        }
    }
    let settled: Vec<(String, i64)> = futures::stream::iter(queued)
        .map(|(a, ticket, first)| async move {
            let path = format!("/api/tickets/{ticket}");
            let deadline = Instant::now() + PATIENCE;
            let mut instance = first % apis.len();
            loop {
                let outcome = apis[instance].try_send(reqwest::Method::GET, &path, None, Some(&a.session), None).await;
                match &outcome {
                    Ok((200, v)) if v["status"] == "created" => {
                        return (ticket.clone(), v["order_id"].as_i64().unwrap());
                    }
                    Ok((200, v)) => assert_eq!(v["status"], "queued", "ticket {ticket}: {v}"),
                    // Busy or unreachable records: ask again.
                    Ok((503, _)) => {}
                    Ok((status, v)) => panic!("ticket {ticket}: {status} {v}"),
                    Err(_) => instance = (instance + 1) % apis.len(),
                }
                assert!(
                    Instant::now() < deadline,
                    "ticket {ticket} of {a:?} still open after {PATIENCE:?}: {outcome:?}"
                );
                tokio::time::sleep(PAUSE).await;
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for (ticket, order) in settled {
        orders.insert(ticket, order);
    }
    orders
}

/// Every order of the activity, whatever its status.
async fn all_orders(records: &Records, id: ActivityId) -> Vec<Order> {
    let filter = OrderFilter { activity_id: Some(id), ..OrderFilter::default() };
    let mut all = Vec::new();
    for page in 1.. {
        let paged = records.orders.find_orders(&filter, Page::new(Some(page), Some(200))).await.unwrap();
        let last = paged.items.len() < 200;
        all.extend(paged.items);
        if last || all.len() as u64 >= paged.total {
            break;
        }
    }
    all
}

/// Invariants 1, 2 and 4, from the records through the store's own ports, for the requests
/// `attempts` (every order request of the scenario) whose acknowledged tickets settled into
/// `orders`. Returns the units sold of each SKU of the sale.
async fn check_records(database: &str, sale: &Sale, attempts: &[Attempt], orders: &BTreeMap<String, i64>) -> [u32; 2] {
    let backend = Arc::new(PgRecords::connect(PgOptions::new(database, TimeZone::UTC)).await.unwrap());
    let records = backend.records();
    let id = ActivityId::from_raw(sale.id);
    let activity = records.catalog.activity(id).await.unwrap();
    let hot = records.orders.hot_activity(id).await.unwrap();
    let all = all_orders(&records, id).await;
    let live: Vec<&Order> = all.iter().filter(|o| o.status != OrderStatus::Cancelled).collect();

    // 1. sold = Σ quantity of the non-cancelled orders <= stock.
    let mut sold = [0; 2];
    for sku in &activity.skus {
        let units: u32 = live.iter().filter(|o| o.sku_id == sku.sku_id).map(|o| o.quantity).sum();
        let held: u32 = hot.holdings.iter().filter(|h| h.sku_id == sku.sku_id).map(|h| h.quantity).sum();
        assert_eq!(sku.sold, units, "sku {}: sold = Σ quantity of its orders", sku.sku_id);
        assert_eq!(held, units, "sku {}: the hot state's view of the records", sku.sku_id);
        assert!(sku.sold <= sku.stock, "sku {}: sold {} > stock {}", sku.sku_id, sku.sold, sku.stock);
        let i = sale.skus.iter().position(|s| *s == sku.sku_id.get()).unwrap();
        sold[i] = sku.sold;
    }

    // 2. Per user at most total_limit, per order at most single_limit.
    let mut per_user: BTreeMap<i64, u32> = BTreeMap::new();
    for o in &live {
        assert!(o.quantity <= activity.rules.single_limit, "{o:?}");
        *per_user.entry(o.user_id.get()).or_default() += o.quantity;
    }
    let over: Vec<_> = per_user.iter().filter(|(_, n)| **n > activity.rules.total_limit).collect();
    assert!(over.is_empty(), "users over total_limit {}: {over:?}", activity.rules.total_limit);

    // 4. Every acknowledged request has exactly one order — the one its shopper was told
    // about — and nothing else has one.
    let acked: Vec<&Attempt> = attempts.iter().filter(|a| a.answer.ticket().is_some()).collect();
    let acked_tickets: BTreeSet<&str> = acked.iter().filter_map(|a| a.answer.ticket()).collect();
    assert_eq!(acked_tickets.len(), acked.len(), "one ticket per acknowledged request");
    let order_tickets: BTreeSet<String> = all.iter().map(|o| o.ticket.to_string()).collect();
    assert_eq!(order_tickets.len(), all.len(), "one order per ticket");
    let order_tickets: BTreeSet<&str> = order_tickets.iter().map(String::as_str).collect();
    assert_eq!(order_tickets, acked_tickets, "the orders are exactly those of the acknowledged requests");
    for a in &acked {
        let ticket = a.answer.ticket().unwrap();
        let order = records.orders.order_by_ticket(ticket.parse::<Ticket>().unwrap()).await.unwrap();
        let order = order.unwrap_or_else(|| panic!("no order for the acknowledged {a:?}"));
        assert_eq!(Some(&order.id.get()), orders.get(ticket), "the order the shopper was told about: {a:?}");
        assert_eq!((order.user_id.get(), order.sku_id.get()), (a.user, a.sku), "{a:?}");
    }
    // One key never makes two orders: each (user, key) of the records belongs to one order,
    // the one its acknowledged request was answered with.
    let mut keys: BTreeMap<(i64, String), String> = BTreeMap::new();
    let recorded = hot
        .holdings
        .iter()
        .map(|h| (h.user_id, h.idempotency_key.clone().expect("every order of the test had a key"), h.ticket))
        .chain(hot.cancelled_keys.iter().map(|k| (k.user_id, k.idempotency_key.clone(), k.ticket)));
    for (user, key, ticket) in recorded {
        let first = keys.insert((user.get(), key.clone()), ticket.to_string());
        assert!(first.is_none(), "key {key} of user {user} made two orders: {first:?} and {ticket}");
    }
    let acked_keys: BTreeMap<(i64, String), String> =
        acked.iter().map(|a| ((a.user, a.key.clone()), a.answer.ticket().unwrap().to_owned())).collect();
    assert_eq!(keys, acked_keys, "each acknowledged key has its order, under the ticket it was answered with");
    backend.close().await;
    sold
}

/// Polls the live status of every instance in `apis` until each shows `remaining = stock −
/// sold` for both SKUs (an instance's local view follows Redis within a refresh).
async fn wait_until_status_shows(apis: &[Api], sale: &Sale, stock: [u32; 2], sold: [u32; 2]) {
    let path = format!("/api/activities/{}/status", sale.id);
    let want: Vec<(i64, u64)> = (0..2).map(|i| (sale.skus[i], u64::from(stock[i] - sold[i]))).collect();
    for api in apis {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = api.get(&path, None).await;
            let shown: Vec<(i64, u64)> = status["skus"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["sku_id"].as_i64().unwrap(), s["remaining"].as_u64().unwrap()))
                .collect();
            if shown == want {
                break;
            }
            assert!(Instant::now() < deadline, "{}: status {status}, expected remaining {want:?}", api.base);
            tokio::time::sleep(PAUSE).await;
        }
    }
}

/// Sends `signal` (`-STOP`, `-CONT`) to the process `pid` (one of ours) with kill(1).
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill(1) runs");
    assert!(sent.success(), "kill {signal} {pid}");
}

/// The order stream of the sale (see `crates/cluster/src/hot/scripts.rs`).
fn order_stream(sale: &Sale) -> String {
    format!("{{a:{}}}:orders", sale.id)
}

/// Entries of `stream` read by a consumer of the group and not acknowledged yet (`XPENDING`,
/// by redis-cli, on the standalone Redis at `redis_port`): how many in all, and how many each
/// consumer holds (a consumer is named `<pid>-<uuid>` after its instance).
fn pending(redis_port: u16, stream: &str) -> (usize, BTreeMap<String, usize>) {
    let out = Command::new("redis-cli")
        .args(["-p", &redis_port.to_string(), "XPENDING", stream, "writers"])
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli XPENDING: {out:?}");
    // The summary, one item a line: count, first id, last id, then each consumer's name and
    // count.
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let total = lines.first().and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("XPENDING: {text}"));
    let held = lines
        .get(3..)
        .unwrap_or_default()
        .chunks(2)
        .filter_map(|c| Some((c.first()?.to_string(), c.get(1)?.parse().ok()?)))
        .collect();
    (total, held)
}

/// Entries pending with the consumer of the instance whose process id is `pid`.
fn pending_with(redis_port: u16, stream: &str, pid: u32) -> usize {
    let prefix = format!("{pid}-");
    pending(redis_port, stream).1.iter().filter(|(name, _)| name.starts_with(&prefix)).map(|(_, n)| n).sum()
}

/// Polls until every entry of `stream` has been acknowledged (written, then `XACK`ed), bounded:
/// entries a dead consumer held are claimed after 5 s idle.
async fn wait_until_stream_drained(redis_port: u16, stream: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (total, held) = pending(redis_port, stream);
        if total == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{stream}: {total} entries still pending after {PATIENCE:?}: {held:?}");
        tokio::time::sleep(PAUSE).await;
    }
}

fn no_ack_watch() -> OnAck {
    Arc::new(|_| {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_sale_and_the_invariants_hold() {
    const STOCK: [u32; 2] = [140, 100];
    let started = Instant::now();
    let pg = PgServer::start_durable().unwrap();
    let db = pg.create_database().unwrap();
    let redis = RedisServer::start().unwrap();
    let backends = Backends { database: db.url().to_owned(), redis: redis.url() };
    backends.create_admin();
    // The third one answers 202 without waiting for the commit: its tickets are polled.
    let instances = [backends.serve(), backends.serve(), backends.serve_with(&[("SECKILL_ORDER_WAIT_MS", "0")])];
    let apis: Vec<Api> = instances.iter().map(|i| i.api.clone()).collect();
    let sale = apis[0].open_sale(("ops", ADMIN_PASSWORD), "cluster rush", STOCK, 2).await;
    // 150 shoppers × 2 units allowed, three tries each: more than the stock, and the limit bites.
    let crowd = Crowd::gather(apis.clone(), &sale, "shopper", 150).await;
    let setup = started.elapsed();

    let attempts = crowd.clone().rush("rush".to_owned(), 3, no_ack_watch()).await;
    let answers = tally(&attempts);
    let per_instance: Vec<usize> =
        (0..3).map(|i| attempts.iter().filter(|a| a.instance == i && a.answer.ticket().is_some()).count()).collect();
    assert!(per_instance.iter().all(|n| *n > 0), "every instance sold: {per_instance:?}");
    assert!(
        ["201", "202", "409 SOLD_OUT", "409 LIMIT_EXCEEDED"].iter().all(|k| answers.contains_key(*k)),
        "{answers:?}"
    );
    let orders = settle(&apis, &attempts, |a| a.instance + 2).await;
    let sold = check_records(&backends.database, &sale, &attempts, &orders).await;
    assert_eq!(sold, STOCK, "the demand is above the stock: everything sells ({answers:?})");
    wait_until_status_shows(&apis, &sale, STOCK, sold).await;
    eprintln!(
        "three instances: setup {setup:.2?}; answers {answers:?}, acknowledged per instance {per_instance:?}, \
         {} resent; total {:.2?}",
        crowd.resent.load(Ordering::Relaxed),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_loses_no_acknowledged_order() {
    const STOCK: [u32; 2] = [150, 100];
    /// Acknowledgements by the first instance after which it is killed.
    const KILL_AFTER: usize = 20;
    let started = Instant::now();
    let db = fresh_database().await;
    let redis = RedisServer::start().unwrap();
    let backends = Backends { database: db.url().to_owned(), redis: redis.url() };
    backends.create_admin();
    // Started first, `a` most likely leads.
    let mut a = backends.serve();
    let b = backends.serve();
    let apis = vec![a.api.clone(), b.api.clone()];
    let sale = a.api.open_sale(("ops", ADMIN_PASSWORD), "cluster rush", STOCK, 2).await;
    // 150 shoppers × 2 units allowed, three tries each: more than the stock.
    let crowd = Crowd::gather(apis.clone(), &sale, "shopper", 150).await;
    let setup = started.elapsed();

    let by_a = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let on_ack: OnAck = Arc::new({
        let (by_a, enough) = (by_a.clone(), enough.clone());
        move |instance| {
            if instance == 0 && by_a.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                enough.notify_one();
            }
        }
    });
    let rush = tokio::spawn(crowd.clone().rush("rush".to_owned(), 3, on_ack));
    tokio::time::timeout(PATIENCE, enough.notified()).await.expect("the first instance acknowledges orders");
    // The worst moment for the order streams: frozen (SIGSTOP) until its consumer holds entries
    // it has read but not acknowledged — resumed and frozen again while it holds none — then
    // SIGKILL. Those entries are left for the survivor to claim.
    let pid = a.server.child.id();
    let stream = order_stream(&sale);
    let deadline = Instant::now() + PATIENCE;
    let pending_at_kill = loop {
        signal(pid, "-STOP");
        let pending = pending_with(redis.port(), &stream, pid);
        if pending > 0 {
            break pending;
        }
        signal(pid, "-CONT");
        assert!(
            Instant::now() < deadline && !rush.is_finished(),
            "the first instance never held unacknowledged order messages during the rush"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let status = a.server.kill();
    let killed_after = started.elapsed();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let attempts = tokio::time::timeout(PATIENCE * 2, rush).await.expect("every request ends on the survivor").unwrap();
    let answers = tally(&attempts);
    let acked_by_a: Vec<&Attempt> =
        attempts.iter().filter(|x| x.instance == 0 && x.answer.ticket().is_some()).collect();
    assert!(acked_by_a.len() >= KILL_AFTER);

    // The survivor's consumers claim what the dead one left pending: every ticket the dead
    // instance acknowledged answers `created` on the survivor.
    let settling = Instant::now();
    let orders = settle(&apis, &attempts, |_| 1).await;
    let settled_in = settling.elapsed();
    // The dead one's entries were claimed (XAUTOCLAIM) and acknowledged by the survivor.
    wait_until_stream_drained(redis.port(), &stream).await;
    assert_eq!(pending_with(redis.port(), &stream, pid), 0);
    let drained_in = settling.elapsed();
    for x in &acked_by_a {
        let ticket = x.answer.ticket().unwrap();
        let seen = b.api.get(&format!("/api/tickets/{ticket}"), Some(&x.session)).await;
        assert_eq!(seen, json!({"status": "created", "order_id": orders[ticket]}), "{x:?}");
    }
    let sold = check_records(&backends.database, &sale, &attempts, &orders).await;
    assert_eq!(sold, STOCK, "the demand is above the stock: everything sells ({answers:?})");
    wait_until_status_shows(&apis[1..], &sale, STOCK, sold).await;

    // The survivor keeps selling: five more units of each SKU, all sold through it to twelve
    // newcomers (six for each SKU).
    let more = [STOCK[0] + 5, STOCK[1] + 5];
    restock(&b.api, &sale, more).await;
    wait_until_status_shows(&apis[1..], &sale, more, sold).await;
    let late = Crowd::gather(vec![b.api.clone()], &sale, "newcomer", 12).await;
    let late_attempts = late.clone().rush("late".to_owned(), 1, no_ack_watch()).await;
    let late_orders = settle(&late.apis, &late_attempts, |_| 0).await;
    let late_answers = tally(&late_attempts);
    assert_eq!(late_attempts.iter().filter(|x| x.answer.ticket().is_some()).count(), 10, "{late_answers:?}");
    let all_attempts: Vec<Attempt> = attempts.iter().chain(&late_attempts).cloned().collect();
    let all_orders: BTreeMap<String, i64> = orders.into_iter().chain(late_orders).collect();
    let sold = check_records(&backends.database, &sale, &all_attempts, &all_orders).await;
    assert_eq!(sold, more);
    wait_until_status_shows(&apis[1..], &sale, more, sold).await;

    eprintln!(
        "killed instance: setup {setup:.2?}, killed after {killed_after:.2?} with {} acknowledged by it and \
         {pending_at_kill} order messages pending with it; answers {answers:?}, {} resent; tickets settled in \
         {settled_in:.2?}, stream drained in {drained_in:.2?}; late answers {late_answers:?}; total {:.2?}",
        acked_by_a.len(),
        crowd.resent.load(Ordering::Relaxed),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_aof_keeps_the_sale() {
    const STOCK: [u32; 2] = [30, 20];
    let started = Instant::now();
    let db = fresh_database().await;
    let mut redis = RedisServer::start_durable().unwrap();
    let backends = Backends { database: db.url().to_owned(), redis: redis.url() };
    backends.create_admin();
    let instance = backends.serve();
    let apis = vec![instance.api.clone()];
    let sale = instance.api.open_sale(("ops", ADMIN_PASSWORD), "cluster rush", STOCK, 2).await;
    let first = Crowd::gather(apis.clone(), &sale, "early", 40).await;
    let second = Crowd::gather(apis.clone(), &sale, "late", 20).await;

    // Forty shoppers order one unit each; Redis crashes (SIGKILL) as soon as the first orders
    // are acknowledged, with the others in flight, and comes back from its AOF. Whatever was
    // cut off is sent again with its key, as a careful client does.
    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let on_ack: OnAck = Arc::new({
        let (acks, enough) = (acks.clone(), enough.clone());
        move |_| {
            if acks.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
                enough.notify_one();
            }
        }
    });
    let rush = tokio::spawn(first.clone().rush("before".to_owned(), 1, on_ack));
    tokio::time::timeout(PATIENCE, enough.notified()).await.expect("the first orders are acknowledged");
    redis.kill().unwrap();
    let killed_at = acks.load(Ordering::SeqCst);
    redis.restart().unwrap();
    let restarted_after = started.elapsed();
    let before = tokio::time::timeout(PATIENCE * 2, rush).await.expect("every request ends").unwrap();
    assert!(before.iter().all(|x| x.answer.ticket().is_some()), "{:?}", tally(&before));

    // The instance reconnects by itself: the keys answer as before…
    for x in before.iter().step_by(4) {
        first.replay(x, 0).await;
    }
    // …every acknowledged order is there, and the hot state agrees with the records.
    let orders = settle(&apis, &before, |_| 0).await;
    let sold = check_records(&backends.database, &sale, &before, &orders).await;
    assert_eq!(sold.iter().sum::<u32>(), 40);
    wait_until_status_shows(&apis, &sale, STOCK, sold).await;

    // Selling goes on to exactly the stock (ten units left, forty asked for), never past it.
    let after = second.clone().rush("after".to_owned(), 2, no_ack_watch()).await;
    let answers = tally(&after);
    let attempts: Vec<Attempt> = before.iter().chain(&after).cloned().collect();
    let orders = settle(&apis, &attempts, |_| 0).await;
    let sold = check_records(&backends.database, &sale, &attempts, &orders).await;
    assert_eq!(sold, STOCK, "{answers:?}");
    assert_eq!(attempts.iter().filter(|x| x.answer.ticket().is_some()).count(), 50, "{answers:?}");
    wait_until_status_shows(&apis, &sale, STOCK, sold).await;
    // The consumer group came back with the AOF: every entry ends acknowledged, those whose
    // XACK the crash cut off once claimed again.
    wait_until_stream_drained(redis.port(), &order_stream(&sale)).await;
    eprintln!(
        "redis restart: killed with {killed_at} acknowledged, restarted after {restarted_after:.2?}; answers after \
         {answers:?}, {} resent; total {:.2?}",
        first.resent.load(Ordering::Relaxed) + second.resent.load(Ordering::Relaxed),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_queued_while_postgresql_is_down_land_when_it_returns() {
    const STOCK: [u32; 2] = [20, 20];
    const SHOPPERS: usize = 16;
    let started = Instant::now();
    let pg = PgServer::start_durable().unwrap();
    let db = pg.create_database().unwrap();
    let redis = RedisServer::start().unwrap();
    let backends = Backends { database: db.url().to_owned(), redis: redis.url() };
    backends.create_admin();
    let instance = backends.serve();
    let apis = vec![instance.api.clone()];
    let sale = instance.api.open_sale(("ops", ADMIN_PASSWORD), "cluster rush", STOCK, 2).await;
    let crowd = Crowd::gather(apis.clone(), &sale, "shopper", SHOPPERS).await;

    pg.stop().unwrap();
    let stopped_at = started.elapsed();
    // Every order is answered 202 at once (no retry): the stock is held in Redis and the order
    // queued in the stream, whatever the records.
    let outcomes: Vec<(usize, Instant, Outcome)> = futures::stream::iter(0..SHOPPERS)
        .map(|s| {
            let crowd = &crowd;
            async move {
                let sent = Instant::now();
                let outcome = crowd.order_once(s, crowd.skus[s % 2], &format!("down-{s}"), 0).await;
                (s, sent, outcome)
            }
        })
        .buffer_unordered(SHOPPERS)
        .collect()
        .await;
    let mut attempts = Vec::new();
    let mut slowest = Duration::ZERO;
    for (s, sent, outcome) in outcomes {
        slowest = slowest.max(sent.elapsed());
        let answer = crowd.definitive(s, &outcome);
        assert!(matches!(answer, Some(Answer::Queued { .. })), "with PostgreSQL down: {outcome:?}");
        attempts.push(Attempt {
            shopper: s,
            user: crowd.shoppers[s].id,
            session: crowd.shoppers[s].token.clone(),
            sku: crowd.skus[s % 2],
            key: format!("down-{s}"),
            instance: 0,
            answer: answer.unwrap(),
        });
    }
    let held = [SHOPPERS as u32 / 2, SHOPPERS as u32 / 2];
    wait_until_status_shows(&apis, &sale, STOCK, held).await;

    pg.start_again().unwrap();
    let restarted_at = started.elapsed();
    let settling = Instant::now();
    let orders = settle(&apis, &attempts, |_| 0).await;
    let settled_in = settling.elapsed();
    let sold = check_records(&backends.database, &sale, &attempts, &orders).await;
    assert_eq!(sold, held);
    wait_until_status_shows(&apis, &sale, STOCK, sold).await;
    wait_until_stream_drained(redis.port(), &order_stream(&sale)).await;
    eprintln!(
        "postgresql down: stopped at {stopped_at:.2?}, slowest 202 {slowest:.2?}, started again at \
         {restarted_at:.2?}, settled in {settled_in:.2?}; total {:.2?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_behaviour_holds_on_a_redis_cluster() {
    const STOCK: [u32; 2] = [20, 10];
    let started = Instant::now();
    let cluster = tokio::task::spawn_blocking(RedisCluster::start).await.unwrap().unwrap();
    let db = fresh_database().await;
    let backends = Backends { database: db.url().to_owned(), redis: cluster.url() };
    backends.create_admin();
    let instance = backends.serve();
    let apis = vec![instance.api.clone()];
    let sale = instance.api.open_sale(("ops", ADMIN_PASSWORD), "cluster rush", STOCK, 2).await;
    let crowd = Crowd::gather(apis.clone(), &sale, "shopper", 100).await;
    let setup = started.elapsed();

    let attempts = crowd.clone().rush("rush".to_owned(), 2, no_ack_watch()).await;
    let answers = tally(&attempts);
    let orders = settle(&apis, &attempts, |_| 0).await;
    let sold = check_records(&backends.database, &sale, &attempts, &orders).await;
    assert_eq!(sold, STOCK, "{answers:?}");
    wait_until_status_shows(&apis, &sale, STOCK, sold).await;
    eprintln!(
        "redis cluster: setup {setup:.2?}; answers {answers:?}, {} resent; total {:.2?}",
        crowd.resent.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// Whether `/metrics` of an instance says it leads (`None` before its first leadership check).
async fn leads(api: &Api) -> Option<bool> {
    let text = api.http.get(format!("{}/metrics", api.base)).send().await.ok()?.text().await.ok()?;
    let line = text.lines().find(|l| l.starts_with("seckill_leader "))?;
    Some(line.trim_end().ends_with(" 1"))
}

/// Polls (bounded) until the instances' leadership, as `/metrics` shows it, is what `expected` wants.
async fn wait_for_leaders(apis: &[&Api], expected: impl Fn(&[bool]) -> bool, what: &str) -> Vec<bool> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut now = Vec::new();
        for api in apis {
            now.push(leads(api).await.unwrap_or(false));
        }
        if expected(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: leadership {now:?} after {PATIENCE:?}");
        tokio::time::sleep(PAUSE).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_every_instance_and_leadership_moves_when_the_leader_dies() {
    let db = fresh_database().await;
    let redis = RedisServer::start().unwrap();
    let backends = Backends { database: db.url().to_owned(), redis: redis.url() };
    backends.create_admin();
    let mut instances = [backends.serve(), backends.serve()];
    let apis: Vec<Api> = instances.iter().map(|i| i.api.clone()).collect();
    let both: Vec<&Api> = apis.iter().collect();
    let leaders = wait_for_leaders(&both, |l| l.iter().filter(|x| **x).count() == 1, "one leader").await;

    // An operator's change on one instance is in the other's snapshot at once (announced), not
    // only at its next periodic step.
    let sale = apis[0].open_sale(("ops", ADMIN_PASSWORD), "cluster rush", [5, 5], 1).await;
    let status = format!("/api/activities/{}/status", sale.id);
    assert_eq!(apis[1].get(&status, None).await["state"], "running");
    let disable = format!("/api/admin/activities/{}/disable", sale.id);
    apis[0].post(&disable, &json!({}), Some(&sale.admin)).await;
    let changed = Instant::now();
    let deadline = changed + PATIENCE;
    while apis[1].get(&status, None).await["state"] != "disabled" {
        assert!(Instant::now() < deadline, "the other instance still sells a disabled activity");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen_after = changed.elapsed();

    // The leader dies (SIGKILL): PostgreSQL drops its lock with its connection, and the other
    // instance takes over within its next checks.
    let leader = leaders.iter().position(|l| *l).unwrap();
    let survivor = 1 - leader;
    instances[leader].server.kill();
    let killed = Instant::now();
    wait_for_leaders(&[&apis[survivor]], |l| l == [true], "the survivor leads").await;
    eprintln!(
        "disable seen on the other instance after {seen_after:.2?}; leadership moved {:.2?} after the kill",
        killed.elapsed()
    );
}
