//! The rush over real HTTP (issue 3): a crowd of concurrent shoppers against a small stock with
//! limits, every rejection code of the hot path, reservations and tickets, the lifecycle of a
//! sale across slots and midnight in Asia/Shanghai with the injected clock, changes while live,
//! and a restart in the middle of a sale — each checked against the records with the invariants
//! of DESIGN.md ([`assert_invariants`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::StreamExt as _;
use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;
use reqwest::Method;
use rstest::rstest;
use seckill_domain::ids::{ActivityId, SkuId, Ticket, UserId};
use seckill_domain::token::{Audience, Claims, TokenKey};
use seckill_testkit::{AppOptions, Database, Reply, TestApp, spawn_app, spawn_app_with};
use serde_json::json;

use crate::sale::{
    Acked, Buyer, Sale, assert_invariants, buyers, create_sale, few_buyers, order_body, sale_running_now,
};
use crate::{address, create_activity, product_with_two_skus, with};

/// One order request of a crowd.
#[derive(Debug, Clone)]
struct Shot {
    buyer: usize,
    /// SKU index (0 or 1).
    sku: usize,
    quantity: i64,
    key: Option<String>,
}

/// What a crowd's request got.
#[derive(Debug)]
struct Answer {
    shot: Shot,
    reply: Reply,
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_three_hundred_shoppers_buys_exactly_the_stock_and_never_past_a_limit(#[case] database: Database) {
    let started = Instant::now();
    let app = spawn_app_with(AppOptions::on(database)).await;
    // 100 units on two SKUs, two per shopper, one per order: 300 shoppers want 600.
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(60)), ("/skus/1/stock", json!(40))]).await;
    let crowd = buyers(&app, "crowd", 300).await;
    let tokens: Vec<String> =
        futures::stream::iter(&crowd).map(|b| b.purchase_token(&app, &sale)).buffered(32).collect().await;
    let setup = started.elapsed();

    // Ten requests per shopper, in two bursts of five sent at once (a shopper pressing "buy"
    // again and again). Every third shopper sends one keyed request three times at once (a
    // client retrying before the first answer) and another twice; every fifth asks for two
    // units once (over single_limit). The 600 bursts go out in a shuffled order, 25 at a time:
    // about 125 requests in flight from about 25 shoppers.
    let mut volleys: Vec<Vec<Shot>> = Vec::new();
    for i in 0..crowd.len() {
        let shot = |n: usize, quantity: i64, key: Option<String>| Shot { buyer: i, sku: (i + n) % 2, quantity, key };
        let mut shots = Vec::new();
        if i % 3 == 0 {
            shots.extend(vec![shot(0, 1, Some(format!("crowd-{i}-a"))); 3]);
            shots.extend(vec![shot(1, 1, Some(format!("crowd-{i}-b"))); 2]);
        }
        if i % 5 == 0 {
            shots.push(shot(shots.len(), 2, None));
        }
        while shots.len() < 10 {
            shots.push(shot(shots.len(), 1, None));
        }
        let second = shots.split_off(5);
        volleys.push(shots);
        volleys.push(second);
    }
    volleys.shuffle(&mut rand::rngs::StdRng::seed_from_u64(3));
    let requests: usize = volleys.iter().map(Vec::len).sum();
    assert_eq!(requests, 3000);

    let fire = |shot: Shot| {
        let (buyer, token, sale) = (&crowd[shot.buyer], &tokens[shot.buyer], &sale);
        let app = &app;
        async move {
            let body = order_body(sale.sku(shot.sku), shot.quantity, buyer.address, token);
            let reply = buyer.send_order(app, sale, &body, shot.key.as_deref()).await;
            Answer { shot, reply }
        }
    };
    let rush_started = Instant::now();
    let answers: Vec<Answer> = futures::stream::iter(volleys)
        .map(|volley| futures::future::join_all(volley.into_iter().map(fire)))
        .buffer_unordered(25)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    let rush = rush_started.elapsed();
    assert_eq!(answers.len(), requests);

    // Every answer is a 201 or a rejection the funnel can give to this request.
    let mut codes: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for a in &answers {
        let (status, code) = (a.reply.status.as_u16(), a.reply.code());
        *codes.entry((status, code.to_owned())).or_default() += 1;
        match (status, code) {
            (201, _) => assert_eq!(a.shot.quantity, 1),
            (409, "QUANTITY_TOO_LARGE") => assert_eq!(a.shot.quantity, 2),
            (409, "LIMIT_EXCEEDED") => assert_eq!(a.shot.quantity, 1),
            // Once every SKU is gone, the short-circuit answers before the body is read.
            (409, "SOLD_OUT") => {}
            _ => panic!("unexpected answer to {:?}: {} {}", a.shot, a.reply.status, a.reply.text),
        }
        if status != 201 {
            a.reply.assert_error(status, code);
        }
    }

    // One key, one order: every 201 to one key names the same order, and a retry after the
    // rush answers that order again (or, for a key that never won, a rejection).
    let mut by_key: BTreeMap<(usize, String), BTreeSet<i64>> = BTreeMap::new();
    for a in &answers {
        if let Some(k) = &a.shot.key {
            let orders = by_key.entry((a.shot.buyer, k.clone())).or_default();
            if a.reply.status == 201 {
                orders.insert(Acked::of(&a.reply).order_id);
            }
        }
    }
    // The twins of a key that won were not told it is sold out, over the limit or to retry:
    // they got the order too, even while it was still being written.
    for a in &answers {
        if let Some(k) = &a.shot.key
            && by_key[&(a.shot.buyer, k.clone())].len() == 1
        {
            assert_eq!(a.reply.status, 201, "a twin of winning key {k}: {}", a.reply.text);
        }
    }
    let mut acked: BTreeMap<i64, Acked> = BTreeMap::new();
    for a in answers.iter().filter(|a| a.reply.status == 201) {
        let order = Acked::of(&a.reply);
        assert_eq!(order.user_id, crowd[a.shot.buyer].id());
        assert_eq!(order.sku_id, sale.sku(a.shot.sku));
        assert_eq!(a.reply.body["order"]["quantity"], 1);
        if let Some(same) = acked.insert(order.order_id, order.clone()) {
            assert_eq!(same, order, "two answers naming order {} agree", order.order_id);
            assert!(a.shot.key.is_some(), "only a retried key answers an order twice: {:?}", a.shot);
        }
    }
    let acked: Vec<Acked> = acked.into_values().collect();
    let mut per_user: BTreeMap<i64, usize> = BTreeMap::new();
    for a in &acked {
        *per_user.entry(a.user_id).or_default() += 1;
    }
    assert!(per_user.values().all(|n| *n <= 2), "nobody got more than two orders: {per_user:?}");
    assert_eq!(acked.len(), 100, "the crowd buys the whole stock, no unit lost: {codes:?}");

    let totals = assert_invariants(&app, &sale, &acked).await;
    assert_eq!(totals.sold.values().sum::<u32>(), 100);
    for ((buyer, key), orders) in &by_key {
        assert!(orders.len() <= 1, "key {key} made orders {orders:?}");
        let b = &crowd[*buyer];
        let retry = b.send_order(&app, &sale, &order_body(sale.sku(0), 1, b.address, &tokens[*buyer]), Some(key)).await;
        match orders.first() {
            Some(order) => {
                assert_eq!(Acked::of(&retry).order_id, *order, "a retry with key {key} returns its order")
            }
            None => assert!(
                ["SOLD_OUT", "LIMIT_EXCEEDED"].contains(&retry.code()),
                "key {key} never won, and there is nothing left: {}",
                retry.text
            ),
        }
    }
    // Retries created nothing.
    assert_eq!(assert_invariants(&app, &sale, &acked).await, totals);

    // Sold out: answered from memory, and purchase tokens are still issued (stock may come back).
    assert_eq!(sale.status(&app).await["state"], "sold_out");
    let late = &crowd[1];
    let token = late.purchase_token(&app, &sale).await;
    late.send_order(&app, &sale, &order_body(sale.sku(1), 1, late.address, &token), None)
        .await
        .assert_error(409, "SOLD_OUT");
    eprintln!(
        "crowd: setup of 300 shoppers {setup:.2?}; {requests} orders in {rush:.2?}; answers {codes:?}; total {:.2?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sold_out_over_the_limit_and_too_many_per_order_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(3)), ("/skus/1/stock", json!(1))]).await;
    let [a, b, c, d] = few_buyers(&app, "few").await;
    let mut acked = vec![Acked::of(&a.order(&app, &sale, 0).await), Acked::of(&a.order(&app, &sale, 1).await)];
    // Two is a's total_limit, whatever the SKU.
    a.order(&app, &sale, 0).await.assert_error(409, "LIMIT_EXCEEDED");
    // The one unit of SKU 1 is gone.
    b.order(&app, &sale, 1).await.assert_error(409, "SOLD_OUT");
    assert_eq!(sale.remaining(&app, 1).await, 0);
    // Two units in one order is over single_limit, even with stock left and room in the limit.
    let token = b.purchase_token(&app, &sale).await;
    let two = b.send_order(&app, &sale, &order_body(sale.sku(0), 2, b.address, &token), None).await;
    two.assert_error(409, "QUANTITY_TOO_LARGE");
    acked.push(Acked::of(&b.order(&app, &sale, 0).await));
    acked.push(Acked::of(&c.order(&app, &sale, 0).await));
    // Everything is gone: sold out from memory, purchase tokens still issued (stock may come back).
    assert_eq!(sale.status(&app).await["state"], "sold_out");
    d.purchase_token(&app, &sale).await;
    d.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    b.order(&app, &sale, 1).await.assert_error(409, "SOLD_OUT");
    let totals = assert_invariants(&app, &sale, &acked).await;
    assert_eq!(totals.sold.values().copied().collect::<Vec<_>>(), [3, 1]);
}

