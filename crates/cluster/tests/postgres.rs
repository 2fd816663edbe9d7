//! PostgreSQL-specific checks that the conformance suite cannot make through the ports: the
//! migrations, the schema's own guards, rules that need `sold > 0` before orders exist (set
//! here with raw SQL), the trigram index, a redelivered order batch, and order batches racing
//! each other and an operator's stock change — as the stream consumers of several instances
//! will.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;

use std::sync::Arc;

use seckill_cluster::{PgOptions, PgRecords};
use seckill_domain::TimeZone;
use seckill_domain::activity::NewActivitySku;
use seckill_domain::money::Money;
use seckill_domain::slot::NewTimeSlot;
use seckill_domain::user::NewUser;
use seckill_store::rush::OrderDraft;
use seckill_store::{Conflict, SearchQuery, StoreError};
use seckill_testkit::postgres::empty_database;
use sqlx::{PgPool, Row as _};

/// The migrations of this crate, as the records apply them (for stopping half-way).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

#[tokio::test]
async fn migrations_apply_once_and_reconnecting_keeps_the_data() {
    let database = empty_database().await;
    let options = || PgOptions::new(database.url(), TimeZone::UTC);
    let first = Arc::new(PgRecords::connect(options()).await.unwrap());
    let applied = first.applied_migrations().await.unwrap();
    assert_eq!(
        applied,
        [
            (1, "schema".to_owned()),
            (2, "search".to_owned()),
            (3, "lighter order indexes".to_owned()),
            (4, "order lists by time".to_owned()),
        ]
    );
    let alice = NewUser::parse("alice", "correct horse", None, None, None).unwrap();
    let user = first.records().accounts.create_user(&alice, "h", now()).await.unwrap();
    first.close().await;

    let again = Arc::new(PgRecords::connect(options()).await.unwrap());
    assert_eq!(again.applied_migrations().await.unwrap(), applied);
    assert_eq!(again.records().accounts.user(user.id).await.unwrap(), user);
    again.records().health.ping().await.unwrap();
    again.close().await;
}

