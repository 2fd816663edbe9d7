//! Orders after the rush over real HTTP (issue 4): a shopper's own orders, cancelling while
//! unpaid (the unit is on sale again at once, sold-out lifted), unpaid orders cancelled at their
//! deadline by the sweeper — also across a restart — a crowd rushing for a returned unit, the
//! operators' list, shipping and cancelling, their live figures and stats, and a mixed day of
//! buying, paying, cancelling and timing out that keeps every invariant of DESIGN.md.
//!
//! [`assert_order_invariants`] checks the invariants through the operators' API (every order of
//! the activity, paged; the activity's per-SKU figures), the live status and the hot state, for
//! orders in any state — [`crate::sale::assert_invariants`] is its twin for the rush alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use rstest::rstest;
use seckill_domain::ids::{ActivityId, SkuId, UserId};
use seckill_testkit::{AppOptions, Database, Reply, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

use crate::payments::payment_status;
use crate::sale::{Acked, Buyer, Sale, buyers, few_buyers, order_body, sale_running_now};
use crate::{create_activity, ids, product_with_two_skus, rfc3339};

impl Buyer {
    /// `GET /api/me/orders/{order}` as this buyer.
    pub async fn get_order(&self, app: &TestApp, order: i64) -> Reply {
        app.get(&format!("/api/me/orders/{order}"), Some(&self.shopper.token)).await
    }

    /// `GET /api/me/orders` as this buyer.
    pub async fn list_orders(&self, app: &TestApp) -> Reply {
        app.get("/api/me/orders", Some(&self.shopper.token)).await
    }

    /// `POST /api/me/orders/{order}/cancel` as this buyer.
    pub async fn cancel_order(&self, app: &TestApp, order: i64) -> Reply {
        app.post(&format!("/api/me/orders/{order}/cancel"), &json!({}), Some(&self.shopper.token)).await
    }
}

/// The operators' live figures of an activity (`figures` of `GET /api/admin/activities/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFigures {
    /// Units in non-cancelled orders.
    pub sold: u64,
    pub remaining: u64,
    /// Non-cancelled orders.
    pub orders: u64,
    /// Of those, paid, shipped or completed.
    pub paid: u64,
}

/// The activity as operators see it (`GET /api/admin/activities/{id}`, which must answer 200).
pub async fn admin_activity(app: &TestApp, sale: &Sale) -> Value {
    let r = app.get(&format!("/api/admin/activities/{}", sale.id), Some(&sale.admin)).await;
    r.expect(200);
    r.body
}

/// [`OrderFigures`] of `sale` now.
pub async fn figures(app: &TestApp, sale: &Sale) -> OrderFigures {
    let body = admin_activity(app, sale).await;
    let f = &body["figures"];
    let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("no figure {k} in {body}"));
    OrderFigures { sold: n("sold"), remaining: n("remaining"), orders: n("orders"), paid: n("paid") }
}

/// `POST /api/admin/orders/{order}/{action}` (`ship`, `cancel`) as the operator of `sale`.
pub async fn admin_order(app: &TestApp, sale: &Sale, order: i64, action: &str, body: &Value) -> Reply {
    app.post(&format!("/api/admin/orders/{order}/{action}"), body, Some(&sale.admin)).await
}

/// `GET /api/admin/orders{query}` as the operator of `sale`, which must answer 200.
pub async fn admin_orders(app: &TestApp, sale: &Sale, query: &str) -> Reply {
    let r = app.get(&format!("/api/admin/orders{query}"), Some(&sale.admin)).await;
    r.expect(200);
    r
}

/// Every order of `sale`, read a page at a time through the operators' list.
pub async fn all_orders(app: &TestApp, sale: &Sale) -> Vec<Value> {
    let mut orders = Vec::new();
    for page in 1.. {
        let r = admin_orders(app, sale, &format!("?activity_id={}&per_page=7&page={page}", sale.id)).await;
        let items = r.body["items"].as_array().unwrap_or_else(|| panic!("no items: {}", r.text)).clone();
        let total = r.body["total"].as_u64().unwrap_or_else(|| panic!("no total: {}", r.text));
        let done = items.is_empty();
        orders.extend(items);
        if done {
            assert_eq!(orders.len() as u64, total, "pages add up to the total");
            return orders;
        }
        assert!(page <= 100, "more pages than orders");
    }
    unreachable!("the loop returns")
}

