//! The rush: the hot path from "the slot opens" to "the order is safely stored", and what it
//! keeps in memory.
//!
//! - [`snapshot`]: every live activity's rules and window bounds, read without I/O.
//! - [`limits`]: per-user and per-address budgets.
//! - [`preheat`]: the scheduler that loads the hot state before an activity's first window,
//!   republishes the snapshot at every transition and change, tags and untags SKUs, and
//!   reconciles at the end.
//! - [`handlers`]: reservations, purchase tokens, orders, tickets and the live status.
//!
//! The handlers of this module take [`Rush`] — the snapshot, the stock gate, the order queue,
//! the budgets and the purchase-token key — and nothing that reaches SQL on a rejection path.

pub mod handlers;
pub mod limits;
pub mod preheat;
pub mod snapshot;
pub mod stats;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use seckill_domain::activity::{Activity, ActivitySku};
use seckill_domain::clock::SharedClock;
use seckill_domain::token::TokenKey;
use seckill_store::rush::{Coordination, OrderQueue, StockGate};
use tokio::sync::Notify;

use crate::sale::StockLevels;
use limits::{Rate, RateLimits};
use snapshot::Snapshot;
use stats::SaleStats;

/// The hot state, the order hand-off and the coordination of the configured shape.
#[derive(Clone)]
pub struct RushPorts {
    pub gate: Arc<dyn StockGate>,
    pub queue: Arc<dyn OrderQueue>,
    /// [`Solo`](seckill_store::rush::Solo) for one instance.
    pub coordination: Arc<dyn Coordination>,
}

impl fmt::Debug for RushPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RushPorts").finish_non_exhaustive()
    }
}

/// How the rush behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RushConfig {
    /// How long before an activity's first window its hot state is loaded.
    pub preheat: Duration,
    /// How long a purchase token lives.
    pub purchase_token_ttl: Duration,
    /// Per-user budget of the rush endpoints.
    pub user_rate: Rate,
    /// Per-address budget of the rush endpoints.
    pub ip_rate: Rate,
}

impl Default for RushConfig {
    fn default() -> Self {
        RushConfig {
            preheat: Duration::from_secs(300),
            purchase_token_ttl: Duration::from_secs(60),
            user_rate: Rate { per_sec: std::num::NonZeroU32::new(10).unwrap_or(std::num::NonZeroU32::MIN) },
            ip_rate: Rate { per_sec: std::num::NonZeroU32::new(200).unwrap_or(std::num::NonZeroU32::MIN) },
        }
    }
}

/// Everything the hot path needs, in memory. Cheap to clone (shared).
#[derive(Clone)]
pub struct Rush {
    inner: Arc<RushInner>,
}

struct RushInner {
    snapshot: Snapshot,
    ports: RushPorts,
    limits: RateLimits,
    tokens: TokenKey,
    clock: SharedClock,
    tz: TimeZone,
    config: RushConfig,
    /// Wakes the preheater: something changed, or the hot path met an activity not loaded yet.
    wake: Notify,
    stats: SaleStats,
}

impl fmt::Debug for Rush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rush").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Rush {
    /// The rush over `ports`, its purchase tokens signed with `secret`.
    pub fn new(
        ports: RushPorts,
        secret: &[u8],
        clock: SharedClock,
        tz: TimeZone,
        rate_limits: bool,
        config: RushConfig,
    ) -> Self {
        Rush {
            inner: Arc::new(RushInner {
                snapshot: Snapshot::default(),
                limits: RateLimits::new(rate_limits, config.user_rate, config.ip_rate),
                ports,
                tokens: TokenKey::new(secret),
                clock,
                tz,
                config,
                wake: Notify::new(),
                stats: SaleStats::default(),
            }),
        }
    }

    /// The published activities.
    pub fn snapshot(&self) -> &Snapshot {
        &self.inner.snapshot
    }

    /// The hot state.
    pub fn gate(&self) -> &dyn StockGate {
        &*self.inner.ports.gate
    }

    /// The order hand-off.
    pub fn queue(&self) -> &dyn OrderQueue {
        &*self.inner.ports.queue
    }

    /// How this instance works with the others.
    pub fn coordination(&self) -> &dyn Coordination {
        &*self.inner.ports.coordination
    }

    /// The hot state, shared.
    pub fn gate_handle(&self) -> Arc<dyn StockGate> {
        self.inner.ports.gate.clone()
    }

    pub(crate) fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    pub(crate) fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The shop's zone.
    pub fn tz(&self) -> &TimeZone {
        &self.inner.tz
    }

    /// How the rush is configured.
    pub fn config(&self) -> &RushConfig {
        &self.inner.config
    }

    /// The live figures of the sale on this instance.
    pub fn stats(&self) -> &SaleStats {
        &self.inner.stats
    }

    /// Asks the preheater to run now.
    pub fn wake_preheater(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.inner.wake.notified().await;
    }
}

/// Units left as the hot state knows them, falling back to the records' `stock − sold` for
/// activities that are not loaded (nothing sells then).
impl StockLevels for Rush {
    fn remaining(&self, activity: &Activity, sku: &ActivitySku) -> u32 {
        self.gate().remaining(activity.id, sku.sku_id).unwrap_or_else(|| sku.remaining())
    }
}