#[tokio::test]
async fn disabling_a_running_sale_stops_orders_at_once_and_enabling_resumes_them_with_counters_kept() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let token = a.purchase_token(&app, &sale).await;
    let body = order_body(sale.sku(0), 1, a.address, &token);
    let mut acked = vec![Acked::of(&a.send_order(&app, &sale, &body, None).await)];

    let admin_path = format!("/api/admin/activities/{}", sale.id);
    app.post(&format!("{admin_path}/disable"), &json!({}), Some(&sale.admin)).await.expect(200);
    // At once: no clock moved, no preheat step run by the test.
    a.send_order(&app, &sale, &body, None).await.assert_error(409, "DISABLED");
    b.try_purchase_token(&app, &sale).await.assert_error(409, "DISABLED");
    b.reserve(&app, &sale).await.assert_error(409, "DISABLED");
    assert_eq!(sale.status(&app).await["state"], "disabled");
    assert_invariants(&app, &sale, &acked).await;

    app.post(&format!("{admin_path}/enable"), &json!({}), Some(&sale.admin)).await.expect(200);
    acked.push(Acked::of(&a.send_order(&app, &sale, &body, None).await));
    // What a bought before the switch still counts.
    a.send_order(&app, &sale, &body, None).await.assert_error(409, "LIMIT_EXCEEDED");
    acked.push(Acked::of(&b.order(&app, &sale, 1).await));
    assert_invariants(&app, &sale, &acked).await;
}

