//! The hot state of the cluster shape against real Redis servers: the scripts' atomic step
//! (keys, limits, stock, the order message), exactly-once give-backs, versioned reloads from
//! several instances, `NOSCRIPT` after a flush, a 3-master Redis Cluster, the stream consumers
//! writing into real PostgreSQL (including entries a dead consumer left pending), and
//! `reconcile` finding and repairing drift.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use redis::AsyncCommands as _;
use seckill_cluster::hot::reconcile::{Figure, reconcile};
use seckill_cluster::hot::scripts::{GROUP, Keys};
use seckill_cluster::{ConsumerOptions, RedisConn, RedisStockGate, RedisTarget, Settled, StreamConsumers, StreamQueue};
use seckill_domain::activity::Activity;
use seckill_domain::ids::{ActivityId, AddressId, SkuId, Ticket, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::PayType;
use seckill_domain::rejection::Rejection;
use seckill_store::rush::{
    Hold, HotActivity, HotSku, OrderDraft, OrderQueue, Placement, ReturnReason, StockGate, StockReturn,
};
use seckill_testkit::redis::{RedisCluster, RedisServer};
use tokio_util::sync::CancellationToken;

const A: ActivityId = ActivityId::from_raw(7);
const S: SkuId = SkuId::from_raw(12);

fn hot(version: i64, stock: u32) -> HotActivity {
    HotActivity {
        activity_id: A,
        version,
        skus: vec![HotSku { sku_id: S, stock, sold: 0 }],
        holdings: vec![],
        cancelled_keys: vec![],
        reserved: vec![],
    }
}

fn draft_for(
    activity: ActivityId,
    sku: SkuId,
    user: i64,
    address: i64,
    quantity: u32,
    key: Option<&str>,
) -> OrderDraft {
    let at = ts("2026-11-11T10:00:00+08:00");
    OrderDraft {
        ticket: Ticket::new(at),
        activity_id: activity,
        sku_id: sku,
        user_id: UserId::from_raw(user),
        quantity,
        unit_price: Money::from_cents(9_900),
        address_id: AddressId::from_raw(address),
        pay_type: PayType::Online,
        idempotency_key: key.map(str::to_owned),
        created_at: at,
        pay_deadline: ts("2026-11-11T10:15:00+08:00"),
    }
}

fn draft(user: i64, quantity: u32, key: Option<&str>) -> OrderDraft {
    draft_for(A, S, user, 1, quantity, key)
}

async fn connect(url: &str) -> RedisConn {
    RedisTarget::parse(url).unwrap().connect().await.unwrap()
}

async fn stream_len(conn: &RedisConn, activity: ActivityId) -> usize {
    conn.clone().xlen(Keys::of(activity).orders).await.unwrap()
}

/// Waits (bounded) until an activity's stream is empty: every entry written and acknowledged.
async fn drained(conn: &RedisConn, activity: ActivityId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_len(conn, activity).await > 0 {
        assert!(Instant::now() < deadline, "entries still in the stream after 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_script_step_replays_keys_then_checks_the_limit_and_the_stock_and_queues_the_order() {
    let redis = RedisServer::start().unwrap();
    let conn = connect(&redis.url()).await;
    let gate = RedisStockGate::new(conn.clone());
    gate.load(&hot(1, 3)).await.unwrap();
    assert_eq!(gate.remaining(A, S), Some(3));

    let d1 = draft(1, 2, Some("k1"));
    assert_eq!(gate.reserve(&d1, 2).await.unwrap(), Ok(Hold::New(d1.ticket)));
    assert_eq!(gate.reserve(&draft(1, 1, None), 2).await.unwrap(), Err(Rejection::LimitExceeded));
    assert_eq!(gate.reserve(&draft(2, 2, Some("other")), 2).await.unwrap(), Err(Rejection::SoldOut));
    assert_eq!(
        gate.reserve(&draft_for(A, SkuId::from_raw(99), 2, 1, 1, None), 2).await.unwrap(),
        Err(Rejection::UnknownSku)
    );
    // The key replays even once the answer would be a rejection.
    assert_eq!(gate.reserve(&draft(1, 2, Some("k1")), 2).await.unwrap(), Ok(Hold::Replay(d1.ticket)));
    assert_eq!(gate.remaining(A, S), Some(1), "the local view follows the script's answers");
    assert_eq!(stream_len(&conn, A).await, 1, "one message, for the one hold");
    assert_eq!(gate.units_taken(A, S).await.unwrap(), Some(2));
    assert_eq!(gate.units_bought(A, UserId::from_raw(1)).await.unwrap(), 2);

    let ret = StockReturn::from(&d1);
    assert!(gate.release(&ret, ReturnReason::Cancelled).await.unwrap());
    assert!(!gate.release(&ret, ReturnReason::Cancelled).await.unwrap(), "exactly once");
    assert_eq!(gate.remaining(A, S), Some(3));
    assert_eq!(gate.units_bought(A, UserId::from_raw(1)).await.unwrap(), 0);
    // A cancelled order's key keeps answering with that order.
    assert_eq!(gate.reserve(&draft(1, 1, Some("k1")), 2).await.unwrap(), Ok(Hold::Replay(d1.ticket)));

    // An order that was never written forgets its key: asking again is a new attempt.
    let d2 = draft(3, 1, Some("k2"));
    assert_eq!(gate.reserve(&d2, 2).await.unwrap(), Ok(Hold::New(d2.ticket)));
    assert!(gate.release(&StockReturn::from(&d2), ReturnReason::NotWritten).await.unwrap());
    let again = draft(3, 1, Some("k2"));
    assert_eq!(gate.reserve(&again, 2).await.unwrap(), Ok(Hold::New(again.ticket)));
    // A give-back for a ticket that never held anything invents no stock.
    assert!(!gate.release(&StockReturn::from(&draft(4, 1, None)), ReturnReason::Cancelled).await.unwrap());
    assert_eq!(gate.remaining(A, S), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_reservations_from_two_instances_never_pass_the_stock_or_a_limit() {
    let redis = RedisServer::start().unwrap();
    let conn = connect(&redis.url()).await;
    // Two instances, each with its own connection and local view, over one Redis.
    let gates =
        [Arc::new(RedisStockGate::new(conn.clone())), Arc::new(RedisStockGate::new(connect(&redis.url()).await))];
    for g in &gates {
        g.load(&hot(1, 100)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..1000i64 {
        let gate = gates[(i % 2) as usize].clone();
        // 250 users, 4 attempts each, 2 units per attempt, limit 3 per user.
        tasks.push(tokio::spawn(async move { gate.reserve(&draft(i % 250 + 1, 2, None), 3).await.unwrap() }));
    }
    let mut won = 0u32;
    for t in tasks {
        if let Ok(Hold::New(_)) = t.await.unwrap() {
            won += 2;
        }
    }
    assert_eq!(won, 100, "exactly the stock is sold");
    assert_eq!(stream_len(&conn, A).await, 50, "one message per hold");
    assert_eq!(gates[0].units_taken(A, S).await.unwrap(), Some(100));
    for u in 1..=250 {
        assert!(
            gates[1].units_bought(A, UserId::from_raw(u)).await.unwrap() <= 2,
            "one attempt of 2 fits a limit of 3"
        );
    }
}

#[tokio::test]
async fn scripts_are_sent_again_after_the_server_forgot_them() {
    let redis = RedisServer::start().unwrap();
    let conn = connect(&redis.url()).await;
    let gate = RedisStockGate::new(conn.clone());
    gate.load(&hot(1, 5)).await.unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn.clone()).await.unwrap();
    let d = draft(1, 1, None);
    assert_eq!(gate.reserve(&d, 5).await.unwrap(), Ok(Hold::New(d.ticket)), "NOSCRIPT is answered by loading it");
}

#[tokio::test]
async fn reloads_follow_the_stock_by_version_whichever_instance_runs_them() {
    let redis = RedisServer::start().unwrap();
    let conn = connect(&redis.url()).await;
    let first = RedisStockGate::new(conn.clone());
    first.load(&hot(1, 10)).await.unwrap();
    let d = draft(1, 2, None);
    assert_eq!(first.reserve(&d, 5).await.unwrap(), Ok(Hold::New(d.ticket)));

    // An operator adds stock: version 2 puts it on sale at once, keeping what was taken.
    first.load(&hot(2, 20)).await.unwrap();
    assert_eq!(first.remaining(A, S), Some(18));
    // Another instance loading from an older read of the records changes nothing.
    let late = RedisStockGate::new(connect(&redis.url()).await);
    late.load(&hot(1, 10)).await.unwrap();
    assert_eq!(late.remaining(A, S), Some(18), "a joining instance sees the live figures");
    assert_eq!(late.units_bought(A, UserId::from_raw(1)).await.unwrap(), 2);
    // Fewer units than taken: nothing sells until orders are cancelled.
    first.load(&hot(3, 1)).await.unwrap();
    assert_eq!(first.remaining(A, S), Some(0));
    assert_eq!(first.reserve(&draft(2, 1, None), 5).await.unwrap(), Err(Rejection::SoldOut));
    late.refresh().await.unwrap();
    assert_eq!(late.remaining(A, S), Some(0), "the other instance's view follows within a refresh");

    // Redis loses the activity (restarted without its data): the gate notices and unloads it
    // locally, so the next preheat step loads it again from the records.
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn.clone()).await.unwrap();
    assert!(first.reserve(&draft(3, 1, Some("k")), 5).await.is_err());
    assert_eq!(first.loaded_version(A), None);
    late.refresh().await.unwrap();
    assert_eq!(late.loaded_version(A), None);
}

#[tokio::test]
async fn the_scripts_run_on_a_redis_cluster_with_every_key_of_an_activity_in_one_slot() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start).await.unwrap().unwrap();
    let conn = connect(&cluster.url()).await;
    let gate = RedisStockGate::new(conn.clone());
    // Several activities, so their keys land on different masters.
    for id in 1..=6 {
        let mut h = hot(1, 2);
        h.activity_id = ActivityId::from_raw(id);
        gate.load(&h).await.unwrap();
        let d = draft_for(h.activity_id, S, 1, 1, 1, Some("k"));
        assert_eq!(gate.reserve(&d, 1).await.unwrap(), Ok(Hold::New(d.ticket)));
        assert_eq!(
            gate.reserve(&draft_for(h.activity_id, S, 1, 1, 1, None), 1).await.unwrap(),
            Err(Rejection::LimitExceeded)
        );
        assert!(gate.release(&StockReturn::from(&d), ReturnReason::Cancelled).await.unwrap());
        assert_eq!(gate.units_taken(h.activity_id, S).await.unwrap(), Some(0));
        assert_eq!(stream_len(&conn, h.activity_id).await, 1);
    }
}

/// PostgreSQL records with a sale, Redis with its hot state, and a queue over both.
struct Rig {
    db: Db,
    activity: Activity,
    conn: RedisConn,
    target: RedisTarget,
    gate: Arc<RedisStockGate>,
    settled: Arc<Settled>,
    _redis: RedisServer,
}

async fn rig(stock: u32) -> Rig {
    let db = open().await;
    let (_, activity) = scenario(&db, stock).await;
    let redis = RedisServer::start().unwrap();
    let target = RedisTarget::parse(&redis.url()).unwrap();
    let conn = target.connect().await.unwrap();
    let gate = Arc::new(RedisStockGate::new(conn.clone()));
    gate.load(&db.records.orders.hot_activity(activity.id).await.unwrap()).await.unwrap();
    Rig { db, activity, conn, target, gate, settled: Arc::default(), _redis: redis }
}

impl Rig {
    fn consumers(&self, name: &str, options: ConsumerOptions) -> Arc<StreamConsumers> {
        Arc::new(StreamConsumers::new(
            self.target.clone(),
            self.conn.clone(),
            self.db.records.orders.clone(),
            self.gate.clone(),
            self.settled.clone(),
            name.to_owned(),
            options,
        ))
    }

    fn queue(&self, wait: Duration) -> StreamQueue {
        StreamQueue::new(self.conn.clone(), self.db.records.orders.clone(), self.settled.clone(), wait)
    }

    fn draft(&self, (user, address): (UserId, AddressId), key: Option<&str>) -> OrderDraft {
        draft_for(self.activity.id, self.activity.skus[0].sku_id, user.get(), address.get(), 1, key)
    }

    async fn reconcile(&self, repair: bool) -> seckill_cluster::hot::reconcile::Report {
        reconcile(&self.conn, &*self.db.records.catalog, &*self.db.records.orders, now(), repair).await.unwrap()
    }

    /// Waits (bounded) until every ticket is settled: written, or refused and given back.
    async fn settled(&self, queue: &StreamQueue, tickets: &[Ticket]) -> Vec<Placement> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut all = Vec::new();
            for t in tickets {
                match queue.outcome(*t).await.unwrap() {
                    Some(Placement::Queued(_)) | None => break,
                    Some(p) => all.push(p),
                }
            }
            if all.len() == tickets.len() {
                return all;
            }
            assert!(Instant::now() < deadline, "tickets still queued after 20 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_write_the_stream_into_the_records_and_reconcile_counts_what_is_in_flight() {
    let rig = rig(10).await;
    let (alice, bob) = (buyer(&rig.db, "alice").await, buyer(&rig.db, "bob").await);
    let mut tickets = Vec::new();
    for (who, key) in [(alice, Some("a1")), (bob, None), ((bob.0, alice.1), Some("bad-address"))] {
        let d = rig.draft(who, key);
        assert_eq!(rig.gate.reserve(&d, 5).await.unwrap(), Ok(Hold::New(d.ticket)));
        tickets.push(d.ticket);
    }
    // Queued, not written: the records say 10 left, Redis 7, and the 3 messages explain it.
    let report = rig.reconcile(false).await;
    assert_eq!((report.activities.clone(), report.in_flight), (vec![rig.activity.id], 3));
    assert!(report.drifts.is_empty(), "{:?}", report.drifts);

    let stop = CancellationToken::new();
    let running = tokio::spawn(rig.consumers("one", ConsumerOptions::default()).run_until_stopped(stop.clone()));
    let queue = rig.queue(Duration::from_millis(50));
    let placements = rig.settled(&queue, &tickets).await;
    assert!(matches!(&placements[0], Placement::Created(o) if o.user_id == alice.0));
    assert!(matches!(&placements[1], Placement::Created(o) if o.user_id == bob.0));
    assert_eq!(placements[2], Placement::Rejected(Rejection::UnknownAddress), "bob may not use alice's address");
    // The refused order's unit is back and its key forgotten.
    assert_eq!(rig.gate.units_taken(rig.activity.id, rig.activity.skus[0].sku_id).await.unwrap(), Some(2));
    // Acknowledged and deleted right after the commit (which the outcomes may show first).
    drained(&rig.conn, rig.activity.id).await;
    let sold = rig.db.records.catalog.activity(rig.activity.id).await.unwrap().skus[0].sold;
    assert_eq!(sold, 2);
    let report = rig.reconcile(false).await;
    assert_eq!(report.in_flight, 0);
    assert!(report.drifts.is_empty(), "{:?}", report.drifts);

    // A placement waits for its commit: 201 within the wait.
    let d = rig.draft(alice, None);
    assert_eq!(rig.gate.reserve(&d, 5).await.unwrap(), Ok(Hold::New(d.ticket)));
    let placed = rig.queue(Duration::from_secs(10)).place(d.clone()).await.unwrap();
    assert!(matches!(placed, Placement::Created(o) if o.ticket == d.ticket));

    // Drift: someone edits Redis by hand. Reconcile reports it, repairs it, and is clean after.
    let sku = rig.activity.skus[0].sku_id;
    let keys = Keys::of(rig.activity.id);
    let _: () = rig.conn.clone().hset(&keys.left, sku.get(), 42).await.unwrap();
    let _: () = rig.conn.clone().hset(&keys.bought, bob.0.get(), 9).await.unwrap();
    let report = rig.reconcile(false).await;
    let figures: Vec<(Figure, i64, i64)> = report.drifts.iter().map(|d| (d.figure, d.redis, d.expected)).collect();
    assert_eq!(figures, vec![(Figure::Left(sku), 42, 7), (Figure::Bought(bob.0), 9, 1)]);
    assert!(report.drift_remains());
    let epoch = |mut conn: RedisConn| async move {
        let e: i64 = conn.hget(&Keys::of(rig.activity.id).meta, "epoch").await.unwrap();
        e
    };
    let before = epoch(rig.conn.clone()).await;
    let repaired = rig.reconcile(true).await;
    assert!(repaired.drifts.iter().all(|d| d.repaired) && !repaired.drift_remains());
    assert!(rig.reconcile(false).await.drifts.is_empty());
    assert_eq!(rig.gate.units_taken(rig.activity.id, sku).await.unwrap(), Some(3));
    // A repair may give units back, so it moves the epoch (sold-out leases and local views
    // rely on units never coming back within one), and the local view takes the repaired figure.
    assert!(epoch(rig.conn.clone()).await > before);
    rig.gate.refresh().await.unwrap();
    assert_eq!(rig.gate.remaining(rig.activity.id, sku), Some(7));

    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_a_dead_consumer_left_pending_are_claimed_and_written_once() {
    let rig = rig(10).await;
    let carol = buyer(&rig.db, "carol").await;
    let mut tickets = Vec::new();
    for key in ["c1", "c2", "c3"] {
        let d = rig.draft(carol, Some(key));
        assert_eq!(rig.gate.reserve(&d, 5).await.unwrap(), Ok(Hold::New(d.ticket)));
        tickets.push(d.ticket);
    }
    // A consumer reads them and dies before writing (its entries stay pending under its name).
    let keys = Keys::of(rig.activity.id);
    let read: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg("dead")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&keys.orders)
        .arg(">")
        .query_async(&mut rig.conn.clone())
        .await
        .unwrap();
    assert_eq!(read.keys[0].ids.len(), 3);

    let stop = CancellationToken::new();
    let options = ConsumerOptions {
        claim_idle: Duration::from_millis(200),
        claim_every: Duration::from_millis(100),
        ..ConsumerOptions::default()
    };
    let running = tokio::spawn(rig.consumers("alive", options).run_until_stopped(stop.clone()));
    let placements = rig.settled(&rig.queue(Duration::from_millis(50)), &tickets).await;
    assert!(placements.iter().all(|p| matches!(p, Placement::Created(_))), "{placements:?}");
    stop.cancel();
    running.await.unwrap();
    let pending: redis::streams::StreamPendingReply = rig.conn.clone().xpending(&keys.orders, GROUP).await.unwrap();
    assert_eq!(pending.count(), 0, "nothing left pending");
    let orders =
        rig.db.records.orders.orders_of_user(carol.0, seckill_store::Page::new(Some(1), Some(50))).await.unwrap();
    assert_eq!(orders.items.len(), 3, "each claimed entry written exactly once");
    assert_eq!(rig.db.records.catalog.activity(rig.activity.id).await.unwrap().skus[0].sold, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_refused_from_memory_only_while_no_key_can_win() {
    let redis = RedisServer::start().unwrap();
    let (a, b) = (RedisStockGate::new(connect(&redis.url()).await), RedisStockGate::new(connect(&redis.url()).await));
    for g in [&a, &b] {
        g.load(&hot(1, 1)).await.unwrap();
    }
    let (u1, u2) = (UserId::from_raw(1), UserId::from_raw(2));
    let won = draft(1, 1, Some("k1"));
    assert_eq!(a.reserve(&won, 1).await.unwrap(), Ok(Hold::New(won.ticket)));
    // Without an acknowledged lease, a key is never refused from memory.
    assert!(!b.sold_out_for(A, u2, Some("x")));
    a.acknowledge().await.unwrap();
    b.acknowledge().await.unwrap();
    assert!(b.sold_out_for(A, u2, Some("x")) && b.sold_out_for(A, u2, None));
    assert!(!b.sold_out_for(A, u1, Some("k1")), "a key that won goes to redis and replays");
    assert_eq!(b.reserve(&draft(1, 1, Some("k1")), 1).await.unwrap(), Ok(Hold::Replay(won.ticket)));

    // The unit comes back (through A). B has not acknowledged the new epoch: no key may win
    // yet, so B's memory stays right.
    assert!(a.release(&StockReturn::from(&won), ReturnReason::Cancelled).await.unwrap());
    a.acknowledge().await.unwrap();
    let x = draft(2, 1, Some("x"));
    assert_eq!(a.reserve(&x, 1).await.unwrap(), Err(Rejection::Overloaded { retry_after_secs: 1 }));
    b.acknowledge().await.unwrap();
    assert!(!b.sold_out_for(A, u2, Some("x")), "B saw the unit come back");
    let x = draft(2, 1, Some("x"));
    assert_eq!(a.reserve(&x, 1).await.unwrap(), Ok(Hold::New(x.ticket)), "acknowledged: the win goes through");
    a.acknowledge().await.unwrap();
    b.acknowledge().await.unwrap();
    assert!(!b.sold_out_for(A, u2, Some("x")), "the new winner's key is known at the new epoch");
    assert!(b.sold_out_for(A, UserId::from_raw(3), Some("y")));

    // An instance that stops acknowledging (paused, dead) holds wins back for its lease at most,
    // and stops answering from memory before the lease ends.
    assert!(a.release(&StockReturn::from(&x), ReturnReason::Cancelled).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    let z = loop {
        a.acknowledge().await.unwrap();
        let z = draft(3, 1, Some("z"));
        match a.reserve(&z, 1).await.unwrap() {
            Err(Rejection::Overloaded { .. }) => {
                assert!(Instant::now() < deadline, "held back for longer than a lease");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break (z, other),
        }
    };
    assert_eq!(z.1, Ok(Hold::New(z.0.ticket)));
    assert!(!b.sold_out_for(A, UserId::from_raw(3), Some("z")), "B's view expired before its lease");
}