/// Checks invariants 1–4 of DESIGN.md for `sale` once it is quiet, for orders in any state,
/// through the operators' API and the live status, and against the hot state:
/// 1. per SKU, the activity's `sold` = Σ quantity of its non-cancelled orders ≤ stock, and
///    `remaining` = stock − sold (operators' view, `…/status`, hot state);
/// 2. per user, Σ quantity of non-cancelled orders ≤ `total_limit` (also what the hot state
///    counts for them), each order's quantity ≤ `single_limit`;
/// 3. the figures agree: sold, remaining, non-cancelled orders, paid (or shipped/completed);
/// 4. every acknowledged order (`acked`) is listed exactly once, as answered, and nothing else
///    is; a cancelled order says why and when, no other does.
///
/// Answers how many orders are in each status.
pub async fn assert_order_invariants(app: &TestApp, sale: &Sale, acked: &[Acked]) -> BTreeMap<String, usize> {
    let orders = all_orders(app, sale).await;
    let activity = admin_activity(app, sale).await;
    let status = sale.status(app).await;
    let rule = |k: &str| activity[k].as_u64().unwrap_or_else(|| panic!("no {k} in {activity}"));
    let (total_limit, single_limit) = (rule("total_limit"), rule("single_limit"));
    let id = ActivityId::from_raw(sale.id);
    let loaded = app.taken(id, SkuId::from_raw(sale.sku(0))).await.is_some();

    // 4. Exactly the acknowledged orders, once each, as they were answered.
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_id: BTreeMap<i64, &Value> = BTreeMap::new();
    for o in &orders {
        let order_id = o["id"].as_i64().unwrap_or_else(|| panic!("no id: {o}"));
        assert!(by_id.insert(order_id, o).is_none(), "order {order_id} listed twice");
        assert_eq!(o["activity_id"], sale.id, "{o}");
        let s = o["status"].as_str().unwrap_or_else(|| panic!("no status: {o}"));
        *tally.entry(s.to_owned()).or_default() += 1;
        if s == "cancelled" {
            assert!(["timeout", "user", "admin"].contains(&o["cancel_reason"].as_str().unwrap_or("")), "{o}");
            assert!(o["closed_at"].is_string(), "a cancelled order says when: {o}");
        } else {
            assert!(o.get("cancel_reason").is_none(), "{o}");
        }
    }
    let acked_ids: BTreeSet<i64> = acked.iter().map(|a| a.order_id).collect();
    assert_eq!(acked_ids.len(), acked.len(), "an order acknowledged twice in {acked:?}");
    assert_eq!(by_id.keys().copied().collect::<BTreeSet<_>>(), acked_ids, "the orders are the acknowledged ones");
    for a in acked {
        let o = by_id[&a.order_id];
        assert_eq!(
            (&o["ticket"], &o["user_id"], &o["sku_id"]),
            (&json!(a.ticket), &json!(a.user_id), &json!(a.sku_id))
        );
    }

    // 1. Per SKU: sold = Σ quantity of non-cancelled orders ≤ stock, remaining = stock − sold.
    let holding: Vec<&Value> = orders.iter().filter(|o| o["status"] != "cancelled").collect();
    let skus = activity["skus"].as_array().unwrap_or_else(|| panic!("no skus: {activity}"));
    for sku in skus {
        let sku_id = sku["sku_id"].as_i64().unwrap();
        let (stock, sold) = (sku["stock"].as_u64().unwrap(), sku["sold"].as_u64().unwrap());
        let units: u64 =
            holding.iter().filter(|o| o["sku_id"] == sku_id).map(|o| o["quantity"].as_u64().unwrap()).sum();
        assert_eq!(sold, units, "sku {sku_id}: sold is the sum of its non-cancelled orders: {activity}");
        assert!(sold <= stock, "sku {sku_id}: sold {sold} > stock {stock}");
        assert_eq!(sku["remaining"], stock - sold, "sku {sku_id}: remaining = stock − sold: {activity}");
        let shown = status["skus"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["sku_id"] == sku_id))
            .unwrap_or_else(|| panic!("sku {sku_id} missing from {status}"));
        assert_eq!(shown["remaining"], stock - sold, "sku {sku_id}: {status}");
        assert_eq!(shown["sold_out"], stock == sold, "sku {sku_id}: {status}");
        if loaded {
            let taken = app.taken(id, SkuId::from_raw(sku_id)).await.map(u64::from);
            assert_eq!(taken, Some(sold), "sku {sku_id}: units taken in memory");
        }
    }

    // 2. Per user and per order.
    let mut per_user: BTreeMap<i64, u64> = BTreeMap::new();
    for o in &orders {
        let quantity = o["quantity"].as_u64().unwrap();
        assert!(quantity <= single_limit, "an order of {quantity} units over single_limit {single_limit}: {o}");
        let user = o["user_id"].as_i64().unwrap();
        let held = per_user.entry(user).or_default();
        if o["status"] != "cancelled" {
            *held += quantity;
        }
    }
    for (user, units) in &per_user {
        assert!(*units <= total_limit, "user {user} holds {units} units, over total_limit {total_limit}");
        if loaded {
            let bought = u64::from(app.bought(id, UserId::from_raw(*user)).await);
            assert_eq!(bought, *units, "user {user}: bought in memory");
        }
    }

    // 3. The operators' figures.
    let sold: u64 = skus.iter().map(|s| s["sold"].as_u64().unwrap()).sum();
    let stock: u64 = skus.iter().map(|s| s["stock"].as_u64().unwrap()).sum();
    let paid =
        holding.iter().filter(|o| ["paid", "shipped", "completed"].contains(&o["status"].as_str().unwrap())).count();
    let expected = OrderFigures { sold, remaining: stock - sold, orders: holding.len() as u64, paid: paid as u64 };
    assert_eq!(figures(app, sale).await, expected, "{activity}");
    tally
}

/// The statuses of `tally` as `[(status, n)]`, for comparing with a literal.
fn counts(tally: &BTreeMap<String, usize>) -> Vec<(&str, usize)> {
    tally.iter().map(|(s, n)| (s.as_str(), *n)).collect()
}

/// A second sale in the same slot as `sale`, of another product, preheated.
async fn second_sale(app: &TestApp, sale: &Sale) -> Sale {
    let product = product_with_two_skus(app, &sale.admin, "HUAWEI Pura 80").await;
    let body = crate::singles_day(app, product, &[sale.slot]);
    let id = create_activity(app, &sale.admin, &body).await;
    app.preheat().await;
    Sale { id, product, body, ..sale.clone() }
}

/// Moves the server's clock by `secs` seconds.
fn advance(app: &TestApp, secs: i64) {
    app.clock.set(app.now().checked_add(jiff::SignedDuration::from_secs(secs)).unwrap());
}

