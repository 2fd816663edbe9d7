//! Test support for seckill: start a real server on a free loopback port over a temp data dir,
//! with a clock the test moves, and talk to it over real HTTP.
//!
//! ```ignore
//! let app = seckill_testkit::spawn_app().await;
//! let admin = app.admin_token().await;
//! let reply = app.post("/api/admin/brands", &json!({"name": "Apple"}), Some(&admin)).await;
//! assert_eq!(reply.status, 201);
//! ```
//!
//! Servers listen on 127.0.0.1 only, bind before they are used (no sleeping), and stop when
//! the [`TestApp`] is dropped or stopped.
//!
//! Besides JSON requests with a bearer token ([`TestApp::post`] and friends) there are raw
//! bodies with any content type ([`TestApp::raw`]) and a [`Browser`] that keeps cookies, for
//! the cookie sessions of the web pages.
//!
//! [`process`] runs the built binary as a child process (for the command line and kill -9
//! tests), killing it on drop. [`postgres`] starts throwaway PostgreSQL servers and gives each
//! test a database of its own; [`AppOptions::database`] runs a test app over one of them.
//! [`redis`] starts throwaway Redis servers and three-master Redis Clusters, one per test.

use std::sync::Arc;

use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use seckill::Server;
use seckill::settings::Settings;
use seckill_domain::Timestamp;
use seckill_domain::clock::ManualClock;
use seckill_domain::ids::{ActivityId, SkuId, UserId};
use seckill_server::PasswordCost;
use seckill_store::Records;
use serde_json::Value;
use tokio::sync::OnceCell;

pub mod http;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod web;

/// The operator every test app can log in as.
pub const ADMIN_USER: &str = "root";
/// Its password.
pub const ADMIN_PASSWORD: &str = "root-password-for-tests";

/// Which records a test app keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file in the app's temp data dir (the embedded shape).
    #[default]
    Sqlite,
    /// A fresh database of its own on the test run's shared PostgreSQL server, with the
    /// in-process hot state (one instance over PostgreSQL).
    Postgres,
    /// The cluster shape: a fresh PostgreSQL database and a standalone Redis of its own.
    Cluster,
    /// The cluster shape over a 3-master Redis Cluster of its own (2–3 s to start).
    RedisCluster,
}

/// The Redis behind a cluster-shaped test app.
#[derive(Debug)]
pub enum TestRedis {
    Standalone(redis::RedisServer),
    Cluster(redis::RedisCluster),
}

impl TestRedis {
    /// Kills (SIGKILL) a standalone Redis; panics for a cluster.
    pub fn kill_standalone(&mut self) {
        match self {
            TestRedis::Standalone(r) => r.kill().unwrap_or_else(|e| panic!("kill redis: {e}")),
            TestRedis::Cluster(_) => panic!("kill_standalone on a Redis Cluster"),
        }
    }

    /// Starts a killed standalone Redis again on its port; panics for a cluster.
    pub fn restart_standalone(&mut self) {
        match self {
            TestRedis::Standalone(r) => r.restart().unwrap_or_else(|e| panic!("restart redis: {e}")),
            TestRedis::Cluster(_) => panic!("restart_standalone on a Redis Cluster"),
        }
    }

    /// The `SECKILL_REDIS_URL` of it.
    pub fn url(&self) -> String {
        match self {
            TestRedis::Standalone(r) => r.url(),
            TestRedis::Cluster(c) => c.url(),
        }
    }
}

/// How to start a test app.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The records: SQLite (default) or PostgreSQL.
    pub database: Database,
    /// IANA zone of the time slots.
    pub timezone: &'static str,
    /// Where the injected clock starts.
    pub start: Timestamp,
    /// Per-user and per-IP limits (and login throttling).
    pub rate_limits: bool,
    /// How long sessions last. Thirty days by default (the longest setting), so tests can move
    /// the clock across days without signing in again; tests of expiry set their own.
    pub session_ttl: std::time::Duration,
    /// Any other setting, applied last (e.g. `|s| s.order_queue_capacity = 1`). Kept across
    /// [`TestApp::restart`].
    pub configure: fn(&mut Settings),
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            database: Database::Sqlite,
            timezone: "Asia/Shanghai",
            // 2026-11-10 08:00 in Shanghai: the day before Singles' Day.
            start: Timestamp::from_second(1_794_268_800).unwrap_or(Timestamp::UNIX_EPOCH),
            rate_limits: false,
            session_ttl: std::time::Duration::from_secs(30 * 86_400),
            configure: |_| {},
        }
    }
}