/// Signs `buyer` in again, for a token that carries their current level.
async fn sign_in_again(app: &TestApp, buyer: &mut Buyer) {
    let name = &buyer.shopper.username;
    let r = app.post("/api/sessions", &json!({"username": name, "password": format!("{name}-password")}), None).await;
    r.expect(200);
    buyer.shopper.token = r.body["token"].as_str().unwrap().to_owned();
}

async fn set_level(app: &TestApp, sale: &Sale, buyer: &Buyer, level: u8) {
    let r = app.put(&format!("/api/admin/users/{}", buyer.id()), &json!({"level": level}), Some(&sale.admin)).await;
    r.expect(200);
    assert_eq!(r.body["level"], level);
}

#[tokio::test]
async fn min_level_and_reservations_decide_who_may_buy() {
    let app = spawn_app().await;
    let sale = create_sale(&app, &[("/min_level", json!(3)), ("/reservation_required", json!(true))]).await;
    let [mut gold, mut bronze, mut walk_in, mut late] = few_buyers(&app, "member").await;
    for b in [&mut gold, &mut walk_in, &mut late] {
        set_level(&app, &sale, b, 3).await;
        sign_in_again(&app, b).await;
    }

    // Before the start: 201 the first time, 200 again.
    let r = gold.reserve(&app, &sale).await;
    r.expect(201);
    assert_eq!((r.body["activity_id"].as_i64(), r.body["user_id"].as_i64()), (Some(sale.id), Some(gold.id())));
    assert_eq!(r.body["reserved"], true);
    gold.reserve(&app, &sale).await.expect(200);
    bronze.reserve(&app, &sale).await.expect(201);
    gold.try_purchase_token(&app, &sale).await.assert_error(409, "NOT_STARTED");

    // A reservation made after the preheat loaded the sale still counts.
    app.set_local_time("2026-11-11T09:56");
    app.preheat().await;
    assert!(app.taken(ActivityId::from_raw(sale.id), SkuId::from_raw(sale.sku(0))).await.is_some());
    late.reserve(&app, &sale).await.expect(201);

    // Once the first window opens, reservations are closed, even repeated ones.
    app.set_local_time("2026-11-11T10:00");
    walk_in.reserve(&app, &sale).await.assert_error(409, "RESERVATION_CLOSED");
    gold.reserve(&app, &sale).await.assert_error(409, "RESERVATION_CLOSED");
    let mut acked = vec![Acked::of(&gold.order(&app, &sale, 0).await), Acked::of(&late.order(&app, &sale, 1).await)];

    // Level 0 < min_level 3, reserved or not; checked before the purchase token.
    bronze.try_purchase_token(&app, &sale).await.assert_error(403, "LEVEL_TOO_LOW");
    let no_token = json!({"sku_id": sale.sku(0), "address_id": bronze.address});
    bronze.send_order(&app, &sale, &no_token, None).await.assert_error(403, "LEVEL_TOO_LOW");
    // Level 3 without a reservation.
    walk_in.try_purchase_token(&app, &sale).await.assert_error(403, "NOT_RESERVED");
    let no_token = json!({"sku_id": sale.sku(0), "address_id": walk_in.address});
    walk_in.send_order(&app, &sale, &no_token, None).await.assert_error(403, "NOT_RESERVED");

    // A new level shows in the next session, not in the token already held.
    set_level(&app, &sale, &bronze, 3).await;
    bronze.try_purchase_token(&app, &sale).await.assert_error(403, "LEVEL_TOO_LOW");
    sign_in_again(&app, &mut bronze).await;
    acked.push(Acked::of(&bronze.order(&app, &sale, 0).await));
    assert_invariants(&app, &sale, &acked).await;
}

