//! Products (SPU) and their SKUs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use seckill_domain::catalog::{NewProduct, Product, ProductInput, Sku, SkuInput};
use seckill_domain::ids::{BrandId, CategoryId, ProductId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::{PageOf, PageQuery};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::state::AppState;

/// One SKU of a product request. On update, `id` names an existing SKU; SKUs without one are
/// added, SKUs left out are removed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SkuRequest {
    pub id: Option<i64>,
    pub name: String,
    pub spec: Option<String>,
    pub price_cents: i64,
    pub stock: i64,
}

/// A product to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductRequest {
    pub name: String,
    pub brand_id: Option<i64>,
    pub category_id: Option<i64>,
    pub description: Option<String>,
    #[serde(default)]
    pub image_urls: Vec<String>,
    pub skus: Vec<SkuRequest>,
}

impl ProductRequest {
    fn parse(&self) -> Result<NewProduct, AppError> {
        let input = ProductInput {
            name: &self.name,
            brand_id: self.brand_id,
            category_id: self.category_id,
            description: self.description.as_deref(),
            image_urls: &self.image_urls,
            skus: self
                .skus
                .iter()
                .map(|s| SkuInput {
                    id: s.id,
                    name: &s.name,
                    spec: s.spec.as_deref(),
                    price_cents: s.price_cents,
                    stock: s.stock,
                })
                .collect(),
        };
        Ok(NewProduct::parse(&input)?)
    }
}

/// A SKU.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkuView {
    pub id: i64,
    pub name: String,
    pub spec: String,
    pub price_cents: i64,
    /// Ordinary (non-seckill) stock.
    pub stock: u32,
    /// Tagged while an activity on it is preheated or live.
    pub seckill: bool,
}

impl From<Sku> for SkuView {
    fn from(s: Sku) -> Self {
        SkuView {
            id: s.id.get(),
            name: s.name,
            spec: s.spec,
            price_cents: s.price.cents(),
            stock: s.stock,
            seckill: s.seckill,
        }
    }
}

/// A product with its SKUs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<i64>,
    pub description: String,
    pub image_urls: Vec<String>,
    pub skus: Vec<SkuView>,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        ProductView {
            id: p.id.get(),
            name: p.name,
            brand_id: p.brand_id.map(BrandId::get),
            category_id: p.category_id.map(CategoryId::get),
            description: p.description,
            image_urls: p.image_urls,
            skus: p.skus.into_iter().map(SkuView::from).collect(),
        }
    }
}

/// `POST /api/admin/products`.
#[utoipa::path(post, path = "/api/admin/products", operation_id = "admin_products_create", tag = "admin", request_body = ProductRequest, responses(
    (status = 201, description = "created", body = ProductView),
    (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ProductRequest>,
) -> Result<(StatusCode, Json<ProductView>), AppError> {
    let product = state.records.catalog.create_product(&body.parse()?, state.now()).await?;
    tracing::info!(product_id = %product.id, "product created");
    Ok((StatusCode::CREATED, Json(product.into())))
}

/// `GET /api/admin/products?q=&page=&per_page=`: newest first.
#[utoipa::path(get, path = "/api/admin/products", operation_id = "admin_products_list", tag = "admin", params(PageQuery), responses(
    (status = 200, description = "one page of products", body = PageOf<ProductView>),
    (status = 400, description = "BAD_REQUEST", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PageOf<ProductView>>, AppError> {
    let page = state.records.catalog.products(query.query(), query.page()).await?;
    Ok(Json(PageOf::map(page, ProductView::from)))
}

/// `GET /api/admin/products/{id}`.
#[utoipa::path(get, path = "/api/admin/products/{id}", operation_id = "admin_products_get", tag = "admin",
    params(("id" = i64, Path, description = "product id")),
    responses(
        (status = 200, description = "the product", body = ProductView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn get(State(state): State<AppState>, PathId(id): PathId<ProductId>) -> Result<Json<ProductView>, AppError> {
    let product = state.records.catalog.product(id).await.or_not_found(|| format!("product {id}"))?;
    Ok(Json(product.into()))
}

/// `PUT /api/admin/products/{id}`.
#[utoipa::path(put, path = "/api/admin/products/{id}", operation_id = "admin_products_update", tag = "admin", request_body = ProductRequest,
    params(("id" = i64, Path, description = "product id")),
    responses(
        (status = 200, description = "updated", body = ProductView),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(product_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    PathId(id): PathId<ProductId>,
    ApiJson(body): ApiJson<ProductRequest>,
) -> Result<Json<ProductView>, AppError> {
    let product = state
        .records
        .catalog
        .update_product(id, &body.parse()?, state.now())
        .await
        .or_not_found(|| format!("product {id}"))?;
    // Detail pages show names, images and prices of these.
    state.refresh_pages().await;
    Ok(Json(product.into()))
}
