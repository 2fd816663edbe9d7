//! The default shape of seckill: everything in one process, nothing else to install.
//!
//! - [`records`]: [`SqliteRecords`], the records in one SQLite file (WAL) — accounts,
//!   catalog, time slots, activities — implementing the ports of `seckill-store`, with the
//!   migrations of `migrations/` applied on open.
//!
//! - [`hot`]: [`MemoryStockGate`], the hot state in process: atomics for stock, a sharded
//!   map for what each user holds ([`StockGate`](seckill_store::rush::StockGate)).
//! - [`writer`]: [`OrderWriter`], the group-commit hand-off from reservations to durable
//!   orders ([`OrderQueue`](seckill_store::rush::OrderQueue)), and its [`WriterTask`].
//!
//! SQL lives in this crate and nowhere else. It depends on `seckill-domain` and
//! `seckill-store` only — never on the server or the binary.

pub mod hot;
pub mod records;
pub mod writer;

pub use hot::MemoryStockGate;
pub use records::{SqliteOptions, SqliteRecords, Synchronous, sqlite_path_from_url};
pub use writer::{OrderWriter, WriterOptions, WriterTask};
