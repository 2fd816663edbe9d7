//! Payments: the [`PaymentGateway`] port, the shipped [`SandboxGateway`], the provider's
//! callback `POST /api/payments/notify`, and the sandbox's own pay page.
//!
//! The sandbox behaves like a real provider: it shows a page where the payer confirms or
//! fails (`/pay/{payment_id}`), and on confirm it POSTs a notification to the shop's callback
//! over real HTTP, signed with HMAC-SHA256 (`X-Seckill-Signature`, hex) and retried until the
//! shop acknowledges it with a 2xx. The callback checks the signature in constant time, then
//! the amount and order, and applies the notification once: replays change nothing, and money
//! for an order cancelled meanwhile is recorded as `refund_needed` without resurrecting it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use seckill_domain::ids::{OrderId, PaymentId};
use seckill_domain::money::Money;
use seckill_domain::payment::{Payment, PaymentOutcome, PaymentStatus};
use seckill_domain::token::MacKey;
use seckill_store::Records;
use seckill_store::orders::{NoticeEffect, PaymentNotice};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::PathId;
use crate::state::AppState;

/// The header carrying a notification's signature: lower-case hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "x-seckill-signature";
/// Delivery attempts of one notification before the sandbox gives up (the shop can still be
/// paid by a new attempt).
const DELIVERY_ATTEMPTS: u32 = 8;

/// A payment provider as the shop sees it.
pub trait PaymentGateway: Send + Sync + fmt::Debug + 'static {
    /// The provider's name, stored on each payment.
    fn provider(&self) -> &'static str;
    /// Where the shopper goes to pay.
    fn pay_url(&self, payment: &Payment) -> String;
    /// Whether a notification body really comes from this provider (constant-time check).
    fn verify(&self, body: &[u8], signature: &str) -> bool;
}

/// What the sandbox provider sends to the shop.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub payment_id: i64,
    pub order_id: i64,
    pub amount_cents: i64,
    /// `succeeded` or `failed`.
    #[schema(value_type = String, example = "succeeded")]
    pub status: PaymentOutcome,
    /// The provider's own reference.
    pub provider_ref: String,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: Timestamp,
}

/// The sandbox provider, part of this server.
#[derive(Clone)]
pub struct SandboxGateway {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    base_url: String,
    key: MacKey,
    client: reqwest::Client,
}

impl fmt::Debug for SandboxGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxGateway").field("base_url", &self.inner.base_url).finish_non_exhaustive()
    }
}

impl SandboxGateway {
    /// The sandbox of a shop reachable at `base_url`, signing with a key derived from `secret`.
    pub fn new(base_url: &str, secret: &[u8]) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        SandboxGateway {
            inner: Arc::new(SandboxInner {
                base_url: base_url.trim_end_matches('/').to_owned(),
                key: MacKey::derive(secret, "sandbox-payments"),
                client,
            }),
        }
    }

    /// Signs a notification body as the provider does.
    pub fn sign(&self, body: &[u8]) -> String {
        self.inner.key.sign_hex(body)
    }

    fn notify_url(&self) -> String {
        format!("{}/api/payments/notify", self.inner.base_url)
    }

    /// Sends one signed notification and says what became of it.
    async fn deliver(&self, body: &[u8]) -> Delivery {
        let request = self
            .inner
            .client
            .post(self.notify_url())
            .header(header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, self.sign(body))
            .body(body.to_vec());
        match request.send().await {
            Ok(r) if r.status().is_success() => Delivery::Acknowledged,
            Ok(r) => {
                tracing::warn!(status = %r.status(), "the shop did not take a sandbox notification");
                // A refusal (bad signature, no such payment) will not get better by retrying;
                // a timeout, a rate limit or a server error may.
                let status = r.status();
                if status.is_client_error()
                    && status != reqwest::StatusCode::REQUEST_TIMEOUT
                    && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    Delivery::Refused
                } else {
                    Delivery::Retry
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "sandbox notification not delivered");
                Delivery::Retry
            }
        }
    }

    /// The payer decided on the sandbox page: notify the shop like a provider would — now,
    /// and if that fails, again with backoff in the background. `true` if the first attempt
    /// was acknowledged.
    pub async fn settle(&self, payment: &Payment, outcome: PaymentOutcome, now: Timestamp) -> bool {
        let notification = Notification {
            payment_id: payment.id.get(),
            order_id: payment.order_id.get(),
            amount_cents: payment.amount.cents(),
            status: outcome,
            provider_ref: format!("sbx_{}_{}", payment.id, now.as_millisecond()),
            sent_at: now,
        };
        let Ok(body) = serde_json::to_vec(&notification) else { return false };
        match self.deliver(&body).await {
            Delivery::Acknowledged => return true,
            Delivery::Refused => return false,
            Delivery::Retry => {}
        }
        let gateway = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(500);
            for _ in 1..DELIVERY_ATTEMPTS {
                tokio::time::sleep(wait).await;
                if gateway.deliver(&body).await != Delivery::Retry {
                    return;
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            tracing::error!(payment_id = notification.payment_id, "gave up notifying the shop of a sandbox payment");
        });
        false
    }
}

/// What became of one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// The shop answered 2xx.
    Acknowledged,
    /// The shop refused it for good (4xx other than 408/429).
    Refused,
    /// Not delivered, or the shop asked to come back later: try again.
    Retry,
}

