//! Payments over real HTTP (issue 4): a shopper starts a payment, the sandbox gateway's page
//! confirms or fails it, and the gateway posts its HMAC-signed notification back to the shop's
//! `POST /api/payments/notify` over the loopback, as a real provider would. Forged, tampered,
//! replayed and mismatched notifications change nothing; money for an order cancelled meanwhile
//! is noted as a refund; a payment racing the timeout has exactly one winner.
//!
//! [`sign`] signs a notification the way the gateway does (hex HMAC-SHA256 of the body with a
//! key derived from the server's secret for `"sandbox-payments"`), so tests can speak for the
//! provider — and forge its voice badly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use reqwest::Method;
use rstest::rstest;
use seckill_domain::ids::PaymentId;
use seckill_domain::payment::PaymentStatus;
use seckill_domain::token::MacKey;
use seckill_testkit::{AppOptions, Database, Reply, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

use crate::orders::{OrderFigures, assert_order_invariants, figures};
use crate::sale::{Acked, Buyer, buyers, few_buyers, sale_running_now};

/// The header the gateway signs its notifications in.
const SIGNATURE: &str = "X-Seckill-Signature";

/// A payment as `POST /api/me/orders/{id}/payments` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub payment_id: i64,
    pub amount_cents: i64,
    pub pay_url: String,
}

impl Buyer {
    /// `POST /api/me/orders/{order}/payments` as this buyer.
    pub async fn try_start_payment(&self, app: &TestApp, order: i64) -> Reply {
        app.post(&format!("/api/me/orders/{order}/payments"), &json!({}), Some(&self.shopper.token)).await
    }

    /// Starts paying `order`, which must answer `201`.
    pub async fn start_payment(&self, app: &TestApp, order: i64) -> Started {
        let r = self.try_start_payment(app, order).await;
        r.expect(201);
        Started {
            payment_id: r.id("payment_id"),
            amount_cents: r.id("amount_cents"),
            pay_url: r.body["pay_url"].as_str().unwrap_or_else(|| panic!("no pay_url: {}", r.text)).to_owned(),
        }
    }

    /// Pays `order` the way a shopper does: start a payment, confirm it on the sandbox page, and
    /// wait until the gateway's notification made the order `paid`. Answers the payment.
    pub async fn pay(&self, app: &TestApp, order: i64) -> Started {
        let started = self.start_payment(app, order).await;
        let r = decide(app, started.payment_id, "confirm").await;
        r.expect(200);
        self.wait_for_status(app, order, "paid").await;
        started
    }

