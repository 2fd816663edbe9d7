//! How connections are served, over raw TCP: a request head or body that does not arrive within
//! the configured bounds (`header_timeout_ms`, `body_timeout_ms`) ends the exchange instead of
//! holding a connection, or a handler, forever; ordinary keep-alive clients are unaffected; every
//! request carries the client's address.

use std::time::Duration;

use seckill_testkit::{AppOptions, TestApp, spawn_app_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The bound a test is about: short, so it ends quickly. Only that one is short: a short
/// header bound also closes idle keep-alive connections, and the test's own HTTP client, pausing
/// on a loaded machine, would race it.
const SHORT: Duration = Duration::from_millis(300);
/// How long a test waits for what must happen before it gives up: a safety net against hanging,
/// not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

async fn app_with_a_short_header_bound() -> TestApp {
    spawn_app_with(AppOptions { configure: |s| s.header_timeout = SHORT, ..AppOptions::default() }).await
}

async fn app_with_a_short_body_bound() -> TestApp {
    spawn_app_with(AppOptions { configure: |s| s.body_timeout = SHORT, ..AppOptions::default() }).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes `stream` (end of stream, or a reset): what it sent before.
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> String {
    let mut sent = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut sent))
        .await
        .unwrap_or_else(|_| panic!("{what}: still open after {PATIENCE:?}"));
    if let Err(e) = read {
        assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted),
            "{what}: {e}"
        );
    }
    String::from_utf8_lossy(&sent).into_owned()
}

/// Reads the next answer off a kept-alive `stream` (`buffer` keeps what was read beyond it): its
/// status and JSON body, delimited by `Content-Length`.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> (u16, Value) {
    let exchange = async {
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
                let length: usize = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("no Content-Length: {head}"));
                let whole = end + 4 + length;
                if buffer.len() >= whole {
                    let body = serde_json::from_slice(&buffer[end + 4..whole])
                        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(buffer)));
                    buffer.drain(..whole);
                    return (status, body);
                }
            }
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection mid-answer: {:?}", String::from_utf8_lossy(buffer));
            buffer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, exchange).await.unwrap_or_else(|_| panic!("no answer within {PATIENCE:?}"))
}

#[tokio::test]
async fn a_connection_that_sends_half_a_request_head_or_nothing_is_closed() {
    let app = app_with_a_short_header_bound().await;
    let mut half = connect(&app).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut silent = connect(&app).await;

    let sent = read_until_closed(&mut half, "half a head").await;
    assert!(!sent.starts_with("HTTP/1.1 2"), "an incomplete request is never answered as whole: {sent:?}");
    let sent = read_until_closed(&mut silent, "a silent connection").await;
    assert!(sent.is_empty(), "{sent:?}");
    // Closing them cost the server nothing else.
    app.get("/healthz", None).await.expect(200);
}

#[tokio::test]
async fn a_request_body_that_stalls_is_answered_400_and_creates_nothing() {
    let app = app_with_a_short_body_bound().await;
    let mut stream = connect(&app).await;
    // A valid start, but 1000 bytes announced and far fewer sent.
    let start = br#"{"username": "slowpoke", "password": "long enough""#;
    let head = "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(start).await.unwrap();

    let (status, body) = read_answer(&mut stream, &mut Vec::new()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "BAD_REQUEST", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("the request body did not arrive in full within 300 ms"), "{body}");

    let user = json!({"username": "slowpoke", "password": "long enough"});
    app.post("/api/sessions", &user, None).await.assert_error(401, "BAD_CREDENTIALS");
    app.post("/api/users", &user, None).await.expect(201);
}

#[tokio::test]
async fn a_keep_alive_client_gets_both_of_its_requests_answered_on_one_connection() {
    let app = app_with_a_short_body_bound().await;
    let mut stream = connect(&app).await;
    let mut buffer = Vec::new();

    let user = json!({"username": "keeper", "password": "long enough"}).to_string();
    let post = format!(
        "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{user}",
        user.len()
    );
    stream.write_all(post.as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut stream, &mut buffer).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["username"], "keeper", "{body}");

    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (status, body) = read_answer(&mut stream, &mut buffer).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    assert!(buffer.is_empty(), "{:?}", String::from_utf8_lossy(&buffer));
}

#[tokio::test]
async fn every_request_carries_the_clients_address_for_the_per_address_limits() {
    let app = spawn_app_with(AppOptions { rate_limits: true, ..AppOptions::default() }).await;
    let attempt = |i: usize| json!({"username": format!("nobody{i}"), "password": "not-it-at-all"});
    for i in 0..10 {
        app.post("/api/sessions", &attempt(i), None).await.assert_error(401, "BAD_CREDENTIALS");
    }
    // A name never tried before: only the address's budget can have run out.
    app.post("/api/sessions", &attempt(10), None).await.assert_error(429, "RATE_LIMITED");
}
