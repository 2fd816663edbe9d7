//! `seckill reconcile`: compares the hot state in Redis with the records in PostgreSQL, and
//! repairs drift on request.
//!
//! For every activity Redis holds, per SKU, the units left must equal
//! `stock − sold − (units of order messages still in the stream and not yet written)`, and per
//! user, the units bought must equal the units of their live orders plus their messages still
//! in the stream. Messages written but not yet acknowledged count once (their ticket is in the
//! records already). A repair sets each drifted figure to the expected one with a
//! compare-and-set script — only if Redis still shows the value that was compared — so a
//! reservation made meanwhile is never overwritten (that figure is reported as changed, not
//! repaired; run again when the sale is quiet).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use redis::{AsyncCommands as _, Script};
use seckill_domain::ids::{ActivityId, SkuId, UserId};
use seckill_store::orders::Orders;
use seckill_store::{ActivityQuery, Catalog, StoreError};

use super::conn::{RedisConn, unavailable};
use super::scripts::{Keys, STREAMS};
use super::wire::WireDraft;

/// What a drifted figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    /// Units left of a SKU (`{a:A}:left`).
    Left(SkuId),
    /// Units a user holds (`{a:A}:bought`).
    Bought(UserId),
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Left(s) => write!(f, "sku {s} units left"),
            Figure::Bought(u) => write!(f, "user {u} units bought"),
        }
    }
}

/// One figure where Redis and the records disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub activity: ActivityId,
    pub figure: Figure,
    /// What Redis holds.
    pub redis: i64,
    /// What the records (plus the stream's unwritten messages) say.
    pub expected: i64,
    /// Whether this run set it to `expected`.
    pub repaired: bool,
}

/// The outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Activities compared.
    pub activities: Vec<ActivityId>,
    /// Order messages still in the streams (queued or being written).
    pub in_flight: usize,
    pub drifts: Vec<Drift>,
}

impl Report {
    /// Whether drift remains after this run.
    pub fn drift_remains(&self) -> bool {
        self.drifts.iter().any(|d| !d.repaired)
    }
}

/// Sets `field` of `KEYS[1]` to `ARGV[3]` only if it still holds `ARGV[2]` (`""`: absent), and
/// moves the epoch in `KEYS[2]` (the activity's meta): a repair may give units back, and units
/// never come back within one epoch (sold-out leases and the instances' local views rely on it,
/// see `scripts`).
static SET_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if now ~= ARGV[2] then return 0 end
if tonumber(ARGV[3]) == 0 and KEYS[1]:sub(-7) == ':bought' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('HINCRBY', KEYS[2], 'epoch', 1)
return 1
"#,
    )
});

/// Compares every activity Redis holds (the streams' list, plus the activities not ended) with
/// the records; with `repair`, sets drifted figures to the expected values.
pub async fn reconcile(
    conn: &RedisConn,
    catalog: &dyn Catalog,
    orders: &dyn Orders,
    now: seckill_domain::Timestamp,
    repair: bool,
) -> Result<Report, StoreError> {
    let mut conn = conn.clone();
    let mut ids: Vec<i64> = conn.smembers(STREAMS).await.map_err(unavailable)?;
    for a in catalog.activities(&ActivityQuery { ends_after: Some(now), ..Default::default() }).await? {
        ids.push(a.id.get());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut report = Report::default();
    for id in ids.into_iter().map(ActivityId::from_raw) {
        let keys = Keys::of(id);
        let (exists, left, bought): (bool, HashMap<i64, i64>, HashMap<i64, i64>) = redis::pipe()
            .exists(&keys.meta)
            .hgetall(&keys.left)
            .hgetall(&keys.bought)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if !exists {
            continue;
        }
        let hot = match orders.hot_activity(id).await {
            Ok(hot) => hot,
            Err(StoreError::NotFound) => continue,
            Err(e) => return Err(e),
        };
        report.activities.push(id);
        let written: HashSet<_> = hot.holdings.iter().map(|h| h.ticket).collect();
        let entries: Vec<redis::streams::StreamId> = {
            let reply: redis::streams::StreamRangeReply = conn.xrange_all(&keys.orders).await.map_err(unavailable)?;
            reply.ids
        };
        report.in_flight += entries.len();
        let mut unwritten_sku: HashMap<i64, i64> = HashMap::new();
        let mut unwritten_user: HashMap<i64, i64> = HashMap::new();
        for e in entries {
            let Some(Ok(d)) = e.get::<String>("d").map(|m| WireDraft::decode(&m)) else { continue };
            if written.contains(&d.ticket) {
                continue;
            }
            *unwritten_sku.entry(d.sku_id.get()).or_default() += i64::from(d.quantity);
            *unwritten_user.entry(d.user_id.get()).or_default() += i64::from(d.quantity);
        }
        let mut expected: BTreeMap<Figure, (i64, Option<i64>)> = BTreeMap::new();
        for s in &hot.skus {
            let e = i64::from(s.stock) - i64::from(s.sold) - unwritten_sku.get(&s.sku_id.get()).copied().unwrap_or(0);
            expected.insert(Figure::Left(s.sku_id), (e, left.get(&s.sku_id.get()).copied()));
        }
        let mut per_user: HashMap<i64, i64> = unwritten_user;
        for h in &hot.holdings {
            *per_user.entry(h.user_id.get()).or_default() += i64::from(h.quantity);
        }
        for u in per_user.keys().chain(bought.keys()).copied().collect::<HashSet<_>>() {
            let e = per_user.get(&u).copied().unwrap_or(0);
            expected.insert(Figure::Bought(UserId::from_raw(u)), (e, bought.get(&u).copied()));
        }
        for (figure, (expected, found)) in expected {
            if found == Some(expected) || (found.is_none() && expected == 0 && matches!(figure, Figure::Bought(_))) {
                continue;
            }
            let mut drift = Drift { activity: id, figure, redis: found.unwrap_or(0), expected, repaired: false };
            if repair {
                let (key, field) = match figure {
                    Figure::Left(s) => (&keys.left, s.get()),
                    Figure::Bought(u) => (&keys.bought, u.get()),
                };
                let set: i64 = SET_IF
                    .key(key)
                    .key(&keys.meta)
                    .arg(field)
                    .arg(found.map(|v| v.to_string()).unwrap_or_default())
                    .arg(expected)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                drift.repaired = set == 1;
            }
            report.drifts.push(drift);
        }
    }
    Ok(report)
}
