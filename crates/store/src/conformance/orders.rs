//! The order cases of the suite: what happens to an order after the rush — cancel, pay, ship,
//! complete as conditional moves, the stock-return outbox, the timeout sweep's queries,
//! payments and their notifications, and the lists — through the ports only.
//!
//! Each case is a `pub async fn(&Fixture)`; orders are placed the way the hot path places them
//! (reserve in the gate, then the order hand-off), so the fixture's writer must be running.
//! Moves happen at [`moment`] (inside the sale, before the orders' deadline) unless a case says
//! otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use seckill_domain::Timestamp;
use seckill_domain::ids::{OrderId, PaymentId, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::{CancelReason, Order, OrderStatus};
use seckill_domain::payment::{Payment, PaymentOutcome, PaymentStatus};

use super::rush::{AsPorts, Ports, Sale, buy, created, draft, rush_now};
use super::{Fixture, Shop, at, conflict, day, invalid, new_address, new_user, not_found, now};
use crate::error::{Conflict, StoreError};
use crate::orders::{NoticeEffect, OrderFilter, PaymentNotice, PendingReturn};
use crate::page::Page;
use crate::rush::{Hold, Placement, ReturnReason};

/// When moves happen: five minutes into the sale, ten minutes before the orders' deadline.
fn moment() -> Timestamp {
    at("2026-11-11T10:05:00+08:00")
}

/// The deadline of every order placed by [`open`] (the drafts' `pay_deadline`).
fn deadline() -> Timestamp {
    at("2026-11-11T10:15:00+08:00")
}

/// The provider every case pays through.
const SANDBOX: &str = "sandbox";

/// A sale of `stock` units (limit 2 per user, 2 per order) with `n` buyers, each holding one
/// pending order of `quantity` units: buyer `i` placed `orders[i]`.
async fn open(f: &Fixture, stock: u32, n: usize, quantity: u32) -> (Sale, Vec<Order>) {
    let sale = Sale::open(f, stock, 2, 2, n).await;
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        let outcome = buy(f, sale.draft(i, quantity, None), 2).await;
        orders.push(created(&outcome).unwrap_or_else(|| panic!("buyer {i} gets an order: {outcome:?}")).clone());
    }
    (sale, orders)
}

/// A notification of `outcome` for `payment`, exactly as the gateway would send it.
fn notice(payment: &Payment, outcome: PaymentOutcome) -> PaymentNotice {
    PaymentNotice {
        payment_id: payment.id,
        order_id: payment.order_id,
        amount: payment.amount,
        outcome,
        provider_ref: format!("sbx-{}-{outcome:?}", payment.id),
    }
}

/// Starts paying `order` (as its owner) and has the gateway report success: the order is paid.
async fn pay(f: &Fixture, order: &Order) -> Payment {
    let orders = &f.records.orders;
    let payment = orders.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    let outcome = orders.record_payment_notice(&notice(&payment, PaymentOutcome::Succeeded), moment()).await.unwrap();
    assert_eq!(outcome.effect, NoticeEffect::Paid);
    outcome.payment
}

/// Every pending stock return.
async fn returns(f: &impl AsPorts) -> Vec<PendingReturn> {
    f.ports().records.orders.pending_returns(10_000).await.unwrap()
}

/// The pending stock returns of `order`.
async fn returns_of(f: &impl AsPorts, order: &Order) -> Vec<PendingReturn> {
    returns(f).await.into_iter().filter(|r| r.stock.ticket == order.ticket).collect()
}

#[track_caller]
fn bad_state<T: std::fmt::Debug>(result: Result<T, StoreError>, status: OrderStatus) {
    assert_eq!(conflict(result), Conflict::BadOrderState { status });
}

// ---- cancelling ----------------------------------------------------------------------------

