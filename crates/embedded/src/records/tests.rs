//! SQLite-specific checks that the conformance suite cannot make through the ports: connection
//! settings, the schema's own guards, and rules that need `sold > 0` before orders exist (set
//! here with raw SQL).

use seckill_domain::activity::{Activity, NewActivity, NewActivitySku, PurchaseRules};
use seckill_domain::catalog::{NewProduct, Product, ProductInput, SkuInput};
use seckill_domain::ids::{AddressId, OrderId, UserId};
use seckill_domain::money::Money;
use seckill_domain::rejection::Rejection;
use seckill_domain::slot::NewTimeSlot;
use seckill_domain::{TimeZone, Timestamp};
use seckill_store::conformance::{new_address, new_user};
use seckill_store::orders::{OrderFilter, Orders};
use seckill_store::rush::OrderDraft;
use seckill_store::{Accounts, Catalog, Conflict, StoreError};

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn open(dir: &tempfile::TempDir, synchronous: Synchronous) -> SqliteRecords {
    let mut options = SqliteOptions::new(dir.path().join("seckill.db"), TimeZone::get("Asia/Shanghai").unwrap());
    options.synchronous = synchronous;
    SqliteRecords::open(options).await.unwrap()
}

fn product(name: &str) -> NewProduct {
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

fn sale(product: &Product, slot: seckill_domain::ids::SlotId, stock: u32) -> NewActivity {
    NewActivity {
        name: "sale".into(),
        product_id: product.id,
        starts_at: ts("2026-11-11T00:00:00+08:00"),
        ends_at: ts("2026-11-12T00:00:00+08:00"),
        slot_ids: vec![slot],
        skus: vec![NewActivitySku { sku_id: product.skus[0].id, seckill_price: Money::from_cents(9_900), stock }],
        rules: PurchaseRules {
            total_limit: 1,
            single_limit: 1,
            min_level: 0,
            reservation_required: false,
            pay_timeout_secs: 900,
        },
        enabled: true,
    }
}

/// A product, a 10:00–12:00 slot and an activity selling 100 of the product's first SKU.
async fn scenario(db: &SqliteRecords) -> (Product, Activity) {
    let now = ts("2026-11-01T00:00:00Z");
    let product = db.create_product(&product("Phone"), now).await.unwrap();
    let slot = NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap();
    let slot = db.create_slot(&slot, now).await.unwrap();
    let activity = db.create_activity(&sale(&product, slot.id, 100), now).await.unwrap();
    (product, activity)
}

async fn set_sold(db: &SqliteRecords, activity: &Activity, sold: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE activity_skus SET sold = ? WHERE activity_id = ?")
        .bind(sold)
        .bind(activity.id.get())
        .execute(&db.writer)
        .await
        .map(drop)
}

#[tokio::test]
async fn every_connection_runs_wal_with_foreign_keys_and_a_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    for pool in [&db.writer, &db.reader] {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
        assert_eq!(fk, 1);
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(pool).await.unwrap();
        assert_eq!(busy, 5_000);
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.unwrap();
        assert_eq!(sync, 2, "FULL");
    }
    // The order batch connection is opened the same way.
    let batch = batch::open(&db.options).unwrap();
    let pragma = |name: &str| batch.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0)).unwrap();
    assert_eq!(pragma("journal_mode"), rusqlite::types::Value::Text("wal".into()));
    assert_eq!(pragma("foreign_keys"), rusqlite::types::Value::Integer(1));
    assert_eq!(pragma("busy_timeout"), rusqlite::types::Value::Integer(5_000));
    assert_eq!(pragma("synchronous"), rusqlite::types::Value::Integer(2), "FULL");
    assert_eq!(pragma("cache_size"), rusqlite::types::Value::Integer(-i64::from(options::WRITER_CACHE_KIB)));
    drop(batch);
    db.close().await;

    let normal = open(&dir, Synchronous::Normal).await;
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&normal.writer).await.unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

