//! The rush endpoints: reservations (预约), purchase tokens (the hidden path), orders (the hot
//! path), tickets, and the live status every waiting shopper polls.
//!
//! `POST /api/activities/{id}/orders` runs the funnel cheapest check first: the shopper token
//! (no I/O) → per-user and per-address budgets → the activity snapshot (state and window;
//! every SKU sold out answers here, before the body is even parsed) → the body → the per-order
//! limit, the level and the reservation → the purchase token → the SKU and its sold-out flag →
//! the atomic reservation in the hot state → the order writer. Nothing before the reservation
//! touches the records, and no lock is held across an `.await`.
//!
//! Their spans are `debug`, unlike the other handlers': at the default `info` level an `info`
//! span formats its ids into a string for every request — a sixth to a quarter of the server's
//! CPU per sold-out answer in a rush (BENCHMARKS.md) — and nothing inside these handlers logs at `info` or above (an error is
//! logged when the answer is rendered, after the handler's span has closed), so it bought
//! nothing. A test holds them quiet at `info`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use seckill_domain::activity::Activity;
use seckill_domain::ids::{ActivityId, AddressId, SkuId, Ticket};
use seckill_domain::order::{Order, PayType};
use seckill_domain::rejection::Rejection;
use seckill_domain::token::{Audience, Claims};
use seckill_domain::validation::FieldErrors;
use seckill_domain::window::Phase;
use seckill_store::Records;
use seckill_store::rush::{Hold, MAX_IDEMPOTENCY_KEY_LEN, OrderDraft, Placement};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Rush;
use super::snapshot::LiveActivity;
use crate::AppState;
use crate::auth::{ClientIp, Shopper};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiPath, PathId};
use crate::sale::{ActivityState, SaleView, sale_at, sale_in};

/// The header that makes an order request safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The activity for a rush request: from the snapshot (no I/O), else — for activities that
/// ended long ago or never existed — from the records, read once.
enum Found {
    Live(Arc<LiveActivity>),
    Archived(Box<Activity>),
}

async fn find(rush: &Rush, records: &Records, id: ActivityId) -> Result<Found, AppError> {
    if let Some(live) = rush.snapshot().get(id) {
        return Ok(Found::Live(live));
    }
    let activity = records.catalog.activity(id).await.or_not_found(|| format!("activity {id}"))?;
    Ok(Found::Archived(Box::new(activity)))
}

impl Found {
    fn activity(&self) -> &Activity {
        match self {
            Found::Live(l) => &l.activity,
            Found::Archived(a) => a,
        }
    }

    fn phase(&self, rush: &Rush) -> Phase {
        match self {
            Found::Live(l) => l.moment(rush.now(), rush.tz()).phase,
            Found::Archived(a) => a.moment_at(rush.now(), rush.tz()).phase,
        }
    }

    fn view(&self, rush: &Rush) -> SaleView {
        match self {
            Found::Live(l) => sale_in(&l.activity, l.moment(rush.now(), rush.tz()), rush),
            Found::Archived(a) => sale_at(a, rush.now(), rush.tz(), rush),
        }
    }
}

/// The rejection of a phase in which nothing can be bought.
fn closed(phase: Phase) -> Option<Rejection> {
    match phase {
        Phase::Running => None,
        Phase::Upcoming => Some(Rejection::NotStarted),
        Phase::Paused => Some(Rejection::Paused),
        Phase::Ended => Some(Rejection::Ended),
        Phase::Disabled => Some(Rejection::Disabled),
    }
}

/// Counts a business "no" and answers it.
fn reject(rejection: Rejection) -> AppError {
    rejection_counter(rejection).increment(1);
    rejection.into()
}

/// The counter of one rejection code, registered once (not looked up by label per request).
fn rejection_counter(rejection: Rejection) -> &'static metrics::Counter {
    static COUNTERS: std::sync::OnceLock<Vec<(&'static str, metrics::Counter)>> = std::sync::OnceLock::new();
    static NONE: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        // The recorder is installed before the router is built (see `routes`), so these are real.
        Rejection::ALL
            .iter()
            .map(|r| (r.code(), metrics::counter!("seckill_rejections_total", "code" => r.code())))
            .collect()
    });
    counters
        .iter()
        .find(|(code, _)| *code == rejection.code())
        .map(|(_, c)| c)
        .unwrap_or_else(|| NONE.get_or_init(metrics::Counter::noop))
}

