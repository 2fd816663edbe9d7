//! What shoppers see: the list by state, the detail, the live status, today's slots, and the
//! state following the clock across slot boundaries and midnight in Asia/Shanghai.

use seckill_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};

use crate::{
    LIST_PRICES, SALE_STOCK, SECKILL_PRICES, activity_body, create_activity, ids, product_with_two_skus, rfc3339,
    singles_day, slot, with,
};

async fn public_list(app: &TestApp, query: &str) -> Vec<i64> {
    let r = app.get(&format!("/api/activities{query}"), None).await;
    r.expect(200);
    ids(&r)
}

#[tokio::test]
async fn shoppers_list_enabled_activities_by_state() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let products = [
        product_with_two_skus(&app, &admin, "Mate 70").await,
        product_with_two_skus(&app, &admin, "iPhone 17").await,
        product_with_two_skus(&app, &admin, "Buds 5").await,
        product_with_two_skus(&app, &admin, "Watch 5").await,
    ];
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let (eight, two) =
        (slot(&app, &admin, "8点场", "08:00", "09:00").await, slot(&app, &admin, "14点场", "14:00", "15:00").await);
    app.set_local_time("2026-11-11T10:30");
    let running = create_activity(&app, &admin, &singles_day(&app, products[0], &[ten])).await;
    let next_days = activity_body(products[1], &[ten], app.local("2026-11-12T00:00"), app.local("2026-11-13T00:00"));
    let upcoming = create_activity(&app, &admin, &next_days).await;
    let past = activity_body(products[1], &[ten], app.local("2026-11-09T00:00"), app.local("2026-11-10T00:00"));
    let ended = create_activity(&app, &admin, &past).await;
    let paused = create_activity(&app, &admin, &singles_day(&app, products[2], &[eight, two])).await;
    let disabled = singles_day(&app, products[3], &[ten]);
    create_activity(&app, &admin, &with(&disabled, "/enabled", json!(false))).await;

    assert_eq!(public_list(&app, "").await, [running, paused, upcoming], "upcoming and ongoing, by start");
    assert_eq!(public_list(&app, "?state=").await, [running, paused, upcoming]);
    assert_eq!(public_list(&app, "?state=running").await, [running, paused], "paused between slots is ongoing");
    assert_eq!(public_list(&app, "?state=upcoming").await, [upcoming]);
    assert_eq!(public_list(&app, "?state=ended").await, [ended]);
    for bad in ["?state=disabled", "?state=paused", "?state=sold_out", "?state=soon"] {
        app.get(&format!("/api/activities{bad}"), None).await.assert_error(400, "BAD_REQUEST");
    }

    let r = app.get("/api/activities?state=running", None).await;
    let first = &r.body["items"][0];
    assert_eq!(first["name"], "Mate 70 Pro 限时秒杀");
    assert_eq!(first["product_id"], products[0].id);
    assert_eq!(first["product_name"], "Mate 70");
    assert_eq!(first["image_url"], "https://img.example/mate.jpg");
    assert_eq!(first["price_cents"], LIST_PRICES[0], "the lowest list price on sale");
    assert_eq!(first["seckill_price_cents"], SECKILL_PRICES[0], "the lowest seckill price");
    assert_eq!(
        (first["state"].as_str(), first["window_end"].as_str()),
        (Some("running"), Some("2026-11-11T04:00:00Z"))
    );
    assert_eq!(r.body["items"][1]["state"], "paused");
    assert_eq!(r.body["items"][1]["next_window_start"], rfc3339(app.local("2026-11-11T14:00")));
}