#[tokio::test]
async fn a_shopper_sees_their_own_orders_newest_first_and_nobody_elses() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let first = Acked::of(&a.order(&app, &sale, 0).await);
    advance(&app, 1);
    let theirs = Acked::of(&b.order(&app, &sale, 0).await);
    advance(&app, 1);
    let placed = a.order(&app, &sale, 1).await;
    let second = Acked::of(&placed);

    let r = a.list_orders(&app).await;
    r.expect(200);
    assert_eq!(ids(&r), [second.order_id, first.order_id], "newest first, a's only");
    assert_eq!(r.body["items"][0], placed.body["order"], "the list shows the order as it was answered");
    let r = b.list_orders(&app).await;
    assert_eq!(ids(&r), [theirs.order_id]);

    let r = a.get_order(&app, first.order_id).await;
    r.expect(200);
    let o = &r.body;
    assert_eq!(
        (o["id"].as_i64(), o["user_id"].as_i64(), o["sku_id"].as_i64()),
        (Some(first.order_id), Some(a.id()), Some(sale.sku(0)))
    );
    assert_eq!((o["status"].as_str(), o["quantity"].as_i64()), (Some("pending_payment"), Some(1)));
    assert_eq!(
        (o["unit_price_cents"].as_i64(), o["amount_cents"].as_i64()),
        (Some(crate::SECKILL_PRICES[0]), Some(crate::SECKILL_PRICES[0]))
    );
    assert_eq!(o["address"]["contact"], a.shopper.username);
    let created = app.local("2026-11-11T10:00");
    assert_eq!(o["created_at"], rfc3339(created));
    // The default pay timeout is 15 minutes.
    assert_eq!(o["pay_deadline"], rfc3339(app.local("2026-11-11T10:15")));
    for absent in ["paid_at", "shipped_at", "closed_at", "cancel_reason", "carrier", "tracking_no"] {
        assert!(o.get(absent).is_none(), "{absent} on a new order: {o}");
    }

    // b's order does not exist for a — not to read, cancel or pay — and stays as it was.
    let before = b.get_order(&app, theirs.order_id).await.body;
    a.get_order(&app, theirs.order_id).await.assert_error(404, "NOT_FOUND");
    a.cancel_order(&app, theirs.order_id).await.assert_error(404, "NOT_FOUND");
    a.try_start_payment(&app, theirs.order_id).await.assert_error(404, "NOT_FOUND");
    assert_eq!(b.get_order(&app, theirs.order_id).await.body, before);
    assert_eq!(sale.remaining(&app, 0).await, crate::SALE_STOCK[0] - 2);
    // Nor does an unknown one; and nobody's without a session.
    a.get_order(&app, 999_999).await.assert_error(404, "NOT_FOUND");
    a.cancel_order(&app, 999_999).await.assert_error(404, "NOT_FOUND");
    app.get("/api/me/orders", None).await.assert_error(401, "UNAUTHENTICATED");
    app.get(&format!("/api/me/orders/{}", first.order_id), None).await.assert_error(401, "UNAUTHENTICATED");
    app.post(&format!("/api/me/orders/{}/cancel", first.order_id), &json!({}), None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
    assert_order_invariants(&app, &sale, &[first, theirs, second]).await;
}

#[tokio::test]
async fn cancelling_an_unpaid_order_puts_its_unit_back_on_sale_at_once_and_the_shopper_may_buy_again() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(1)), ("/total_limit", json!(1))]).await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let first = Acked::of(&a.order(&app, &sale, 0).await);
    b.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    assert_eq!(sale.status(&app).await["skus"][0]["sold_out"], true);
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 1, remaining: 50, orders: 1, paid: 0 });

    advance(&app, 30);
    let r = a.cancel_order(&app, first.order_id).await;
    r.expect(200);
    assert_eq!((r.body["id"].as_i64(), r.body["status"].as_str()), (Some(first.order_id), Some("cancelled")));
    assert_eq!(r.body["cancel_reason"], "user");
    assert_eq!(r.body["closed_at"], rfc3339(app.now()));
    assert_eq!(a.get_order(&app, first.order_id).await.body, r.body);
    // The unit is back at once: the status, the operators' figures and the hot state say so.
    let status = sale.status(&app).await;
    assert_eq!((&status["skus"][0]["remaining"], &status["skus"][0]["sold_out"]), (&json!(1), &json!(false)));
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 0, remaining: 51, orders: 0, paid: 0 });
    assert_eq!(admin_activity(&app, &sale).await["skus"][0]["sold"], 0);
    assert_eq!(app.bought(ActivityId::from_raw(sale.id), UserId::from_raw(a.id())).await, 0);

    // Cancelling again changes nothing: the unit came back once.
    a.cancel_order(&app, first.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    assert_eq!(sale.remaining(&app, 0).await, 1);
    a.try_start_payment(&app, first.order_id).await.assert_error(409, "BAD_ORDER_STATE");

    // The cancelled order no longer counts against a's limit of one: a buys it again.
    let second = Acked::of(&a.order(&app, &sale, 0).await);
    a.order(&app, &sale, 1).await.assert_error(409, "LIMIT_EXCEEDED");
    b.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    // Once paid, the shopper can no longer cancel it.
    a.pay(&app, second.order_id).await;
    a.cancel_order(&app, second.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    assert_eq!(a.get_order(&app, second.order_id).await.body["status"], "paid");
    assert_eq!(sale.remaining(&app, 0).await, 0);
    let tally = assert_order_invariants(&app, &sale, &[first, second]).await;
    assert_eq!(counts(&tally), [("cancelled", 1), ("paid", 1)]);
}

#[tokio::test]
async fn an_unpaid_order_is_cancelled_at_its_deadline_and_its_unit_sells_again_at_once() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(1)), ("/pay_timeout_secs", json!(300))]).await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let held = a.order(&app, &sale, 0).await;
    let order = Acked::of(&held);
    assert_eq!(held.body["order"]["pay_deadline"], rfc3339(app.local("2026-11-11T10:05")));
    b.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");

    // A second before the deadline nothing happens.
    app.set_local_time("2026-11-11T10:04:59");
    app.sweep().await;
    assert_eq!(a.get_order(&app, order.order_id).await.body["status"], "pending_payment");
    b.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");

    // At the deadline it can no longer be paid, and the sweep cancels it.
    app.set_local_time("2026-11-11T10:05:00");
    a.try_start_payment(&app, order.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    app.sweep().await;
    let r = a.get_order(&app, order.order_id).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["cancel_reason"].as_str()),
        (Some("cancelled"), Some("timeout")),
        "{}",
        r.text
    );
    assert_eq!(r.body["closed_at"], rfc3339(app.now()));
    // The unit is on sale again: not sold out any more, and the next shopper gets it.
    let status = sale.status(&app).await;
    assert_eq!((&status["skus"][0]["remaining"], &status["skus"][0]["sold_out"]), (&json!(1), &json!(false)));
    let next = Acked::of(&b.order(&app, &sale, 0).await);
    assert_eq!(sale.remaining(&app, 0).await, 0);
    // A later sweep finds nothing, and the timed-out order stays cancelled.
    assert_eq!(app.sweep().await, 0);
    a.cancel_order(&app, order.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    let tally = assert_order_invariants(&app, &sale, &[order, next]).await;
    assert_eq!(counts(&tally), [("cancelled", 1), ("pending_payment", 1)]);
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test]
async fn unpaid_orders_still_time_out_after_a_restart(#[case] database: Database) {
    let mut app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(2)), ("/pay_timeout_secs", json!(300))]).await;
    let [a, b, c] = few_buyers(&app, "shopper").await;
    // Deadlines 10:05 and 10:07.
    let early = Acked::of(&a.order(&app, &sale, 0).await);
    app.set_local_time("2026-11-11T10:02");
    let late = Acked::of(&b.order(&app, &sale, 0).await);

    // Down from 10:02 to 10:06: the first deadline passes while the server is away.
    app.set_local_time("2026-11-11T10:06");
    app.restart().await;
    app.sweep().await;
    let r = a.get_order(&app, early.order_id).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["cancel_reason"].as_str()),
        (Some("cancelled"), Some("timeout")),
        "{}",
        r.text
    );
    assert_eq!(b.get_order(&app, late.order_id).await.body["status"], "pending_payment");
    assert_eq!(sale.remaining(&app, 0).await, 1);

    // The second was pending across the restart; its deadline passes afterwards.
    app.set_local_time("2026-11-11T10:06:59");
    app.sweep().await;
    assert_eq!(b.get_order(&app, late.order_id).await.body["status"], "pending_payment");
    app.set_local_time("2026-11-11T10:07");
    app.sweep().await;
    let r = b.get_order(&app, late.order_id).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["cancel_reason"].as_str()),
        (Some("cancelled"), Some("timeout")),
        "{}",
        r.text
    );
    assert_eq!(sale.remaining(&app, 0).await, 2, "both units are back, each once");
    // And they sell again.
    let again = [Acked::of(&c.order(&app, &sale, 0).await), Acked::of(&b.order(&app, &sale, 0).await)];
    a.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    let mut acked = vec![early, late];
    acked.extend(again);
    let tally = assert_order_invariants(&app, &sale, &acked).await;
    assert_eq!(counts(&tally), [("cancelled", 2), ("pending_payment", 2)]);
}

