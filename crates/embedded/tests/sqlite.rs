//! The SQLite file across restarts: data stays, migrations apply once.

use seckill_domain::Timestamp;
use seckill_domain::user::NewUser;
use seckill_embedded::{SqliteOptions, SqliteRecords, sqlite_path_from_url};
use seckill_store::conformance::time_zone;

#[tokio::test]
async fn reopening_the_file_keeps_the_data_and_runs_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested").join("dir").join("seckill.db").display());
    let path = sqlite_path_from_url(&url).unwrap();
    let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();

    let first = std::sync::Arc::new(SqliteRecords::open(SqliteOptions::new(&path, time_zone())).await.unwrap());
    let applied = first.applied_migrations().await.unwrap();
    assert_eq!(
        applied,
        [
            (1, "schema".to_owned()),
            (2, "search".to_owned()),
            (3, "lighter order indexes".to_owned()),
            (4, "order checks without lists".to_owned()),
            (5, "order lists by time".to_owned()),
        ]
    );
    let records = first.records();
    let alice = NewUser::parse("alice", "correct horse", None, None, None).unwrap();
    let user = records.accounts.create_user(&alice, "h", now).await.unwrap();
    first.close().await;
    drop(records);
    assert!(path.exists());

    let again = std::sync::Arc::new(SqliteRecords::open(SqliteOptions::new(&path, time_zone())).await.unwrap());
    assert_eq!(again.applied_migrations().await.unwrap(), applied);
    assert_eq!(again.records().accounts.user(user.id).await.unwrap(), user);
    again.records().health.ping().await.unwrap();
    again.close().await;
}