#[tokio::test]
async fn readers_cannot_write_and_foreign_keys_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let write_on_reader = sqlx::query("INSERT INTO brands (name, sort, created_at, updated_at) VALUES ('x', 0, 0, 0)")
        .execute(&db.reader)
        .await;
    assert!(write_on_reader.is_err());
    let dangling = sqlx::query(
        "INSERT INTO activity_skus (activity_id, sku_id, position, seckill_price_cents, stock) VALUES (999, 999, 0, 1, 1)",
    )
    .execute(&db.writer)
    .await;
    match dangling {
        Err(sqlx::Error::Database(e)) => assert!(e.is_foreign_key_violation(), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_schema_refuses_an_oversell() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let (_, activity) = scenario(&db).await;
    set_sold(&db, &activity, 100).await.unwrap();
    match set_sold(&db, &activity, 101).await {
        Err(sqlx::Error::Database(e)) => assert!(e.is_check_violation(), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(set_sold(&db, &activity, -1).await.is_err());
    assert_eq!(db.activity(activity.id).await.unwrap().skus[0].sold, 100);
}

#[tokio::test]
async fn stock_cannot_drop_below_sold_and_sold_survives_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let (product, activity) = scenario(&db).await;
    set_sold(&db, &activity, 60).await.unwrap();
    let sku = product.skus[0].id;
    let slot = activity.slots[0].id;
    let now = ts("2026-11-02T00:00:00Z");

    let lower = db.update_activity(activity.id, &sale(&product, slot, 59), now).await;
    match lower {
        Err(StoreError::Conflict(c)) => assert_eq!(c, Conflict::StockBelowSold { sku_id: sku, stock: 59, sold: 60 }),
        other => panic!("{other:?}"),
    }
    // Removing a SKU with sales counts as stock 0.
    let mut without = sale(&product, slot, 60);
    without.skus[0].sku_id = product.skus[1].id;
    match db.update_activity(activity.id, &without, now).await {
        Err(StoreError::Conflict(c)) => assert_eq!(c, Conflict::StockBelowSold { sku_id: sku, stock: 0, sold: 60 }),
        other => panic!("{other:?}"),
    }
    let exact = db.update_activity(activity.id, &sale(&product, slot, 60), now).await.unwrap();
    assert_eq!((exact.skus[0].stock, exact.skus[0].sold), (60, 60));
    let more = db.update_activity(activity.id, &sale(&product, slot, 80), now).await.unwrap();
    assert_eq!((more.skus[0].stock, more.skus[0].sold, more.skus[0].remaining()), (80, 60, 20));
}

#[tokio::test]
async fn the_product_of_an_activity_cannot_change_once_anything_is_sold() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let (_, activity) = scenario(&db).await;
    let laptop = db.create_product(&product("Laptop"), ts("2026-11-01T00:00:00Z")).await.unwrap();
    set_sold(&db, &activity, 1).await.unwrap();
    let moved = sale(&laptop, activity.slots[0].id, 10);
    match db.update_activity(activity.id, &moved, ts("2026-11-02T00:00:00Z")).await {
        Err(StoreError::Invalid(e)) => assert!(e.get("product_id").is_some(), "{e}"),
        other => panic!("{other:?}"),
    }
    set_sold(&db, &activity, 0).await.unwrap();
    let moved = db.update_activity(activity.id, &moved, ts("2026-11-02T00:00:00Z")).await.unwrap();
    assert_eq!(moved.product_id, laptop.id);
}

#[tokio::test]
async fn stored_data_that_breaks_the_domain_is_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let (product, _) = scenario(&db).await;
    sqlx::query("UPDATE products SET image_urls = '[1, 2]' WHERE id = ?")
        .bind(product.id.get())
        .execute(&db.writer)
        .await
        .unwrap();
    assert!(matches!(db.product(product.id).await, Err(StoreError::Internal(_))));
}