#[tokio::test]
async fn an_order_timing_out_between_slots_is_on_sale_again_in_the_next_and_after_the_end_only_in_the_records() {
    // Windows 10:00–12:00 and 20:00–22:00 on Singles' Day; one unit of SKU 0.
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = product_with_two_skus(&app, &admin, "HUAWEI Mate 70 Pro").await;
    let ten = crate::slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let eight = crate::slot(&app, &admin, "20点场", "20:00", "22:00").await;
    let body = crate::singles_day(&app, product, &[ten, eight]);
    let body = crate::with(&crate::with(&body, "/skus/0/stock", json!(1)), "/pay_timeout_secs", json!(300));
    let id = create_activity(&app, &admin, &body).await;
    let sale = Sale { admin, product, slot: ten, id, body };
    let [a, b, c] = few_buyers(&app, "shopper").await;
    app.set_local_time("2026-11-11T11:58");
    app.preheat().await;
    let morning = Acked::of(&a.order(&app, &sale, 0).await);

    // Paused from 12:00; the deadline at 12:03 passes meanwhile: the unit is back in memory at
    // once, for the evening.
    app.set_local_time("2026-11-11T12:03");
    app.preheat().await;
    app.sweep().await;
    let status = sale.status(&app).await;
    assert_eq!((&status["state"], &status["skus"][0]["remaining"]), (&json!("paused"), &json!(1)), "{status}");
    app.set_local_time("2026-11-11T20:00");
    app.preheat().await;
    let evening = Acked::of(&b.order(&app, &sale, 0).await);
    c.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");

    // The sale ends at 22:00 with b's order unpaid; at 22:05 it times out. Nothing sells any
    // more: the unit goes back to the records only, and the status shows it once the
    // preheater (which runs every second) has refreshed the snapshot.
    app.set_local_time("2026-11-11T22:00");
    app.preheat().await;
    assert!(app.taken(ActivityId::from_raw(sale.id), SkuId::from_raw(sale.sku(0))).await.is_none());
    app.set_local_time("2026-11-11T22:05");
    app.sweep().await;
    let r = b.get_order(&app, evening.order_id).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["cancel_reason"].as_str()),
        (Some("cancelled"), Some("timeout")),
        "{}",
        r.text
    );
    app.preheat().await;
    let status = sale.status(&app).await;
    assert_eq!((&status["state"], &status["skus"][0]["remaining"]), (&json!("ended"), &json!(1)), "{status}");
    c.try_purchase_token(&app, &sale).await.assert_error(409, "ENDED");
    let late = order_body(sale.sku(0), 1, c.address, "none");
    c.send_order(&app, &sale, &late, None).await.assert_error(409, "ENDED");
    let tally = assert_order_invariants(&app, &sale, &[morning, evening]).await;
    assert_eq!(counts(&tally), [("cancelled", 2)]);
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_unit_goes_to_exactly_one_of_a_crowd_rushing_for_it(#[case] database: Database) {
    let app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(1)), ("/skus/1/stock", json!(1))]).await;
    let people = buyers(&app, "crowd", 42).await;
    let (first, rest) = people.split_first().unwrap();
    let (keeper, crowd) = rest.split_first().unwrap();
    let tokens: Vec<String> =
        futures::stream::iter(crowd).map(|b| b.purchase_token(&app, &sale)).buffered(16).collect().await;
    let mut acked = vec![Acked::of(&first.order(&app, &sale, 0).await), Acked::of(&keeper.order(&app, &sale, 1).await)];
    assert_eq!(sale.status(&app).await["state"], "sold_out");

    // Three times over: the holder of the only unit cancels while the crowd hammers "buy";
    // the winner holds it for the next round.
    let mut holder = (first.clone(), acked[0].order_id);
    let mut still_rushing: Vec<usize> = (0..crowd.len()).collect();
    for round in 0..3 {
        let sent = AtomicUsize::new(0);
        let cancelled = AtomicBool::new(false);
        let (sent, cancelled, app, sale) = (&sent, &cancelled, &app, &sale);
        let hammer = |i: usize| {
            let (buyer, token) = (&crowd[i], &tokens[i]);
            async move {
                let body = order_body(sale.sku(0), 1, buyer.address, token);
                // Each keeps pressing until it has pressed three times after the unit came back.
                let mut after = 0;
                for _ in 0..5_000 {
                    let back = cancelled.load(Ordering::SeqCst);
                    let r = buyer.send_order(app, sale, &body, None).await;
                    sent.fetch_add(1, Ordering::SeqCst);
                    if r.status == 201 {
                        return Some((i, Acked::of(&r)));
                    }
                    if r.status == 503 {
                        // The cluster shape holds a win back for a moment while instances
                        // acknowledge that the unit came back: retry, as a browser does.
                        r.assert_error(503, "OVERLOADED");
                        continue;
                    }
                    r.assert_error(409, "SOLD_OUT");
                    after += usize::from(back);
                    if after == 3 {
                        return None;
                    }
                }
                panic!("round {round}: crowd member {i} pressed 5000 times");
            }
        };
        let cancel = async {
            // Once the crowd is pressing (a hundred requests in), the holder cancels.
            let started = Instant::now();
            while sent.load(Ordering::SeqCst) < 100 {
                assert!(started.elapsed() < Duration::from_secs(10), "the crowd never got going");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            holder.0.cancel_order(app, holder.1).await.expect(200);
            cancelled.store(true, Ordering::SeqCst);
        };
        let (results, ()) = tokio::join!(futures::future::join_all(still_rushing.iter().map(|&i| hammer(i))), cancel);
        let winners: Vec<(usize, Acked)> = results.into_iter().flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one new winner: {winners:?}");
        let (i, won) = winners.into_iter().next().unwrap();
        acked.push(won.clone());
        let tally = assert_order_invariants(app, sale, &acked).await;
        assert_eq!(counts(&tally), [("cancelled", round + 1), ("pending_payment", 2)], "round {round}");
        assert_eq!(sale.status(app).await["state"], "sold_out", "round {round}: sold never exceeds stock");
        still_rushing.retain(|&j| j != i);
        holder = (crowd[i].clone(), won.order_id);
    }
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_cancellations_of_one_order_have_one_winner_and_return_its_unit_once(#[case] database: Database) {
    let app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(12)), ("/pay_timeout_secs", json!(300))]).await;
    let crowd = buyers(&app, "shopper", 12).await;
    let mut acked = Vec::new();
    for b in &crowd {
        acked.push(Acked::of(&b.order(&app, &sale, 0).await));
    }
    // Past the deadline, the shopper, the operator and the sweep all cancel each order at once.
    app.set_local_time("2026-11-11T10:05:00");
    let (app, sale) = (&app, &sale);
    let empty = json!({});
    let races = futures::future::join_all(crowd.iter().zip(&acked).map(|(b, o)| async {
        let (by_shopper, by_operator, _) = tokio::join!(
            b.cancel_order(app, o.order_id),
            admin_order(app, sale, o.order_id, "cancel", &empty),
            app.sweep(),
        );
        (by_shopper, by_operator)
    }));
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for ((by_shopper, by_operator), (b, o)) in races.await.into_iter().zip(crowd.iter().zip(&acked)) {
        let order = b.get_order(app, o.order_id).await.body;
        let reason = order["cancel_reason"].as_str().unwrap_or_else(|| panic!("not cancelled: {order}"));
        for (reply, who) in [(&by_shopper, "user"), (&by_operator, "admin")] {
            if reason == who {
                assert_eq!(reply.expect(200).body, order, "the winner's answer is the order");
            } else {
                reply.assert_error(409, "BAD_ORDER_STATE");
            }
        }
        *reasons.entry(reason.to_owned()).or_default() += 1;
    }
    eprintln!("cancellations won: {reasons:?}");
    assert_eq!(sale.remaining(app, 0).await, 12, "each unit came back once");
    let tally = assert_order_invariants(app, sale, &acked).await;
    assert_eq!(counts(&tally), [("cancelled", 12)]);
}