#[tokio::test]
async fn the_detail_shows_product_skus_rules_and_slots() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let brand = app.post("/api/admin/brands", &json!({"name": "HUAWEI"}), Some(&admin)).await.id("id");
    let category = app.post("/api/admin/categories", &json!({"name": "手机"}), Some(&admin)).await.id("id");
    let p = crate::product_with_two_skus(&app, &admin, "Mate 70").await;
    let product = app.get(&format!("/api/admin/products/{}", p.id), Some(&admin)).await.body;
    let mut update = json!({"name": "Mate 70", "brand_id": brand, "category_id": category,
                             "description": "Kirin", "image_urls": product["image_urls"], "skus": product["skus"]});
    for s in update["skus"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().retain(|k, _| ["id", "name", "spec", "price_cents", "stock"].contains(&k.as_str()));
    }
    app.put(&format!("/api/admin/products/{}", p.id), &update, Some(&admin)).await.expect(200);
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let body = with(&with(&singles_day(&app, p, &[ten]), "/min_level", json!(2)), "/reservation_required", json!(true));
    let id = create_activity(&app, &admin, &body).await;

    let r = app.get(&format!("/api/activities/{id}"), None).await;
    r.expect(200);
    let d = &r.body;
    assert_eq!((d["id"].as_i64(), d["name"].as_str()), (Some(id), Some("Mate 70 Pro 限时秒杀")));
    assert_eq!(d["product"]["id"], p.id);
    assert_eq!(d["product"]["name"], "Mate 70");
    assert_eq!(d["product"]["description"], "Kirin");
    assert_eq!(d["product"]["image_urls"], json!(["https://img.example/mate.jpg"]));
    assert_eq!(d["product"]["brand"], json!({"id": brand, "name": "HUAWEI"}));
    assert_eq!(d["product"]["category"], json!({"id": category, "name": "手机"}));
    assert_eq!(
        d["skus"],
        json!([
            {"sku_id": p.skus[0], "name": "black 12+256G", "spec": "black / 256GB", "price_cents": LIST_PRICES[0],
             "seckill_price_cents": SECKILL_PRICES[0], "stock": SALE_STOCK[0]},
            {"sku_id": p.skus[1], "name": "white 12+512G", "spec": "white / 512GB", "price_cents": LIST_PRICES[1],
             "seckill_price_cents": SECKILL_PRICES[1], "stock": SALE_STOCK[1]},
        ])
    );
    assert_eq!(
        d["rules"],
        json!({"total_limit": 2, "single_limit": 1, "min_level": 2, "reservation_required": true, "pay_timeout_secs": 900})
    );
    assert_eq!(d["slots"], json!([{"id": ten, "name": "10点场", "start": "10:00", "end": "12:00", "enabled": true}]));
    assert_eq!(d["state"], "upcoming");
    assert_eq!(
        (d["starts_at"].as_str(), d["ends_at"].as_str()),
        (Some("2026-11-10T16:00:00Z"), Some("2026-11-11T16:00:00Z"))
    );
    assert_eq!(d["next_window_start"], "2026-11-11T02:00:00Z");

    app.get("/api/activities/9999", None).await.assert_error(404, "NOT_FOUND");
    app.get("/api/activities/9999/status", None).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn the_status_is_tiny_cacheable_and_tells_the_units_left() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let id = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let r = app.get(&format!("/api/activities/{id}/status"), None).await;
    r.expect(200);
    assert_eq!(r.header("cache-control"), "public, max-age=1");
    assert_eq!(
        r.body,
        json!({
            "now": rfc3339(app.now()),
            "state": "upcoming",
            "next_window_start": "2026-11-11T02:00:00Z",
            "skus": [
                {"sku_id": p.skus[0], "remaining": SALE_STOCK[0], "sold_out": false},
                {"sku_id": p.skus[1], "remaining": SALE_STOCK[1], "sold_out": false},
            ],
        })
    );
}

/// Moves the clock to `local` and checks the state, the next window's start and the open
/// window's end as `/status`, the detail and the public list show them.
async fn expect_at(app: &TestApp, id: i64, local: &str, state: &str, next: Option<&str>, end: Option<&str>) {
    app.set_local_time(local);
    let at = |l: Option<&str>| l.map_or(Value::Null, |l| json!(rfc3339(app.local(l))));
    let status = app.get(&format!("/api/activities/{id}/status"), None).await;
    status.expect(200);
    let b = &status.body;
    assert_eq!(b["now"], json!(rfc3339(app.now())), "at {local}");
    assert_eq!(
        (&b["state"], &b["next_window_start"], &b["window_end"]),
        (&json!(state), &at(next), &at(end)),
        "at {local}: {}",
        status.text
    );
    let detail = app.get(&format!("/api/activities/{id}"), None).await;
    assert_eq!(
        (&detail.body["state"], &detail.body["next_window_start"], &detail.body["window_end"]),
        (&json!(state), &at(next), &at(end)),
        "detail at {local}"
    );
    let filter = match state {
        "running" | "paused" | "sold_out" => "running",
        other => other,
    };
    assert_eq!(public_list(app, &format!("?state={filter}")).await, [id], "listed as {filter} at {local}");
}