#[tokio::test]
async fn bad_purchase_tokens_are_refused_missing_forged_expired_or_not_this_shoppers() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    // A second sale running at the same time, of another product.
    let other_product = product_with_two_skus(&app, &sale.admin, "HUAWEI Pura 80").await;
    let other_body = crate::singles_day(&app, other_product, &[sale.slot]);
    let other_id = create_activity(&app, &sale.admin, &other_body).await;
    let other = Sale { id: other_id, product: other_product, body: other_body, ..sale.clone() };
    app.preheat().await;
    let [a, b] = few_buyers(&app, "shopper").await;

    let token = a.purchase_token(&app, &sale).await;
    let order = |t: &str| order_body(sale.sku(0), 1, a.address, t);
    let refused = |r: Reply| r.assert_error(403, "BAD_PURCHASE_TOKEN");
    // Missing, empty, garbage.
    refused(a.send_order(&app, &sale, &json!({"sku_id": sale.sku(0), "address_id": a.address}), None).await);
    refused(a.send_order(&app, &sale, &order(""), None).await);
    refused(a.send_order(&app, &sale, &order("not.a-token"), None).await);
    // Forged: a changed signature, or the right claims signed with another key.
    let (payload, mac) = token.split_once('.').unwrap();
    let flipped = format!("{payload}.{}{}", if mac.starts_with('A') { 'B' } else { 'A' }, &mac[1..]);
    refused(a.send_order(&app, &sale, &order(&flipped), None).await);
    let claims = Claims {
        audience: Audience::Purchase,
        subject: a.id(),
        expires_at: app.now().as_second() + 60,
        level: 0,
        activity: sale.id,
    };
    let forged = TokenKey::new(b"not the server's secret, but long enough").sign(&claims);
    refused(a.send_order(&app, &sale, &order(&forged), None).await);
    // Genuine, but another shopper's, another activity's, or a session token.
    let bs = b.purchase_token(&app, &sale).await;
    refused(a.send_order(&app, &sale, &order(&bs), None).await);
    let other_activity = a.purchase_token(&app, &other).await;
    refused(a.send_order(&app, &sale, &order(&other_activity), None).await);
    refused(a.send_order(&app, &sale, &order(&a.shopper.token), None).await);
    // Expired: a token lives 60 s.
    app.set_local_time("2026-11-11T10:01");
    refused(a.send_order(&app, &sale, &order(&token), None).await);
    assert_invariants(&app, &sale, &[]).await;

    // A fresh one of a's own works, for this activity only.
    let fresh = a.purchase_token(&app, &sale).await;
    let acked = vec![Acked::of(&a.send_order(&app, &sale, &order(&fresh), None).await)];
    assert_invariants(&app, &sale, &acked).await;
}

#[tokio::test]
async fn an_unknown_sku_or_someone_elses_address_is_refused_and_the_stock_comes_back() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let stranger = product_with_two_skus(&app, &sale.admin, "Not on sale").await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let token = a.purchase_token(&app, &sale).await;

    for sku in [stranger.skus[0], 999_999, 0, -3] {
        let r = a.send_order(&app, &sale, &order_body(sku, 1, a.address, &token), None).await;
        r.assert_error(404, "UNKNOWN_SKU");
    }
    // b's address, with a key: refused once the writer sees the address is not a's, and the
    // unit taken for it is back.
    let on_bs = order_body(sale.sku(0), 1, b.address, &token);
    a.send_order(&app, &sale, &on_bs, Some("checkout-1")).await.assert_error(404, "UNKNOWN_ADDRESS");
    assert_eq!(sale.remaining(&app, 0).await, 100);
    let id = ActivityId::from_raw(sale.id);
    assert_eq!(app.taken(id, SkuId::from_raw(sale.sku(0))).await, Some(0));
    assert_eq!(app.bought(id, UserId::from_raw(a.id())).await, 0);
    for address in [999_999, 0] {
        let r = a.send_order(&app, &sale, &order_body(sale.sku(0), 1, address, &token), None).await;
        r.assert_error(404, "UNKNOWN_ADDRESS");
    }
    // A deleted address of a's own.
    let r = app.post("/api/me/addresses", &address("old flat", Some(false)), Some(&a.shopper.token)).await;
    r.expect(201);
    let old = r.id("id");
    let r = app.delete(&format!("/api/me/addresses/{old}"), Some(&a.shopper.token)).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = a.send_order(&app, &sale, &order_body(sale.sku(0), 1, old, &token), None).await;
    r.assert_error(404, "UNKNOWN_ADDRESS");
    assert_invariants(&app, &sale, &[]).await;

    // The refused request stored nothing, so its key is free: with a's own address it buys.
    let mine = order_body(sale.sku(0), 1, a.address, &token);
    let first = Acked::of(&a.send_order(&app, &sale, &mine, Some("checkout-1")).await);
    let again = a.send_order(&app, &sale, &mine, Some("checkout-1")).await;
    assert_eq!(Acked::of(&again), first, "a retry returns the first order");
    assert_eq!(again.body["order"]["address"]["contact"], a.shopper.username);
    assert_invariants(&app, &sale, &[first]).await;
}

