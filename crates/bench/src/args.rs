//! The command line of `seckill bench` and the [`Plan`] of one run it resolves to.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde::Serialize;

/// Largest per-user limit the server accepts (`total_limit`).
const MAX_LIMIT: u32 = seckill_domain::activity::MAX_LIMIT;
/// Largest stock of one SKU the server accepts.
const MAX_STOCK: u32 = seckill_domain::catalog::MAX_STOCK;
/// Most SKUs one product may have.
const MAX_SKUS: u32 = seckill_domain::catalog::MAX_SKUS as u32;

/// What the crowd meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Stock ≪ shoppers, who keep pressing "buy": after the first moments almost every answer is
    /// `SOLD_OUT` from memory. Defaults: 10,000 users, 100 units per SKU, 1 per user.
    Rush,
    /// Stock ≥ requests: every order wins and is durably written (group commit). Defaults:
    /// 10,000 users, 100 per user, stock enough for all of them.
    Flood,
}

/// Where the server under test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Started in this process (`--embedded`): client and server share the cores and the runtime.
    InProcess,
    /// `seckill serve` as a child process (`--spawn`, and every point of `--sweep`).
    Child,
    /// Already running (`--target URL`).
    Target,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    On,
    Off,
}

/// Drive a complete flash sale over HTTP, check the invariants, and report the figures.
///
/// Without --target, a fresh server over a temp data dir is started (in this process, or with
/// --spawn as a child `seckill serve`). With --target, the server at URL is loaded; run the bench
/// with that server's configuration (--config / SECKILL_* variables) so it can create the
/// shoppers in its records and mint their tokens with its secret.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Start a fresh server of the embedded shape over a temp data dir (the default without
    /// --target): in this process, or with --spawn as a child process.
    #[arg(long, conflicts_with = "target")]
    pub embedded: bool,
    /// Run the fresh server as a child `seckill serve` instead of in this process: its CPU and
    /// memory are then measured alone, and it does not share the load driver's runtime.
    #[arg(long, conflicts_with = "target")]
    pub spawn: bool,
    /// Load the server already running at URL (http://host:port).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Operator to set the sale up with on --target.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    pub admin_user: String,
    /// That operator's password (on --target).
    #[arg(long, env = "SECKILL_ADMIN_PASSWORD", hide_env_values = true, value_name = "PASSWORD")]
    pub admin_password: Option<String>,
    /// Process id of the --target server, to report its memory (VmRSS).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// rush: stock ≪ shoppers, mostly sold-out answers; flood: every request wins an order.
    #[arg(long, value_enum, default_value_t = Scenario::Rush)]
    pub scenario: Scenario,
    /// Shoppers (default: 10000).
    #[arg(long, value_name = "N")]
    pub users: Option<u32>,
    /// Units on sale per SKU (default: 100 for rush; enough for every request for flood).
    #[arg(long, value_name = "N")]
    pub stock: Option<u32>,
    /// SKUs on sale, each as hot as the others.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub skus: u32,
    /// Units one shopper may buy in the sale (default: 1 for rush, 100 for flood).
    #[arg(long, value_name = "N")]
    pub total_limit: Option<u32>,
    /// HTTP/1.1 connections the virtual users share (each carries one request at a time).
    #[arg(long, short = 'c', default_value_t = 256, value_name = "N")]
    pub connections: usize,
    /// How long the rush lasts at most, from the open (e.g. 10s, 1m); it ends sooner when
    /// every shopper is done.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Duration,
    /// How long after its creation the sale opens (at least --bot-lead plus one second).
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub lead: Duration,
    /// Per-user and per-address request limits of the started server (the per-address limit
    /// is raised out of the way: every virtual user comes from 127.0.0.1).
    #[arg(long, value_enum, default_value_t = Toggle::Off)]
    pub rate_limits: Toggle,
    /// Share of shoppers that are bots (0 to 1): they fire --bot-factor times as often and
    /// start --bot-lead before the open.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub bots: f64,
    /// How many times as often a bot fires as a person.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub bot_factor: u32,
    /// How long before the open bots start firing.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub bot_lead: Duration,
    /// Acknowledged orders whose request is sent again after the rush with the same
    /// Idempotency-Key, which must answer the same order.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub replays: usize,

    /// Also load a plain hello-world axum server, placed like the server under test, with the
    /// same connections and requests, and report every figure as a ratio to it.
    #[arg(long)]
    pub baseline: bool,
    /// Repeat the rush for each of --sweep-users (one hot SKU), then each of --sweep-skus (with
    /// --sweep-sku-users shoppers and the --stock units spread over the SKUs), each on a fresh
    /// child server: req/s, p99, server CPU per request and server memory.
    #[arg(long, conflicts_with = "target")]
    pub sweep: bool,
    /// Crowd sizes of the sweep.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000,1000000", value_name = "N,…")]
    pub sweep_users: Vec<u32>,
    /// Numbers of hot SKUs of the sweep.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100", value_name = "N,…")]
    pub sweep_skus: Vec<u32>,
    /// Shoppers in the SKU part of the sweep.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub sweep_sku_users: u32,

    /// Run the scenario this many times (each with its own server, shoppers and baseline) and
    /// report the median and spread of every figure. With --sweep: this many rounds of every
    /// point (each round with its own baseline), each point the median of its rounds.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,

    /// Write every figure as JSON.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Draw req/s and p99 over time (or, for --sweep, against the crowd) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// (internal) Serve the hello-world baseline on 127.0.0.1:0, print its address and serve
    /// until standard input closes.
    #[arg(long, hide = true)]
    pub serve_hello: bool,
}

