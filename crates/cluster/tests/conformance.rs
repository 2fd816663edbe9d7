//! The conformance suite of `seckill-store`, run against the PostgreSQL records: each case on
//! a fresh database of its own (on the test run's shared throwaway server), paired — until the
//! Redis hot state of the cluster shape exists — with the in-process hot state and the
//! group-commit order writer of the embedded shape, writing through
//! [`Orders::write_orders`](seckill_store::orders::Orders::write_orders) into PostgreSQL.

use std::sync::Arc;

use seckill_cluster::{PgOptions, PgRecords};
use seckill_embedded::{MemoryStockGate, OrderWriter, WriterOptions};
use seckill_store::conformance::{Fixture, time_zone};
use tokio_util::sync::CancellationToken;

async fn make() -> Fixture {
    let database = seckill_testkit::postgres::fresh_database().await;
    let backend =
        Arc::new(PgRecords::connect(PgOptions::new(database.url(), time_zone())).await.expect("fresh records"));
    let gate = Arc::new(MemoryStockGate::new());
    let (writer, task) = OrderWriter::new(backend.clone(), gate.clone(), WriterOptions::default());
    let stop = CancellationToken::new();
    tokio::spawn(task.run_until_stopped(stop.clone()));
    Fixture {
        records: backend.records(),
        gate,
        queue: Arc::new(writer),
        // Dropped in order: the writer stops, the pool goes, then the database.
        guard: Box::new((stop.drop_guard(), backend, database)),
    }
}

seckill_store::conformance_tests!(make);
