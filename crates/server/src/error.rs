//! The one error type that knows HTTP.
//!
//! Every handler answers `Result<_, AppError>`; this module alone turns a failure into a status
//! code, an API.md error `code` and the JSON body
//! `{"error": {"code": "UPPER_SNAKE", "message": "...", "fields"?: {...}}}`. Infrastructure
//! failures become an opaque `500 INTERNAL` whose cause goes to the log, never to the client.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seckill_domain::rejection::Rejection;
use seckill_domain::validation::FieldErrors;
use seckill_store::{Conflict, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request was not answered with success.
#[derive(Debug)]
pub enum AppError {
    /// `400 BAD_REQUEST`: malformed JSON, wrong types, missing fields, bad query or path values.
    BadRequest(String),
    /// `422 VALIDATION_FAILED`, listing what is wrong field by field.
    Validation(FieldErrors),
    /// `415 UNSUPPORTED_MEDIA_TYPE`: a JSON body without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// `413 PAYLOAD_TOO_LARGE`: a body over the limit.
    PayloadTooLarge,
    /// `404 NOT_FOUND`: no such record (or not the caller's), or no such route.
    NotFound(String),
    /// `405 METHOD_NOT_ALLOWED`.
    MethodNotAllowed,
    /// `401 UNAUTHENTICATED`: no token, or an invalid or expired one.
    Unauthenticated,
    /// `403 FORBIDDEN`: a valid token of the wrong kind (a shopper on an admin route).
    Forbidden,
    /// `401 BAD_CREDENTIALS`: the username and password do not match.
    BadCredentials,
    /// `401 BAD_SIGNATURE`: a payment notification whose signature does not verify.
    BadSignature,
    /// `409` with the conflict's own code (`USERNAME_TAKEN`, `SLOT_OVERLAP`, …).
    Conflict(Conflict),
    /// A business "no" with its API.md status and code; `message` overrides the generic text.
    Rejected { rejection: Rejection, message: Option<String> },
    /// `503 NOT_READY`: the records do not answer (readiness probe).
    NotReady(String),
    /// `503 UNAVAILABLE` with `Retry-After: 1`: a dependency cannot answer now.
    Unavailable(String),
    /// `500 INTERNAL`: a bug or corruption. The cause is logged, the client sees nothing of it.
    Internal(String),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, UPPER_SNAKE (`SOLD_OUT`, `VALIDATION_FAILED`, …).
    #[schema(example = "VALIDATION_FAILED")]
    pub code: String,
    /// Human explanation.
    pub message: String,
    /// For `VALIDATION_FAILED`: field → what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// The API.md status of a business rejection.
pub fn rejection_status(rejection: Rejection) -> StatusCode {
    match rejection {
        Rejection::NotReserved | Rejection::LevelTooLow | Rejection::BadPurchaseToken => StatusCode::FORBIDDEN,
        Rejection::UnknownSku | Rejection::UnknownAddress => StatusCode::NOT_FOUND,
        Rejection::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Rejection::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Rejection::NotStarted
        | Rejection::Paused
        | Rejection::Ended
        | Rejection::Disabled
        | Rejection::SoldOut
        | Rejection::LimitExceeded
        | Rejection::QuantityTooLarge
        | Rejection::ReservationClosed
        | Rejection::BadOrderState => StatusCode::CONFLICT,
    }
}

impl AppError {
    /// `404 NOT_FOUND` for a missing thing, named in the message.
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthenticated | AppError::BadCredentials | AppError::BadSignature => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Rejected { rejection, .. } => rejection_status(*rejection),
            AppError::NotReady(_) | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable API.md code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "BAD_REQUEST",
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::BadCredentials => "BAD_CREDENTIALS",
            AppError::BadSignature => "BAD_SIGNATURE",
            AppError::Conflict(c) => c.code(),
            AppError::Rejected { rejection, .. } => rejection.code(),
            AppError::NotReady(_) => "NOT_READY",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::BadRequest(m) => m.clone(),
            AppError::Validation(e) => format!("invalid input: {e}"),
            AppError::UnsupportedMediaType => "expected a body with `Content-Type: application/json`".into(),
            AppError::PayloadTooLarge => format!("the body exceeds {} bytes", crate::BODY_LIMIT_BYTES),
            AppError::NotFound(what) => format!("{} not found", crate::extract::clip(what, 80)),
            AppError::MethodNotAllowed => "method not allowed on this path".into(),
            AppError::Unauthenticated => "sign in first: missing, invalid or expired token".into(),
            AppError::Forbidden => "this token may not use this endpoint".into(),
            AppError::BadCredentials => "wrong username or password".into(),
            AppError::BadSignature => "the notification's signature does not verify".into(),
            AppError::Conflict(c) => c.to_string(),
            AppError::Rejected { rejection, message } => {
                message.clone().unwrap_or_else(|| rejection.describe().to_owned())
            }
            AppError::NotReady(_) => "not ready: the records or the hot state do not answer".into(),
            AppError::Unavailable(_) => "temporarily unavailable; retry shortly".into(),
            AppError::Internal(_) => "internal error".into(),
        }
    }

    fn retry_after_secs(&self) -> Option<u32> {
        match self {
            AppError::Rejected {
                rejection: Rejection::RateLimited { retry_after_secs } | Rejection::Overloaded { retry_after_secs },
                ..
            } => Some((*retry_after_secs).max(1)),
            AppError::Unavailable(_) | AppError::NotReady(_) => Some(1),
            _ => None,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        let fields = match self {
            AppError::Validation(e) => Some(e.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
            _ => None,
        };
        ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message: self.message(), fields } }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(cause) => tracing::error!(%cause, "internal error"),
            AppError::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            AppError::NotReady(cause) => tracing::warn!(%cause, "not ready"),
            _ => {}
        }
        let status = self.status();
        let retry_after = self.retry_after_secs();
        let mut response = match &self {
            // The hot path's "no" (sold out, above all): the same bytes every time, rendered once.
            AppError::Rejected { rejection, message: None } => {
                let body = prerendered(*rejection);
                (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
            }
            _ => (status, axum::Json(self.body())).into_response(),
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The JSON body of a rejection without a message of its own, rendered once per rejection
/// (the retry delay is a header, not part of the body).
fn prerendered(rejection: Rejection) -> axum::body::Bytes {
    static BODIES: std::sync::OnceLock<Vec<(&'static str, axum::body::Bytes)>> = std::sync::OnceLock::new();
    let bodies = BODIES.get_or_init(|| {
        Rejection::ALL
            .iter()
            .map(|r| {
                let body = AppError::from(*r).body();
                (r.code(), axum::body::Bytes::from(serde_json::to_vec(&body).unwrap_or_default()))
            })
            .collect()
    });
    bodies.iter().find(|(code, _)| *code == rejection.code()).map(|(_, b)| b.clone()).unwrap_or_else(|| {
        axum::body::Bytes::from(serde_json::to_vec(&AppError::from(rejection).body()).unwrap_or_default())
    })
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("record".into()),
            StoreError::Conflict(c) => AppError::Conflict(c),
            StoreError::Invalid(fields) => AppError::Validation(fields),
            StoreError::Unavailable(cause) => AppError::Unavailable(cause),
            StoreError::Internal(cause) => AppError::Internal(cause),
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Validation(e)
    }
}

impl From<Conflict> for AppError {
    fn from(c: Conflict) -> Self {
        AppError::Conflict(c)
    }
}

impl From<Rejection> for AppError {
    fn from(rejection: Rejection) -> Self {
        AppError::Rejected { rejection, message: None }
    }
}

/// Turns a store's `NotFound` into a 404 that names the missing thing.
pub trait NotFoundAs<T> {
    /// `StoreError::NotFound` becomes `404 "{what} not found"`; other errors map as usual.
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T, AppError>;
}

impl<T> NotFoundAs<T> for Result<T, StoreError> {
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T, AppError> {
        self.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound(what()),
            other => other.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seckill_domain::ids::{ActivityId, SkuId, SlotId};
    use seckill_domain::order::OrderStatus;

    async fn answer(e: AppError) -> (StatusCode, Option<String>, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let retry = r.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(r.headers().get(header::CONTENT_TYPE).unwrap(), "application/json");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_error_has_its_status_code_and_the_one_body_shape() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::BadRequest("name: invalid type".into()), 400, "BAD_REQUEST"),
            (AppError::Validation(FieldErrors::single("name", "must not be empty")), 422, "VALIDATION_FAILED"),
            (AppError::UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
            (AppError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (AppError::not_found("activity 7"), 404, "NOT_FOUND"),
            (AppError::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
            (AppError::Unauthenticated, 401, "UNAUTHENTICATED"),
            (AppError::Forbidden, 403, "FORBIDDEN"),
            (AppError::BadCredentials, 401, "BAD_CREDENTIALS"),
            (AppError::NotReady("down".into()), 503, "NOT_READY"),
            (AppError::Unavailable("db busy".into()), 503, "UNAVAILABLE"),
            (AppError::Internal("disk on fire".into()), 500, "INTERNAL"),
        ];
        for (e, status, code) in cases {
            let (s, _, body) = answer(e).await;
            assert_eq!(s.as_u16(), status, "{code}");
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{code}");
            let keys: Vec<_> = body.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["error"]);
        }
    }

    #[tokio::test]
    async fn validation_errors_list_their_fields() {
        let mut fields = FieldErrors::new();
        fields.add("name", "must not be empty");
        fields.add("skus[0].stock", "must be between 1 and 100000000");
        let (_, _, body) = answer(AppError::Validation(fields)).await;
        assert_eq!(body["error"]["fields"]["name"], "must not be empty");
        assert_eq!(body["error"]["fields"]["skus[0].stock"], "must be between 1 and 100000000");
        let (_, _, body) = answer(AppError::BadRequest("x".into())).await;
        assert!(body["error"].get("fields").is_none());
    }

    #[tokio::test]
    async fn store_errors_map_to_their_answers_and_internal_causes_stay_hidden() {
        let (s, retry, body) = answer(StoreError::Unavailable("pool timed out".into()).into()).await;
        assert_eq!((s.as_u16(), retry.as_deref()), (503, Some("1")));
        assert!(!body.to_string().contains("pool"));
        let (s, _, body) = answer(StoreError::Internal("CHECK constraint failed: secret row".into()).into()).await;
        assert_eq!(s.as_u16(), 500);
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret"));
        let (s, _, body) = answer(StoreError::NotFound.into()).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
        let (s, _, body) = answer(StoreError::Invalid(FieldErrors::single("brand_id", "does not exist")).into()).await;
        assert_eq!((s.as_u16(), body["error"]["fields"]["brand_id"].as_str()), (422, Some("does not exist")));
        let named = Err::<(), _>(StoreError::NotFound).or_not_found(|| "product 9".into()).unwrap_err();
        assert_eq!(answer(named).await.2["error"]["message"], "product 9 not found");
    }

    #[tokio::test]
    async fn conflicts_answer_409_with_their_own_code() {
        let conflicts = [
            (Conflict::UsernameTaken, "USERNAME_TAKEN"),
            (Conflict::SlotOverlap { slot_id: SlotId::from_raw(1), name: "10点场".into() }, "SLOT_OVERLAP"),
            (Conflict::SlotInUse { activity_id: ActivityId::from_raw(2) }, "SLOT_IN_USE"),
            (Conflict::ProductInActivity { activity_id: ActivityId::from_raw(2) }, "PRODUCT_IN_ACTIVITY"),
            (Conflict::StockBelowSold { sku_id: SkuId::from_raw(3), stock: 1, sold: 2 }, "STOCK_BELOW_SOLD"),
            (Conflict::BadOrderState { status: OrderStatus::Paid }, "BAD_ORDER_STATE"),
        ];
        for (c, code) in conflicts {
            let (s, _, body) = answer(StoreError::Conflict(c).into()).await;
            assert_eq!(s.as_u16(), 409);
            assert_eq!(body["error"]["code"], code);
        }
    }

    #[tokio::test]
    async fn rejections_answer_with_the_api_status_and_retry_after_where_due() {
        for r in Rejection::ALL {
            let (s, retry, body) = answer(r.into()).await;
            assert_eq!(body["error"]["code"], r.code());
            let expected = match r.code() {
                "NOT_RESERVED" | "LEVEL_TOO_LOW" | "BAD_PURCHASE_TOKEN" => 403,
                "UNKNOWN_SKU" | "UNKNOWN_ADDRESS" => 404,
                "RATE_LIMITED" => 429,
                "OVERLOADED" => 503,
                _ => 409,
            };
            assert_eq!(s.as_u16(), expected, "{}", r.code());
            assert_eq!(retry.is_some(), matches!(expected, 429 | 503), "{}", r.code());
        }
        let (_, retry, _) = answer(Rejection::RateLimited { retry_after_secs: 42 }.into()).await;
        assert_eq!(retry.as_deref(), Some("42"));
    }
}