impl AppOptions {
    /// The defaults, over `database` — for behaviour tests that run on both records
    /// (`#[case::sqlite(Database::Sqlite)] #[case::postgres(Database::Postgres)]`).
    pub fn on(database: Database) -> Self {
        AppOptions { database, ..AppOptions::default() }
    }
}

/// A running server and an HTTP client for it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: reqwest::Client,
    /// The server's "now"; move it instead of sleeping.
    pub clock: ManualClock,
    pub settings: Settings,
    server: Option<Server>,
    admin_token: OnceCell<String>,
    dir: Arc<tempfile::TempDir>,
    /// The PostgreSQL database of a [`Database::Postgres`] app, dropped after the server.
    database: Option<Arc<postgres::TestDatabase>>,
    /// The Redis of a cluster-shaped app, stopped after the server.
    redis: Option<Arc<std::sync::Mutex<TestRedis>>>,
}

/// An HTTP answer, body parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error answer, or "" if there is none.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// A header as text, or "" if absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// `body[key]` as i64 (panics with the body if absent: tests want to see why).
    pub fn id(&self, key: &str) -> i64 {
        self.body[key].as_i64().unwrap_or_else(|| panic!("no integer {key:?} in {}: {}", self.status, self.text))
    }

    /// Every value of header `name` (e.g. each `Set-Cookie`).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
    }

    /// The `error.fields[field]` message of a `422`, or "" if there is none.
    pub fn field(&self, field: &str) -> &str {
        self.body["error"]["fields"][field].as_str().unwrap_or("")
    }

    /// Panics (showing the body) unless the status is `status`. Returns the reply for chaining.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "expected {status}, got {}: {}", self.status, self.text);
        self
    }

    /// Panics unless this is an API error answer: `status`, a JSON body
    /// `{"error": {"code": code, "message": "<not empty>"}}` and nothing else at the top level,
    /// `code` in UPPER_SNAKE.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text
        );
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error without a JSON content type: {:?}",
            self.headers
        );
        let upper_snake = code.split('_').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()));
        assert!(upper_snake, "error codes are UPPER_SNAKE: {code:?}");
        let message = self.body["error"]["message"].as_str().unwrap_or("");
        assert!(!message.trim().is_empty(), "error without a message: {}", self.text);
        let keys: Vec<&String> = self.body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["error"], "an error body holds `error` only: {}", self.text);
    }
}

/// An HTTP client that keeps cookies like a browser and never sends a bearer token: for the
/// HttpOnly session cookies the login endpoints set. Use it with [`TestApp::browse`].
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    /// The value of cookie `name` the browser would send to `app` now, if any.
    pub fn cookie(&self, app: &TestApp, name: &str) -> Option<String> {
        let url: reqwest::Url = app.url("/").parse().unwrap_or_else(|e| panic!("url: {e}"));
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().ok()?.to_owned();
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }
}

/// A registered, logged-in shopper.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// Starts a server with [`AppOptions::default`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// Starts a server on a fresh temp data dir.
pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")));
    let mut settings = Settings::embedded(dir.path());
    let database = match options.database {
        Database::Sqlite => None,
        Database::Postgres | Database::Cluster | Database::RedisCluster => {
            let db = postgres::fresh_database().await;
            settings.database = seckill::settings::DatabaseUrl::Postgres(db.url().to_owned());
            Some(Arc::new(db))
        }
    };
    let redis = match options.database {
        Database::Sqlite | Database::Postgres => None,
        Database::Cluster => {
            Some(TestRedis::Standalone(redis::RedisServer::start().unwrap_or_else(|e| panic!("redis: {e}"))))
        }
        Database::RedisCluster => Some(TestRedis::Cluster(
            tokio::task::spawn_blocking(redis::RedisCluster::start)
                .await
                .unwrap_or_else(|e| panic!("redis cluster: {e}"))
                .unwrap_or_else(|e| panic!("redis cluster: {e}")),
        )),
    };
    if let Some(r) = &redis {
        settings.redis_url = Some(r.url());
    }
    let redis = redis.map(|r| Arc::new(std::sync::Mutex::new(r)));
    settings.timezone = seckill_domain::TimeZone::get(options.timezone).unwrap_or_else(|e| panic!("zone: {e}"));
    settings.timezone_name = options.timezone.to_owned();
    settings.rate_limits = options.rate_limits;
    settings.session_ttl = options.session_ttl;
    settings.password_hashing = PasswordCost::FastInsecureForTests;
    (options.configure)(&mut settings);
    let clock = ManualClock::new(options.start);
    let server = Server::start(&settings, Arc::new(clock.clone())).await.unwrap_or_else(|e| panic!("start: {e:#}"));
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    TestApp { base, client, clock, settings, server: Some(server), admin_token: OnceCell::new(), dir, database, redis }
}

