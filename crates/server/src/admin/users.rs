//! Shoppers, as operators manage them: search and membership level.

use axum::Json;
use axum::extract::State;
use seckill_domain::activity::MAX_LEVEL;
use seckill_domain::ids::UserId;
use seckill_domain::validation::FieldErrors;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{PageOf, PageQuery, UserView};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::state::AppState;

/// A new membership level.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LevelRequest {
    /// 0 to 100.
    pub level: i64,
}

/// `GET /api/admin/users?q=&page=&per_page=`: shoppers by id, optionally by name.
#[utoipa::path(get, path = "/api/admin/users", operation_id = "admin_users_list", tag = "admin", params(PageQuery), responses(
    (status = 200, description = "one page of shoppers", body = PageOf<UserView>),
    (status = 400, description = "BAD_REQUEST", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PageOf<UserView>>, AppError> {
    let page = state.records.accounts.users(query.query(), query.page()).await?;
    Ok(Json(PageOf::map(page, UserView::from)))
}

/// `PUT /api/admin/users/{id}`: sets a shopper's level (it shows in their next session).
#[utoipa::path(put, path = "/api/admin/users/{id}", operation_id = "admin_users_set_level", tag = "admin", request_body = LevelRequest,
    params(("id" = i64, Path, description = "user id")),
    responses(
        (status = 200, description = "updated", body = UserView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn set_level(
    State(state): State<AppState>,
    PathId(id): PathId<UserId>,
    ApiJson(body): ApiJson<LevelRequest>,
) -> Result<Json<UserView>, AppError> {
    let level = u8::try_from(body.level)
        .ok()
        .filter(|l| *l <= MAX_LEVEL)
        .ok_or_else(|| FieldErrors::single("level", format!("must be between 0 and {MAX_LEVEL}")))?;
    let user = state.records.accounts.set_user_level(id, level).await.or_not_found(|| format!("user {id}"))?;
    tracing::info!(level, "user level set");
    Ok(Json(user.into()))
}
