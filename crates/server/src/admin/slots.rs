//! Daily time slots (场次). Enabled slots never overlap; a slot used by an unfinished activity
//! cannot be deleted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seckill_domain::ids::SlotId;
use seckill_domain::slot::NewTimeSlot;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{Items, SlotView};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// A slot to create or replace; bounds are `"HH:MM"` in the shop's zone, `start < end`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SlotRequest {
    pub name: String,
    #[schema(example = "10:00")]
    pub start: String,
    #[schema(example = "12:00")]
    pub end: String,
    /// Default `true`.
    pub enabled: Option<bool>,
    pub sort: Option<i32>,
}

impl SlotRequest {
    fn parse(&self) -> Result<NewTimeSlot, AppError> {
        Ok(NewTimeSlot::parse(
            &self.name,
            &self.start,
            &self.end,
            self.enabled.unwrap_or(true),
            self.sort.unwrap_or(0),
        )?)
    }
}

/// `POST /api/admin/time-slots`.
#[utoipa::path(post, path = "/api/admin/time-slots", operation_id = "admin_slots_create", tag = "admin", request_body = SlotRequest, responses(
    (status = 201, description = "created", body = SlotView),
    (status = 409, description = "SLOT_OVERLAP", body = ErrorBody),
    (status = 422, description = "VALIDATION_FAILED (e.g. start >= end)", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SlotRequest>,
) -> Result<(StatusCode, Json<SlotView>), AppError> {
    let slot = state.records.catalog.create_slot(&body.parse()?, state.now()).await?;
    Ok((StatusCode::CREATED, Json(slot.into())))
}

/// `GET /api/admin/time-slots`: every slot, by sort then start.
#[utoipa::path(get, path = "/api/admin/time-slots", operation_id = "admin_slots_list", tag = "admin", responses(
    (status = 200, description = "the slots", body = Items<SlotView>),
))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Items<SlotView>>, AppError> {
    Ok(Json(Items::of(state.records.catalog.slots().await?.into_iter().map(SlotView::from))))
}

/// `PUT /api/admin/time-slots/{id}`.
#[utoipa::path(put, path = "/api/admin/time-slots/{id}", operation_id = "admin_slots_update", tag = "admin", request_body = SlotRequest,
    params(("id" = i64, Path, description = "slot id")),
    responses(
        (status = 200, description = "updated", body = SlotView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "SLOT_OVERLAP", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(slot_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId<SlotId>,
    ApiJson(body): ApiJson<SlotRequest>,
) -> Result<Json<SlotView>, AppError> {
    let slot = state
        .records
        .catalog
        .update_slot(id, &body.parse()?, state.now())
        .await
        .or_not_found(|| format!("time slot {id}"))?;
    state.refresh_sale().await;
    Ok(Json(slot.into()))
}

/// `DELETE /api/admin/time-slots/{id}`.
#[utoipa::path(delete, path = "/api/admin/time-slots/{id}", operation_id = "admin_slots_delete", tag = "admin",
    params(("id" = i64, Path, description = "slot id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "SLOT_IN_USE", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(slot_id = %id))]
pub async fn delete(State(state): State<AppState>, PathId(id): PathId<SlotId>) -> Result<StatusCode, AppError> {
    state.records.catalog.delete_slot(id, state.now()).await.or_not_found(|| format!("time slot {id}"))?;
    state.refresh_sale().await;
    Ok(StatusCode::NO_CONTENT)
}
