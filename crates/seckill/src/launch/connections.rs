//! Serving HTTP/1.1 connections with bounds on slow clients.
//!
//! `axum::serve` sets no hyper timer: a client that sends half a request head, or a shorter
//! body than it announced, holds its connection (and, for the body, a handler) forever. [`serve`]
//! is the same accept loop with two bounds:
//! - the request head (request line and headers) must arrive within [`Timeouts::header`] —
//!   hyper's `header_read_timeout`, which also closes a keep-alive connection idle that long;
//! - a request body must arrive in full within [`Timeouts::body`] of its first read, else
//!   reading it fails and the extractor answers `400 BAD_REQUEST` in the API's JSON shape.
//!   A whole-body deadline, not an idle one: a client trickling a byte now and then is cut off
//!   too (tower-http's `RequestBodyTimeoutLayer` restarts its timer at every frame).
//!
//! Otherwise it serves as `axum::serve` did: HTTP/1.1 only (the build has no HTTP/2), no
//! `TCP_NODELAY`, the client address in every request as `ConnectInfo<SocketAddr>` (per-IP
//! limits, login throttling), and a graceful stop — no new connections, idle ones closed,
//! requests in flight finished. Dropping the future drops every connection with it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How long a client may take to send its requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// The request line and headers, from the first read of a request (for a keep-alive
    /// connection, from the end of the previous answer); beyond, the connection is closed.
    pub header: Duration,
    /// The whole body, from its first read; beyond, reading it fails.
    pub body: Duration,
}

/// First pause after an accept error that is not about one connection (`EMFILE`, `ENFILE`,
/// `ENOBUFS`…): doubled at each error in a row up to [`ACCEPT_BACKOFF_MAX`], so a process out of
/// descriptors neither spins nor stops serving once some are freed.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts connections on `listener` and serves `router` on each until `stop` is cancelled,
/// then stops gracefully: closes the listener, lets every connection finish the request it is
/// serving, and returns when all are closed. Never fails: accept errors are logged and retried.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(timeouts.header);
    let graceful = GracefulShutdown::new();
    // Owned here, so dropping this future (a stop that ran out of patience) drops them all.
    let mut connections = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = ended
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a connection task panicked");
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            // The client gave up before we accepted: nothing wrong with the listener.
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "a connection was lost before it was accepted");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot accept connections");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(|body| Body::new(DeadlineBody::new(body, timeouts.body)));
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        }));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            // A client that hangs up or times out is routine, not a server problem.
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    // Refuse new connections at once rather than leave them queued in the backlog.
    drop(listener);
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// A request body that fails with [`BodyTimeout`] unless it has arrived in full within `limit`
/// of its first read. A body that is all there already (most small JSON bodies arrive with the
/// head) never arms a timer.
#[derive(Debug)]
struct DeadlineBody<B> {
    inner: B,
    limit: Duration,
    /// Set at the first read.
    deadline: Option<Instant>,
    /// Armed the first time the body has to wait for the client.
    timer: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl<B> DeadlineBody<B> {
    fn new(inner: B, limit: Duration) -> Self {
        DeadlineBody { inner, limit, deadline: None, timer: None, expired: false }
    }
}

/// The body did not arrive in full in time. Its text ends up in the `400 BAD_REQUEST` answer.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in full within {} ms", .limit.as_millis())]
struct BodyTimeout {
    limit: Duration,
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        let limit = this.limit;
        let deadline = *this.deadline.get_or_insert_with(|| Instant::now() + limit);
        // What has arrived is delivered first; the deadline matters only while waiting. A client
        // sending faster than the handler reads is not slow.
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.expired = true;
        tracing::debug!(?limit, "a request body did not arrive in time");
        Poll::Ready(Some(Err(Box::new(BodyTimeout { limit }))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that sends one byte every `every`, forever: a client trickling its body.
    struct Trickle {
        every: Duration,
        next: Pin<Box<Sleep>>,
    }

    impl Trickle {
        fn new(every: Duration) -> Self {
            Trickle { every, next: Box::pin(tokio::time::sleep(every)) }
        }
    }

    impl HttpBody for Trickle {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            std::task::ready!(self.next.as_mut().poll(cx));
            let every = self.every;
            self.next.as_mut().reset(Instant::now() + every);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
        }
    }

    /// Reads `body` to its end: the frames read, and the error that ended it, if any.
    async fn read_all<B: HttpBody + Unpin>(mut body: B) -> (usize, Option<B::Error>) {
        let mut frames = 0;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => return (frames, None),
                Some(Ok(_)) => frames += 1,
                Some(Err(e)) => return (frames, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn a_body_trickling_in_is_cut_off_at_the_whole_body_deadline() {
        // A byte every 10 ms would keep an idle timeout of 150 ms from ever firing.
        let body = DeadlineBody::new(Trickle::new(Duration::from_millis(10)), Duration::from_millis(150));
        let (frames, error) = tokio::time::timeout(Duration::from_secs(10), read_all(body))
            .await
            .unwrap_or_else(|_| panic!("the deadline never cut the body off"));
        let error = error.unwrap_or_else(|| panic!("a body that never ends must time out"));
        assert!(error.is::<BodyTimeout>(), "{error}");
        assert_eq!(error.to_string(), "the request body did not arrive in full within 150 ms");
        assert!(frames >= 1, "what arrived before the deadline was delivered");
    }

    #[tokio::test]
    async fn a_body_that_is_all_there_is_delivered_whole_without_arming_a_timer() {
        let mut body = DeadlineBody::new(Body::from("{\"a\": 1}"), Duration::from_millis(1));
        let (frames, error) = read_all(&mut body).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(frames, 1);
        assert!(body.timer.is_none());
        assert!(body.is_end_stream());
    }
}
