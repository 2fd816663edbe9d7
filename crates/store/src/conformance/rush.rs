//! The rush cases of the suite: the stock gate and the order hand-off of a backend, together
//! with its records — no oversell under a race, limits, idempotency, exactly-once release,
//! unknown addresses, and the records the hot state is rebuilt from.
//!
//! Each case is a `pub async fn(&Fixture)`; the fixture's writer must be running.

use std::collections::HashMap;
use std::sync::Arc;

use seckill_domain::Timestamp;
use seckill_domain::activity::Activity;
use seckill_domain::ids::{ActivityId, AddressId, OrderId, SkuId, Ticket, UserId};
use seckill_domain::order::{OrderStatus, PayType};
use seckill_domain::rejection::Rejection;

use super::{Fixture, Shop, day, new_address, new_user, now};
use crate::error::StoreError;
use crate::ports::Records;
use crate::rush::{Hold, OrderDraft, OrderQueue, Placement, ReturnReason, StockGate, StockReturn};

/// The fixture's ports, cloneable into spawned tasks.
#[derive(Clone)]
pub(super) struct Ports {
    pub(super) records: Records,
    pub(super) gate: Arc<dyn StockGate>,
    pub(super) queue: Arc<dyn OrderQueue>,
}

impl Ports {
    pub(super) fn of(f: &Fixture) -> Self {
        Ports { records: f.records.clone(), gate: f.gate.clone(), queue: f.queue.clone() }
    }
}

/// An activity on sale with its buyers, loaded into the fixture's hot state.
pub(super) struct Sale {
    pub(super) activity: Activity,
    pub(super) sku: SkuId,
    /// Each buyer with one address of their own.
    pub(super) buyers: Vec<(UserId, AddressId)>,
}

impl Sale {
    /// The phone's black sku with `stock` units, `total_limit` per user, `single_limit` per
    /// order, and `buyers` shoppers with an address each; hot state loaded from the records.
    pub(super) async fn open(f: &Fixture, stock: u32, total_limit: u32, single_limit: u32, buyers: usize) -> Sale {
        let shop = Shop::open(&f.records).await;
        let mut new = shop.sale(&[&shop.morning], day(11), day(12));
        new.skus[0].stock = stock;
        new.rules.total_limit = total_limit;
        new.rules.single_limit = single_limit;
        let activity = shop.create(&new).await;
        let mut list = Vec::with_capacity(buyers);
        for i in 0..buyers {
            let user = f.records.accounts.create_user(&new_user(&format!("buyer{i:04}")), "h", now()).await.unwrap();
            let address = f.records.accounts.add_address(user.id, &new_address("张三", None), now()).await.unwrap();
            list.push((user.id, address.id));
        }
        let hot = f.records.orders.hot_activity(activity.id).await.unwrap();
        f.gate.load(&hot).await.unwrap();
        Sale { sku: activity.skus[0].sku_id, activity, buyers: list }
    }

    pub(super) fn draft(&self, buyer: usize, quantity: u32, key: Option<&str>) -> OrderDraft {
        let (user, address) = self.buyers[buyer];
        draft(self.activity.id, self.sku, user, address, quantity, key)
    }

    pub(super) async fn sold(&self, f: &impl AsPorts) -> u32 {
        let f = f.ports();
        f.records.catalog.activity(self.activity.id).await.unwrap().skus[0].sold
    }
}

/// The instant every draft is made at: inside the sale.
pub fn rush_now() -> Timestamp {
    super::at("2026-11-11T10:00:00+08:00")
}

/// A draft of `quantity` units of `sku` for `user` to `address`, made at [`rush_now`]: 99.00
/// a unit, payable within 15 minutes (for suites and backend tests alike).
pub fn draft(
    activity: ActivityId,
    sku: SkuId,
    user: UserId,
    address: AddressId,
    quantity: u32,
    key: Option<&str>,
) -> OrderDraft {
    let now = rush_now();
    OrderDraft {
        ticket: Ticket::new(now),
        activity_id: activity,
        sku_id: sku,
        user_id: user,
        quantity,
        unit_price: seckill_domain::money::Money::from_cents(9_900),
        address_id: address,
        pay_type: PayType::Online,
        idempotency_key: key.map(str::to_owned),
        created_at: now,
        pay_deadline: super::at("2026-11-11T10:15:00+08:00"),
    }
}

