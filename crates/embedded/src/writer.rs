//! The group-commit order writer: one task turns reservations into durable orders, many per
//! transaction, and answers each request only after its batch has committed.
//!
//! Requests hand their [`OrderDraft`] to a bounded queue ([`OrderWriter::place`]); a full queue
//! sheds the request at once with `Overloaded` (and gives its stock back) instead of growing.
//! The task ([`WriterTask`]) takes whatever is queued — up to `max_batch` drafts, waiting at
//! most `batch_window` for more — and writes them with [`Orders::write_orders`] of the records
//! it was given (SQLite in this shape; PostgreSQL records work the same way): one transaction,
//! one commit. While one batch commits, the next one fills, so batches grow with the load by
//! themselves. A draft that is not written (unknown address, a failed batch) gives its hold
//! back exactly once before its request is answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use seckill_domain::ids::Ticket;
use seckill_domain::rejection::Rejection;
use seckill_store::StoreError;
use seckill_store::orders::Orders;
use seckill_store::rush::{OrderDraft, OrderQueue, Placement, ReturnReason, StockGate, StockReturn};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::hot::MemoryStockGate;

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Drafts waiting at most; beyond, requests are shed with `503 OVERLOADED`.
    pub queue_capacity: usize,
    /// Drafts per transaction at most.
    pub max_batch: usize,
    /// How long a batch may wait for more drafts after its first. Zero: never wait — the queue
    /// fills while the previous batch commits.
    pub batch_window: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { queue_capacity: 8192, max_batch: 512, batch_window: Duration::ZERO }
    }
}

struct Job {
    draft: OrderDraft,
    reply: oneshot::Sender<Placement>,
}

/// Tickets that won their hold and are not written yet, with the replays waiting for them. The
/// hot state enters a ticket here in the same step that takes its stock (under the user's shard
/// lock, where its idempotency key becomes visible), so a duplicate request that replays the key
/// always finds the ticket pending or written — never in between. A std mutex: held for one map
/// operation, never across an await.
pub(crate) type Pending = Arc<Mutex<HashMap<Ticket, Vec<oneshot::Sender<Placement>>>>>;

pub(crate) fn lock(p: &Pending) -> std::sync::MutexGuard<'_, HashMap<Ticket, Vec<oneshot::Sender<Placement>>>> {
    p.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a replay waits for the first request's order before answering `Unavailable`.
const REPLAY_WAIT: Duration = Duration::from_secs(10);

/// The hand-off side, held by the server ([`OrderQueue`]). Cheap to clone.
#[derive(Clone)]
pub struct OrderWriter {
    tx: mpsc::Sender<Job>,
    pending: Pending,
    records: Arc<dyn Orders>,
    gate: Arc<MemoryStockGate>,
}

impl std::fmt::Debug for OrderWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderWriter").field("queued", &(self.tx.max_capacity() - self.tx.capacity())).finish()
    }
}

/// The writing side: run it with [`WriterTask::run_until_stopped`].
pub struct WriterTask {
    rx: mpsc::Receiver<Job>,
    pending: Pending,
    records: Arc<dyn Orders>,
    gate: Arc<MemoryStockGate>,
    options: WriterOptions,
}

impl std::fmt::Debug for WriterTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterTask").field("options", &self.options).finish_non_exhaustive()
    }
}

impl OrderWriter {
    /// A writer over `records` (any backend's [`Orders`]), giving holds back to `gate` when a
    /// draft is not written.
    pub fn new(records: Arc<dyn Orders>, gate: Arc<MemoryStockGate>, options: WriterOptions) -> (Self, WriterTask) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let pending: Pending = Arc::default();
        gate.attach_pending(pending.clone());
        let writer = OrderWriter { tx, pending: pending.clone(), records: records.clone(), gate: gate.clone() };
        (writer, WriterTask { rx, pending, records, gate, options })
    }

    /// Drafts waiting to be written.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

#[async_trait]
impl OrderQueue for OrderWriter {
    async fn place(&self, draft: OrderDraft) -> Result<Placement, StoreError> {
        let ticket = draft.ticket;
        let (reply, answer) = oneshot::channel();
        // Usually entered already by the reservation; replays may be waiting on it.
        lock(&self.pending).entry(ticket).or_default();
        if let Err(e) = self.tx.try_send(Job { draft, reply }) {
            let job = match e {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => job,
            };
            self.gate.release(&StockReturn::from(&job.draft), ReturnReason::NotWritten).await?;
            metrics::counter!("seckill_orders_shed_total").increment(1);
            let shed = Placement::Rejected(Rejection::Overloaded { retry_after_secs: 1 });
            for waiter in lock(&self.pending).remove(&ticket).unwrap_or_default() {
                let _ = waiter.send(shed.clone());
            }
            return Ok(shed);
        }
        // From here the writer owns the draft: if this request goes away, the order is still
        // written (or its hold given back) — nothing leaks.
        answer.await.map_err(|_| StoreError::Unavailable("the order writer stopped".into()))
    }