/// A cancellation moves the order to `cancelled` with its reason and time, takes its units off
/// `sold` and writes exactly one stock return naming the order's ticket, user and units; a
/// second cancellation, for any reason, is `BadOrderState` and changes nothing.
pub async fn a_cancellation_gives_the_units_back_to_sold_and_writes_one_return(f: &Fixture) {
    let (sale, orders) = open(f, 10, 2, 2).await;
    let o = &f.records.orders;
    assert_eq!(sale.sold(f).await, 4);
    assert!(returns(f).await.is_empty(), "placing orders returns nothing");

    let cancelled = o.cancel_order(orders[0].id, CancelReason::User, Some(orders[0].user_id), moment()).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!((cancelled.cancel_reason, cancelled.closed_at), (Some(CancelReason::User), Some(moment())));
    assert_eq!((cancelled.id, cancelled.ticket, cancelled.quantity), (orders[0].id, orders[0].ticket, 2));
    assert_eq!(o.order(orders[0].id).await.unwrap(), cancelled);
    assert_eq!(sale.sold(f).await, 2, "sold goes down by the order's quantity");
    let pending = returns(f).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let r = pending[0].stock;
    assert_eq!((r.ticket, r.activity_id, r.sku_id), (orders[0].ticket, sale.activity.id, sale.sku));
    assert_eq!((r.user_id, r.quantity), (orders[0].user_id, 2));

    for reason in [CancelReason::User, CancelReason::Timeout, CancelReason::Admin] {
        bad_state(o.cancel_order(orders[0].id, reason, None, moment()).await, OrderStatus::Cancelled);
    }
    assert_eq!(sale.sold(f).await, 2, "a refused cancellation returns nothing");
    assert_eq!(returns(f).await.len(), 1, "still exactly one return for the order");
    assert_eq!(o.order(orders[0].id).await.unwrap(), cancelled);
    assert_eq!(o.order(orders[1].id).await.unwrap().status, OrderStatus::PendingPayment);
    let hot = o.hot_activity(sale.activity.id).await.unwrap();
    assert_eq!(hot.skus[0].sold, 2);
    assert_eq!(hot.holdings.iter().map(|h| h.ticket).collect::<Vec<_>>(), [orders[1].ticket], "only live orders hold");
}

/// A shopper may cancel only their own order: another shopper's is `NotFound` (never revealing
/// that it exists) and stays as it was, as does an unknown order.
pub async fn another_shoppers_order_is_not_found_and_stays_as_it_was(f: &Fixture) {
    let (sale, orders) = open(f, 10, 2, 1).await;
    let o = &f.records.orders;
    let (mine, theirs) = (&orders[0], &orders[1]);
    not_found(o.cancel_order(theirs.id, CancelReason::User, Some(mine.user_id), moment()).await);
    not_found(o.complete_order(theirs.id, Some(mine.user_id), moment()).await);
    not_found(o.create_payment(theirs.id, mine.user_id, SANDBOX, moment()).await);
    not_found(o.cancel_order(OrderId::from_raw(999_999), CancelReason::Admin, None, moment()).await);
    not_found(o.ship_order(OrderId::from_raw(999_999), "SF", "SF1", moment()).await);
    not_found(o.complete_order(OrderId::from_raw(999_999), None, moment()).await);
    not_found(o.create_payment(OrderId::from_raw(999_999), mine.user_id, SANDBOX, moment()).await);
    assert_eq!(o.order(theirs.id).await.unwrap(), *theirs);
    assert_eq!(sale.sold(f).await, 2);
    assert!(returns(f).await.is_empty());
    // Their own, they may.
    o.cancel_order(theirs.id, CancelReason::User, Some(theirs.user_id), moment()).await.unwrap();
}

/// A paid order is cancelled only by an operator: its units come back like any other
/// cancellation's, and its succeeded payment is marked `refund_needed`.
pub async fn a_paid_order_is_cancelled_only_by_an_operator_and_its_payment_then_needs_a_refund(f: &Fixture) {
    let (sale, orders) = open(f, 10, 1, 2).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let payment = pay(f, order).await;
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    bad_state(o.cancel_order(order.id, CancelReason::Timeout, None, moment()).await, OrderStatus::Paid);
    bad_state(o.cancel_order(order.id, CancelReason::User, Some(order.user_id), moment()).await, OrderStatus::Paid);
    assert_eq!(sale.sold(f).await, 2);
    assert!(returns(f).await.is_empty());

    let cancelled = o.cancel_order(order.id, CancelReason::Admin, None, moment()).await.unwrap();
    assert_eq!((cancelled.status, cancelled.cancel_reason), (OrderStatus::Cancelled, Some(CancelReason::Admin)));
    assert_eq!(cancelled.paid_at, Some(moment()), "it was paid, and that stays on record");
    assert_eq!(o.payment(payment.id).await.unwrap().status, PaymentStatus::RefundNeeded);
    assert_eq!(sale.sold(f).await, 0);
    assert_eq!(returns_of(f, order).await.len(), 1);
    bad_state(o.cancel_order(order.id, CancelReason::Admin, None, moment()).await, OrderStatus::Cancelled);
    assert_eq!(returns(f).await.len(), 1);
}

