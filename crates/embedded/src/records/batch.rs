//! The group commit's own connection: [`Orders::write_orders`](seckill_store::orders::Orders)
//! runs on a dedicated thread that owns a rusqlite connection with prepared statements.
//!
//! Why not the sqlx write connection every other write uses: sqlx runs each statement on its
//! connection's worker thread and hands statements, arguments and rows across a channel, one
//! round trip per statement. A batch of a few hundred orders took half a dozen such round trips
//! plus ~40 µs per order of argument and row handling, and on a busy machine every hand-off
//! waited for the worker thread to be scheduled — the commit, not SQLite, was the flood's
//! bottleneck. Here a whole batch is one hand-off in and one out; the statements are prepared
//! once and stay cached on the connection, and each order is one `INSERT` step whose id is
//! `last_insert_rowid()`.
//!
//! Two write connections to one file would meet at SQLite's write lock, and its busy handler
//! polls (1, 2, 5, 10 … ms): a batch writer that re-takes the lock right after each commit
//! could starve a payment or a cancellation for seconds. So every write of the process —
//! sqlx's transactions and these batches — first takes the records' write *turn*
//! ([`WriteTurn`]), a fair (first come, first served) async mutex; the busy timeout stays only
//! for other processes (`seckill migrate`, `seckill reconcile`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use seckill_domain::ids::OrderId;
use seckill_domain::order::Order;
use seckill_domain::rejection::Rejection;
use seckill_domain::user::AddressSnapshot;
use seckill_store::StoreError;
use seckill_store::rush::OrderDraft;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use super::error::{DbResult, corrupt};
use super::options::{BUSY_TIMEOUT, SqliteOptions};
use super::rows::{AddressRow, millis};

/// The right to write, held for one write transaction. Fair: waiters get it in arrival order.
pub(crate) type WriteTurn = Arc<tokio::sync::Mutex<()>>;

/// What one batch answers: per draft, its order or why it was refused.
pub(crate) type BatchAnswers = Vec<Result<Order, Rejection>>;

struct Job {
    drafts: Vec<OrderDraft>,
    reply: oneshot::Sender<DbResult<BatchAnswers>>,
    /// Released when the batch has committed (or failed): dropped by the thread.
    _turn: OwnedMutexGuard<()>,
}

/// The handle to the batch thread. Dropping it (or [`BatchWriter::close`]) ends the thread
/// once it has finished the batch in hand, closing its connection.
#[derive(Debug)]
pub(crate) struct BatchWriter {
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    turn: WriteTurn,
}

impl BatchWriter {
    /// Opens the connection (the file exists and is migrated by now) and starts the thread.
    pub(crate) fn start(options: &SqliteOptions, turn: WriteTurn) -> DbResult<Self> {
        let conn = open(options)?;
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("seckill-orders".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(job) = rx.blocking_recv() {
                    let answers = write_batch(&mut conn, &job.drafts);
                    // The request side may have gone (shutdown); the batch stands either way.
                    let _ = job.reply.send(answers);
                }
                if let Err((_, e)) = conn.close() {
                    tracing::warn!(error = %e, "closing the order batch connection failed");
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the order batch thread: {e}")))?;
        Ok(BatchWriter { jobs: Mutex::new(Some(jobs)), thread: Mutex::new(Some(thread)), turn })
    }

    /// Writes `drafts` in one transaction on the batch thread, in its write turn.
    pub(crate) async fn write(&self, drafts: &[OrderDraft]) -> DbResult<BatchAnswers> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let turn = self.turn.clone().lock_owned().await;
        let (reply, answer) = oneshot::channel();
        let job = Job { drafts: drafts.to_vec(), reply, _turn: turn };
        let sent = match &*lock(&self.jobs) {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Unavailable("the records are closed".into()).into());
        }
        answer.await.map_err(|_| StoreError::Unavailable("the order batch thread stopped".into()))?
    }

