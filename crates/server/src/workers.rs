//! The workers that bring orders to a clean end off the hot path:
//!
//! - [`ReturnRelay`] applies the stock-return outbox to the hot state — every cancelled order's
//!   units go back on sale exactly once (the hot state gives back per ticket, so a row applied
//!   twice, e.g. after a crash before it was marked, gives back once);
//! - [`TimeoutSweeper`] cancels unpaid orders once their `pay_deadline` has passed (an indexed
//!   query; each cancellation is conditional, so a payment that wins the race keeps its order),
//!   then runs the relay.
//!
//! Each has a `try_step()` that tests call directly, and `run_until_stopped`.

use std::sync::Arc;
use std::time::Duration;

use seckill_domain::order::CancelReason;
use seckill_store::rush::ReturnReason;
use seckill_store::{Conflict, Records, StoreError};
use tokio_util::sync::CancellationToken;

use crate::rush::Rush;

/// Outbox rows or overdue orders handled per step.
const BATCH: u32 = 500;
/// The longest the sweeper sleeps between steps.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Applies the stock-return outbox to the hot state.
#[derive(Debug, Clone)]
pub struct ReturnRelay {
    records: Records,
    rush: Rush,
}

impl ReturnRelay {
    /// A relay from `records` into `rush`'s hot state.
    pub fn new(records: Records, rush: Rush) -> Self {
        ReturnRelay { records, rush }
    }

    /// Applies what is pending now; the number of outbox rows handled. A row whose activity is
    /// not in memory (ended, or not preheated) needs nothing: the records already have it.
    pub async fn try_step(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        loop {
            let pending = self.records.orders.pending_returns(BATCH).await?;
            if pending.is_empty() {
                return Ok(handled);
            }
            let mut applied = Vec::with_capacity(pending.len());
            let mut failure = None;
            for p in &pending {
                match self.rush.gate().release(&p.stock, ReturnReason::Cancelled).await {
                    Ok(gave_back) => {
                        if gave_back {
                            self.rush.stats().restocked(p.stock.activity_id, p.stock.sku_id);
                        }
                        applied.push(p.id);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            self.records.orders.mark_returns_applied(&applied, self.rush.now()).await?;
            handled += applied.len();
            if let Some(e) = failure {
                return Err(e);
            }
            if pending.len() < BATCH as usize {
                return Ok(handled);
            }
        }
    }
}

/// Cancels overdue unpaid orders.
#[derive(Debug, Clone)]
pub struct TimeoutSweeper {
    records: Records,
    rush: Rush,
    relay: Arc<ReturnRelay>,
}

impl TimeoutSweeper {
    /// A sweeper over `records`, handing returned stock to `relay`.
    pub fn new(records: Records, rush: Rush, relay: Arc<ReturnRelay>) -> Self {
        TimeoutSweeper { records, rush, relay }
    }

    /// Cancels every order whose deadline has passed, then applies the returns; the number of
    /// orders cancelled.
    pub async fn try_step(&self) -> Result<usize, StoreError> {
        let now = self.rush.now();
        let mut cancelled = 0;
        loop {
            let overdue = self.records.orders.overdue_orders(now, BATCH).await?;
            let full = overdue.len() == BATCH as usize;
            for id in overdue {
                match self.records.orders.cancel_order(id, CancelReason::Timeout, None, now).await {
                    Ok(_) => cancelled += 1,
                    // Paid (or cancelled) between the query and the move: that move won.
                    Err(StoreError::Conflict(Conflict::BadOrderState { .. }) | StoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            if !full {
                break;
            }
        }
        if cancelled > 0 {
            tracing::info!(cancelled, "unpaid orders cancelled at their deadline");
            metrics::counter!("seckill_orders_timed_out_total").increment(cancelled as u64);
        }
        self.relay.try_step().await?;
        Ok(cancelled)
    }

    /// Sweeps until `shutdown`: at the earliest deadline, and at least every second (so a
    /// clock moved by hand is noticed, and a failed relay is retried).
    /// Only the leader sweeps (see [`Coordination`](seckill_store::rush::Coordination)); the
    /// others wait their turn.
    pub async fn run_until_stopped(&self, shutdown: CancellationToken) {
        loop {
            if !self.rush.coordination().is_leader() {
                tokio::select! {
                    () = tokio::time::sleep(MAX_SLEEP) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
            if let Err(e) = self.try_step().await {
                tracing::warn!(error = %e, "timeout sweep failed; retrying");
            }
            let now = self.rush.now();
            let sleep = match self.records.orders.next_deadline().await {
                Ok(Some(deadline)) => Duration::try_from(deadline.duration_since(now)).unwrap_or(Duration::ZERO),
                _ => MAX_SLEEP,
            }
            // Never a busy loop, even if a deadline stays in the past after a failed step.
            .clamp(Duration::from_millis(20), MAX_SLEEP);
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