#[tokio::test]
async fn a_ticket_answers_its_own_shopper_only() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a, b] = few_buyers(&app, "shopper").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let path = format!("/api/tickets/{}", order.ticket);

    let r = app.get(&path, Some(&a.shopper.token)).await;
    r.expect(200);
    assert_eq!(r.body, json!({"status": "created", "order_id": order.order_id}));
    // Another shopper's ticket does not exist for b; nor does an unknown or malformed one.
    app.get(&path, Some(&b.shopper.token)).await.assert_error(404, "NOT_FOUND");
    let unknown = Ticket::new(app.now()).to_string();
    app.get(&format!("/api/tickets/{unknown}"), Some(&a.shopper.token)).await.assert_error(404, "NOT_FOUND");
    for garbage in ["not-a-ticket", "0", "%20"] {
        let r = app.get(&format!("/api/tickets/{garbage}"), Some(&a.shopper.token)).await;
        assert!([400, 404].contains(&r.status.as_u16()), "{garbage}: {}", r.text);
        assert!(r.body["error"]["code"].is_string(), "{}", r.text);
    }
    app.get(&path, None).await.assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn malformed_order_requests_are_refused_before_anything_is_taken() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "shopper").await;
    let token = a.purchase_token(&app, &sale).await;
    let path = sale.path("/orders");
    let good = order_body(sale.sku(0), 1, a.address, &token);

    // No shopper token at all.
    app.post(&path, &good, None).await.assert_error(401, "UNAUTHENTICATED");
    app.post(&sale.path("/purchase-token"), &json!({}), None).await.assert_error(401, "UNAUTHENTICATED");
    app.post(&sale.path("/reservations"), &json!({}), None).await.assert_error(401, "UNAUTHENTICATED");
    // Not JSON, broken JSON, missing or mistyped fields.
    let t = Some(a.shopper.token.as_str());
    app.raw(Method::POST, &path, Some("text/plain"), good.to_string(), t)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    app.raw(Method::POST, &path, None, good.to_string(), t).await.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    app.raw(Method::POST, &path, Some("application/json"), "{", t).await.assert_error(400, "BAD_REQUEST");
    for missing in ["sku_id", "address_id"] {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(missing);
        a.send_order(&app, &sale, &body, None).await.assert_error(400, "BAD_REQUEST");
    }
    let r = a.send_order(&app, &sale, &with(&good, "/sku_id", json!("twelve")), None).await;
    r.assert_error(400, "BAD_REQUEST");
    // Well-formed but invalid values.
    for q in [0, -1] {
        let r = a.send_order(&app, &sale, &with(&good, "/quantity", json!(q)), None).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field("quantity").is_empty(), "{}", r.text);
    }
    let r = a.send_order(&app, &sale, &with(&good, "/pay_type", json!("cash_on_delivery")), None).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("pay_type").is_empty(), "{}", r.text);
    // Bad Idempotency-Keys: too long, empty, not printable ASCII.
    let longest = "k".repeat(64);
    for key in ["k".repeat(65), String::new(), "two words".to_owned()] {
        a.send_order(&app, &sale, &good, Some(&key)).await.assert_error(400, "BAD_REQUEST");
    }
    // An activity that does not exist.
    let r = app.post("/api/activities/999999/orders", &good, t).await;
    r.assert_error(404, "NOT_FOUND");
    assert_invariants(&app, &sale, &[]).await;
    assert_eq!(app.taken(ActivityId::from_raw(sale.id), SkuId::from_raw(sale.sku(0))).await, Some(0));

    // The same request, well made, buys — with the longest key allowed.
    let acked = vec![Acked::of(&a.send_order(&app, &sale, &good, Some(&longest)).await)];
    assert_invariants(&app, &sale, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_over_their_request_budget_is_told_when_to_retry_and_buys_nothing_more() {
    let app = spawn_app_with(AppOptions { rate_limits: true, ..AppOptions::default() }).await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "eager").await;
    let token = a.purchase_token(&app, &sale).await;
    let body = order_body(sale.sku(0), 1, a.address, &token);
    // Forty at once: the budget is 10 a second with bursts of 20 (the purchase token spent one).
    let sent = Instant::now();
    let replies: Vec<Reply> = futures::future::join_all((0..40).map(|_| a.send_order(&app, &sale, &body, None))).await;
    let refills = (10.0 * sent.elapsed().as_secs_f64()).ceil() as usize;
    let mut acked = Vec::new();
    let mut limited = 0;
    for r in &replies {
        match r.status.as_u16() {
            201 => acked.push(Acked::of(r)),
            429 => {
                r.assert_error(429, "RATE_LIMITED");
                let secs: u32 = r.header("retry-after").parse().unwrap_or_else(|_| panic!("Retry-After: {r:?}"));
                assert!(secs >= 1, "{secs}");
                limited += 1;
            }
            _ => r.assert_error(409, "LIMIT_EXCEEDED"),
        }
    }
    assert!(40 - limited <= 19 + refills, "{limited} of 40 limited, {refills} refills");
    assert_eq!(acked.len(), 2, "the rest were over total_limit or the budget");
    assert_invariants(&app, &sale, &acked).await;
}

