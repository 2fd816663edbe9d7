//! Seckill activities (秒杀活动) as operators define and watch them: the definition, the state,
//! and live figures (sold, remaining, orders, paid).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use seckill_domain::activity::{Activity, ActivityInput, ActivitySkuInput, NewActivity};
use seckill_domain::ids::ActivityId;
use seckill_domain::validation::FieldErrors;
use seckill_store::{ActivityQuery, OrderCounts, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::{ActivitySlotView, Items};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::sale::{ActivityState, sale_at};
use crate::state::AppState;

/// One SKU put on sale.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivitySkuRequest {
    pub sku_id: i64,
    pub seckill_price_cents: i64,
    pub stock: i64,
}

/// An activity to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivityRequest {
    pub name: String,
    pub product_id: i64,
    /// RFC 3339.
    #[schema(example = "2026-11-11T00:00:00Z")]
    pub starts_at: String,
    /// RFC 3339, after `starts_at`.
    #[schema(example = "2026-11-12T00:00:00Z")]
    pub ends_at: String,
    pub time_slot_ids: Vec<i64>,
    pub skus: Vec<ActivitySkuRequest>,
    pub total_limit: i64,
    pub single_limit: i64,
    pub min_level: Option<i64>,
    pub reservation_required: Option<bool>,
    pub pay_timeout_secs: Option<i64>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

impl ActivityRequest {
    fn parse(&self) -> Result<NewActivity, FieldErrors> {
        NewActivity::parse(&ActivityInput {
            name: &self.name,
            product_id: self.product_id,
            starts_at: &self.starts_at,
            ends_at: &self.ends_at,
            time_slot_ids: &self.time_slot_ids,
            skus: self
                .skus
                .iter()
                .map(|s| ActivitySkuInput {
                    sku_id: s.sku_id,
                    seckill_price_cents: s.seckill_price_cents,
                    stock: s.stock,
                })
                .collect(),
            total_limit: self.total_limit,
            single_limit: self.single_limit,
            min_level: self.min_level,
            reservation_required: self.reservation_required,
            pay_timeout_secs: self.pay_timeout_secs,
            enabled: self.enabled,
        })
    }
}

/// A SKU on sale, with what is sold and left.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminActivitySku {
    pub sku_id: i64,
    pub seckill_price_cents: i64,
    pub stock: u32,
    pub sold: u32,
    pub remaining: u32,
}

/// Live figures of an activity.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Figures {
    /// Units in non-cancelled orders.
    pub sold: u64,
    /// Units left.
    pub remaining: u64,
    /// Non-cancelled orders.
    pub orders: u64,
    /// Of those, paid (or shipped, or completed).
    pub paid: u64,
}

/// An activity as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminActivityView {
    pub id: i64,
    pub name: String,
    pub product_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    pub time_slot_ids: Vec<i64>,
    pub slots: Vec<ActivitySlotView>,
    pub skus: Vec<AdminActivitySku>,
    pub total_limit: u32,
    pub single_limit: u32,
    pub min_level: u8,
    pub reservation_required: bool,
    pub pay_timeout_secs: u32,
    pub enabled: bool,
    pub state: ActivityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_window_start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_end: Option<Timestamp>,
    /// Moves with every change of the activity or its slots.
    pub version: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    pub figures: Figures,
}

impl AdminActivityView {
    fn new(state: &AppState, activity: Activity, now: Timestamp, counts: OrderCounts) -> Self {
        let view = sale_at(&activity, now, &state.tz, &*state.stock);
        let skus: Vec<AdminActivitySku> = activity
            .skus
            .iter()
            .map(|s| AdminActivitySku {
                sku_id: s.sku_id.get(),
                seckill_price_cents: s.seckill_price.cents(),
                stock: s.stock,
                sold: s.sold,
                remaining: view.remaining_of(s.sku_id),
            })
            .collect();
        let figures = Figures {
            sold: skus.iter().map(|s| u64::from(s.sold)).sum(),
            remaining: skus.iter().map(|s| u64::from(s.remaining)).sum(),
            orders: counts.orders,
            paid: counts.paid,
        };
        let r = activity.rules;
        AdminActivityView {
            id: activity.id.get(),
            name: activity.name,
            product_id: activity.product_id.get(),
            starts_at: activity.starts_at,
            ends_at: activity.ends_at,
            time_slot_ids: activity.slots.iter().map(|s| s.id.get()).collect(),
            slots: activity.slots.iter().map(ActivitySlotView::from).collect(),
            skus,
            total_limit: r.total_limit,
            single_limit: r.single_limit,
            min_level: r.min_level,
            reservation_required: r.reservation_required,
            pay_timeout_secs: r.pay_timeout_secs,
            enabled: activity.enabled,
            state: view.state,
            next_window_start: view.next_window_start,
            window_end: view.window_end,
            version: activity.version,
            created_at: activity.created_at,
            updated_at: activity.updated_at,
            figures,
        }
    }
}

/// The views of `activities` with their order counts.
async fn views(state: &AppState, activities: Vec<Activity>) -> Result<Vec<AdminActivityView>, AppError> {
    let ids: Vec<ActivityId> = activities.iter().map(|a| a.id).collect();
    let counts: HashMap<ActivityId, OrderCounts> = if ids.is_empty() {
        HashMap::new()
    } else {
        state.records.catalog.order_counts(&ids).await?.into_iter().collect()
    };
    let now = state.now();
    Ok(activities
        .into_iter()
        .map(|a| {
            let c = counts.get(&a.id).copied().unwrap_or_default();
            AdminActivityView::new(state, a, now, c)
        })
        .collect())
}

