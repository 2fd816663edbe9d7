//! The hot state and order hand-off of the cluster shape, in Redis (standalone or Cluster):
//!
//! - [`conn`]: where Redis is ([`RedisTarget`]) and one multiplexed handle for both shapes.
//! - [`scripts`]: the keys and the Lua scripts (load, reserve, release).
//! - [`gate`]: [`RedisStockGate`], the [`StockGate`](seckill_store::rush::StockGate) in Redis
//!   with each instance's local view (sold-out flags, reservations).
//! - [`queue`]: [`StreamQueue`] (the [`OrderQueue`](seckill_store::rush::OrderQueue)) and the
//!   [`StreamConsumers`] that write the order streams into PostgreSQL.
//! - [`reconcile`]: `seckill reconcile`, Redis compared with the records (and repaired).
//! - [`wire`]: the order message.

pub mod conn;
pub mod gate;
pub mod queue;
pub mod reconcile;
pub mod scripts;
pub mod wire;

pub use conn::{RedisConn, RedisTarget};
pub use gate::RedisStockGate;
pub use queue::{ConsumerOptions, Settled, StreamConsumers, StreamQueue};
