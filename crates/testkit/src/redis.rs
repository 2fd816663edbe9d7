//! Throwaway Redis servers for tests, without Docker or systemd: `redis-server` runs in the
//! foreground as a child process of the test, on a free loopback port, in a temp dir of its
//! own, and is killed (and the dir removed) when its handle is dropped.
//!
//! - [`RedisServer::start`] starts a standalone server without persistence (about 50 ms);
//!   [`RedisServer::start_durable`] one with an append-only file synced on every write, for
//!   tests that [`kill`](RedisServer::kill) it and [`restart`](RedisServer::restart) it on the
//!   same port and dir to see what survived.
//! - [`RedisCluster::start`] starts three masters without replicas and joins them with
//!   `redis-cli --cluster create` (2–3 s); [`RedisCluster::url`] is the seckill configuration
//!   of the cluster shape (`redis+cluster://…`).
//!
//! Starting one per test is cheap enough that, unlike PostgreSQL, there is no server shared by
//! the test run. The child stays in the test's process group, so a test runner that kills the
//! group of a hung test takes its Redis servers with it. Everything talks to Redis over raw
//! TCP (a few lines of RESP), so the testkit needs no Redis client.
//!
//! `KEEP_TEST_SERVERS=1` keeps the dirs (with `redis.log`, the AOF, `nodes.conf`) after the
//! handles are dropped and prints where they are on stderr. The binaries are found on `PATH`
//! or in `/usr/bin` (`./scripts/test` installs `redis-server` and `redis-tools` when they are
//! missing).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server gets to answer `PING` after it is started (or to exit once told to).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new cluster gets to be created and agree that it is `ok` on every node.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a server is asked whether it is ready.
const POLL: Duration = Duration::from_millis(20);
/// Connect, read and write timeout of one command over TCP.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The same for one readiness `PING`: a listener that is not (yet) our server must not hold up
/// the poll, and a server too busy to answer in time is simply asked again.
const PING_TIMEOUT: Duration = Duration::from_millis(250);
/// How many ports are tried when the chosen one turns out to be taken.
const PORT_ATTEMPTS: u32 = 5;
/// How many masters a [`RedisCluster`] has.
const MASTERS: usize = 3;

/// A standalone `redis-server` on 127.0.0.1, killed and its dir removed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    // Declared before `dir`: the process is killed before its dir is removed.
    node: Node,
    dir: Dir,
}

impl RedisServer {
    /// Starts a server without persistence (`--save "" --appendonly no`): what it holds dies
    /// with it.
    pub fn start() -> io::Result<RedisServer> {
        Self::start_with(Persistence::None)
    }

    /// Starts a server that appends every write to its append-only file and fsyncs it before
    /// answering (`--appendonly yes --appendfsync always`): every acknowledged write survives
    /// a [`kill`](RedisServer::kill) and is replayed by [`restart`](RedisServer::restart).
    pub fn start_durable() -> io::Result<RedisServer> {
        Self::start_with(Persistence::AppendAlways)
    }

    fn start_with(persistence: Persistence) -> io::Result<RedisServer> {
        let bin = find_binary("redis-server")?;
        let dir = Dir::new("seckill-redis-")?;
        let node = Node::launch(&bin, dir.path(), persistence, false, &mut Vec::new())?;
        Ok(RedisServer { node, dir })
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.node.port)
    }

    /// The port it listens on (127.0.0.1 only); it keeps it across restarts.
    pub fn port(&self) -> u16 {
        self.node.port
    }

    /// Its own dir: `redis.log` (stdout and stderr, across restarts) and, for a durable
    /// server, `appendonlydir/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `kill -9`: SIGKILL to the server and wait until it is gone — a crash. Nothing is written
    /// on the way down. Does nothing if it is not running.
    pub fn kill(&mut self) -> io::Result<()> {
        self.node.kill()
    }

    /// Stops the server gracefully (`SHUTDOWN`: the append-only file is flushed) and waits until
    /// it has exited. If it has not within 10 s it is killed and this is an error. Does nothing
    /// if it is not running.
    pub fn stop(&mut self) -> io::Result<()> {
        self.node.stop()
    }

    /// Starts the server again on the same port and dir with the same settings (stopping it
    /// gracefully first if it still runs), and waits until it answers `PING` with `PONG` — for
    /// a durable server, that is once its append-only file has been replayed. Fails if the
    /// port was taken meanwhile.
    pub fn restart(&mut self) -> io::Result<()> {
        self.node.stop()?;
        self.node.spawn()
    }
}