/// The level and reservation rules of an activity for one shopper.
fn admitted(rush: &Rush, activity: &Activity, shopper: &Shopper) -> Result<(), AppError> {
    if shopper.level < activity.rules.min_level {
        return Err(reject(Rejection::LevelTooLow));
    }
    if activity.rules.reservation_required && !rush.gate().is_reserved(activity.id, shopper.id) {
        return Err(reject(Rejection::NotReserved));
    }
    Ok(())
}

/// A purchase token and when it stops working.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseToken {
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// `POST /api/activities/{id}/purchase-token`: permission to order, bound to this shopper and
/// activity, for about a minute; issued only while the activity is running (or sold out: stock
/// may come back).
#[utoipa::path(post, path = "/api/activities/{id}/purchase-token", operation_id = "rush_purchase_token", tag = "rush",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "the token", body = PurchaseToken),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 403, description = "LEVEL_TOO_LOW, NOT_RESERVED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NOT_STARTED, PAUSED, ENDED, DISABLED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[tracing::instrument(level = "debug", skip_all, fields(activity_id = %id, user_id = %shopper.id))]
pub async fn purchase_token(
    State(app): State<AppState>,
    shopper: Shopper,
    ClientIp(ip): ClientIp,
    PathId(id): PathId<ActivityId>,
) -> Result<Json<PurchaseToken>, AppError> {
    // One Arc for the whole state, not a clone of every part this handler touches.
    let (rush, records) = (&app.rush, &app.records);
    rush.limits().check(shopper.id, ip).map_err(reject)?;
    let found = find(rush, records, id).await?;
    if let Some(r) = closed(found.phase(rush)) {
        return Err(reject(r));
    }
    admitted(rush, found.activity(), &shopper)?;
    let now = rush.now();
    let ttl = SignedDuration::try_from(rush.config().purchase_token_ttl).unwrap_or(SignedDuration::from_secs(60));
    let expires_at = now.checked_add(ttl).unwrap_or(Timestamp::MAX);
    let claims = Claims {
        audience: Audience::Purchase,
        subject: shopper.id.get(),
        expires_at: expires_at.as_second(),
        level: shopper.level,
        activity: id.get(),
    };
    Ok(Json(PurchaseToken { token: rush.tokens().sign(&claims), expires_at }))
}

/// The body of an order request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderRequest {
    pub sku_id: i64,
    /// Units (default 1), at most the activity's `single_limit`.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// One of the shopper's addresses.
    pub address_id: i64,
    /// `online` (the default).
    #[serde(default)]
    pub pay_type: Option<String>,
    /// From `POST /api/activities/{id}/purchase-token`.
    #[serde(default)]
    pub purchase_token: Option<String>,
}

/// An order as shoppers and operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    /// The reservation this order came from.
    pub ticket: String,
    pub activity_id: i64,
    pub sku_id: i64,
    pub user_id: i64,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
    /// `pending_payment`, `paid`, `shipped`, `completed` or `cancelled`.
    #[schema(example = "pending_payment")]
    pub status: String,
    pub pay_type: String,
    pub address: AddressSnapshotView,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub pay_deadline: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub shipped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
    /// `timeout`, `user` or `admin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_no: Option<String>,
}

/// The address copied onto an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressSnapshotView {
    pub contact: String,
    pub phone: String,
    pub text: String,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        OrderView {
            id: o.id.get(),
            ticket: o.ticket.to_string(),
            activity_id: o.activity_id.get(),
            sku_id: o.sku_id.get(),
            user_id: o.user_id.get(),
            quantity: o.quantity,
            unit_price_cents: o.unit_price.cents(),
            amount_cents: o.amount.cents(),
            status: o.status.as_str().to_owned(),
            pay_type: o.pay_type.as_str().to_owned(),
            address: AddressSnapshotView { contact: o.address.contact, phone: o.address.phone, text: o.address.text },
            created_at: o.created_at,
            pay_deadline: o.pay_deadline,
            paid_at: o.paid_at,
            shipped_at: o.shipped_at,
            closed_at: o.closed_at,
            cancel_reason: o.cancel_reason.map(|r| r.as_str().to_owned()),
            carrier: o.carrier,
            tracking_no: o.tracking_no,
        }
    }
}

