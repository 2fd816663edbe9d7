//! Configuration: built-in defaults, then an optional TOML file (`--config FILE`), then
//! `SECKILL_*` environment variables, which win. Parsed once, at start-up, into typed values;
//! anything invalid stops start-up with one line naming the key and where it came from.
//!
//! Hand-rolled on purpose: environment values are kept as the exact strings given (a secret
//! such as `0123…` must never be reinterpreted as a number and lose its leading zero, which the
//! generic config crates do), and every key has one parser shared by the file and the
//! environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use seckill_domain::TimeZone;
use seckill_embedded::Synchronous;
use seckill_server::PasswordCost;
use secrecy::{ExposeSecret, SecretString};

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// One configuration key: its TOML name, its environment variable, its default and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every key, in the order the README documents them.
pub const KEYS: &[Key] = &[
    Key {
        name: "listen",
        env: "SECKILL_LISTEN",
        default: "127.0.0.1:8080",
        meaning: "address to listen on (port 0 picks a free one)",
    },
    Key {
        name: "header_timeout_ms",
        env: "SECKILL_HEADER_TIMEOUT_MS",
        default: "10000",
        meaning: "how long a client may take to send a request's line and headers, and how long an idle keep-alive \
                  connection is kept; beyond, the connection is closed",
    },
    Key {
        name: "body_timeout_ms",
        env: "SECKILL_BODY_TIMEOUT_MS",
        default: "30000",
        meaning: "how long a client may take to send a whole request body once the server reads it; beyond, \
                  `400 BAD_REQUEST`",
    },
    Key {
        name: "data_dir",
        env: "SECKILL_DATA_DIR",
        default: "./data",
        meaning: "SQLite file, generated secret, rendered pages",
    },
    Key {
        name: "database_url",
        env: "SECKILL_DATABASE_URL",
        default: "sqlite://<data_dir>/seckill.db",
        meaning: "`sqlite://FILE` (embedded shape) or `postgres://USER:PASSWORD@HOST:PORT/DB` (PostgreSQL records, \
                  migrated at start; without `redis_url` the hot state stays in process: run ONE instance)",
    },
    Key {
        name: "database_pool_size",
        env: "SECKILL_DATABASE_POOL_SIZE",
        default: "16",
        meaning: "PostgreSQL connections per instance at most",
    },
    Key {
        name: "redis_url",
        env: "SECKILL_REDIS_URL",
        default: "unset",
        meaning: "unset: in-process hot state; `redis://host:port` or `redis+cluster://h1:p1,h2:p2,…`: the cluster \
                  shape (needs a `postgres://` database_url; any number of instances)",
    },
    Key {
        name: "order_wait_ms",
        env: "SECKILL_ORDER_WAIT_MS",
        default: "250",
        meaning: "cluster shape: how long an order request waits for its order to commit before answering 202 + ticket",
    },
    Key { name: "timezone", env: "SECKILL_TIMEZONE", default: "UTC", meaning: "IANA zone the daily time slots are in" },
    Key {
        name: "secret",
        env: "SECKILL_SECRET",
        default: "generated into <data_dir>/secret",
        meaning: "key for tokens and signatures, at least 32 bytes",
    },
    Key {
        name: "rate_limits",
        env: "SECKILL_RATE_LIMITS",
        default: "on",
        meaning: "`off` disables per-user and per-IP limits (load tests from one address)",
    },
    Key {
        name: "public_url",
        env: "SECKILL_PUBLIC_URL",
        default: "http://<listen>",
        meaning: "how browsers reach this server; `https://…` also marks cookies Secure",
    },
    Key {
        name: "session_ttl_secs",
        env: "SECKILL_SESSION_TTL_SECS",
        default: "86400",
        meaning: "lifetime of login sessions",
    },
    Key {
        name: "preheat_secs",
        env: "SECKILL_PREHEAT_SECS",
        default: "300",
        meaning: "how long before its first window an activity's stock is loaded into memory",
    },
    Key {
        name: "purchase_token_ttl_secs",
        env: "SECKILL_PURCHASE_TOKEN_TTL_SECS",
        default: "60",
        meaning: "lifetime of a purchase token (the hidden path)",
    },
    Key {
        name: "user_rate_limit",
        env: "SECKILL_USER_RATE_LIMIT",
        default: "10",
        meaning: "rush requests per second per shopper (bursts of twice that)",
    },
    Key {
        name: "ip_rate_limit",
        env: "SECKILL_IP_RATE_LIMIT",
        default: "200",
        meaning: "rush requests per second per client address (bursts of twice that)",
    },
    Key {
        name: "order_queue_capacity",
        env: "SECKILL_ORDER_QUEUE_CAPACITY",
        default: "8192",
        meaning: "orders waiting for the writer at most; beyond, requests get 503 OVERLOADED",
    },
    Key {
        name: "order_batch_max",
        env: "SECKILL_ORDER_BATCH_MAX",
        default: "512",
        meaning: "orders per transaction at most",
    },
    Key {
        name: "order_batch_window_ms",
        env: "SECKILL_ORDER_BATCH_WINDOW_MS",
        default: "0",
        meaning: "how long a batch waits for more orders (0: none; batches fill while the previous one commits)",
    },
    Key {
        name: "sqlite_synchronous",
        env: "SECKILL_SQLITE_SYNCHRONOUS",
        default: "full",
        meaning: "`full`: durable on power loss; `normal`: faster, survives a crash of the process but not of the machine",
    },
    Key {
        name: "password_hashing",
        env: "SECKILL_PASSWORD_HASHING",
        default: "standard",
        meaning: "argon2id cost; `fast-insecure` exists for test suites only",
    },
    Key { name: "log", env: "SECKILL_LOG", default: "info", meaning: "log filter, e.g. `info,seckill_server=debug`" },
    Key { name: "log_format", env: "SECKILL_LOG_FORMAT", default: "text", meaning: "`text` or `json`" },
];

