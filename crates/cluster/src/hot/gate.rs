//! [`RedisStockGate`]: the hot state of the cluster shape, in Redis, shared by every instance.
//!
//! Redis holds the truth of the rush (units left, what each user holds, idempotency keys, the
//! order stream); each instance keeps a small local view for the answers that must not cost a
//! round trip: units left per SKU (the sold-out short-circuit and the live status), the records
//! version loaded, and the reserved users. The view follows Redis by the answers of this
//! instance's own scripts, by events other instances publish (stock given back, a new
//! reservation), and by a refresh every [`REFRESH_EVERY`] that also notices when Redis lost an
//! activity (it is then loaded again from the records by the next preheat step).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use dashmap::DashSet;
use redis::AsyncCommands as _;
use seckill_domain::ids::{ActivityId, SkuId, Ticket, UserId};
use seckill_domain::rejection::Rejection;
use seckill_store::StoreError;
use seckill_store::rush::{Hold, HotActivity, OrderDraft, ReturnReason, StockGate, StockReturn};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::{RedisConn, unavailable};
use super::scripts::{ACK, EVENTS, Keys, LOAD, RELEASE, RESERVE, STREAMS, VIEW};
use super::wire::{WireDraft, load_argument};

/// How often the local view is compared with Redis.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);
/// How often an instance acknowledges the epoch and renews its sold-out lease.
pub const ACK_EVERY: Duration = Duration::from_millis(100);
/// How many times a win held back for acknowledgements is tried again (every half
/// [`ACK_EVERY`]) before the request is answered `503 OVERLOADED` + `Retry-After`.
const HELD_BACK_RETRIES: u32 = 4;
/// The lease an acknowledgement gives, in Redis time.
const LEASE: Duration = Duration::from_millis(1000);
/// How much earlier than its lease an instance stops answering from its sold-out view (for the
/// time the acknowledgement took and clocks ticking slightly apart).
const LEASE_MARGIN: Duration = Duration::from_millis(200);

/// Everything is sold out, as of an acknowledged epoch: the keys that had won by then, and
/// until when this instance may answer from it (see the module docs of `scripts`).
#[derive(Debug)]
struct SoldOutView {
    epoch: String,
    /// Every key that won (live or cancelled order), by user — looked up without building a
    /// string per request; shared by the views of one epoch.
    won: Arc<HashMap<i64, Vec<String>>>,
    valid_until: std::time::Instant,
}
/// The ack script's `user:key` entries by user; `None` if one does not read as that.
fn won_by_user(entries: Vec<String>) -> Option<HashMap<i64, Vec<String>>> {
    let mut won: HashMap<i64, Vec<String>> = HashMap::new();
    for entry in entries {
        let (user, key) = entry.split_once(':')?;
        won.entry(user.parse().ok()?).or_default().push(key.to_owned());
    }
    Some(won)
}

/// How long the keys of an ended activity stay in Redis (late returns find nothing to do and
/// `seckill reconcile` can still look at them).
const KEEP_ENDED_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug)]
struct LocalSku {
    sku_id: SkuId,
    /// Units left as last seen (may be below 0 after an operator lowered the stock). Read
    /// without a lock; written only through [`LocalSku::observe`].
    left: AtomicI64,
    /// The epoch `left` was read in; taken to apply a value, so two values never cross.
    epoch: Mutex<i64>,
}

impl LocalSku {
    fn new(sku_id: SkuId, epoch: i64, left: i64) -> Self {
        LocalSku { sku_id, left: AtomicI64::new(left), epoch: Mutex::new(epoch) }
    }

    /// Takes `left`, read in `epoch`, if it is newer than what this view holds: a later epoch,
    /// or the same epoch and fewer units (within an epoch units only go down — see "A local
    /// view that never goes back" in `scripts`). Values arrive out of order from replies,
    /// acknowledgements, refreshes and events; an older one is dropped.
    fn observe(&self, epoch: i64, left: i64) {
        let mut seen = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        if epoch > *seen || (epoch == *seen && left < self.left.load(Ordering::Acquire)) {
            *seen = epoch;
            self.left.store(left, Ordering::Release);
        }
    }
}

#[derive(Debug)]
struct LocalAct {
    keys: Keys,
    version: AtomicI64,
    skus: ArcSwap<Vec<Arc<LocalSku>>>,
    reserved: DashSet<UserId>,
    /// Set while everything is sold out and this instance's lease runs.
    sold_out: arc_swap::ArcSwapOption<SoldOutView>,
}

