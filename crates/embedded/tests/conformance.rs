//! The conformance suite of `seckill-store`, run against the embedded shape — [`SqliteRecords`]
//! on a fresh file in a temp dir, the in-process hot state and the group-commit writer — per
//! case.

use std::sync::Arc;

use seckill_embedded::{MemoryStockGate, OrderWriter, SqliteOptions, SqliteRecords, WriterOptions};
use seckill_store::conformance::{Fixture, time_zone};
use tokio_util::sync::CancellationToken;

async fn make() -> Fixture {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = SqliteOptions::new(dir.path().join("data").join("seckill.db"), time_zone());
    let backend = Arc::new(SqliteRecords::open(options).await.expect("fresh records"));
    let gate = Arc::new(MemoryStockGate::new());
    let (writer, task) = OrderWriter::new(backend.clone(), gate.clone(), WriterOptions::default());
    let stop = CancellationToken::new();
    tokio::spawn(task.run_until_stopped(stop.clone()));
    Fixture {
        records: backend.records(),
        gate,
        queue: Arc::new(writer),
        guard: Box::new((backend, dir, stop.drop_guard())),
    }
}

seckill_store::conformance_tests!(make);
