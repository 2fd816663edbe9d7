//! The load connections: one HTTP/1.1 keep-alive connection per virtual-user worker, driven
//! with hyper's low-level client (no pool, no per-request allocation beyond the request), so
//! the client costs as little of the shared cores as it can. A broken connection is dropped and
//! opened again on the next request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// No answer within this long is a failed request (and the connection is replaced).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the requests go.
#[derive(Debug)]
pub(crate) struct Endpoint {
    addr: SocketAddr,
    host: HeaderValue,
}

impl Endpoint {
    /// The endpoint of `http://host:port` (resolved once).
    pub(crate) async fn resolve(base_url: &str) -> anyhow::Result<Arc<Endpoint>> {
        let rest = base_url.strip_prefix("http://").context("only http:// servers can be loaded")?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let with_port = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} resolves to no address"))?;
        let host = HeaderValue::from_str(authority).with_context(|| format!("bad host {authority:?}"))?;
        Ok(Arc::new(Endpoint { addr, host }))
    }
}

/// An answer: status, `Retry-After` and the whole body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {REQUEST_TIMEOUT:?}")]
    Timeout,
}

/// One request to send.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    /// `Authorization` value (`Bearer …`).
    pub auth: Option<&'a HeaderValue>,
    pub idempotency_key: Option<&'a str>,
    /// A JSON body.
    pub json: Option<Bytes>,
}

/// One keep-alive HTTP/1.1 connection, opened on first use and again after a failure.
#[derive(Debug)]
pub(crate) struct Conn {
    endpoint: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub(crate) fn new(endpoint: Arc<Endpoint>) -> Self {
        Conn { endpoint, sender: None }
    }

    /// A connection opened now, so its handshake is not timed with its first request (a
    /// failure is left for the first request to retry).
    pub(crate) async fn open(endpoint: Arc<Endpoint>) -> Self {
        let mut conn = Conn::new(endpoint);
        conn.sender = conn.connect().await.ok();
        conn
    }

    /// `n` connections opened now, a few dozen handshakes at a time (a thousand at once would
    /// overflow the listener's backlog and cost a one-second SYN retry).
    pub(crate) async fn open_many(endpoint: &Arc<Endpoint>, n: usize) -> Vec<Conn> {
        use futures::StreamExt as _;
        futures::stream::iter(0..n).map(|_| Conn::open(endpoint.clone())).buffer_unordered(32).collect().await
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = TcpStream::connect(self.endpoint.addr).await.map_err(Failure::Connect)?;
        stream.set_nodelay(true).map_err(Failure::Connect)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's I/O runs beside the worker; it ends when the sender is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends `call` and reads the whole answer.
    pub(crate) async fn send(&mut self, call: Call<'_>) -> Result<Answer, Failure> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(call)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn exchange(&mut self, call: Call<'_>) -> Result<Answer, Failure> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        let mut request = Request::builder().method(call.method).uri(call.path).header(HOST, &self.endpoint.host);
        if let Some(auth) = call.auth {
            request = request.header(AUTHORIZATION, auth);
        }
        if let Some(key) = call.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let body = match call.json {
            Some(json) => {
                request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                json
            }
            None => Bytes::new(),
        };
        // Our own method, path and header values: always a valid request.
        let request = request.body(Full::new(body)).unwrap_or_else(|e| unreachable!("a valid request: {e}"));
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        let retry_after = parts
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Keep the connection unless the server asked to close it.
        let closing =
            parts.headers.get(hyper::header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !closing {
            self.sender = Some(sender);
        }
        Ok(Answer { status: parts.status.as_u16(), retry_after, body })
    }
}

/// The `error.code` of an API error body, as one of the codes the API defines (`"OTHER"` for
/// anything else), without parsing the whole JSON.
pub(crate) fn error_code(body: &[u8]) -> &'static str {
    const NEEDLE: &[u8] = b"\"code\":\"";
    let Some(at) = body.windows(NEEDLE.len()).position(|w| w == NEEDLE) else { return "" };
    let rest = &body[at + NEEDLE.len()..];
    let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
    let code = &rest[..end];
    KNOWN_CODES.iter().find(|c| c.as_bytes() == code).copied().unwrap_or("OTHER")
}

/// Every error code of API.md.
const KNOWN_CODES: &[&str] = &[
    "SOLD_OUT",
    "LIMIT_EXCEEDED",
    "NOT_STARTED",
    "PAUSED",
    "ENDED",
    "DISABLED",
    "QUANTITY_TOO_LARGE",
    "NOT_RESERVED",
    "LEVEL_TOO_LOW",
    "BAD_PURCHASE_TOKEN",
    "UNKNOWN_SKU",
    "UNKNOWN_ADDRESS",
    "RATE_LIMITED",
    "OVERLOADED",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_REQUEST",
    "VALIDATION_FAILED",
    "RESERVATION_CLOSED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "METHOD_NOT_ALLOWED",
    "INTERNAL",
    "UNAVAILABLE",
    "BAD_ORDER_STATE",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_without_parsing_the_body() {
        assert_eq!(error_code(br#"{"error":{"code":"SOLD_OUT","message":"x"}}"#), "SOLD_OUT");
        assert_eq!(error_code(br#"{"error":{"code":"MADE_UP","message":"x"}}"#), "OTHER");
        assert_eq!(error_code(br#"{"order":{"id":1}}"#), "");
        assert_eq!(error_code(br#"{"error":{"code":"RATE_LIMI"#), "OTHER");
    }
}