/// The product names `raw` finds before the scenario's sale.
async fn found(db: &SqliteRecords, raw: &str) -> Vec<String> {
    let query = seckill_store::SearchQuery::parse(raw, "q").unwrap();
    let hits = db.search(&query, ts("2026-11-01T00:00:00Z"), 20).await.unwrap();
    hits.into_iter().map(|h| h.product.name).collect()
}

#[tokio::test]
async fn products_stored_before_the_search_index_existed_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new(dir.path().join("seckill.db"), TimeZone::get("Asia/Shanghai").unwrap());
    let old = SqlitePoolOptions::new().max_connections(1).connect_with(options.connect_options(true)).await.unwrap();
    MIGRATOR.run_to(1, &old).await.unwrap();
    for statement in [
        "INSERT INTO brands (id, name, created_at, updated_at) VALUES (7, '华为 HUAWEI', 0, 0)",
        "INSERT INTO categories (id, name, created_at, updated_at) VALUES (8, '手机', 0, 0)",
        "INSERT INTO products (id, name, brand_id, category_id, created_at, updated_at)
         VALUES (9, 'Mate 70', 7, 8, 0, 0)",
        "INSERT INTO skus (product_id, name, price_cents, stock, created_at, updated_at)
         VALUES (9, 'black', 19900, 500, 0, 0)",
    ] {
        sqlx::query(statement).execute(&old).await.unwrap();
    }
    old.close().await;

    let db = SqliteRecords::open(options).await.unwrap();
    let product = db.product(seckill_domain::ids::ProductId::from_raw(9)).await.unwrap();
    let slot = NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap();
    let slot = db.create_slot(&slot, ts("2026-11-01T00:00:00Z")).await.unwrap();
    db.create_activity(&sale(&product, slot.id, 10), ts("2026-11-01T00:00:00Z")).await.unwrap();
    for raw in ["mate", "huawei", "华为", "手机"] {
        assert_eq!(found(&db, raw).await, ["Mate 70"], "{raw}");
    }
}

#[tokio::test]
async fn the_search_index_follows_every_write_and_none_that_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Full).await;
    let (product, _) = scenario(&db).await;
    assert_eq!(found(&db, "phone").await, ["Phone"]);

    // Triggers, not the store's code, keep the index: raw SQL is followed too.
    sqlx::query("UPDATE products SET name = 'Handy' WHERE id = ?")
        .bind(product.id.get())
        .execute(&db.writer)
        .await
        .unwrap();
    assert!(found(&db, "phone").await.is_empty());
    assert_eq!(found(&db, "handy").await, ["Handy"]);

    let mut tx = db.write().await.unwrap();
    sqlx::query("UPDATE products SET name = 'Gone' WHERE id = ?")
        .bind(product.id.get())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(found(&db, "handy").await, ["Handy"]);
    assert!(found(&db, "gone").await.is_empty());

    // The index agrees with its own content after all of it.
    sqlx::query("INSERT INTO product_search (product_search) VALUES ('integrity-check')")
        .execute(&db.writer)
        .await
        .unwrap();
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM product_search").fetch_one(&db.reader).await.unwrap();
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products").fetch_one(&db.reader).await.unwrap();
    assert_eq!(indexed, products);
}

fn now() -> Timestamp {
    ts("2026-11-01T00:00:00Z")
}

/// A shopper `name` with an address of their own.
async fn buyer(db: &SqliteRecords, name: &str) -> (UserId, AddressId) {
    let user = db.create_user(&new_user(name), "h", now()).await.unwrap();
    let address = db.add_address(user.id, &new_address(name, None), now()).await.unwrap();
    (user.id, address.id)
}

/// A draft of one unit of the scenario's SKU for `user` to `address`, under `key`.
fn draft(activity: &Activity, user: UserId, address: AddressId, key: String) -> OrderDraft {
    seckill_store::conformance::rush::draft(activity.id, activity.skus[0].sku_id, user, address, 1, Some(&key))
}

