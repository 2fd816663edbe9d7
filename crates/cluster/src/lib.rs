//! The scale-out shape of seckill: records in PostgreSQL, shared by any number of instances.
//!
//! - [`records`]: [`PgRecords`], the records in PostgreSQL — accounts, catalog, time slots,
//!   activities, orders, payments and the stock-return outbox — implementing every records
//!   port of `seckill-store` (and passing its conformance suite), with the migrations of
//!   `migrations/` applied on connect.
//!
//! - [`hot`]: the hot state in Redis (standalone or Redis Cluster): [`RedisStockGate`] (Lua
//!   scripts by SHA, one hash tag per activity), the order streams ([`StreamQueue`],
//!   [`StreamConsumers`]) and `seckill reconcile`.
//! - [`coord`]: leadership by PostgreSQL advisory lock ([`PgLeadership`]) and announcements over
//!   Redis pub/sub ([`Coordinator`]).
//!
//! SQL for PostgreSQL lives in this crate and nowhere else. It depends on `seckill-domain` and
//! `seckill-store` only — never on the server, the binary or the embedded shape.

pub mod coord;
pub mod hot;
pub mod records;

pub use coord::{Coordinator, PgLeadership};
pub use hot::{ConsumerOptions, RedisConn, RedisStockGate, RedisTarget, Settled, StreamConsumers, StreamQueue};
pub use records::{PgOptions, PgRecords};