#[tokio::test]
async fn the_state_follows_the_clock_across_slots_and_midnight_in_shanghai() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let slots = [
        slot(&app, &admin, "0点场", "00:00", "02:00").await,
        slot(&app, &admin, "10点场", "10:00", "12:00").await,
        slot(&app, &admin, "22点场", "22:00", "24:00").await,
    ];
    // Two days: Singles' Day and the day after, in Shanghai.
    let body = activity_body(p, &slots, app.local("2026-11-11T00:00"), app.local("2026-11-13T00:00"));
    let id = create_activity(&app, &admin, &body).await;

    let (up, run, pause, end) = ("upcoming", "running", "paused", "ended");
    // The 22:00 slot of the 10th is before starts_at: the first window is 00:00 on the 11th.
    expect_at(&app, id, "2026-11-10T08:00", up, Some("2026-11-11T00:00"), None).await;
    expect_at(&app, id, "2026-11-10T23:59:59", up, Some("2026-11-11T00:00"), None).await;
    expect_at(&app, id, "2026-11-11T00:00", run, Some("2026-11-11T10:00"), Some("2026-11-11T02:00")).await;
    expect_at(&app, id, "2026-11-11T01:59:59", run, Some("2026-11-11T10:00"), Some("2026-11-11T02:00")).await;
    expect_at(&app, id, "2026-11-11T02:00", pause, Some("2026-11-11T10:00"), None).await;
    expect_at(&app, id, "2026-11-11T10:00", run, Some("2026-11-11T22:00"), Some("2026-11-11T12:00")).await;
    expect_at(&app, id, "2026-11-11T12:00", pause, Some("2026-11-11T22:00"), None).await;
    // 22:00–24:00 and 00:00–02:00 touch: one window across midnight, no flicker at 00:00.
    expect_at(&app, id, "2026-11-11T22:00", run, Some("2026-11-12T10:00"), Some("2026-11-12T02:00")).await;
    expect_at(&app, id, "2026-11-11T23:59:59", run, Some("2026-11-12T10:00"), Some("2026-11-12T02:00")).await;
    expect_at(&app, id, "2026-11-12T00:00", run, Some("2026-11-12T10:00"), Some("2026-11-12T02:00")).await;
    expect_at(&app, id, "2026-11-12T02:00", pause, Some("2026-11-12T10:00"), None).await;
    // The last window is clipped at ends_at, and nothing follows it.
    expect_at(&app, id, "2026-11-12T22:00", run, None, Some("2026-11-13T00:00")).await;
    expect_at(&app, id, "2026-11-13T00:00", end, None, None).await;
    assert_eq!(public_list(&app, "").await, Vec::<i64>::new(), "an ended activity leaves the default list");
}