#[tokio::test]
async fn operators_list_orders_filtered_by_status_activity_and_shopper_a_page_at_a_time() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let other = second_sale(&app, &sale).await;
    let [a, b, c] = few_buyers(&app, "shopper").await;
    let mut placed = Vec::new();
    for (buyer, s, sku) in [(&a, &sale, 0), (&a, &other, 0), (&b, &sale, 1), (&c, &sale, 0), (&c, &other, 1)] {
        placed.push(Acked::of(&buyer.order(&app, s, sku).await).order_id);
        advance(&app, 1);
    }
    let [o1, o2, o3, o4, o5] = placed.try_into().unwrap();
    a.pay(&app, o1).await;
    c.pay(&app, o5).await;
    b.cancel_order(&app, o3).await.expect(200);

    let list = |query: String| {
        let (app, sale) = (&app, &sale);
        async move { ids(&admin_orders(app, sale, &query).await) }
    };
    let (s1, s2, ua, uc) = (sale.id, other.id, a.id(), c.id());
    assert_eq!(list("".to_owned()).await, [o5, o4, o3, o2, o1], "newest first");
    assert_eq!(list("?status=paid".to_owned()).await, [o5, o1]);
    assert_eq!(list("?status=cancelled".to_owned()).await, [o3]);
    assert_eq!(list("?status=pending_payment".to_owned()).await, [o4, o2]);
    assert_eq!(list("?status=shipped".to_owned()).await, Vec::<i64>::new());
    assert_eq!(list(format!("?activity_id={s1}")).await, [o4, o3, o1]);
    assert_eq!(list(format!("?activity_id={s2}&status=paid")).await, [o5]);
    assert_eq!(list(format!("?user_id={uc}")).await, [o5, o4]);
    assert_eq!(list(format!("?user_id={ua}&activity_id={s2}")).await, [o2]);
    assert_eq!(list(format!("?user_id={ua}&status=cancelled")).await, Vec::<i64>::new());
    assert_eq!(list("?activity_id=999999".to_owned()).await, Vec::<i64>::new());
    assert_eq!(
        list("?status=&activity_id=&user_id=".to_owned()).await,
        [o5, o4, o3, o2, o1],
        "blank filters are no filters"
    );

    // Pages of two: every order once, with the total and the page.
    let mut seen = Vec::new();
    for page in 1..=4 {
        let r = admin_orders(&app, &sale, &format!("?per_page=2&page={page}")).await;
        assert_eq!(
            (r.body["total"].as_u64(), r.body["page"].as_u64(), r.body["per_page"].as_u64()),
            (Some(5), Some(page), Some(2)),
            "{}",
            r.text
        );
        let got = ids(&r);
        assert_eq!(got.len(), [2, 2, 1, 0][page as usize - 1], "page {page}: {}", r.text);
        seen.extend(got);
    }
    assert_eq!(seen, [o5, o4, o3, o2, o1]);
    let r = admin_orders(&app, &sale, "?status=paid&per_page=1&page=2").await;
    assert_eq!((ids(&r), r.body["total"].as_u64()), (vec![o1], Some(2)));
    // Out-of-range paging is clamped: at most 200 a page, page 1 at least.
    let r = admin_orders(&app, &sale, "?per_page=1000&page=0").await;
    assert_eq!((r.body["page"].as_u64(), r.body["per_page"].as_u64(), ids(&r).len()), (Some(1), Some(200), 5));

    // Filters that are not values.
    for bad in ["?status=lost", "?status=PAID", "?activity_id=abc", "?activity_id=0", "?user_id=-1", "?page=x"] {
        let r = app.get(&format!("/api/admin/orders{bad}"), Some(&sale.admin)).await;
        r.assert_error(400, "BAD_REQUEST");
    }
}