/// `201`: the order, durably stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    pub order: OrderView,
}

/// `202`: the stock is held and the order is being written; poll the ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderQueued {
    pub ticket: String,
    #[schema(example = "queued")]
    pub status: &'static str,
}

fn answer(placement: Placement) -> Result<Response, AppError> {
    match placement {
        Placement::Created(order) => {
            Ok((StatusCode::CREATED, Json(OrderCreated { order: OrderView::from(*order) })).into_response())
        }
        Placement::Queued(ticket) => {
            Ok((StatusCode::ACCEPTED, Json(OrderQueued { ticket: ticket.to_string(), status: "queued" }))
                .into_response())
        }
        Placement::Rejected(r) => Err(reject(r)),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
        return Err(AppError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<OrderRequest, AppError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(AppError::UnsupportedMediaType);
    }
    serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("invalid order request: {}", crate::extract::plain(&e.to_string()))))
}

/// `POST /api/activities/{id}/orders`: the hot path. `201` with the order once it is durably
/// stored (embedded shape) or `202` with a ticket (cluster shape); every rejection of API.md in
/// the funnel's order otherwise.
#[utoipa::path(post, path = "/api/activities/{id}/orders", operation_id = "rush_order", tag = "rush",
    params(
        ("id" = i64, Path, description = "activity id"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key returns the first answer"),
    ),
    request_body = OrderRequest,
    responses(
        (status = 201, description = "the order, durably stored", body = OrderCreated),
        (status = 202, description = "the stock is held; the order is being written", body = OrderQueued),
        (status = 400, description = "BAD_REQUEST", body = ErrorBody),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 403, description = "NOT_RESERVED, LEVEL_TOO_LOW, BAD_PURCHASE_TOKEN", body = ErrorBody),
        (status = 404, description = "NOT_FOUND, UNKNOWN_SKU, UNKNOWN_ADDRESS", body = ErrorBody),
        (status = 409, description = "NOT_STARTED, PAUSED, ENDED, DISABLED, SOLD_OUT, LIMIT_EXCEEDED, QUANTITY_TOO_LARGE", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
        (status = 503, description = "OVERLOADED", body = ErrorBody),
    ))]
#[tracing::instrument(level = "debug", skip_all, fields(activity_id = %id, user_id = %shopper.id))]
pub async fn place_order(
    State(app): State<AppState>,
    shopper: Shopper,
    ClientIp(ip): ClientIp,
    PathId(id): PathId<ActivityId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // One Arc for the whole state, not a clone of every part this handler touches.
    let (rush, records) = (&app.rush, &app.records);
    let mut seen = Seen::default();
    let answer = funnel(rush, records, shopper, ip, id, &headers, &body, &mut seen).await;
    // The operators' live figures: a few relaxed atomic increments.
    let stats = rush.stats();
    stats.request(id, seen.sku);
    match &answer {
        Ok(_) if seen.new_order => stats.created(),
        Err(AppError::Rejected { rejection, .. }) => stats.rejected(*rejection),
        _ => {}
    }
    if let Some(sku) = seen.sku
        && rush.gate().remaining(id, sku) == Some(0)
    {
        stats.sold_out(id, sku, rush.now());
    }
    answer
}

/// What [`funnel`] learnt on the way, for the operators' figures.
#[derive(Debug, Default)]
struct Seen {
    /// The SKU, once the body names one.
    sku: Option<SkuId>,
    /// A new order was taken (written, or queued to be): not the first answer of a replayed key.
    new_order: bool,
}

