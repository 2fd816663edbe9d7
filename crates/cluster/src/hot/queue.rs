//! The order streams: from a won hold to a row in PostgreSQL.
//!
//! The reserve script has already appended the order message to the activity's stream when
//! [`StreamQueue::place`] runs, so placing only waits: up to `wait` for the order to commit
//! (`201`), else the request is answered `202` with its ticket, which any instance can look up
//! later ([`StreamQueue::outcome`]): the order by ticket in PostgreSQL, a rejection under
//! `seckill:tr:<ticket>`, or still queued while `seckill:tk:<ticket>` exists.
//!
//! [`StreamConsumers`] run on every instance: one consumer per activity stream, in the consumer
//! group [`GROUP`], each reading batches (`XREADGROUP … COUNT n BLOCK t`) on a connection of its
//! own and writing each batch with one [`Orders::write_orders`] (one transaction; a ticket already
//! written is answered, never written twice). Entries are acknowledged (`XACK`) and deleted only
//! after the commit; a batch that fails stays pending and is written again. Entries a dead or
//! stuck consumer left pending for [`ConsumerOptions::claim_idle`] are claimed (`XAUTOCLAIM`) by
//! another. A draft the records refuse (an address not the user's, or no room for the units)
//! gives its hold back — exactly once — and its rejection is kept for the ticket.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::AsyncCommands as _;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use seckill_domain::ids::{ActivityId, Ticket};
use seckill_domain::rejection::Rejection;
use seckill_store::StoreError;
use seckill_store::orders::Orders;
use seckill_store::rush::{OrderDraft, OrderQueue, Placement, ReturnReason, StockGate, StockReturn};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::conn::{RedisConn, RedisTarget, unavailable};
use super::gate::RedisStockGate;
use super::scripts::{EVENTS, GROUP, Keys, STREAMS, rejected_key, ticket_key};
use super::wire::WireDraft;

/// How long tickets and rejections are kept for polling.
const TICKET_TTL_SECS: u64 = 24 * 3600;
/// How long a placement spends looking its order up after the wait, at most.
const LOOK_UP_WITHIN: Duration = Duration::from_millis(500);
/// How long an outcome settled here is kept for a request that starts waiting late.
const RECENT: Duration = Duration::from_secs(10);

type Waiters = HashMap<Ticket, Vec<oneshot::Sender<Placement>>>;
/// Outcomes settled lately, and the order they were settled in (oldest first), so expired
/// ones are dropped from the front — never a scan of the whole map per settlement.
#[derive(Debug, Default)]
struct Recent {
    outcomes: HashMap<Ticket, Placement>,
    order: std::collections::VecDeque<(Instant, Ticket)>,
}

impl Recent {
    fn get(&self, ticket: &Ticket) -> Option<&Placement> {
        self.outcomes.get(ticket)
    }

    fn insert(&mut self, ticket: Ticket, placement: Placement, now: Instant) {
        while let Some((at, old)) = self.order.front() {
            if now.duration_since(*at) < RECENT {
                break;
            }
            self.outcomes.remove(old);
            self.order.pop_front();
        }
        if self.outcomes.insert(ticket, placement).is_none() {
            self.order.push_back((now, ticket));
        }
    }
}

/// Outcomes settled by this instance's consumers, for this instance's requests waiting on them.
#[derive(Debug, Default)]
pub struct Settled {
    inner: Mutex<(Waiters, Recent)>,
}

impl Settled {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Waiters, Recent)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The outcome if it is settled already, else a receiver for it.
    fn wait_for(&self, ticket: Ticket) -> Result<Placement, oneshot::Receiver<Placement>> {
        let mut inner = self.lock();
        if let Some(p) = inner.1.get(&ticket) {
            return Ok(p.clone());
        }
        let (tx, rx) = oneshot::channel();
        inner.0.entry(ticket).or_default().push(tx);
        Err(rx)
    }

    fn stop_waiting(&self, ticket: Ticket) {
        let mut inner = self.lock();
        if let Some(waiters) = inner.0.get_mut(&ticket) {
            waiters.retain(|w| !w.is_closed());
            if waiters.is_empty() {
                inner.0.remove(&ticket);
            }
        }
    }

    /// Another instance's consumer settled `ticket`: whoever waits here looks it up now.
    pub fn settled_elsewhere(&self, ticket: Ticket) {
        let mut inner = self.lock();
        for w in inner.0.remove(&ticket).unwrap_or_default() {
            let _ = w.send(Placement::Queued(ticket));
        }
    }

    fn settle(&self, ticket: Ticket, placement: &Placement) {
        let mut inner = self.lock();
        let now = Instant::now();
        inner.1.insert(ticket, placement.clone(), now);
        for w in inner.0.remove(&ticket).unwrap_or_default() {
            let _ = w.send(placement.clone());
        }
    }
}