/// Holds the SQLite write lock of `app`'s records from another connection, as a stalled disk
/// would, until dropped or [`released`](WriteLock::release).
struct WriteLock(sqlx::SqliteConnection);

impl WriteLock {
    async fn take(app: &TestApp) -> WriteLock {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(app.data_dir().join("seckill.db"));
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
        WriteLock(conn)
    }

    async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_order_queue_sheds_requests_with_503_and_retry_after_and_keeps_their_stock() {
    let app = spawn_app_with(AppOptions { configure: |s| s.order_queue_capacity = 1, ..AppOptions::default() }).await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(10))]).await;
    let crowd = buyers(&app, "shopper", 10).await;
    let tokens: Vec<String> =
        futures::stream::iter(&crowd).map(|b| b.purchase_token(&app, &sale)).buffered(10).collect().await;
    let orders: Vec<serde_json::Value> =
        crowd.iter().zip(&tokens).map(|(b, t)| order_body(sale.sku(0), 1, b.address, t)).collect();

    // The writer stalls on the records: one batch waits for the lock (two drafts at most), one
    // draft waits in the queue, and every other request is shed at once.
    let lock = WriteLock::take(&app).await;
    let (app, sale) = (&app, &sale);
    let mut pending: futures::stream::FuturesUnordered<_> = crowd
        .iter()
        .zip(&orders)
        .enumerate()
        .map(|(i, (b, body))| async move { (i, b.send_order(app, sale, body, None).await) })
        .collect();
    let mut shed = Vec::new();
    while shed.len() < 7 {
        let (i, r) = pending.next().await.unwrap();
        r.assert_error(503, "OVERLOADED");
        assert_eq!(r.header("retry-after"), "1");
        shed.push(i);
    }
    lock.release().await;
    let mut acked = Vec::new();
    while let Some((i, r)) = pending.next().await {
        match r.status.as_u16() {
            201 => acked.push(Acked::of(&r)),
            _ => {
                r.assert_error(503, "OVERLOADED");
                shed.push(i);
            }
        }
    }
    assert!(!acked.is_empty(), "what was queued is written once the records answer");
    // Shed requests created nothing and their units are still on sale.
    assert_invariants(app, sale, &acked).await;
    assert_eq!(sale.remaining(app, 0).await, 10 - acked.len() as i64);
    // Retrying as told, one at a time, buys.
    for i in shed {
        acked.push(Acked::of(&crowd[i].send_order(app, sale, &orders[i], None).await));
    }
    assert_eq!(acked.len(), 10);
    assert_invariants(app, sale, &acked).await;
    assert_eq!(sale.status(app).await["skus"][0]["sold_out"], true);
}

/// Whether the SKUs of `sale` carry the seckill tag, as operators see the product.
async fn tagged(app: &TestApp, sale: &Sale) -> [bool; 2] {
    let r = app.get(&format!("/api/admin/products/{}", sale.product.id), Some(&sale.admin)).await;
    r.expect(200);
    let tag = |i: usize| r.body["skus"][i]["seckill"].as_bool().unwrap_or_else(|| panic!("no tag: {}", r.text));
    [tag(0), tag(1)]
}

async fn loaded(app: &TestApp, sale: &Sale) -> bool {
    app.taken(ActivityId::from_raw(sale.id), SkuId::from_raw(sale.sku(0))).await.is_some()
}