/// Shipping needs a paid order and completing a shipped one; neither touches the stock, and
/// shipped or completed orders can no longer be cancelled.
pub async fn orders_ship_only_when_paid_and_complete_only_when_shipped(f: &Fixture) {
    let (sale, orders) = open(f, 10, 2, 1).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let later = at("2026-11-12T09:00:00+08:00");
    bad_state(o.ship_order(order.id, "SF Express", "SF100", moment()).await, OrderStatus::PendingPayment);
    bad_state(o.complete_order(order.id, Some(order.user_id), moment()).await, OrderStatus::PendingPayment);
    pay(f, order).await;
    bad_state(o.complete_order(order.id, Some(order.user_id), moment()).await, OrderStatus::Paid);

    let shipped = o.ship_order(order.id, "SF Express", "SF100", later).await.unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped);
    assert_eq!((shipped.carrier.as_deref(), shipped.tracking_no.as_deref()), (Some("SF Express"), Some("SF100")));
    assert_eq!((shipped.shipped_at, shipped.closed_at), (Some(later), None));
    assert_eq!(o.order(order.id).await.unwrap(), shipped);
    bad_state(o.ship_order(order.id, "YTO", "YT1", later).await, OrderStatus::Shipped);
    bad_state(o.cancel_order(order.id, CancelReason::Admin, None, later).await, OrderStatus::Shipped);
    not_found(o.complete_order(order.id, Some(orders[1].user_id), later).await);

    let completed = o.complete_order(order.id, Some(order.user_id), later).await.unwrap();
    assert_eq!((completed.status, completed.closed_at), (OrderStatus::Completed, Some(later)));
    assert_eq!(completed.carrier.as_deref(), Some("SF Express"));
    bad_state(o.complete_order(order.id, None, later).await, OrderStatus::Completed);
    bad_state(o.ship_order(order.id, "YTO", "YT1", later).await, OrderStatus::Completed);
    bad_state(o.cancel_order(order.id, CancelReason::Admin, None, later).await, OrderStatus::Completed);
    // A pending order cannot skip ahead either, whoever asks.
    bad_state(o.ship_order(orders[1].id, "SF Express", "SF101", later).await, OrderStatus::PendingPayment);
    assert_eq!(sale.sold(f).await, 2, "no move but a cancellation touches the stock");
    assert!(returns(f).await.is_empty());
}

// ---- the timeout sweep ---------------------------------------------------------------------

/// `overdue_orders` lists exactly the unpaid orders whose deadline is at or before `now`,
/// earliest deadline first, at most `limit`; `next_deadline` is the earliest unpaid deadline.
pub async fn overdue_orders_are_the_unpaid_ones_at_or_past_their_deadline_earliest_first(f: &Fixture) {
    let sale = Sale::open(f, 20, 2, 1, 6).await;
    let o = &f.records.orders;
    assert_eq!(o.next_deadline().await.unwrap(), None);
    assert!(o.overdue_orders(later_than_all(), 100).await.unwrap().is_empty());
    // Placed in this order, with these deadlines (minutes past 10:00).
    let minutes = [20, 5, 10, 30, 5, 12];
    let mut orders = Vec::new();
    for (i, m) in minutes.iter().enumerate() {
        let mut d = sale.draft(i, 1, None);
        d.pay_deadline = rush_now() + jiff::SignedDuration::from_mins(*m);
        orders.push(created(&buy(f, d, 2).await).unwrap().clone());
    }
    let by = |i: usize| orders[i].id;
    assert_eq!(o.next_deadline().await.unwrap(), Some(orders[1].pay_deadline));
    // 10:12 exactly is due; paid and cancelled orders never are.
    pay(f, &orders[2]).await;
    o.cancel_order(by(4), CancelReason::User, None, moment()).await.unwrap();
    let at_12 = rush_now() + jiff::SignedDuration::from_mins(12);
    assert_eq!(o.overdue_orders(at_12, 100).await.unwrap(), [by(1), by(5)]);
    assert_eq!(o.overdue_orders(at_12, 1).await.unwrap(), [by(1)]);
    assert_eq!(o.overdue_orders(at_12 - jiff::SignedDuration::from_millis(1), 100).await.unwrap(), [by(1)]);
    assert!(o.overdue_orders(rush_now(), 100).await.unwrap().is_empty());
    assert_eq!(o.overdue_orders(later_than_all(), 100).await.unwrap(), [by(1), by(5), by(0), by(3)]);
    assert_eq!(o.next_deadline().await.unwrap(), Some(orders[1].pay_deadline));

    // Swept as the sweeper would: each becomes a timeout, and the next deadline moves on.
    for id in o.overdue_orders(at_12, 100).await.unwrap() {
        let cancelled = o.cancel_order(id, CancelReason::Timeout, None, at_12).await.unwrap();
        assert_eq!(cancelled.cancel_reason, Some(CancelReason::Timeout));
    }
    assert!(o.overdue_orders(at_12, 100).await.unwrap().is_empty());
    assert_eq!(o.next_deadline().await.unwrap(), Some(orders[0].pay_deadline));
    pay(f, &orders[0]).await;
    o.cancel_order(by(3), CancelReason::Admin, None, moment()).await.unwrap();
    assert_eq!(o.next_deadline().await.unwrap(), None, "nothing unpaid is left");
    assert!(o.overdue_orders(later_than_all(), 100).await.unwrap().is_empty());
    assert_eq!(sale.sold(f).await, 2, "the two paid orders");
}

