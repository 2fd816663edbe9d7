//! The in-process hot state ([`MemoryStockGate`]): remaining stock per activity SKU, what each
//! user holds, their idempotency keys, and the reserved users — in atomics and sharded maps,
//! never behind a lock held across an `.await`.
//!
//! Stock is two atomics per SKU, `stock` and `taken` (units in orders and in orders still being
//! written); a reservation takes units with one compare-and-swap that refuses to pass `stock`,
//! so no interleaving can oversell. A user's quantity, holdings and keys live in one entry of a
//! sharded map, and the whole reserve step for that user runs under that entry's shard lock, so
//! two requests of one user can never both pass `total_limit` or both use one key. Shoppers who
//! are refused leave nothing behind: memory grows with buyers, never with requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use dashmap::{DashMap, DashSet};
use seckill_domain::ids::{ActivityId, SkuId, Ticket, UserId};
use seckill_domain::rejection::Rejection;
use seckill_store::StoreError;
use seckill_store::rush::{Hold, HotActivity, OrderDraft, ReturnReason, StockGate, StockReturn};

use crate::writer::{Pending, lock};

/// One activity SKU's stock.
#[derive(Debug)]
struct SkuCounter {
    sku_id: SkuId,
    /// Units on sale (follows the records on reload).
    stock: AtomicU32,
    /// Units in orders, written or being written. Never above `stock` after a take.
    taken: AtomicU32,
}

impl SkuCounter {
    fn remaining(&self) -> u32 {
        self.stock.load(Ordering::Acquire).saturating_sub(self.taken.load(Ordering::Acquire))
    }

    /// Takes `quantity` units if that many are left: one CAS loop, so concurrent takes can
    /// never pass `stock` together.
    fn try_take(&self, quantity: u32) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                let stock = self.stock.load(Ordering::Acquire);
                taken.checked_add(quantity).filter(|t| *t <= stock)
            })
            .is_ok()
    }

    fn give_back(&self, quantity: u32) {
        // Saturating: a give-back never wraps below zero even if the records were edited by hand.
        let _ = self.taken.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_sub(quantity)));
    }
}

/// What one user holds in one activity.
#[derive(Debug, Default)]
struct Buyer {
    /// Σ quantity of the holdings.
    bought: u32,
    /// (ticket, sku, quantity) of each order written or being written.
    holdings: Vec<(Ticket, SkuId, u32)>,
    /// Idempotency keys that won, and their tickets.
    keys: Vec<(String, Ticket)>,
}

impl Buyer {
    fn ticket_of(&self, key: &str) -> Option<Ticket> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, t)| *t)
    }

    fn is_empty(&self) -> bool {
        self.holdings.is_empty() && self.keys.is_empty()
    }
}

/// One loaded activity.
#[derive(Debug)]
struct HotAct {
    version: AtomicI64,
    /// Few SKUs per activity: a list, swapped whole when a reload adds one.
    skus: ArcSwap<Vec<Arc<SkuCounter>>>,
    buyers: DashMap<UserId, Buyer>,
    reserved: DashSet<UserId>,
}

impl HotAct {
    fn sku(&self, id: SkuId) -> Option<Arc<SkuCounter>> {
        self.skus.load().iter().find(|s| s.sku_id == id).cloned()
    }
}

/// The hot state of the embedded shape.
#[derive(Debug, Default)]
pub struct MemoryStockGate {
    /// Read on every request without a lock; replaced whole when an activity is loaded or
    /// unloaded (rare).
    activities: ArcSwap<HashMap<ActivityId, Arc<HotAct>>>,
    /// Serialises loads and unloads. A std mutex: held only to copy-and-swap the map, never
    /// across an await.
    changes: Mutex<()>,
    /// The order writer's pending tickets: a new hold enters its ticket there before its key
    /// becomes visible to replays.
    pending: OnceLock<Pending>,
}

impl MemoryStockGate {
    /// An empty hot state; activities arrive by [`StockGate::load`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Shares the order writer's pending tickets (see [`OrderWriter`](crate::OrderWriter)).
    pub(crate) fn attach_pending(&self, pending: Pending) {
        let _first_writer_wins = self.pending.set(pending);
    }

    fn act(&self, id: ActivityId) -> Option<Arc<HotAct>> {
        self.activities.load().get(&id).cloned()
    }

