//! A shopper's whole way through the shop on a phone-width screen.

use std::time::{Duration, Instant};

use seckill_testkit::spawn_app;
use seckill_testkit::web::{Chrome, PHONE};
use serde_json::json;

use crate::{address, artifacts, register, sale};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_watches_the_countdown_buys_pays_and_a_second_shopper_sees_sold_out() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let sale = sale(&app, &admin).await;
    // Three seconds before the slot opens, inside the preheat horizon: the page is rendered.
    app.set_local_time("2026-11-11T09:59:57");
    app.preheat().await;
    let detail = app.url(&format!("/seckill/{}", sale.activity));

    Chrome::run(&artifacts(), "shopper_buys_and_pays", PHONE, |mut web| async {
        // A shopper abroad: the browser's zone is not the shop's (Asia/Shanghai).
        web.set_time_zone("America/New_York").await;
        // Register through the login page, which sends the shopper back to the sale.
        web.open(&app.url(&format!("/login?next=/seckill/{}", sale.activity))).await;
        web.ready().await;
        web.shot("login").await;
        register(&web, "alice").await;
        web.wait_path(&format!("/seckill/{}", sale.activity)).await;
        web.ready().await;

        // Before the open: the seckill price, the list price struck through, the stock, a
        // running countdown and a disabled buy button.
        assert_eq!(web.text("[data-testid=seckill-price]").await, "¥3999.00");
        assert_eq!(web.text(".list-price, [data-role=list-price]").await, "¥5999.00");
        web.wait_text("[data-testid=remaining]", "the stock of the first sku", |t| t == "1").await;
        let button = web.find("[data-testid=buy]").await;
        assert!(!button.is_enabled().await.unwrap(), "buy is disabled before the open");
        let countdown = web.find("[data-testid=countdown][data-remaining-ms]").await;
        let left: i64 = countdown.attr("data-remaining-ms").await.unwrap().unwrap().parse().unwrap();
        assert!((1..=3_000).contains(&left), "the countdown runs to the open in 3 s, not {left} ms");
        web.shot("detail-before-open").await;

        // The countdown reaches zero on the browser's clock; the server's clock moves with it.
        web.wait_for("[data-testid=countdown][data-remaining-ms='0']").await;
        app.set_local_time("2026-11-11T10:00:00");
        web.wait_for("[data-testid=buy]:not([disabled])").await;
        web.shot("detail-open").await;
        web.click("[data-testid=buy]").await;

        // Checkout: no address yet, so the new-address form is open.
        web.wait_path("/checkout").await;
        web.ready().await;
        let form = "[data-role=address-form]";
        for (field, value) in address("Alice")
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        {
            web.fill(&format!("{form} input[name={field}]"), &value).await;
        }
        web.click(&format!("{form} button[type=submit]")).await;
        web.wait_for("[data-testid=address] input[name=address]:checked").await;
        assert_eq!(web.find("[data-testid=quantity]").await.value().await.unwrap().as_deref(), Some("1"));
        assert_eq!(web.text("[data-role=total]").await, "¥3999.00");
        web.shot("checkout").await;
        web.click("[data-testid=submit-order]").await;
        web.wait_for("[data-testid=order-status][data-status=created]").await;
        // Times read in the shop's zone, as the slots on the product page do: payment is due
        // fifteen minutes after the 10:00 open (21:15 the day before, in New York).
        let ordered = web.text("[data-testid=order-status]").await;
        assert!(ordered.contains("10:15:00 前付款"), "the deadline in the shop's zone: {ordered}");
        web.shot("ordered").await;

        // Pay in the sandbox: the gateway notifies the server, the order turns paid.
        web.click("[data-testid=order-status] ~ * [data-testid=pay], [data-role=result-actions] [data-testid=pay]")
            .await;
        web.wait_path("/pay/").await;
        web.wait_text("[data-testid=amount]", "the order's amount", |t| t.contains("3999.00")).await;
        web.shot("pay").await;
        web.click("[data-testid=confirm]").await;
        web.wait_for("[data-testid=payment-status]").await;
        web.shot("paid").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            web.open(&app.url("/orders")).await;
            web.ready().await;
            let rows = web.all("[data-testid=order-row]").await;
            assert_eq!(rows.len(), 1, "alice has exactly one order");
            if rows[0].attr("data-status").await.unwrap().as_deref() == Some("paid") {
                break;
            }
            assert!(Instant::now() < deadline, "the order never showed as paid");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(web.all("[data-testid=order-row] [data-testid=pay]").await.is_empty(), "nothing left to pay");
        web.shot("orders").await;

        // A second shopper, signed in on the same phone, finds the black phone sold out.
        web.driver.delete_all_cookies().await.unwrap();
        web.open(&app.url(&format!("/login?next=/seckill/{}", sale.activity))).await;
        web.ready().await;
        register(&web, "bob").await;
        web.wait_path(&format!("/seckill/{}", sale.activity)).await;
        web.ready().await;
        web.wait_text("[data-testid=remaining]", "zero", |t| t == "0").await;
        web.wait_for("[data-testid=buy][data-state=sold_out][disabled]").await;
        assert_eq!(web.text("[data-testid=buy]").await, "已售罄");
        web.shot("sold-out").await;
        // The other colour is still on sale to him.
        web.click(&format!("[data-sku='{}']", sale.skus[1])).await;
        web.wait_text("[data-testid=remaining]", "the white stock", |t| t == "5").await;
        web.wait_for("[data-testid=buy]:not([disabled])").await;
        web
    })
    .await;

    // The records agree with what the pages showed.
    let orders = app.get(&format!("/api/admin/orders?activity_id={}", sale.activity), Some(&admin)).await;
    orders.expect(200);
    let items = orders.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", orders.text);
    assert_eq!(items[0]["status"], "paid");
    assert_eq!(items[0]["amount_cents"], 399_900);
    let _ = detail;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_shows_only_its_tabs_fields_and_never_sends_a_shopper_to_another_site() {
    let app = spawn_app().await;
    Chrome::run(&artifacts(), "login_stays_on_this_site", PHONE, |mut web| async {
        // `/\evil.example` is `//evil.example` to a browser: another site, though it starts
        // with one slash.
        web.open(&app.url("/login?next=/%5Cevil.example/welcome")).await;
        web.ready().await;
        let phone = web.find("#phone").await;
        assert!(!phone.is_displayed().await.unwrap(), "signing in asks for no phone number");
        web.shot("login").await;
        web.click(".tabs button[data-tab=register]").await;
        assert!(phone.is_displayed().await.unwrap(), "registering offers the phone field");
        web.fill("#username", "carol").await;
        web.fill("#password", "carol-password").await;
        web.click("[data-testid=login]").await;
        web.wait_for("main[data-page=index]").await;
        let url = web.driver.current_url().await.unwrap();
        assert_eq!(url.as_str(), app.url("/"), "signed in, the shopper stays on this site");

        // A path of this site is kept, with its query.
        web.open(&app.url("/login?next=/orders%3Fpage%3D1")).await;
        web.ready().await;
        web.fill("#username", "carol").await;
        web.fill("#password", "carol-password").await;
        web.click("[data-testid=login]").await;
        let url = web.wait_path("/orders").await;
        assert_eq!(url, app.url("/orders?page=1"));
        web
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_page_says_a_slot_is_selling_only_when_something_in_it_is_and_misses_no_sale_to_come() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let morning = sale(&app, &admin).await;
    let product = |name: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let body = json!({"name": name, "skus": [{"name": "one", "price_cents": 10_000, "stock": 10}]});
            let r = app.post("/api/admin/products", &body, Some(admin)).await;
            r.expect(201);
            (r.id("id"), r.body["skus"][0]["id"].as_i64().unwrap())
        }
    };
    let activity = |name: &'static str, (product, sku): (i64, i64), slot: i64, from: &'static str, to: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let body = json!({
                "name": name, "product_id": product, "time_slot_ids": [slot],
                "starts_at": app.local(from).to_string(), "ends_at": app.local(to).to_string(),
                "skus": [{"sku_id": sku, "seckill_price_cents": 5_000, "stock": 3}],
                "total_limit": 1, "single_limit": 1,
            });
            let r = app.post("/api/admin/activities", &body, Some(admin)).await;
            r.expect(201);
            r.id("id")
        }
    };
    let afternoon = app
        .post("/api/admin/time-slots", &json!({"name": "下午场", "start": "14:00", "end": "16:00"}), Some(&admin))
        .await
        .id("id");
    // Starts half an hour into the afternoon slot.
    let later = activity("Watch", product("Watch").await, afternoon, "2026-11-11T14:30", "2026-11-12T00:00").await;
    // Started after this morning's slot: between slots now, selling again tomorrow at 10:00.
    let tomorrow =
        activity("Tablet", product("Tablet").await, morning.slot, "2026-11-11T13:00", "2026-11-13T00:00").await;
    app.set_local_time("2026-11-11T14:10");

    Chrome::run(&artifacts(), "front_page_slots", PHONE, |mut web| async {
        web.open(&app.url("/")).await;
        web.ready().await;
        let mut tabs = Vec::new();
        for tab in web.all(".slot-tab").await {
            tabs.push(tab.text().await.unwrap().split_whitespace().collect::<Vec<_>>().join(" "));
        }
        assert_eq!(tabs, ["10:00 已结束", "14:00 即将开始"], "the afternoon's only sale has not started");
        let shown = web.find("[data-role=slot-deals] [data-testid=deal]").await;
        assert_eq!(shown.attr("href").await.unwrap(), Some(format!("/seckill/{later}")));
        let coming = web.all("[data-role=upcoming] [data-testid=deal]").await;
        let mut links = Vec::new();
        for deal in coming {
            links.push(deal.attr("href").await.unwrap().unwrap_or_default());
        }
        assert!(links.contains(&format!("/seckill/{tomorrow}")), "the paused sale is listed: {links:?}");
        web.shot("front-page").await;
        web
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_sells_only_what_the_link_names_and_opens_its_button_with_the_sale() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let sale = sale(&app, &admin).await;
    app.set_local_time("2026-11-11T09:59:57");
    app.preheat().await;

    Chrome::run(&artifacts(), "checkout_guards", PHONE, |mut web| async {
        web.open(&app.url("/login?next=/")).await;
        web.ready().await;
        register(&web, "dave").await;
        web.wait_for("main[data-page=index]").await;

        // A link naming a SKU this sale does not sell: said so, nothing to fill in or submit.
        web.open(&app.url(&format!("/checkout?activity={}&sku=999999", sale.activity))).await;
        web.ready().await;
        web.wait_text("[data-role=item]", "the refusal", |t| t.contains("这个规格不在本场秒杀中")).await;
        assert!(!web.find("[data-testid=submit-order]").await.is_displayed().await.unwrap());
        assert!(!web.find("[data-testid=address]").await.is_displayed().await.unwrap());
        web.shot("unknown-sku").await;

        // Three seconds before the open: the button waits for it, and opens with it.
        web.open(&app.url(&format!("/checkout?activity={}&sku={}", sale.activity, sale.skus[1]))).await;
        web.ready().await;
        web.wait_text("[data-role=item]", "the white phone", |t| t.contains("white 12+512G")).await;
        web.wait_text("[data-role=error]", "the wait", |t| t.contains("还没开抢")).await;
        assert!(!web.find("[data-testid=submit-order]").await.is_enabled().await.unwrap());
        web.shot("before-open").await;
        web.wait_for("[data-testid=submit-order]:not([disabled])").await;
        assert!(!web.find("[data-role=error]").await.is_displayed().await.unwrap());
        web
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_the_shop_cancels_tells_the_shopper_the_money_goes_back() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let sale = sale(&app, &admin).await;
    app.set_local_time("2026-11-11T10:00:00");
    app.preheat().await;
    // Eve buys and pays over the API, as the shop's pages would.
    let eve = app.shopper("eve").await;
    let address = app.post("/api/me/addresses", &address("Eve"), Some(&eve.token)).await.id("id");
    let token =
        app.post(&format!("/api/activities/{}/purchase-token", sale.activity), &json!({}), Some(&eve.token)).await;
    let body =
        json!({"sku_id": sale.skus[1], "quantity": 1, "address_id": address, "purchase_token": token.body["token"]});
    let order = app.post(&format!("/api/activities/{}/orders", sale.activity), &body, Some(&eve.token)).await;
    let order = app.settle(&order, &eve.token).await.body["order"]["id"].as_i64().unwrap();
    let payment =
        app.post(&format!("/api/me/orders/{order}/payments"), &json!({}), Some(&eve.token)).await.id("payment_id");
    let confirm = app.client.post(app.url(&format!("/pay/{payment}/confirm"))).header("accept", "application/json");
    app.reply(confirm).await.expect(200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get(&format!("/api/me/orders/{order}"), Some(&eve.token)).await.body["status"] != "paid" {
        assert!(Instant::now() < deadline, "the order never turned paid");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The shop cancels it after all.
    app.post(&format!("/api/admin/orders/{order}/cancel"), &json!({}), Some(&admin)).await.expect(200);

    Chrome::run(&artifacts(), "shop_cancels_a_paid_order", PHONE, |mut web| async {
        web.open(&app.url("/login?next=/orders")).await;
        web.ready().await;
        web.fill("#username", "eve").await;
        web.fill("#password", "eve-password").await;
        web.click("[data-testid=login]").await;
        web.wait_path("/orders").await;
        let row = format!("[data-testid=order-row][data-order='{order}'][data-status=cancelled]");
        web.wait_for(&row).await;
        let text = web.text(&row).await;
        assert!(text.contains("商家取消") && text.contains("已付 ¥4999.00 将原路退回"), "{text}");
        web.shot("refund-noted").await;
        web
    })
    .await;
}
