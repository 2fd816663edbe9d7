//! The command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use seckill_domain::Timestamp;
use seckill_domain::clock::SystemClock;
use seckill_domain::user::{Username, check_password};
use seckill_server::auth::Passwords;
use seckill_store::{Records, StoreError};

use seckill_bench::host::{Closer, Opened, ServerSpec};

use crate::launch::{OpenedRecords, Server};
use crate::settings::{DatabaseUrl, KEYS, Settings};

/// seckill — a flash-sale (秒杀) server.
///
/// Configuration comes from built-in defaults, then `--config FILE` (TOML), then `SECKILL_*`
/// environment variables, which win. `seckill config` shows the result.
#[derive(Debug, Parser)]
#[command(name = "seckill", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (keys as in `seckill config`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the shop, the hot path and the operators' API.
    Serve(ServeArgs),
    /// Create or upgrade the records' schema, then exit.
    Migrate,
    /// Manage operators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Serve a demo shop (fresh data under <data_dir>/demo) with a sale opening in a minute.
    Demo,
    /// Print the effective configuration (secrets redacted) and every key with its default.
    Config,
    /// Drive a flash sale over HTTP with many virtual shoppers, check the invariants, and report
    /// the figures (with --baseline, also as ratios to a hello-world server).
    Bench(Box<seckill_bench::BenchArgs>),
    /// Cluster shape: compare the hot state in Redis with the records in PostgreSQL (units left
    /// per SKU, units bought per user, counting order messages still in the streams), report
    /// drift, and with --repair set drifted figures to the records' values.
    Reconcile(ReconcileArgs),
}

/// Arguments of `seckill reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Set every drifted figure to the records' value (compare-and-set: a figure that moved
    /// meanwhile is left alone and reported).
    #[arg(long)]
    pub repair: bool,
}

/// Arguments of `seckill serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Also stop (as on SIGTERM) when standard input closes: for a parent that starts this
    /// server as its child (`seckill bench --spawn`), so the server goes with its parent
    /// however the parent ends, `kill -9` included.
    #[arg(long, hide = true)]
    pub stop_when_stdin_closes: bool,
}

/// Operator accounts.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an operator account (or, with --reset, set a new password for an existing one).
    Create(AdminCreate),
}

/// Arguments of `seckill admin create`.
#[derive(Debug, Args)]
pub struct AdminCreate {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Password (at least 8 characters). Prefer the environment variable to keep it out of
    /// shell history.
    #[arg(long, env = "SECKILL_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Replace the password if the operator exists.
    #[arg(long)]
    pub reset: bool,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load_from_process(cli.config.as_deref())?;
    if matches!(cli.command, Command::Bench(_)) && std::env::var_os("SECKILL_LOG").is_none() {
        // The server started by the bench logs warnings only: its info lines would tear the
        // progress bar apart.
        settings.log = "warn".into();
    }
    crate::telemetry::init(&settings);
    match cli.command {
        Command::Serve(args) => serve(&settings, &args).await,
        Command::Migrate => migrate(&settings).await,
        Command::Admin(AdminCommand::Create(args)) => admin_create(&settings, &args).await,
        Command::Demo => crate::demo::run(&settings).await,
        Command::Config => {
            print_config(&settings);
            Ok(())
        }
        Command::Bench(args) => seckill_bench::run(*args, &BenchHost { settings }).await,
        Command::Reconcile(args) => reconcile(&settings, args.repair).await,
    }
}

/// `seckill reconcile`: prints what differs; fails while drift remains.
async fn reconcile(settings: &Settings, repair: bool) -> anyhow::Result<()> {
    let Some(url) = &settings.redis_url else {
        anyhow::bail!(
            "reconcile compares the hot state in Redis with the records: set SECKILL_REDIS_URL and a postgres:// \
             SECKILL_DATABASE_URL (the embedded shape rebuilds its hot state from the records at every start)"
        );
    };
    let target = seckill_cluster::RedisTarget::parse(url).map_err(|e| anyhow::anyhow!("SECKILL_REDIS_URL: {e}"))?;
    let records = OpenedRecords::open(settings).await?;
    let conn = target.connect().await.context("cannot reach Redis (SECKILL_REDIS_URL)")?;
    let report = seckill_cluster::hot::reconcile::reconcile(
        &conn,
        &*records.records.catalog,
        &*records.records.orders,
        Timestamp::now(),
        repair,
    )
    .await;
    records.close().await;
    let report = report.context("reconciliation failed")?;
    println!(
        "{} activit{} compared, {} order message(s) in flight",
        report.activities.len(),
        if report.activities.len() == 1 { "y" } else { "ies" },
        report.in_flight
    );
    for d in &report.drifts {
        println!(
            "activity {}: {}: redis {} records {}{}",
            d.activity,
            d.figure,
            d.redis,
            d.expected,
            if d.repaired { " (repaired)" } else { "" }
        );
    }
    if report.drifts.is_empty() {
        println!("no drift");
    }
    if report.drift_remains() {
        anyhow::bail!(
            "{} figure(s) drifted{}",
            report.drifts.iter().filter(|d| !d.repaired).count(),
            if repair {
                " and moved while repairing: run again when the sale is quiet"
            } else {
                "; --repair fixes them"
            }
        );
    }
    Ok(())
}

/// What `seckill bench` borrows from the program: servers and records over this process's
/// configuration, with the keys a bench server needs replaced.
#[derive(Debug)]
pub struct BenchHost {
    /// The configuration as loaded (file, then environment).
    pub settings: Settings,
}