#[tokio::test]
async fn a_sale_follows_its_windows_across_slots_and_midnight_in_shanghai() {
    // 2026-11-10 08:00 in Shanghai. Slots 10:00–12:00, 22:00–24:00 and 00:00–01:00; the sale
    // runs from 08:00 on Singles' Day to 08:00 the day after, so its windows are 10:00–12:00
    // and 22:00–01:00 (merged across midnight).
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = product_with_two_skus(&app, &admin, "HUAWEI Mate 70 Pro").await;
    let ten = crate::slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let late = crate::slot(&app, &admin, "22点场", "22:00", "24:00").await;
    let night = crate::slot(&app, &admin, "0点场", "00:00", "01:00").await;
    let body = crate::activity_body(
        product,
        &[ten, late, night],
        app.local("2026-11-11T08:00"),
        app.local("2026-11-12T08:00"),
    );
    let id = create_activity(&app, &admin, &body).await;
    let sale = Sale { admin, product, slot: ten, id, body };
    let crowd = buyers(&app, "night-owl", 5).await;
    let at = |local: &str| crate::rfc3339(app.local(local));
    let mut acked = Vec::new();

    // Long before: nothing in memory, nothing tagged, nothing sold.
    assert!(!loaded(&app, &sale).await);
    assert_eq!(tagged(&app, &sale).await, [false, false]);
    crowd[0].try_purchase_token(&app, &sale).await.assert_error(409, "NOT_STARTED");
    let early = order_body(sale.sku(0), 1, crowd[0].address, "none-yet");
    crowd[0].send_order(&app, &sale, &early, None).await.assert_error(409, "NOT_STARTED");

    // The preheat horizon is 300 s before the first window.
    app.set_local_time("2026-11-11T09:54:59");
    app.preheat().await;
    assert!(!loaded(&app, &sale).await, "not before 09:55");
    assert_eq!(tagged(&app, &sale).await, [false, false]);
    app.set_local_time("2026-11-11T09:55:00");
    app.preheat().await;
    assert!(loaded(&app, &sale).await, "loaded at 09:55");
    assert_eq!(tagged(&app, &sale).await, [true, true]);
    let s = sale.status(&app).await;
    assert_eq!(
        (s["state"].as_str(), s["next_window_start"].as_str()),
        (Some("upcoming"), Some(&*at("2026-11-11T10:00")))
    );
    crowd[0].try_purchase_token(&app, &sale).await.assert_error(409, "NOT_STARTED");
    crowd[0].send_order(&app, &sale, &early, None).await.assert_error(409, "NOT_STARTED");

    // The first window: open at 10:00:00 sharp, still at 11:59:59.
    app.set_local_time("2026-11-11T10:00:00");
    app.preheat().await;
    acked.push(Acked::of(&crowd[0].order(&app, &sale, 0).await));
    app.set_local_time("2026-11-11T11:59:59");
    let token = crowd[1].purchase_token(&app, &sale).await;
    acked.push(Acked::of(&crowd[1].order(&app, &sale, 1).await));

    // Paused from 12:00:00 until 22:00, even with a token that has not expired yet.
    app.set_local_time("2026-11-11T12:00:00");
    app.preheat().await;
    let s = sale.status(&app).await;
    assert_eq!(
        (s["state"].as_str(), s["next_window_start"].as_str()),
        (Some("paused"), Some(&*at("2026-11-11T22:00")))
    );
    let body = order_body(sale.sku(0), 1, crowd[1].address, &token);
    crowd[1].send_order(&app, &sale, &body, None).await.assert_error(409, "PAUSED");
    crowd[2].try_purchase_token(&app, &sale).await.assert_error(409, "PAUSED");
    assert!(loaded(&app, &sale).await, "paused, not ended: the hot state stays");
    assert_eq!(tagged(&app, &sale).await, [true, true]);

    // 22:00 on Singles' Day to 01:00 the day after is one window.
    app.set_local_time("2026-11-11T22:00:00");
    app.preheat().await;
    let s = sale.status(&app).await;
    assert_eq!((s["state"].as_str(), s["window_end"].as_str()), (Some("running"), Some(&*at("2026-11-12T01:00"))));
    acked.push(Acked::of(&crowd[2].order(&app, &sale, 0).await));
    app.set_local_time("2026-11-12T00:00:00");
    app.preheat().await;
    assert_eq!(sale.status(&app).await["state"], "running", "midnight is no boundary");
    app.set_local_time("2026-11-12T00:30:00");
    app.preheat().await;
    acked.push(Acked::of(&crowd[3].order(&app, &sale, 1).await));
    assert_invariants(&app, &sale, &acked).await;

    // After the last window it has ended: no more tokens or orders (not even with a token
    // still valid), untagged and unloaded.
    app.set_local_time("2026-11-12T00:59:30");
    let last = crowd[4].purchase_token(&app, &sale).await;
    app.set_local_time("2026-11-12T01:00:00");
    crowd[4].try_purchase_token(&app, &sale).await.assert_error(409, "ENDED");
    crowd[4]
        .send_order(&app, &sale, &order_body(sale.sku(0), 1, crowd[4].address, &last), None)
        .await
        .assert_error(409, "ENDED");
    app.preheat().await;
    assert_eq!(sale.status(&app).await["state"], "ended");
    assert!(!loaded(&app, &sale).await, "the hot state is unloaded at the end");
    assert_eq!(tagged(&app, &sale).await, [false, false]);
    let totals = assert_invariants(&app, &sale, &acked).await;
    assert_eq!(totals.sold.values().copied().collect::<Vec<_>>(), [2, 2]);
}