/// A Redis Cluster of three masters without replicas on 127.0.0.1, every node `ok` and all
/// 16384 slots served; every node is killed and the dir removed when it is dropped.
#[derive(Debug)]
pub struct RedisCluster {
    // Declared before `dir`: the processes are killed before their dirs are removed.
    nodes: Vec<Node>,
    dir: Dir,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers (each with an explicit bus port: the default,
    /// port + 10000, overflows for high ports), joins them with `redis-cli --cluster create`
    /// and waits until every node reports `cluster_state:ok`.
    pub fn start() -> io::Result<RedisCluster> {
        let server = find_binary("redis-server")?;
        let cli = find_binary("redis-cli")?;
        let dir = Dir::new("seckill-redis-cluster-")?;
        let mut taken = Vec::new();
        let mut nodes = Vec::with_capacity(MASTERS);
        for i in 1..=MASTERS {
            let node_dir = dir.path().join(format!("node-{i}"));
            fs::create_dir(&node_dir)?;
            nodes.push(Node::launch(&server, &node_dir, Persistence::None, true, &mut taken)?);
        }
        let cluster = RedisCluster { nodes, dir };
        cluster.create(&cli)?;
        cluster.wait_until_ok()?;
        Ok(cluster)
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`: the seckill configuration
    /// of the cluster shape.
    pub fn url(&self) -> String {
        let addrs: Vec<String> = self.ports().iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", addrs.join(","))
    }

    /// `redis://127.0.0.1:PORT/` of every node.
    pub fn node_urls(&self) -> Vec<String> {
        self.ports().iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect()
    }

    /// The client port of every node (127.0.0.1 only).
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, given at most
    /// [`CLUSTER_TIMEOUT`]; its output goes to `cluster-create.log`.
    fn create(&self, cli: &Path) -> io::Result<()> {
        let log_path = self.dir.path().join("cluster-create.log");
        let log = File::create(&log_path)?;
        let mut child = Command::new(cli)
            .args(["--cluster", "create"])
            .args(self.ports().iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {}: {e}", cli.display())))?;
        match wait_for_exit(&mut child, Instant::now() + CLUSTER_TIMEOUT)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(io::Error::other(format!(
                "redis-cli --cluster create failed ({status}): {}",
                log_tail(&log_path, 0)
            ))),
            None => {
                child.kill()?;
                child.wait()?;
                Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("redis-cli --cluster create took over {CLUSTER_TIMEOUT:?}: {}", log_tail(&log_path, 0)),
                ))
            }
        }
    }