/// Everything one run needs to know, with the scenario's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scenario: Scenario,
    pub placement: Placement,
    pub users: u32,
    /// Units per SKU.
    pub stock: u32,
    pub skus: u32,
    pub total_limit: u32,
    pub single_limit: u32,
    pub connections: usize,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    #[serde(serialize_with = "secs")]
    pub lead: Duration,
    pub rate_limits: bool,
    pub bots: f64,
    pub bot_factor: u32,
    #[serde(serialize_with = "secs")]
    pub bot_lead: Duration,
    pub replays: usize,
    pub baseline: bool,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl BenchArgs {
    /// Refuses option combinations that cannot make a meaningful run.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.bots) {
            bail!("--bots is a share between 0 and 1 (got {})", self.bots);
        }
        if self.repeat == 0 {
            bail!("--repeat must be at least 1");
        }
        if self.connections == 0 {
            bail!("--connections must be at least 1");
        }
        if self.skus == 0 || self.skus > MAX_SKUS {
            bail!("--skus must be between 1 and {MAX_SKUS}");
        }
        if self.users == Some(0) {
            bail!("--users must be at least 1");
        }
        if self.duration.is_zero() {
            bail!("--duration must be positive");
        }
        if self.target.is_some() && self.admin_password.is_none() {
            bail!("--target needs --admin-password (or SECKILL_ADMIN_PASSWORD) to set the sale up");
        }
        if self.sweep && (self.sweep_users.is_empty() || self.sweep_users.contains(&0)) {
            bail!("--sweep-users needs crowd sizes of at least 1");
        }
        if self.sweep && self.sweep_skus.iter().any(|&s| s == 0 || s > MAX_SKUS) {
            bail!("--sweep-skus must be between 1 and {MAX_SKUS}");
        }
        if let Some(t) = &self.target
            && !t.starts_with("http://")
        {
            bail!("--target must be an http:// URL (got {t:?})");
        }
        Ok(())
    }

    /// Where the server under test runs.
    pub fn placement(&self) -> Placement {
        if self.target.is_some() {
            Placement::Target
        } else if self.spawn || self.sweep {
            Placement::Child
        } else {
            Placement::InProcess
        }
    }

    /// The plan of a single run, the scenario's defaults filled in.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        self.plan_for(self.scenario, self.users, self.skus)
    }

    /// The plan of a run of `scenario` with `users` shoppers on `skus` SKUs, the rest from the
    /// command line.
    pub fn plan_for(&self, scenario: Scenario, users: Option<u32>, skus: u32) -> anyhow::Result<Plan> {
        let users = users.unwrap_or(10_000);
        let total_limit = self.total_limit.unwrap_or(match scenario {
            Scenario::Rush => 1,
            Scenario::Flood => 100,
        });
        if total_limit == 0 || total_limit > MAX_LIMIT {
            bail!("--total-limit must be between 1 and {MAX_LIMIT}");
        }
        let stock = match (self.stock, scenario) {
            (Some(s), _) => s,
            (None, Scenario::Rush) => 100,
            // Every shopper can buy their whole limit of any SKU: no request meets an empty shelf.
            (None, Scenario::Flood) => {
                u32::try_from(u64::from(users) * u64::from(total_limit)).unwrap_or(MAX_STOCK).min(MAX_STOCK)
            }
        };
        if stock == 0 || stock > MAX_STOCK {
            bail!("--stock must be between 1 and {MAX_STOCK} per SKU");
        }
        let lead = self.lead.max(if self.bots > 0.0 { self.bot_lead + Duration::from_secs(1) } else { Duration::ZERO });
        Ok(Plan {
            scenario,
            placement: self.placement(),
            users,
            stock,
            skus,
            total_limit,
            single_limit: 1,
            connections: self.connections,
            duration: self.duration,
            lead: lead.max(Duration::from_secs(1)),
            rate_limits: self.rate_limits == Toggle::On,
            bots: self.bots,
            bot_factor: self.bot_factor.max(1),
            bot_lead: self.bot_lead,
            replays: self.replays,
            baseline: self.baseline,
        })
    }
}