#[tokio::test]
async fn more_stock_while_live_is_on_sale_at_once_and_stock_never_drops_below_sold() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(2)), ("/skus/1/stock", json!(1))]).await;
    let [a, b, c, d] = few_buyers(&app, "shopper").await;
    let mut acked = vec![Acked::of(&a.order(&app, &sale, 0).await), Acked::of(&b.order(&app, &sale, 0).await)];
    c.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");

    // Three more units: on sale as soon as the operator's answer arrives.
    let more = with(&sale.body, "/skus/0/stock", json!(5));
    sale.update(&app, &more).await.expect(200);
    assert_eq!(sale.remaining(&app, 0).await, 3);
    acked.push(Acked::of(&c.order(&app, &sale, 0).await));
    assert_eq!(sale.remaining(&app, 0).await, 2);

    // Three are sold: two is too few, three is just enough.
    let r = sale.update(&app, &with(&sale.body, "/skus/0/stock", json!(2))).await;
    r.assert_error(409, "STOCK_BELOW_SOLD");
    assert_eq!(sale.remaining(&app, 0).await, 2, "a refused change changes nothing");
    sale.update(&app, &with(&sale.body, "/skus/0/stock", json!(3))).await.expect(200);
    assert_eq!(sale.remaining(&app, 0).await, 0);
    d.order(&app, &sale, 0).await.assert_error(409, "SOLD_OUT");
    acked.push(Acked::of(&d.order(&app, &sale, 1).await));
    let totals = assert_invariants(&app, &sale, &acked).await;
    assert_eq!(totals.sold.values().copied().collect::<Vec<_>>(), [3, 1]);
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test]
async fn a_restart_in_the_middle_of_a_sale_resumes_exactly_where_it_was(#[case] database: Database) {
    let mut app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(3)), ("/skus/1/stock", json!(2))]).await;
    let [a, b, c, d] = few_buyers(&app, "shopper").await;
    let token = a.purchase_token(&app, &sale).await;
    let keyed = order_body(sale.sku(0), 1, a.address, &token);
    let first = Acked::of(&a.send_order(&app, &sale, &keyed, Some("a-1")).await);
    let mut acked =
        vec![first.clone(), Acked::of(&a.order(&app, &sale, 1).await), Acked::of(&b.order(&app, &sale, 0).await)];
    let before = sale.status(&app).await;
    let totals = assert_invariants(&app, &sale, &acked).await;

    app.restart().await;
    // The hot state is rebuilt from the records before the first request is served.
    assert_eq!(sale.status(&app).await, before);
    assert_eq!(assert_invariants(&app, &sale, &acked).await, totals);
    // What a bought still counts, a's key still answers a's order, tokens still work.
    a.order(&app, &sale, 0).await.assert_error(409, "LIMIT_EXCEEDED");
    assert_eq!(Acked::of(&a.send_order(&app, &sale, &keyed, Some("a-1")).await), first);
    // The rest is for sale.
    acked.push(Acked::of(&c.order(&app, &sale, 0).await));
    acked.push(Acked::of(&d.order(&app, &sale, 1).await));
    b.order(&app, &sale, 1).await.assert_error(409, "SOLD_OUT");
    assert_eq!(sale.status(&app).await["state"], "sold_out");
    let totals = assert_invariants(&app, &sale, &acked).await;
    assert_eq!(totals.sold.values().copied().collect::<Vec<_>>(), [3, 2]);
}

/// Names of the spans a subscriber was asked to open.
struct SpanNames(std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanNames {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(attrs.metadata().name());
    }
}

#[tokio::test]
async fn the_hot_path_opens_no_span_at_the_default_log_level() {
    // At `info`, the default, a span per hot-path request formatted its ids into a string every
    // time and nothing ever logged inside it: a sixth to a quarter of a rush's server CPU.
    use tracing_subscriber::layer::SubscriberExt as _;
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [buyer] = few_buyers(&app, "shopper").await;
    let opened = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::EnvFilter::new("info")).with(SpanNames(opened.clone()));
    // This test's runtime has one thread, the server's tasks included: they report here.
    let listening = tracing::subscriber::set_default(subscriber);
    let order = Acked::of(&buyer.order(&app, &sale, 0).await);
    app.get(&format!("/api/tickets/{}", order.ticket), Some(&buyer.shopper.token)).await.expect(200);
    app.get(&sale.path("/status"), None).await.expect(200);
    // An ordinary page of the API still opens its `info` span (so the listener does listen).
    app.get(&sale.path(""), None).await.expect(200);
    drop(listening);
    let opened = opened.lock().unwrap().clone();
    assert!(opened.contains(&"detail"), "{opened:?}");
    for hot in ["purchase_token", "place_order", "ticket", "status"] {
        assert!(!opened.contains(&hot), "{hot} opened a span at info: {opened:?}");
    }
}
