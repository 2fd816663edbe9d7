//! A shopper's own orders: list, detail, cancel while unpaid, confirm receipt, and starting a
//! payment. Another shopper's order id answers `404`, never revealing that it exists.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seckill_domain::ids::OrderId;
use seckill_domain::order::CancelReason;

use crate::auth::Shopper;
use crate::dto::{Items, PageQuery};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiQuery, PathId};
use crate::payments::PaymentStarted;
use crate::rush::handlers::OrderView;
use crate::state::AppState;

/// `GET /api/me/orders`: the shopper's orders, newest first.
#[utoipa::path(get, path = "/api/me/orders", operation_id = "me_orders", tag = "orders", params(PageQuery), responses(
    (status = 200, description = "the orders", body = Items<OrderView>),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id))]
pub async fn list(
    State(state): State<AppState>,
    shopper: Shopper,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Items<OrderView>>, AppError> {
    let orders = state.records.orders.orders_of_user(shopper.id, page.page()).await?;
    Ok(Json(Items::of(orders.items.into_iter().map(OrderView::from))))
}

/// `GET /api/me/orders/{id}`: one of the shopper's orders.
#[utoipa::path(get, path = "/api/me/orders/{id}", operation_id = "me_order", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "the order", body = OrderView),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (also another shopper's order)", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id, order_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    shopper: Shopper,
    PathId(id): PathId<OrderId>,
) -> Result<Json<OrderView>, AppError> {
    let order = state.records.orders.order(id).await.or_not_found(|| format!("order {id}"))?;
    if order.user_id != shopper.id {
        return Err(AppError::not_found(format!("order {id}")));
    }
    Ok(Json(order.into()))
}

/// `POST /api/me/orders/{id}/cancel`: only while `pending_payment`; the stock is on sale again
/// at once.
#[utoipa::path(post, path = "/api/me/orders/{id}/cancel", operation_id = "me_order_cancel", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "cancelled", body = OrderView),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "BAD_ORDER_STATE", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id, order_id = %id))]
pub async fn cancel(
    State(state): State<AppState>,
    shopper: Shopper,
    PathId(id): PathId<OrderId>,
) -> Result<Json<OrderView>, AppError> {
    let order = state
        .records
        .orders
        .cancel_order(id, CancelReason::User, Some(shopper.id), state.now())
        .await
        .or_not_found(|| format!("order {id}"))?;
    state.return_stock().await;
    Ok(Json(order.into()))
}

/// `POST /api/me/orders/{id}/confirm`: the shopper received a shipped order.
#[utoipa::path(post, path = "/api/me/orders/{id}/confirm", operation_id = "me_order_confirm", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 200, description = "completed", body = OrderView),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "BAD_ORDER_STATE", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id, order_id = %id))]
pub async fn confirm(
    State(state): State<AppState>,
    shopper: Shopper,
    PathId(id): PathId<OrderId>,
) -> Result<Json<OrderView>, AppError> {
    let order = state
        .records
        .orders
        .complete_order(id, Some(shopper.id), state.now())
        .await
        .or_not_found(|| format!("order {id}"))?;
    Ok(Json(order.into()))
}

/// `POST /api/me/orders/{id}/payments`: start paying a `pending_payment` order; the answer
/// names the provider's page.
#[utoipa::path(post, path = "/api/me/orders/{id}/payments", operation_id = "me_order_pay", tag = "orders",
    params(("id" = i64, Path, description = "order id")),
    responses(
        (status = 201, description = "the payment", body = PaymentStarted),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "BAD_ORDER_STATE: not payable (paid, cancelled, or past its deadline)", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id, order_id = %id))]
pub async fn pay(
    State(state): State<AppState>,
    shopper: Shopper,
    PathId(id): PathId<OrderId>,
) -> Result<(StatusCode, Json<PaymentStarted>), AppError> {
    let payment = state
        .records
        .orders
        .create_payment(id, shopper.id, state.gateway.provider(), state.now())
        .await
        .or_not_found(|| format!("order {id}"))?;
    Ok((StatusCode::CREATED, Json(PaymentStarted::new(&payment, &*state.gateway))))
}
