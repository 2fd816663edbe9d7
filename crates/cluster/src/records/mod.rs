//! [`PgRecords`]: the records of the cluster shape in PostgreSQL.
//!
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
//! - `search`: shoppers' search over the trigram index of migration `0002_search.sql`;
//! - `rows`: rows as stored and their checked conversion into domain types;
//! - `error`: PostgreSQL errors in the ports' words.
//!
//! Concurrency. Many connections (and, in the cluster shape, many instances) write at once, so
//! every rule is kept by one of three means, chosen per operation:
//! - a constraint of the schema (unique usernames, tickets and idempotency keys; `sold <=
//!   stock`);
//! - a conditional statement that re-checks under the row lock PostgreSQL takes anyway
//!   (`UPDATE … SET sold = sold + n WHERE sold + n <= stock`, `UPDATE orders … WHERE status =
//!   …`), or a row lock taken first (`SELECT … FOR UPDATE` of the order, the payment, the user
//!   whose addresses change);
//! - for the catalog's cross-record rules, which read several rows and then write (no
//!   overlapping enabled slots, one enabled activity per product at a time, no category
//!   cycles, no removal of a SKU an activity uses), one transaction-scoped advisory lock,
//!   [`CATALOG_LOCK`]: operators' catalog writes run one at a time, as they do on SQLite, while
//!   orders and payments never wait for it.
//!
//! Reads that need one consistent picture across statements (the hot state's rebuild, a page
//! and its total) run in a `REPEATABLE READ READ ONLY` transaction.

mod accounts;
mod activities;
mod catalog;
mod error;
mod moves;
mod orders;
mod payments;
mod rows;
mod search;
mod slots;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use seckill_domain::TimeZone;
use seckill_domain::validation::FieldErrors;
use seckill_store::{Health, Records, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use error::{DbError, DbResult};

/// The schema, `migrations/*.sql`, compiled into the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The advisory lock (transaction-scoped) that serialises the catalog's cross-record rules.
/// Advisory lock keys of seckill are `0x5345_434B_xxxx` ("SECK"); this is the first.
pub const CATALOG_LOCK: i64 = 0x5345_434B_0001;

/// Where and how to connect.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (libpq-style parameters such as
    /// `sslmode` or `application_name` may follow). The role must own the database, or the
    /// `pg_trgm` extension must already be installed in it.
    pub url: String,
    /// The shop's zone, in which time slots are wall-clock times. Activity rules that depend on
    /// windows (at least one window, no product in two activities at once) are decided in it.
    pub tz: TimeZone,
    /// Connections in the pool at most (at least 1).
    pub max_connections: u32,
    /// How long a caller waits for a free connection before the store answers
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never shown.
        f.debug_struct("PgOptions")
            .field("tz", &self.tz)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// Options for `url` in zone `tz`: 16 connections, 5 s to get one.
    pub fn new(url: impl Into<String>, tz: TimeZone) -> Self {
        PgOptions { url: url.into(), tz, max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }

    pub(crate) fn connect_options(&self) -> Result<PgConnectOptions, StoreError> {
        let options: PgConnectOptions = self.url.parse().map_err(|e: sqlx::Error| {
            // The parser's message never echoes the password.
            StoreError::Invalid(FieldErrors::single("database_url", format!("not a PostgreSQL URL: {e}")))
        })?;
        // PostgreSQL's NOTICEs ("relation … already exists, skipping") are not worth a log line.
        Ok(options.application_name("seckill").options([("client_min_messages", "warning")]))
    }
}

/// The records in PostgreSQL: accounts, catalog, slots, activities, orders, payments and the
/// stock-return outbox, behind one connection pool. Cheap to share (`Arc`); every method is
/// safe from any number of tasks and instances at once.
#[derive(Debug)]
pub struct PgRecords {
    pool: PgPool,
    /// The shop's zone, for the window rules of activities.
    tz: TimeZone,
}

impl PgRecords {
    /// Connects and applies pending migrations (instances starting together take turns: the
    /// migrator holds an advisory lock). `Unavailable` when the server cannot be reached or the
    /// migrations fail; `Invalid` for a URL that is not PostgreSQL's.
    pub async fn connect(opts: PgOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(opts.connect_options()?)
            .await
            .map_err(DbError::from)?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        tracing::info!(max_connections = opts.max_connections, "postgres records open");
        Ok(PgRecords { pool, tz: opts.tz })
    }

    /// The migrations applied to the database, `(version, description)` by version, for
    /// `seckill migrate` to report.
    pub async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await
                .map_err(DbError::from)?;
        Ok(rows)
    }

    /// The ports, all served by this one backend.
    pub fn records(self: &Arc<Self>) -> Records {
        Records::from_backend(Arc::clone(self))
    }

    /// Closes every connection after the statements in flight finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A read-write transaction at PostgreSQL's default isolation (read committed): for writes
    /// whose rules hold through constraints, conditional statements and row locks.
    async fn write(&self) -> DbResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// A write transaction holding [`CATALOG_LOCK`] from its first statement: a rule checked by
    /// reading inside it can never race another catalog write.
    async fn catalog_write(&self) -> DbResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CATALOG_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// A connection of the pool, for one statement (or several that need no common snapshot).
    async fn conn(&self) -> DbResult<sqlx::pool::PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    /// A read transaction: one consistent snapshot across several statements.
    async fn read(&self) -> DbResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?)
    }
}

#[async_trait]
impl Health for PgRecords {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(DbError::from)?;
        Ok(())
    }
}