    /// Polls `GET /api/me/orders/{order}` until its status is `status` (a few seconds at most:
    /// the gateway's notification travels over HTTP) and answers the order.
    pub async fn wait_for_status(&self, app: &TestApp, order: i64, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.get_order(app, order).await;
            r.expect(200);
            if r.body["status"] == status {
                return r.body;
            }
            assert!(Instant::now() < deadline, "order {order} never became {status}: {}", r.text);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The payer's decision on the sandbox page: `POST /pay/{payment}/{decision}` (`confirm` or
/// `fail`) asking for JSON, `{payment_id, status, notified}`.
pub async fn decide(app: &TestApp, payment: i64, decision: &str) -> Reply {
    let req = app
        .client
        .request(Method::POST, app.url(&format!("/pay/{payment}/{decision}")))
        .header(reqwest::header::ACCEPT, "application/json");
    app.reply(req).await
}

/// The payment's status in the records.
pub async fn payment_status(app: &TestApp, payment: i64) -> PaymentStatus {
    app.records().orders.payment(PaymentId::from_raw(payment)).await.unwrap().status
}

/// A notification as the sandbox gateway sends it.
pub fn notification(payment: i64, order: i64, amount_cents: i64, status: &str) -> Value {
    json!({
        "payment_id": payment,
        "order_id": order,
        "amount_cents": amount_cents,
        "status": status,
        "provider_ref": format!("sbx_test_{payment}"),
        "sent_at": "2026-11-11T02:00:30Z",
    })
}

/// The signature the gateway puts on `body`: lower-case hex HMAC-SHA256 with the key derived
/// from the server's secret for `"sandbox-payments"`.
pub fn sign(app: &TestApp, body: &[u8]) -> String {
    let secret = app.settings.resolve_secret().unwrap();
    MacKey::derive(&secret, "sandbox-payments").sign_hex(body)
}

/// `POST /api/payments/notify` with `body` as is and an optional signature header.
pub async fn notify_raw(app: &TestApp, body: &[u8], signature: Option<&str>) -> Reply {
    let mut req = app
        .client
        .request(Method::POST, app.url("/api/payments/notify"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header(SIGNATURE, s);
    }
    app.reply(req).await
}

/// `POST /api/payments/notify` with `notification`, correctly signed.
pub async fn notify(app: &TestApp, notification: &Value) -> Reply {
    let body = notification.to_string().into_bytes();
    notify_raw(app, &body, Some(&sign(app, &body))).await
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test]
async fn confirming_on_the_sandbox_page_pays_the_order_through_a_signed_callback(#[case] database: Database) {
    let app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(&app, &[]).await;
    let [a, b] = few_buyers(&app, "payer").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let before = figures(&app, &sale).await;

    let started = a.start_payment(&app, order.order_id).await;
    assert_eq!(started.amount_cents, crate::SECKILL_PRICES[0], "one unit at the seckill price");
    assert_eq!(started.pay_url, app.url(&format!("/pay/{}", started.payment_id)));
    // Asking again answers the open attempt; nobody else may start one.
    assert_eq!(a.start_payment(&app, order.order_id).await, started);
    b.try_start_payment(&app, order.order_id).await.assert_error(404, "NOT_FOUND");
    let r = app.post(&format!("/api/me/orders/{}/payments", order.order_id), &json!({}), None).await;
    r.assert_error(401, "UNAUTHENTICATED");

    // The provider's page, where pay_url points: amount and both buttons.
    let page = app.reply(app.client.get(&started.pay_url)).await;
    page.expect(200);
    assert!(page.header("content-type").starts_with("text/html"), "{:?}", page.headers);
    for hook in ["data-testid=\"confirm\"", "data-testid=\"fail\"", "¥3999.00"] {
        assert!(page.text.contains(hook), "{hook} missing from the pay page: {}", page.text);
    }
    assert_eq!(a.get_order(&app, order.order_id).await.body["status"], "pending_payment", "nothing paid yet");

    // Confirm: the gateway notifies the shop over HTTP before answering the payer.
    let r = decide(&app, started.payment_id, "confirm").await;
    r.expect(200);
    assert_eq!(r.body, json!({"payment_id": started.payment_id, "status": "succeeded", "notified": true}));
    let paid = a.wait_for_status(&app, order.order_id, "paid").await;
    assert_eq!(paid["paid_at"], crate::rfc3339(app.now()), "{paid}");
    assert_eq!(payment_status(&app, started.payment_id).await, PaymentStatus::Succeeded);
    let after = figures(&app, &sale).await;
    assert_eq!(after, OrderFigures { paid: before.paid + 1, ..before }, "paid, and nothing else moved");

    // The page now says so and offers no button; confirming again sends nothing new.
    let page = app.reply(app.client.get(&started.pay_url)).await;
    page.expect(200);
    assert!(!page.text.contains("data-testid=\"confirm\""), "{}", page.text);
    assert!(page.text.contains(r#"data-status="succeeded""#), "{}", page.text);
    let r = decide(&app, started.payment_id, "confirm").await;
    assert_eq!((r.status.as_u16(), &r.body["status"]), (200, &json!("succeeded")));
    // A paid order takes no new payment and cannot be cancelled by its shopper.
    a.try_start_payment(&app, order.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    a.cancel_order(&app, order.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    assert_eq!(a.get_order(&app, order.order_id).await.body, paid);
    assert_eq!(figures(&app, &sale).await, after);

    // Unknown payments have no page.
    app.get("/pay/999999", None).await.expect(404);
    decide(&app, 999_999, "confirm").await.assert_error(404, "NOT_FOUND");
    assert_order_invariants(&app, &sale, &[order]).await;
}

#[tokio::test]
async fn a_failed_payment_leaves_the_order_payable_and_a_new_attempt_pays_it() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "payer").await;
    let order = Acked::of(&a.order(&app, &sale, 1).await);

    let first = a.start_payment(&app, order.order_id).await;
    // The page's form posts, as a browser does: the answer is HTML.
    let browser = app.browser();
    let r = app.browse(&browser, Method::POST, &format!("/pay/{}/fail", first.payment_id), None).await;
    r.expect(200);
    assert!(r.text.contains("data-status=\"failed\""), "{}", r.text);
    assert_eq!(payment_status(&app, first.payment_id).await, PaymentStatus::Failed);
    let still = a.get_order(&app, order.order_id).await;
    assert_eq!(still.body["status"], "pending_payment", "{}", still.text);
    assert!(still.body.get("paid_at").is_none(), "{}", still.text);
    assert_eq!(sale.remaining(&app, 1).await, crate::SALE_STOCK[1] - 1, "the unit stays held");

    // Payable again until the deadline: a new attempt, confirmed, pays.
    let second = a.start_payment(&app, order.order_id).await;
    assert_ne!(second.payment_id, first.payment_id, "a failed attempt is not reused");
    assert_eq!(second.amount_cents, crate::SECKILL_PRICES[1]);
    let r = app.browse(&browser, Method::POST, &format!("/pay/{}/confirm", second.payment_id), None).await;
    r.expect(200);
    assert!(r.text.contains("data-status=\"succeeded\""), "{}", r.text);
    a.wait_for_status(&app, order.order_id, "paid").await;
    assert_eq!(figures(&app, &sale).await.paid, 1);
    assert_order_invariants(&app, &sale, &[order]).await;
}

#[tokio::test]
async fn notifications_that_are_not_signed_by_the_gateway_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a] = few_buyers(&app, "payer").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let started = a.start_payment(&app, order.order_id).await;
    let before = a.get_order(&app, order.order_id).await.body;
    let good = notification(started.payment_id, order.order_id, started.amount_cents, "succeeded");
    let body = good.to_string().into_bytes();
    let signature = sign(&app, &body);

    let forged_key = MacKey::derive(b"not the server's secret, but long enough", "sandbox-payments");
    let other_purpose = MacKey::derive(&app.settings.resolve_secret().unwrap(), "tokens");
    let tampered = crate::with(&good, "/amount_cents", json!(1)).to_string().into_bytes();
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let refused: [(&str, &[u8], Option<String>); 7] = [
        ("no signature", &body, None),
        ("empty", &body, Some(String::new())),
        ("not hex", &body, Some("z".repeat(64))),
        ("one digit changed", &body, Some(String::from_utf8(flipped).unwrap())),
        ("another secret", &body, Some(forged_key.sign_hex(&body))),
        ("the server's key for another purpose", &body, Some(other_purpose.sign_hex(&body))),
        ("a body changed after signing", &tampered, Some(signature.clone())),
    ];
    for (what, body, signature) in refused {
        let r = notify_raw(&app, body, signature.as_deref()).await;
        assert_eq!(r.code(), "BAD_SIGNATURE", "{what}: {}", r.text);
        r.assert_error(401, "BAD_SIGNATURE");
    }
    assert_eq!(a.get_order(&app, order.order_id).await.body, before, "still unpaid");
    assert_eq!(payment_status(&app, started.payment_id).await, PaymentStatus::Created);

    // The genuine one pays, once; replays (even claiming failure) change nothing.
    let r = notify_raw(&app, &body, Some(&signature)).await;
    r.expect(200);
    assert_eq!(r.body, json!({"result": "paid", "order_id": order.order_id, "order_status": "paid"}));
    let paid = a.get_order(&app, order.order_id).await.body;
    assert_eq!(paid["status"], "paid");
    app.clock.set(app.now().checked_add(jiff::SignedDuration::from_secs(30)).unwrap());
    for replay in [good.clone(), crate::with(&good, "/status", json!("failed"))] {
        let r = notify(&app, &replay).await;
        r.expect(200);
        assert_eq!(r.body["result"], "replayed", "{}", r.text);
        assert_eq!(r.body["order_status"], "paid", "{}", r.text);
    }
    assert_eq!(a.get_order(&app, order.order_id).await.body, paid, "paid_at is the first notification's");
    assert_eq!(payment_status(&app, started.payment_id).await, PaymentStatus::Succeeded);
    assert_eq!(figures(&app, &sale).await.paid, 1);
    assert_order_invariants(&app, &sale, &[order]).await;
}

#[tokio::test]
async fn a_signed_notification_that_does_not_match_its_payment_changes_nothing() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[]).await;
    let [a, b] = few_buyers(&app, "payer").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let other = Acked::of(&b.order(&app, &sale, 0).await);
    let started = a.start_payment(&app, order.order_id).await;
    let (p, o, amount) = (started.payment_id, order.order_id, started.amount_cents);

    let r = notify(&app, &notification(p, o, amount - 1, "succeeded")).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("amount_cents").is_empty(), "{}", r.text);
    let r = notify(&app, &notification(p, o, amount + 100, "succeeded")).await;
    r.assert_error(422, "VALIDATION_FAILED");
    let r = notify(&app, &notification(p, other.order_id, amount, "succeeded")).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("order_id").is_empty(), "{}", r.text);
    notify(&app, &notification(999_999, o, amount, "succeeded")).await.assert_error(404, "NOT_FOUND");
    notify(&app, &notification(p, o, amount, "refunded")).await.assert_error(400, "BAD_REQUEST");
    notify(&app, &json!({"payment_id": p})).await.assert_error(400, "BAD_REQUEST");
    let garbage = b"{not json";
    notify_raw(&app, garbage, Some(&sign(&app, garbage))).await.assert_error(400, "BAD_REQUEST");

    for (buyer, id) in [(&a, o), (&b, other.order_id)] {
        assert_eq!(buyer.get_order(&app, id).await.body["status"], "pending_payment");
    }
    assert_eq!(payment_status(&app, p).await, PaymentStatus::Created, "still open");
    // The right one still pays.
    let r = notify(&app, &notification(p, o, amount, "succeeded")).await;
    assert_eq!((r.status.as_u16(), &r.body["result"]), (200, &json!("paid")), "{}", r.text);
    assert_order_invariants(&app, &sale, &[order, other]).await;
}