/// Where the records live; the scheme picks the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The embedded shape: a SQLite file.
    Sqlite(PathBuf),
    /// The records of the cluster shape: PostgreSQL (the URL, with its password; shown only
    /// through [`Settings::database_display`]). Migrated at start and by `seckill migrate`.
    /// Until the Redis hot state exists the server keeps its hot state and order writer in
    /// process over these records, which is right for one instance only.
    Postgres(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The whole configuration, typed.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// How long a request's head may take to arrive (and a keep-alive connection may idle).
    pub header_timeout: Duration,
    /// How long a request's whole body may take to arrive once a handler reads it.
    pub body_timeout: Duration,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub database_pool_size: u32,
    pub redis_url: Option<String>,
    pub order_wait: Duration,
    pub timezone: TimeZone,
    /// The zone's IANA name as configured, for display.
    pub timezone_name: String,
    pub secret: Option<SecretString>,
    pub rate_limits: bool,
    pub public_url: Option<String>,
    pub session_ttl: Duration,
    pub preheat: Duration,
    pub purchase_token_ttl: Duration,
    pub user_rate_limit: NonZeroU32,
    pub ip_rate_limit: NonZeroU32,
    pub order_queue_capacity: usize,
    pub order_batch_max: usize,
    pub order_batch_window: Duration,
    pub sqlite_synchronous: Synchronous,
    pub password_hashing: PasswordCost,
    pub log: String,
    pub log_format: LogFormat,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_display())
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("timezone", &self.timezone_name)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("rate_limits", &self.rate_limits)
            .field("public_url", &self.public_url)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, as the one line start-up prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(pub String);

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "in {}", p.display()),
            Origin::Env(_) => f.write_str("from the environment"),
        }
    }
}

struct Raw {
    value: String,
    origin: Origin,
}