/// `10s`, `1m 30s`, `500ms`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    let d: jiff::SignedDuration =
        raw.parse().map_err(|e| format!("expected a duration such as 10s, 1m or 500ms ({e})"))?;
    Duration::try_from(d).map_err(|_| "a duration cannot be negative".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn args(line: &[&str]) -> BenchArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied())).unwrap().args
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn scenarios_fill_in_their_defaults() {
        let rush = args(&[]).plan().unwrap();
        assert_eq!((rush.users, rush.stock, rush.total_limit, rush.placement), (10_000, 100, 1, Placement::InProcess));
        let flood = args(&["--scenario", "flood"]).plan().unwrap();
        assert_eq!((flood.users, flood.total_limit, flood.stock), (10_000, 100, 1_000_000));
        let flood = args(&["--scenario", "flood", "--users", "1000"]).plan().unwrap();
        assert_eq!((flood.users, flood.total_limit, flood.stock), (1000, 100, 100_000));
        let huge = args(&["--scenario", "flood", "--users", "10000000"]).plan().unwrap();
        assert_eq!(huge.stock, MAX_STOCK);
        assert_eq!(args(&["--spawn"]).placement(), Placement::Child);
        assert_eq!(args(&["--embedded", "--spawn"]).placement(), Placement::Child);
        assert_eq!(args(&["--embedded"]).placement(), Placement::InProcess);
        let bots = args(&["--bots", "0.1", "--bot-lead", "4s", "--lead", "2s"]).plan().unwrap();
        assert_eq!(bots.lead, Duration::from_secs(5), "the sale opens after the bots start");
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(args(&["--bots", "1.5"]).validate().is_err());
        assert!(args(&["--skus", "0"]).validate().is_err());
        assert!(args(&["--skus", "101"]).validate().is_err());
        assert!(args(&["--target", "http://127.0.0.1:1"]).validate().is_err(), "no admin password");
        assert!(args(&["--target", "ftp://x", "--admin-password", "p"]).validate().is_err());
        assert!(args(&["--total-limit", "0"]).plan().is_err());
        assert!(args(&[]).validate().is_ok());
    }
}