#[tokio::test]
async fn order_batches_and_other_writes_take_turns_without_losing_any() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(open(&dir, Synchronous::Normal).await);
    let (_, activity) = scenario(&db).await;
    let (buyer, home) = buyer(&db, "buyer").await;

    // Batches of orders on the batch connection and address writes on the records' writer,
    // all at once: every one succeeds (none starves past the busy timeout, none is lost).
    let mut tasks = tokio::task::JoinSet::new();
    for b in 0..10 {
        let (orders_db, activity) = (db.clone(), activity.clone());
        tasks.spawn(async move {
            let db = orders_db;
            let drafts: Vec<OrderDraft> =
                (0..10).map(|i| draft(&activity, buyer, home, format!("k-{b}-{i}"))).collect();
            let answers = db.write_orders(&drafts).await.unwrap();
            assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        });
        let addresses_db = db.clone();
        tasks.spawn(async move {
            addresses_db.add_address(buyer, &new_address(&format!("contact {b}"), None), now()).await.unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(db.activity(activity.id).await.unwrap().skus[0].sold, 100);
    let orders = db.orders_of_user(buyer, seckill_store::Page::new(None, Some(200))).await.unwrap();
    assert_eq!(orders.total, 100);
    assert_eq!(db.addresses(buyer).await.unwrap().len(), 11);

    // Sold out: the next batch is refused whole, and nothing of it is written.
    let late = db.write_orders(&[draft(&activity, buyer, home, "late".into())]).await.unwrap();
    assert_eq!(late, vec![Err(Rejection::SoldOut)]);
    assert_eq!(db.orders_of_user(buyer, seckill_store::Page::new(None, Some(200))).await.unwrap().total, 100);
}

#[tokio::test]
async fn a_batch_with_someone_elses_address_refuses_only_that_draft() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Normal).await;
    let (_, activity) = scenario(&db).await;
    let (alice, alices) = buyer(&db, "alice").await;
    let (bob, bobs) = buyer(&db, "bob").await;
    let answers = db
        .write_orders(&[
            draft(&activity, alice, alices, "a".into()),
            draft(&activity, alice, bobs, "b".into()),
            draft(&activity, bob, bobs, "c".into()),
        ])
        .await
        .unwrap();
    let first = answers[0].as_ref().unwrap();
    assert_eq!((first.user_id, first.address.contact.as_str()), (alice, "alice"));
    assert_eq!(answers[1], Err(Rejection::UnknownAddress));
    let third = answers[2].as_ref().unwrap();
    assert_eq!((third.user_id, third.address.contact.as_str()), (bob, "bob"));
    // Each answer is the order as stored, id included.
    assert_eq!(&db.order(first.id).await.unwrap(), first);
    assert_eq!(&db.order(third.id).await.unwrap(), third);
    assert_eq!(db.activity(activity.id).await.unwrap().skus[0].sold, 2);
}

#[tokio::test]
async fn writing_an_order_builds_no_temporary_table() {
    // A CHECK with `IN ('a', 'b', 'c')` makes SQLite build an in-memory table per execution.
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Normal).await;
    let plan: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN {}", batch::INSERT_ORDER)))
        .fetch_all(&db.reader)
        .await
        .unwrap();
    let opcodes: Vec<String> = plan.into_iter().map(|(_, op)| op).collect();
    assert!(opcodes.iter().any(|op| op == "Insert"), "{opcodes:?}");
    assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{opcodes:?}");
}