impl Settings {
    /// Defaults, then `file` (if any), then the `SECKILL_*` pairs of `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, SettingsError> {
        let mut raw: BTreeMap<&'static str, Raw> = BTreeMap::new();
        if let Some(path) = file {
            read_file(path, &mut raw)?;
        }
        for (var, value) in env {
            if !var.starts_with("SECKILL_") {
                continue;
            }
            match KEYS.iter().find(|k| k.env == var) {
                Some(k) => {
                    raw.insert(k.name, Raw { value, origin: Origin::Env(k.env) });
                }
                None if is_known_non_setting(&var) => {}
                None => {
                    return Err(SettingsError(format!(
                        "{var} is not a seckill setting (known: {})",
                        KEYS.iter().map(|k| k.env).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        Self::from_raw(raw)
    }

    /// [`Settings::load`] from the process environment.
    pub fn load_from_process(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load(file, std::env::vars())
    }

    fn from_raw(mut raw: BTreeMap<&'static str, Raw>) -> Result<Self, SettingsError> {
        let mut take = |name: &'static str| raw.remove(name);
        let listen = parse(take("listen"), "listen", "127.0.0.1:8080", |v| {
            v.parse::<SocketAddr>().map_err(|_| "expected host:port such as 127.0.0.1:8080".to_owned())
        })?;
        let header_timeout =
            parse(take("header_timeout_ms"), "header_timeout_ms", "10000", |v| millis(v, 100, 300_000))?;
        let body_timeout = parse(take("body_timeout_ms"), "body_timeout_ms", "30000", |v| millis(v, 100, 600_000))?;
        let data_dir = parse(take("data_dir"), "data_dir", "./data", |v| {
            if v.trim().is_empty() { Err("must not be empty".to_owned()) } else { Ok(PathBuf::from(v)) }
        })?;
        let database = match take("database_url") {
            None => DatabaseUrl::Sqlite(data_dir.join("seckill.db")),
            Some(r) => parse(Some(r), "database_url", "", parse_database_url)?,
        };
        let redis_url = match take("redis_url") {
            None => None,
            Some(r) if r.value.trim().is_empty() => None,
            Some(r) => Some(parse(Some(r), "redis_url", "", |v| {
                seckill_cluster::RedisTarget::parse(v.trim())?;
                if matches!(database, DatabaseUrl::Sqlite(_)) {
                    return Err("the cluster shape keeps its records in PostgreSQL: set database_url \
                                (SECKILL_DATABASE_URL) to postgres://… as well"
                        .to_owned());
                }
                Ok(v.trim().to_owned())
            })?),
        };
        let database_pool_size =
            parse(take("database_pool_size"), "database_pool_size", "16", |v| number(v, 1, 1_000))? as u32;
        let order_wait = parse(take("order_wait_ms"), "order_wait_ms", "250", |v| {
            number(v, 0, 10_000).map(|ms| Duration::from_millis(ms as u64))
        })?;
        let (timezone, timezone_name) = parse(take("timezone"), "timezone", "UTC", |v| {
            TimeZone::get(v.trim())
                .map(|tz| (tz, v.trim().to_owned()))
                .map_err(|_| format!("unknown time zone {v:?}; use an IANA name such as Asia/Shanghai or UTC"))
        })?;
        let secret = match take("secret") {
            None => None,
            Some(r) => Some(parse(Some(r), "secret", "", |v| {
                if v.len() < MIN_SECRET_BYTES {
                    Err(format!("must be at least {MIN_SECRET_BYTES} bytes, not {}", v.len()))
                } else {
                    Ok(SecretString::from(v.to_owned()))
                }
            })?),
        };
        let rate_limits = parse(take("rate_limits"), "rate_limits", "on", parse_toggle)?;
        let public_url = match take("public_url") {
            None => None,
            Some(r) => Some(parse(Some(r), "public_url", "", |v| {
                let v = v.trim_end_matches('/');
                if (v.starts_with("http://") || v.starts_with("https://")) && v.len() > "https://".len() {
                    Ok(v.to_owned())
                } else {
                    Err("expected an http:// or https:// URL".to_owned())
                }
            })?),
        };
        let session_ttl = parse(take("session_ttl_secs"), "session_ttl_secs", "86400", |v| match v.parse::<u64>() {
            Ok(s) if (60..=30 * 86_400).contains(&s) => Ok(Duration::from_secs(s)),
            _ => Err("expected seconds between 60 and 2592000".to_owned()),
        })?;
        let preheat = parse(take("preheat_secs"), "preheat_secs", "300", |v| seconds(v, 0, 86_400))?;
        let purchase_token_ttl =
            parse(take("purchase_token_ttl_secs"), "purchase_token_ttl_secs", "60", |v| seconds(v, 5, 3_600))?;
        let user_rate_limit = parse(take("user_rate_limit"), "user_rate_limit", "10", per_second)?;
        let ip_rate_limit = parse(take("ip_rate_limit"), "ip_rate_limit", "200", per_second)?;
        let order_queue_capacity =
            parse(take("order_queue_capacity"), "order_queue_capacity", "8192", |v| number(v, 1, 1_000_000))?;
        let order_batch_max = parse(take("order_batch_max"), "order_batch_max", "512", |v| number(v, 1, 10_000))?;
        let order_batch_window = parse(take("order_batch_window_ms"), "order_batch_window_ms", "0", |v| {
            number(v, 0, 1_000).map(|ms| Duration::from_millis(ms as u64))
        })?;
        let sqlite_synchronous = parse(take("sqlite_synchronous"), "sqlite_synchronous", "full", |v| {
            match v.to_ascii_lowercase().as_str() {
                "full" => Ok(Synchronous::Full),
                "normal" => Ok(Synchronous::Normal),
                _ => Err("expected full or normal".to_owned()),
            }
        })?;
        let password_hashing = parse(take("password_hashing"), "password_hashing", "standard", |v| {
            match v.to_ascii_lowercase().as_str() {
                "standard" => Ok(PasswordCost::Standard),
                "fast-insecure" => Ok(PasswordCost::FastInsecureForTests),
                _ => Err("expected standard (or fast-insecure, for test suites only)".to_owned()),
            }
        })?;
        let log = parse(take("log"), "log", "info", log_filter)?;
        let log_format = parse(take("log_format"), "log_format", "text", |v| match v.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected text or json".to_owned()),
        })?;
        Ok(Settings {
            listen,
            header_timeout,
            body_timeout,
            data_dir,
            database,
            database_pool_size,
            redis_url,
            order_wait,
            timezone,
            timezone_name,
            secret,
            rate_limits,
            public_url,
            session_ttl,
            preheat,
            purchase_token_ttl,
            user_rate_limit,
            ip_rate_limit,
            order_queue_capacity,
            order_batch_max,
            order_batch_window,
            sqlite_synchronous,
            password_hashing,
            log,
            log_format,
        })
    }

    /// The settings of a fresh embedded server on `127.0.0.1:0` over `data_dir`: what tests and
    /// the demo start from.
    pub fn embedded(data_dir: &Path) -> Self {
        let raw = BTreeMap::from([
            ("listen", Raw { value: "127.0.0.1:0".into(), origin: Origin::Env("SECKILL_LISTEN") }),
            (
                "data_dir",
                Raw { value: data_dir.to_string_lossy().into_owned(), origin: Origin::Env("SECKILL_DATA_DIR") },
            ),
        ]);
        // Every other key takes its default, which always parses.
        Self::from_raw(raw).unwrap_or_else(|e| unreachable!("defaults always parse: {e}"))
    }

    /// Every key with its effective value, in [`KEYS`] order, the secret never shown.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        let on_off = |b: bool| (if b { "on" } else { "off" }).to_owned();
        KEYS.iter()
            .map(|k| {
                let value = match k.name {
                    "listen" => self.listen.to_string(),
                    "header_timeout_ms" => self.header_timeout.as_millis().to_string(),
                    "body_timeout_ms" => self.body_timeout.as_millis().to_string(),
                    "data_dir" => self.data_dir.display().to_string(),
                    "database_url" => self.database_display(),
                    "database_pool_size" => self.database_pool_size.to_string(),
                    "redis_url" => self.redis_url.as_deref().map_or("(unset: in-process hot state)".into(), redact_url),
                    "order_wait_ms" => self.order_wait.as_millis().to_string(),
                    "timezone" => self.timezone_name.clone(),
                    "secret" => {
                        (if self.secret.is_some() { "[set]" } else { "(generated into <data_dir>/secret)" }).to_owned()
                    }
                    "rate_limits" => on_off(self.rate_limits),
                    "public_url" => self.public_url.clone().unwrap_or_else(|| "(http://<listen>)".into()),
                    "session_ttl_secs" => self.session_ttl.as_secs().to_string(),
                    "preheat_secs" => self.preheat.as_secs().to_string(),
                    "purchase_token_ttl_secs" => self.purchase_token_ttl.as_secs().to_string(),
                    "user_rate_limit" => self.user_rate_limit.to_string(),
                    "ip_rate_limit" => self.ip_rate_limit.to_string(),
                    "order_queue_capacity" => self.order_queue_capacity.to_string(),
                    "order_batch_max" => self.order_batch_max.to_string(),
                    "order_batch_window_ms" => self.order_batch_window.as_millis().to_string(),
                    "sqlite_synchronous" => format!("{:?}", self.sqlite_synchronous).to_lowercase(),
                    "password_hashing" => match self.password_hashing {
                        PasswordCost::Standard => "standard".to_owned(),
                        PasswordCost::FastInsecureForTests => "fast-insecure".to_owned(),
                    },
                    "log" => self.log.clone(),
                    "log_format" => format!("{:?}", self.log_format).to_lowercase(),
                    other => format!("(unknown key {other})"),
                };
                (k.name, value)
            })
            .collect()
    }

    /// The records URL for display, with any password masked.
    pub fn database_display(&self) -> String {
        match &self.database {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => redact_url(url),
        }
    }

    /// The base URL browsers use, without a trailing slash.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    /// The secret: the configured one, else the one kept in `<data_dir>/secret`, generated
    /// (32 random bytes, hex, mode 0600) the first time.
    pub fn resolve_secret(&self) -> Result<Vec<u8>, SettingsError> {
        if let Some(s) = &self.secret {
            return Ok(s.expose_secret().as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret");
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                let s = s.trim();
                if s.len() < MIN_SECRET_BYTES {
                    return Err(SettingsError(format!(
                        "{} holds a secret shorter than {MIN_SECRET_BYTES} bytes; delete it to generate a new one",
                        path.display()
                    )));
                }
                Ok(s.as_bytes().to_vec())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate_secret(&path),
            Err(e) => Err(SettingsError(format!("cannot read {}: {e}", path.display()))),
        }
    }
}

fn generate_secret(path: &Path) -> Result<Vec<u8>, SettingsError> {
    use std::io::Write as _;
    let bytes: [u8; 32] = rand::random();
    let text = hex::encode(bytes);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| SettingsError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let write = options.open(path).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    match write {
        Ok(()) => Ok(text.into_bytes()),
        // Another process generated it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map(|s| s.trim().as_bytes().to_vec())
            .map_err(|e| SettingsError(format!("cannot read {}: {e}", path.display()))),
        Err(e) => Err(SettingsError(format!("cannot write {}: {e}", path.display()))),
    }
}

/// Environment variables with the prefix that are not settings but are read elsewhere.
fn is_known_non_setting(var: &str) -> bool {
    matches!(var, "SECKILL_ADMIN_PASSWORD")
}

fn read_file(path: &Path, raw: &mut BTreeMap<&'static str, Raw>) -> Result<(), SettingsError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| SettingsError(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        SettingsError(format!("{} is not valid TOML: {}", path.display(), e.message().trim()))
    })?;
    for (name, value) in table {
        let Some(key) = KEYS.iter().find(|k| k.name == name) else {
            return Err(SettingsError(format!("unknown key {name:?} in {}", path.display())));
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => (if b { "on" } else { "off" }).to_owned(),
            other => {
                return Err(SettingsError(format!(
                    "{} in {}: expected a string, number or boolean, found {}",
                    key.name,
                    path.display(),
                    other.type_str()
                )));
            }
        };
        raw.insert(key.name, Raw { value, origin: Origin::File(path.to_owned()) });
    }
    Ok(())
}

fn parse<T>(
    raw: Option<Raw>,
    name: &'static str,
    default: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<T, SettingsError> {
    match raw {
        None => f(default).map_err(|e| SettingsError(format!("{name}: default {default:?} is invalid: {e}"))),
        Some(Raw { value, origin }) => f(value.trim()).map_err(|e| {
            let label = match &origin {
                Origin::Env(var) => (*var).to_owned(),
                Origin::File(_) => name.to_owned(),
            };
            SettingsError(format!("{label} {origin}: {e} (got {:?})", shown(name, &value)))
        }),
    }
}

/// The value as it may appear in an error message: secrets never do.
fn shown<'a>(name: &str, value: &'a str) -> &'a str {
    if name == "secret" { "[redacted]" } else { value }
}

fn number(v: &str, min: usize, max: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number between {min} and {max}")),
    }
}

