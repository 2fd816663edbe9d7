//! The server under test and how to reach it: started in this process, spawned as a child
//! `seckill serve`, or already running; with its records and secret opened through the
//! [`Host`], an operator to set the sale up with, and its memory (VmRSS) sampled.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use seckill_domain::Timestamp;
use seckill_domain::user::Username;
use seckill_server::PasswordCost;
use seckill_server::auth::Passwords;
use seckill_store::StoreError;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio_util::sync::CancellationToken;

use crate::args::{BenchArgs, Placement, Plan};
use crate::host::{Host, Opened, ServerSpec};

/// How long a child server may take to say where it listens.
const CHILD_START: Duration = Duration::from_secs(60);

/// A server to load.
pub(crate) struct Target {
    pub placement: Placement,
    pub base_url: String,
    pub opened: Opened,
    /// The process whose memory is the server's (this one when in-process).
    pub pid: Option<u32>,
    pub admin_user: String,
    pub admin_password: String,
    child: Option<tokio::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("placement", &self.placement).field("base_url", &self.base_url).finish()
    }
}

fn random_hex(bytes: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

impl Target {
    /// The server of `plan`: started in this process or as a child over a fresh temp data dir,
    /// or the one at `--target`.
    pub(crate) async fn start(args: &BenchArgs, plan: &Plan, host: &dyn Host) -> anyhow::Result<Target> {
        if plan.placement == Placement::Target {
            let base_url = args.target.clone().context("no --target")?.trim_end_matches('/').to_owned();
            let opened = host.open_configured().await.context("cannot open the records of the configured server")?;
            return Ok(Target {
                placement: plan.placement,
                base_url,
                opened,
                pid: args.server_pid,
                admin_user: args.admin_user.clone(),
                admin_password: args.admin_password.clone().unwrap_or_default(),
                child: None,
                _dir: None,
            });
        }
        let dir = tempfile::Builder::new().prefix("seckill-bench-").tempdir().context("cannot make a temp data dir")?;
        let spec = ServerSpec {
            data_dir: dir.path().join("data"),
            secret: random_hex(32),
            rate_limits: plan.rate_limits,
            ip_rate_limit: 1_000_000,
        };
        let (opened, base_url, pid, child) = if plan.placement == Placement::InProcess {
            let opened = host.start(&spec).await.context("cannot start the server")?;
            let base = opened.base_url.clone().context("the started server has no address")?;
            (opened, base, Some(std::process::id()), None)
        } else {
            let (child, base) = spawn_server(&host.program()?, &spec).await?;
            let opened = host.open(&spec).await.context("cannot open the child server's records")?;
            (opened, base, child.id(), Some(child))
        };
        // An operator of our own, straight into the records (no console to create one in); a
        // database shared by earlier runs (`--repeat` over PostgreSQL) has it already: it gets
        // this run's password.
        let admin_user = "bench-admin".to_owned();
        let admin_password = random_hex(12);
        let hash = Passwords::new(PasswordCost::Standard).hash(&admin_password).await?;
        let name = Username::parse(&admin_user).map_err(|m| anyhow::anyhow!("username: {m}"))?;
        let accounts = &opened.records.accounts;
        match accounts.create_admin(&name, &hash, Timestamp::now()).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                accounts.set_admin_password(&name, &hash).await.context("cannot set the operator's password")?;
            }
            Err(e) => return Err(e).context("cannot create the operator"),
        }
        Ok(Target {
            placement: plan.placement,
            base_url,
            opened,
            pid,
            admin_user,
            admin_password,
            child,
            _dir: Some(dir),
        })
    }

    /// Stops what was started (the server writes what it holds first) and closes the records.
    pub(crate) async fn close(mut self) -> anyhow::Result<()> {
        let closed = self.opened.closer.close().await;
        if let Some(mut child) = self.child.take() {
            // SIGKILL is enough: the run is over and its records were checked.
            let _ = child.kill().await;
        }
        closed
    }
}

/// Starts `program serve` over `spec` and reads the address it announces.
async fn spawn_server(program: &Path, spec: &ServerSpec) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut command = tokio::process::Command::new(program);
    // The child holds the read end of a pipe whose write end only this process has: when this
    // process ends — normally, by a signal, or `kill -9`, where `kill_on_drop` never runs —
    // the child reads its end and stops, instead of serving on as an orphan.
    command
        .args(["serve", "--stop-when-stdin-closes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in ServerSpec::not_inherited() {
        command.env_remove(var);
    }
    for (var, value) in spec.env() {
        command.env(var, value);
    }
    if std::env::var_os("SECKILL_LOG").is_none() {
        command.env("SECKILL_LOG", "warn");
    }
    let mut child = command.spawn().with_context(|| format!("cannot start {} serve", program.display()))?;
    let stderr = child.stderr.take().context("the child has no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let found = tokio::time::timeout(CHILD_START, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("serving on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default().to_owned();
                return Ok::<_, std::io::Error>(Some(url));
            }
            eprintln!("{line}");
        }
        Ok(None)
    })
    .await;
    let url = match found {
        Ok(Ok(Some(url))) => url,
        Ok(Ok(None)) => bail!("the child server exited before serving"),
        Ok(Err(e)) => return Err(e).context("reading the child server's output"),
        Err(_) => bail!("the child server did not start serving within {CHILD_START:?}"),
    };
    // Keep draining its output (warnings and errors are worth seeing).
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("server: {line}");
        }
    });
    Ok((child, url))
}

/// Resident memory of process `pid` in bytes (`VmRSS` of `/proc/PID/status`), if readable.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The peak of a process's memory while it is watched.
#[derive(Debug)]
pub(crate) struct RssWatch {
    peak: Arc<AtomicU64>,
    pid: Option<u32>,
    stop: CancellationToken,
}

impl RssWatch {
    /// Samples `pid` every 100 ms until [`RssWatch::finish`].
    pub(crate) fn start(pid: Option<u32>) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        if let Some(pid) = pid {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    if let Some(rss) = rss_bytes(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            });
        }
        RssWatch { peak, pid, stop }
    }

    /// `(peak, now)` in bytes, when the process could be read.
    pub(crate) fn finish(self) -> Option<(u64, u64)> {
        self.stop.cancel();
        let pid = self.pid?;
        let now = rss_bytes(pid)?;
        Some((self.peak.load(Ordering::Relaxed).max(now), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        assert_eq!(parse_vm_rss("Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\n"), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_bytes(std::process::id()).is_some_and(|b| b > 0));
    }
}