    /// Ends the thread after the batch in hand and waits for its connection to close.
    pub(crate) async fn close(&self) {
        lock(&self.jobs).take();
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the order batch thread ended abnormally");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The connection, with the settings of the records' writer ([`SqliteOptions::connect_options`]):
/// WAL (already the file's mode), foreign keys, the chosen `synchronous`, a large cache and
/// mmap, the WAL backstop.
pub(crate) fn open(options: &SqliteOptions) -> DbResult<Connection> {
    let conn = Connection::open_with_flags(
        &options.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    for (pragma, value) in options.writer_pragmas() {
        conn.pragma_update(None, pragma, value)?;
    }
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// One order of a batch. Its CHECK constraints must stay free of `IN` lists of three or more
/// values: SQLite would build an in-memory table for each list at every execution (migration
/// 0004; `tests::writing_an_order_builds_no_temporary_table` keeps it so).
pub(crate) const INSERT_ORDER: &str = "INSERT INTO orders (ticket, activity_id, sku_id, user_id, quantity, \
     unit_price_cents, amount_cents, idempotency_key, status, pay_type, address_contact, address_phone, address_text, \
     created_at, pay_deadline, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending_payment', ?9, ?10, ?11, ?12, ?13, ?14, ?13)";

/// One `BEGIN IMMEDIATE` transaction, one commit (one fsync) for the batch: each draft's
/// address must be a live address of its own user (and is copied into the order); `sold` is
/// raised once per SKU, guarded by `sold + n <= stock` with the schema's `CHECK (sold <=
/// stock)` behind it; then one `INSERT` per order. Any SQLite error fails the whole batch (and
/// rolls it back): the writer gives every hold back.
fn write_batch(conn: &mut Connection, drafts: &[OrderDraft]) -> DbResult<BatchAnswers> {
    let mut answers: Vec<Option<Result<Order, Rejection>>> = vec![None; drafts.len()];
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

    // 1. Addresses, once each.
    let mut snapshots: HashMap<(i64, i64), Option<AddressSnapshot>> = HashMap::new();
    {
        let mut by_id = tx.prepare_cached(
            "SELECT id, user_id, contact, phone, province, city, district, detail, is_default FROM addresses
             WHERE id = ?1 AND deleted = 0",
        )?;
        for d in drafts {
            let key = (d.address_id.get(), d.user_id.get());
            if snapshots.contains_key(&key) {
                continue;
            }
            let row = by_id
                .query_row([key.0], |r| {
                    Ok(AddressRow {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        contact: r.get(2)?,
                        phone: r.get(3)?,
                        province: r.get(4)?,
                        city: r.get(5)?,
                        district: r.get(6)?,
                        detail: r.get(7)?,
                        is_default: r.get(8)?,
                    })
                })
                .optional()?;
            let snapshot = match row {
                Some(row) if row.user_id == key.1 => Some(row.into_address()?.snapshot()),
                _ => None,
            };
            snapshots.insert(key, snapshot);
        }
    }
    for (i, d) in drafts.iter().enumerate() {
        if !matches!(snapshots.get(&(d.address_id.get(), d.user_id.get())), Some(Some(_))) {
            answers[i] = Some(Err(Rejection::UnknownAddress));
        }
    }

    // 2. `sold` once per SKU, never past `stock`.
    let mut per_sku: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        if answers[i].is_none() {
            *per_sku.entry((d.activity_id.get(), d.sku_id.get())).or_default() += i64::from(d.quantity);
        }
    }
    {
        let mut raise = tx.prepare_cached(
            "UPDATE activity_skus SET sold = sold + ?1 WHERE activity_id = ?2 AND sku_id = ?3 AND sold + ?1 <= stock",
        )?;
        for ((activity, sku), units) in per_sku {
            if raise.execute(params![units, activity, sku])? == 0 {
                for (i, d) in drafts.iter().enumerate() {
                    if answers[i].is_none() && d.activity_id.get() == activity && d.sku_id.get() == sku {
                        answers[i] = Some(Err(Rejection::SoldOut));
                    }
                }
            }
        }
    }

    // 3. The orders: the draft, its address, and the id SQLite gives the row.
    {
        let mut insert = tx.prepare_cached(INSERT_ORDER)?;
        for (i, d) in drafts.iter().enumerate() {
            if answers[i].is_some() {
                continue;
            }
            let address = snapshots
                .get(&(d.address_id.get(), d.user_id.get()))
                .and_then(Option::as_ref)
                .ok_or_else(|| corrupt("address"))?;
            let amount = d.unit_price.times(d.quantity).map_err(|_| corrupt("order amount overflows"))?;
            insert.execute(params![
                d.ticket.to_string(),
                d.activity_id.get(),
                d.sku_id.get(),
                d.user_id.get(),
                i64::from(d.quantity),
                d.unit_price.cents(),
                amount.cents(),
                d.idempotency_key,
                d.pay_type.as_str(),
                address.contact,
                address.phone,
                address.text,
                millis(d.created_at),
                millis(d.pay_deadline),
            ])?;
            let order = d
                .pending_order(OrderId::from_raw(tx.last_insert_rowid()), address.clone())
                .ok_or_else(|| corrupt("order amount or time out of range"))?;
            answers[i] = Some(Ok(order));
        }
    }
    tx.commit()?;
    answers.into_iter().map(|a| a.ok_or_else(|| corrupt("unanswered draft"))).collect()
}