impl BenchHost {
    /// The configuration of a bench server over `spec`, in its own data dir, on a free loopback
    /// port: the embedded shape over a fresh SQLite file — or, when the configuration names
    /// Redis (`SECKILL_REDIS_URL` with a `postgres://` `SECKILL_DATABASE_URL`), one instance of
    /// the cluster shape over those (give it a fresh database: a sale's slot must not overlap
    /// an earlier run's).
    fn settings_for(&self, spec: &ServerSpec) -> Settings {
        let mut s = self.settings.clone();
        s.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        s.data_dir = spec.data_dir.clone();
        if s.redis_url.is_none() {
            s.database = DatabaseUrl::Sqlite(spec.data_dir.join("seckill.db"));
        }
        s.public_url = None;
        s.secret = Some(secrecy::SecretString::from(spec.secret.clone()));
        s.rate_limits = spec.rate_limits;
        s.ip_rate_limit = std::num::NonZeroU32::new(spec.ip_rate_limit).unwrap_or(s.ip_rate_limit);
        s
    }

    async fn open_records(settings: &Settings) -> anyhow::Result<Opened> {
        let records = OpenedRecords::open(settings).await?;
        Ok(Opened {
            records: records.records.clone(),
            secret: settings.resolve_secret()?,
            timezone: settings.timezone.clone(),
            base_url: None,
            closer: Box::new(CloseRecords(records)),
        })
    }
}

struct StopServer(Server);

#[async_trait::async_trait]
impl Closer for StopServer {
    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        self.0.stop().await
    }
}

struct CloseRecords(OpenedRecords);

#[async_trait::async_trait]
impl Closer for CloseRecords {
    async fn close(self: Box<Self>) -> anyhow::Result<()> {
        self.0.close().await;
        Ok(())
    }
}

#[async_trait::async_trait]
impl seckill_bench::Host for BenchHost {
    async fn start(&self, spec: &ServerSpec) -> anyhow::Result<Opened> {
        let settings = self.settings_for(spec);
        let server = Server::start(&settings, Arc::new(SystemClock)).await?;
        Ok(Opened {
            records: server.records().clone(),
            secret: settings.resolve_secret()?,
            timezone: settings.timezone.clone(),
            base_url: Some(server.base_url().to_owned()),
            closer: Box::new(StopServer(server)),
        })
    }

    async fn open(&self, spec: &ServerSpec) -> anyhow::Result<Opened> {
        Self::open_records(&self.settings_for(spec)).await
    }

    async fn open_configured(&self) -> anyhow::Result<Opened> {
        Self::open_records(&self.settings).await
    }
}

async fn serve(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let server = Server::start(settings, Arc::new(SystemClock)).await?;
    eprintln!("seckill: serving on {} (records: {})", server.base_url(), settings.database_display());
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {}
            () = stdin_closed(), if args.stop_when_stdin_closes => {
                tracing::info!("standard input closed (the parent went away): stopping");
            }
        }
    };
    server.run_until(stop).await
}

/// Resolves once standard input reaches its end (or cannot be read).
///
/// Read on a detached thread of its own, not with `tokio::io::stdin`: that one's blocking read
/// cannot be cancelled, so a server stopped by a signal first would hang at exit until its
/// input closed. A detached thread ends with the process.
async fn stdin_closed() {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    let watcher = std::thread::Builder::new().name("stdin-watch".into()).spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0_u8; 256];
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = closed.send(());
    });
    match watcher {
        // Sent, or the watcher is gone without sending: either way the input is no more.
        Ok(_) => {
            let _ = on_close.await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch standard input; only a signal stops this server");
            std::future::pending::<()>().await;
        }
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let records = OpenedRecords::open(settings).await?;
    let applied = records.applied_migrations().await;
    records.close().await;
    println!("records at {} are up to date:", settings.database_display());
    for (version, description) in applied? {
        println!("  {version:>4}  {description}");
    }
    Ok(())
}

async fn admin_create(settings: &Settings, args: &AdminCreate) -> anyhow::Result<()> {
    let records = OpenedRecords::open(settings).await?;
    let passwords = Passwords::new(settings.password_hashing);
    let result =
        create_admin(&records.records, &passwords, &args.username, &args.password, args.reset, Timestamp::now()).await;
    records.close().await;
    let verb = result?;
    println!("operator {:?} {verb}", args.username.trim());
    Ok(())
}

/// Creates operator `username`, or with `reset` sets the password of an existing one. Returns
/// what happened ("created" or "password reset"). Shared by the CLI, the demo and the tests.
pub async fn create_admin(
    records: &Records,
    passwords: &Passwords,
    username: &str,
    password: &str,
    reset: bool,
    now: Timestamp,
) -> anyhow::Result<&'static str> {
    let name = Username::parse(username).map_err(|m| anyhow::anyhow!("username: {m}"))?;
    check_password(password).map_err(|m| anyhow::anyhow!("password: {m}"))?;
    let hash = passwords.hash(password).await.context("cannot hash the password")?;
    match records.accounts.create_admin(&name, &hash, now).await {
        Ok(_) => Ok("created"),
        Err(StoreError::Conflict(_)) if reset => {
            records.accounts.set_admin_password(&name, &hash).await.context("cannot reset the password")?;
            Ok("password reset")
        }
        Err(StoreError::Conflict(_)) => {
            bail!("operator {:?} already exists; add --reset to set a new password", name.as_str())
        }
        Err(e) => Err(e).context("cannot create the operator"),
    }
}

fn print_config(settings: &Settings) {
    println!("effective configuration (defaults, then --config FILE, then SECKILL_* variables):");
    for (name, value) in settings.effective() {
        println!("  {name:<24} = {value}");
    }
    println!();
    println!("keys (TOML name / environment variable / default / meaning):");
    for k in KEYS {
        println!("  {:<24} {:<32} {:<34} {}", k.name, k.env, k.default, k.meaning);
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("stopping");
}
