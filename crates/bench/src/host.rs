//! What the `seckill` program lends the bench: starting the real server in this process, and
//! opening the records (and the secret) of a server, all from the same configuration as
//! `seckill serve`. The bench cannot depend on the program (the program depends on the bench),
//! so the program implements [`Host`].

use std::path::PathBuf;

use async_trait::async_trait;
use seckill_domain::TimeZone;
use seckill_store::Records;

/// A server the bench starts (in this process, or as a child it spawns): the process's own
/// configuration with these keys replaced.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Fresh data dir (records, secret, pages) — the records are always the embedded SQLite file
    /// in it.
    pub data_dir: PathBuf,
    /// The secret tokens are signed with (at least 32 bytes).
    pub secret: String,
    /// Per-user and per-address request limits on or off.
    pub rate_limits: bool,
    /// Requests per second per client address: raised out of the way, since every virtual user
    /// comes from one address.
    pub ip_rate_limit: u32,
}

impl ServerSpec {
    /// The `SECKILL_*` variables that give a child `seckill serve` this spec, on a free port.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SECKILL_LISTEN", "127.0.0.1:0".to_owned()),
            ("SECKILL_DATA_DIR", self.data_dir.display().to_string()),
            ("SECKILL_SECRET", self.secret.clone()),
            ("SECKILL_RATE_LIMITS", (if self.rate_limits { "on" } else { "off" }).to_owned()),
            ("SECKILL_IP_RATE_LIMIT", self.ip_rate_limit.to_string()),
        ]
    }

    /// `SECKILL_*` variables of this process that a child must not inherit: they would point it
    /// at another listener or data dir — and at other records, unless this process names Redis
    /// (the cluster shape: the child then runs over the same PostgreSQL and Redis).
    pub fn not_inherited() -> &'static [&'static str] {
        if std::env::var_os("SECKILL_REDIS_URL").is_some() {
            &["SECKILL_PUBLIC_URL", "SECKILL_LISTEN", "SECKILL_DATA_DIR"]
        } else {
            &["SECKILL_DATABASE_URL", "SECKILL_REDIS_URL", "SECKILL_PUBLIC_URL", "SECKILL_LISTEN", "SECKILL_DATA_DIR"]
        }
    }
}

/// Records opened for the bench, and the server they belong to when the host started one.
pub struct Opened {
    /// The server's records: shoppers are created here in bulk.
    pub records: Records,
    /// The server's secret: shopper tokens are minted with it.
    pub secret: Vec<u8>,
    /// The zone the server's time slots are in.
    pub timezone: TimeZone,
    /// `http://127.0.0.1:PORT` when the host started the server.
    pub base_url: Option<String>,
    /// Stops the server (when started) and closes the records.
    pub closer: Box<dyn Closer>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Ends what [`Host`] opened.
#[async_trait]
pub trait Closer: Send + Sync {
    /// Stops the server gracefully (its writer writes what it holds) or closes the records.
    async fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// Servers and records, from the configuration `seckill` was started with.
#[async_trait]
pub trait Host: Send + Sync {
    /// Starts the real server in this process on `127.0.0.1:0` over `spec`.
    async fn start(&self, spec: &ServerSpec) -> anyhow::Result<Opened>;

    /// Opens the records of a server over `spec` that runs elsewhere (a child process).
    async fn open(&self, spec: &ServerSpec) -> anyhow::Result<Opened>;

    /// Opens the records of the configured server (for `--target`).
    async fn open_configured(&self) -> anyhow::Result<Opened>;

    /// The `seckill` program, for child servers.
    fn program(&self) -> anyhow::Result<PathBuf> {
        Ok(std::env::current_exe()?)
    }
}
