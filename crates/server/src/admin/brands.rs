//! Brands.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seckill_domain::catalog::{Brand, NewBrand};
use seckill_domain::ids::BrandId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::Items;
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// A brand to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BrandRequest {
    pub name: String,
    pub image_url: Option<String>,
    /// One letter A–Z for brand indexes; defaults to the name's first ASCII letter.
    pub letter: Option<String>,
    pub sort: Option<i32>,
}

impl BrandRequest {
    fn parse(&self) -> Result<NewBrand, AppError> {
        Ok(NewBrand::parse(&self.name, self.image_url.as_deref(), self.letter.as_deref(), self.sort.unwrap_or(0))?)
    }
}

/// A brand.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandView {
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter: Option<String>,
    pub sort: i32,
}

impl From<Brand> for BrandView {
    fn from(b: Brand) -> Self {
        BrandView { id: b.id.get(), name: b.name, image_url: b.image_url, letter: b.letter, sort: b.sort }
    }
}

/// `POST /api/admin/brands`.
#[utoipa::path(post, path = "/api/admin/brands", operation_id = "admin_brands_create", tag = "admin", request_body = BrandRequest, responses(
    (status = 201, description = "created", body = BrandView),
    (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BrandRequest>,
) -> Result<(StatusCode, Json<BrandView>), AppError> {
    let brand = state.records.catalog.create_brand(&body.parse()?, state.now()).await?;
    Ok((StatusCode::CREATED, Json(brand.into())))
}

/// `GET /api/admin/brands`: every brand, by sort then name.
#[utoipa::path(get, path = "/api/admin/brands", operation_id = "admin_brands_list", tag = "admin", responses(
    (status = 200, description = "the brands", body = Items<BrandView>),
))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Items<BrandView>>, AppError> {
    Ok(Json(Items::of(state.records.catalog.brands().await?.into_iter().map(BrandView::from))))
}

/// `PUT /api/admin/brands/{id}`.
#[utoipa::path(put, path = "/api/admin/brands/{id}", operation_id = "admin_brands_update", tag = "admin", request_body = BrandRequest,
    params(("id" = i64, Path, description = "brand id")),
    responses(
        (status = 200, description = "updated", body = BrandView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(brand_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId<BrandId>,
    ApiJson(body): ApiJson<BrandRequest>,
) -> Result<Json<BrandView>, AppError> {
    let brand = state
        .records
        .catalog
        .update_brand(id, &body.parse()?, state.now())
        .await
        .or_not_found(|| format!("brand {id}"))?;
    // Detail pages show names, images and prices of these.
    state.refresh_pages().await;
    Ok(Json(brand.into()))
}
