//! The group commit without HTTP: [`Orders::write_orders`] of the SQLite records, one batch of
//! drafts from shoppers picked at random among 10,000 (each with an address of their own),
//! into an activity with room for every order the run writes — the order thread's whole job
//! under a flood (addresses, `sold`, the inserts and their indexes, the commit). Criterion
//! reports orders per second. `synchronous=NORMAL`, so the figure is the CPU's and not the
//! disk's flush (which the flood does not wait on: see BENCHMARKS.md).
//!
//! `cargo bench -p seckill-embedded --bench group_commit`

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng as _;
use seckill_domain::activity::{NewActivity, NewActivitySku, PurchaseRules};
use seckill_domain::catalog::{MAX_STOCK, NewProduct, ProductInput, SkuInput};
use seckill_domain::ids::{ActivityId, AddressId, SkuId, UserId};
use seckill_domain::money::Money;
use seckill_domain::slot::NewTimeSlot;
use seckill_domain::user::Username;
use seckill_domain::{TimeZone, Timestamp};
use seckill_embedded::{SqliteOptions, SqliteRecords, Synchronous};
use seckill_store::conformance::new_address;
use seckill_store::conformance::rush::draft;
use seckill_store::orders::Orders as _;
use seckill_store::{Accounts as _, Catalog as _};

const SHOPPERS: usize = 10_000;
const BATCH: usize = 128;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

struct Sale {
    records: Arc<SqliteRecords>,
    activity: ActivityId,
    sku: SkuId,
    shoppers: Vec<(UserId, AddressId)>,
    _dir: tempfile::TempDir,
}

async fn sale() -> Sale {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let tz = TimeZone::get("Asia/Shanghai").unwrap_or_else(|e| panic!("zone: {e}"));
    let mut options = SqliteOptions::new(dir.path().join("seckill.db"), tz);
    options.synchronous = Synchronous::Normal;
    let records = Arc::new(SqliteRecords::open(options).await.unwrap_or_else(|e| panic!("open: {e}")));
    let now = at("2026-11-01T00:00:00Z");
    let product = NewProduct::parse(&ProductInput {
        name: "Phone",
        skus: vec![SkuInput { id: None, name: "black", spec: None, price_cents: 19_900, stock: i64::from(MAX_STOCK) }],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("product: {e:?}"));
    let product = records.create_product(&product, now).await.unwrap_or_else(|e| panic!("product: {e}"));
    let slot = NewTimeSlot::parse("10点场", "10:00", "12:00", true, 0).unwrap_or_else(|e| panic!("slot: {e:?}"));
    let slot = records.create_slot(&slot, now).await.unwrap_or_else(|e| panic!("slot: {e}"));
    let sku = product.skus[0].id;
    let activity = NewActivity {
        name: "sale".into(),
        product_id: product.id,
        starts_at: at("2026-11-11T00:00:00+08:00"),
        ends_at: at("2026-11-12T00:00:00+08:00"),
        slot_ids: vec![slot.id],
        skus: vec![NewActivitySku { sku_id: sku, seckill_price: Money::from_cents(9_900), stock: MAX_STOCK }],
        rules: PurchaseRules {
            total_limit: 1_000,
            single_limit: 1,
            min_level: 0,
            reservation_required: false,
            pay_timeout_secs: 900,
        },
        enabled: true,
    };
    let activity = records.create_activity(&activity, now).await.unwrap_or_else(|e| panic!("activity: {e}"));
    let names: Vec<Username> = (0..SHOPPERS)
        .map(|i| Username::parse(&format!("shopper{i}")).unwrap_or_else(|e| panic!("name: {e}")))
        .collect();
    let shoppers = records
        .create_users_in_bulk(&names, "!", &new_address("buyer", Some(true)), now)
        .await
        .unwrap_or_else(|e| panic!("shoppers: {e}"));
    Sale { records, activity: activity.id, sku, shoppers, _dir: dir }
}

fn group_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let sale = runtime.block_on(sale());
    let mut keys = 0u64;
    let mut group = c.benchmark_group("group_commit");
    // A sample spans several background checkpoints (every 500 ms), which the commits pay for
    // in part: short samples would scatter around them.
    group.throughput(Throughput::Elements(BATCH as u64)).sample_size(30).measurement_time(Duration::from_secs(15));
    group.bench_function("batch_of_128", |b| {
        b.iter_batched(
            || {
                let mut rng = rand::rng();
                (0..BATCH)
                    .map(|_| {
                        let (user, address) = sale.shoppers[rng.random_range(0..sale.shoppers.len())];
                        keys += 1;
                        draft(sale.activity, sale.sku, user, address, 1, Some(&format!("key-{keys}")))
                    })
                    .collect::<Vec<_>>()
            },
            |drafts| {
                let answers =
                    runtime.block_on(sale.records.write_orders(&drafts)).unwrap_or_else(|e| panic!("batch: {e}"));
                assert!(answers.iter().all(Result::is_ok), "a draft was refused");
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
