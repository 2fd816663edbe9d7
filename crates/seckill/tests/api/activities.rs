//! Operators' activities: create, read with live figures, update, enable and disable, every
//! `422` rule of API.md "Activity validation", and `409 PRODUCT_IN_ACTIVITY`.
//!
//! `409 STOCK_BELOW_SOLD` needs orders: `rush` provokes it with real ones, while the sale is live.

use seckill_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};

use crate::{
    LIST_PRICES, SALE_STOCK, SECKILL_PRICES, SKU_STOCK, TwoSkus, activity_body, create_activity, ids,
    product_with_two_skus, rfc3339, singles_day, slot, with,
};

/// An app with an operator, a product with two SKUs and the enabled 10:00–12:00 slot.
async fn shop() -> (TestApp, String, TwoSkus, i64) {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = product_with_two_skus(&app, &admin, "HUAWEI Mate 70 Pro").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    (app, admin, product, ten)
}

async fn admin_list(app: &TestApp, admin: &str, query: &str) -> Vec<i64> {
    let r = app.get(&format!("/api/admin/activities{query}"), Some(admin)).await;
    r.expect(200);
    ids(&r)
}

#[tokio::test]
async fn an_operator_creates_a_valid_activity_and_reads_it_back_with_live_figures() {
    let (app, admin, p, ten) = shop().await;
    let body = with(&singles_day(&app, p, &[ten]), "/pay_timeout_secs", json!(600));
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.expect(201);
    let id = r.id("id");
    let a = &r.body;
    assert_eq!(a["name"], "Mate 70 Pro 限时秒杀");
    assert_eq!(a["product_id"], p.id);
    assert_eq!(a["starts_at"], "2026-11-10T16:00:00Z", "Singles' Day starts at midnight in Shanghai");
    assert_eq!(a["ends_at"], "2026-11-11T16:00:00Z");
    assert_eq!(a["time_slot_ids"], json!([ten]));
    assert_eq!(a["slots"][0]["start"], "10:00");
    assert_eq!(
        a["skus"],
        json!([
            {"sku_id": p.skus[0], "seckill_price_cents": SECKILL_PRICES[0], "stock": SALE_STOCK[0], "sold": 0, "remaining": SALE_STOCK[0]},
            {"sku_id": p.skus[1], "seckill_price_cents": SECKILL_PRICES[1], "stock": SALE_STOCK[1], "sold": 0, "remaining": SALE_STOCK[1]},
        ])
    );
    assert_eq!((a["total_limit"].as_i64(), a["single_limit"].as_i64()), (Some(2), Some(1)));
    assert_eq!((a["min_level"].as_i64(), a["reservation_required"].as_bool()), (Some(0), Some(false)));
    assert_eq!((a["pay_timeout_secs"].as_i64(), a["enabled"].as_bool()), (Some(600), Some(true)));
    assert_eq!(a["state"], "upcoming");
    assert_eq!(a["next_window_start"], rfc3339(app.local("2026-11-11T10:00")));
    assert_eq!(a["version"], 1);
    assert_eq!(a["figures"], json!({"sold": 0, "remaining": 150, "orders": 0, "paid": 0}));

    let got = app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await;
    got.expect(200);
    assert_eq!(got.body, r.body, "what was created is what is read");
    assert_eq!(admin_list(&app, &admin, "").await, [id]);
    app.get("/api/admin/activities/9999", Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn optional_rules_take_their_defaults_and_can_be_set() {
    let (app, admin, p, ten) = shop().await;
    let plain = app.post("/api/admin/activities", &singles_day(&app, p, &[ten]), Some(&admin)).await;
    plain.expect(201);
    assert_eq!(plain.body["pay_timeout_secs"], 900, "15 minutes by default");

    let other = product_with_two_skus(&app, &admin, "Other").await;
    let mut body = singles_day(&app, other, &[ten]);
    body["min_level"] = json!(3);
    body["reservation_required"] = json!(true);
    body["enabled"] = json!(false);
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.expect(201);
    assert_eq!((r.body["min_level"].as_i64(), r.body["reservation_required"].as_bool()), (Some(3), Some(true)));
    assert_eq!((r.body["enabled"].as_bool(), r.body["state"].as_str()), (Some(false), Some("disabled")));
    for (field, value) in [("min_level", json!(101)), ("min_level", json!(-1)), ("pay_timeout_secs", json!(0))] {
        let r =
            app.post("/api/admin/activities", &with(&body, &format!("/{field}"), value.clone()), Some(&admin)).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{field}={value}: {}", r.text);
    }
}

#[tokio::test]
async fn each_activity_validation_rule_of_the_api_is_a_422_naming_its_field() {
    let (app, admin, p, ten) = shop().await;
    let other = product_with_two_skus(&app, &admin, "Other").await;
    let off = app
        .post(
            "/api/admin/time-slots",
            &json!({"name": "off", "start": "14:00", "end": "16:00", "enabled": false}),
            Some(&admin),
        )
        .await
        .id("id");
    let gone = slot(&app, &admin, "gone", "18:00", "20:00").await;
    app.delete(&format!("/api/admin/time-slots/{gone}"), Some(&admin)).await.expect(204);
    let valid = singles_day(&app, p, &[ten]);
    let start = valid["starts_at"].clone();

    let cases: Vec<(&str, Value, &str)> = vec![
        ("starts_at equal to ends_at", with(&valid, "/ends_at", start.clone()), "ends_at"),
        ("starts_at after ends_at", with(&valid, "/ends_at", json!("2026-11-10T00:00:00Z")), "ends_at"),
        ("starts_at not a time", with(&valid, "/starts_at", json!("tomorrow")), "starts_at"),
        ("ends_at not a time", with(&valid, "/ends_at", json!("2026-13-01T00:00:00Z")), "ends_at"),
        ("a sku of another product", with(&valid, "/skus/0/sku_id", json!(other.skus[0])), "skus[0].sku_id"),
        ("a sku that does not exist", with(&valid, "/skus/1/sku_id", json!(987_654)), "skus[1].sku_id"),
        ("a sku listed twice", with(&valid, "/skus/1/sku_id", json!(p.skus[0])), "skus[1].sku_id"),
        ("no sku at all", with(&valid, "/skus", json!([])), "skus"),
        ("a zero seckill price", with(&valid, "/skus/0/seckill_price_cents", json!(0)), "skus[0].seckill_price_cents"),
        (
            "a negative seckill price",
            with(&valid, "/skus/0/seckill_price_cents", json!(-1)),
            "skus[0].seckill_price_cents",
        ),
        (
            "a seckill price above the list price",
            with(&valid, "/skus/1/seckill_price_cents", json!(LIST_PRICES[1] + 1)),
            "skus[1].seckill_price_cents",
        ),
        ("zero stock", with(&valid, "/skus/0/stock", json!(0)), "skus[0].stock"),
        ("negative stock", with(&valid, "/skus/0/stock", json!(-5)), "skus[0].stock"),
        ("stock above the sku's stock", with(&valid, "/skus/1/stock", json!(SKU_STOCK[1] + 1)), "skus[1].stock"),
        ("a single_limit of zero", with(&valid, "/single_limit", json!(0)), "single_limit"),
        (
            "a total_limit below single_limit",
            with(&with(&valid, "/single_limit", json!(3)), "/total_limit", json!(2)),
            "total_limit",
        ),
        ("a slot that does not exist", with(&valid, "/time_slot_ids", json!([ten, 987_654])), "time_slot_ids"),
        ("a deleted slot", with(&valid, "/time_slot_ids", json!([gone])), "time_slot_ids"),
        ("no slot at all", with(&valid, "/time_slot_ids", json!([])), "time_slot_ids"),
        ("a slot listed twice", with(&valid, "/time_slot_ids", json!([ten, ten])), "time_slot_ids"),
        ("only a disabled slot: no window ever opens", with(&valid, "/time_slot_ids", json!([off])), "time_slot_ids"),
        ("a product that does not exist", with(&valid, "/product_id", json!(987_654)), "product_id"),
        ("an empty name", with(&valid, "/name", json!("  ")), "name"),
        ("longer than 400 days", with(&valid, "/ends_at", json!("2027-12-31T00:00:00Z")), "ends_at"),
        // The records keep milliseconds: instants apart by less are the same instant.
        (
            "starts_at and ends_at within one millisecond",
            with(
                &with(&valid, "/starts_at", json!("2026-11-11T02:00:00.0001Z")),
                "/ends_at",
                json!("2026-11-11T02:00:00.0009Z"),
            ),
            "ends_at",
        ),
    ];
    for (why, body, field) in cases {
        let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
        assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_FAILED"), "{why}: {}", r.text);
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{why}: {field} is not named: {}", r.text);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{why}: the message names it: {}",
            r.text
        );
    }
    assert_eq!(admin_list(&app, &admin, "").await, Vec::<i64>::new(), "none of them was created");
}

#[tokio::test]
async fn times_are_kept_to_the_millisecond_and_answered_in_utc() {
    let (app, admin, p, ten) = shop().await;
    let mut body = singles_day(&app, p, &[ten]);
    body["starts_at"] = json!("2026-11-11T10:30:00.123456+08:00");
    body["ends_at"] = json!("2026-11-11T11:00:00.000999+08:00");
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.expect(201);
    assert_eq!(
        (r.body["starts_at"].as_str(), r.body["ends_at"].as_str()),
        (Some("2026-11-11T02:30:00.123Z"), Some("2026-11-11T03:00:00Z"))
    );
    assert_eq!(app.get(&format!("/api/admin/activities/{}", r.id("id")), Some(&admin)).await.body, r.body);
}

#[tokio::test]
async fn a_422_lists_every_problem_of_the_activity_at_once() {
    let (app, admin, p, ten) = shop().await;
    let mut body = singles_day(&app, p, &[ten]);
    body["ends_at"] = body["starts_at"].clone();
    body["skus"][0]["seckill_price_cents"] = json!(0);
    body["skus"][1]["stock"] = json!(0);
    body["single_limit"] = json!(5);
    body["total_limit"] = json!(1);
    body["time_slot_ids"] = json!([]);
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    for field in ["ends_at", "skus[0].seckill_price_cents", "skus[1].stock", "total_limit", "time_slot_ids"] {
        assert!(!r.field(field).is_empty(), "{field} missing: {}", r.text);
    }
    // Rules that need the records are also reported together.
    let mut body = singles_day(&app, p, &[ten, 987_654]);
    body["skus"][0]["seckill_price_cents"] = json!(LIST_PRICES[0] + 1);
    body["skus"][1]["stock"] = json!(SKU_STOCK[1] + 1);
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    for field in ["skus[0].seckill_price_cents", "skus[1].stock", "time_slot_ids"] {
        assert!(!r.field(field).is_empty(), "{field} missing: {}", r.text);
    }
}

#[tokio::test]
async fn the_boundaries_of_the_validation_rules_are_accepted() {
    let (app, admin, p, ten) = shop().await;
    let mut body = singles_day(&app, p, &[ten]);
    body["skus"][0]["seckill_price_cents"] = json!(LIST_PRICES[0]); // equal to the list price
    body["skus"][0]["stock"] = json!(SKU_STOCK[0]); // all of the sku's stock
    body["skus"][1]["seckill_price_cents"] = json!(1);
    body["skus"][1]["stock"] = json!(1);
    body["single_limit"] = json!(3);
    body["total_limit"] = json!(3); // equal to single_limit
    let r = app.post("/api/admin/activities", &body, Some(&admin)).await;
    r.expect(201);
    assert_eq!(r.body["figures"]["remaining"], SKU_STOCK[0] + 1);
}

#[tokio::test]
async fn a_product_already_in_an_overlapping_enabled_activity_is_a_409() {
    let (app, admin, p, ten) = shop().await;
    let first = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let r = app.post("/api/admin/activities", &singles_day(&app, p, &[ten]), Some(&admin)).await;
    r.assert_error(409, "PRODUCT_IN_ACTIVITY");
    assert!(r.body["error"]["message"].as_str().unwrap().contains(&first.to_string()), "names it: {}", r.text);
    // Overlapping dates, an overlapping slot among others: still the same windows.
    let two = slot(&app, &admin, "20点场", "20:00", "22:00").await;
    let wider = activity_body(p, &[two, ten], app.local("2026-11-10T00:00"), app.local("2026-11-13T00:00"));
    app.post("/api/admin/activities", &wider, Some(&admin)).await.assert_error(409, "PRODUCT_IN_ACTIVITY");
    assert_eq!(admin_list(&app, &admin, "").await, [first]);
}

#[tokio::test]
async fn one_product_may_sell_in_activities_whose_windows_never_meet() {
    let (app, admin, p, ten) = shop().await;
    let first = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    // Same day, another slot.
    let evening = slot(&app, &admin, "20点场", "20:00", "22:00").await;
    let same_day = create_activity(&app, &admin, &singles_day(&app, p, &[evening])).await;
    // Same slot, the next day (touching dates do not overlap).
    let next_day = activity_body(p, &[ten], app.local("2026-11-12T00:00"), app.local("2026-11-13T00:00"));
    let next = create_activity(&app, &admin, &next_day).await;
    // Overlapping, but disabled: allowed, since only enabled activities sell.
    let disabled = create_activity(&app, &admin, &with(&singles_day(&app, p, &[ten]), "/enabled", json!(false))).await;
    assert_eq!(admin_list(&app, &admin, "").await.len(), 4);

    // Enabling it would make two sell at once.
    let r = app.post(&format!("/api/admin/activities/{disabled}/enable"), &json!({}), Some(&admin)).await;
    r.assert_error(409, "PRODUCT_IN_ACTIVITY");
    // Once the first is disabled it may.
    app.post(&format!("/api/admin/activities/{first}/disable"), &json!({}), Some(&admin)).await.expect(200);
    let r = app.post(&format!("/api/admin/activities/{disabled}/enable"), &json!({}), Some(&admin)).await;
    r.expect(200);
    assert_eq!(r.body["enabled"], true);
    // And now the first cannot come back.
    let r = app.post(&format!("/api/admin/activities/{first}/enable"), &json!({}), Some(&admin)).await;
    r.assert_error(409, "PRODUCT_IN_ACTIVITY");
    // Moving an activity onto another's windows by an update is refused the same way.
    let onto = singles_day(&app, p, &[ten]);
    let r = app.put(&format!("/api/admin/activities/{next}"), &onto, Some(&admin)).await;
    r.assert_error(409, "PRODUCT_IN_ACTIVITY");
    let unchanged = app.get(&format!("/api/admin/activities/{next}"), Some(&admin)).await;
    assert_eq!(unchanged.body["starts_at"], rfc3339(app.local("2026-11-12T00:00")));
    let evening = app.get(&format!("/api/admin/activities/{same_day}"), Some(&admin)).await;
    assert_eq!(evening.body["enabled"], true, "the evening sale never met the others: {}", evening.text);
}

#[tokio::test]
async fn an_update_replaces_the_definition_and_moves_the_version() {
    let (app, admin, p, ten) = shop().await;
    let id = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let two = slot(&app, &admin, "20点场", "20:00", "22:00").await;
    let mut body = singles_day(&app, p, &[two, ten]);
    body["name"] = json!("Mate 70 Pro 双十一");
    body["skus"] = json!([{"sku_id": p.skus[1], "seckill_price_cents": 450_000, "stock": 80}]);
    body["total_limit"] = json!(4);
    body["single_limit"] = json!(2);
    let r = app.put(&format!("/api/admin/activities/{id}"), &body, Some(&admin)).await;
    r.expect(200);
    assert_eq!((r.id("id"), r.body["version"].as_i64()), (id, Some(2)));
    assert_eq!(r.body["name"], "Mate 70 Pro 双十一");
    assert_eq!(r.body["time_slot_ids"], json!([two, ten]), "in the order given");
    assert_eq!(
        r.body["skus"],
        json!([{"sku_id": p.skus[1], "seckill_price_cents": 450_000, "stock": 80, "sold": 0, "remaining": 80}])
    );
    assert_eq!((r.body["total_limit"].as_i64(), r.body["single_limit"].as_i64()), (Some(4), Some(2)));
    assert_eq!(r.body["figures"]["remaining"], 80);
    assert_eq!(app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await.body, r.body);

    // Nothing is sold yet, so the activity may even move to another product and its skus.
    let other = product_with_two_skus(&app, &admin, "Other").await;
    let moved = with(&body, "/product_id", json!(other.id));
    let moved = with(&moved, "/skus", json!([{"sku_id": other.skus[0], "seckill_price_cents": 1_000, "stock": 5}]));
    let r = app.put(&format!("/api/admin/activities/{id}"), &moved, Some(&admin)).await;
    r.expect(200);
    assert_eq!((r.body["product_id"].as_i64(), r.body["version"].as_i64()), (Some(other.id), Some(3)));
    assert_eq!(
        r.body["skus"],
        json!([{"sku_id": other.skus[0], "seckill_price_cents": 1_000, "stock": 5, "sold": 0, "remaining": 5}])
    );
    // The old product's skus are free again: it may be put in another activity at once.
    create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let body = moved;

    // The same rules as on create.
    let bad = with(&body, "/skus/0/stock", json!(0));
    app.put(&format!("/api/admin/activities/{id}"), &bad, Some(&admin)).await.assert_error(422, "VALIDATION_FAILED");
    let after = app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await;
    assert_eq!(after.body["version"], 3, "a refused update changes nothing");
    app.put("/api/admin/activities/9999", &body, Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn disable_and_enable_switch_the_activity_for_operators_and_shoppers() {
    let (app, admin, p, ten) = shop().await;
    let id = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    app.set_local_time("2026-11-11T10:30");
    async fn status(app: &TestApp, id: i64) -> String {
        app.get(&format!("/api/activities/{id}/status"), None).await.body["state"].as_str().unwrap_or("").to_owned()
    }
    assert_eq!(status(&app, id).await, "running");

    let r = app.post(&format!("/api/admin/activities/{id}/disable"), &json!({}), Some(&admin)).await;
    r.expect(200);
    assert_eq!((r.body["enabled"].as_bool(), r.body["state"].as_str()), (Some(false), Some("disabled")));
    assert!(r.body.get("window_end").is_none() && r.body.get("next_window_start").is_none(), "{}", r.text);
    assert_eq!(r.body["version"], 2);
    assert_eq!(status(&app, id).await, "disabled");
    let public = app.get("/api/activities", None).await;
    assert_eq!(ids(&public), Vec::<i64>::new(), "shoppers do not list a disabled activity");

    // Switching to the current value is harmless and changes nothing.
    let again = app.post(&format!("/api/admin/activities/{id}/disable"), &json!({}), Some(&admin)).await;
    again.expect(200);
    assert_eq!(again.body["version"], 2);

    let r = app.post(&format!("/api/admin/activities/{id}/enable"), &json!({}), Some(&admin)).await;
    r.expect(200);
    assert_eq!((r.body["enabled"].as_bool(), r.body["state"].as_str()), (Some(true), Some("running")));
    assert_eq!(status(&app, id).await, "running");
    assert_eq!(ids(&app.get("/api/activities", None).await), [id]);

    for verb in ["enable", "disable"] {
        let r = app.post(&format!("/api/admin/activities/9999/{verb}"), &json!({}), Some(&admin)).await;
        r.assert_error(404, "NOT_FOUND");
    }
}

#[tokio::test]
async fn the_operators_list_filters_by_state() {
    let (app, admin, p, ten) = shop().await;
    let other = product_with_two_skus(&app, &admin, "Other").await;
    let third = product_with_two_skus(&app, &admin, "Third").await;
    app.set_local_time("2026-11-11T10:30");
    let running = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let upcoming = activity_body(other, &[ten], app.local("2026-11-12T00:00"), app.local("2026-11-13T00:00"));
    let upcoming = create_activity(&app, &admin, &upcoming).await;
    let ended = activity_body(other, &[ten], app.local("2026-11-09T00:00"), app.local("2026-11-10T00:00"));
    let ended = create_activity(&app, &admin, &ended).await;
    let disabled =
        create_activity(&app, &admin, &with(&singles_day(&app, third, &[ten]), "/enabled", json!(false))).await;

    assert_eq!(admin_list(&app, &admin, "").await.len(), 4);
    assert_eq!(admin_list(&app, &admin, "?state=").await.len(), 4, "a blank filter is no filter");
    assert_eq!(admin_list(&app, &admin, "?state=running").await, [running]);
    assert_eq!(admin_list(&app, &admin, "?state=upcoming").await, [upcoming]);
    assert_eq!(admin_list(&app, &admin, "?state=ended").await, [ended]);
    assert_eq!(admin_list(&app, &admin, "?state=disabled").await, [disabled]);
    assert_eq!(admin_list(&app, &admin, "?state=paused").await, Vec::<i64>::new());
    app.set_local_time("2026-11-11T13:00");
    assert_eq!(admin_list(&app, &admin, "?state=paused").await, Vec::<i64>::new(), "no window after 12:00: ended");
    // Once its last window is over, a disabled activity is simply ended.
    assert_eq!(admin_list(&app, &admin, "?state=ended").await, [ended, running, disabled]);
    assert_eq!(admin_list(&app, &admin, "?state=disabled").await, Vec::<i64>::new());
    for bad in ["?state=weird", "?state=RUNNING", "?state=1"] {
        let r = app.get(&format!("/api/admin/activities{bad}"), Some(&admin)).await;
        r.assert_error(400, "BAD_REQUEST");
    }
}
