//! Launching a server: pick the shape from the settings, open the records, bind, serve, and
//! stop gracefully. The listener is bound before the server task is spawned, so whoever starts
//! a [`Server`] can use its address at once (no sleeping for luck in tests).
//!
//! `database_url` picks the records: a SQLite file (the embedded shape) or PostgreSQL. `redis_url`
//! picks the hot state: unset, it lives in process with the group-commit order writer (right for
//! **one** instance, over SQLite or PostgreSQL); set, it lives in Redis with the order streams,
//! advisory-lock leadership and pub/sub announcements of the cluster shape, and any number of
//! instances may share the same PostgreSQL and Redis.
//!
//! Connections are served by the private `connections` module: HTTP/1.1 with bounds on how
//! long a client may take to send a request's head and its body (`header_timeout_ms`,
//! `body_timeout_ms`).

mod connections;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use seckill_cluster::{
    ConsumerOptions, Coordinator, PgLeadership, PgOptions, PgRecords, RedisStockGate, RedisTarget, StreamConsumers,
    StreamQueue,
};
use seckill_domain::clock::SharedClock;
use seckill_embedded::{MemoryStockGate, OrderWriter, SqliteOptions, SqliteRecords, WriterOptions};
use seckill_server::rush::limits::Rate;
use seckill_server::rush::preheat::Preheater;
use seckill_server::workers::TimeoutSweeper;
use seckill_server::{AppState, RushConfig, RushPorts, ServerConfig};
use seckill_store::Records;
use seckill_store::orders::Orders;
use seckill_store::rush::{Solo, StockGate};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::{DatabaseUrl, Settings};

/// How long a graceful stop waits for requests in flight before dropping them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The records of the configured shape, opened and migrated.
pub struct OpenedRecords {
    pub records: Records,
    backend: Backend,
}

/// The backend behind [`OpenedRecords`], for what the ports do not cover (migrations, closing,
/// the order writer).
enum Backend {
    Sqlite(Arc<SqliteRecords>),
    Postgres(Arc<PgRecords>),
}

impl std::fmt::Debug for OpenedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedRecords").finish_non_exhaustive()
    }
}