/// The hand-off of the cluster shape ([`OrderQueue`]).
#[derive(Clone)]
pub struct StreamQueue {
    conn: RedisConn,
    records: Arc<dyn Orders>,
    settled: Arc<Settled>,
    wait: Duration,
}

impl StreamQueue {
    /// A queue answering `201` when an order commits within `wait`, else `202`.
    pub fn new(conn: RedisConn, records: Arc<dyn Orders>, settled: Arc<Settled>, wait: Duration) -> Self {
        StreamQueue { conn, records, settled, wait }
    }

    /// Where a ticket stands, from the records and Redis. While the records cannot be read
    /// (PostgreSQL down), a ticket Redis knows is still `Queued` — its order waits in the stream
    /// and is written once they are back — rather than an error.
    async fn look_up(&self, ticket: Ticket) -> Result<Option<Placement>, StoreError> {
        let written = self.records.order_by_ticket(ticket).await;
        if let Ok(Some(order)) = written {
            return Ok(Some(Placement::Created(Box::new(order))));
        }
        let mut conn = self.conn.clone();
        let (rejected, known): (Option<String>, bool) = redis::pipe()
            .get(rejected_key(&ticket))
            .exists(ticket_key(&ticket))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(code) = rejected {
            let r = Rejection::ALL.into_iter().find(|r| r.code() == code).unwrap_or(Rejection::SoldOut);
            return Ok(Some(Placement::Rejected(r)));
        }
        match written {
            Ok(_) => Ok(known.then_some(Placement::Queued(ticket))),
            Err(e) if known => {
                tracing::debug!(error = %e, %ticket, "the records cannot say; the ticket is still queued");
                Ok(Some(Placement::Queued(ticket)))
            }
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Debug for StreamQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamQueue").field("wait", &self.wait).finish_non_exhaustive()
    }
}

#[async_trait]
impl OrderQueue for StreamQueue {
    async fn place(&self, draft: OrderDraft) -> Result<Placement, StoreError> {
        let ticket = draft.ticket;
        let mut conn = self.conn.clone();
        // The order is queued already (the reserve script appended it): from here on, failing
        // to remember the ticket only costs the shopper a poll, never the order.
        if let Err(e) = conn.set_ex::<_, _, ()>(ticket_key(&ticket), draft.user_id.get(), TICKET_TTL_SECS).await {
            tracing::warn!(error = %e, %ticket, "could not remember a ticket; its order is still written");
        }
        let rx = match self.settled.wait_for(ticket) {
            Ok(placement) => return Ok(placement),
            Err(rx) => rx,
        };
        match tokio::time::timeout(self.wait, rx).await {
            // Settled here: the answer is in hand.
            Ok(Ok(placement @ (Placement::Created(_) | Placement::Rejected(_)))) => return Ok(placement),
            // Settled by another instance's consumer (it said so): look it up.
            Ok(Ok(Placement::Queued(_))) => {}
            _ => self.settled.stop_waiting(ticket),
        }
        // Settled by another instance's consumer, perhaps. If neither the records nor Redis can
        // say — soon: a PostgreSQL that is down makes a lookup wait for the pool's timeout — the
        // order is still queued (the reserve script appended it): `202`, never `503`.
        match tokio::time::timeout(LOOK_UP_WITHIN, self.look_up(ticket)).await {
            Ok(Ok(found)) => Ok(found.unwrap_or(Placement::Queued(ticket))),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %ticket, "cannot look the order up; answering with its ticket");
                Ok(Placement::Queued(ticket))
            }
            Err(_) => Ok(Placement::Queued(ticket)),
        }
    }

    async fn outcome(&self, ticket: Ticket) -> Result<Option<Placement>, StoreError> {
        let rx = match self.settled.wait_for(ticket) {
            Ok(placement) => return Ok(Some(placement)),
            Err(rx) => rx,
        };
        let found = self.look_up(ticket).await;
        if !matches!(found, Ok(Some(Placement::Queued(_)))) {
            self.settled.stop_waiting(ticket);
            return found;
        }
        // Still queued: a replay (or a poll) gets the order if it commits within the wait.
        match tokio::time::timeout(self.wait, rx).await {
            Ok(Ok(placement @ (Placement::Created(_) | Placement::Rejected(_)))) => return Ok(Some(placement)),
            Ok(Ok(Placement::Queued(_))) => {}
            _ => self.settled.stop_waiting(ticket),
        }
        self.look_up(ticket).await
    }
}