#[tokio::test]
async fn money_for_an_order_cancelled_meanwhile_is_noted_for_a_refund_and_the_order_stays_cancelled() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/skus/0/stock", json!(1))]).await;
    let [a, b] = few_buyers(&app, "payer").await;
    let order = Acked::of(&a.order(&app, &sale, 0).await);
    let started = a.start_payment(&app, order.order_id).await;
    // The shopper gives up while the pay page is still open, and someone else buys the unit.
    let cancelled = a.cancel_order(&app, order.order_id).await;
    cancelled.expect(200);
    let again = Acked::of(&b.order(&app, &sale, 0).await);
    let before = figures(&app, &sale).await;

    // Then the payer confirms on the page anyway: the shop acknowledges the money...
    let r = decide(&app, started.payment_id, "confirm").await;
    r.expect(200);
    assert_eq!(r.body, json!({"payment_id": started.payment_id, "status": "refund_needed", "notified": true}));
    assert_eq!(payment_status(&app, started.payment_id).await, PaymentStatus::RefundNeeded);
    let page = app.reply(app.client.get(&started.pay_url)).await;
    assert!(page.text.contains("refund_needed"), "{}", page.text);
    // ...but the order stays cancelled, takes no unit back, and no new payment.
    assert_eq!(a.get_order(&app, order.order_id).await.body, cancelled.body);
    assert_eq!(figures(&app, &sale).await, before);
    assert_eq!(sale.remaining(&app, 0).await, 0);
    a.try_start_payment(&app, order.order_id).await.assert_error(409, "BAD_ORDER_STATE");
    // A replay stays a replay.
    let r = notify(&app, &notification(started.payment_id, order.order_id, started.amount_cents, "succeeded")).await;
    assert_eq!((&r.body["result"], &r.body["order_status"]), (&json!("replayed"), &json!("cancelled")));
    assert_order_invariants(&app, &sale, &[order, again]).await;
}