#[tokio::test]
async fn operators_ship_paid_orders_only_and_the_shopper_confirms_receipt() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "shopper").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let id = order.order_id;
    let parcel = json!({"carrier": "顺丰速运", "tracking_no": "SF1234567890"});

    // Not paid yet.
    admin_order(&app, &sale, id, "ship", &parcel).await.assert_error(409, "BAD_ORDER_STATE");
    a.pay(&app, id).await;

    // A shipment needs a carrier and a tracking number.
    let r = admin_order(&app, &sale, id, "ship", &json!({"carrier": "", "tracking_no": "SF1"})).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("carrier").is_empty(), "{}", r.text);
    let r = admin_order(&app, &sale, id, "ship", &json!({"carrier": "  ", "tracking_no": " "})).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("carrier").is_empty() && !r.field("tracking_no").is_empty(), "{}", r.text);
    let r = admin_order(&app, &sale, id, "ship", &json!({"carrier": "顺丰速运"})).await;
    r.assert_error(400, "BAD_REQUEST");
    assert_eq!(a.get_order(&app, id).await.body["status"], "paid", "refused shipments change nothing");

    advance(&app, 3600);
    let r = admin_order(&app, &sale, id, "ship", &parcel).await;
    r.expect(200);
    assert_eq!(
        (r.body["status"].as_str(), r.body["carrier"].as_str(), r.body["tracking_no"].as_str()),
        (Some("shipped"), Some("顺丰速运"), Some("SF1234567890"))
    );
    assert_eq!(r.body["shipped_at"], rfc3339(app.now()));
    let shipped = a.get_order(&app, id).await;
    assert_eq!(shipped.body, r.body, "the shopper sees the parcel");

    // Shipped once; neither the operator nor the shopper can cancel it now.
    admin_order(&app, &sale, id, "ship", &parcel).await.assert_error(409, "BAD_ORDER_STATE");
    admin_order(&app, &sale, id, "cancel", &json!({})).await.assert_error(409, "BAD_ORDER_STATE");
    a.cancel_order(&app, id).await.assert_error(409, "BAD_ORDER_STATE");
    assert_eq!(a.get_order(&app, id).await.body, shipped.body);
    // Received: completed, and still counted as paid.
    let r = app.post(&format!("/api/me/orders/{id}/confirm"), &json!({}), Some(&a.shopper.token)).await;
    r.expect(200);
    assert_eq!(r.body["status"], "completed");
    admin_order(&app, &sale, id, "ship", &parcel).await.assert_error(409, "BAD_ORDER_STATE");
    admin_order(&app, &sale, 999_999, "ship", &parcel).await.assert_error(404, "NOT_FOUND");
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 1, remaining: 149, orders: 1, paid: 1 });
    let tally = assert_order_invariants(&app, &sale, &[order]).await;
    assert_eq!(counts(&tally), [("completed", 1)]);
}