fn later_than_all() -> Timestamp {
    day(12)
}

// ---- the stock-return outbox ---------------------------------------------------------------

/// Returns stay pending, oldest first, until marked applied; applying one to the gate twice
/// gives its units back once; and the records never touch the hot state themselves.
pub async fn returns_stay_pending_until_marked_and_give_back_once_however_often_applied(f: &Fixture) {
    let (sale, orders) = open(f, 5, 3, 1).await;
    let (o, gate) = (&f.records.orders, &f.gate);
    let (a, s) = (sale.activity.id, sale.sku);
    assert_eq!(gate.remaining(a, s), Some(2));
    for order in [&orders[2], &orders[0]] {
        o.cancel_order(order.id, CancelReason::Timeout, None, moment()).await.unwrap();
    }
    assert_eq!(sale.sold(f).await, 1);
    assert_eq!(gate.remaining(a, s), Some(2), "the records do not touch the hot state");

    let pending = returns(f).await;
    let tickets: Vec<_> = pending.iter().map(|r| r.stock.ticket).collect();
    assert_eq!(tickets, [orders[2].ticket, orders[0].ticket], "oldest first");
    assert_eq!(o.pending_returns(1).await.unwrap(), pending[..1]);
    let first = pending[0];
    assert!(gate.release(&first.stock, ReturnReason::Cancelled).await.unwrap());
    assert!(!gate.release(&first.stock, ReturnReason::Cancelled).await.unwrap(), "applied twice gives back once");
    assert_eq!(gate.remaining(a, s), Some(3));
    assert_eq!(returns(f).await, pending, "still pending until marked");

    o.mark_returns_applied(&[first.id], moment()).await.unwrap();
    assert_eq!(returns(f).await, pending[1..]);
    o.mark_returns_applied(&[first.id], moment()).await.unwrap();
    o.mark_returns_applied(&[], moment()).await.unwrap();
    assert_eq!(returns(f).await, pending[1..], "marking again or nothing changes nothing");

    let second = pending[1];
    assert!(gate.release(&second.stock, ReturnReason::Cancelled).await.unwrap());
    o.mark_returns_applied(&[second.id], moment()).await.unwrap();
    assert!(returns(f).await.is_empty());
    assert_eq!(gate.remaining(a, s), Some(4), "stock − sold");
    // The returned units and the users' quantities are back: both may buy again.
    for buyer in [0, 2] {
        let again = buy(f, sale.draft(buyer, 1, None), 1).await;
        assert!(created(&again).is_some(), "buyer {buyer}: {again:?}");
    }
    assert_eq!((sale.sold(f).await, gate.remaining(a, s)), (3, Some(2)));
}

/// The crash between the records and the hot state: an order cancelled in the records whose
/// return was never applied, and a hot state rebuilt from the records (as at start-up). The
/// rebuilt state already counts the units as back; applying the pending return then gives
/// nothing more — remaining stays `stock − sold` — and the units sell once.
pub async fn a_return_pending_across_a_rebuild_of_the_hot_state_gives_back_nothing_twice(f: &Fixture) {
    let (sale, orders) = open(f, 2, 2, 1).await;
    let (o, gate) = (&f.records.orders, &f.gate);
    let (a, s) = (sale.activity.id, sale.sku);
    o.cancel_order(orders[0].id, CancelReason::User, Some(orders[0].user_id), moment()).await.unwrap();
    assert_eq!(gate.remaining(a, s), Some(0), "not applied yet");

    gate.unload(a).await.unwrap();
    gate.load(&o.hot_activity(a).await.unwrap()).await.unwrap();
    assert_eq!(gate.remaining(a, s), Some(1), "rebuilt: stock − sold");
    let pending = returns(f).await;
    assert_eq!(pending.len(), 1);
    assert!(!gate.release(&pending[0].stock, ReturnReason::Cancelled).await.unwrap(), "already counted");
    o.mark_returns_applied(&[pending[0].id], moment()).await.unwrap();
    assert_eq!(gate.remaining(a, s), Some(1), "given back once, not twice");

    let again = buy(f, sale.draft(0, 1, None), 2).await;
    assert!(created(&again).is_some(), "{again:?}");
    assert_eq!(buy(f, sale.draft(1, 1, None), 2).await, Err(seckill_domain::rejection::Rejection::SoldOut));
    assert_eq!((sale.sold(f).await, gate.remaining(a, s)), (2, Some(0)));
}