impl LocalAct {
    fn sku(&self, id: SkuId) -> Option<Arc<LocalSku>> {
        self.skus.load().iter().find(|s| s.sku_id == id).cloned()
    }

    fn observe(&self, id: SkuId, epoch: i64, left: i64) {
        if let Some(s) = self.sku(id) {
            s.observe(epoch, left);
        }
    }
}

/// What [`VIEW`] read of one activity.
struct RedisView {
    epoch: i64,
    left: HashMap<i64, i64>,
    reserved: usize,
}

/// The hot state in Redis (standalone or Cluster), with this instance's local view of it.
#[derive(Debug)]
pub struct RedisStockGate {
    conn: RedisConn,
    /// Read on every request without a lock; replaced whole on load and unload (rare).
    activities: ArcSwap<HashMap<ActivityId, Arc<LocalAct>>>,
    /// Serialises loads and unloads (off the hot path).
    changes: tokio::sync::Mutex<()>,
    /// The loaded activities, for the stream consumers.
    loaded: watch::Sender<BTreeSet<ActivityId>>,
    /// This instance's name in the acknowledgements.
    instance: String,
}

/// A reply of the reserve script: its code, the second element as a number (units left) or as
/// text (a replayed ticket), and the epoch the units left were read in.
struct ReserveReply {
    code: i64,
    number: Option<i64>,
    text: Option<String>,
    epoch: Option<i64>,
}

/// What a reply of the reserve script means.
fn parse_reserve(reply: &[redis::Value]) -> Result<ReserveReply, StoreError> {
    let code: i64 = reply
        .first()
        .and_then(|v| redis::from_redis_value_ref::<i64>(v).ok())
        .ok_or_else(|| StoreError::Unavailable("redis: unexpected reply of the reserve script".into()))?;
    let second = reply.get(1);
    let number = second.and_then(|v| redis::from_redis_value_ref::<i64>(v).ok());
    let text = second.and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
    let epoch = reply.get(2).and_then(|v| redis::from_redis_value_ref::<i64>(v).ok());
    Ok(ReserveReply { code, number, text, epoch })
}

