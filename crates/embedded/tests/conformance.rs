//! The conformance suite of `seckill-store`, run against [`SqliteRecords`] on a fresh file in
//! a temp dir per case.

use std::sync::Arc;

use seckill_embedded::{SqliteOptions, SqliteRecords};
use seckill_store::conformance::{Fixture, time_zone};

async fn make() -> Fixture {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = SqliteOptions::new(dir.path().join("data").join("seckill.db"), time_zone());
    let backend = Arc::new(SqliteRecords::open(options).await.expect("fresh records"));
    Fixture { records: backend.records(), guard: Box::new((backend, dir)) }
}

seckill_store::conformance_tests!(make);