fn seconds(v: &str, min: usize, max: usize) -> Result<Duration, String> {
    number(v, min, max).map(|s| Duration::from_secs(s as u64))
}

fn millis(v: &str, min: usize, max: usize) -> Result<Duration, String> {
    number(v, min, max).map(|ms| Duration::from_millis(ms as u64))
}

/// A log filter: comma-separated directives, each a level (`info`) or `target=level`
/// (`seckill_server=debug`). A bare word that is not a level would be read as a target logged
/// at every level — `verbose` silently turned all logs off — so it is refused, as is anything
/// the filter cannot parse.
fn log_filter(v: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let directives: Vec<&str> = v.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    for directive in &directives {
        let level = directive.rsplit_once('=').map_or(*directive, |(_, level)| level);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!("`{directive}` is not `level` or `target=level` (levels: {})", LEVELS.join(", ")));
        }
    }
    // Spaces after the commas are the filter's own syntax error: dropped here.
    let filter = directives.join(",");
    tracing_subscriber::EnvFilter::builder()
        .parse(&filter)
        .map(|_| filter.clone())
        .map_err(|e| format!("not a log filter such as info,seckill_server=debug: {e}"))
}

fn per_second(v: &str) -> Result<NonZeroU32, String> {
    number(v, 1, 1_000_000).map(|n| NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN))
}