impl RedisStockGate {
    /// A gate over `conn`; activities arrive by [`StockGate::load`].
    pub fn new(conn: RedisConn) -> Self {
        RedisStockGate {
            conn,
            activities: ArcSwap::default(),
            changes: tokio::sync::Mutex::new(()),
            loaded: watch::Sender::new(BTreeSet::new()),
            instance: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// Acknowledges the epoch of every loaded activity and renews the sold-out views (see the
    /// module docs of `scripts`).
    pub async fn acknowledge(&self) -> Result<(), StoreError> {
        let acts: Vec<(ActivityId, Arc<LocalAct>)> =
            self.activities.load().iter().map(|(id, a)| (*id, a.clone())).collect();
        for (id, act) in acts {
            let started = std::time::Instant::now();
            let held = act.sold_out.load();
            let have = held.as_ref().map(|v| v.epoch.clone()).unwrap_or_default();
            let mut conn = self.conn.clone();
            let reply: redis::Value = ACK
                .key(&act.keys.meta)
                .key(&act.keys.left)
                .key(&act.keys.idem)
                .key(&act.keys.acks)
                .arg(&self.instance)
                .arg(u64::try_from(LEASE.as_millis()).unwrap_or(1000))
                .arg(&have)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let redis::Value::Array(parts) = reply else {
                return Err(StoreError::Unavailable("redis: unexpected reply of the ack script".into()));
            };
            let text = |v: Option<&redis::Value>| v.and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
            let Some(epoch) = text(parts.first()).filter(|e| e != "-1") else {
                act.sold_out.store(None);
                self.forget_locally(id);
                continue;
            };
            let left: Vec<(i64, i64)> =
                parts.get(1).and_then(|v| redis::from_redis_value_ref::<Vec<(i64, i64)>>(v).ok()).unwrap_or_default();
            if let Ok(number) = epoch.parse::<i64>() {
                for (sku, n) in &left {
                    act.observe(SkuId::from_raw(*sku), number, *n);
                }
            }
            let out = parts.get(2).and_then(|v| redis::from_redis_value_ref::<i64>(v).ok()) == Some(1);
            if !out {
                act.sold_out.store(None);
                continue;
            }
            let won = match held.as_ref() {
                Some(v) if v.epoch == epoch => v.won.clone(),
                _ => {
                    let entries = parts
                        .get(3)
                        .and_then(|v| redis::from_redis_value_ref::<Vec<String>>(v).ok())
                        .unwrap_or_default();
                    let Some(won) = won_by_user(entries) else {
                        // Not readable: no view — every keyed request asks the script.
                        tracing::warn!(activity_id = %id, "unreadable list of winning keys from redis");
                        act.sold_out.store(None);
                        continue;
                    };
                    Arc::new(won)
                }
            };
            let valid_until = started + LEASE.saturating_sub(LEASE_MARGIN);
            act.sold_out.store(Some(Arc::new(SoldOutView { epoch, won, valid_until })));
        }
        Ok(())
    }

    /// One call of the reserve script for `draft`.
    async fn run_reserve(
        &self,
        act: &LocalAct,
        draft: &OrderDraft,
        total_limit: u32,
    ) -> Result<Vec<redis::Value>, StoreError> {
        let mut conn = self.conn.clone();
        RESERVE
            .key(&act.keys.meta)
            .key(&act.keys.left)
            .key(&act.keys.bought)
            .key(&act.keys.held)
            .key(&act.keys.idem)
            .key(&act.keys.orders)
            .key(&act.keys.acks)
            .arg(draft.sku_id.get())
            .arg(draft.user_id.get())
            .arg(draft.quantity)
            .arg(total_limit)
            .arg(draft.idempotency_key.as_deref().unwrap_or(""))
            .arg(draft.ticket.to_string())
            .arg(WireDraft::encode(draft))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    /// Acknowledges every [`ACK_EVERY`] until `stop`.
    pub async fn acknowledge_until_stopped(&self, stop: CancellationToken) {
        loop {
            if let Err(e) = self.acknowledge().await {
                tracing::debug!(error = %e, "acknowledging the epoch failed; answering sold-out keys from redis");
            }
            tokio::select! {
                () = tokio::time::sleep(ACK_EVERY) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    fn act(&self, id: ActivityId) -> Option<Arc<LocalAct>> {
        self.activities.load().get(&id).cloned()
    }

    /// The loaded activities, as they change (the stream consumers follow it).
    pub fn watch_loaded(&self) -> watch::Receiver<BTreeSet<ActivityId>> {
        self.loaded.subscribe()
    }

    fn publish_loaded(&self) {
        let ids: BTreeSet<ActivityId> = self.activities.load().keys().copied().collect();
        self.loaded.send_if_modified(|old| {
            let changed = *old != ids;
            *old = ids;
            changed
        });
    }

    fn forget_locally(&self, activity: ActivityId) {
        let mut map = HashMap::clone(&self.activities.load());
        if map.remove(&activity).is_some() {
            self.activities.store(Arc::new(map));
            self.publish_loaded();
        }
    }

    /// Reads an activity's live figures from Redis into a fresh local view; `None` if Redis
    /// does not have it.
    async fn read(&self, activity: ActivityId, version: i64) -> Result<Option<LocalAct>, StoreError> {
        let keys = Keys::of(activity);
        let Some(view) = self.view(&keys).await? else {
            return Ok(None);
        };
        let mut conn = self.conn.clone();
        let reserved: Vec<i64> = conn.smembers(&keys.reserved).await.map_err(unavailable)?;
        let mut skus: Vec<Arc<LocalSku>> = view
            .left
            .into_iter()
            .map(|(sku, left)| Arc::new(LocalSku::new(SkuId::from_raw(sku), view.epoch, left)))
            .collect();
        skus.sort_by_key(|s| s.sku_id);
        Ok(Some(LocalAct {
            keys,
            version: AtomicI64::new(version),
            skus: ArcSwap::from_pointee(skus),
            reserved: reserved.into_iter().map(UserId::from_raw).collect(),
            sold_out: arc_swap::ArcSwapOption::empty(),
        }))
    }

    /// An activity's epoch, units left and number of reservations, read atomically ([`VIEW`]);
    /// `None` if Redis does not hold the activity.
    async fn view(&self, keys: &Keys) -> Result<Option<RedisView>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: redis::Value = VIEW
            .key(&keys.meta)
            .key(&keys.left)
            .key(&keys.reserved)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let redis::Value::Array(parts) = reply else {
            return Err(StoreError::Unavailable("redis: unexpected reply of the view script".into()));
        };
        if parts.len() == 1 {
            return Ok(None);
        }
        let bad = || StoreError::Unavailable("redis: unreadable reply of the view script".into());
        let epoch = parts.first().and_then(|v| redis::from_redis_value_ref::<String>(v).ok()).ok_or_else(bad)?;
        let epoch = epoch.parse::<i64>().map_err(|_| bad())?;
        let left =
            parts.get(1).and_then(|v| redis::from_redis_value_ref::<HashMap<i64, i64>>(v).ok()).ok_or_else(bad)?;
        let reserved = parts.get(2).and_then(|v| redis::from_redis_value_ref::<usize>(v).ok()).ok_or_else(bad)?;
        Ok(Some(RedisView { epoch, left, reserved }))
    }

    /// Brings the local view of every loaded activity in step with Redis (see the module docs).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let acts: Vec<(ActivityId, Arc<LocalAct>)> =
            self.activities.load().iter().map(|(id, a)| (*id, a.clone())).collect();
        for (id, act) in acts {
            let Some(view) = self.view(&act.keys).await? else {
                tracing::warn!(activity_id = %id, "the hot state of a loaded activity is gone from redis; loading it again");
                self.forget_locally(id);
                continue;
            };
            for (sku, n) in view.left {
                act.observe(SkuId::from_raw(sku), view.epoch, n);
            }
            if view.reserved != act.reserved.len() {
                let mut conn = self.conn.clone();
                let users: Vec<i64> = conn.smembers(&act.keys.reserved).await.map_err(unavailable)?;
                for u in users {
                    act.reserved.insert(UserId::from_raw(u));
                }
            }
        }
        Ok(())
    }

    /// Refreshes every [`REFRESH_EVERY`] until `stop`.
    pub async fn refresh_until_stopped(&self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(REFRESH_EVERY) => {}
                () = stop.cancelled() => return,
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "refreshing the local view of the hot state failed; retrying");
            }
        }
    }

    /// Applies an event another instance published (`left A S N E`: SKU S of activity A has N
    /// units left as of epoch E; `reserved A U`); anything else is ignored — also `left A S N`
    /// without an epoch, from an instance of an earlier release, which the next refresh covers.
    pub fn apply_event(&self, event: &str) {
        let mut parts = event.split(' ');
        let num = |p: Option<&str>| p.and_then(|s| s.parse::<i64>().ok());
        match parts.next() {
            Some("left") => {
                if let (Some(a), Some(s), Some(n), Some(e)) =
                    (num(parts.next()), num(parts.next()), num(parts.next()), num(parts.next()))
                    && let Some(act) = self.act(ActivityId::from_raw(a))
                {
                    act.observe(SkuId::from_raw(s), e, n);
                }
            }
            Some("reserved") => {
                if let (Some(a), Some(u)) = (num(parts.next()), num(parts.next()))
                    && let Some(act) = self.act(ActivityId::from_raw(a))
                {
                    act.reserved.insert(UserId::from_raw(u));
                }
            }
            _ => {}
        }
    }

    async fn publish(&self, event: String) {
        let mut conn = self.conn.clone();
        if let Err(e) = conn.publish::<_, _, i64>(EVENTS, event).await {
            // The other instances' refresh catches up within REFRESH_EVERY.
            tracing::debug!(error = %e, "could not publish a hot-state event");
        }
    }

    /// Units of a SKU in orders and orders being written (`stock − left`), from Redis.
    async fn taken_in_redis(&self, activity: ActivityId, sku: SkuId) -> Result<Option<u32>, StoreError> {
        let keys = Keys::of(activity);
        let mut conn = self.conn.clone();
        let (total, left): (Option<i64>, Option<i64>) = redis::pipe()
            .hget(&keys.meta, format!("total:{}", sku.get()))
            .hget(&keys.left, sku.get())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match (total, left) {
            (Some(t), Some(l)) => Some(u32::try_from(t - l).unwrap_or(0)),
            _ => None,
        })
    }
}