/// One purchase as the hot path makes it: reserve, then place (or replay the first answer).
pub(super) async fn buy(f: &impl AsPorts, draft: OrderDraft, total_limit: u32) -> Result<Placement, Rejection> {
    let f = f.ports();
    match f.gate.reserve(&draft, total_limit).await.unwrap() {
        Err(r) => Err(r),
        Ok(Hold::New(_)) => Ok(f.queue.place(draft).await.unwrap()),
        Ok(Hold::Replay(first)) => Ok(f.queue.outcome(first).await.unwrap().expect("a replayed ticket has an outcome")),
    }
}

/// A fixture or its cloned ports.
pub(super) trait AsPorts {
    fn ports(&self) -> Ports;
}

impl AsPorts for Fixture {
    fn ports(&self) -> Ports {
        Ports::of(self)
    }
}

impl AsPorts for Ports {
    fn ports(&self) -> Ports {
        self.clone()
    }
}

#[track_caller]
pub(super) fn created(outcome: &Result<Placement, Rejection>) -> Option<&seckill_domain::order::Order> {
    match outcome {
        Ok(Placement::Created(order)) => Some(order),
        _ => None,
    }
}

/// A crowd of 100 shoppers, 3 attempts each, for 50 units with a limit of 2: exactly 50 units
/// are sold, in exactly as many orders as answers said so, and nobody passes the limit.
pub async fn exactly_the_stock_is_sold_to_a_crowd_and_nobody_passes_the_limit(f: &Fixture) {
    let sale = Arc::new(Sale::open(f, 50, 2, 1, 100).await);
    let f = Ports::of(f);
    let mut tasks = Vec::new();
    for attempt in 0..3 {
        for buyer in 0..100 {
            let (sale, f) = (sale.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                let d = sale.draft(buyer, 1, Some(&format!("attempt-{attempt}")));
                (buyer, buy(&f, d, 2).await)
            }));
        }
    }
    let mut won: HashMap<usize, Vec<OrderId>> = HashMap::new();
    for t in tasks {
        let (buyer, outcome) = t.await.unwrap();
        match &outcome {
            Ok(Placement::Created(order)) => won.entry(buyer).or_default().push(order.id),
            Err(Rejection::SoldOut | Rejection::LimitExceeded) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let answered: usize = won.values().map(Vec::len).sum();
    assert_eq!(answered, 50, "as many orders acknowledged as units");
    assert!(won.values().all(|orders| orders.len() <= 2), "nobody passes total_limit");
    assert_eq!(sale.sold(&f).await, 50, "sold in the records equals the acknowledged orders");
    assert_eq!(f.gate.remaining(sale.activity.id, sale.sku), Some(0));
    let hot = f.records.orders.hot_activity(sale.activity.id).await.unwrap();
    assert_eq!(hot.holdings.len(), 50);
    let mut ids: Vec<OrderId> = won.values().flatten().copied().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "every acknowledged order is a different order");
    for id in ids {
        assert_eq!(f.records.orders.order(id).await.unwrap().status, OrderStatus::PendingPayment);
    }
}

