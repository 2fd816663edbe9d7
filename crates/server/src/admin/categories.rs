//! Product categories (a tree through `parent_id`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seckill_domain::catalog::{Category, NewCategory};
use seckill_domain::ids::CategoryId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::Items;
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// A category to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryRequest {
    pub name: String,
    pub parent_id: Option<i64>,
    pub sort: Option<i32>,
}

impl CategoryRequest {
    fn parse(&self) -> Result<NewCategory, AppError> {
        Ok(NewCategory::parse(&self.name, self.parent_id, self.sort.unwrap_or(0))?)
    }
}

/// A category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    pub sort: i32,
}

impl From<Category> for CategoryView {
    fn from(c: Category) -> Self {
        CategoryView { id: c.id.get(), name: c.name, parent_id: c.parent_id.map(CategoryId::get), sort: c.sort }
    }
}

/// `POST /api/admin/categories`.
#[utoipa::path(post, path = "/api/admin/categories", operation_id = "admin_categories_create", tag = "admin", request_body = CategoryRequest, responses(
    (status = 201, description = "created", body = CategoryView),
    (status = 422, description = "VALIDATION_FAILED (also a parent that does not exist)", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CategoryRequest>,
) -> Result<(StatusCode, Json<CategoryView>), AppError> {
    let category = state.records.catalog.create_category(&body.parse()?, state.now()).await?;
    Ok((StatusCode::CREATED, Json(category.into())))
}

/// `GET /api/admin/categories`: every category, by sort then name.
#[utoipa::path(get, path = "/api/admin/categories", operation_id = "admin_categories_list", tag = "admin", responses(
    (status = 200, description = "the categories", body = Items<CategoryView>),
))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Items<CategoryView>>, AppError> {
    Ok(Json(Items::of(state.records.catalog.categories().await?.into_iter().map(CategoryView::from))))
}

/// `PUT /api/admin/categories/{id}`.
#[utoipa::path(put, path = "/api/admin/categories/{id}", operation_id = "admin_categories_update", tag = "admin", request_body = CategoryRequest,
    params(("id" = i64, Path, description = "category id")),
    responses(
        (status = 200, description = "updated", body = CategoryView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(category_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId<CategoryId>,
    ApiJson(body): ApiJson<CategoryRequest>,
) -> Result<Json<CategoryView>, AppError> {
    let category = state
        .records
        .catalog
        .update_category(id, &body.parse()?, state.now())
        .await
        .or_not_found(|| format!("category {id}"))?;
    // Detail pages show names, images and prices of these.
    state.refresh_pages().await;
    Ok(Json(category.into()))
}