#[tokio::test]
async fn order_searches_read_through_an_index_in_page_order() {
    // One shopper's orders, an operator's list of a sale (by status or not), the whole shop's:
    // each must be looked up, not found by reading every order of the shop — and an operator's
    // page must come in index order, not from sorting every order of a big sale. Only a
    // shopper's own few orders are sorted after their lookup.
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Synchronous::Normal).await;
    let (user, activity) = (Some(UserId::from_raw(7)), Some(seckill_domain::ids::ActivityId::from_raw(3)));
    let status = Some(seckill_domain::order::OrderStatus::Paid);
    let page = seckill_store::Page::new(Some(3), Some(20));
    for user_id in [None, user] {
        for activity_id in [None, activity] {
            for status in [None, status] {
                let filter = OrderFilter { activity_id, status, user_id };
                let (count, select) = rows::order_search::<sqlx::Sqlite>("id, status", &filter, page);
                for (what, sql) in [("count", count.sql()), ("page", select.sql())] {
                    // Unbound parameters are NULL: the plan does not depend on the values.
                    let explain = format!("EXPLAIN QUERY PLAN {}", sql.as_str());
                    let plan: Vec<(i64, i64, i64, String)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(explain)).fetch_all(&db.reader).await.unwrap();
                    let steps: Vec<String> = plan.into_iter().map(|(.., step)| step).collect();
                    let context = format!("{what} of {filter:?}: {steps:?}");
                    // (how the rows are reached, through what): `COVERING` or not depends on the columns.
                    let (how, through) = match (user_id, activity_id, status) {
                        (Some(_), ..) => ("SEARCH", "INDEX orders_by_user_activity_key (user_id=?"),
                        (None, Some(_), Some(_)) => {
                            ("SEARCH", "INDEX orders_by_activity_status (activity_id=? AND status=?)")
                        }
                        (None, Some(_), None) => ("SEARCH", "INDEX orders_by_activity_time (activity_id=?)"),
                        // The whole shop: the count may take any index, the page walks by time.
                        (None, None, _) if what == "count" => ("SCAN", ""),
                        (None, None, _) => ("SCAN", "INDEX orders_by_time"),
                    };
                    let reached = |s: &String| s.starts_with(&format!("{how} orders")) && s.contains(through);
                    assert!(steps.iter().any(reached), "{context}");
                    if user_id.is_none() {
                        assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "{context}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn orders_written_before_the_checks_were_rewritten_keep_their_ids_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new(dir.path().join("seckill.db"), TimeZone::get("Asia/Shanghai").unwrap());
    let old = SqlitePoolOptions::new().max_connections(1).connect_with(options.connect_options(true)).await.unwrap();
    MIGRATOR.run_to(3, &old).await.unwrap();
    let created = now().as_millisecond();
    let deadline = created + 900_000;
    let order = |id: i64, status: &str, extra: &str, values: &str| {
        format!(
            "INSERT INTO orders (id, ticket, activity_id, sku_id, user_id, quantity, unit_price_cents,
                 amount_cents, status, address_contact, address_phone, address_text, idempotency_key,
                 created_at, pay_deadline, updated_at{extra})
             VALUES ({id}, '00000000-0000-7000-8000-{id:012}', 1, 1, 1, 1, 9900, 9900, '{status}', 'Alice', '13800000000',
                 'Shanghai', 'key-{id}', {created}, {deadline}, {created}{values})"
        )
    };
    for statement in [
        format!("INSERT INTO users (id, username, username_key, password_hash, level, created_at) VALUES (1, 'alice', 'alice', 'h', 0, {created})"),
        format!("INSERT INTO products (id, name, created_at, updated_at) VALUES (1, 'Phone', {created}, {created})"),
        format!("INSERT INTO skus (id, product_id, name, price_cents, stock, created_at, updated_at) VALUES (1, 1, 'black', 19900, 500, {created}, {created})"),
        format!("INSERT INTO activities (id, name, product_id, starts_at, ends_at, total_limit, single_limit, pay_timeout_secs, created_at, updated_at)
                 VALUES (1, 'sale', 1, {created}, {}, 5, 1, 900, {created}, {created})", created + 86_400_000),
        "INSERT INTO activity_skus (activity_id, sku_id, position, seckill_price_cents, stock, sold) VALUES (1, 1, 0, 9900, 10, 2)".to_owned(),
        order(1, "pending_payment", "", ""),
        order(2, "paid", ", paid_at", &format!(", {created}")),
        order(3, "cancelled", ", closed_at, cancel_reason", &format!(", {created}, 'timeout'")),
        format!("INSERT INTO payments (order_id, amount_cents, status, provider, created_at, updated_at) VALUES (2, 9900, 'succeeded', 'mock', {created}, {created})"),
        format!("INSERT INTO stock_returns (order_id, activity_id, sku_id, user_id, quantity, created_at) VALUES (3, 1, 1, 1, 1, {created})"),
        // Ids up to 7 were handed out once (AUTOINCREMENT must never hand them out again).
        "UPDATE sqlite_sequence SET seq = 7 WHERE name = 'orders'".to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement.as_str())).execute(&old).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    old.close().await;

    let db = SqliteRecords::open(options).await.unwrap();
    let mut statuses = Vec::new();
    for id in 1..=3 {
        let o = db.order(OrderId::from_raw(id)).await.unwrap();
        statuses.push((o.id.get(), o.status.as_str(), o.address.contact));
    }
    assert_eq!(
        statuses,
        [(1, "pending_payment", "Alice".into()), (2, "paid", "Alice".into()), (3, "cancelled", "Alice".into())]
    );
    // The payment and the stock return still point at their orders, and foreign keys are on.
    let (fk_on,): (i64,) = sqlx::query_as("PRAGMA foreign_keys").fetch_one(&db.writer).await.unwrap();
    assert_eq!(fk_on, 1);
    let dangling: Vec<(String, i64, String, i64)> =
        sqlx::query_as("PRAGMA foreign_key_check").fetch_all(&db.writer).await.unwrap();
    assert!(dangling.is_empty(), "{dangling:?}");
    let (references,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments JOIN orders ON orders.id = payments.order_id)
              + (SELECT count(*) FROM stock_returns JOIN orders ON orders.id = stock_returns.order_id)",
    )
    .fetch_one(&db.reader)
    .await
    .unwrap();
    assert_eq!(references, 2);
    // The rewritten checks refuse what the old ones refused.
    let refused_by_a_check = |result: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>| {
        result.is_err_and(|e| e.to_string().contains("CHECK constraint failed"))
    };
    let bogus = sqlx::query(sqlx::AssertSqlSafe(order(20, "lost", "", ""))).execute(&db.writer).await;
    assert!(refused_by_a_check(bogus), "an unknown status was stored");
    let unpaid = sqlx::query(sqlx::AssertSqlSafe(order(21, "shipped", ", shipped_at", &format!(", {created}"))))
        .execute(&db.writer)
        .await;
    assert!(refused_by_a_check(unpaid), "a shipped order without paid_at was stored");
    // The next order continues after every id ever handed out.
    let buyer = UserId::from_raw(1);
    let home = db.add_address(buyer, &new_address("alice", None), now()).await.unwrap().id;
    let activity = db.activity(seckill_domain::ids::ActivityId::from_raw(1)).await.unwrap();
    let written = db.write_orders(&[draft(&activity, buyer, home, "next".into())]).await.unwrap();
    assert_eq!(written[0].as_ref().unwrap().id.get(), 8);
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_wal_are_private_to_their_owner_and_an_existing_ones_mode_is_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let records = open(&dir, Synchronous::Full).await;
    records.create_product(&product("Phone"), ts("2026-11-01T00:00:00Z")).await.unwrap();
    assert_eq!(mode(dir.path().join("seckill.db")), 0o600, "password hashes and addresses live here");
    assert_eq!(mode(dir.path().join("seckill.db-wal")), 0o600);
    records.close().await;

    // An operator's choice for a file that exists stands.
    let shared = tempfile::tempdir().unwrap();
    let path = shared.path().join("seckill.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    open(&shared, Synchronous::Full).await.close().await;
    assert_eq!(mode(path), 0o640);
}