async fn view(state: &AppState, activity: Activity) -> Result<AdminActivityView, AppError> {
    let id = activity.id;
    views(state, vec![activity]).await?.pop().ok_or_else(|| AppError::Internal(format!("activity {id} lost its view")))
}

/// Parses `body` and checks it against the product and the slots in the shop's zone, so the
/// operator gets every field problem at once, before the store's own transactional checks.
async fn checked(state: &AppState, body: &ActivityRequest) -> Result<NewActivity, AppError> {
    let new = body.parse()?;
    let product = match state.records.catalog.product(new.product_id).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => {
            return Err(FieldErrors::single("product_id", format!("product {} does not exist", new.product_id)).into());
        }
        Err(e) => return Err(e.into()),
    };
    let slots = state.records.catalog.slots().await?;
    new.check_against(&product, &slots, &state.tz)?;
    Ok(new)
}

/// `POST /api/admin/activities`.
#[utoipa::path(post, path = "/api/admin/activities", operation_id = "admin_activities_create", tag = "admin", request_body = ActivityRequest, responses(
    (status = 201, description = "created", body = AdminActivityView),
    (status = 409, description = "PRODUCT_IN_ACTIVITY", body = ErrorBody),
    (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ActivityRequest>,
) -> Result<(StatusCode, Json<AdminActivityView>), AppError> {
    let new = checked(&state, &body).await?;
    let activity = state.records.catalog.create_activity(&new, state.now()).await?;
    tracing::info!(activity_id = %activity.id, "activity created");
    state.refresh_sale().await;
    Ok((StatusCode::CREATED, Json(view(&state, activity).await?)))
}

/// `?state=` of the operators' list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminListQuery {
    /// Only activities in this state now; absent: all.
    #[param(inline)]
    #[serde(default, deserialize_with = "crate::extract::blank_as_no_variant")]
    pub state: Option<ActivityState>,
}

/// `GET /api/admin/activities?state=`: every activity with live figures.
#[utoipa::path(get, path = "/api/admin/activities", operation_id = "admin_activities_list", tag = "admin", params(AdminListQuery), responses(
    (status = 200, description = "the activities", body = Items<AdminActivityView>),
    (status = 400, description = "BAD_REQUEST: unknown state", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(state = ?query.state))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AdminListQuery>,
) -> Result<Json<Items<AdminActivityView>>, AppError> {
    let activities = state.records.catalog.activities(&ActivityQuery::default()).await?;
    let now = state.now();
    let wanted: Vec<Activity> = match query.state {
        None => activities,
        Some(s) => activities.into_iter().filter(|a| sale_at(a, now, &state.tz, &*state.stock).state == s).collect(),
    };
    Ok(Json(Items::of(views(&state, wanted).await?)))
}

/// `GET /api/admin/activities/{id}`.
#[utoipa::path(get, path = "/api/admin/activities/{id}", operation_id = "admin_activities_get", tag = "admin",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "the activity", body = AdminActivityView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(activity_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    PathId(id): PathId<ActivityId>,
) -> Result<Json<AdminActivityView>, AppError> {
    let activity = state.records.catalog.activity(id).await.or_not_found(|| format!("activity {id}"))?;
    Ok(Json(view(&state, activity).await?))
}

/// `PUT /api/admin/activities/{id}`: replaces the definition; stock never below sold.
#[utoipa::path(put, path = "/api/admin/activities/{id}", operation_id = "admin_activities_update", tag = "admin", request_body = ActivityRequest,
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "updated", body = AdminActivityView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "STOCK_BELOW_SOLD or PRODUCT_IN_ACTIVITY", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(activity_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId<ActivityId>,
    ApiJson(body): ApiJson<ActivityRequest>,
) -> Result<Json<AdminActivityView>, AppError> {
    let new = checked(&state, &body).await?;
    let activity =
        state.records.catalog.update_activity(id, &new, state.now()).await.or_not_found(|| format!("activity {id}"))?;
    tracing::info!(version = activity.version, "activity updated");
    state.refresh_sale().await;
    Ok(Json(view(&state, activity).await?))
}

async fn switch(state: &AppState, id: ActivityId, enabled: bool) -> Result<Json<AdminActivityView>, AppError> {
    let activity = state
        .records
        .catalog
        .set_activity_enabled(id, enabled, state.now())
        .await
        .or_not_found(|| format!("activity {id}"))?;
    tracing::info!(enabled, "activity switched");
    state.refresh_sale().await;
    Ok(Json(view(state, activity).await?))
}

/// `POST /api/admin/activities/{id}/enable`.
#[utoipa::path(post, path = "/api/admin/activities/{id}/enable", operation_id = "admin_activities_enable", tag = "admin",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "enabled", body = AdminActivityView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PRODUCT_IN_ACTIVITY", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(activity_id = %id))]
pub async fn enable(
    State(state): State<AppState>,
    PathId(id): PathId<ActivityId>,
) -> Result<Json<AdminActivityView>, AppError> {
    switch(&state, id, true).await
}

/// `POST /api/admin/activities/{id}/disable`.
#[utoipa::path(post, path = "/api/admin/activities/{id}/disable", operation_id = "admin_activities_disable", tag = "admin",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "disabled", body = AdminActivityView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(activity_id = %id))]
pub async fn disable(
    State(state): State<AppState>,
    PathId(id): PathId<ActivityId>,
) -> Result<Json<AdminActivityView>, AppError> {
    switch(&state, id, false).await
}