impl TestApp {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The data dir of this app.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The PostgreSQL URL of a [`Database::Postgres`] app (`None` for SQLite).
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_deref().map(postgres::TestDatabase::url)
    }

    /// The records the server writes to (for checking invariants against the truth).
    pub fn records(&self) -> &Records {
        self.server.as_ref().map(Server::records).unwrap_or_else(|| panic!("the server is stopped"))
    }

    /// Stops the server (gracefully) and starts it again on the same data dir and port-0
    /// settings; the base URL changes.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap_or_else(|e| panic!("stop: {e:#}"));
        }
        let server = Server::start(&self.settings, Arc::new(self.clock.clone()))
            .await
            .unwrap_or_else(|e| panic!("restart: {e:#}"));
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
    }

    /// Runs one preheat step now (load what entered the preheat horizon, republish the
    /// snapshot, unload what ended): call it after moving the clock instead of waiting.
    pub async fn preheat(&self) {
        let server = self.server.as_ref().unwrap_or_else(|| panic!("the server is stopped"));
        server.preheater().try_step().await.unwrap_or_else(|e| panic!("preheat step: {e}"));
    }

    /// Runs one timeout sweep now (cancel unpaid orders past their deadline, put their stock
    /// back on sale); answers how many were cancelled. Call it after moving the clock.
    pub async fn sweep(&self) -> usize {
        let server = self.server.as_ref().unwrap_or_else(|| panic!("the server is stopped"));
        server.sweeper().try_step().await.unwrap_or_else(|e| panic!("sweep: {e}"))
    }

    /// The hot state (in process or in Redis), for checking invariants against the records.
    pub fn hot_state(&self) -> &dyn seckill_store::rush::StockGate {
        self.server.as_ref().map(Server::hot_state).unwrap_or_else(|| panic!("the server is stopped"))
    }

    /// Units of a SKU taken in the hot state (`None` if the activity is not loaded).
    pub async fn taken(&self, activity: ActivityId, sku: SkuId) -> Option<u32> {
        self.hot_state().units_taken(activity, sku).await.unwrap_or_else(|e| panic!("hot state: {e}"))
    }

    /// Units a user holds in the hot state.
    pub async fn bought(&self, activity: ActivityId, user: UserId) -> u32 {
        self.hot_state().units_bought(activity, user).await.unwrap_or_else(|e| panic!("hot state: {e}"))
    }

    /// What a shopper ends up with after an order request: a `202` (the cluster shape, when
    /// the order did not commit within the wait) is followed as the checkout page follows it —
    /// polling `GET /api/tickets/{t}` until it settles (at most 20 s) — and answered as the
    /// `201` with the order, or the rejection, it settled into. Any other reply is returned as is.
    pub async fn settle(&self, reply: &Reply, token: &str) -> Reply {
        if reply.status != StatusCode::ACCEPTED {
            return reply.clone();
        }
        let ticket = reply.field("ticket").to_owned();
        for _ in 0..400 {
            let t = self.get(&format!("/api/tickets/{ticket}"), Some(token)).await;
            t.expect(200);
            match t.field("status") {
                "queued" => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                "created" => {
                    let order = self.get(&format!("/api/me/orders/{}", t.body["order_id"]), Some(token)).await;
                    order.expect(200);
                    let body = serde_json::json!({ "order": order.body, "ticket": ticket });
                    return Reply { status: StatusCode::CREATED, headers: t.headers, text: body.to_string(), body };
                }
                "rejected" => {
                    let code = t.body["error"]["code"].as_str().unwrap_or_default();
                    let status = match code {
                        "UNKNOWN_ADDRESS" => StatusCode::NOT_FOUND,
                        "OVERLOADED" => StatusCode::SERVICE_UNAVAILABLE,
                        _ => StatusCode::CONFLICT,
                    };
                    let body = serde_json::json!({ "error": t.body["error"] });
                    return Reply { status, headers: t.headers, text: body.to_string(), body };
                }
                other => panic!("ticket {ticket}: unexpected status {other:?}: {}", t.text),
            }
        }
        panic!("ticket {ticket} still queued after 20 s")
    }

    /// The Redis of a cluster-shaped app (to kill or restart it), `None` otherwise.
    pub fn redis(&self) -> Option<std::sync::MutexGuard<'_, TestRedis>> {
        self.redis.as_ref().map(|r| r.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap_or_else(|e| panic!("stop: {e:#}"));
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>, token: Option<&str>) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.reply(req).await
    }

    /// Sends `body` as is, with `Content-Type: content_type` when given (no JSON encoding): for
    /// malformed bodies, wrong content types and oversized payloads.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.reply(req).await
    }

    /// Writes `request` as raw bytes on a fresh connection and reads the answer until the server
    /// closes it (send `Connection: close`): for requests an HTTP client will not make, such as
    /// a chunked body with no length. Answers with a chunked body are not decoded.
    pub async fn raw_http(&self, request: &[u8]) -> Reply {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let addr = self.base.trim_start_matches("http://").to_owned();
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            let (mut read, mut write) = stream.into_split();
            // Read while writing: the server may answer (and close) before the body is sent.
            let reading = tokio::spawn(async move {
                let mut answer = Vec::new();
                let result = read.read_to_end(&mut answer).await;
                (answer, result)
            });
            let written = write.write_all(request).await;
            let (answer, read_result) = reading.await.map_err(std::io::Error::other)?;
            if answer.is_empty() {
                read_result?;
                written?;
            }
            Ok::<_, std::io::Error>(answer)
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("no answer from {addr} within 30 s"))
            .unwrap_or_else(|e| panic!("raw request to {addr} failed: {e}"));
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
        let mut headers = HeaderMap::new();
        for line in lines {
            if let Some((name, value)) = line.split_once(':')
                && let (Ok(name), Ok(value)) = (
                    reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
                    reqwest::header::HeaderValue::from_str(value.trim()),
                )
            {
                headers.append(name, value);
            }
        }
        let body = serde_json::from_str(text).unwrap_or(Value::Null);
        Reply { status, headers, text: text.to_owned(), body }
    }

    /// A fresh [`Browser`] with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Browser { client, jar }
    }

    /// Sends a request from `browser` (its cookies, no bearer token) with an optional JSON body.
    pub async fn browse(&self, browser: &Browser, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = browser.client.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.reply(req).await
    }

    /// Sends any request built on [`TestApp::client`].
    pub async fn reply(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, body }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, None, token).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send(Method::POST, path, Some(body), token).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send(Method::PUT, path, Some(body), token).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, None, token).await
    }

    /// An admin token for [`ADMIN_USER`], created through the same code as
    /// `seckill admin create` and logged in over HTTP once per app.
    pub async fn admin_token(&self) -> String {
        self.admin_token
            .get_or_init(|| async {
                let passwords = seckill_server::auth::Passwords::new(PasswordCost::FastInsecureForTests);
                seckill::cli::create_admin(self.records(), &passwords, ADMIN_USER, ADMIN_PASSWORD, true, self.now())
                    .await
                    .unwrap_or_else(|e| panic!("create admin: {e:#}"));
                let r = self
                    .post(
                        "/api/admin/sessions",
                        &serde_json::json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}),
                        None,
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "admin login: {}", r.text);
                r.body["token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.text)).to_owned()
            })
            .await
            .clone()
    }

    /// Registers `username` (password `"{username}-password"`) and logs in over HTTP.
    pub async fn shopper(&self, username: &str) -> Shopper {
        let password = format!("{username}-password");
        let r = self.post("/api/users", &serde_json::json!({"username": username, "password": password}), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "register {username}: {}", r.text);
        let id = r.id("id");
        let r =
            self.post("/api/sessions", &serde_json::json!({"username": username, "password": password}), None).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        let token = r.body["token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.text)).to_owned();
        Shopper { id, username: username.to_owned(), token }
    }

    /// The server's "now".
    pub fn now(&self) -> Timestamp {
        use seckill_domain::clock::Clock as _;
        self.clock.now()
    }

    /// The instant of wall-clock time `local` (`"2026-11-11T10:00"`, or with seconds) in the
    /// app's zone.
    pub fn local(&self, local: &str) -> Timestamp {
        let civil: jiff::civil::DateTime = local.parse().unwrap_or_else(|e| panic!("local time {local:?}: {e}"));
        civil
            .to_zoned(self.settings.timezone.clone())
            .unwrap_or_else(|e| panic!("local time {local:?}: {e}"))
            .timestamp()
    }

    /// Moves the server's clock to wall-clock time `local` in the app's zone (see
    /// [`TestApp::local`]).
    pub fn set_local_time(&self, local: &str) {
        self.clock.set(self.local(local));
    }
}