impl OpenedRecords {
    /// Opens the records the settings name and applies pending migrations (creating the SQLite
    /// file if needed).
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.database {
            DatabaseUrl::Postgres(url) => {
                let mut options = PgOptions::new(url.clone(), settings.timezone.clone());
                options.max_connections = settings.database_pool_size;
                let backend = PgRecords::connect(options).await.with_context(|| {
                    format!("cannot open the records at {} (SECKILL_DATABASE_URL)", settings.database_display())
                })?;
                let backend = Arc::new(backend);
                Ok(OpenedRecords { records: backend.records(), backend: Backend::Postgres(backend) })
            }
            DatabaseUrl::Sqlite(path) => {
                let mut options = SqliteOptions::new(path.clone(), settings.timezone.clone());
                options.synchronous = settings.sqlite_synchronous;
                let backend = SqliteRecords::open(options)
                    .await
                    .with_context(|| format!("cannot open the records at {}", path.display()))?;
                let backend = Arc::new(backend);
                Ok(OpenedRecords { records: backend.records(), backend: Backend::Sqlite(backend) })
            }
        }
    }

    /// Migrations applied to the records, oldest first: `(version, description)`.
    pub async fn applied_migrations(&self) -> anyhow::Result<Vec<(i64, String)>> {
        Ok(match &self.backend {
            Backend::Sqlite(b) => b.applied_migrations().await?,
            Backend::Postgres(b) => b.applied_migrations().await?,
        })
    }

    /// The hot state, the order hand-off and the coordination of the configured shape over
    /// these records, with the background tasks that serve them (started, stopped by `stop`).
    async fn rush(&self, settings: &Settings, stop: &CancellationToken) -> anyhow::Result<HotShape> {
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        match (&self.backend, &settings.redis_url) {
            (Backend::Postgres(pg), Some(url)) => {
                let target = RedisTarget::parse(url).map_err(|e| anyhow::anyhow!("SECKILL_REDIS_URL: {e}"))?;
                let conn = target.connect().await.context("cannot reach Redis (SECKILL_REDIS_URL)")?;
                let orders: Arc<dyn Orders> = pg.clone();
                let gate = Arc::new(RedisStockGate::new(conn.clone()));
                let settled: Arc<seckill_cluster::Settled> = Arc::default();
                let queue = StreamQueue::new(conn.clone(), orders.clone(), Arc::clone(&settled), settings.order_wait);
                let instance = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
                let DatabaseUrl::Postgres(db_url) = &settings.database else {
                    bail!("the cluster shape needs PostgreSQL records");
                };
                let leadership = Arc::new(PgLeadership::new(PgOptions::new(db_url.clone(), settings.timezone.clone())));
                let coordinator = Arc::new(Coordinator::new(
                    leadership.clone(),
                    target.clone(),
                    conn.clone(),
                    gate.clone(),
                    Arc::clone(&settled),
                    instance.clone(),
                ));
                let consumers = Arc::new(StreamConsumers::new(
                    target,
                    conn,
                    orders,
                    gate.clone(),
                    settled,
                    instance.clone(),
                    ConsumerOptions { batch: settings.order_batch_max, ..ConsumerOptions::default() },
                ));
                tasks.push(tokio::spawn(consumers.run_until_stopped(stop.clone())));
                tasks.push(tokio::spawn({
                    let (gate, stop) = (gate.clone(), stop.clone());
                    async move { gate.refresh_until_stopped(stop).await }
                }));
                tasks.push(tokio::spawn({
                    let (gate, stop) = (gate.clone(), stop.clone());
                    async move { gate.acknowledge_until_stopped(stop).await }
                }));
                tasks.push(tokio::spawn({
                    let (coordinator, stop) = (coordinator.clone(), stop.clone());
                    async move { coordinator.listen_until_stopped(stop).await }
                }));
                tasks.push(tokio::spawn({
                    let (leadership, stop) = (leadership.clone(), stop.clone());
                    async move { leadership.run_until_stopped(stop).await }
                }));
                tracing::info!(%instance, redis = ?RedisTargetShape(&settings.redis_url), "cluster shape: hot state in redis");
                Ok(HotShape {
                    ports: RushPorts { gate: gate.clone(), queue: Arc::new(queue), coordination: coordinator },
                    gate,
                    tasks,
                })
            }
            (Backend::Sqlite(_), Some(_)) => bail!("the cluster shape needs PostgreSQL records (SECKILL_DATABASE_URL)"),
            (backend, None) => {
                let orders: Arc<dyn Orders> = match backend {
                    Backend::Sqlite(b) => b.clone(),
                    Backend::Postgres(b) => {
                        tracing::warn!(
                            "PostgreSQL records with the in-process hot state and order writer: run ONE instance over \
                             this database (a second one would sell the same stock again), or set SECKILL_REDIS_URL \
                             for the cluster shape"
                        );
                        b.clone()
                    }
                };
                let gate = Arc::new(MemoryStockGate::new());
                let options = WriterOptions {
                    queue_capacity: settings.order_queue_capacity,
                    max_batch: settings.order_batch_max,
                    batch_window: settings.order_batch_window,
                };
                let (writer, task) = OrderWriter::new(orders, gate.clone(), options);
                // The writer drains its queue before it returns: every accepted order is written.
                tasks.push(tokio::spawn(task.run_until_stopped(stop.clone())));
                Ok(HotShape {
                    ports: RushPorts { gate: gate.clone(), queue: Arc::new(writer), coordination: Arc::new(Solo) },
                    gate,
                    tasks,
                })
            }
        }
    }

    /// Closes every connection, so the files can be reopened or removed.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(b) => b.close().await,
            Backend::Postgres(b) => b.close().await,
        }
    }
}

/// The hot side of a shape: its ports, and the background tasks serving them.
struct HotShape {
    ports: RushPorts,
    gate: Arc<dyn StockGate>,
    tasks: Vec<JoinHandle<()>>,
}

/// Shows which Redis shape is configured, never the URL (it may hold a password).
struct RedisTargetShape<'a>(&'a Option<String>);

impl std::fmt::Debug for RedisTargetShape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_deref().map(RedisTarget::parse) {
            Some(Ok(t)) => write!(f, "{t:?}"),
            _ => f.write_str("none"),
        }
    }
}