fn parse_toggle(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("expected on or off".to_owned()),
    }
}

fn parse_database_url(v: &str) -> Result<DatabaseUrl, String> {
    if let Some(rest) = v.strip_prefix("sqlite://").or_else(|| v.strip_prefix("sqlite:")) {
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() {
            return Err("a sqlite URL needs a file path, e.g. sqlite://data/seckill.db".to_owned());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    } else if v.starts_with("postgres://") || v.starts_with("postgresql://") {
        Ok(DatabaseUrl::Postgres(v.to_owned()))
    } else {
        Err("expected sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DB".to_owned())
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load(None, env(pairs))
    }

    #[test]
    fn defaults_give_the_embedded_shape_under_data() {
        let s = load(&[]).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.database, DatabaseUrl::Sqlite(PathBuf::from("./data/seckill.db")));
        assert_eq!(s.redis_url, None);
        assert_eq!(s.timezone_name, "UTC");
        assert!(s.rate_limits);
        assert_eq!(s.sqlite_synchronous, Synchronous::Full);
        assert_eq!(s.password_hashing, PasswordCost::Standard);
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.body_timeout, Duration::from_secs(30));
    }

    #[test]
    fn environment_wins_over_the_file_and_keeps_values_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seckill.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ntimezone = \"Asia/Shanghai\"\nrate_limits = false\n")
            .unwrap();
        let secret = "0".repeat(40);
        let s = Settings::load(Some(&file), env(&[("SECKILL_LISTEN", "127.0.0.1:0"), ("SECKILL_SECRET", &secret)]))
            .unwrap();
        assert_eq!(s.listen.port(), 0);
        assert_eq!(s.timezone_name, "Asia/Shanghai");
        assert!(!s.rate_limits);
        assert_eq!(s.secret.unwrap().expose_secret(), secret);
    }

    #[test]
    fn each_invalid_value_is_one_line_naming_the_key() {
        let cases = [
            ("SECKILL_LISTEN", "nope", "SECKILL_LISTEN from the environment: expected host:port"),
            ("SECKILL_TIMEZONE", "Mars/Olympus", "unknown time zone"),
            ("SECKILL_SECRET", "short", "at least 32 bytes"),
            ("SECKILL_RATE_LIMITS", "maybe", "expected on or off"),
            ("SECKILL_DATABASE_URL", "mysql://x", "expected sqlite://FILE or postgres://"),
            ("SECKILL_REDIS_URL", "memcached://x", "expected redis://"),
            ("SECKILL_SESSION_TTL_SECS", "5", "between 60 and"),
            ("SECKILL_SQLITE_SYNCHRONOUS", "off", "expected full or normal"),
            ("SECKILL_PREHEAT_SECS", "-1", "between 0 and 86400"),
            ("SECKILL_USER_RATE_LIMIT", "0", "between 1 and"),
            ("SECKILL_ORDER_BATCH_MAX", "lots", "whole number"),
            ("SECKILL_HEADER_TIMEOUT_MS", "0", "between 100 and 300000"),
            ("SECKILL_BODY_TIMEOUT_MS", "3600000", "between 100 and 600000"),
            ("SECKILL_LOG_FORMAT", "xml", "expected text or json"),
            ("SECKILL_LOG", "verbose", "`verbose` is not `level` or `target=level`"),
            ("SECKILL_LOG", "[[[", "is not `level` or `target=level`"),
            ("SECKILL_LOG", "foo=bar=baz", "`foo=bar=baz` is not"),
            ("SECKILL_TYPO", "1", "SECKILL_TYPO is not a seckill setting"),
        ];
        for (var, value, expected) in cases {
            let e = load(&[(var, value)]).unwrap_err().to_string();
            assert!(e.contains(expected), "{var}={value}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = load(&[("SECKILL_SECRET", "tiny")]).unwrap_err().to_string();
        assert!(!e.contains("tiny"), "a secret is never echoed: {e}");
        assert!(e.contains("at least 32 bytes, not 4") && e.matches("got").count() == 1, "said once: {e}");
        for (good, kept) in [
            ("info", "info"),
            ("warn,seckill_server=debug", "warn,seckill_server=debug"),
            ("seckill_embedded::writer=trace, sqlx=off", "seckill_embedded::writer=trace,sqlx=off"),
        ] {
            assert_eq!(load(&[("SECKILL_LOG", good)]).unwrap().log, kept);
        }
    }

    #[test]
    fn a_bad_file_names_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = [1]\n").unwrap();
        assert!(Settings::load(Some(&file), vec![]).unwrap_err().to_string().contains("listen in"));
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        assert!(Settings::load(Some(&file), vec![]).unwrap_err().to_string().contains("unknown key \"lisen\""));
        std::fs::write(&file, "listen = \n").unwrap();
        assert!(Settings::load(Some(&file), vec![]).unwrap_err().to_string().contains("not valid TOML"));
        let missing = dir.path().join("missing.toml");
        assert!(Settings::load(Some(&missing), vec![]).unwrap_err().to_string().contains("cannot read"));
    }

    #[test]
    fn every_key_shows_its_effective_value_and_never_the_secret() {
        let secret = "s".repeat(40);
        let s = load(&[("SECKILL_SECRET", &secret), ("SECKILL_PREHEAT_SECS", "60")]).unwrap();
        let shown = s.effective();
        assert_eq!(shown.len(), KEYS.len());
        assert!(shown.iter().all(|(_, v)| !v.starts_with("(unknown key")), "{shown:?}");
        assert!(shown.contains(&("preheat_secs", "60".to_owned())));
        assert!(shown.iter().all(|(_, v)| !v.contains(&secret)));
    }

    #[test]
    fn database_urls_pick_the_shape() {
        let s = load(&[("SECKILL_DATABASE_URL", "sqlite:///var/lib/seckill/s.db?mode=rwc")]).unwrap();
        assert_eq!(s.database, DatabaseUrl::Sqlite(PathBuf::from("/var/lib/seckill/s.db")));
        let s = load(&[("SECKILL_DATABASE_URL", "postgres://app:hunter2@db:5432/seckill")]).unwrap();
        assert_eq!(s.database_display(), "postgres://app:***@db:5432/seckill");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::embedded(dir.path());
        let first = s.resolve_secret().unwrap();
        assert!(first.len() >= MIN_SECRET_BYTES);
        assert_eq!(s.resolve_secret().unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the secret file is private");
        }
        std::fs::write(dir.path().join("secret"), "short").unwrap();
        assert!(s.resolve_secret().is_err());
    }
}