/// A cancelled order's idempotency key keeps answering with that order — also once the hot
/// state is rebuilt from the records — so a late retry never makes a second order under it.
pub async fn a_cancelled_orders_key_still_answers_with_that_order_after_a_rebuild(f: &Fixture) {
    let sale = Sale::open(f, 5, 2, 1, 1).await;
    let (o, gate) = (&f.records.orders, &f.gate);
    let order = created(&buy(f, sale.draft(0, 1, Some("checkout-1")), 2).await).unwrap().clone();
    o.cancel_order(order.id, CancelReason::User, Some(order.user_id), moment()).await.unwrap();
    for r in returns(f).await {
        gate.release(&r.stock, ReturnReason::Cancelled).await.unwrap();
        o.mark_returns_applied(&[r.id], moment()).await.unwrap();
    }
    let retry = sale.draft(0, 1, Some("checkout-1"));
    assert_eq!(gate.reserve(&retry, 2).await.unwrap(), Ok(Hold::Replay(order.ticket)));

    gate.unload(sale.activity.id).await.unwrap();
    gate.load(&o.hot_activity(sale.activity.id).await.unwrap()).await.unwrap();
    assert_eq!(gate.reserve(&retry, 2).await.unwrap(), Ok(Hold::Replay(order.ticket)), "after a rebuild too");
    let replayed = buy(f, retry, 2).await;
    assert_eq!(created(&replayed).map(|o| (o.id, o.status)), Some((order.id, OrderStatus::Cancelled)));
    // The user's quantity came back: a new request (another key, or none) buys.
    let fresh = buy(f, sale.draft(0, 1, Some("checkout-2")), 2).await;
    assert!(created(&fresh).is_some_and(|o| o.id != order.id), "{fresh:?}");
    assert_eq!(sale.sold(f).await, 1);
}

// ---- payments ------------------------------------------------------------------------------

/// A payment starts only for the owner's pending order before its deadline; asking again while
/// it is open answers the same attempt.
pub async fn a_payment_starts_only_for_a_pending_order_before_its_deadline(f: &Fixture) {
    let (_, orders) = open(f, 10, 3, 1).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let p = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    assert_eq!((p.order_id, p.amount, p.status), (order.id, order.amount, PaymentStatus::Created));
    assert_eq!((p.provider.as_str(), p.provider_ref.as_deref(), p.notified_at), (SANDBOX, None, None));
    assert_eq!((p.created_at, p.updated_at), (moment(), moment()));
    assert_eq!(o.payment(p.id).await.unwrap(), p);
    let again = o.create_payment(order.id, order.user_id, SANDBOX, deadline() - jiff::SignedDuration::from_secs(1));
    assert_eq!(again.await.unwrap(), p, "the same open attempt");
    not_found(o.payment(PaymentId::from_raw(999_999)).await);

    // At the deadline it is too late, though no sweep has cancelled the order yet.
    let late = &orders[1];
    bad_state(o.create_payment(late.id, late.user_id, SANDBOX, deadline()).await, OrderStatus::PendingPayment);
    // Cancelled, or paid already: nothing to pay.
    o.cancel_order(late.id, CancelReason::User, None, moment()).await.unwrap();
    bad_state(o.create_payment(late.id, late.user_id, SANDBOX, moment()).await, OrderStatus::Cancelled);
    pay(f, &orders[2]).await;
    bad_state(o.create_payment(orders[2].id, orders[2].user_id, SANDBOX, moment()).await, OrderStatus::Paid);
}

/// A success notification pays the order once; replaying it (or any later word about that
/// payment) changes nothing.
pub async fn a_notice_pays_once_and_replays_change_nothing(f: &Fixture) {
    let (sale, orders) = open(f, 10, 1, 2).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let p = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    let paid_at = moment() + jiff::SignedDuration::from_secs(30);
    let first = o.record_payment_notice(&notice(&p, PaymentOutcome::Succeeded), paid_at).await.unwrap();
    assert_eq!(first.effect, NoticeEffect::Paid);
    assert_eq!((first.order.status, first.order.paid_at), (OrderStatus::Paid, Some(paid_at)));
    assert_eq!(first.payment.status, PaymentStatus::Succeeded);
    assert_eq!(first.payment.provider_ref, Some(notice(&p, PaymentOutcome::Succeeded).provider_ref));
    assert_eq!((first.payment.notified_at, first.payment.updated_at), (Some(paid_at), paid_at));
    assert_eq!(o.order(order.id).await.unwrap(), first.order);
    assert_eq!(o.payment(p.id).await.unwrap(), first.payment);

    let later = paid_at + jiff::SignedDuration::from_mins(3);
    for outcome in [PaymentOutcome::Succeeded, PaymentOutcome::Failed] {
        let replay = o.record_payment_notice(&notice(&p, outcome), later).await.unwrap();
        assert_eq!(replay.effect, NoticeEffect::Replayed, "{outcome:?}");
        assert_eq!((&replay.payment, &replay.order), (&first.payment, &first.order), "nothing changed");
    }
    assert_eq!(o.order(order.id).await.unwrap(), first.order);
    assert_eq!(o.payment(p.id).await.unwrap(), first.payment);
    assert_eq!(sale.sold(f).await, 2);
}