#[async_trait]
impl StockGate for RedisStockGate {
    async fn load(&self, hot: &HotActivity) -> Result<(), StoreError> {
        let _serial = self.changes.lock().await;
        let keys = Keys::of(hot.activity_id);
        let mut conn = self.conn.clone();
        let outcome: i64 = LOAD
            .key(&keys.meta)
            .key(&keys.left)
            .key(&keys.bought)
            .key(&keys.held)
            .key(&keys.idem)
            .key(&keys.reserved)
            .key(&keys.orders)
            .arg(load_argument(hot))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // The keys live while the activity does (unload sets a TTL), and its stream is consumed.
        let _: i64 = conn.sadd(STREAMS, hot.activity_id.get()).await.map_err(unavailable)?;
        let _: () = redis::pipe()
            .persist(&keys.meta)
            .ignore()
            .persist(&keys.left)
            .ignore()
            .persist(&keys.bought)
            .ignore()
            .persist(&keys.held)
            .ignore()
            .persist(&keys.idem)
            .ignore()
            .persist(&keys.reserved)
            .ignore()
            .persist(&keys.orders)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(fresh) = self.read(hot.activity_id, hot.version).await? else {
            return Err(StoreError::Unavailable(format!(
                "activity {} vanished from redis while loading",
                hot.activity_id
            )));
        };
        tracing::debug!(activity_id = %hot.activity_id, outcome, "redis hot state loaded");
        let mut map = HashMap::clone(&self.activities.load());
        map.insert(hot.activity_id, Arc::new(fresh));
        self.activities.store(Arc::new(map));
        self.publish_loaded();
        Ok(())
    }

