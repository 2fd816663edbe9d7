//! The pages of API.md "Pages", clicked through in real headless Chromium (WebDriver via
//! chromedriver) against a real server on a free loopback port.
//!
//! The server's clock is injected: the page's countdown runs on the browser's clock, offset to
//! the server's `/api/time`, and the test moves the server's clock when the countdown reaches
//! zero, as the real one would have moved meanwhile. Screenshots of the key pages are written
//! under `target/tmp/browser/<test>/` when a test fails (`KEEP_BROWSER_SCREENSHOTS=1` keeps
//! them always). These tests run one at a time (nextest group `browser`).

#![allow(clippy::unwrap_used)]

mod console;
mod shop;

use std::path::PathBuf;

use seckill_testkit::TestApp;
use seckill_testkit::web::Chrome;
use serde_json::{Value, json};

/// Where the screenshots go.
pub fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// What an operator set up for a page test.
#[derive(Debug, Clone, Copy)]
pub struct Sale {
    pub activity: i64,
    pub product: i64,
    pub skus: [i64; 2],
    pub slot: i64,
}

/// A phone with two SKUs, a daily slot 10:00–12:00 and a Singles' Day activity in it (one
/// black phone at ¥3999.00 and five white ones at ¥4999.00, one per shopper) — created over
/// the operators' API with `admin`'s token.
pub async fn sale(app: &TestApp, admin: &str) -> Sale {
    let brand = app.post("/api/admin/brands", &json!({"name": "Huawei"}), Some(admin)).await;
    brand.expect(201);
    let category = app.post("/api/admin/categories", &json!({"name": "手机"}), Some(admin)).await;
    category.expect(201);
    let product = app
        .post(
            "/api/admin/products",
            &json!({
                "name": "Mate 70 Pro",
                "description": "6.9\" OLED, 1 TB",
                "brand_id": brand.id("id"),
                "category_id": category.id("id"),
                "image_urls": ["/static/img/phone.svg"],
                "skus": [
                    {"name": "black 12+256G", "spec": "black / 256GB", "price_cents": 599_900, "stock": 100},
                    {"name": "white 12+512G", "spec": "white / 512GB", "price_cents": 699_900, "stock": 100},
                ],
            }),
            Some(admin),
        )
        .await;
    product.expect(201);
    let skus = [product.body["skus"][0]["id"].as_i64().unwrap(), product.body["skus"][1]["id"].as_i64().unwrap()];
    let slot = app
        .post("/api/admin/time-slots", &json!({"name": "上午场", "start": "10:00", "end": "12:00"}), Some(admin))
        .await;
    slot.expect(201);
    let activity = app
        .post(
            "/api/admin/activities",
            &json!({
                "name": "Mate 70 Pro 双十一秒杀",
                "product_id": product.id("id"),
                "starts_at": app.local("2026-11-11T00:00").to_string(),
                "ends_at": app.local("2026-11-12T00:00").to_string(),
                "time_slot_ids": [slot.id("id")],
                "skus": [
                    {"sku_id": skus[0], "seckill_price_cents": 399_900, "stock": 1},
                    {"sku_id": skus[1], "seckill_price_cents": 499_900, "stock": 5},
                ],
                "total_limit": 1,
                "single_limit": 1,
            }),
            Some(admin),
        )
        .await;
    activity.expect(201);
    Sale { activity: activity.id("id"), product: product.id("id"), skus, slot: slot.id("id") }
}

/// Registers `name` (password `<name>-password`) on the login page the browser is on, as a
/// shopper would: the register tab, the two fields, the button.
pub async fn register(web: &Chrome, name: &str) {
    web.click(".tabs button[data-tab=register]").await;
    web.fill("#username", name).await;
    web.fill("#password", &format!("{name}-password")).await;
    web.click("[data-testid=login]").await;
}

/// A valid delivery address.
pub fn address(contact: &str) -> Value {
    json!({
        "contact": contact,
        "phone": "13800138000",
        "province": "浙江省",
        "city": "杭州市",
        "district": "余杭区",
        "detail": "文一西路 969 号",
        "is_default": true,
    })
}