#[tokio::test]
async fn a_bad_url_is_invalid_and_an_unreachable_server_is_unavailable() {
    let bad = PgRecords::connect(PgOptions::new("postgres://x:y@127.0.0.1:notaport/db", TimeZone::UTC)).await;
    match bad {
        Err(StoreError::Invalid(e)) => assert!(e.get("database_url").is_some(), "{e}"),
        other => panic!("{other:?}"),
    }
    // Nothing listens on port 1.
    let mut options = PgOptions::new("postgres://seckill:secret-pw@127.0.0.1:1/db", TimeZone::UTC);
    options.acquire_timeout = std::time::Duration::from_secs(2);
    match PgRecords::connect(options.clone()).await {
        Err(StoreError::Unavailable(message)) => assert!(!message.contains("secret-pw"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(!format!("{options:?}").contains("secret-pw"));
}

#[tokio::test]
async fn the_schema_refuses_an_oversell() {
    let db = open().await;
    let (_, activity) = scenario(&db, 100).await;
    set_sold(&db, &activity, 100).await.unwrap();
    match set_sold(&db, &activity, 101).await {
        Err(sqlx::Error::Database(e)) => assert!(e.is_check_violation(), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(set_sold(&db, &activity, -1).await.is_err());
    assert_eq!(db.records.catalog.activity(activity.id).await.unwrap().skus[0].sold, 100);
}

#[tokio::test]
async fn stock_cannot_drop_below_sold_and_sold_survives_an_update() {
    let db = open().await;
    let c = &db.records.catalog;
    let (product, activity) = scenario(&db, 100).await;
    set_sold(&db, &activity, 60).await.unwrap();
    let sku = product.skus[0].id;
    let slot = activity.slots[0].id;
    let later = ts("2026-11-02T00:00:00Z");

    match c.update_activity(activity.id, &sale(&product, slot, 59), later).await {
        Err(StoreError::Conflict(c)) => assert_eq!(c, Conflict::StockBelowSold { sku_id: sku, stock: 59, sold: 60 }),
        other => panic!("{other:?}"),
    }
    // Removing a SKU with sales counts as stock 0.
    let mut without = sale(&product, slot, 60);
    without.skus[0].sku_id = product.skus[1].id;
    match c.update_activity(activity.id, &without, later).await {
        Err(StoreError::Conflict(c)) => assert_eq!(c, Conflict::StockBelowSold { sku_id: sku, stock: 0, sold: 60 }),
        other => panic!("{other:?}"),
    }
    let exact = c.update_activity(activity.id, &sale(&product, slot, 60), later).await.unwrap();
    assert_eq!((exact.skus[0].stock, exact.skus[0].sold), (60, 60));
    let more = c.update_activity(activity.id, &sale(&product, slot, 80), later).await.unwrap();
    assert_eq!((more.skus[0].stock, more.skus[0].sold, more.skus[0].remaining()), (80, 60, 20));
}

#[tokio::test]
async fn the_product_of_an_activity_cannot_change_once_anything_is_sold() {
    let db = open().await;
    let c = &db.records.catalog;
    let (_, activity) = scenario(&db, 100).await;
    let laptop = c.create_product(&product("Laptop"), now()).await.unwrap();
    set_sold(&db, &activity, 1).await.unwrap();
    let moved = sale(&laptop, activity.slots[0].id, 10);
    match c.update_activity(activity.id, &moved, ts("2026-11-02T00:00:00Z")).await {
        Err(StoreError::Invalid(e)) => assert!(e.get("product_id").is_some(), "{e}"),
        other => panic!("{other:?}"),
    }
    set_sold(&db, &activity, 0).await.unwrap();
    let moved = c.update_activity(activity.id, &moved, ts("2026-11-02T00:00:00Z")).await.unwrap();
    assert_eq!(moved.product_id, laptop.id);
}

#[tokio::test]
async fn stored_data_that_breaks_the_domain_is_an_internal_error() {
    let db = open().await;
    let (_, activity) = scenario(&db, 100).await;
    // Past any instant the domain can hold.
    sqlx::query("UPDATE activities SET ends_at = $1 WHERE id = $2")
        .bind(i64::MAX)
        .bind(activity.id.get())
        .execute(&db.raw)
        .await
        .unwrap();
    assert!(matches!(db.records.catalog.activity(activity.id).await, Err(StoreError::Internal(_))));
}

#[tokio::test]
async fn a_redelivered_batch_answers_its_orders_and_writes_nothing_twice() {
    let db = open().await;
    let (_, activity) = scenario(&db, 10).await;
    let (alice, bob) = (buyer(&db, "alice").await, buyer(&db, "bob").await);
    let first = [draft(&activity, alice, 2), draft(&activity, bob, 3)];
    let orders = &db.records.orders;
    let written: Vec<_> = orders.write_orders(&first).await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(db.records.catalog.activity(activity.id).await.unwrap().skus[0].sold, 5);

    // The same tickets again, with a new one: the old answer their orders, only the new is written.
    let again = [first[1].clone(), draft(&activity, alice, 1), first[0].clone()];
    let answers: Vec<_> = orders.write_orders(&again).await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(answers[0], written[1]);
    assert_eq!(answers[2], written[0]);
    assert_eq!(answers[1].ticket, again[1].ticket);
    assert_eq!(db.records.catalog.activity(activity.id).await.unwrap().skus[0].sold, 6);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&db.raw).await.unwrap();
    assert_eq!(count, 3);
}

/// Two writers (the stream consumers of two instances, later) commit batches on the same SKUs
/// at once while an operator raises the stock: no deadlock, no batch lost, `sold` is exactly
/// the units written and never above `stock`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_and_a_stock_change_never_deadlock_or_oversell() {
    let db = open().await;
    let c = &db.records.catalog;
    let first = c.create_product(&product("Phone"), now()).await.unwrap();
    let slot = c.create_slot(&NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap(), now()).await.unwrap();
    let mut two = sale(&first, slot.id, 150);
    two.skus.push(NewActivitySku { sku_id: first.skus[1].id, seckill_price: Money::from_cents(9_900), stock: 150 });
    let activity = c.create_activity(&two, now()).await.unwrap();
    let shopper = buyer(&db, "crowd").await;

    let writer = |reverse: bool| {
        let (orders, activity) = (db.records.orders.clone(), activity.clone());
        tokio::spawn(async move {
            let mut units = 0;
            for _ in 0..20 {
                // Both SKUs in every batch, in opposite orders for the two writers.
                let mut batch: Vec<OrderDraft> = (0..4)
                    .map(|i| {
                        let mut d = draft(&activity, shopper, 1);
                        d.sku_id = activity.skus[i % 2].sku_id;
                        d
                    })
                    .collect();
                if reverse {
                    batch.reverse();
                }
                let answers = orders.write_orders(&batch).await.expect("a batch never fails");
                units += answers.iter().filter(|a| a.is_ok()).count();
            }
            units
        })
    };
    let (a, b) = (writer(false), writer(true));
    let mut more = two.clone();
    more.skus[0].stock = 200;
    c.update_activity(activity.id, &more, now()).await.unwrap();
    let written = a.await.unwrap() + b.await.unwrap();

    let skus = c.activity(activity.id).await.unwrap().skus;
    assert!(skus.iter().all(|s| s.sold <= s.stock), "{skus:?}");
    let sold: u32 = skus.iter().map(|s| s.sold).sum();
    assert_eq!(usize::try_from(sold).unwrap(), written);
    assert_eq!(written, 160, "room for every unit: 200 + 150 on sale");
}

/// The product names `raw` finds before the scenario's sale.
async fn found(db: &Db, raw: &str) -> Vec<String> {
    let query = SearchQuery::parse(raw, "q").unwrap();
    let hits = db.records.catalog.search(&query, now(), 20).await.unwrap();
    hits.into_iter().map(|h| h.product.name).collect()
}

#[tokio::test]
async fn the_search_index_follows_every_write_and_none_that_is_rolled_back() {
    let db = open().await;
    let (product, _) = scenario(&db, 100).await;
    assert_eq!(found(&db, "phone").await, ["Phone"]);

    // Triggers, not the store's code, keep the index: raw SQL is followed too.
    sqlx::query("UPDATE products SET name = 'Handy' WHERE id = $1")
        .bind(product.id.get())
        .execute(&db.raw)
        .await
        .unwrap();
    assert!(found(&db, "phone").await.is_empty());
    assert_eq!(found(&db, "handy").await, ["Handy"]);

    let mut tx = db.raw.begin().await.unwrap();
    sqlx::query("UPDATE products SET name = 'Gone' WHERE id = $1")
        .bind(product.id.get())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(found(&db, "handy").await, ["Handy"]);
    assert!(found(&db, "gone").await.is_empty());

    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM product_search").fetch_one(&db.raw).await.unwrap();
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products").fetch_one(&db.raw).await.unwrap();
    assert_eq!(indexed, products);
    db.backend.close().await;
}

#[tokio::test]
async fn a_substring_search_is_answered_from_the_trigram_index() {
    let db = open().await;
    let mut tx = db.raw.begin().await.unwrap();
    // As if the table were large: the planner must not prefer reading it whole.
    sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT product_id FROM product_search
         WHERE document ILIKE '%mate%' ESCAPE '\\' AND document ILIKE '%手机%' ESCAPE '\\'",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("product_search_trigrams"), "{plan}");
}

#[tokio::test]
async fn an_operators_order_list_comes_in_index_order() {
    // A page of a sale's orders (by status or not), or of the whole shop's, must come from an
    // index in page order: sorting every order of a big sale for each page took ~1 s.
    let db = open().await;
    let activity = Some(seckill_domain::ids::ActivityId::from_raw(3));
    let status = Some(seckill_domain::order::OrderStatus::Paid);
    let page = seckill_store::Page::new(Some(2), Some(20));
    for (filter, index) in [
        (seckill_store::orders::OrderFilter { activity_id: activity, ..Default::default() }, "orders_by_activity_time"),
        (
            seckill_store::orders::OrderFilter { activity_id: activity, status, ..Default::default() },
            "orders_by_activity_status",
        ),
        (seckill_store::orders::OrderFilter::default(), "orders_by_time"),
    ] {
        let (_, select) = seckill_rows::order_search::<sqlx::Postgres>("id", &filter, page);
        let mut explain = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {}", select.sql().as_str())));
        if filter.activity_id.is_some() {
            explain = explain.bind(3_i64);
        }
        if filter.status.is_some() {
            explain = explain.bind("paid");
        }
        let explain = explain.bind(20_i64).bind(20_i64);
        let mut tx = db.raw.begin().await.unwrap();
        // As if the table were large; and a sort is the last resort, so a plan without one
        // shows that an index gives the order.
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        sqlx::query("SET LOCAL enable_sort = off").execute(&mut *tx).await.unwrap();
        let plan: Vec<String> = explain.fetch_all(&mut *tx).await.unwrap().iter().map(|r| r.get(0)).collect();
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{filter:?}: {plan}");
        assert!(!plan.contains("Sort"), "{filter:?}: {plan}");
    }
}

#[tokio::test]
async fn orders_written_before_the_order_indexes_were_merged_keep_the_idempotency_rule() {
    let database = empty_database().await;
    let old = PgPool::connect(database.url()).await.unwrap();
    MIGRATOR.run_to(2, &old).await.unwrap();
    let order = |ticket: u32, key: &str, created: i64| {
        format!(
            "INSERT INTO orders (ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents,
                 address_contact, address_phone, address_text, idempotency_key, created_at, pay_deadline, updated_at)
             VALUES ('00000000-0000-7000-8000-{ticket:012}', 1, 1, 1, 1, 9900, 9900, 'Alice', '13800000000',
                 'Shanghai', {key}, {created}, {created} + 900000, {created})"
        )
    };
    for statement in [
        "INSERT INTO users (username, username_key, password_hash, level, created_at) VALUES ('alice', 'alice', 'h', 0, 0)"
            .to_owned(),
        "INSERT INTO products (name, created_at, updated_at) VALUES ('Phone', 0, 0)".to_owned(),
        "INSERT INTO skus (product_id, name, price_cents, stock, created_at, updated_at) VALUES (1, 'black', 19900, 500, 0, 0)"
            .to_owned(),
        "INSERT INTO activities (name, product_id, starts_at, ends_at, total_limit, single_limit, pay_timeout_secs,
             created_at, updated_at) VALUES ('sale', 1, 0, 86400000, 5, 1, 900, 0, 0)"
            .to_owned(),
        "INSERT INTO activity_skus (activity_id, sku_id, position, seckill_price_cents, stock, sold) VALUES (1, 1, 0, 9900, 10, 3)"
            .to_owned(),
        order(1, "'key-1'", 1_000),
        order(2, "NULL", 2_000),
        order(3, "NULL", 3_000),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement.as_str())).execute(&old).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    old.close().await;

    let backend = Arc::new(PgRecords::connect(PgOptions::new(database.url(), TimeZone::UTC)).await.unwrap());
    let raw = PgPool::connect(database.url()).await.unwrap();
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY indexname")
            .fetch_all(&raw)
            .await
            .unwrap();
    assert_eq!(
        indexes,
        [
            "orders_by_activity_status",
            "orders_by_activity_time",
            "orders_by_time",
            "orders_by_user_activity_key",
            "orders_pkey",
            "orders_ticket_key",
            "orders_unpaid_by_deadline"
        ]
    );
    // One key of a user in an activity still makes one order; orders without a key never collide.
    match sqlx::query(sqlx::AssertSqlSafe(order(4, "'key-1'", 4_000))).execute(&raw).await {
        Err(sqlx::Error::Database(e)) => {
            assert!(e.is_unique_violation(), "{e}");
            assert_eq!(e.constraint(), Some("orders_by_user_activity_key"));
        }
        other => panic!("a second order under key-1: {other:?}"),
    }
    sqlx::query(sqlx::AssertSqlSafe(order(5, "NULL", 5_000))).execute(&raw).await.unwrap();
    // A user's orders, newest first, through the merged index.
    let alice = seckill_domain::ids::UserId::from_raw(1);
    let listed = backend.records().orders.orders_of_user(alice, seckill_store::Page::default()).await.unwrap();
    let created: Vec<i64> = listed.items.iter().map(|o| o.created_at.as_millisecond()).collect();
    assert_eq!(created, [5_000, 3_000, 2_000, 1_000]);
    backend.close().await;
}