impl PaymentGateway for SandboxGateway {
    fn provider(&self) -> &'static str {
        "sandbox"
    }

    fn pay_url(&self, payment: &Payment) -> String {
        format!("{}/pay/{}", self.inner.base_url, payment.id)
    }

    fn verify(&self, body: &[u8], signature: &str) -> bool {
        self.inner.key.verify_hex(body, signature.trim())
    }
}

/// A payment as the shopper sees it when starting one.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStarted {
    pub payment_id: i64,
    pub amount_cents: i64,
    /// The provider's page.
    pub pay_url: String,
}

impl PaymentStarted {
    /// The answer for `payment` at `gateway`.
    pub fn new(payment: &Payment, gateway: &dyn PaymentGateway) -> Self {
        PaymentStarted {
            payment_id: payment.id.get(),
            amount_cents: payment.amount.cents(),
            pay_url: gateway.pay_url(payment),
        }
    }
}

/// What the shop did with a notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyAnswer {
    /// `paid`, `failed`, `refund_needed` or `replayed`.
    #[schema(example = "paid")]
    pub result: &'static str,
    pub order_id: i64,
    /// The order's status now.
    pub order_status: String,
}

/// `POST /api/payments/notify`: the provider's callback. Bad signature `401 BAD_SIGNATURE`;
/// replays are harmless.
#[utoipa::path(post, path = "/api/payments/notify", operation_id = "payments_notify", tag = "payments",
    request_body = Notification,
    params(("X-Seckill-Signature" = String, Header, description = "hex HMAC-SHA256 of the body with the provider key")),
    responses(
        (status = 200, description = "applied (or replayed)", body = NotifyAnswer),
        (status = 400, description = "BAD_REQUEST", body = ErrorBody),
        (status = 401, description = "BAD_SIGNATURE", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such payment", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED: amount or order does not match", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<NotifyAnswer>, AppError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !state.gateway.verify(&body, signature) {
        return Err(AppError::BadSignature);
    }
    let n: Notification = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!("invalid notification: {}", crate::extract::plain(&e.to_string())))
    })?;
    let notice = PaymentNotice {
        payment_id: PaymentId::try_from(n.payment_id).map_err(|_| AppError::not_found("payment"))?,
        order_id: OrderId::try_from(n.order_id).map_err(|_| AppError::not_found("order"))?,
        amount: Money::parse_cents(n.amount_cents)
            .map_err(|_| AppError::BadRequest("amount_cents out of range".into()))?,
        outcome: n.status,
        provider_ref: n.provider_ref.chars().take(128).collect(),
    };
    let outcome = state
        .records
        .orders
        .record_payment_notice(&notice, state.now())
        .await
        .or_not_found(|| format!("payment {}", n.payment_id))?;
    let result = match outcome.effect {
        NoticeEffect::Paid => "paid",
        NoticeEffect::Failed => "failed",
        NoticeEffect::RefundNeeded => {
            tracing::warn!(
                payment_id = n.payment_id,
                order_id = n.order_id,
                "money arrived for an order that is no longer payable; refund needed"
            );
            "refund_needed"
        }
        NoticeEffect::Replayed => "replayed",
    };
    metrics::counter!("seckill_payment_notifications_total", "result" => result).increment(1);
    Ok(Json(NotifyAnswer {
        result,
        order_id: outcome.order.id.get(),
        order_status: outcome.order.status.as_str().to_owned(),
    }))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

async fn payment_of(records: &Records, id: PaymentId) -> Result<Payment, AppError> {
    records.orders.payment(id).await.or_not_found(|| format!("payment {id}"))
}

/// `GET /pay/{payment_id}`: the sandbox provider's page (a page for people, so an unknown
/// payment is the HTML 404 page, not the API's JSON).
pub async fn pay_page(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    let Some(id) = crate::pages::id_in_path::<PaymentId>(&raw) else {
        return crate::pages::not_found_page("没有这笔支付");
    };
    match payment_of(&state.records, id).await.and_then(|p| crate::pages::render_pay_page(&p)) {
        Ok(page) => Html(page).into_response(),
        Err(AppError::NotFound(_)) => crate::pages::not_found_page("没有这笔支付"),
        Err(e) => e.into_response(),
    }
}

/// The sandbox's answer to the payer's decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxDecision {
    pub payment_id: i64,
    /// The payment's status at the shop after the notification (`created` while it is still
    /// being delivered).
    #[schema(value_type = String, example = "succeeded")]
    pub status: PaymentStatus,
    pub notified: bool,
}

async fn decide(
    state: &AppState,
    id: PaymentId,
    outcome: PaymentOutcome,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let payment = payment_of(&state.records, id).await?;
    let notified = if payment.status.is_open() {
        match &state.sandbox {
            Some(sandbox) => sandbox.settle(&payment, outcome, state.now()).await,
            None => return Err(AppError::not_found("sandbox gateway")),
        }
    } else {
        true
    };
    let payment = payment_of(&state.records, id).await?;
    if wants_json(headers) {
        let body = SandboxDecision { payment_id: payment.id.get(), status: payment.status, notified };
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    Ok(Html(crate::pages::render_pay_result(&payment, notified)?).into_response())
}

/// `POST /pay/{payment_id}/confirm`: the payer pays (form or JSON, no body needed).
pub async fn confirm(
    State(state): State<AppState>,
    PathId(id): PathId<PaymentId>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    decide(&state, id, PaymentOutcome::Succeeded, &headers).await
}

/// `POST /pay/{payment_id}/fail`: the payer's payment fails.
pub async fn fail(
    State(state): State<AppState>,
    PathId(id): PathId<PaymentId>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    decide(&state, id, PaymentOutcome::Failed, &headers).await
}
