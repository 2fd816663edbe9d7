//! Probes and operations: liveness, readiness, metrics, the server clock, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Unit};
use seckill_domain::clock::SharedClock;
use seckill_store::Records;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::Status;
use crate::error::{AppError, ErrorBody};
use crate::rush::Rush;

/// `GET /healthz`: the process lives.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "ops", responses((status = 200, description = "alive", body = Status)))]
#[tracing::instrument(skip_all)]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// `GET /readyz`: the records answer, and so does the hot state (Redis, in the cluster shape).
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "ops", responses(
    (status = 200, description = "ready", body = Status),
    (status = 503, description = "NOT_READY", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn readyz(State(records): State<Records>, State(rush): State<Rush>) -> Result<Json<Status>, AppError> {
    let checked = match records.health.ping().await {
        Ok(()) => rush.gate().ping().await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(()) => Ok(Json(Status { status: "ready" })),
        Err(e) => Err(AppError::NotReady(e.to_string())),
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
))]
#[tracing::instrument(skip_all)]
pub async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::telemetry::render())
}

/// The server's clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerTime {
    /// Now, RFC 3339 UTC, millisecond precision.
    #[schema(value_type = String, format = DateTime)]
    pub now: Timestamp,
    /// The shop's time zone (`SECKILL_TIMEZONE`, an IANA name): time slots are in it, and the
    /// pages show every time in it. Absent for a zone without a name (a bare offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The zone the shop's time slots and pages are in.
#[derive(Debug, Clone)]
pub struct ShopZone(pub TimeZone);

/// `GET /api/time`: the server clock, for countdowns, and the shop's zone. Never cached.
#[utoipa::path(get, path = "/api/time", operation_id = "time", tag = "ops", responses((status = 200, description = "now", body = ServerTime)))]
#[tracing::instrument(skip_all)]
pub async fn time(State(clock): State<SharedClock>, State(ShopZone(zone)): State<ShopZone>) -> impl IntoResponse {
    let now = clock.now();
    let now = now.round(Unit::Millisecond).unwrap_or(now);
    let timezone = zone.iana_name().map(str::to_owned);
    ([(header::CACHE_CONTROL, "no-store")], Json(ServerTime { now, timezone }))
}

/// `GET /api/openapi.json`: this API's OpenAPI 3 description, generated from the handlers.
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi", tag = "ops", responses(
    (status = 200, description = "the OpenAPI document", content_type = "application/json"),
))]
#[tracing::instrument(skip_all)]
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::json())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use jiff::SignedDuration;
    use seckill_domain::clock::ManualClock;
    use tower::ServiceExt;

    use super::*;

    async fn body(r: axum::response::Response) -> serde_json::Value {
        serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn healthz_says_ok() {
        let app: Router = Router::new().route("/healthz", get(healthz));
        let r = app.oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(body(r).await, serde_json::json!({"status": "ok"}));
    }

    /// What `/api/time` reads: a clock and a zone.
    #[derive(Clone)]
    struct TimeState(SharedClock, ShopZone);

    impl axum::extract::FromRef<TimeState> for SharedClock {
        fn from_ref(state: &TimeState) -> Self {
            state.0.clone()
        }
    }

    impl axum::extract::FromRef<TimeState> for ShopZone {
        fn from_ref(state: &TimeState) -> Self {
            state.1.clone()
        }
    }

    #[tokio::test]
    async fn the_time_comes_from_the_injected_clock_with_the_shops_zone_and_is_never_cached() {
        let clock = ManualClock::new("2026-11-11T01:59:58.123456Z".parse().unwrap());
        let shared: SharedClock = Arc::new(clock.clone());
        let zone = ShopZone(TimeZone::get("Asia/Shanghai").unwrap());
        let app = Router::new().route("/api/time", get(time)).with_state(TimeState(shared, zone));
        let get = || Request::get("/api/time").body(Body::empty()).unwrap();
        let r = app.clone().oneshot(get()).await.unwrap();
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(body(r).await, serde_json::json!({"now": "2026-11-11T01:59:58.123Z", "timezone": "Asia/Shanghai"}));
        clock.advance(SignedDuration::from_millis(1877));
        let r = app.oneshot(get()).await.unwrap();
        assert_eq!(body(r).await["now"], "2026-11-11T02:00:00Z");
    }

    #[tokio::test]
    async fn a_zone_without_a_name_is_left_out() {
        let shared: SharedClock = Arc::new(ManualClock::new("2026-11-11T00:00:00Z".parse().unwrap()));
        let zone = ShopZone(TimeZone::fixed(jiff::tz::offset(8)));
        let app = Router::new().route("/api/time", get(time)).with_state(TimeState(shared, zone));
        let r = app.oneshot(Request::get("/api/time").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(body(r).await, serde_json::json!({"now": "2026-11-11T00:00:00Z"}));
    }
}