/// A notification whose amount or order does not match its payment is `Invalid`, one for an
/// unknown payment `NotFound`; neither changes anything.
pub async fn a_notice_with_the_wrong_amount_or_order_is_invalid_and_changes_nothing(f: &Fixture) {
    let (_, orders) = open(f, 10, 2, 1).await;
    let o = &f.records.orders;
    let p = o.create_payment(orders[0].id, orders[0].user_id, SANDBOX, moment()).await.unwrap();
    let good = notice(&p, PaymentOutcome::Succeeded);
    let cheap = PaymentNotice { amount: Money::from_cents(p.amount.cents() - 1), ..good.clone() };
    assert!(invalid(o.record_payment_notice(&cheap, moment()).await).get("amount_cents").is_some());
    let elsewhere = PaymentNotice { order_id: orders[1].id, ..good.clone() };
    assert!(invalid(o.record_payment_notice(&elsewhere, moment()).await).get("order_id").is_some());
    let unknown = PaymentNotice { payment_id: PaymentId::from_raw(999_999), ..good.clone() };
    not_found(o.record_payment_notice(&unknown, moment()).await);
    assert_eq!(o.payment(p.id).await.unwrap(), p);
    assert_eq!(o.order(orders[0].id).await.unwrap(), orders[0]);
    assert_eq!(o.order(orders[1].id).await.unwrap(), orders[1]);
    // The real one still pays.
    assert_eq!(o.record_payment_notice(&good, moment()).await.unwrap().effect, NoticeEffect::Paid);
}

/// A failed payment leaves the order payable: a new attempt can pay it. Money that arrives
/// for an order already paid by another attempt needs a refund.
pub async fn a_failed_payment_leaves_the_order_payable(f: &Fixture) {
    let (_, orders) = open(f, 10, 1, 1).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let first = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    let failed = o.record_payment_notice(&notice(&first, PaymentOutcome::Failed), moment()).await.unwrap();
    assert_eq!(failed.effect, NoticeEffect::Failed);
    assert_eq!(failed.payment.status, PaymentStatus::Failed);
    assert_eq!(failed.order, *order, "the order is untouched");

    let second = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    assert_ne!(second.id, first.id, "a failed attempt is not reused");
    assert_eq!(second.status, PaymentStatus::Created);
    let paid = o.record_payment_notice(&notice(&second, PaymentOutcome::Succeeded), moment()).await.unwrap();
    assert_eq!((paid.effect, paid.order.status), (NoticeEffect::Paid, OrderStatus::Paid));

    // The payer then also succeeds with the first attempt: that money must go back.
    let twice = o.record_payment_notice(&notice(&first, PaymentOutcome::Succeeded), moment()).await.unwrap();
    assert_eq!(twice.effect, NoticeEffect::RefundNeeded);
    assert_eq!(twice.payment.status, PaymentStatus::RefundNeeded);
    assert_eq!(twice.order, paid.order);
    assert_eq!(o.payment(second.id).await.unwrap().status, PaymentStatus::Succeeded);
}

// ---- a payment racing a timeout ------------------------------------------------------------

/// The timeout arrives first: the order is cancelled and its units returned; the money that
/// arrives afterwards is `refund_needed` and the order stays cancelled, with one return.
pub async fn money_for_an_order_cancelled_meanwhile_needs_a_refund_and_the_order_stays_cancelled(f: &Fixture) {
    let (sale, orders) = open(f, 10, 1, 2).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let p = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    let cancelled = o.cancel_order(order.id, CancelReason::Timeout, None, deadline()).await.unwrap();
    let late = o.record_payment_notice(&notice(&p, PaymentOutcome::Succeeded), deadline()).await.unwrap();
    assert_eq!(late.effect, NoticeEffect::RefundNeeded);
    assert_eq!(late.payment.status, PaymentStatus::RefundNeeded);
    assert_eq!(late.order, cancelled, "never resurrected");
    assert_eq!(o.order(order.id).await.unwrap(), cancelled);
    assert_eq!(sale.sold(f).await, 0);
    assert_eq!(returns_of(f, order).await.len(), 1);
    let replay = o.record_payment_notice(&notice(&p, PaymentOutcome::Succeeded), deadline()).await.unwrap();
    assert_eq!((replay.effect, replay.payment.status), (NoticeEffect::Replayed, PaymentStatus::RefundNeeded));
}

