//! The throwaway PostgreSQL servers of the testkit: an owned one stops and leaves nothing
//! behind when dropped; the shared one hands out databases of their own to each test.

#![allow(clippy::unwrap_used)]

use std::net::TcpStream;

use seckill_testkit::postgres::{PgServer, fresh_database};
use sqlx::PgPool;

#[tokio::test]
async fn an_owned_server_answers_on_its_port_and_is_gone_once_dropped() {
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap().unwrap();
    let port = server.port();
    let database = tokio::task::spawn_blocking(move || {
        let db = server.create_database().unwrap();
        (server, db)
    })
    .await
    .unwrap();
    let (server, db) = database;
    let pool = PgPool::connect(db.url()).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
    pool.close().await;
    drop(db);
    tokio::task::spawn_blocking(move || drop(server)).await.unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens on {port} any more");
}

#[tokio::test]
async fn each_fresh_database_is_migrated_and_its_own() {
    let (a, b) = (fresh_database().await, fresh_database().await);
    assert_ne!(a.url(), b.url());
    let (pa, pb) = (PgPool::connect(a.url()).await.unwrap(), PgPool::connect(b.url()).await.unwrap());
    sqlx::query("INSERT INTO brands (name, created_at, updated_at) VALUES ('only in a', 0, 0)")
        .execute(&pa)
        .await
        .unwrap();
    let count = |pool: PgPool| async move {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM brands").fetch_one(&pool).await.unwrap();
        n
    };
    assert_eq!((count(pa).await, count(pb).await), (1, 0));
}
