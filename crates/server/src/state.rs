//! What every handler can reach: the records, the clock, the zone, auth and the stock view.
//!
//! Handlers and extractors take only the part they need through axum's `FromRef` substates
//! (`State<Auth>`, `State<Records>`), so a handler's signature says what it touches.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use jiff::tz::TimeZone;
use seckill_domain::clock::SharedClock;
use seckill_store::Records;

use crate::auth::{Auth, PasswordCost};
use crate::pages::detail::PageRenderer;
use crate::payments::{PaymentGateway, SandboxGateway};
use crate::rush::preheat::Preheater;
use crate::rush::{Rush, RushConfig, RushPorts};
use crate::sale::StockLevels;
use crate::workers::{ReturnRelay, TimeoutSweeper};

/// How the server behaves; built once by the binary from its settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// The shop's zone: time slots are wall-clock times in it.
    pub tz: TimeZone,
    /// Key material for tokens (at least 32 bytes; the binary checks). Never printed.
    pub secret: Vec<u8>,
    /// How long shopper and admin sessions last.
    pub session_ttl: Duration,
    /// Argon2 parameters for passwords.
    pub password_cost: PasswordCost,
    /// Add `Secure` to cookies (when served over https).
    pub secure_cookies: bool,
    /// Per-user and per-IP limits, login throttling included (`SECKILL_RATE_LIMITS`).
    pub rate_limits: bool,
    /// Preheat horizon, purchase-token lifetime, the rush's budgets.
    pub rush: RushConfig,
    /// How browsers (and the sandbox payment provider) reach this server, e.g.
    /// `http://127.0.0.1:8080`: pay pages and payment callbacks are addressed with it.
    pub base_url: String,
    /// Where the static detail pages are written (`<data_dir>/pages`); `None`: rendered on
    /// every request into a temp dir is not worth it — pages are then not served.
    pub pages_dir: Option<std::path::PathBuf>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("tz", &self.tz.iana_name().unwrap_or("(fixed offset)"))
            .field("secret", &"[redacted]")
            .field("session_ttl", &self.session_ttl)
            .field("password_cost", &self.password_cost)
            .field("secure_cookies", &self.secure_cookies)
            .field("rate_limits", &self.rate_limits)
            .field("rush", &self.rush)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The state shared by every route: one `Arc`, so the clone axum makes for every request is a
/// single reference-count increment (a struct of a dozen `Arc`s cost a dozen, on cache lines
/// every core fights over).
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct AppParts {
    pub(crate) records: Records,
    pub(crate) clock: SharedClock,
    pub(crate) tz: TimeZone,
    pub(crate) auth: Auth,
    pub(crate) stock: Arc<dyn StockLevels>,
    pub(crate) rush: Rush,
    pub(crate) preheater: Arc<Preheater>,
    /// The payment provider orders are paid through.
    pub(crate) gateway: Arc<dyn PaymentGateway>,
    /// The shipped sandbox provider, whose pay page this server also serves.
    pub(crate) sandbox: Option<SandboxGateway>,
    pub(crate) relay: Arc<ReturnRelay>,
    pub(crate) sweeper: Arc<TimeoutSweeper>,
    /// The static detail pages.
    pub(crate) pages: Option<Arc<PageRenderer>>,
}

impl AppState {
    /// The state of one server over `records`, selling through `ports` (the hot state and the
    /// order hand-off of the configured shape), asking `clock` for the time.
    pub fn new(records: Records, ports: RushPorts, clock: SharedClock, config: ServerConfig) -> Self {
        let auth = Auth::new(&config, clock.clone());
        let rush = Rush::new(ports, &config.secret, clock.clone(), config.tz.clone(), config.rate_limits, config.rush);
        let pages = config.pages_dir.as_ref().map(|dir| Arc::new(PageRenderer::new(dir, config.tz.clone())));
        let preheater = Arc::new(Preheater::new(rush.clone(), records.clone(), pages.clone()));
        let sandbox = SandboxGateway::new(&config.base_url, &config.secret);
        let relay = Arc::new(ReturnRelay::new(records.clone(), rush.clone()));
        let sweeper = Arc::new(TimeoutSweeper::new(records.clone(), rush.clone(), relay.clone()));
        AppState(Arc::new(AppParts {
            records,
            clock,
            tz: config.tz,
            auth,
            stock: Arc::new(rush.clone()),
            rush,
            preheater,
            gateway: Arc::new(sandbox.clone()),
            sandbox: Some(sandbox),
            relay,
            sweeper,
            pages,
        }))
    }

    /// The worker that cancels unpaid orders at their deadline (and applies returned stock):
    /// keep it running (`run_until_stopped`).
    pub fn sweeper(&self) -> Arc<TimeoutSweeper> {
        self.sweeper.clone()
    }

    /// After a product, brand or category changed: every detail page is rendered again, now.
    pub(crate) async fn refresh_pages(&self) {
        self.preheater.forget_pages().await;
        self.refresh_sale().await;
    }

    /// Puts cancelled orders' units back on sale now. A failure is logged; the sweeper's loop
    /// retries within a second.
    pub(crate) async fn return_stock(&self) {
        if let Err(e) = self.relay.try_step().await {
            tracing::warn!(error = %e, "returning stock to the hot state failed; the sweeper retries");
        }
    }

    /// The scheduler of activities' lifecycles: run a step before serving, then keep it
    /// running (`run_until_stopped`).
    pub fn preheater(&self) -> Arc<Preheater> {
        self.preheater.clone()
    }

    /// Brings the hot path's view up to date after an operator's change, so the change holds
    /// when the answer leaves. A failed step is logged; the running preheater retries within
    /// a second.
    pub(crate) async fn refresh_sale(&self) {
        if let Err(e) = self.preheater.try_step().await {
            tracing::warn!(error = %e, "refreshing the sale after a change failed; the preheater retries");
        }
        // The other instances reload now, not at their next periodic step.
        self.rush.coordination().announce_change().await;
    }

    /// Now, from the injected clock.
    pub(crate) fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Records {
    fn from_ref(state: &AppState) -> Self {
        state.records.clone()
    }
}

impl FromRef<AppState> for Rush {
    fn from_ref(state: &AppState) -> Self {
        state.rush.clone()
    }
}

impl FromRef<AppState> for crate::api::health::ShopZone {
    fn from_ref(state: &AppState) -> Self {
        crate::api::health::ShopZone(state.tz.clone())
    }
}

impl FromRef<AppState> for SharedClock {
    fn from_ref(state: &AppState) -> Self {
        state.clock.clone()
    }
}
