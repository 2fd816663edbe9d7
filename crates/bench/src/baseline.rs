//! The yardstick: a plain hello-world axum server, placed like the server under test (in this
//! process, or as a child process), loaded with the same connections, duration and requests —
//! the same order request, headers and body — answering `Hello, World!` to every one. Every
//! figure of a run is also given as a ratio to this one.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::client::{Call, Conn, Endpoint};
use crate::stats::{CpuMeter, Figures, Kind, Recorder};

/// The hello-world app: one answer for any method and path.
pub fn hello_app() -> Router {
    Router::new().fallback(|| async { "Hello, World!" })
}

/// A hello-world server running in this process until dropped.
#[derive(Debug)]
pub struct InProcessHello {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for InProcessHello {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the hello-world server in this process on `127.0.0.1:0`.
pub async fn start_in_process() -> anyhow::Result<InProcessHello> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot bind the hello-world server")?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let until = stop.clone().cancelled_owned();
    tokio::spawn(async move {
        let _ = axum::serve(listener, hello_app()).with_graceful_shutdown(until).await;
    });
    Ok(InProcessHello { addr, stop })
}

/// A hello-world server in a child process (`seckill bench --serve-hello`), killed on drop.
#[derive(Debug)]
pub struct ChildHello {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    _child: tokio::process::Child,
}

/// Starts the hello-world server as a child of `program`.
pub async fn start_child(program: &std::path::Path) -> anyhow::Result<ChildHello> {
    let mut child = tokio::process::Command::new(program)
        .args(["bench", "--serve-hello"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} bench --serve-hello", program.display()))?;
    let stdout = child.stdout.take().context("the child has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the hello-world child did not say where it listens")??
        .context("the hello-world child exited")?;
    let addr = line.trim().strip_prefix("listening on ").context("unexpected output from the hello-world child")?;
    Ok(ChildHello { addr: addr.parse()?, pid: child.id(), _child: child })
}

/// `seckill bench --serve-hello`: serves the hello world on `127.0.0.1:0`, prints
/// `listening on ADDR`, and stops when standard input closes (its parent went away).
pub async fn serve_hello_until_stdin_closes() -> anyhow::Result<()> {
    let server = start_in_process().await?;
    println!("listening on {}", server.addr);
    let mut stdin = tokio::io::stdin();
    let mut sink = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await;
    drop(server);
    Ok(())
}

/// Loads `endpoint` for `duration` over `connections` connections with requests shaped like
/// the rush's orders (method, headers, body and token sizes); answers count whatever their
/// status.
/// `server_pid` is the hello world's process, for its processor time.
pub(crate) async fn load(
    endpoint: Arc<Endpoint>,
    connections: usize,
    duration: Duration,
    server_pid: Option<u32>,
) -> Figures {
    let conns = Conn::open_many(&endpoint, connections).await;
    let t0 = Instant::now();
    let deadline = t0 + duration;
    let recorder = Arc::new(Recorder::new(t0));
    let cpu = CpuMeter::start(server_pid);
    let body = Bytes::from(format!(
        r#"{{"sku_id":12,"quantity":1,"address_id":345678,"pay_type":"online","purchase_token":"{}"}}"#,
        "x".repeat(78)
    ));
    let session =
        HeaderValue::from_str(&format!("Bearer {}", "s".repeat(76))).unwrap_or_else(|_| HeaderValue::from_static(""));
    let workers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(w, mut conn)| {
            let (recorder, body, session) = (recorder.clone(), body.clone(), session.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let key = format!("hello-{w}-{n}");
                    let call = Call {
                        method: Method::POST,
                        path: "/api/activities/1/orders",
                        auth: Some(&session),
                        idempotency_key: Some(&key),
                        json: Some(body.clone()),
                    };
                    let started = Instant::now();
                    match conn.send(call).await {
                        Ok(a) => {
                            let done = Instant::now();
                            recorder.answer(w, Kind::Hello, a.status, "", done - started, done);
                        }
                        Err(_) => {
                            recorder.failure(w, Kind::Hello);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(workers).await;
    let elapsed = t0.elapsed();
    let mut figures = recorder.finish().figures(elapsed);
    figures.cpu = cpu.finish(figures.requests);
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_hello_world_answers_any_request_and_is_loaded_like_the_rush() {
        let hello = start_in_process().await.unwrap();
        let endpoint = Endpoint::resolve(&format!("http://{}", hello.addr)).await.unwrap();
        let figures = load(endpoint, 4, Duration::from_millis(300), Some(std::process::id())).await;
        assert!(figures.requests > 0);
        assert_eq!(figures.failures, 0);
        assert_eq!(figures.answers.len(), 1, "{:?}", figures.answers);
        assert!(figures.answers.contains_key("hello 200"));
        assert!(figures.req_per_sec > 0.0);
        assert!(figures.cpu.is_some_and(|c| c.driver_secs.is_none()), "in-process: one process");
    }
}