/// The funnel of [`place_order`].
#[allow(clippy::too_many_arguments)]
async fn funnel(
    rush: &Rush,
    records: &Records,
    shopper: Shopper,
    ip: Option<std::net::IpAddr>,
    id: ActivityId,
    headers: &HeaderMap,
    body: &Bytes,
    seen: &mut Seen,
) -> Result<Response, AppError> {
    rush.limits().check(shopper.id, ip).map_err(reject)?;
    let found = find(rush, records, id).await?;
    let Found::Live(live) = found else {
        // Not in the snapshot: ended long ago. Whatever its state, nothing sells.
        return Err(reject(closed(found.phase(rush)).unwrap_or(Rejection::Ended)));
    };
    let now = rush.now();
    if let Some(r) = closed(live.moment(now, rush.tz()).phase) {
        return Err(reject(r));
    }
    let activity = &live.activity;
    // The sold-out short-circuit for the whole activity, answered before the body is parsed —
    // a retry whose idempotency key won gets its first answer back instead (the gate knows).
    let gate = rush.gate();
    let key = idempotency_key(headers)?;
    if gate.sold_out_for(id, shopper.id, key.as_deref()) {
        return Err(reject(Rejection::SoldOut));
    }

    let request = parse_body(headers, body)?;
    let mut invalid = FieldErrors::new();
    let quantity = match request.quantity.unwrap_or(1) {
        q if q < 1 => {
            invalid.add("quantity", "must be at least 1");
            0
        }
        q => u32::try_from(q).unwrap_or(u32::MAX),
    };
    let pay_type = match request.pay_type.as_deref().map(str::trim) {
        None | Some("online") => PayType::Online,
        Some(_) => {
            invalid.add("pay_type", "must be online");
            PayType::Online
        }
    };
    let address_id = AddressId::try_from(request.address_id).map_err(|_| reject(Rejection::UnknownAddress));
    let sku_id = SkuId::try_from(request.sku_id).map_err(|_| reject(Rejection::UnknownSku));
    if !invalid.is_empty() {
        return Err(AppError::Validation(invalid));
    }
    if quantity > activity.rules.single_limit {
        return Err(reject(Rejection::QuantityTooLarge));
    }
    admitted(rush, activity, &shopper)?;
    let token_ok = request.purchase_token.as_deref().is_some_and(|t| {
        rush.tokens()
            .verify(t, Audience::Purchase, now.as_second())
            .is_ok_and(|c| c.subject == shopper.id.get() && c.activity == id.get())
    });
    if !token_ok {
        return Err(reject(Rejection::BadPurchaseToken));
    }
    let sku_id = sku_id?;
    seen.sku = Some(sku_id);
    let Some(sku) = activity.sku(sku_id) else {
        return Err(reject(Rejection::UnknownSku));
    };
    match gate.remaining(id, sku_id) {
        Some(left) if left < quantity && key.is_none() => return Err(reject(Rejection::SoldOut)),
        Some(_) => {}
        None => {
            // Running but not in memory yet (created inside its window a moment ago): the
            // preheater loads it within milliseconds.
            rush.wake_preheater();
            return Err(reject(Rejection::Overloaded { retry_after_secs: 1 }));
        }
    }
    let address_id = address_id?;

    let pay_deadline = now
        .checked_add(SignedDuration::from_secs(i64::from(activity.rules.pay_timeout_secs)))
        .unwrap_or(Timestamp::MAX);
    let draft = OrderDraft {
        ticket: Ticket::new(now),
        activity_id: id,
        sku_id,
        user_id: shopper.id,
        quantity,
        unit_price: sku.seckill_price,
        address_id,
        pay_type,
        idempotency_key: key,
        created_at: now,
        pay_deadline,
    };
    // Twice at most: a replayed key whose first request was not written is simply asked again.
    for _ in 0..2 {
        match gate.reserve(&draft, activity.rules.total_limit).await? {
            Err(r) => return Err(reject(r)),
            Ok(Hold::New(_)) => {
                let placement = rush.queue().place(draft).await?;
                seen.new_order = !matches!(placement, Placement::Rejected(_));
                return answer(placement);
            }
            Ok(Hold::Replay(first)) => {
                if let Some(placement) = rush.queue().outcome(first).await? {
                    return answer(placement);
                }
            }
        }
    }
    Err(reject(Rejection::Overloaded { retry_after_secs: 1 }))
}

/// A reservation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    pub activity_id: i64,
    pub user_id: i64,
    pub reserved: bool,
}

/// `POST /api/activities/{id}/reservations`: reserve (预约) before the start: `201` the first
/// time, `200` again; `409 RESERVATION_CLOSED` once the first window has opened.
#[utoipa::path(post, path = "/api/activities/{id}/reservations", operation_id = "rush_reserve", tag = "rush",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 201, description = "reserved", body = ReservationView),
        (status = 200, description = "already reserved", body = ReservationView),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "RESERVATION_CLOSED, DISABLED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[tracing::instrument(level = "debug", skip_all, fields(activity_id = %id, user_id = %shopper.id))]