/// A running server: the HTTP listener, the order writer (or stream consumers), the preheater
/// and the timeout sweeper, over the records.
pub struct Server {
    addr: SocketAddr,
    base_url: String,
    records: OpenedRecords,
    gate: Arc<dyn StockGate>,
    preheater: Arc<Preheater>,
    sweeper: Arc<TimeoutSweeper>,
    shutdown: CancellationToken,
    workers: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
    /// The order writer or stream consumers and the shape's other background tasks.
    hot_tasks: Vec<JoinHandle<()>>,
    preheating: JoinHandle<()>,
    sweeping: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the records, loads what is live into memory (so a restart resumes exactly where it
    /// was), binds `settings.listen` and starts serving with `clock` as "now".
    pub async fn start(settings: &Settings, clock: SharedClock) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create the data dir {}", settings.data_dir.display()))?;
        let secret = settings.resolve_secret()?;
        // Bound first (so port 0 is resolved and pay pages and payment callbacks can name this
        // server), but nothing is served before the hot state is rebuilt below.
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {} (SECKILL_LISTEN)", settings.listen))?;
        let addr = listener.local_addr().context("the listener has no local address")?;
        let base_url = settings.base_url(addr);
        let records = OpenedRecords::open(settings).await?;
        let workers = CancellationToken::new();
        let hot = match records.rush(settings, &workers).await {
            Ok(hot) => hot,
            Err(e) => {
                records.close().await;
                return Err(e);
            }
        };
        let (ports, gate, hot_tasks) = (hot.ports, hot.gate, hot.tasks);
        let config = ServerConfig {
            tz: settings.timezone.clone(),
            secret,
            session_ttl: settings.session_ttl,
            password_cost: settings.password_hashing,
            secure_cookies: settings.secure_cookies(),
            rate_limits: settings.rate_limits,
            rush: RushConfig {
                preheat: settings.preheat,
                purchase_token_ttl: settings.purchase_token_ttl,
                user_rate: Rate { per_sec: settings.user_rate_limit },
                ip_rate: Rate { per_sec: settings.ip_rate_limit },
            },
            base_url: base_url.clone(),
            pages_dir: Some(settings.data_dir.join("pages")),
        };
        let state = AppState::new(records.records.clone(), ports, clock, config);
        let preheater = state.preheater();
        let sweeper = state.sweeper();
        // The hot state is rebuilt from the records before the first request is accepted.
        if let Err(e) = preheater.try_step().await {
            workers.cancel();
            for t in hot_tasks {
                let _ = t.await;
            }
            records.close().await;
            return Err(e).context("cannot load the live activities from the records");
        }
        let preheating = tokio::spawn({
            let (preheater, stop) = (preheater.clone(), workers.clone());
            async move { preheater.run_until_stopped(stop).await }
        });
        let sweeping = tokio::spawn({
            let (sweeper, stop) = (sweeper.clone(), workers.clone());
            async move { sweeper.run_until_stopped(stop).await }
        });
        let shutdown = CancellationToken::new();
        let timeouts = connections::Timeouts { header: settings.header_timeout, body: settings.body_timeout };
        let task = tokio::spawn(connections::serve(listener, seckill_server::app(state), timeouts, shutdown.clone()));
        tracing::info!(%addr, records = %settings.database_display(), "seckill is serving");
        Ok(Server {
            addr,
            base_url,
            records,
            gate,
            preheater,
            sweeper,
            shutdown,
            workers,
            task,
            hot_tasks,
            preheating,
            sweeping,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL browsers use, e.g. `http://127.0.0.1:8080`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The records this server writes to.
    pub fn records(&self) -> &Records {
        &self.records.records
    }

    /// The hot state (in process or in Redis), for checking invariants in tests.
    pub fn hot_state(&self) -> &dyn StockGate {
        &*self.gate
    }

    /// The scheduler of activities' lifecycles; tests run its steps after moving the clock.
    pub fn preheater(&self) -> &Preheater {
        &self.preheater
    }

    /// The worker that cancels unpaid orders at their deadline; tests run its steps after
    /// moving the clock.
    pub fn sweeper(&self) -> &TimeoutSweeper {
        &self.sweeper
    }

    /// Serves until `stop` resolves (a signal, say), then stops gracefully.
    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let ended_by_itself = tokio::select! {
            () = stop => None,
            r = &mut self.task => Some(r),
        };
        match ended_by_itself {
            None => self.stop().await,
            Some(r) => {
                self.stop_workers().await;
                match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e).context("the server stopped"),
                    Err(e) => Err(e).context("the server task failed"),
                }
            }
        }
    }

    /// Stops accepting, waits up to 10 s for requests in flight (their orders are written),
    /// then writes whatever the writer still holds, stops the preheater and closes the records.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let result = match tokio::time::timeout(STOP_GRACE, &mut self.task).await {
            Ok(Ok(r)) => r.context("the server stopped with an error"),
            Ok(Err(e)) => Err(e).context("the server task failed"),
            Err(_) => {
                self.task.abort();
                tracing::warn!("requests still in flight after {STOP_GRACE:?}; dropped");
                Ok(())
            }
        };
        self.stop_workers().await;
        result
    }

    async fn stop_workers(self) {
        // The writer drains its queue before it returns: every accepted order is written (the
        // stream consumers finish the batch in hand; the rest stays in the stream).
        self.workers.cancel();
        for t in self.hot_tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "a hot-state task failed");
            }
        }
        let _ = self.preheating.await;
        let _ = self.sweeping.await;
        self.records.close().await;
    }
}