/// How the consumers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Entries per read (and per transaction) at most.
    pub batch: usize,
    /// How long one read blocks waiting for entries.
    pub block: Duration,
    /// Entries pending this long with any consumer are claimed.
    pub claim_idle: Duration,
    /// How often a consumer looks for such entries.
    pub claim_every: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            batch: 512,
            block: Duration::from_millis(100),
            claim_idle: Duration::from_secs(5),
            claim_every: Duration::from_secs(1),
        }
    }
}

/// The stream consumers of one instance.
pub struct StreamConsumers {
    target: RedisTarget,
    conn: RedisConn,
    records: Arc<dyn Orders>,
    gate: Arc<RedisStockGate>,
    settled: Arc<Settled>,
    /// This instance's consumer name in the group.
    name: String,
    options: ConsumerOptions,
}

impl std::fmt::Debug for StreamConsumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamConsumers")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A batch of entries as read.
struct Entry {
    id: String,
    draft: Result<OrderDraft, String>,
}

impl StreamConsumers {
    /// Consumers named `name` (unique per instance and start) writing to `records`.
    pub fn new(
        target: RedisTarget,
        conn: RedisConn,
        records: Arc<dyn Orders>,
        gate: Arc<RedisStockGate>,
        settled: Arc<Settled>,
        name: String,
        options: ConsumerOptions,
    ) -> Self {
        StreamConsumers { target, conn, records, gate, settled, name, options }
    }

