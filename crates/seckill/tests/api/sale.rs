//! A sale to rush, set up the way operators and shoppers would over HTTP, and the invariants of
//! DESIGN.md checked against the records after a scenario.
//!
//! [`create_sale`] puts the two SKUs of [`product_with_two_skus`] on sale on Singles' Day in the
//! 10:00–12:00 slot; [`sale_running_now`] also moves the clock to 10:00 and preheats, so the sale
//! is open. [`buyers`] registers shoppers with an address each; [`Buyer::order`] places an order.
//! [`assert_invariants`] checks invariants 1–4 of DESIGN.md against the records, the hot state,
//! the live status and the operators' figures.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt as _;
use reqwest::Method;
use seckill_domain::ids::{ActivityId, OrderId, SkuId, Ticket, UserId};
use seckill_domain::order::OrderStatus;
use seckill_testkit::{Reply, Shopper, TestApp};
use serde_json::{Value, json};

use crate::{TwoSkus, activity_body, address, create_activity, product_with_two_skus, slot, with};

/// An activity on sale and what it was made of.
#[derive(Debug, Clone)]
pub struct Sale {
    pub admin: String,
    pub product: TwoSkus,
    pub slot: i64,
    /// The activity's id.
    pub id: i64,
    /// The body it was created with (for `PUT`).
    pub body: Value,
}

impl Sale {
    /// `/api/activities/{id}{rest}`.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/activities/{}{rest}", self.id)
    }

    /// The id of SKU `i` (0 or 1).
    pub fn sku(&self, i: usize) -> i64 {
        self.product.skus[i]
    }

    /// The live status (`GET …/status`), which must answer 200.
    pub async fn status(&self, app: &TestApp) -> Value {
        let r = app.get(&self.path("/status"), None).await;
        r.expect(200);
        r.body
    }

    /// Units left of SKU `i` as `GET …/status` shows them.
    pub async fn remaining(&self, app: &TestApp, i: usize) -> i64 {
        let status = self.status(app).await;
        status["skus"]
            .as_array()
            .and_then(|skus| skus.iter().find(|s| s["sku_id"] == self.sku(i)))
            .and_then(|s| s["remaining"].as_i64())
            .unwrap_or_else(|| panic!("no sku {} in {status}", self.sku(i)))
    }

    /// Replaces the activity's definition with `body` (`PUT /api/admin/activities/{id}`).
    pub async fn update(&self, app: &TestApp, body: &Value) -> Reply {
        app.put(&format!("/api/admin/activities/{}", self.id), body, Some(&self.admin)).await
    }
}

/// Creates a sale of both SKUs on Singles' Day (2026-11-11, Shanghai) in the enabled
/// 10:00–12:00 slot: [`activity_body`] with each `(JSON pointer, value)` of `changes` applied
/// (e.g. `("/skus/0/stock", json!(3))`). The clock is not moved.
pub async fn create_sale(app: &TestApp, changes: &[(&str, Value)]) -> Sale {
    let admin = app.admin_token().await;
    let product = product_with_two_skus(app, &admin, "HUAWEI Mate 70 Pro").await;
    let ten = slot(app, &admin, "10点场", "10:00", "12:00").await;
    let mut body = activity_body(product, &[ten], app.local("2026-11-11T00:00"), app.local("2026-11-12T00:00"));
    for (pointer, value) in changes {
        body = with(&body, pointer, value.clone());
    }
    let id = create_activity(app, &admin, &body).await;
    Sale { admin, product, slot: ten, id, body }
}

/// [`create_sale`], then the clock at 10:00 on Singles' Day and a preheat step: the sale is
/// running and its stock is in memory.
pub async fn sale_running_now(app: &TestApp, changes: &[(&str, Value)]) -> Sale {
    let sale = create_sale(app, changes).await;
    app.set_local_time("2026-11-11T10:00");
    app.preheat().await;
    assert_eq!(sale.status(app).await["state"], "running");
    sale
}

/// A shopper with one delivery address.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub shopper: Shopper,
    pub address: i64,
}

