//! The HTTP face of seckill: axum routers, auth, errors, metrics and the OpenAPI document.
//!
//! [`app`] merges three routers over one [`AppState`]:
//! - the public API ([`api`]): probes and operations, shoppers' accounts, the catalog of
//!   activities, and the rush ([`rush`]: reservations, purchase tokens, orders, tickets, the
//!   live status);
//! - the operators' API ([`admin`]) behind an admin-token `route_layer`;
//! - the pages ([`pages`], a later issue).
//!
//! Orders after the rush: [`payments`] (the gateway port, the sandbox provider and its
//! callback) and [`workers`] (the timeout sweep and the stock-return relay).
//!
//! Supporting modules: [`state`] (the state and its `FromRef` substates, [`ServerConfig`]),
//! [`error`] (the one [`AppError`] that knows HTTP), [`extract`] (extractors
//! that answer malformed input with the JSON error shape), [`auth`] (passwords, session tokens,
//! the `Shopper`/`AdminSession` extractors, login throttling), [`sale`] (an activity's state and
//! units left at an instant, behind the swappable [`StockLevels`](sale::StockLevels) port),
//! [`dto`] (shared request/response shapes), [`telemetry`] (request metrics), [`openapi`].
//!
//! This crate depends on `seckill-domain` and `seckill-store` only — never on a backend crate:
//! handlers talk to the ports, so no handler can reach SQL by construction.

pub mod admin;
pub mod api;
pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod pages;
pub mod payments;
pub mod rush;
pub mod sale;
pub mod state;
pub mod telemetry;
pub mod workers;

use std::any::Any;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use auth::PasswordCost;
pub use rush::{RushConfig, RushPorts};
pub use state::{AppState, ServerConfig};
pub use telemetry::metrics_handle;

use crate::error::{AppError, ErrorBody, ErrorDetail};

/// Largest request body accepted (`413 PAYLOAD_TOO_LARGE` beyond): 64 KiB.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The whole server: every router merged, every layer applied, the state given. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so login throttling sees client
/// addresses.
pub fn app(state: AppState) -> Router {
    routes(state.auth.clone()).with_state(state)
}

/// Every route and layer, the admin routes gated by `auth`; [`app`] gives it the state.
pub(crate) fn routes(auth: auth::Auth) -> Router<AppState> {
    let gate = middleware::from_fn_with_state(auth, auth::require_admin);
    let (routes, _) = openapi::routes(|admin| admin.route_layer(gate)).split_for_parts();
    finish(routes.merge(pages::routes()))
}

/// JSON answers for unknown routes and methods, then the layers every route shares (outer to
/// inner): tracing, metrics (which see the matched route), JSON for any plain-text error a
/// layer produced, the body limit, panics become `500` JSON.
///
/// They go on as *one* layer: `Router::layer` wraps every route in a boxed service per layer,
/// and a request then clones each box and boxes each future on its way in — six layers were a
/// dozen allocations per request, a tenth of a sold-out answer's cost.
pub(crate) fn finish<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // Install the process-wide recorder before the first request is counted: the metrics
    // layer keeps the handles it registers, and ones made before would count nowhere.
    let _ = metrics_handle();
    router.fallback(unknown_route).method_not_allowed_fallback(|| async { AppError::MethodNotAllowed }).layer(
        tower::ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(middleware::from_fn::<_, (axum::extract::Request,)>(telemetry::track))
            .layer(middleware::map_response::<_, ()>(json_errors))
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
            .layer(CatchPanicLayer::custom(panic_response)),
    )
}

/// An unknown path: the API's JSON `404`, or — for a browser navigating outside `/api/` — the
/// shop's 404 page, so a mistyped or stale link shows people a page with a way back.
async fn unknown_route(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let navigating =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if navigating && !uri.path().starts_with("/api/") {
        pages::not_found_page("页面不存在")
    } else {
        AppError::not_found("route").into_response()
    }
}

/// A handler panicked: the cause goes to the log, the client gets the opaque 500.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let cause = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    AppError::Internal(format!("handler panicked: {cause}")).into_response()
}

