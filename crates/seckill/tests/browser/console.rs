//! An operator in the console at desktop width.

use seckill_testkit::web::{Chrome, DESKTOP};
use seckill_testkit::{ADMIN_PASSWORD, ADMIN_USER, spawn_app};
use serde_json::json;

use crate::artifacts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_sees_the_api_validation_and_creates_an_activity() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let product = app
        .post(
            "/api/admin/products",
            &json!({
                "name": "AirPods Pro 3",
                "image_urls": ["/static/img/earbuds.svg"],
                "skus": [{"name": "white", "spec": "USB-C", "price_cents": 189_900, "stock": 300}],
            }),
            Some(&admin),
        )
        .await;
    product.expect(201);
    let (product_id, sku_id) = (product.id("id"), product.body["skus"][0]["id"].as_i64().unwrap());
    let slot = app
        .post("/api/admin/time-slots", &json!({"name": "晚场", "start": "20:00", "end": "22:00"}), Some(&admin))
        .await;
    slot.expect(201);
    let slot_id = slot.id("id");

    Chrome::run(&artifacts(), "operator_creates_an_activity", DESKTOP, |mut web| async {
        web.open(&app.url("/admin")).await;
        web.fill("#username", ADMIN_USER).await;
        web.fill("#password", "not-the-password").await;
        web.click("[data-testid=login]").await;
        web.wait_for("[data-testid=form-error]:not([hidden])").await;
        web.shot("login-refused").await;
        web.fill("#password", ADMIN_PASSWORD).await;
        web.click("[data-testid=login]").await;
        web.wait_for("[data-testid=dashboard]").await;
        web.shot("dashboard").await;

        web.click("[data-testid=nav-activities]").await;
        web.click("[data-testid=new-activity]").await;
        let form = "form[data-testid=activity-form]";
        web.fill(&format!("{form} input[name=name]"), "AirPods 双十一晚场").await;
        web.set_value(&format!("{form} select[name=product_id]"), &product_id.to_string()).await;
        let sku = format!("{form} [data-testid=activity-sku][data-sku-id='{sku_id}']");
        web.wait_for(&sku).await;
        web.set_value(&format!("{form} input[name=starts_at]"), "2026-11-11T00:00").await;
        web.set_value(&format!("{form} input[name=ends_at]"), "2026-11-12T00:00").await;
        web.check(&format!("{form} input[name=time_slot_ids][value='{slot_id}']"), true).await;
        web.check(&format!("{sku} input[name=include]"), true).await;
        // Dearer than the list price: the API refuses, and the form says so by the field.
        web.fill(&format!("{sku} input[name=seckill_price]"), "1999.00").await;
        web.fill(&format!("{sku} input[name=stock]"), "50").await;
        web.fill(&format!("{form} input[name=single_limit]"), "1").await;
        web.fill(&format!("{form} input[name=total_limit]"), "2").await;
        web.click("[data-testid=save-activity]").await;
        let refused =
            web.wait_text("[data-field-error]:not(:empty)", "the API's field message", |t| !t.trim().is_empty()).await;
        assert!(refused.contains("price"), "the message names the price: {refused:?}");
        web.shot("activity-refused").await;
        let listed = app.get("/api/admin/activities", Some(&admin)).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(0), "a refused form creates nothing");

        web.fill(&format!("{sku} input[name=seckill_price]"), "1299.00").await;
        web.click("[data-testid=save-activity]").await;
        let row = web.wait_for("[data-testid=activity-row]").await;
        web.wait_text("[data-testid=activity-row]", "the new activity", |t| t.contains("AirPods 双十一晚场")).await;
        let id: i64 = row.attr("data-id").await.unwrap().unwrap().parse().unwrap();
        web.shot("activity-listed").await;

        // What the console created is what was typed.
        let created = app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await;
        created.expect(200);
        assert_eq!(created.body["name"], "AirPods 双十一晚场");
        assert_eq!(created.body["product_id"], product_id);
        assert_eq!(created.body["time_slot_ids"], json!([slot_id]));
        assert_eq!(created.body["skus"][0]["sku_id"], sku_id);
        assert_eq!(created.body["skus"][0]["seckill_price_cents"], 129_900);
        assert_eq!(created.body["skus"][0]["stock"], 50);
        assert_eq!(created.body["single_limit"], 1);
        assert_eq!(created.body["total_limit"], 2);
        web
    })
    .await;
}