#[tokio::test]
async fn products_stored_before_the_search_index_existed_are_found() {
    let database = empty_database().await;
    let old = PgPool::connect(database.url()).await.unwrap();
    MIGRATOR.run_to(1, &old).await.unwrap();
    for statement in [
        "INSERT INTO brands (name, created_at, updated_at) VALUES ('华为 HUAWEI', 0, 0)",
        "INSERT INTO categories (name, created_at, updated_at) VALUES ('手机', 0, 0)",
        "INSERT INTO products (name, brand_id, category_id, created_at, updated_at) VALUES ('Mate 70', 1, 1, 0, 0)",
        "INSERT INTO skus (product_id, name, price_cents, stock, created_at, updated_at)
         VALUES (1, 'black', 19900, 500, 0, 0)",
    ] {
        sqlx::query(statement).execute(&old).await.unwrap();
    }
    old.close().await;

    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let backend = Arc::new(PgRecords::connect(PgOptions::new(database.url(), tz)).await.unwrap());
    let raw = PgPool::connect(database.url()).await.unwrap();
    let db = Db { records: backend.records(), backend, raw, database };
    let c = &db.records.catalog;
    let product = c.product(seckill_domain::ids::ProductId::from_raw(1)).await.unwrap();
    let slot = c.create_slot(&NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap(), now()).await.unwrap();
    c.create_activity(&sale(&product, slot.id, 10), now()).await.unwrap();
    for raw in ["mate", "huawei", "华为", "手机"] {
        assert_eq!(found(&db, raw).await, ["Mate 70"], "{raw}");
    }
}