pub async fn reserve(
    State(app): State<AppState>,
    shopper: Shopper,
    ClientIp(ip): ClientIp,
    PathId(id): PathId<ActivityId>,
) -> Result<Response, AppError> {
    // One Arc for the whole state, not a clone of every part this handler touches.
    let (rush, records) = (&app.rush, &app.records);
    rush.limits().check(shopper.id, ip).map_err(reject)?;
    let found = find(rush, records, id).await?;
    match found.phase(rush) {
        Phase::Upcoming => {}
        Phase::Disabled => return Err(reject(Rejection::Disabled)),
        Phase::Running | Phase::Paused | Phase::Ended => return Err(reject(Rejection::ReservationClosed)),
    }
    let created =
        records.orders.add_reservation(id, shopper.id, rush.now()).await.or_not_found(|| format!("activity {id}"))?;
    // Preheated already? Then the hot state learns it now; otherwise the preheat loads it.
    rush.gate().add_reservation(id, shopper.id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(ReservationView { activity_id: id.get(), user_id: shopper.id.get(), reserved: true }))
        .into_response())
}

/// What became of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// `queued`, `created` or `rejected`.
    #[schema(example = "created")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

/// `GET /api/tickets/{ticket}`: the outcome of one of the shopper's own purchase attempts.
#[utoipa::path(get, path = "/api/tickets/{ticket}", operation_id = "rush_ticket", tag = "rush",
    params(("ticket" = String, Path, description = "the ticket of a 202 answer")),
    responses(
        (status = 200, description = "the ticket's outcome", body = TicketView),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown, or not yours)", body = ErrorBody),
    ))]
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ticket(
    State(rush): State<Rush>,
    shopper: Shopper,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<TicketView>, AppError> {
    let not_found = || AppError::not_found(format!("ticket {raw}"));
    let ticket: Ticket = raw.parse().map_err(|_| not_found())?;
    match rush.queue().outcome(ticket).await? {
        Some(Placement::Created(order)) if order.user_id == shopper.id => {
            Ok(Json(TicketView { status: "created", order_id: Some(order.id.get()), error: None }))
        }
        Some(Placement::Queued(_)) => Ok(Json(TicketView { status: "queued", order_id: None, error: None })),
        Some(Placement::Rejected(r)) => {
            Ok(Json(TicketView { status: "rejected", order_id: None, error: Some(AppError::from(r).body().error) }))
        }
        _ => Err(not_found()),
    }
}

/// Units left of one SKU.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkuStatus {
    pub sku_id: i64,
    pub remaining: u32,
    pub sold_out: bool,
}

/// The live bits of a detail page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityStatus {
    #[schema(value_type = String, format = DateTime)]
    pub now: Timestamp,
    pub state: ActivityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_window_start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_end: Option<Timestamp>,
    pub skus: Vec<SkuStatus>,
}

/// `GET /api/activities/{id}/status`: state, window bounds and units left, from memory;
/// cacheable for a second, so every waiting shopper can poll it.
#[utoipa::path(get, path = "/api/activities/{id}/status", operation_id = "activities_status", tag = "activities",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "the live status", body = ActivityStatus),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(level = "debug", skip_all, fields(activity_id = %id))]
pub async fn status(State(app): State<AppState>, PathId(id): PathId<ActivityId>) -> Result<Response, AppError> {
    // One Arc for the whole state, not a clone of every part this handler touches.
    let (rush, records) = (&app.rush, &app.records);
    let found = find(rush, records, id).await?;
    let view = found.view(rush);
    let body = ActivityStatus {
        now: rush.now(),
        state: view.state,
        next_window_start: view.next_window_start,
        window_end: view.window_end,
        skus: view
            .remaining
            .iter()
            .map(|(sku, n)| SkuStatus { sku_id: sku.get(), remaining: *n, sold_out: *n == 0 })
            .collect(),
    };
    Ok(([(header::CACHE_CONTROL, "public, max-age=1")], Json(body)).into_response())
}
