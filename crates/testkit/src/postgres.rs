//! Throwaway PostgreSQL 15 servers for tests, without Docker or systemd: `initdb` into a temp
//! dir, `pg_ctl start` on a free loopback port, stopped (`pg_ctl stop -m immediate`) and
//! removed when done.
//!
//! - [`PgServer::start`] starts a server owned by the caller and stopped when it is dropped;
//!   [`PgServer::stop`] and [`PgServer::start_again`] take it down and bring it back on the same
//!   port and data, for tests of what happens while the records are unreachable.
//! - [`fresh_database`] gives a test its own new database with the records' schema
//!   (`CREATE DATABASE t_… TEMPLATE …` of a database migrated once per run, dropped again when
//!   the [`TestDatabase`] is), and [`empty_database`] one without, on one server shared by
//!   every test process of the same test run: nextest runs each test in a process of its own,
//!   and a server per test would cost a second and more each. The shared server belongs to the
//!   process that runs the tests (the parent of each test process: nextest, or cargo): the
//!   first test starts it under a file lock, the others find its port, and a watchdog stops it
//!   and removes its directory once that runner has exited, however the run ended.
//!
//! PostgreSQL refuses to run as root: as root, its binaries run as the `postgres` system user
//! (`runuser -u postgres --`, the user postgresql-common creates) on a directory that user owns,
//! under a temp root with mode 755. The binaries are found in `/usr/lib/postgresql/<version>/bin`
//! (`./scripts/test` installs `postgresql-15` when they are missing).
//!
//! The shared server trades durability for speed (`fsync=off`, `synchronous_commit=off`): fine
//! for behaviour tests, never for crash tests — start a [`PgServer`] with
//! [`PgServer::start_durable`] for those.

use std::fs;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The login role tests connect as (it may create databases, and owns those it creates).
pub const ROLE: &str = "seckill";
/// Its password (checked: TCP logins use scram-sha-256).
pub const PASSWORD: &str = "seckill";
/// The OS user PostgreSQL runs as when the tests run as root.
const OS_USER: &str = "postgres";

/// A running PostgreSQL server in a directory of its own.
#[derive(Debug)]
pub struct PgServer {
    /// The temp root (mode 755) holding `pg/` (data, socket, log).
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `fsync` and synchronous commits on (see [`PgServer::start_durable`]).
    durable: bool,
    /// Stop and remove it on drop (the shared server is stopped by its watchdog instead).
    owned: bool,
}

impl PgServer {
    /// Starts a fast (non-durable) server that is stopped and removed when dropped.
    pub fn start() -> io::Result<PgServer> {
        let root = tempdir_path("seckill-pg")?;
        Self::start_in(root, false, true)
    }

    /// Like [`PgServer::start`], with `fsync` and synchronous commits on: for tests that kill
    /// things and check what survived.
    pub fn start_durable() -> io::Result<PgServer> {
        let root = tempdir_path("seckill-pg")?;
        Self::start_in(root, true, true)
    }

    /// `postgres://seckill:seckill@127.0.0.1:PORT/database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{ROLE}:{PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    /// The port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new, empty database owned by [`ROLE`].
    pub fn create_database(&self) -> io::Result<TestDatabase> {
        self.create_database_from("template1")
    }