    async fn unload(&self, activity: ActivityId) -> Result<(), StoreError> {
        let _serial = self.changes.lock().await;
        let keys = Keys::of(activity);
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for k in keys.all() {
            pipe.expire(k, KEEP_ENDED_SECS).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        self.forget_locally(activity);
        Ok(())
    }

    fn loaded_version(&self, activity: ActivityId) -> Option<i64> {
        self.act(activity).map(|a| a.version.load(Ordering::Acquire))
    }

    async fn reserve(&self, draft: &OrderDraft, total_limit: u32) -> Result<Result<Hold, Rejection>, StoreError> {
        let Some(act) = self.act(draft.activity_id) else {
            return Err(StoreError::Unavailable(format!("activity {} is not loaded", draft.activity_id)));
        };
        let Some(sku) = act.sku(draft.sku_id) else {
            return Ok(Err(Rejection::UnknownSku));
        };
        // The sold-out short-circuit: no round trip. Not for a keyed request, which may be the
        // retry of a request that won — only the script can tell.
        if draft.idempotency_key.is_none() && sku.left.load(Ordering::Acquire) < i64::from(draft.quantity) {
            return Ok(Err(Rejection::SoldOut));
        }
        // A win held back (code 5) waits for the acknowledgements a few times before giving up.
        let mut held_back = 0;
        let reply = loop {
            let reply = self.run_reserve(&act, draft, total_limit).await?;
            if parse_reserve(&reply)?.code != 5 || held_back == HELD_BACK_RETRIES {
                break reply;
            }
            held_back += 1;
            tokio::time::sleep(ACK_EVERY / 2).await;
        };
        let ReserveReply { code, number, text, epoch } = parse_reserve(&reply)?;
        if let (Some(left), Some(epoch)) = (number, epoch)
            && code != 2
        {
            sku.observe(epoch, left);
        }
        Ok(match code {
            1 => Ok(Hold::New(draft.ticket)),
            2 => {
                let ticket = text
                    .and_then(|t| t.parse::<Ticket>().ok())
                    .ok_or_else(|| StoreError::Unavailable("redis: a replayed key has no valid ticket".into()))?;
                Ok(Hold::Replay(ticket))
            }
            3 => Err(Rejection::LimitExceeded),
            4 => Err(Rejection::SoldOut),
            // Units came back a moment ago and an instance has not acknowledged it yet.
            5 => Err(Rejection::Overloaded { retry_after_secs: 1 }),
            -1 => Err(Rejection::UnknownSku),
            _ => {
                // Redis lost the activity (restarted without its data): load it again.
                self.forget_locally(draft.activity_id);
                return Err(StoreError::Unavailable(format!("activity {} is not loaded in redis", draft.activity_id)));
            }
        })
    }

    async fn release(&self, ret: &StockReturn, reason: ReturnReason) -> Result<bool, StoreError> {
        let keys = Keys::of(ret.activity_id);
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = RELEASE
            .key(&keys.meta)
            .key(&keys.left)
            .key(&keys.bought)
            .key(&keys.held)
            .key(&keys.idem)
            .arg(ret.sku_id.get())
            .arg(ret.user_id.get())
            .arg(ret.ticket.to_string())
            .arg(match reason {
                ReturnReason::Cancelled => "cancelled",
                ReturnReason::NotWritten => "unwritten",
            })
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [1, left, epoch] => {
                if let Some(act) = self.act(ret.activity_id) {
                    act.observe(ret.sku_id, *epoch, *left);
                }
                // Every instance lifts its sold-out flag now, not at its next refresh.
                self.publish(format!("left {} {} {left} {epoch}", ret.activity_id.get(), ret.sku_id.get())).await;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn remaining(&self, activity: ActivityId, sku: SkuId) -> Option<u32> {
        let left = self.act(activity)?.sku(sku)?.left.load(Ordering::Acquire);
        Some(u32::try_from(left.max(0)).unwrap_or(u32::MAX))
    }

    fn sold_out_for(&self, activity: ActivityId, user: UserId, key: Option<&str>) -> bool {
        let Some(act) = self.act(activity) else { return false };
        let skus = act.skus.load();
        if skus.is_empty() || skus.iter().any(|s| s.left.load(Ordering::Acquire) > 0) {
            return false;
        }
        let Some(key) = key else { return true };
        // A key: only under a running lease, and only if it is not among the keys that won
        // (no key can win while the lease runs: see the module docs of `scripts`).
        let view = act.sold_out.load();
        view.as_ref().is_some_and(|v| {
            std::time::Instant::now() < v.valid_until
                && !v.won.get(&user.get()).is_some_and(|keys| keys.iter().any(|k| k == key))
        })
    }

    fn is_reserved(&self, activity: ActivityId, user: UserId) -> bool {
        self.act(activity).is_some_and(|a| a.reserved.contains(&user))
    }

    async fn add_reservation(&self, activity: ActivityId, user: UserId) -> Result<(), StoreError> {
        let Some(act) = self.act(activity) else { return Ok(()) };
        let mut conn = self.conn.clone();
        let _: i64 = conn.sadd(&act.keys.reserved, user.get()).await.map_err(unavailable)?;
        act.reserved.insert(user);
        self.publish(format!("reserved {} {}", activity.get(), user.get())).await;
        Ok(())
    }

    async fn units_taken(&self, activity: ActivityId, sku: SkuId) -> Result<Option<u32>, StoreError> {
        if self.act(activity).is_none() {
            return Ok(None);
        }
        self.taken_in_redis(activity, sku).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(unavailable)
    }

    async fn units_bought(&self, activity: ActivityId, user: UserId) -> Result<u32, StoreError> {
        if self.act(activity).is_none() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        let n: Option<i64> = conn.hget(Keys::of(activity).bought, user.get()).await.map_err(unavailable)?;
        Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_view_takes_only_newer_values_whatever_order_they_arrive_in() {
        let sku = LocalSku::new(SkuId::from_raw(1), 10, 5);
        let left = || sku.left.load(Ordering::Acquire);
        // Same epoch: only fewer units are newer (a reply read before the last win is older).
        sku.observe(10, 7);
        assert_eq!(left(), 5);
        sku.observe(10, 3);
        assert_eq!(left(), 3);
        // A later epoch wins even with more units (a give-back); an earlier one never does.
        sku.observe(11, 4);
        assert_eq!(left(), 4);
        sku.observe(10, 0);
        assert_eq!(left(), 4);
        // Replies racing from many tasks end on the newest value.
        let sku = Arc::new(LocalSku::new(SkuId::from_raw(1), 0, 100));
        std::thread::scope(|scope| {
            for t in 0..4_i64 {
                let sku = sku.clone();
                scope.spawn(move || {
                    for i in (0..100_i64).rev() {
                        sku.observe(1 + (i + t) % 3, i);
                    }
                });
            }
        });
        assert_eq!(sku.left.load(Ordering::Acquire), 0);
        assert_eq!(*sku.epoch.lock().unwrap(), 3);
    }

    #[test]
    fn winning_keys_are_read_by_user_and_keys_may_hold_colons() {
        let won = won_by_user(vec!["7:a".into(), "7:b:c".into(), "12:a".into()]).unwrap();
        assert_eq!(won[&7], ["a", "b:c"]);
        assert_eq!(won[&12], ["a"]);
        assert!(won_by_user(vec![]).unwrap().is_empty());
        assert_eq!(won_by_user(vec!["7:a".into(), "no-colon".into()]), None);
        assert_eq!(won_by_user(vec!["x:a".into()]), None);
    }
}