/// The payment arrives first — even after the deadline, as long as no sweep has cancelled the
/// order yet: the order is paid and the timeout that follows changes nothing.
pub async fn a_payment_before_the_timeout_wins_and_the_timeout_changes_nothing(f: &Fixture) {
    let (sale, orders) = open(f, 10, 1, 2).await;
    let o = &f.records.orders;
    let order = &orders[0];
    let p = o.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap();
    let after = deadline() + jiff::SignedDuration::from_secs(1);
    assert_eq!(o.overdue_orders(after, 10).await.unwrap(), [order.id]);
    let paid = o.record_payment_notice(&notice(&p, PaymentOutcome::Succeeded), after).await.unwrap();
    assert_eq!((paid.effect, paid.order.status), (NoticeEffect::Paid, OrderStatus::Paid));
    bad_state(o.cancel_order(order.id, CancelReason::Timeout, None, after).await, OrderStatus::Paid);
    assert!(o.overdue_orders(after, 10).await.unwrap().is_empty());
    assert_eq!(o.order(order.id).await.unwrap(), paid.order);
    assert_eq!(o.payment(p.id).await.unwrap().status, PaymentStatus::Succeeded);
    assert_eq!(sale.sold(f).await, 2);
    assert!(returns(f).await.is_empty());
}

/// 16 orders, each raced by a timeout and its payment's success at once (half of them sent in
/// each order): for every order exactly one wins — paid with a succeeded payment and no
/// return, or cancelled with a `refund_needed` payment and exactly one return — and `sold`
/// counts exactly the paid ones.
pub async fn a_timeout_racing_a_payment_has_exactly_one_winner_for_each_order(f: &Fixture) {
    const N: usize = 16;
    let (sale, orders) = open(f, 20, N, 1).await;
    let ports = Ports::of(f);
    let mut payments = Vec::with_capacity(N);
    for order in &orders {
        payments.push(f.records.orders.create_payment(order.id, order.user_id, SANDBOX, moment()).await.unwrap());
    }
    let start = Arc::new(tokio::sync::Barrier::new(2 * N));
    let mut cancels = Vec::new();
    let mut notices = Vec::new();
    for (i, (order, payment)) in orders.iter().zip(&payments).enumerate() {
        let cancel = {
            let (ports, start, id) = (ports.clone(), start.clone(), order.id);
            async move {
                start.wait().await;
                ports.records.orders.cancel_order(id, CancelReason::Timeout, None, deadline()).await
            }
        };
        let pay = {
            let (ports, start, n) = (ports.clone(), start.clone(), notice(payment, PaymentOutcome::Succeeded));
            async move {
                start.wait().await;
                ports.records.orders.record_payment_notice(&n, deadline()).await
            }
        };
        if i % 2 == 0 {
            cancels.push(tokio::spawn(cancel));
            notices.push(tokio::spawn(pay));
        } else {
            notices.push(tokio::spawn(pay));
            cancels.push(tokio::spawn(cancel));
        }
    }
    let pending = {
        let mut all = Vec::new();
        for (i, (c, n)) in cancels.into_iter().zip(notices).enumerate() {
            all.push((i, c.await.unwrap(), n.await.unwrap().unwrap()));
        }
        all
    };
    let by_ticket: BTreeMap<_, usize> = returns(f).await.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.stock.ticket).or_default() += 1;
        m
    });
    let mut paid = 0;
    for (i, cancelled, noticed) in pending {
        let order = f.records.orders.order(orders[i].id).await.unwrap();
        let payment = f.records.orders.payment(payments[i].id).await.unwrap();
        let returned = by_ticket.get(&orders[i].ticket).copied().unwrap_or(0);
        match cancelled {
            Ok(c) => {
                assert_eq!(noticed.effect, NoticeEffect::RefundNeeded, "order {i}: the timeout won");
                assert_eq!((order.status, order.cancel_reason), (OrderStatus::Cancelled, Some(CancelReason::Timeout)));
                assert_eq!(order, c);
                assert_eq!(payment.status, PaymentStatus::RefundNeeded, "order {i}");
                assert_eq!(returned, 1, "order {i}: exactly one return");
            }
            Err(e) => {
                assert!(
                    matches!(e, StoreError::Conflict(Conflict::BadOrderState { status: OrderStatus::Paid })),
                    "order {i}: {e:?}"
                );
                assert_eq!(noticed.effect, NoticeEffect::Paid, "order {i}: the payment won");
                assert_eq!((order.status, order.paid_at), (OrderStatus::Paid, Some(deadline())));
                assert_eq!(payment.status, PaymentStatus::Succeeded, "order {i}");
                assert_eq!(returned, 0, "order {i}: a paid order returns nothing");
                paid += 1;
            }
        }
    }
    assert_eq!(sale.sold(&ports).await, paid, "sold counts exactly the paid orders");
    eprintln!("race: {paid} of {N} paid, {} cancelled", N as u32 - paid);
}