/// Replaces a non-JSON error answer made outside our handlers (a layer's plain-text `413`, a
/// stray `404`) with the API's JSON shape, keeping its status and other headers.
async fn json_errors<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = response.map(axum::body::Body::new);
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Our own answers: JSON for the API, and HTML error pages for people (the 404 page).
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if ours {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Some(AppError::PayloadTooLarge),
        StatusCode::NOT_FOUND => Some(AppError::not_found("route")),
        StatusCode::METHOD_NOT_ALLOWED => Some(AppError::MethodNotAllowed),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Some(AppError::UnsupportedMediaType),
        StatusCode::UNAUTHORIZED => Some(AppError::Unauthenticated),
        StatusCode::FORBIDDEN => Some(AppError::Forbidden),
        _ => None,
    };
    let (mut parts, _) = response.into_parts();
    let body = match error {
        Some(e) => e.body(),
        None => {
            let reason = status.canonical_reason().unwrap_or("error");
            let code = if status.is_server_error() && status == StatusCode::INTERNAL_SERVER_ERROR {
                "INTERNAL".to_owned()
            } else {
                reason
                    .chars()
                    .filter_map(|c| match c {
                        ' ' | '-' => Some('_'),
                        c if c.is_ascii_alphanumeric() => Some(c.to_ascii_uppercase()),
                        _ => None,
                    })
                    .collect()
            };
            ErrorBody { error: ErrorDetail { code, message: reason.to_lowercase(), fields: None } }
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let json = axum::Json(body).into_response().into_body();
    Response::from_parts(parts, json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("the secret is 42")
    }

    fn tiny() -> Router {
        finish(
            Router::new()
                .route("/things/{id}", get(|Path(id): Path<String>| async move { id }))
                .route("/boom", get(boom))
                .route("/teapot", get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") })),
        )
    }

    async fn send(router: Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let r = router.oneshot(req).await.unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[test]
    fn the_whole_router_builds_without_overlapping_routes() {
        let config = ServerConfig {
            tz: jiff::tz::TimeZone::UTC,
            secret: vec![7; 32],
            session_ttl: std::time::Duration::from_secs(60),
            password_cost: PasswordCost::FastInsecureForTests,
            secure_cookies: false,
            rate_limits: true,
            rush: RushConfig::default(),
            base_url: "http://127.0.0.1:8080".into(),
            pages_dir: None,
        };
        let clock = std::sync::Arc::new(seckill_domain::clock::SystemClock);
        let _ = routes(auth::Auth::new(&config, clock));
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_answer_json() {
        let (s, body) = send(tiny(), Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
        let (s, body) = send(tiny(), Request::delete("/things/1").body(Body::empty()).unwrap()).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (405, Some("METHOD_NOT_ALLOWED")));
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_the_opaque_500() {
        let (s, body) = send(tiny(), Request::get("/boom").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "INTERNAL");
        assert!(!body.to_string().contains("42"));
    }

    #[tokio::test]
    async fn plain_text_errors_from_anywhere_become_the_json_shape() {
        let (s, body) = send(tiny(), Request::get("/teapot").body(Body::empty()).unwrap()).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (418, Some("IM_A_TEAPOT")));
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_timed_in_buckets() {
        let router = tiny();
        let _ = metrics_handle();
        for uri in ["/things/7", "/things/8", "/definitely/not/here"] {
            let _ = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        }
        let text = telemetry::render();
        assert!(
            text.lines().any(|l| l.starts_with("http_requests_total{")
                && l.contains(r#"route="/things/{id}""#)
                && l.contains(r#"method="GET""#)
                && l.contains(r#"status="200""#)),
            "{text}"
        );
        assert!(text.contains(r#"route="unmatched""#), "{text}");
        assert!(!text.contains("/things/7"), "raw paths must not become labels");
        assert!(
            text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/things/{id}",le="0.0001"}"#),
            "{text}"
        );
        assert!(text.contains(r#"le="5"}"#), "{text}");
    }
}
