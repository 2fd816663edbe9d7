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

use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use seckill::Server;
use seckill::settings::Settings;
use seckill_domain::Timestamp;
use seckill_domain::clock::ManualClock;
use seckill_server::PasswordCost;
use seckill_store::Records;
use serde_json::Value;
use tokio::sync::OnceCell;

/// The operator every test app can log in as.
pub const ADMIN_USER: &str = "root";
/// Its password.
pub const ADMIN_PASSWORD: &str = "root-password-for-tests";

/// How to start a test app.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// IANA zone of the time slots.
    pub timezone: &'static str,
    /// Where the injected clock starts.
    pub start: Timestamp,
    /// Per-user and per-IP limits (and login throttling).
    pub rate_limits: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            timezone: "Asia/Shanghai",
            // 2026-11-10 08:00 in Shanghai: the day before Singles' Day.
            start: Timestamp::from_second(1_794_268_800).unwrap_or(Timestamp::UNIX_EPOCH),
            rate_limits: false,
        }
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
    settings.timezone = seckill_domain::TimeZone::get(options.timezone).unwrap_or_else(|e| panic!("zone: {e}"));
    settings.timezone_name = options.timezone.to_owned();
    settings.rate_limits = options.rate_limits;
    settings.password_hashing = PasswordCost::FastInsecureForTests;
    let clock = ManualClock::new(options.start);
    let server = Server::start(&settings, Arc::new(clock.clone())).await.unwrap_or_else(|e| panic!("start: {e:#}"));
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    TestApp { base, client, clock, settings, server: Some(server), admin_token: OnceCell::new(), dir }
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
                seckill::cli::create_admin(
                    self.records(),
                    &passwords,
                    ADMIN_USER,
                    ADMIN_PASSWORD,
                    true,
                    self.clock_now(),
                )
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

    fn clock_now(&self) -> Timestamp {
        use seckill_domain::clock::Clock as _;
        self.clock.now()
    }
}