/// Registers `n` shoppers `{prefix}-{i}` over HTTP (a few at a time), each with one address.
pub async fn buyers(app: &TestApp, prefix: &str, n: usize) -> Vec<Buyer> {
    futures::stream::iter(0..n)
        .map(|i| async move {
            let shopper = app.shopper(&format!("{prefix}-{i}")).await;
            let r = app.post("/api/me/addresses", &address(&shopper.username, Some(true)), Some(&shopper.token)).await;
            r.expect(201);
            Buyer { shopper, address: r.id("id") }
        })
        .buffered(16)
        .collect()
        .await
}

/// [`buyers`], as an array: `let [a, b] = few_buyers(&app, "shopper").await;`.
pub async fn few_buyers<const N: usize>(app: &TestApp, prefix: &str) -> [Buyer; N] {
    buyers(app, prefix, N).await.try_into().unwrap_or_else(|_| unreachable!("buyers makes exactly N"))
}

/// One order request of the hot path.
pub fn order_body(sku: i64, quantity: i64, address: i64, purchase_token: &str) -> Value {
    json!({
        "sku_id": sku,
        "quantity": quantity,
        "address_id": address,
        "pay_type": "online",
        "purchase_token": purchase_token,
    })
}

impl Buyer {
    /// The shopper's user id.
    pub fn id(&self) -> i64 {
        self.shopper.id
    }

    /// `POST …/reservations` as this buyer.
    pub async fn reserve(&self, app: &TestApp, sale: &Sale) -> Reply {
        app.post(&sale.path("/reservations"), &json!({}), Some(&self.shopper.token)).await
    }

    /// `POST …/purchase-token` as this buyer.
    pub async fn try_purchase_token(&self, app: &TestApp, sale: &Sale) -> Reply {
        app.post(&sale.path("/purchase-token"), &json!({}), Some(&self.shopper.token)).await
    }

    /// A purchase token for `sale`, which must be issued.
    pub async fn purchase_token(&self, app: &TestApp, sale: &Sale) -> String {
        let r = self.try_purchase_token(app, sale).await;
        r.expect(200);
        r.body["token"].as_str().unwrap_or_else(|| panic!("no token: {}", r.text)).to_owned()
    }

    /// `POST …/orders` with `body`, as this buyer, with an optional `Idempotency-Key`.
    pub async fn send_order(&self, app: &TestApp, sale: &Sale, body: &Value, key: Option<&str>) -> Reply {
        let mut req = app.client.request(Method::POST, app.url(&sale.path("/orders"))).bearer_auth(&self.shopper.token);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let reply = app.reply(req.json(body)).await;
        app.settle(&reply, &self.shopper.token).await
    }

    /// Orders one unit of SKU `i` to this buyer's address with a fresh purchase token.
    pub async fn order(&self, app: &TestApp, sale: &Sale, i: usize) -> Reply {
        let token = self.purchase_token(app, sale).await;
        self.send_order(app, sale, &order_body(sale.sku(i), 1, self.address, &token), None).await
    }
}

/// A `201` answer of the hot path: the order it names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acked {
    pub order_id: i64,
    pub ticket: String,
    pub user_id: i64,
    pub sku_id: i64,
}

impl Acked {
    /// The order of a `201` answer (panics, showing it, on anything else).
    #[track_caller]
    pub fn of(reply: &Reply) -> Acked {
        reply.expect(201);
        let order = &reply.body["order"];
        let int = |k: &str| order[k].as_i64().unwrap_or_else(|| panic!("no {k} in {}", reply.text));
        Acked {
            order_id: int("id"),
            ticket: order["ticket"].as_str().unwrap_or_else(|| panic!("no ticket in {}", reply.text)).to_owned(),
            user_id: int("user_id"),
            sku_id: int("sku_id"),
        }
    }
}

/// What the records say after a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Units sold per SKU id.
    pub sold: BTreeMap<i64, u32>,
    /// Non-cancelled orders.
    pub orders: usize,
}

