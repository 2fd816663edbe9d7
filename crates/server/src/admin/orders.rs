//! The operators' orders: a filtered, paged list, shipping, and cancelling (a paid order is
//! refunded; either way its stock is back on sale at once).

use axum::Json;
use axum::extract::State;
use seckill_domain::ids::{ActivityId, OrderId, UserId};
use seckill_domain::order::{CancelReason, OrderStatus};
use seckill_domain::validation::{FieldErrors, text};
use seckill_store::orders::OrderFilter;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::dto::PageOf;
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::rush::handlers::OrderView;
use crate::state::AppState;

/// `?activity_id=&status=&user_id=&page=&per_page=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub activity_id: Option<i64>,
    /// `pending_payment`, `paid`, `shipped`, `completed` or `cancelled`.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub user_id: Option<i64>,
    /// 1-based page (default 1).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub per_page: Option<u32>,
}

impl OrderListQuery {
    fn filter(&self) -> Result<OrderFilter, AppError> {
        let bad = |what: &str| AppError::BadRequest(format!("{what} must be a positive integer"));
        Ok(OrderFilter {
            activity_id: self.activity_id.map(ActivityId::try_from).transpose().map_err(|_| bad("activity_id"))?,
            status: self.status.as_deref().map(|s| s.parse::<OrderStatus>()).transpose().map_err(|_| {
                AppError::BadRequest("status must be pending_payment, paid, shipped, completed or cancelled".into())
            })?,
            user_id: self.user_id.map(UserId::try_from).transpose().map_err(|_| bad("user_id"))?,
        })
    }
}

/// `GET /api/admin/orders`: orders newest first, filtered and paged.
#[utoipa::path(get, path = "/api/admin/orders", operation_id = "admin_orders_list", tag = "admin", params(OrderListQuery), responses(
    (status = 200, description = "one page of orders", body = PageOf<OrderView>),
    (status = 400, description = "BAD_REQUEST: a filter that is not a value", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> Result<Json<PageOf<OrderView>>, AppError> {
    let page = seckill_store::Page::new(query.page, query.per_page);
    let orders = state.records.orders.find_orders(&query.filter()?, page).await?;
    Ok(Json(PageOf::map(orders, OrderView::from)))
}

/// The body of a shipment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ShipRequest {
    pub carrier: String,
    pub tracking_no: String,
}

/// `POST /api/admin/orders/{id}/ship`: only `paid` → `shipped`.
#[utoipa::path(post, path = "/api/admin/orders/{id}/ship", operation_id = "admin_orders_ship", tag = "admin",
    request_body = ShipRequest,
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "shipped", body = OrderView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "BAD_ORDER_STATE", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn ship(
    State(state): State<AppState>,
    PathId(id): PathId<OrderId>,
    ApiJson(body): ApiJson<ShipRequest>,
) -> Result<Json<OrderView>, AppError> {
    let mut errors = FieldErrors::new();
    let carrier = text(&mut errors, "carrier", &body.carrier, 64);
    let tracking_no = text(&mut errors, "tracking_no", &body.tracking_no, 64);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let order = state
        .records
        .orders
        .ship_order(id, &carrier, &tracking_no, state.now())
        .await
        .or_not_found(|| format!("order {id}"))?;
    Ok(Json(order.into()))
}

/// `POST /api/admin/orders/{id}/cancel`: `pending_payment` or `paid` (refund noted) →
/// `cancelled`, stock returned.
#[utoipa::path(post, path = "/api/admin/orders/{id}/cancel", operation_id = "admin_orders_cancel", tag = "admin",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "cancelled", body = OrderView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "BAD_ORDER_STATE", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn cancel(State(state): State<AppState>, PathId(id): PathId<OrderId>) -> Result<Json<OrderView>, AppError> {
    let order = state
        .records
        .orders
        .cancel_order(id, CancelReason::Admin, None, state.now())
        .await
        .or_not_found(|| format!("order {id}"))?;
    state.return_stock().await;
    Ok(Json(order.into()))
}