    /// Runs a consumer for every stream that has entries or whose activity is loaded, until
    /// `stop`; then lets each finish the batch in hand (what is left pending is claimed by
    /// another instance, or by this one after a restart).
    pub async fn run_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        let mut loaded = self.gate.watch_loaded();
        let mut running: HashMap<ActivityId, CancellationToken> = HashMap::new();
        let mut tasks = JoinSet::new();
        loop {
            let mut wanted: BTreeSet<ActivityId> = loaded.borrow_and_update().clone();
            let mut conn = self.conn.clone();
            match conn.smembers::<_, Vec<i64>>(STREAMS).await {
                Ok(ids) => wanted.extend(ids.into_iter().map(ActivityId::from_raw)),
                Err(e) => tracing::debug!(error = %e, "could not list the order streams; retrying"),
            }
            running.retain(|_, token| !token.is_cancelled());
            for id in wanted {
                if running.contains_key(&id) {
                    continue;
                }
                let token = stop.child_token();
                running.insert(id, token.clone());
                let me = self.clone();
                tasks.spawn(async move {
                    me.consume(id, &token).await;
                    // Finished by itself (drained): a later pass may start it again.
                    token.cancel();
                });
            }
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                changed = loaded.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stop.cancelled() => break,
            }
        }
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }

    /// One activity's consumer: reads, writes, acknowledges; claims stale entries now and then;
    /// returns when stopped, or when the activity is no longer loaded and its stream is empty.
    async fn consume(&self, activity: ActivityId, stop: &CancellationToken) {
        let keys = Keys::of(activity);
        let mut conn: Option<RedisConn> = None;
        let mut next_claim = Instant::now();
        let mut backoff = Duration::from_millis(50);
        // The acknowledgement of the batch written last, still on its way (at most one).
        let mut acking: Option<tokio::task::JoinHandle<()>> = None;
        while !stop.is_cancelled() {
            let c = match &mut conn {
                Some(c) => c,
                None => match self.target.connect_dedicated(self.options.block).await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        tracing::warn!(error = %e, activity_id = %activity, "stream consumer cannot connect; retrying");
                        pause(stop, &mut backoff).await;
                        continue;
                    }
                },
            };
            let read = if Instant::now() >= next_claim {
                next_claim = Instant::now() + self.options.claim_every;
                self.claim(c, &keys).await
            } else {
                self.read(c, &keys).await
            };
            let entries = match read {
                Ok(entries) => entries,
                Err(e) => {
                    if e.code() != Some("NOGROUP") {
                        tracing::warn!(error = %e, activity_id = %activity, "reading the order stream failed; retrying");
                        conn = None;
                    }
                    pause(stop, &mut backoff).await;
                    if self.gate.loaded_version(activity).is_none() && self.drained(&keys, activity).await {
                        return;
                    }
                    continue;
                }
            };
            backoff = Duration::from_millis(50);
            if entries.is_empty() {
                if self.gate.loaded_version(activity).is_none() && self.drained(&keys, activity).await {
                    return;
                }
                continue;
            }
            if let Some(settled) = self.write(&keys, entries, stop).await {
                // The next read goes out now; the acknowledgement follows it (one in flight).
                if let Some(previous) = acking.take() {
                    let _ = previous.await;
                }
                acking = Some(tokio::spawn(settled.announce_and_acknowledge(self.conn.clone(), keys.orders.clone())));
            }
        }
        if let Some(last) = acking {
            let _ = last.await;
        }
    }

    /// Whether a stream of an activity that is not loaded has nothing left to write (then it
    /// leaves the list of streams).
    async fn drained(&self, keys: &Keys, activity: ActivityId) -> bool {
        let mut conn = self.conn.clone();
        match conn.xlen::<_, usize>(&keys.orders).await {
            Ok(0) => {
                let _ = conn.srem::<_, _, i64>(STREAMS, activity.get()).await;
                true
            }
            _ => false,
        }
    }

    async fn read(&self, conn: &mut RedisConn, keys: &Keys) -> redis::RedisResult<Vec<Entry>> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.options.batch)
            .arg("BLOCK")
            .arg(u64::try_from(self.options.block.as_millis()).unwrap_or(100))
            .arg("STREAMS")
            .arg(&keys.orders)
            .arg(">")
            .query_async(conn)
            .await?;
        Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).map(entry).collect()).unwrap_or_default())
    }

    async fn claim(&self, conn: &mut RedisConn, keys: &Keys) -> redis::RedisResult<Vec<Entry>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&keys.orders)
            .arg(GROUP)
            .arg(&self.name)
            .arg(u64::try_from(self.options.claim_idle.as_millis()).unwrap_or(5000))
            .arg("0-0")
            .arg("COUNT")
            .arg(self.options.batch)
            .query_async(conn)
            .await?;
        if !reply.claimed.is_empty() {
            metrics::counter!("seckill_stream_claimed_total").increment(reply.claimed.len() as u64);
            tracing::info!(stream = %keys.orders, claimed = reply.claimed.len(), "claimed order messages left pending");
        }
        Ok(reply.claimed.into_iter().map(entry).collect())
    }

    /// Writes a batch until it is written (or `stop`) and settles each ticket; what is left to
    /// tell Redis (acknowledge the entries, announce the tickets) is returned for the caller to
    /// send while it reads the next batch. `None` when nothing is to be acknowledged.
    async fn write(&self, keys: &Keys, entries: Vec<Entry>, stop: &CancellationToken) -> Option<Written> {
        let mut done: Vec<String> = Vec::with_capacity(entries.len());
        let mut drafts: Vec<OrderDraft> = Vec::with_capacity(entries.len());
        let mut ids: Vec<String> = Vec::with_capacity(entries.len());
        for e in entries {
            match e.draft {
                Ok(d) => {
                    drafts.push(d);
                    ids.push(e.id);
                }
                Err(why) => {
                    // Not a message seckill wrote: kept out of the way, never retried forever.
                    metrics::counter!("seckill_stream_malformed_total").increment(1);
                    tracing::error!(stream = %keys.orders, id = %e.id, %why, "malformed order message dropped");
                    done.push(e.id);
                }
            }
        }
        let mut backoff = Duration::from_millis(50);
        let answers = loop {
            if drafts.is_empty() {
                break Vec::new();
            }
            let started = Instant::now();
            match self.records.write_orders(&drafts).await {
                Ok(answers) => {
                    metrics::histogram!("seckill_order_batch_size").record(drafts.len() as f64);
                    metrics::histogram!("seckill_order_commit_seconds").record(started.elapsed().as_secs_f64());
                    break answers;
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch = drafts.len(), "writing an order batch failed; retrying");
                    if stop.is_cancelled() {
                        // Left pending: claimed and written later.
                        return None;
                    }
                    pause(stop, &mut backoff).await;
                }
            }
        };
        let mut conn = self.conn.clone();
        for ((draft, id), answer) in drafts.iter().zip(ids).zip(answers) {
            let placement = match answer {
                Ok(order) => {
                    metrics::counter!("seckill_orders_created_total").increment(1);
                    Placement::Created(Box::new(order))
                }
                Err(rejection) => {
                    let given_back = self.gate.release(&StockReturn::from(draft), ReturnReason::NotWritten).await;
                    let kept = conn
                        .set_ex::<_, _, ()>(rejected_key(&draft.ticket), rejection.code(), TICKET_TTL_SECS)
                        .await
                        .map_err(unavailable);
                    if let Err(e) = given_back.and(kept) {
                        // Stays pending: the next claim writes it again and gets here again.
                        tracing::warn!(error = %e, ticket = %draft.ticket, "could not settle a refused order; retrying");
                        continue;
                    }
                    Placement::Rejected(rejection)
                }
            };
            self.settled.settle(draft.ticket, &placement);
            done.push(id);
        }
        if done.is_empty() {
            return None;
        }
        let tickets = drafts.iter().map(|d| d.ticket.to_string()).collect::<Vec<_>>().join(" ");
        Some(Written { done, tickets })
    }
}