    /// Units taken (written or being written) of a SKU, for invariant checks in tests.
    pub fn taken(&self, activity: ActivityId, sku: SkuId) -> Option<u32> {
        self.act(activity)?.sku(sku).map(|s| s.taken.load(Ordering::Acquire))
    }

    /// What a user holds in an activity, for invariant checks in tests.
    pub fn bought(&self, activity: ActivityId, user: UserId) -> u32 {
        self.act(activity).and_then(|a| a.buyers.get(&user).map(|b| b.bought)).unwrap_or(0)
    }

    fn build(hot: &HotActivity) -> HotAct {
        let skus = hot
            .skus
            .iter()
            .map(|s| {
                Arc::new(SkuCounter { sku_id: s.sku_id, stock: AtomicU32::new(s.stock), taken: AtomicU32::new(s.sold) })
            })
            .collect();
        let buyers: DashMap<UserId, Buyer> = DashMap::new();
        for h in &hot.holdings {
            let mut b = buyers.entry(h.user_id).or_default();
            b.bought = b.bought.saturating_add(h.quantity);
            b.holdings.push((h.ticket, h.sku_id, h.quantity));
            if let Some(k) = &h.idempotency_key {
                b.keys.push((k.clone(), h.ticket));
            }
        }
        for k in &hot.cancelled_keys {
            buyers.entry(k.user_id).or_default().keys.push((k.idempotency_key.clone(), k.ticket));
        }
        HotAct {
            version: AtomicI64::new(hot.version),
            skus: ArcSwap::from_pointee(skus),
            buyers,
            reserved: hot.reserved.iter().copied().collect(),
        }
    }
}

#[async_trait]
impl StockGate for MemoryStockGate {
    async fn load(&self, hot: &HotActivity) -> Result<(), StoreError> {
        let _serial = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(act) = self.act(hot.activity_id) {
            // Reload: stock follows the records; taken, holdings and keys stay (they include
            // orders the records do not have yet).
            let mut skus: Vec<Arc<SkuCounter>> = act.skus.load().iter().cloned().collect();
            for s in &hot.skus {
                match skus.iter().find(|c| c.sku_id == s.sku_id) {
                    Some(c) => c.stock.store(s.stock, Ordering::Release),
                    None => skus.push(Arc::new(SkuCounter {
                        sku_id: s.sku_id,
                        stock: AtomicU32::new(s.stock),
                        taken: AtomicU32::new(s.sold),
                    })),
                }
            }
            skus.retain(|c| hot.skus.iter().any(|s| s.sku_id == c.sku_id));
            act.skus.store(Arc::new(skus));
            for u in &hot.reserved {
                act.reserved.insert(*u);
            }
            act.version.store(hot.version, Ordering::Release);
            return Ok(());
        }
        let mut map = HashMap::clone(&self.activities.load());
        map.insert(hot.activity_id, Arc::new(Self::build(hot)));
        self.activities.store(Arc::new(map));
        Ok(())
    }

    async fn unload(&self, activity: ActivityId) -> Result<(), StoreError> {
        let _serial = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = HashMap::clone(&self.activities.load());
        if map.remove(&activity).is_some() {
            self.activities.store(Arc::new(map));
        }
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
        let key = draft.idempotency_key.as_deref();
        // The sold-out short-circuit, under the user's shard *read* lock: a key can only win
        // under the write lock, so while this is held a replay is seen, or "not won" and
        // "not enough left" hold together — answered as the write path would (limit first),
        // without taking the write lock or touching the map.
        {
            let buyer = act.buyers.get(&draft.user_id);
            if let (Some(k), Some(b)) = (key, buyer.as_ref())
                && let Some(t) = b.ticket_of(k)
            {
                return Ok(Ok(Hold::Replay(t)));
            }
            if sku.remaining() < draft.quantity {
                let bought = buyer.as_ref().map_or(0, |b| b.bought);
                return Ok(Err(if bought.saturating_add(draft.quantity) > total_limit {
                    Rejection::LimitExceeded
                } else {
                    Rejection::SoldOut
                }));
            }
        }
        // The user's shard lock is held from here to the end of the step (no await inside).
        let mut buyer = act.buyers.entry(draft.user_id).or_default();
        let outcome = if let Some(t) = key.and_then(|k| buyer.ticket_of(k)) {
            Ok(Hold::Replay(t))
        } else if buyer.bought.saturating_add(draft.quantity) > total_limit {
            Err(Rejection::LimitExceeded)
        } else if !sku.try_take(draft.quantity) {
            Err(Rejection::SoldOut)
        } else {
            buyer.bought += draft.quantity;
            buyer.holdings.push((draft.ticket, draft.sku_id, draft.quantity));
            if let Some(pending) = self.pending.get() {
                lock(pending).entry(draft.ticket).or_default();
            }
            if let Some(k) = key {
                buyer.keys.push((k.to_owned(), draft.ticket));
            }
            Ok(Hold::New(draft.ticket))
        };
        let empty = buyer.is_empty();
        drop(buyer);
        if empty {
            // A refused first attempt leaves no entry behind.
            act.buyers.remove_if(&draft.user_id, |_, b| b.is_empty());
        }
        Ok(outcome)
    }