    /// Polls `CLUSTER INFO` on every node until each says `cluster_state:ok` (which it only
    /// does once it knows a master for every slot).
    fn wait_until_ok(&self) -> io::Result<()> {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let mut last = String::new();
            let all_ok = self.nodes.iter().all(|node| match command(node.port, &["CLUSTER", "INFO"]) {
                Ok(Reply::Bulk(Some(info))) if String::from_utf8_lossy(&info).contains("cluster_state:ok") => true,
                other => {
                    last = format!("node 127.0.0.1:{} answered {other:?}", node.port);
                    false
                }
            });
            if all_ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("the cluster was not ok within {CLUSTER_TIMEOUT:?}: {last}"),
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// What a server keeps on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persistence {
    /// Nothing: no RDB snapshots, no append-only file.
    None,
    /// An append-only file, fsynced before every write is acknowledged.
    AppendAlways,
}

/// One `redis-server` child process in a dir it does not own; killed (and reaped) on drop.
#[derive(Debug)]
struct Node {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    persistence: Persistence,
    /// The cluster bus port of a cluster-enabled node.
    bus_port: Option<u16>,
    /// `None` once killed or stopped.
    child: Option<Child>,
}

impl Node {
    /// Starts a server in `dir` on a free port (and a free bus port for a cluster node) that is
    /// not in `taken`, trying another one when the chosen port turns out to be in use. The
    /// ports it uses are added to `taken`.
    fn launch(
        bin: &Path,
        dir: &Path,
        persistence: Persistence,
        cluster: bool,
        taken: &mut Vec<u16>,
    ) -> io::Result<Node> {
        let mut last = None;
        for attempt in 0..PORT_ATTEMPTS {
            let port = free_port(attempt, taken)?;
            taken.push(port);
            let bus_port = if cluster {
                let bus = free_port(attempt, taken)?;
                taken.push(bus);
                Some(bus)
            } else {
                None
            };
            let mut node = Node { bin: bin.to_owned(), dir: dir.to_owned(), port, persistence, bus_port, child: None };
            match node.spawn() {
                Ok(()) => return Ok(node),
                Err(e) if e.kind() == ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no port tried")))
    }

    /// `redis.log` in the node's dir: the server's stdout and stderr, appended across restarts.
    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Spawns the server in the foreground (`--daemonize no`, so the child is the server) and
    /// waits until it answers `PING`.
    fn spawn(&mut self) -> io::Result<()> {
        let log = OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let log_start = log.metadata()?.len();
        let mut args: Vec<OsString> = vec!["--port".into(), self.port.to_string().into()];
        args.extend(["--bind", "127.0.0.1", "--protected-mode", "yes", "--daemonize", "no"].map(OsString::from));
        args.extend(["--dir".into(), self.dir.clone().into_os_string()]);
        let persistence: &[&str] = match self.persistence {
            Persistence::None => &["--save", "", "--appendonly", "no"],
            Persistence::AppendAlways => &["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
        };
        args.extend(persistence.iter().map(OsString::from));
        if let Some(bus) = self.bus_port {
            args.extend(["--cluster-enabled", "yes", "--cluster-port"].map(OsString::from));
            args.push(bus.to_string().into());
            args.extend(["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"].map(OsString::from));
        }
        let child = Command::new(&self.bin)
            .args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        self.wait_until_ready(log_start)
    }

    /// Polls `PING` until the answer is `PONG` (not `-LOADING`, nor a connection refused),
    /// checking that the server answering is our child; fails with the log written since
    /// `log_start` if the child exits first (as `AddrInUse` when its port was taken) or after
    /// [`START_TIMEOUT`].
    fn wait_until_ready(&mut self, log_start: u64) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(io::Error::other("redis-server is not running"));
            };
            if let Some(status) = child.try_wait()? {
                self.child = None;
                let tail = log_tail(&self.log_path(), log_start);
                let kind =
                    if tail.contains("Address already in use") { ErrorKind::AddrInUse } else { ErrorKind::Other };
                return Err(io::Error::new(
                    kind,
                    format!("redis-server on 127.0.0.1:{} exited ({status}) before answering PING: {tail}", self.port),
                ));
            }
            let pid = child.id();
            if matches!(command_within(self.port, &["PING"], PING_TIMEOUT), Ok(Reply::Status(ref s)) if s == "PONG") {
                // Our child may have failed to bind while someone else's server answered.
                match server_pid(self.port) {
                    Some(answering) if answering == pid => return Ok(()),
                    Some(answering) => {
                        self.kill()?;
                        return Err(io::Error::new(
                            ErrorKind::AddrInUse,
                            format!("127.0.0.1:{} is served by another redis-server (pid {answering})", self.port),
                        ));
                    }
                    None => {}
                }
            }
            if Instant::now() >= deadline {
                self.kill()?;
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "redis-server on 127.0.0.1:{} did not answer PING within {START_TIMEOUT:?}: {}",
                        self.port,
                        log_tail(&self.log_path(), log_start)
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// `SHUTDOWN` over TCP, then wait for the exit; SIGKILL (and an error) if it takes longer
    /// than [`START_TIMEOUT`].
    fn stop(&mut self) -> io::Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        // On success the server closes the connection without an answer; an answer is a refusal.
        let refusal = match command(self.port, &["SHUTDOWN"]) {
            Ok(reply) => format!("SHUTDOWN answered {reply:?}"),
            Err(_) => String::new(),
        };
        if wait_for_exit(child, Instant::now() + START_TIMEOUT)?.is_some() {
            self.child = None;
            return Ok(());
        }
        self.kill()?;
        Err(io::Error::new(
            ErrorKind::TimedOut,
            format!(
                "redis-server on 127.0.0.1:{} did not shut down within {START_TIMEOUT:?} and was killed. {refusal} {}",
                self.port,
                log_tail(&self.log_path(), 0)
            ),
        ))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A temp dir removed on drop, unless `KEEP_TEST_SERVERS=1`: then kept, and named on stderr.
#[derive(Debug)]
struct Dir(PathBuf);

impl Dir {
    fn new(prefix: &str) -> io::Result<Dir> {
        Ok(Dir(tempfile::Builder::new().prefix(prefix).tempdir()?.keep()))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if keep_test_servers() {
            eprintln!("KEEP_TEST_SERVERS=1: kept {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn keep_test_servers() -> bool {
    std::env::var_os("KEEP_TEST_SERVERS").is_some_and(|v| v == "1")
}

/// `name` on `PATH`, or in `/usr/bin`.
fn find_binary(name: &str) -> io::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::NotFound,
                format!("{name} not found: install redis-server and redis-tools (./scripts/test does)"),
            )
        })
}

/// Waits for `child` to exit until `deadline`: its status, or `None` if it still runs.
fn wait_for_exit(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// The last lines of the log at `path` written since byte `from` (for error messages).
fn log_tail(path: &Path, from: u64) -> String {
    const LINES: usize = 20;
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(())
    });
    if let Err(e) = read {
        return format!("({} unreadable: {e})", path.display());
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LINES)..].join("\n");
    format!("{}:\n{tail}", path.display())
}

/// A port nobody listens on, from 20000–32767 and not in `taken`: below Linux's ephemeral
/// range (32768–60999), so no client socket squats on it between this check and the server's
/// bind. Another process may still take it first; the caller then tries another.
fn free_port(attempt: u32, taken: &[u16]) -> io::Result<u16> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        ^ std::process::id().rotate_left(16)
        ^ attempt.wrapping_mul(0x9E37_79B9)
        ^ CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x85EB_CA6B);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut candidate = seed;
    while Instant::now() < deadline {
        candidate = candidate.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let port = 20_000 + u16::try_from((candidate >> 8) % 12_768).unwrap_or(0);
        if !taken.contains(&port) && TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free port in 20000-32767"))
}

/// The `process_id` the server on `port` reports in `INFO server`.
fn server_pid(port: u16) -> Option<u32> {
    let Ok(Reply::Bulk(Some(info))) = command(port, &["INFO", "server"]) else {
        return None;
    };
    String::from_utf8_lossy(&info).lines().find_map(|l| l.strip_prefix("process_id:")?.trim().parse().ok())
}

/// A RESP reply, as much of one as the testkit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR …`, `-LOADING …`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`, or `$-1` (`None`).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n…`, or `*-1` (`None`).
    Array(Option<Vec<Reply>>),
}

