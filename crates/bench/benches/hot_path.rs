//! Micro-benchmarks of the hot path's core, without HTTP: the hot-state reserve step
//! (`MemoryStockGate`) on its three roads — a win, the sold-out answer, the limit — and the
//! token checks every rush request makes (shopper session, purchase token), so a regression in
//! the core shows without the noise of a load test.
//!
//! `cargo bench -p seckill-bench --bench hot_path`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, AddressId, SkuId, Ticket, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::PayType;
use seckill_domain::token::{Audience, Claims, TokenKey};
use seckill_embedded::MemoryStockGate;
use seckill_store::rush::{HotActivity, HotSku, OrderDraft, StockGate as _};

const ACTIVITY: ActivityId = ActivityId::from_raw(1);
const SKU: SkuId = SkuId::from_raw(10);

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn gate(stock: u32) -> MemoryStockGate {
    let gate = MemoryStockGate::new();
    let hot = HotActivity {
        activity_id: ACTIVITY,
        version: 1,
        skus: vec![HotSku { sku_id: SKU, stock, sold: 0 }],
        holdings: vec![],
        cancelled_keys: vec![],
        reserved: vec![],
    };
    block_on(gate.load(&hot)).unwrap_or_else(|e| panic!("load: {e}"));
    gate
}

fn draft(user: i64, key: Option<String>) -> OrderDraft {
    OrderDraft {
        ticket: Ticket::new(now()),
        activity_id: ACTIVITY,
        sku_id: SKU,
        user_id: UserId::from_raw(user),
        quantity: 1,
        unit_price: Money::from_cents(100),
        address_id: AddressId::from_raw(1),
        pay_type: PayType::Online,
        idempotency_key: key,
        created_at: now(),
        pay_deadline: now(),
    }
}

fn reserve(c: &mut Criterion) {
    let mut group = c.benchmark_group("reserve");

    // A win: a new buyer takes a unit. Each sample gets a fresh gate and its drafts made
    // beforehand (untimed), so memory stays bounded by one sample.
    let wins = |keyed: bool| {
        move |iters: u64| {
            let plenty = gate(100_000_000);
            let drafts: Vec<OrderDraft> =
                (1..=iters as i64).map(|u| draft(u, keyed.then(|| format!("k-{u}")))).collect();
            let started = Instant::now();
            for d in &drafts {
                let _ = black_box(block_on(plenty.reserve(black_box(d), 1)));
            }
            started.elapsed()
        }
    };
    group.bench_function("win", |b| b.iter_custom(wins(false)));
    // The same with an idempotency key, as browsers send.
    group.bench_function("win_keyed", |b| b.iter_custom(wins(true)));

    // Sold out: the answer almost every request of a rush gets.
    let empty = gate(1);
    let _ = block_on(empty.reserve(&draft(1, None), 1));
    let unkeyed = draft(2, None);
    group.bench_function("sold_out", |b| b.iter(|| block_on(empty.reserve(black_box(&unkeyed), 1))));
    // Sold out for a keyed request: no short-circuit, the user's shard is locked.
    let with_key = draft(3, Some("k-3".into()));
    group.bench_function("sold_out_keyed", |b| b.iter(|| block_on(empty.reserve(black_box(&with_key), 1))));

    // Over the limit: a buyer who already holds their one unit.
    let limited = gate(1_000);
    let _ = block_on(limited.reserve(&draft(9, None), 1));
    let again = draft(9, None);
    group.bench_function("limit_exceeded", |b| b.iter(|| block_on(limited.reserve(black_box(&again), 1))));

    // Units left, read on every request before the reservation.
    group.bench_function("remaining", |b| b.iter(|| limited.remaining(black_box(ACTIVITY), black_box(SKU))));
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let key = TokenKey::new(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let expires_at = now().as_second() + 86_400;
    let shopper =
        key.sign(&Claims { audience: Audience::Shopper, subject: 1_234_567, expires_at, level: 1, activity: 0 });
    let purchase =
        key.sign(&Claims { audience: Audience::Purchase, subject: 1_234_567, expires_at, level: 1, activity: 42 });
    let at = now().as_second();
    let mut group = c.benchmark_group("tokens");
    group.bench_function("verify_shopper", |b| b.iter(|| key.verify(black_box(&shopper), Audience::Shopper, at)));
    group.bench_function("verify_purchase", |b| b.iter(|| key.verify(black_box(&purchase), Audience::Purchase, at)));
    let forged = format!("{}x", &purchase[..purchase.len() - 1]);
    group.bench_function("refuse_forged", |b| b.iter(|| key.verify(black_box(&forged), Audience::Purchase, at)));
    group.bench_function("sign_purchase", |b| {
        b.iter(|| {
            key.sign(black_box(&Claims {
                audience: Audience::Purchase,
                subject: 1_234_567,
                expires_at,
                level: 1,
                activity: 42,
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, reserve, tokens);
criterion_main!(benches);