#[tokio::test]
async fn a_payment_before_the_deadline_beats_the_timeout_and_a_timeout_first_makes_the_payment_a_refund() {
    let app = spawn_app().await;
    let sale = sale_running_now(&app, &[("/pay_timeout_secs", json!(300))]).await;
    let [early, late] = few_buyers(&app, "payer").await;
    let paid = Acked::of(&early.order(&app, &sale, 0).await);
    let unpaid = Acked::of(&late.order(&app, &sale, 0).await);
    let on_time = early.start_payment(&app, paid.order_id).await;
    let too_late = late.start_payment(&app, unpaid.order_id).await;

    // Payment first: paid at 10:04:59, the deadline at 10:05 changes nothing.
    app.set_local_time("2026-11-11T10:04:59");
    decide(&app, on_time.payment_id, "confirm").await.expect(200);
    early.wait_for_status(&app, paid.order_id, "paid").await;
    app.set_local_time("2026-11-11T10:05:00");
    app.sweep().await;
    assert_eq!(early.get_order(&app, paid.order_id).await.body["status"], "paid");

    // Timeout first: cancelled at 10:05, and the payment confirmed later is for a refund.
    let timed_out = late.get_order(&app, unpaid.order_id).await;
    assert_eq!(timed_out.body["status"], "cancelled", "{}", timed_out.text);
    assert_eq!(timed_out.body["cancel_reason"], "timeout", "{}", timed_out.text);
    let r = decide(&app, too_late.payment_id, "confirm").await;
    assert_eq!((r.status.as_u16(), &r.body["status"]), (200, &json!("refund_needed")), "{}", r.text);
    assert_eq!(late.get_order(&app, unpaid.order_id).await.body, timed_out.body);
    // The unit went back once, and only the timed-out one.
    assert_eq!(sale.remaining(&app, 0).await, crate::SALE_STOCK[0] - 1);
    assert_eq!(figures(&app, &sale).await, OrderFigures { sold: 1, remaining: 149, orders: 1, paid: 1 });
    assert_order_invariants(&app, &sale, &[paid, unpaid]).await;
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_racing_the_timeout_sweep_have_exactly_one_winner_per_order(#[case] database: Database) {
    let app = spawn_app_with(AppOptions::on(database)).await;
    let sale = sale_running_now(
        &app,
        &[("/pay_timeout_secs", json!(300)), ("/skus/0/stock", json!(24)), ("/skus/1/stock", json!(1))],
    )
    .await;
    let crowd = buyers(&app, "racer", 24).await;
    let mut acked = Vec::new();
    let mut started = Vec::new();
    for b in &crowd {
        let order = Acked::of(&b.order(&app, &sale, 0).await);
        started.push(b.start_payment(&app, order.order_id).await);
        acked.push(order);
    }
    // Every notification arrives after the deadline, while the sweep runs (and the server's own
    // sweeper, which notices the clock within a second): the sweep cancels from the oldest
    // order, the notifications come from the newest, a few at a time, so they meet somewhere.
    app.set_local_time("2026-11-11T10:05:00");
    let notices = futures::stream::iter(acked.iter().zip(&started).rev())
        .map(|(o, p)| {
            let (app, notice) = (&app, notification(p.payment_id, o.order_id, p.amount_cents, "succeeded"));
            async move { notify(app, &notice).await }
        })
        .buffered(3)
        .collect::<Vec<Reply>>();
    let (_, mut answers) = tokio::join!(app.sweep(), notices);
    answers.reverse();
    app.sweep().await;

    let mut winners: BTreeMap<String, usize> = BTreeMap::new();
    for ((order, payment), answer) in acked.iter().zip(&started).zip(&answers) {
        answer.expect(200);
        let now = crowd.iter().find(|b| b.id() == order.user_id).unwrap().get_order(&app, order.order_id).await;
        let (status, reason) = (now.body["status"].as_str().unwrap(), now.body["cancel_reason"].as_str());
        let payment = payment_status(&app, payment.payment_id).await;
        match answer.body["result"].as_str().unwrap() {
            "paid" => assert_eq!((status, reason, payment), ("paid", None, PaymentStatus::Succeeded)),
            "refund_needed" => {
                assert_eq!((status, reason, payment), ("cancelled", Some("timeout"), PaymentStatus::RefundNeeded))
            }
            other => panic!("order {}: {other}: {}", order.order_id, answer.text),
        }
        *winners.entry(status.to_owned()).or_default() += 1;
    }
    eprintln!("payments against the timeout: {winners:?}");
    let paid = winners.get("paid").copied().unwrap_or(0);
    // Exactly the timed-out units are back on sale.
    assert_eq!(sale.remaining(&app, 0).await, 24 - paid as i64);
    let f = figures(&app, &sale).await;
    assert_eq!((f.sold, f.orders, f.paid), (paid as u64, paid as u64, paid as u64));
    assert_order_invariants(&app, &sale, &acked).await;
}