    async fn release(&self, ret: &StockReturn, reason: ReturnReason) -> Result<bool, StoreError> {
        let Some(act) = self.act(ret.activity_id) else {
            // Not loaded (ended, or before preheat): the records are the whole truth then.
            return Ok(false);
        };
        let Some(mut buyer) = act.buyers.get_mut(&ret.user_id) else {
            return Ok(false);
        };
        let Some(at) = buyer.holdings.iter().position(|(t, _, _)| *t == ret.ticket) else {
            return Ok(false);
        };
        let (_, sku_id, quantity) = buyer.holdings.swap_remove(at);
        buyer.bought = buyer.bought.saturating_sub(quantity);
        if reason == ReturnReason::NotWritten {
            buyer.keys.retain(|(_, t)| *t != ret.ticket);
        }
        // The units go back while the user's shard is still locked, so a concurrent retry of the
        // same user sees both the quantity and the stock restored together.
        if let Some(sku) = act.sku(sku_id) {
            sku.give_back(quantity);
        }
        let empty = buyer.is_empty();
        drop(buyer);
        if empty {
            act.buyers.remove_if(&ret.user_id, |_, b| b.is_empty());
        }
        Ok(true)
    }

    fn remaining(&self, activity: ActivityId, sku: SkuId) -> Option<u32> {
        self.act(activity)?.sku(sku).map(|s| s.remaining())
    }

    fn sold_out_for(&self, activity: ActivityId, user: UserId, key: Option<&str>) -> bool {
        let Some(act) = self.act(activity) else { return false };
        let skus = act.skus.load();
        let all_gone = || !skus.is_empty() && skus.iter().all(|s| s.remaining() == 0);
        if !all_gone() {
            return false;
        }
        let Some(key) = key else { return true };
        // A key can only win under the user's shard lock, which this read lock excludes: while
        // it is held, "the key has not won" and "nothing is left" are true together.
        let buyer = act.buyers.get(&user);
        buyer.as_ref().is_none_or(|b| b.ticket_of(key).is_none()) && all_gone()
    }

    fn is_reserved(&self, activity: ActivityId, user: UserId) -> bool {
        self.act(activity).is_some_and(|a| a.reserved.contains(&user))
    }

    async fn add_reservation(&self, activity: ActivityId, user: UserId) -> Result<(), StoreError> {
        if let Some(a) = self.act(activity) {
            a.reserved.insert(user);
        }
        Ok(())
    }

    async fn units_taken(&self, activity: ActivityId, sku: SkuId) -> Result<Option<u32>, StoreError> {
        Ok(self.taken(activity, sku))
    }

