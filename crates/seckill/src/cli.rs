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

use crate::launch::{OpenedRecords, Server};
use crate::settings::{KEYS, Settings};

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
    Serve,
    /// Create or upgrade the records' schema, then exit.
    Migrate,
    /// Manage operators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Serve a demo shop (fresh data under <data_dir>/demo) with a sale opening in a minute.
    Demo,
    /// Print the effective configuration (secrets redacted) and every key with its default.
    Config,
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
    let settings = Settings::load_from_process(cli.config.as_deref())?;
    crate::telemetry::init(&settings);
    match cli.command {
        Command::Serve => serve(&settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Admin(AdminCommand::Create(args)) => admin_create(&settings, &args).await,
        Command::Demo => crate::demo::run(&settings).await,
        Command::Config => {
            print_config(&settings);
            Ok(())
        }
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let server = Server::start(settings, Arc::new(SystemClock)).await?;
    eprintln!("seckill: serving on {} (records: {})", server.base_url(), settings.database_display());
    server.run_until(shutdown_signal()).await
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