#[tokio::test]
async fn operators_cancel_pending_and_paid_orders_and_each_unit_comes_back_once() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(2))]).await;
    let [a, b, c] = few_buyers(&app, "shopper").await;
    let pending = Acked::of(&a.order(&app, &sale, 0).await);
    let paid = Acked::of(&b.order(&app, &sale, 0).await);
    let payment = b.pay(&app, paid.order_id).await;
    c.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 2, remaining: 50, orders: 2, paid: 1 });

    // A pending order: cancelled by the operator, its unit back on sale, sold-out lifted.
    let r = admin_order(&app, &sale, pending.order_id, "cancel", &json!({})).await;
    r.expect(200);
    assert_eq!((r.body["status"].as_str(), r.body["cancel_reason"].as_str()), (Some("cancelled"), Some("admin")));
    assert_eq!(a.get_order(&app, pending.order_id).await.body, r.body, "the shopper sees why");
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 1, remaining: 51, orders: 1, paid: 1 });
    let bought = Acked::of(&c.order(&app, &sale, 0).await);

    // A paid order: cancelled with its payment marked for a refund; the unit back on sale.
    let r = admin_order(&app, &sale, paid.order_id, "cancel", &json!({})).await;
    r.expect(200);
    assert_eq!((r.body["status"].as_str(), r.body["cancel_reason"].as_str()), (Some("cancelled"), Some("admin")));
    assert!(r.body["paid_at"].is_string(), "it was paid: {}", r.text);
    assert_eq!(payment_status(&app, payment.payment_id).await, seckill_domain::payment::PaymentStatus::RefundNeeded);
    let page = app.reply(app.client.get(&payment.pay_url)).await;
    assert!(page.text.contains("refund_needed"), "{}", page.text);
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 1, remaining: 51, orders: 1, paid: 0 });
    assert_eq!(sale.remaining(&app, 0).await, 1);

    // Again, by anyone: nothing moves, no unit is given back twice.
    for id in [pending.order_id, paid.order_id] {
        admin_order(&app, &sale, id, "cancel", &json!({})).await.assert_error(409, "BAD_ORDER_STATE");
    }
    b.cancel_order(&app, paid.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    admin_order(&app, &sale, 999_999, "cancel", &json!({})).await.assert_error(404, "NOT_FOUND");
    app.sweep().await;
    assert_eq!(sale.remaining(&app, 0).await, 1);
    let tally = assert_order_invariants(&app, &sale, &[pending, paid, bought]).await;
    assert_eq!(counts(&tally), [("cancelled", 2), ("pending_payment", 1)]);
}

#[tokio::test]
async fn shopper_tokens_are_forbidden_on_the_operators_order_routes() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "shopper").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    a.pay(&app, order.order_id).await;
    let before = a.get_order(&app, order.order_id).await.body;
    let parcel = json!({"carrier": "SF", "tracking_no": "SF1"});
    let ship = format!("/api/admin/orders/{}/ship", order.order_id);
    let cancel = format!("/api/admin/orders/{}/cancel", order.order_id);
    let activity = format!("/api/admin/activities/{}", sale.id);

    for token in [Some(a.shopper.token.as_str()), None] {
        let (status, code) = if token.is_some() { (403, "FORBIDDEN") } else { (401, "UNAUTHENTICATED") };
        app.get("/api/admin/orders", token).await.assert_error(status, code);
        app.get("/api/admin/stats", token).await.assert_error(status, code);
        app.get(&activity, token).await.assert_error(status, code);
        app.post(&ship, &parcel, token).await.assert_error(status, code);
        app.post(&cancel, &json!({}), token).await.assert_error(status, code);
    }
    assert_eq!(a.get_order(&app, order.order_id).await.body, before, "nothing moved");
    assert_eq!(sale.remaining(&app, 0).await, crate::SALE_STOCK[0] - 1);
}