#[tokio::test]
async fn todays_slots_are_local_days_with_the_activities_selling_in_them() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let products = [
        product_with_two_skus(&app, &admin, "Mate 70").await,
        product_with_two_skus(&app, &admin, "iPhone 17").await,
        product_with_two_skus(&app, &admin, "Buds 5").await,
    ];
    let midnight = slot(&app, &admin, "0点场", "00:00", "02:00").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let late = slot(&app, &admin, "22点场", "22:00", "24:00").await;
    app.post(
        "/api/admin/time-slots",
        &json!({"name": "off", "start": "14:00", "end": "16:00", "enabled": false}),
        Some(&admin),
    )
    .await
    .expect(201);
    let today = create_activity(&app, &admin, &singles_day(&app, products[0], &[midnight, ten])).await;
    let tomorrow = activity_body(products[1], &[ten], app.local("2026-11-12T00:00"), app.local("2026-11-13T00:00"));
    let tomorrow = create_activity(&app, &admin, &tomorrow).await;
    let off = with(&singles_day(&app, products[2], &[ten]), "/enabled", json!(false));
    create_activity(&app, &admin, &off).await;

    // 01:00 on the 11th in Shanghai is still the 10th in UTC: the shop's day counts.
    app.set_local_time("2026-11-11T01:00");
    let r = app.get("/api/time-slots", None).await;
    r.expect(200);
    assert_eq!(r.body["date"], "2026-11-11");
    assert_eq!(ids(&r), [midnight, ten, late], "enabled slots only: {}", r.text);
    let items = &r.body["items"];
    assert_eq!(
        (items[0]["start"].as_str(), items[0]["starts_at"].as_str(), items[0]["ends_at"].as_str()),
        (Some("00:00"), Some("2026-11-10T16:00:00Z"), Some("2026-11-10T18:00:00Z"))
    );
    assert_eq!(items[2]["ends_at"], "2026-11-11T16:00:00Z", "24:00 is the next midnight");
    let selling = |i: usize| -> Vec<i64> {
        items[i]["activities"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(selling(0), [today]);
    assert_eq!(items[0]["activities"][0]["state"], "running");
    assert_eq!(selling(1), [today], "neither tomorrow's sale nor a disabled one");
    assert_eq!(selling(2), Vec::<i64>::new());

    app.set_local_time("2026-11-12T01:00");
    let r = app.get("/api/time-slots", None).await;
    assert_eq!(r.body["date"], "2026-11-12");
    let items = &r.body["items"];
    assert_eq!(items[0]["activities"], json!([]), "yesterday's sale is over: {}", r.text);
    assert_eq!(items[1]["activities"][0]["id"], tomorrow);
    assert_eq!(items[1]["activities"][0]["state"], "upcoming");
}

#[tokio::test]
async fn days_with_a_dst_jump_keep_well_defined_windows_in_new_york() {
    let start = "2026-10-31T12:00:00Z".parse().unwrap();
    let app = seckill_testkit::spawn_app_with(seckill_testkit::AppOptions {
        timezone: "America/New_York",
        start,
        ..seckill_testkit::AppOptions::default()
    })
    .await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let one = slot(&app, &admin, "1点场", "01:00", "02:00").await;
    let two = slot(&app, &admin, "2点场", "02:00", "03:00").await;
    let ts = |s: &str| -> seckill_domain::Timestamp { s.parse().unwrap() };

    // Fall back (1 Nov 2026, 02:00 EDT → 01:00 EST): 01:00–02:00 spans the fold and lasts two
    // hours, from the first 01:00 (05:00 UTC) to 02:00 EST (07:00 UTC).
    let fall = activity_body(p, &[one], ts("2026-11-01T04:00:00Z"), ts("2026-11-02T05:00:00Z"));
    let id = create_activity(&app, &admin, &fall).await;
    let status = |at: &'static str| {
        let app = &app;
        async move {
            app.clock.set(at.parse().unwrap());
            app.get(&format!("/api/activities/{id}/status"), None).await.body
        }
    };
    let s = status("2026-11-01T04:59:59Z").await;
    assert_eq!(
        (s["state"].as_str(), s["next_window_start"].as_str()),
        (Some("upcoming"), Some("2026-11-01T05:00:00Z"))
    );
    let s = status("2026-11-01T05:00:00Z").await;
    assert_eq!((s["state"].as_str(), s["window_end"].as_str()), (Some("running"), Some("2026-11-01T07:00:00Z")));
    assert_eq!(status("2026-11-01T06:30:00Z").await["state"], "running", "01:30 EST, the second time round");
    assert_eq!(status("2026-11-01T07:00:00Z").await["state"], "ended", "no window follows on the last day");

    // Spring forward (8 Mar 2026, 02:00 EST → 03:00 EDT): 02:00–03:00 does not exist that day,
    // so a sale of that day in that slot never opens a window and is refused.
    app.clock.set("2026-03-01T12:00:00Z".parse().unwrap());
    let spring = activity_body(p, &[two], ts("2026-03-08T05:00:00Z"), ts("2026-03-09T04:00:00Z"));
    let r = app.post("/api/admin/activities", &spring, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(r.field("time_slot_ids").contains("no enabled time slot"), "{}", r.text);
    // The day after, the same slot is an ordinary hour.
    let next = activity_body(p, &[two], ts("2026-03-09T04:00:00Z"), ts("2026-03-10T04:00:00Z"));
    let r = app.post("/api/admin/activities", &next, Some(&admin)).await;
    r.expect(201);
    assert_eq!(r.body["next_window_start"], "2026-03-09T06:00:00Z", "02:00 EDT: {}", r.text);
}

#[tokio::test]
async fn product_pages_say_html_once_and_people_get_a_404_page_where_the_api_gets_json() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = product_with_two_skus(&app, &admin, "Mate 70 Pro").await;
    let morning = slot(&app, &admin, "上午场", "10:00", "12:00").await;
    let id = create_activity(&app, &admin, &singles_day(&app, product, &[morning])).await;

    // The page, plain and precompressed: one Content-Type, the page's own.
    for encoding in ["identity", "gzip"] {
        let page =
            app.reply(app.client.get(app.url(&format!("/seckill/{id}"))).header("accept-encoding", encoding)).await;
        page.expect(200);
        assert_eq!(page.header_all("content-type"), ["text/html; charset=utf-8"], "{encoding}");
    }

    // A browser following a bad or stale link gets a page with a way back.
    let browse =
        |path: &str| app.client.get(app.url(path)).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    for path in ["/seckill/999999", "/seckill/abc", "/pay/99999", "/pay/abc", "/no-such-page"] {
        let r = app.reply(browse(path)).await;
        r.expect(404);
        assert!(r.header("content-type").starts_with("text/html"), "{path}: {:?}", r.headers);
        assert!(r.text.contains("找不到这个页面") && r.text.contains(r#"href="/""#), "{path}: {}", r.text);
    }
    // The API, and clients that do not ask for HTML, keep the JSON error.
    app.reply(browse("/api/no-such-thing")).await.assert_error(404, "NOT_FOUND");
    app.get("/no-such-page", None).await.assert_error(404, "NOT_FOUND");
}
