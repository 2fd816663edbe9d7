//! Many instances, one deployment: leadership by a PostgreSQL advisory lock ([`PgLeadership`])
//! and change announcements over Redis pub/sub ([`Coordinator`]).
//!
//! The leader is whichever instance holds the session advisory lock [`LEADER_LOCK`] on a
//! connection of its own. PostgreSQL releases the lock the moment that connection ends — the
//! process died, or the network dropped it — and every other instance tries to take it every
//! [`LEADER_POLL`], so leadership moves within about a second. An instance that loses its
//! connection stops believing it leads at its next check; the jobs the leader runs are
//! idempotent, so a moment with two believers costs duplicate work, never a wrong result.
//! `/metrics` shows `seckill_leader 1` on the leader, `0` on the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use redis::AsyncCommands as _;
use seckill_store::StoreError;
use seckill_store::rush::Coordination;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::hot::scripts::EVENTS;
use seckill_domain::ids::Ticket;

use crate::hot::{RedisConn, RedisStockGate, RedisTarget, Settled};
use crate::records::PgOptions;

/// The advisory lock whose holder is the leader (`"SECK"` + 2; see `CATALOG_LOCK`).
pub const LEADER_LOCK: i64 = 0x5345_434B_0002;
/// How often leadership is checked, and tried for.
pub const LEADER_POLL: Duration = Duration::from_secs(1);

/// Leadership by advisory lock.
#[derive(Debug)]
pub struct PgLeadership {
    options: PgOptions,
    leader: AtomicBool,
}

impl PgLeadership {
    pub fn new(options: PgOptions) -> Self {
        PgLeadership { options, leader: AtomicBool::new(false) }
    }

    /// Whether this instance held the lock at the last check.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// One check: keeps the lock on a live connection, or tries to take it.
    async fn step(&self, conn: &mut Option<PgConnection>) -> Result<(), StoreError> {
        let c = match conn {
            Some(c) => c,
            None => {
                let options = self.options.connect_options()?;
                let c = PgConnection::connect_with(&options)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("leadership connection: {e}")))?;
                conn.insert(c)
            }
        };
        let held = if self.is_leader() {
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&mut *c).await.map(|_| true)
        } else {
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)").bind(LEADER_LOCK).fetch_one(&mut *c).await
        };
        match held {
            Ok(held) => {
                if held != self.is_leader() {
                    tracing::info!(leader = held, "leadership {}", if held { "taken" } else { "not held" });
                }
                self.leader.store(held, Ordering::Release);
                metrics::gauge!("seckill_leader").set(if held { 1.0 } else { 0.0 });
                Ok(())
            }
            Err(e) => {
                // The lock went with the connection.
                *conn = None;
                if self.leader.swap(false, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "leadership lost with its connection");
                }
                metrics::gauge!("seckill_leader").set(0.0);
                Err(StoreError::Unavailable(format!("leadership check: {e}")))
            }
        }
    }

    /// Checks every [`LEADER_POLL`] until `stop`, then gives the lock up (by closing).
    pub async fn run_until_stopped(&self, stop: CancellationToken) {
        let mut conn: Option<PgConnection> = None;
        loop {
            if let Err(e) = self.step(&mut conn).await {
                tracing::debug!(error = %e, "leadership check failed; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(LEADER_POLL) => {}
                () = stop.cancelled() => break,
            }
        }
        self.leader.store(false, Ordering::Release);
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    }
}

/// [`Coordination`] of the cluster shape: leadership from [`PgLeadership`], announcements and
/// hot-state events over the Redis channel [`EVENTS`].
pub struct Coordinator {
    leadership: Arc<PgLeadership>,
    target: RedisTarget,
    conn: RedisConn,
    gate: Arc<RedisStockGate>,
    settled: Arc<Settled>,
    /// This instance's name: its own announcements are not news to it.
    instance: String,
    changed: Notify,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("instance", &self.instance).finish_non_exhaustive()
    }
}

impl Coordinator {
    pub fn new(
        leadership: Arc<PgLeadership>,
        target: RedisTarget,
        conn: RedisConn,
        gate: Arc<RedisStockGate>,
        settled: Arc<Settled>,
        instance: String,
    ) -> Self {
        Coordinator { leadership, target, conn, gate, settled, instance, changed: Notify::new() }
    }

    /// Listens on [`EVENTS`] until `stop`, reconnecting (to the next node of a cluster) when
    /// the subscription drops; after every reconnect, announcements may have been missed, so
    /// the preheater is woken once.
    pub async fn listen_until_stopped(&self, stop: CancellationToken) {
        let urls = self.target.subscribe_urls();
        let mut attempt = 0usize;
        while !stop.is_cancelled() {
            let url = &urls[attempt % urls.len().max(1)];
            attempt += 1;
            match self.listen_once(url, &stop).await {
                Ok(()) => {}
                Err(e) => tracing::debug!(error = %e, "event subscription lost; reconnecting"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    async fn listen_once(&self, url: &str, stop: &CancellationToken) -> redis::RedisResult<()> {
        let client = redis::Client::open(url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(EVENTS).await?;
        self.changed.notify_one();
        let mut messages = pubsub.on_message();
        loop {
            let msg = tokio::select! {
                m = messages.next() => m,
                () = stop.cancelled() => return Ok(()),
            };
            let Some(msg) = msg else { return Ok(()) };
            let Ok(payload) = msg.get_payload::<String>() else { continue };
            if let Some(from) = payload.strip_prefix("changed ") {
                if from != self.instance {
                    self.changed.notify_one();
                }
            } else if let Some(tickets) = payload.strip_prefix("settled ") {
                for t in tickets.split(' ').filter_map(|t| t.parse::<Ticket>().ok()) {
                    self.settled.settled_elsewhere(t);
                }
            } else {
                self.gate.apply_event(&payload);
            }
        }
    }
}

#[async_trait]
impl Coordination for Coordinator {
    fn is_leader(&self) -> bool {
        self.leadership.is_leader()
    }

    async fn announce_change(&self) {
        let mut conn = self.conn.clone();
        if let Err(e) = conn.publish::<_, _, i64>(EVENTS, format!("changed {}", self.instance)).await {
            // The others' preheaters run every second anyway.
            tracing::debug!(error = %e, "could not announce a change");
        }
    }

    async fn changed(&self) {
        self.changed.notified().await;
    }
}
