//! What the PostgreSQL and Redis tests of this crate share: fresh records over a fresh database,
//! and a product, slot, sale and shoppers in them.

#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use seckill_cluster::{PgOptions, PgRecords};
use seckill_domain::activity::{Activity, NewActivity, NewActivitySku, PurchaseRules};
use seckill_domain::catalog::{NewProduct, Product, ProductInput, SkuInput};
use seckill_domain::ids::{AddressId, UserId};
use seckill_domain::money::Money;
use seckill_domain::slot::NewTimeSlot;
use seckill_domain::{TimeZone, Timestamp};
use seckill_store::Records;
use seckill_store::conformance::{new_address, new_user};
use seckill_store::rush::OrderDraft;
use seckill_testkit::postgres::{TestDatabase, fresh_database};
use sqlx::PgPool;

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn now() -> Timestamp {
    ts("2026-11-01T00:00:00Z")
}

/// Fresh records over a fresh database, and a raw pool to the same database.
pub struct Db {
    pub records: Records,
    pub backend: Arc<PgRecords>,
    pub raw: PgPool,
    pub database: TestDatabase,
}

pub async fn open() -> Db {
    let database = fresh_database().await;
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let backend = Arc::new(PgRecords::connect(PgOptions::new(database.url(), tz)).await.unwrap());
    let raw = PgPool::connect(database.url()).await.unwrap();
    Db { records: backend.records(), backend, raw, database }
}

pub fn product(name: &str) -> NewProduct {
    NewProduct::parse(&ProductInput {
        name,
        skus: vec![
            SkuInput { id: None, name: "black", spec: None, price_cents: 19_900, stock: 500 },
            SkuInput { id: None, name: "white", spec: None, price_cents: 19_900, stock: 500 },
        ],
        ..Default::default()
    })
    .unwrap()
}

pub fn sale(product: &Product, slot: seckill_domain::ids::SlotId, stock: u32) -> NewActivity {
    NewActivity {
        name: "sale".into(),
        product_id: product.id,
        starts_at: ts("2026-11-11T00:00:00+08:00"),
        ends_at: ts("2026-11-12T00:00:00+08:00"),
        slot_ids: vec![slot],
        skus: vec![NewActivitySku { sku_id: product.skus[0].id, seckill_price: Money::from_cents(9_900), stock }],
        rules: PurchaseRules {
            total_limit: 100,
            single_limit: 100,
            min_level: 0,
            reservation_required: false,
            pay_timeout_secs: 900,
        },
        enabled: true,
    }
}

/// A product, a 10:00–12:00 slot and an activity selling `stock` of the product's first SKU.
pub async fn scenario(db: &Db, stock: u32) -> (Product, Activity) {
    let c = &db.records.catalog;
    let product = c.create_product(&product("Phone"), now()).await.unwrap();
    let slot = NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap();
    let slot = c.create_slot(&slot, now()).await.unwrap();
    let activity = c.create_activity(&sale(&product, slot.id, stock), now()).await.unwrap();
    (product, activity)
}

pub async fn set_sold(db: &Db, activity: &Activity, sold: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE activity_skus SET sold = $1 WHERE activity_id = $2")
        .bind(sold)
        .bind(activity.id.get())
        .execute(&db.raw)
        .await
        .map(drop)
}

/// A shopper with an address.
pub async fn buyer(db: &Db, name: &str) -> (UserId, AddressId) {
    let a = &db.records.accounts;
    let user = a.create_user(&new_user(name), "h", now()).await.unwrap();
    let address = a.add_address(user.id, &new_address(name, None), now()).await.unwrap();
    (user.id, address.id)
}

pub fn draft(activity: &Activity, (user, address): (UserId, AddressId), quantity: u32) -> OrderDraft {
    seckill_store::conformance::rush::draft(activity.id, activity.skus[0].sku_id, user, address, quantity, None)
}