#[tokio::test]
async fn live_stats_show_request_rates_rejections_hot_skus_and_when_a_sku_sold_out() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(2))]).await;
    let [a, b, c, d] = few_buyers(&app, "shopper").await;
    let stats = || async {
        let r = app.get("/api/admin/stats", Some(&sale.admin)).await;
        r.expect(200);
        r.body
    };
    let quiet = stats().await;
    assert_eq!((quiet["requests_per_sec"].as_f64(), quiet["orders_created"].as_u64()), (Some(0.0), Some(0)), "{quiet}");
    assert_eq!(
        (quiet["rejections"].clone(), quiet["hot_skus"].clone(), quiet["sold_out"].clone()),
        (json!({}), json!([]), json!([]))
    );

    let first = Acked::of(&a.order(&app, &sale, 0).await);
    app.set_local_time("2026-11-11T10:00:05");
    let sold_out_at = app.now();
    let last = Acked::of(&b.order(&app, &sale, 0).await);
    app.set_local_time("2026-11-11T10:00:10");
    for buyer in [&c, &d, &a] {
        buyer.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    }
    let token = c.purchase_token(&app, &sale).await;
    let two = c.send_order(&app, &sale, &order_body(sale.sku(1), 2, c.address, &token), None).await;
    two.assert_error(409, "QUANTITY_TOO_LARGE");
    let other = Acked::of(&a.order(&app, &sale, 1).await);
    a.order(&app, &sale, 1).await.assert_error(409, "LIMIT_EXCEEDED");
    // A retried key gets its first order back: one order, counted once.
    let token = d.purchase_token(&app, &sale).await;
    let keyed = order_body(sale.sku(1), 1, d.address, &token);
    let won = Acked::of(&d.send_order(&app, &sale, &keyed, Some("d-retries")).await);
    let again = Acked::of(&d.send_order(&app, &sale, &keyed, Some("d-retries")).await);
    assert_eq!(again.order_id, won.order_id);
    // 10 order requests: 5 naming SKU 0, 4 naming SKU 1, and one refused before its SKU counts.

    let s = stats().await;
    assert_eq!(s["now"], rfc3339(app.now()));
    let series: Vec<u64> = s["requests_series"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(series.len(), 60, "a minute, second by second");
    assert_eq!(series.iter().sum::<u64>(), 10, "{s}");
    let last_ten: u64 = series.iter().rev().take(10).sum();
    assert_eq!(s["requests_per_sec"].as_f64(), Some(last_ten as f64 / 10.0), "{s}");
    assert!(last_ten > 0, "{s}");
    assert_eq!(s["orders_created"], 4, "{s}");
    assert_eq!(s["rejections"], json!({"SOLD_OUT": 3, "QUANTITY_TOO_LARGE": 1, "LIMIT_EXCEEDED": 1}));
    let hot: Vec<(i64, i64, u64)> = s["hot_skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["activity_id"].as_i64().unwrap(),
                h["sku_id"].as_i64().unwrap(),
                h["requests_last_minute"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hot, [(sale.id, sale.sku(0), 5), (sale.id, sale.sku(1), 4)], "hottest first: {s}");
    assert!(s["hot_skus"][0]["requests_per_sec"].as_f64().unwrap() > 0.0, "{s}");
    assert_eq!(s["sold_out"], json!([{"activity_id": sale.id, "sku_id": sale.sku(0), "at": rfc3339(sold_out_at)}]));
    let live = json!([{
        "id": sale.id,
        "name": sale.body["name"],
        "state": "running",
        "skus": [
            {"sku_id": sale.sku(0), "stock": 2, "sold": 2, "remaining": 0},
            {"sku_id": sale.sku(1), "stock": 50, "sold": 2, "remaining": 48},
        ],
    }]);
    assert_eq!(s["activities"], live);

    // A unit comes back: no longer sold out.
    admin_order(&app, &sale, first.order_id, "cancel", &json!({})).await.expect(200);
    let s = stats().await;
    assert_eq!(s["sold_out"], json!([]), "{s}");
    assert_eq!(s["activities"][0]["skus"][0], json!({"sku_id": sale.sku(0), "stock": 2, "sold": 1, "remaining": 1}));
    assert_order_invariants(&app, &sale, &[first, last, other, won]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_day_of_buying_paying_cancelling_and_timing_out_keeps_every_invariant() {
    let app = spawn_app().await;
    let sale = sale_running_now(
        &app,
        &[("/skus/0/stock", json!(12)), ("/skus/1/stock", json!(8)), ("/pay_timeout_secs", json!(600))],
    )
    .await;
    let crowd = buyers(&app, "crowd", 30).await;

    // The rush: 30 shoppers each press "buy" on both SKUs at once — 60 requests for 20 units.
    let rush = |crowd: &[Buyer]| {
        let (app, sale) = (&app, &sale);
        let shots: Vec<(Buyer, usize)> = crowd.iter().flat_map(|b| [(b.clone(), 0), (b.clone(), 1)]).collect();
        async move {
            let replies: Vec<Reply> = futures::stream::iter(shots)
                .map(|(b, sku)| async move { b.order(app, sale, sku).await })
                .buffer_unordered(24)
                .collect()
                .await;
            let mut won = Vec::new();
            for r in &replies {
                match r.status.as_u16() {
                    201 => won.push(Acked::of(r)),
                    _ => r.assert_error(409, "SOLD_OUT"),
                }
            }
            won.sort();
            won
        }
    };
    let mut acked = rush(&crowd).await;
    assert_eq!(acked.len(), 20, "the whole stock sells");
    assert_eq!(sale.status(&app).await["state"], "sold_out");
    let owner = |a: &Acked| crowd.iter().find(|b| b.id() == a.user_id).unwrap().clone();

    // After the rush, all at once: six pay through the sandbox, four cancel, ten do nothing.
    let (to_pay, rest) = acked.split_at(6);
    let (to_cancel, idle) = rest.split_at(4);
    let paying = futures::future::join_all(to_pay.iter().map(|o| {
        let (buyer, app) = (owner(o), &app);
        async move { buyer.pay(app, o.order_id).await }
    }));
    let cancelling = futures::future::join_all(to_cancel.iter().map(|o| {
        let (buyer, app) = (owner(o), &app);
        async move { buyer.cancel_order(app, o.order_id).await }
    }));
    let (_, cancels) = tokio::join!(paying, cancelling);
    for r in &cancels {
        assert_eq!(r.expect(200).body["cancel_reason"], "user");
    }
    // The operator refunds one paid order and ships another.
    admin_order(&app, &sale, to_pay[0].order_id, "cancel", &json!({})).await.expect(200);
    admin_order(&app, &sale, to_pay[1].order_id, "ship", &json!({"carrier": "SF", "tracking_no": "SF9"}))
        .await
        .expect(200);
    let tally = assert_order_invariants(&app, &sale, &acked).await;
    assert_eq!(counts(&tally), [("cancelled", 5), ("paid", 4), ("pending_payment", 10), ("shipped", 1)]);

    // The deadline passes: the ten idle orders time out, nothing else moves.
    app.set_local_time("2026-11-11T10:10:00");
    app.sweep().await;
    for o in idle {
        let r = owner(o).get_order(&app, o.order_id).await;
        assert_eq!(
            (r.body["status"].as_str(), r.body["cancel_reason"].as_str()),
            (Some("cancelled"), Some("timeout")),
            "{}",
            r.text
        );
    }
    let tally = assert_order_invariants(&app, &sale, &acked).await;
    assert_eq!(counts(&tally), [("cancelled", 15), ("paid", 4), ("shipped", 1)]);
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 5, remaining: 15, orders: 5, paid: 5 });

    // The fifteen units that came back sell again, to a second crowd, and no more.
    let second = buyers(&app, "late", 15).await;
    let again = rush(&second).await;
    assert_eq!(again.len(), 15, "every returned unit sells once");
    assert_eq!(sale.status(&app).await["state"], "sold_out");
    acked.extend(again);
    let tally = assert_order_invariants(&app, &sale, &acked).await;
    assert_eq!(counts(&tally), [("cancelled", 15), ("paid", 4), ("pending_payment", 15), ("shipped", 1)]);
    // Quiet means quiet: another sweep moves nothing.
    assert_eq!(app.sweep().await, 0);
    assert_eq!(assert_order_invariants(&app, &sale, &acked).await, tally);
}
