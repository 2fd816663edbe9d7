//! The default shape of seckill: everything in one process, nothing else to install.
//!
//! - [`records`]: [`SqliteRecords`], the records in one SQLite file (WAL) — accounts,
//!   catalog, time slots, activities — implementing the ports of `seckill-store`, with the
//!   migrations of `migrations/` applied on open.
//!
//! Later modules add the in-process hot state (atomics + sharded maps) and the group-commit
//! order writer, which owns a write connection of its own built by the same options.
//!
//! SQL lives in this crate and nowhere else. It depends on `seckill-domain` and
//! `seckill-store` only — never on the server or the binary.

pub mod records;

pub use records::{SqliteOptions, SqliteRecords, Synchronous, sqlite_path_from_url};
