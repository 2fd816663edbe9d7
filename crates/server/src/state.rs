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
use crate::sale::{RecordedStock, StockLevels};

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
            .finish()
    }
}

/// The state shared by every route. Cheap to clone (every part is shared).
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) records: Records,
    pub(crate) clock: SharedClock,
    pub(crate) tz: TimeZone,
    pub(crate) auth: Auth,
    pub(crate) stock: Arc<dyn StockLevels>,
}

impl AppState {
    /// The state of one server over `records`, asking `clock` for the time.
    pub fn new(records: Records, clock: SharedClock, config: ServerConfig) -> Self {
        let auth = Auth::new(&config, clock.clone());
        AppState { records, clock, tz: config.tz, auth, stock: Arc::new(RecordedStock) }
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

impl FromRef<AppState> for SharedClock {
    fn from_ref(state: &AppState) -> Self {
        state.clock.clone()
    }
}