/// One shopper firing 30 requests at once under a limit of 3 gets exactly 3 units.
pub async fn one_shopper_racing_themselves_gets_exactly_the_limit(f: &Fixture) {
    let sale = Arc::new(Sale::open(f, 100, 3, 1, 1).await);
    let f = Ports::of(f);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (sale, f) = (sale.clone(), f.clone());
            tokio::spawn(async move { buy(&f, sale.draft(0, 1, None), 3).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Placement::Created(_)) => wins += 1,
            Err(Rejection::LimitExceeded) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(wins, 3);
    assert_eq!(sale.sold(&f).await, 3);
    assert_eq!(f.gate.remaining(sale.activity.id, sale.sku), Some(97));
}

/// The same request sent 16 times at once with one idempotency key makes one order, and every
/// answer is that order — also after the stock is gone.
pub async fn one_idempotency_key_makes_one_order_however_often_it_is_sent(f: &Fixture) {
    let sale = Arc::new(Sale::open(f, 1, 5, 1, 2).await);
    let f = Ports::of(f);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (sale, f) = (sale.clone(), f.clone());
            tokio::spawn(async move { buy(&f, sale.draft(0, 1, Some("checkout-42")), 5).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let outcome = t.await.unwrap();
        ids.push(created(&outcome).unwrap_or_else(|| panic!("every retry answers the order: {outcome:?}")).id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one order");
    assert_eq!(sale.sold(&f).await, 1);
    // Sold out now, but the key still answers with its order; another shopper is refused.
    let again = buy(&f, sale.draft(0, 1, Some("checkout-42")), 5).await;
    assert_eq!(created(&again).map(|o| o.id), Some(ids[0]));
    assert_eq!(buy(&f, sale.draft(1, 1, Some("checkout-42")), 5).await, Err(Rejection::SoldOut));
}

/// An order to another shopper's address is refused, its units are back on sale at once, and
/// the refused request stored nothing (its key may be used again).
pub async fn an_order_to_someone_elses_address_is_refused_and_gives_its_stock_back(f: &Fixture) {
    let sale = Sale::open(f, 1, 1, 1, 2).await;
    let (user, _) = sale.buyers[0];
    let (_, others_address) = sale.buyers[1];
    let foreign = draft(sale.activity.id, sale.sku, user, others_address, 1, Some("k"));
    assert_eq!(buy(f, foreign, 1).await, Ok(Placement::Rejected(Rejection::UnknownAddress)));
    assert_eq!(f.gate.remaining(sale.activity.id, sale.sku), Some(1));
    assert_eq!(sale.sold(f).await, 0);
    let mine = buy(f, sale.draft(0, 1, Some("k")), 1).await;
    assert!(created(&mine).is_some(), "the same key asks again: {mine:?}");
    assert_eq!(sale.sold(f).await, 1);
}

/// A cancelled order's units come back exactly once, whoever asks how often, and its key keeps
/// answering with that order.
pub async fn a_release_gives_units_back_exactly_once(f: &Fixture) {
    let sale = Sale::open(f, 2, 2, 2, 1).await;
    let outcome = buy(f, sale.draft(0, 2, Some("k")), 2).await;
    let order = created(&outcome).unwrap().clone();
    assert_eq!(f.gate.remaining(sale.activity.id, sale.sku), Some(0));
    let ret = StockReturn {
        ticket: order.ticket,
        activity_id: order.activity_id,
        sku_id: order.sku_id,
        user_id: order.user_id,
        quantity: order.quantity,
    };
    assert!(f.gate.release(&ret, ReturnReason::Cancelled).await.unwrap());
    assert!(!f.gate.release(&ret, ReturnReason::Cancelled).await.unwrap());
    assert!(!f.gate.release(&ret, ReturnReason::NotWritten).await.unwrap());
    assert_eq!(f.gate.remaining(sale.activity.id, sale.sku), Some(2));
    assert_eq!(f.gate.reserve(&sale.draft(0, 1, Some("k")), 2).await.unwrap(), Ok(Hold::Replay(order.ticket)));
    // The user's quantity came back with the units: a reservation within the limit passes the
    // gate again (the records' own `sold` moves back with the cancellation, later).
    assert!(matches!(f.gate.reserve(&sale.draft(0, 2, None), 2).await.unwrap(), Ok(Hold::New(_))));
}

/// What the hot state is rebuilt from: sold and stock per SKU, every live order's holding with
/// its key, reservations.
pub async fn the_records_give_back_everything_the_hot_state_needs(f: &Fixture) {
    let sale = Sale::open(f, 10, 3, 3, 3).await;
    let a = created(&buy(f, sale.draft(0, 2, Some("a")), 3).await).map(|o| o.ticket);
    let b = created(&buy(f, sale.draft(1, 1, None), 3).await).map(|o| o.ticket);
    assert!(f.records.orders.add_reservation(sale.activity.id, sale.buyers[2].0, now()).await.unwrap());
    let hot = f.records.orders.hot_activity(sale.activity.id).await.unwrap();
    assert_eq!(hot.activity_id, sale.activity.id);
    assert_eq!(hot.version, f.records.catalog.activity(sale.activity.id).await.unwrap().version);
    assert_eq!((hot.skus[0].sku_id, hot.skus[0].stock, hot.skus[0].sold), (sale.sku, 10, 3));
    let mut holdings: Vec<_> =
        hot.holdings.iter().map(|h| (h.ticket, h.user_id, h.quantity, h.idempotency_key.clone())).collect();
    holdings.sort_by_key(|h| h.2);
    assert_eq!(
        holdings,
        vec![(b.unwrap(), sale.buyers[1].0, 1, None), (a.unwrap(), sale.buyers[0].0, 2, Some("a".to_owned())),]
    );
    assert_eq!(hot.reserved, vec![sale.buyers[2].0]);
    not_found(f.records.orders.hot_activity(ActivityId::from_raw(999_999)).await);
}

/// A reservation is recorded once per shopper and activity, and reaches the hot state.
pub async fn a_reservation_is_recorded_once_and_reaches_the_hot_state(f: &Fixture) {
    let sale = Sale::open(f, 1, 1, 1, 1).await;
    let (user, _) = sale.buyers[0];
    assert!(!f.gate.is_reserved(sale.activity.id, user));
    assert!(f.records.orders.add_reservation(sale.activity.id, user, now()).await.unwrap());
    assert!(!f.records.orders.add_reservation(sale.activity.id, user, now()).await.unwrap());
    f.gate.add_reservation(sale.activity.id, user).await.unwrap();
    assert!(f.gate.is_reserved(sale.activity.id, user));
    // A reload merges (never drops) reservations.
    f.gate.load(&f.records.orders.hot_activity(sale.activity.id).await.unwrap()).await.unwrap();
    assert!(f.gate.is_reserved(sale.activity.id, user));
    not_found(f.records.orders.add_reservation(ActivityId::from_raw(999_999), user, now()).await);
}

/// Exactly the synced SKUs carry the seckill tag.
pub async fn exactly_the_synced_skus_carry_the_seckill_tag(f: &Fixture) {
    let shop = Shop::open(&f.records).await;
    let black = shop.phone.skus[0].id;
    f.records.orders.sync_seckill_tags(&[black]).await.unwrap();
    let phone = f.records.catalog.product(shop.phone.id).await.unwrap();
    assert_eq!(phone.skus.iter().map(|s| s.seckill).collect::<Vec<_>>(), vec![true, false]);
    f.records.orders.sync_seckill_tags(&[]).await.unwrap();
    let phone = f.records.catalog.product(shop.phone.id).await.unwrap();
    assert!(phone.skus.iter().all(|s| !s.seckill));
}

/// An order keeps a copy of its address and its price, and is found by id and by ticket.
pub async fn an_order_is_found_by_id_and_ticket_with_its_address_and_price(f: &Fixture) {
    let sale = Sale::open(f, 5, 2, 2, 1).await;
    let d = sale.draft(0, 2, None);
    let ticket = d.ticket;
    let order = created(&buy(f, d, 2).await).unwrap().clone();
    assert_eq!(order.ticket, ticket);
    assert_eq!((order.quantity, order.unit_price.cents(), order.amount.cents()), (2, 9_900, 19_800));
    assert_eq!(order.status, OrderStatus::PendingPayment);
    assert_eq!(order.address.text, "浙江省 杭州市 余杭区 文一西路 969 号");
    assert_eq!(order.created_at, rush_now());
    assert_eq!(order.pay_deadline, super::at("2026-11-11T10:15:00+08:00"));
    assert_eq!(f.records.orders.order(order.id).await.unwrap(), order);
    assert_eq!(f.records.orders.order_by_ticket(ticket).await.unwrap(), Some(order.clone()));
    assert_eq!(f.records.orders.order_by_ticket(Ticket::new(rush_now())).await.unwrap(), None);
    assert_eq!(f.queue.outcome(ticket).await.unwrap(), Some(Placement::Created(Box::new(order))));
    not_found(f.records.orders.order(OrderId::from_raw(999_999)).await);
}

#[track_caller]
fn not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}