    async fn outcome(&self, ticket: Ticket) -> Result<Option<Placement>, StoreError> {
        let waiting = {
            let mut pending = lock(&self.pending);
            pending.get_mut(&ticket).map(|waiters| {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                rx
            })
        };
        if let Some(rx) = waiting {
            return match tokio::time::timeout(REPLAY_WAIT, rx).await {
                Ok(Ok(placement)) => Ok(Some(placement)),
                Ok(Err(_)) => Err(StoreError::Unavailable("the order writer stopped".into())),
                Err(_) => Err(StoreError::Unavailable("the first request's order is still being written".into())),
            };
        }
        // Not pending: either written (and committed before it left the pending map) or not
        // written at all.
        Ok(self.records.order_by_ticket(ticket).await?.map(|o| Placement::Created(Box::new(o))))
    }
}

impl WriterTask {
    /// Writes until every [`OrderWriter`] is dropped and the queue is empty (so a graceful stop
    /// writes everything that was accepted), or until `shutdown` fires.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) {
        loop {
            let first = tokio::select! {
                job = self.rx.recv() => job,
                () = shutdown.cancelled() => {
                    // Refuse new drafts, write the ones already queued.
                    self.rx.close();
                    while self.try_step().await > 0 {}
                    return;
                }
            };
            let Some(first) = first else { return };
            let batch = self.gather(first).await;
            self.commit(batch).await;
        }
    }

    /// Writes one batch of what is queued now, without waiting; the number of drafts handled.
    pub async fn try_step(&mut self) -> usize {
        match self.rx.try_recv() {
            Ok(first) => {
                let batch = self.gather(first).await;
                let n = batch.len();
                self.commit(batch).await;
                n
            }
            Err(_) => 0,
        }
    }

    async fn gather(&mut self, first: Job) -> Vec<Job> {
        let max = self.options.max_batch.max(1);
        let mut batch = Vec::with_capacity(max.min(64));
        batch.push(first);
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !self.options.batch_window.is_zero() {
            let deadline = tokio::time::Instant::now() + self.options.batch_window;
            while batch.len() < max {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
        }
        batch
    }

    async fn commit(&self, batch: Vec<Job>) {
        let (drafts, replies): (Vec<OrderDraft>, Vec<oneshot::Sender<Placement>>) =
            batch.into_iter().map(|j| (j.draft, j.reply)).unzip();
        let started = Instant::now();
        let written = self.records.write_orders(&drafts).await;
        metrics::histogram!("seckill_order_batch_size").record(drafts.len() as f64);
        metrics::histogram!("seckill_order_commit_seconds").record(started.elapsed().as_secs_f64());
        let placements: Vec<Placement> = match written {
            Ok(answers) => answers
                .into_iter()
                .map(|a| match a {
                    Ok(order) => Placement::Created(Box::new(order)),
                    Err(rejection) => Placement::Rejected(rejection),
                })
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, batch = drafts.len(), "an order batch failed; its holds are given back");
                vec![Placement::Rejected(Rejection::Overloaded { retry_after_secs: 1 }); drafts.len()]
            }
        };
        // Holds of drafts not written go back before anyone hears the answer.
        let mut created = 0;
        for (draft, placement) in drafts.iter().zip(&placements) {
            if let Placement::Rejected(_) = placement {
                if let Err(e) = self.gate.release(&StockReturn::from(draft), ReturnReason::NotWritten).await {
                    tracing::error!(error = %e, ticket = %draft.ticket, "could not give a hold back");
                }
            } else {
                created += 1;
            }
        }
        metrics::counter!("seckill_orders_created_total").increment(created);
        let waiters: Vec<Vec<oneshot::Sender<Placement>>> = {
            let mut pending = lock(&self.pending);
            drafts.iter().map(|d| pending.remove(&d.ticket).unwrap_or_default()).collect()
        };
        for ((placement, reply), waiters) in placements.into_iter().zip(replies).zip(waiters) {
            for w in waiters {
                let _ = w.send(placement.clone());
            }
            // The request may have gone away; its order stands (or its hold is back) anyway.
            let _ = reply.send(placement);
        }
    }
}
