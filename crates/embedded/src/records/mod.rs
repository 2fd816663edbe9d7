//! [`SqliteRecords`]: the records of the embedded shape in one SQLite file.
//!
//! - [`options`]: [`SqliteOptions`], [`Synchronous`], [`sqlite_path_from_url`] and the
//!   connection settings every connection shares.
//! - `accounts`: shoppers, operators, addresses ([`Accounts`](seckill_store::Accounts)).
//! - `catalog`: brands, categories, products and SKUs, and the
//!   [`Catalog`](seckill_store::Catalog) impl, which hands slots and activities to:
//! - `slots`: daily time slots and their overlap rule;
//! - `activities`: activities, their slots and SKUs, and the cross-record rules;
//! - `orders`: the group-commit batch write, orders, reservations, seckill tags, and the
//!   figures the hot state is rebuilt from ([`Orders`](seckill_store::orders::Orders));
//! - `moves`: the order state machine's conditional moves, lists, the timeout sweep's
//!   queries and the stock-return outbox;
//! - `payments`: payment attempts and gateway notifications applied exactly once;
//! - `search`: shoppers' search over the FTS5 trigram index of migration `0002_search.sql`;
//! - `rows`: rows as stored and their checked conversion into domain types;
//! - `error`: SQLite errors in the ports' words;
//! - `batch`: the group commit's own connection and thread (rusqlite, prepared statements).
//!
//! Concurrency: two write connections — the records' writer (sqlx) for every write
//! transaction, and the order batch connection for the group commit — and one write *turn*
//! they both take first (a fair async mutex), so writes of this process queue in arrival order
//! instead of polling SQLite's lock. Each write transaction begins with `BEGIN IMMEDIATE`, so
//! the write lock is taken before the first read — a rule checked by reading inside the
//! transaction (no overlapping slot, no product in two activities) can never race another
//! writer. Reads use a separate pool of read-only connections; WAL lets them run while a write
//! is in progress.

mod accounts;
mod activities;
mod batch;
mod catalog;
mod error;
mod moves;
pub mod options;
mod orders;
mod payments;
mod rows;
mod search;
mod slots;

use std::sync::Arc;

use async_trait::async_trait;
use seckill_domain::TimeZone;
use seckill_store::{Health, Records, StoreError};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, SqliteConnection, Transaction};

pub use options::{SqliteOptions, Synchronous, sqlite_path_from_url};

use batch::{BatchWriter, WriteTurn};
use error::{DbError, DbResult};

/// The schema, `migrations/*.sql`, compiled into the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The records in one SQLite file: accounts, catalog, slots, activities (and, in later work,
/// orders, payments and the stock-return outbox).
///
/// Keeps every cross-record rule of the ports by checking it inside a write transaction that
/// holds SQLite's write lock from its first statement.
#[derive(Debug)]
pub struct SqliteRecords {
    /// The connection every write transaction of the records goes through, except:
    writer: SqlitePool,
    /// the group commit of orders, on its own thread and connection.
    batch: BatchWriter,
    /// Taken by every write of this process, for the whole transaction.
    turn: WriteTurn,
    /// Read-only connections for everything that changes nothing.
    reader: SqlitePool,
    /// The shop's zone, for the window rules of activities.
    tz: TimeZone,
    options: SqliteOptions,
    /// Stops the background checkpointer (on close).
    checkpointing: tokio_util::sync::CancellationToken,
    checkpointer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for SqliteRecords {
    fn drop(&mut self) {
        // Records dropped without `close`: the checkpointer stops (and closes its connection).
        self.checkpointing.cancel();
    }
}

/// How often the checkpointer copies the WAL into the database file.
pub(crate) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the WAL (`PASSIVE`: never waits for, never blocks the writer or readers) every
/// [`CHECKPOINT_EVERY`] on a connection of its own, so the group commit never pays for copying
/// WAL frames back into the file and syncing it — it only appends to the WAL.
async fn checkpoint_until_stopped(pool: SqlitePool, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            () = stop.cancelled() => break,
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "background checkpoint failed; the next one retries");
        }
    }
    pool.close().await;
}

/// Creates the database file, empty, readable and writable by its owner only — it holds
/// password hashes, phone numbers and addresses — unless it exists (its mode is then the
/// operator's). SQLite gives the `-wal` and `-shm` files it makes the database file's mode.
async fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))),
    }
}

impl SqliteRecords {
    /// Opens (creating the file and its directory if missing) and applies pending migrations.
    /// `Unavailable` when the file cannot be opened or written.
    pub async fn open(opts: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        create_private(&opts.path).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(opts.connect_options(true))
            .await
            .map_err(DbError::from)?;
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.read_connections.max(1))
            .connect_with(opts.connect_options(false))
            .await
            .map_err(DbError::from)?;
        let checkpoints = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.checkpointer_options())
            .await
            .map_err(DbError::from)?;
        let turn = WriteTurn::default();
        let batch = BatchWriter::start(&opts, turn.clone())?;
        let checkpointing = tokio_util::sync::CancellationToken::new();
        let checkpointer = tokio::spawn(checkpoint_until_stopped(checkpoints, checkpointing.clone()));
        tracing::info!(path = %opts.path.display(), synchronous = ?opts.synchronous, "sqlite records open");
        Ok(SqliteRecords {
            writer,
            batch,
            turn,
            reader,
            tz: opts.tz.clone(),
            options: opts,
            checkpointing,
            checkpointer: std::sync::Mutex::new(Some(checkpointer)),
        })
    }

    /// The migrations applied to the file, `(version, description)` by version, for
    /// `seckill migrate` to report.
    pub async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations WHERE success = 1 ORDER BY version")
                .fetch_all(&self.reader)
                .await
                .map_err(DbError::from)?;
        Ok(rows)
    }

    /// The ports, all served by this one backend.
    pub fn records(self: &Arc<Self>) -> Records {
        Records::from_backend(Arc::clone(self))
    }

    /// Closes every connection after the transactions in flight finish (WAL is checkpointed by
    /// the last one to close).
    pub async fn close(&self) {
        self.checkpointing.cancel();
        let checkpointer = self.checkpointer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = checkpointer {
            let _ = task.await;
        }
        self.reader.close().await;
        self.batch.close().await;
        self.writer.close().await;
    }

    /// The options the records were opened with, for other connections to the same file.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// A write transaction holding the write lock from the start (`BEGIN IMMEDIATE`), in the
    /// process's write turn.
    async fn write(&self) -> DbResult<WriteTx> {
        let turn = self.turn.clone().lock_owned().await;
        Ok(WriteTx { tx: self.writer.begin_with("BEGIN IMMEDIATE").await?, _turn: turn })
    }

    /// A read connection, for one statement.
    async fn reader_conn(&self) -> DbResult<sqlx::pool::PoolConnection<Sqlite>> {
        Ok(self.reader.acquire().await?)
    }

    /// A read transaction: one consistent snapshot across several statements.
    async fn read(&self) -> DbResult<Transaction<'static, Sqlite>> {
        Ok(self.reader.begin().await?)
    }
}

/// A write transaction and the write turn it holds until it commits or is dropped (rolled
/// back). Derefs to the connection, so statements run on `&mut *tx`.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    async fn commit(self) -> DbResult<()> {
        Ok(self.tx.commit().await?)
    }

    #[cfg(test)]
    async fn rollback(self) -> DbResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

#[async_trait]
impl Health for SqliteRecords {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(DbError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