/// A written and settled batch that Redis has not heard of yet.
struct Written {
    /// Stream entries to acknowledge and delete.
    done: Vec<String>,
    /// The batch's tickets, space-separated.
    tickets: String,
}

impl Written {
    /// Announces the tickets to requests waiting on other instances, then acknowledges and
    /// deletes the entries. Either may fail without harm: a request not told answers `202` after
    /// its wait; an entry not acknowledged is read again, and the records answer its ticket
    /// without writing it twice.
    async fn announce_and_acknowledge(self, mut conn: RedisConn, stream: String) {
        if let Err(e) = conn.publish::<_, _, i64>(EVENTS, format!("settled {}", self.tickets)).await {
            tracing::debug!(error = %e, "could not announce settled tickets; their requests answer 202 after the wait");
        }
        let acked: redis::RedisResult<()> = redis::pipe()
            .xack(&stream, GROUP, &self.done)
            .ignore()
            .xdel(&stream, &self.done)
            .ignore()
            .query_async(&mut conn)
            .await;
        if let Err(e) = acked {
            tracing::warn!(error = %e, %stream, "acknowledging order messages failed");
        }
    }
}

fn entry(id: StreamId) -> Entry {
    let draft = id.get::<String>("d").ok_or_else(|| "no field d".to_owned()).and_then(|m| WireDraft::decode(&m));
    Entry { id: id.id, draft }
}

/// Sleeps `backoff` (or until `stop`), doubling it up to a second.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        () = stop.cancelled() => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_outcomes_expire_oldest_first_without_a_scan() {
        let at = |s: u64| Instant::now() + Duration::from_secs(s);
        let t = |n: i64| Ticket::new(seckill_domain::Timestamp::from_second(1_800_000_000 + n).unwrap());
        let (a, b, c) = (t(1), t(2), t(3));
        let mut recent = Recent::default();
        recent.insert(a, Placement::Queued(a), at(0));
        recent.insert(b, Placement::Queued(b), at(5));
        assert!(recent.get(&a).is_some() && recent.get(&b).is_some());
        recent.insert(c, Placement::Queued(c), at(11));
        assert!(recent.get(&a).is_none(), "older than RECENT: dropped");
        assert!(recent.get(&b).is_some() && recent.get(&c).is_some());
        assert_eq!(recent.order.len(), 2);
    }
}