    /// Creates a new database owned by [`ROLE`], a copy of `template` (which nobody may be
    /// connected to meanwhile).
    fn create_database_from(&self, template: &str) -> io::Result<TestDatabase> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql_tcp(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))?;
        Ok(TestDatabase { url: self.url(&name), name, port: self.port, bin: self.bin.clone() })
    }

    fn pg_dir(&self) -> PathBuf {
        self.root.join("pg")
    }

    fn data_dir(&self) -> PathBuf {
        self.pg_dir().join("data")
    }

    /// `initdb` and `pg_ctl start` in `root`, then the login role.
    fn start_in(root: PathBuf, durable: bool, owned: bool) -> io::Result<PgServer> {
        let bin = bin_dir()?;
        // The postgres user must be able to reach its own directory below the root.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        let pg = root.join("pg");
        fs::create_dir_all(&pg)?;
        if is_root() {
            run(Command::new("chown").arg(format!("{OS_USER}:")).arg(&pg), "chown")?;
        }
        fs::set_permissions(&pg, fs::Permissions::from_mode(0o700))?;
        let mut server = PgServer { root, bin, port: 0, durable, owned };
        run(
            server
                .as_postgres("initdb")
                .arg("-D")
                .arg(server.data_dir())
                .args(["-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"]),
            "initdb",
        )?;
        let mut last = None;
        for attempt in 0..5 {
            let port = free_port(attempt)?;
            let started = run(&mut server.pg_ctl_start(port), "pg_ctl start");
            match started {
                Ok(()) => {
                    server.port = port;
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            let log = fs::read_to_string(server.pg_dir().join("postgres.log")).unwrap_or_default();
            return Err(io::Error::other(format!("{e}; postgres.log: {log}")));
        }
        // Over the socket as the superuser (local = trust), once: the role tests log in as.
        run(
            server
                .as_postgres("psql")
                .arg("-h")
                .arg(server.pg_dir())
                .args(["-p", &server.port.to_string(), "-U", "postgres", "-d", "postgres"])
                .args(["-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-c"])
                .arg(format!("CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")),
            "create the test role",
        )?;
        Ok(server)
    }

    /// `pg_ctl start` on `port` with this server's settings, waiting (30 s at most) until it
    /// accepts connections; the log is appended to `postgres.log`.
    fn pg_ctl_start(&self, port: u16) -> Command {
        let mut settings =
            format!("-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections=300", self.pg_dir().display());
        if !self.durable {
            settings.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let mut command = self.as_postgres("pg_ctl");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.pg_dir().join("postgres.log"))
            .args(["-w", "-t", "30", "-o", &settings, "start"]);
        command
    }

    /// Stops the server the way an operator would (`pg_ctl stop -m fast`: clients are
    /// disconnected, committed work is kept) and waits until it is down, keeping its data dir
    /// and port for [`PgServer::start_again`]. Until then every connection attempt is refused.
    pub fn stop(&self) -> io::Result<()> {
        run(
            self.as_postgres("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "-t", "30", "stop"]),
            "pg_ctl stop",
        )
    }

    /// Starts a server [stopped](PgServer::stop) before again, on the same port and data dir with
    /// the same settings, and waits until it accepts connections. Fails if the port was taken
    /// meanwhile (unlikely: it is below the ephemeral range).
    pub fn start_again(&self) -> io::Result<()> {
        run(&mut self.pg_ctl_start(self.port), "pg_ctl start")
    }

    /// A command running PostgreSQL's `program` as the postgres user (when we are root), in a
    /// process group of its own: the server it starts must outlive the test process even if
    /// the test runner kills that process's group.
    fn as_postgres(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", OS_USER, "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command.current_dir(&self.root).stdin(Stdio::null()).process_group(0);
        command
    }

    /// Runs one statement as [`ROLE`] over TCP (any OS user may).
    fn psql_tcp(&self, sql: &str) -> io::Result<()> {
        psql_tcp(&self.bin, self.port, sql)
    }

    /// Stops the server at once and removes its directory.
    fn stop_and_remove(&self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.owned {
            self.stop_and_remove();
        }
    }
}

/// A database of its own for one test, dropped (`WITH (FORCE)`, whoever is still connected)
/// when this is.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    name: String,
    port: u16,
    bin: PathBuf,
}

impl TestDatabase {
    /// `postgres://seckill:seckill@127.0.0.1:PORT/t_…`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = psql_tcp(&self.bin, self.port, &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// A new database with the records' schema (every migration of `seckill-cluster` applied), on
/// the server shared by this test run (started by the first test to ask). Copying a database
/// migrated once per run costs a fraction of migrating each one. Panics with the reason if
/// PostgreSQL cannot be started (not installed, say).
pub async fn fresh_database() -> TestDatabase {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let server = shared_server().unwrap_or_else(|e| panic!("a PostgreSQL server for the tests: {e}"));
        let template = migrated_template(server, &handle).unwrap_or_else(|e| panic!("the migrated template: {e}"));
        server.create_database_from(template).unwrap_or_else(|e| panic!("a fresh PostgreSQL database: {e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("creating a database: {e}"))
}

/// A new, empty database (no schema) on the shared server: for tests of the migrations
/// themselves.
pub async fn empty_database() -> TestDatabase {
    tokio::task::spawn_blocking(|| {
        let server = shared_server().unwrap_or_else(|e| panic!("a PostgreSQL server for the tests: {e}"));
        server.create_database().unwrap_or_else(|e| panic!("an empty PostgreSQL database: {e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("creating a database: {e}"))
}

/// The name of the shared server's database with every migration applied, made by the first
/// test process that asks (under a file lock; the others wait, then find it ready).
fn migrated_template(server: &PgServer, handle: &tokio::runtime::Handle) -> io::Result<&'static str> {
    const TEMPLATE: &str = "seckill_migrated";
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.get().is_some() {
        return Ok(TEMPLATE);
    }
    let lock =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(server.root.join("template.lock"))?;
    lock.lock()?;
    let ready = server.root.join("template.ready");
    if !ready.exists() {
        // A half-made one (its maker died) is made again.
        server.psql_tcp(&format!("DROP DATABASE IF EXISTS \"{TEMPLATE}\" WITH (FORCE)"))?;
        server.psql_tcp(&format!("CREATE DATABASE \"{TEMPLATE}\""))?;
        let url = server.url(TEMPLATE);
        handle.block_on(async move {
            let tz = seckill_domain::TimeZone::UTC;
            let records = seckill_cluster::PgRecords::connect(seckill_cluster::PgOptions::new(url, tz))
                .await
                .map_err(|e| io::Error::other(format!("migrating the template: {e}")))?;
            // Nobody may be connected to a template while it is copied.
            records.close().await;
            Ok::<_, io::Error>(())
        })?;
        fs::write(&ready, TEMPLATE)?;
    }
    let _ = DONE.set(());
    Ok(TEMPLATE)
}

/// The server shared by every test process of this run: found (or started) once per process.
pub fn shared_server() -> io::Result<&'static PgServer> {
    static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| find_or_start_shared().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| io::Error::other(e.clone()))
}

fn find_or_start_shared() -> io::Result<PgServer> {
    // The test runner (nextest, cargo) is the parent of every test process of the run.
    let runner = std::os::unix::process::parent_id();
    let root = std::env::temp_dir().join(format!("seckill-pg-run-{runner}"));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join(format!("seckill-pg-run-{runner}.lock")))?;
    // Held while one process starts the server; the others wait here, then find it.
    lock.lock()?;
    let url_file = root.join("port");
    if let Ok(port) = fs::read_to_string(&url_file).map(|p| p.trim().parse::<u16>())
        && let Ok(port) = port
        && TcpStream::connect_timeout(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
            .is_ok()
    {
        return Ok(PgServer { root, bin: bin_dir()?, port, durable: false, owned: false });
    }
    // Gone or never started: start afresh.
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root)?;
    let server = PgServer::start_in(root.clone(), false, false)?;
    watch(&server, runner)?;
    let mut f = fs::File::create(&url_file)?;
    writeln!(f, "{}", server.port)?;
    f.sync_all()?;
    Ok(server)
}

/// Starts the watchdog that stops `server` and removes its directory (and lock file) once the
/// process `runner` has exited. A shell loop in a process group of its own, detached from our
/// output, so it outlives this test process and never holds the runner's pipes open.
fn watch(server: &PgServer, runner: u32) -> io::Result<()> {
    let stop = if is_root() {
        format!(
            "runuser -u {OS_USER} -- '{}' -D '{}' -m immediate -w -t 30 stop",
            server.bin.join("pg_ctl").display(),
            server.data_dir().display()
        )
    } else {
        format!(
            "'{}' -D '{}' -m immediate -w -t 30 stop",
            server.bin.join("pg_ctl").display(),
            server.data_dir().display()
        )
    };
    let script = format!(
        "while kill -0 {runner} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf '{}' '{}.lock'",
        server.root.display(),
        server.root.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// Runs one statement as [`ROLE`] over TCP with `psql`.
fn psql_tcp(bin: &Path, port: u16, sql: &str) -> io::Result<()> {
    run(
        Command::new(bin.join("psql"))
            .env("PGPASSWORD", PASSWORD)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", ROLE, "-d", "postgres"])
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
            .stdin(Stdio::null()),
        "psql",
    )
}

/// Runs `command` to completion; its output becomes the error if it fails.
fn run(command: &mut Command, what: &str) -> io::Result<()> {
    let out = command.output().map_err(|e| io::Error::other(format!("{what}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}): {} {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn bin_dir() -> io::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::other(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             apt-get install postgresql-15 (./scripts/test does)",
        )
    })
}

/// Whether this process runs as root (PostgreSQL then runs as the postgres user).
fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A fresh directory under the temp dir (not removed by us: the server's owner does that).
fn tempdir_path(prefix: &str) -> io::Result<PathBuf> {
    Ok(tempfile::Builder::new().prefix(prefix).tempdir()?.keep())
}

/// A port nobody listens on, from 20000–32767: below Linux's ephemeral range (32768–60999),
/// so no client socket squats on it between this check and the server's bind.
fn free_port(attempt: u32) -> io::Result<u16> {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        ^ std::process::id().rotate_left(16)
        ^ attempt.wrapping_mul(0x9E37_79B9);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut candidate = seed;
    while Instant::now() < deadline {
        candidate = candidate.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let port = 20_000 + u16::try_from((candidate >> 8) % 12_768).unwrap_or(0);
        if TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free port in 20000-32767"))
}
