//! The HTTP API of API.md, end to end: every test starts a real server on a free loopback port
//! over its own temp data dir (`seckill_testkit::spawn_app`), drives it over real HTTP and moves
//! the server's injected clock instead of sleeping.
//!
//! One binary, one module per area (CONVENTIONS "Tests"); the helpers below build the catalog
//! most tests need, the way an operator would, over HTTP.

#![allow(clippy::unwrap_used)]

mod accounts;
mod activities;
mod auth;
mod catalog;
mod connections;
mod errors;
mod ops;
mod orders;
mod payments;
mod public;
mod restart;
mod rush;
mod sale;
mod search;
mod slots;

use seckill_domain::Timestamp;
use seckill_testkit::TestApp;
use serde_json::{Value, json};

/// List prices of the two SKUs of [`product_with_two_skus`].
pub const LIST_PRICES: [i64; 2] = [599_900, 699_900];
/// Ordinary stock of the two SKUs of [`product_with_two_skus`].
pub const SKU_STOCK: [i64; 2] = [1_000, 500];
/// Seckill prices in [`activity_body`].
pub const SECKILL_PRICES: [i64; 2] = [399_900, 499_900];
/// Units put on sale in [`activity_body`].
pub const SALE_STOCK: [i64; 2] = [100, 50];

/// A product created over HTTP and the ids of its two SKUs.
#[derive(Debug, Clone, Copy)]
pub struct TwoSkus {
    pub id: i64,
    pub skus: [i64; 2],
}

/// Creates product `name` with two SKUs (black at ¥5999.00 × 1000, white at ¥6999.00 × 500).
pub async fn product_with_two_skus(app: &TestApp, admin: &str, name: &str) -> TwoSkus {
    let body = json!({
        "name": name,
        "description": "6.9\" OLED",
        "image_urls": ["https://img.example/mate.jpg"],
        "skus": [
            {"name": "black 12+256G", "spec": "black / 256GB", "price_cents": LIST_PRICES[0], "stock": SKU_STOCK[0]},
            {"name": "white 12+512G", "spec": "white / 512GB", "price_cents": LIST_PRICES[1], "stock": SKU_STOCK[1]},
        ],
    });
    let r = app.post("/api/admin/products", &body, Some(admin)).await;
    r.expect(201);
    let sku = |i: usize| r.body["skus"][i]["id"].as_i64().unwrap_or_else(|| panic!("no sku {i}: {}", r.text));
    TwoSkus { id: r.id("id"), skus: [sku(0), sku(1)] }
}

/// Creates an enabled daily slot `start`–`end` (`"HH:MM"`) and returns its id.
pub async fn slot(app: &TestApp, admin: &str, name: &str, start: &str, end: &str) -> i64 {
    let r = app.post("/api/admin/time-slots", &json!({"name": name, "start": start, "end": end}), Some(admin)).await;
    r.expect(201);
    r.id("id")
}

/// A valid activity of `product` in `slots` from `starts_at` to `ends_at`: both SKUs, at
/// [`SECKILL_PRICES`] with [`SALE_STOCK`], two per shopper, one per order.
pub fn activity_body(product: TwoSkus, slots: &[i64], starts_at: Timestamp, ends_at: Timestamp) -> Value {
    json!({
        "name": "Mate 70 Pro 限时秒杀",
        "product_id": product.id,
        "starts_at": starts_at.to_string(),
        "ends_at": ends_at.to_string(),
        "time_slot_ids": slots,
        "skus": [
            {"sku_id": product.skus[0], "seckill_price_cents": SECKILL_PRICES[0], "stock": SALE_STOCK[0]},
            {"sku_id": product.skus[1], "seckill_price_cents": SECKILL_PRICES[1], "stock": SALE_STOCK[1]},
        ],
        "total_limit": 2,
        "single_limit": 1,
    })
}

/// [`activity_body`] for the whole of Singles' Day (2026-11-11) in the app's zone.
pub fn singles_day(app: &TestApp, product: TwoSkus, slots: &[i64]) -> Value {
    activity_body(product, slots, app.local("2026-11-11T00:00"), app.local("2026-11-12T00:00"))
}

/// Creates an activity from `body` and returns its id.
pub async fn create_activity(app: &TestApp, admin: &str, body: &Value) -> i64 {
    let r = app.post("/api/admin/activities", body, Some(admin)).await;
    r.expect(201);
    r.id("id")
}

/// `body` with the value at JSON pointer `pointer` (`"/skus/0/stock"`) set to `value` (a
/// missing last key is added).
pub fn with(body: &Value, pointer: &str, value: Value) -> Value {
    let mut changed = body.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("not a JSON pointer: {pointer}"));
    match changed.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) if key.parse::<usize>().is_ok_and(|i| i < items.len()) => {
            items[key.parse::<usize>().unwrap()] = value;
        }
        _ => panic!("no {pointer} in {body}"),
    }
    changed
}

/// The instant `t` as the API writes it (RFC 3339 UTC).
pub fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

/// A valid delivery address.
pub fn address(contact: &str, is_default: Option<bool>) -> Value {
    let mut a = json!({
        "contact": contact,
        "phone": "13800138000",
        "province": "浙江省",
        "city": "杭州市",
        "district": "余杭区",
        "detail": "文一西路 969 号",
    });
    if let Some(d) = is_default {
        a["is_default"] = json!(d);
    }
    a
}

/// The `id`s of `items` in a list answer, in order.
pub fn ids(reply: &seckill_testkit::Reply) -> Vec<i64> {
    reply.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", reply.text))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}