    async fn units_bought(&self, activity: ActivityId, user: UserId) -> Result<u32, StoreError> {
        Ok(self.bought(activity, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seckill_domain::Timestamp;
    use seckill_domain::ids::AddressId;
    use seckill_domain::money::Money;
    use seckill_domain::order::PayType;
    use seckill_store::rush::{HotHolding, HotSku};

    const A: ActivityId = ActivityId::from_raw(1);
    const S: SkuId = SkuId::from_raw(10);

    fn hot(stock: u32, sold: u32, holdings: Vec<HotHolding>) -> HotActivity {
        HotActivity {
            activity_id: A,
            version: 1,
            skus: vec![HotSku { sku_id: S, stock, sold }],
            holdings,
            cancelled_keys: vec![],
            reserved: vec![],
        }
    }

    fn draft(user: i64, quantity: u32, key: Option<&str>) -> OrderDraft {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        OrderDraft {
            ticket: Ticket::new(now),
            activity_id: A,
            sku_id: S,
            user_id: UserId::from_raw(user),
            quantity,
            unit_price: Money::from_cents(100),
            address_id: AddressId::from_raw(1),
            pay_type: PayType::Online,
            idempotency_key: key.map(str::to_owned),
            created_at: now,
            pay_deadline: now,
        }
    }

    fn ret(d: &OrderDraft) -> StockReturn {
        StockReturn { ticket: d.ticket, activity_id: A, sku_id: S, user_id: d.user_id, quantity: d.quantity }
    }

    #[tokio::test]
    async fn stock_and_limits_are_taken_and_given_back_exactly_once() {
        let gate = MemoryStockGate::new();
        gate.load(&hot(3, 0, vec![])).await.unwrap();
        let d1 = draft(1, 2, Some("k1"));
        assert_eq!(gate.reserve(&d1, 2).await.unwrap(), Ok(Hold::New(d1.ticket)));
        assert_eq!(gate.reserve(&draft(1, 1, None), 2).await.unwrap(), Err(Rejection::LimitExceeded));
        assert_eq!(gate.reserve(&draft(2, 2, None), 2).await.unwrap(), Err(Rejection::SoldOut));
        assert_eq!(gate.remaining(A, S), Some(1));
        // The key replays even when the answer would now be a rejection.
        assert_eq!(gate.reserve(&draft(1, 2, Some("k1")), 2).await.unwrap(), Ok(Hold::Replay(d1.ticket)));

        assert!(gate.release(&ret(&d1), ReturnReason::Cancelled).await.unwrap());
        assert!(!gate.release(&ret(&d1), ReturnReason::Cancelled).await.unwrap(), "exactly once");
        assert_eq!(gate.remaining(A, S), Some(3));
        assert_eq!(gate.bought(A, UserId::from_raw(1)), 0);
        // A cancelled order's key still answers with that order.
        assert_eq!(gate.reserve(&draft(1, 1, Some("k1")), 2).await.unwrap(), Ok(Hold::Replay(d1.ticket)));
    }

    #[tokio::test]
    async fn an_unwritten_order_forgets_its_key_and_refusals_leave_no_entry() {
        let gate = MemoryStockGate::new();
        gate.load(&hot(1, 0, vec![])).await.unwrap();
        let d = draft(1, 1, Some("k"));
        assert_eq!(gate.reserve(&d, 1).await.unwrap(), Ok(Hold::New(d.ticket)));
        assert!(gate.release(&ret(&d), ReturnReason::NotWritten).await.unwrap());
        let again = draft(1, 1, Some("k"));
        assert_eq!(gate.reserve(&again, 1).await.unwrap(), Ok(Hold::New(again.ticket)));
        assert_eq!(gate.reserve(&draft(7, 1, None), 1).await.unwrap(), Err(Rejection::SoldOut));
        let act = gate.act(A).unwrap();
        assert!(act.buyers.get(&UserId::from_raw(7)).is_none());
    }

    #[tokio::test]
    async fn a_rebuild_counts_sold_units_holdings_and_keys() {
        let gate = MemoryStockGate::new();
        let t = Ticket::new(Timestamp::from_second(1_800_000_000).unwrap());
        let holding = HotHolding {
            ticket: t,
            sku_id: S,
            user_id: UserId::from_raw(5),
            quantity: 2,
            idempotency_key: Some("x".into()),
        };
        gate.load(&hot(10, 2, vec![holding])).await.unwrap();
        assert_eq!(gate.remaining(A, S), Some(8));
        assert_eq!(gate.bought(A, UserId::from_raw(5)), 2);
        assert_eq!(gate.reserve(&draft(5, 1, Some("x")), 5).await.unwrap(), Ok(Hold::Replay(t)));
        assert_eq!(gate.reserve(&draft(5, 4, None), 5).await.unwrap(), Err(Rejection::LimitExceeded));
        // Reload with more stock: on sale at once, counters kept.
        gate.load(&hot(20, 2, vec![])).await.unwrap();
        assert_eq!(gate.remaining(A, S), Some(18));
        assert_eq!(gate.bought(A, UserId::from_raw(5)), 2);
    }

    #[tokio::test]
    async fn the_read_locked_short_circuit_answers_as_the_write_path_would() {
        let gate = MemoryStockGate::new();
        gate.load(&hot(1, 0, vec![])).await.unwrap();
        let won = draft(1, 1, Some("k"));
        assert_eq!(gate.reserve(&won, 1).await.unwrap(), Ok(Hold::New(won.ticket)));
        // Sold out now: the winner's key replays, anyone else's is refused without an entry.
        assert!(!gate.sold_out_for(A, UserId::from_raw(1), Some("k")));
        assert!(gate.sold_out_for(A, UserId::from_raw(1), Some("other")));
        assert!(
            gate.sold_out_for(A, UserId::from_raw(2), Some("x")) && gate.sold_out_for(A, UserId::from_raw(2), None)
        );
        assert_eq!(gate.reserve(&draft(1, 1, Some("k")), 1).await.unwrap(), Ok(Hold::Replay(won.ticket)));
        // The limit comes first, as under the write lock.
        assert_eq!(gate.reserve(&draft(1, 1, Some("again")), 1).await.unwrap(), Err(Rejection::LimitExceeded));
        assert_eq!(gate.reserve(&draft(2, 1, Some("x")), 1).await.unwrap(), Err(Rejection::SoldOut));
        assert_eq!(gate.bought(A, UserId::from_raw(2)), 0);
        assert!(gate.act(A).is_some_and(|a| !a.buyers.contains_key(&UserId::from_raw(2))), "no entry left behind");
        // Not loaded: the gate cannot tell.
        assert!(!gate.sold_out_for(ActivityId::from_raw(99), UserId::from_raw(2), None));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn twins_of_one_key_racing_for_the_last_units_all_get_the_same_answer() {
        let gate = Arc::new(MemoryStockGate::new());
        gate.load(&hot(50, 0, vec![])).await.unwrap();
        let mut tasks = Vec::new();
        // 100 users, each sending one request 8 times at once under one key; 50 units.
        for twin in 0..8 {
            for user in 1..=100i64 {
                let gate = gate.clone();
                tasks.push(tokio::spawn(async move {
                    let d = draft(user, 1, Some("the-key"));
                    let short = twin % 2 == 0 && gate.sold_out_for(A, d.user_id, Some("the-key"));
                    let answer = if short { Err(Rejection::SoldOut) } else { gate.reserve(&d, 1).await.unwrap() };
                    (user, answer)
                }));
            }
        }
        let mut per_user: HashMap<i64, Vec<Result<Hold, Rejection>>> = HashMap::new();
        for t in tasks {
            let (user, answer) = t.await.unwrap();
            per_user.entry(user).or_default().push(answer);
        }
        let mut winners = 0;
        for (user, answers) in per_user {
            let tickets: Vec<Ticket> = answers
                .iter()
                .filter_map(|a| match a {
                    Ok(Hold::New(t) | Hold::Replay(t)) => Some(*t),
                    Err(_) => None,
                })
                .collect();
            if tickets.is_empty() {
                assert!(answers.iter().all(|a| *a == Err(Rejection::SoldOut)), "user {user}: {answers:?}");
            } else {
                winners += 1;
                assert_eq!(tickets.len(), 8, "user {user}: a twin was refused although the key won: {answers:?}");
                assert!(tickets.iter().all(|t| *t == tickets[0]), "user {user}: one key, one ticket");
            }
        }
        assert_eq!(winners, 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_thousand_concurrent_buyers_never_take_more_than_the_stock() {
        let gate = Arc::new(MemoryStockGate::new());
        gate.load(&hot(100, 0, vec![])).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..1000 {
            let gate = gate.clone();
            // 250 users, 4 attempts each, 2 units per attempt, limit 3 per user.
            tasks.push(tokio::spawn(async move { gate.reserve(&draft(i % 250 + 1, 2, None), 3).await.unwrap() }));
        }
        let mut won = 0u32;
        for t in tasks {
            if let Ok(Hold::New(_)) = t.await.unwrap() {
                won += 2;
            }
        }
        assert_eq!(won, 100, "exactly the stock is sold");
        assert_eq!(gate.remaining(A, S), Some(0));
        for u in 1..=250 {
            assert!(gate.bought(A, UserId::from_raw(u)) <= 2, "one attempt of 2 fits a limit of 3");
        }
    }
}