/// Sends one command (as a RESP array of bulk strings) on a new connection to 127.0.0.1:`port`
/// and reads the reply.
fn command(port: u16, args: &[&str]) -> io::Result<Reply> {
    command_within(port, args, IO_TIMEOUT)
}

/// [`command`], with `timeout` for connecting, writing and reading.
fn command_within(port: u16, args: &[&str], timeout: Duration) -> io::Result<Reply> {
    let stream = TcpStream::connect_timeout(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    (&stream).write_all(&request)?;
    read_reply(&mut BufReader::new(&stream))
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    let line = line.strip_suffix(b"\r\n").ok_or_else(|| invalid("a reply line without CRLF"))?;
    let (&kind, rest) = line.split_first().ok_or_else(|| invalid("an empty reply line"))?;
    let rest = String::from_utf8_lossy(rest).into_owned();
    let length = |rest: &str| rest.parse::<i64>().map_err(|_| invalid("a malformed length"));
    match kind {
        b'+' => Ok(Reply::Status(rest)),
        b'-' => Ok(Reply::Error(rest)),
        b':' => Ok(Reply::Integer(length(&rest)?)),
        b'$' => match usize::try_from(length(&rest)?) {
            Err(_) => Ok(Reply::Bulk(None)),
            Ok(len) => {
                let mut bytes = vec![0; len + 2];
                reader.read_exact(&mut bytes)?;
                bytes.truncate(len);
                Ok(Reply::Bulk(Some(bytes)))
            }
        },
        b'*' => match usize::try_from(length(&rest)?) {
            Err(_) => Ok(Reply::Array(None)),
            Ok(n) => {
                (0..n).map(|_| read_reply(reader)).collect::<io::Result<_>>().map(|items| Reply::Array(Some(items)))
            }
        },
        other => Err(invalid(&format!("an unknown reply type {:?}", char::from(other)))),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("RESP: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(Some(text.as_bytes().to_vec()))
    }

    fn ok() -> Reply {
        Reply::Status("OK".to_owned())
    }

    #[test]
    fn a_standalone_server_keeps_keys_and_stops_answering_once_killed() {
        let mut server = RedisServer::start().unwrap();
        assert_eq!(server.url(), format!("redis://127.0.0.1:{}/", server.port()));
        assert_eq!(command(server.port(), &["SET", "stock", "42"]).unwrap(), ok());
        assert_eq!(command(server.port(), &["GET", "stock"]).unwrap(), bulk("42"));
        assert_eq!(command(server.port(), &["INCRBY", "stock", "-2"]).unwrap(), Reply::Integer(40));
        assert_eq!(command(server.port(), &["GET", "nothing"]).unwrap(), Reply::Bulk(None));

        server.kill().unwrap();
        assert!(command(server.port(), &["PING"]).is_err(), "a killed server still answers");
        server.kill().unwrap(); // killing twice is fine
    }

    #[test]
    fn a_durable_server_replays_its_append_only_file_after_a_kill() {
        let mut server = RedisServer::start_durable().unwrap();
        let port = server.port();
        assert_eq!(command(port, &["SET", "{a:7:s:12}:stock", "99"]).unwrap(), ok());
        assert_eq!(command(port, &["RPUSH", "{a:7:s:12}:orders", "one", "two"]).unwrap(), Reply::Integer(2));

        assert!(server.dir().join("appendonlydir").is_dir());

        server.kill().unwrap();
        server.restart().unwrap();

        assert_eq!(server.port(), port);
        assert_eq!(command(port, &["GET", "{a:7:s:12}:stock"]).unwrap(), bulk("99"));
        assert_eq!(
            command(port, &["LRANGE", "{a:7:s:12}:orders", "0", "-1"]).unwrap(),
            Reply::Array(Some(vec![bulk("one"), bulk("two")]))
        );
    }

    #[test]
    fn a_server_without_persistence_restarts_empty_after_a_graceful_stop() {
        let mut server = RedisServer::start().unwrap();
        assert_eq!(command(server.port(), &["SET", "k", "v"]).unwrap(), ok());

        server.stop().unwrap();
        assert!(command(server.port(), &["PING"]).is_err(), "a stopped server still answers");
        server.restart().unwrap();

        assert_eq!(command(server.port(), &["DBSIZE"]).unwrap(), Reply::Integer(0));
    }

    #[test]
    fn dropping_a_server_kills_it_and_removes_its_dir() {
        let server = RedisServer::start().unwrap();
        let (port, dir) = (server.port(), server.dir().to_owned());
        assert!(dir.join("redis.log").is_file());

        drop(server);

        assert!(command(port, &["PING"]).is_err(), "a dropped server still answers");
        assert_eq!(dir.exists(), keep_test_servers());
    }

    #[test]
    fn a_cluster_of_three_masters_is_ok_on_every_node() {
        let cluster = RedisCluster::start().unwrap();
        let ports = cluster.ports();
        assert_eq!(ports.len(), 3);
        for port in &ports {
            let Reply::Bulk(Some(info)) = command(*port, &["CLUSTER", "INFO"]).unwrap() else {
                panic!("CLUSTER INFO is a bulk string");
            };
            let info = String::from_utf8_lossy(&info).into_owned();
            assert!(info.contains("cluster_state:ok"), "{info}");
            assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
            assert!(info.contains("cluster_known_nodes:3"), "{info}");
        }

        let url = cluster.url();
        let addrs = url.strip_prefix("redis+cluster://").unwrap().split(',').collect::<Vec<_>>();
        assert_eq!(addrs, ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>());
        assert_eq!(cluster.node_urls(), ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect::<Vec<_>>());

        // Each key lives on the node serving its slot; the others redirect.
        let answers: Vec<Reply> =
            ports.iter().map(|p| command(*p, &["SET", "{a:7:s:12}:stock", "5"]).unwrap()).collect();
        assert_eq!(answers.iter().filter(|r| **r == ok()).count(), 1, "{answers:?}");
        assert!(
            answers.iter().filter(|r| matches!(r, Reply::Error(e) if e.starts_with("MOVED"))).count() == 2,
            "{answers:?}"
        );
    }

    #[test]
    fn a_port_taken_by_someone_else_is_reported_as_in_use_with_the_log() {
        let holder = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let dir = Dir::new("seckill-redis-test-").unwrap();
        let bin = find_binary("redis-server").unwrap();
        let mut node =
            Node { bin, dir: dir.path().to_owned(), port, persistence: Persistence::None, bus_port: None, child: None };

        let e = node.spawn().unwrap_err();

        assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
        assert!(e.to_string().contains("redis.log"), "{e}");
        assert!(node.child.is_none());
    }

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let e = find_binary("redis-server-that-is-not-there").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(
            e.to_string().ends_with("not found: install redis-server and redis-tools (./scripts/test does)"),
            "{e}"
        );
    }
}