// ---- lists ---------------------------------------------------------------------------------

/// A shopper's orders come newest first (ties by id, newest first), whatever their status; the
/// operators' list filters by activity, status and user, and pages with the total of the whole
/// filtered list.
pub async fn orders_are_listed_newest_first_filtered_and_paged(f: &Fixture) {
    let shop = Shop::open(&f.records).await;
    let phone = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let laptop = shop.create(&shop.laptop_sale(&[&shop.morning], day(11), day(12))).await;
    let mut users: Vec<(UserId, seckill_domain::ids::AddressId)> = Vec::new();
    for name in ["ann", "ben"] {
        let user = f.records.accounts.create_user(&new_user(name), "h", now()).await.unwrap();
        let address = f.records.accounts.add_address(user.id, &new_address(name, None), now()).await.unwrap();
        users.push((user.id, address.id));
    }
    for a in [&phone, &laptop] {
        f.gate.load(&f.records.orders.hot_activity(a.id).await.unwrap()).await.unwrap();
    }
    // (activity, user, minutes past 10:00 it was placed)
    let placed = [(&phone, 0, 1), (&laptop, 0, 2), (&phone, 1, 2), (&laptop, 1, 4), (&phone, 0, 3), (&laptop, 0, 3)];
    let mut orders = Vec::new();
    for (activity, user, minute) in placed {
        let (u, addr) = users[user];
        let mut d = draft(activity.id, activity.skus[0].sku_id, u, addr, 1, None);
        d.created_at = rush_now() + jiff::SignedDuration::from_mins(minute);
        let outcome = buy(f, d, 2).await;
        match outcome {
            Ok(Placement::Created(order)) => orders.push(*order),
            other => panic!("{other:?}"),
        }
    }
    let o = &f.records.orders;
    o.cancel_order(orders[1].id, CancelReason::User, None, moment()).await.unwrap();
    pay(f, &orders[4]).await;
    let ids = |p: &crate::page::Paged<Order>| p.items.iter().map(|o| o.id).collect::<Vec<_>>();
    let id = |i: usize| orders[i].id;

    let ann = o.orders_of_user(users[0].0, Page::default()).await.unwrap();
    // Orders 4 and 5 were both placed at 10:03: the later id first.
    assert_eq!(ids(&ann), [id(5), id(4), id(1), id(0)]);
    assert_eq!(ann.total, 4);
    assert_eq!(ann.items[2].status, OrderStatus::Cancelled, "cancelled orders are listed too");
    assert_eq!(ann.items[1].status, OrderStatus::Paid);
    let ben = o.orders_of_user(users[1].0, Page::default()).await.unwrap();
    assert_eq!(ids(&ben), [id(3), id(2)]);
    let page2 = o.orders_of_user(users[0].0, Page::new(Some(2), Some(3))).await.unwrap();
    assert_eq!((ids(&page2), page2.total, page2.page, page2.per_page), (vec![id(0)], 4, 2, 3));

    let find = |filter: OrderFilter, page: Page| async move { o.find_orders(&filter, page).await.unwrap() };
    let all = find(OrderFilter::default(), Page::default()).await;
    assert_eq!((ids(&all), all.total), (vec![id(3), id(5), id(4), id(2), id(1), id(0)], 6));
    let of_phone = find(OrderFilter { activity_id: Some(phone.id), ..Default::default() }, Page::default()).await;
    assert_eq!(ids(&of_phone), [id(4), id(2), id(0)]);
    let pending = OrderFilter { status: Some(OrderStatus::PendingPayment), ..Default::default() };
    assert_eq!(ids(&find(pending, Page::default()).await), [id(3), id(5), id(2), id(0)]);
    let anns_laptop = OrderFilter { activity_id: Some(laptop.id), user_id: Some(users[0].0), status: None };
    assert_eq!(ids(&find(anns_laptop, Page::default()).await), [id(5), id(1)]);
    let all_three = OrderFilter { status: Some(OrderStatus::Cancelled), ..anns_laptop };
    assert_eq!(ids(&find(all_three, Page::default()).await), [id(1)]);
    let none = OrderFilter { status: Some(OrderStatus::Shipped), ..Default::default() };
    let empty = find(none, Page::default()).await;
    assert_eq!((empty.items.len(), empty.total), (0, 0));

    // Pages of two: every order once, in order, each page with the whole list's total.
    let mut seen = Vec::new();
    for n in 1..=3 {
        let page = find(OrderFilter::default(), Page::new(Some(n), Some(2))).await;
        assert_eq!((page.total, page.page, page.per_page, page.items.len()), (6, n, 2, 2));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ids(&all));
    let beyond = find(OrderFilter::default(), Page::new(Some(4), Some(2))).await;
    assert_eq!((beyond.items.len(), beyond.total), (0, 6));
}
