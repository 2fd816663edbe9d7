//! Shoppers' search: the products of current and upcoming activities whose name, brand or
//! category contains what they typed, backed by the store's full-text index
//! ([`Catalog::search`](seckill_store::Catalog::search)).

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use seckill_store::SearchQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::Items;
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiQuery;
use crate::sale::{ActivityState, sale_at};
use crate::state::AppState;

/// Most results one search shows.
pub const SHOWN: usize = 20;

/// Hits asked of the store for [`SHOWN`] results: an activity may have no window left before
/// its `ends_at` (state `ended` already), and such hits are dropped here, after the store.
const FETCHED: u32 = 100;

/// `?q=` of the search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for, 1–100 characters: every whitespace-separated term must occur (any
    /// letter case) in the product's name, its brand or its category. Missing or blank: `422`.
    #[param(example = "华为 手机")]
    pub q: Option<String>,
}

/// A product on sale (or soon) that matches a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchItem {
    pub activity_id: i64,
    pub product_id: i64,
    /// The product's name.
    pub name: String,
    /// The activity's name.
    pub activity_name: String,
    /// The product's first image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The lowest list price among the SKUs on sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    /// The lowest seckill price among the SKUs on sale.
    pub seckill_price_cents: i64,
    /// As in the activity lists: `upcoming`, `running`, `paused` or `sold_out`.
    pub state: ActivityState,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_window_start: Option<Timestamp>,
}

/// `GET /api/search?q=`: the products of current and upcoming activities matching `q`, best
/// first (the product's own name holding every term), at most 20.
#[utoipa::path(get, path = "/api/search", operation_id = "search", tag = "activities", params(SearchParams),
    responses(
        (status = 200, description = "the matches, best first", body = Items<SearchItem>),
        (status = 400, description = "BAD_REQUEST: an unreadable query string", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED: `q` missing, blank or over 100 characters", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(chars = params.q.as_deref().map(|q| q.chars().count())))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Items<SearchItem>>, AppError> {
    let query = SearchQuery::parse(params.q.as_deref().unwrap_or_default(), "q")?;
    let now = state.now();
    let hits = state.records.catalog.search(&query, now, FETCHED).await?;
    let items = hits
        .into_iter()
        .filter_map(|hit| {
            let (activity, product) = (&hit.activity, &hit.product);
            let view = sale_at(activity, now, &state.tz, &*state.stock);
            if !view.state.is_current_or_upcoming() {
                return None;
            }
            let list_price = |id| product.sku(id).map(|s| s.price.cents());
            Some(SearchItem {
                activity_id: activity.id.get(),
                product_id: product.id.get(),
                name: product.name.clone(),
                activity_name: activity.name.clone(),
                image_url: product.image_urls.first().cloned(),
                price_cents: activity.skus.iter().filter_map(|s| list_price(s.sku_id)).min(),
                seckill_price_cents: activity.skus.iter().map(|s| s.seckill_price.cents()).min()?,
                state: view.state,
                starts_at: activity.starts_at,
                ends_at: activity.ends_at,
                next_window_start: view.next_window_start,
            })
        })
        .take(SHOWN);
    Ok(Json(Items::of(items)))
}