/// Checks invariants 1–4 of DESIGN.md for `sale` once it is quiet, against the records:
/// 1. per SKU, `sold` = Σ quantity of its orders ≤ stock;
/// 2. per user, Σ quantity ≤ `total_limit`, each order's quantity ≤ `single_limit`, and no
///    idempotency key behind two orders;
/// 3. the hot state's units taken = `sold`, each user's bought quantity = their orders, and
///    `GET …/status` shows `stock − sold`; the operators' figures agree;
/// 4. every acknowledged order (`acked`, the 201 answers) is in the records once, with its
///    ticket, user and SKU — and nothing else is: the orders are exactly the acknowledged ones.
pub async fn assert_invariants(app: &TestApp, sale: &Sale, acked: &[Acked]) -> Totals {
    let records = app.records();
    let id = ActivityId::from_raw(sale.id);
    let activity = records.catalog.activity(id).await.unwrap();
    let hot = records.orders.hot_activity(id).await.unwrap();
    let (total_limit, single_limit) = (activity.rules.total_limit, activity.rules.single_limit);

    // 1. sold = Σ quantity ≤ stock, per SKU.
    let mut sold = BTreeMap::new();
    for sku in &activity.skus {
        let units: u32 = hot.holdings.iter().filter(|h| h.sku_id == sku.sku_id).map(|h| h.quantity).sum();
        assert_eq!(sku.sold, units, "sku {}: sold is the sum of its orders", sku.sku_id);
        assert!(sku.sold <= sku.stock, "sku {}: sold {} > stock {}", sku.sku_id, sku.sold, sku.stock);
        sold.insert(sku.sku_id.get(), sku.sold);
    }

    // 2. Limits per user and per order; one key, one order.
    let mut per_user: BTreeMap<UserId, u32> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for h in &hot.holdings {
        assert!(h.quantity <= single_limit, "an order of {} units over single_limit {single_limit}", h.quantity);
        *per_user.entry(h.user_id).or_default() += h.quantity;
        if let Some(k) = &h.idempotency_key {
            assert!(keys.insert((h.user_id, k.clone())), "user {} key {k:?} made two orders", h.user_id);
        }
    }
    for (user, units) in &per_user {
        assert!(*units <= total_limit, "user {user} holds {units} units, over total_limit {total_limit}");
    }

    // 3. Hot state = records, and the status and figures show it.
    let loaded = app.taken(id, SkuId::from_raw(sale.sku(0))).await.is_some();
    let status = sale.status(app).await;
    for sku in &activity.skus {
        if loaded {
            assert_eq!(app.taken(id, sku.sku_id).await, Some(sku.sold), "sku {}: units taken", sku.sku_id);
        }
        let shown = status["skus"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["sku_id"] == sku.sku_id.get()))
            .unwrap_or_else(|| panic!("sku {} missing from {status}", sku.sku_id));
        assert_eq!(shown["remaining"], sku.stock - sku.sold, "sku {}: remaining = stock − sold: {status}", sku.sku_id);
        assert_eq!(shown["sold_out"], sku.stock == sku.sold, "{status}");
    }
    if loaded {
        for (user, units) in &per_user {
            assert_eq!(app.bought(id, *user).await, *units, "user {user}: bought in memory");
        }
    }
    let admin = app.get(&format!("/api/admin/activities/{}", sale.id), Some(&sale.admin)).await;
    admin.expect(200);
    let total_sold: u32 = sold.values().sum();
    let total_stock: u32 = activity.skus.iter().map(|s| s.stock).sum();
    assert_eq!(admin.body["figures"]["sold"], total_sold, "{}", admin.text);
    assert_eq!(admin.body["figures"]["orders"], hot.holdings.len(), "{}", admin.text);
    assert_eq!(admin.body["figures"]["remaining"], total_stock - total_sold, "{}", admin.text);

    // 4. Every acknowledged order, once, as answered; and no other order.
    let mut ids = BTreeSet::new();
    for a in acked {
        ids.insert(a.order_id);
        let order = records.orders.order(OrderId::from_raw(a.order_id)).await.unwrap();
        assert_eq!(order.ticket.to_string(), a.ticket, "order {}", a.order_id);
        assert_eq!((order.user_id.get(), order.sku_id.get()), (a.user_id, a.sku_id), "order {}", a.order_id);
        assert_eq!(order.activity_id, id);
        assert_eq!(order.status, OrderStatus::PendingPayment);
        let ticket: Ticket = a.ticket.parse().unwrap();
        let by_ticket = records.orders.order_by_ticket(ticket).await.unwrap();
        assert_eq!(by_ticket.map(|o| o.id.get()), Some(a.order_id), "ticket {}", a.ticket);
    }
    assert_eq!(ids.len(), hot.holdings.len(), "the orders are exactly the acknowledged ones");
    Totals { sold, orders: hot.holdings.len() }
}
