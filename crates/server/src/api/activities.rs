//! The public face of activities: lists by state, the detail page's data, and the tiny
//! cacheable live status (state, window bounds, units left).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use seckill_domain::activity::Activity;
use seckill_domain::catalog::{Brand, Category, Product};
use seckill_domain::ids::{ActivityId, ProductId};
use seckill_store::{ActivityQuery, Catalog, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::{ActivitySlotView, Items};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiQuery, PathId};
use crate::sale::{ActivityState, SaleView, sale_at};
use crate::state::AppState;

/// How many ended activities the public list shows, most recent first.
const ENDED_SHOWN: usize = 100;

/// An activity in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivitySummary {
    pub id: i64,
    pub name: String,
    pub product_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The product's first image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The lowest list price among the SKUs on sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    /// The lowest seckill price among the SKUs on sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seckill_price_cents: Option<i64>,
    pub state: ActivityState,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_window_start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_end: Option<Timestamp>,
}

impl ActivitySummary {
    /// The summary of `activity` as seen in `view`, with its product if known.
    pub fn new(activity: &Activity, product: Option<&Product>, view: &SaleView) -> Self {
        let price = |id| product.and_then(|p| p.sku(id)).map(|s| s.price.cents());
        ActivitySummary {
            id: activity.id.get(),
            name: activity.name.clone(),
            product_id: activity.product_id.get(),
            product_name: product.map(|p| p.name.clone()),
            image_url: product.and_then(|p| p.image_urls.first().cloned()),
            price_cents: activity.skus.iter().filter_map(|s| price(s.sku_id)).min(),
            seckill_price_cents: activity.skus.iter().map(|s| s.seckill_price.cents()).min(),
            state: view.state,
            starts_at: activity.starts_at,
            ends_at: activity.ends_at,
            next_window_start: view.next_window_start,
            window_end: view.window_end,
        }
    }
}

/// The products of `activities`, each read once. A product that has vanished is left out.
pub async fn products_of(
    catalog: &dyn Catalog,
    activities: &[Activity],
) -> Result<HashMap<ProductId, Product>, AppError> {
    let mut products = HashMap::new();
    for a in activities {
        if products.contains_key(&a.product_id) {
            continue;
        }
        match catalog.product(a.product_id).await {
            Ok(p) => {
                products.insert(a.product_id, p);
            }
            Err(StoreError::NotFound) => {
                tracing::warn!(activity_id = %a.id, product_id = %a.product_id, "activity without its product")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(products)
}

/// Which activities a shopper lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicFilter {
    /// Not started yet.
    Upcoming,
    /// Ongoing: running, sold out for now, or paused between slots.
    Running,
    /// Over: the most recent 100.
    Ended,
}

/// `?state=` of the public list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicListQuery {
    /// Absent: upcoming and ongoing.
    #[param(inline)]
    #[serde(default, deserialize_with = "crate::extract::blank_as_no_variant")]
    pub state: Option<PublicFilter>,
}

/// `GET /api/activities`: enabled activities by state.
#[utoipa::path(get, path = "/api/activities", operation_id = "activities_list", tag = "activities", params(PublicListQuery), responses(
    (status = 200, description = "the activities", body = Items<ActivitySummary>),
    (status = 400, description = "BAD_REQUEST: unknown state", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(state = ?query.state))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PublicListQuery>,
) -> Result<Json<Items<ActivitySummary>>, AppError> {
    let now = state.now();
    let catalog = &*state.records.catalog;
    let ends_after = match query.state {
        Some(PublicFilter::Ended) => None,
        _ => Some(now),
    };
    let activities = catalog.activities(&ActivityQuery { ends_after, ..Default::default() }).await?;
    let mut shown: Vec<(Activity, SaleView)> = activities
        .into_iter()
        .filter(|a| a.enabled)
        .map(|a| {
            let view = sale_at(&a, now, &state.tz, &*state.stock);
            (a, view)
        })
        .filter(|(_, v)| match query.state {
            None => v.state.is_current_or_upcoming(),
            Some(PublicFilter::Upcoming) => v.state == ActivityState::Upcoming,
            Some(PublicFilter::Running) => v.state.is_ongoing(),
            Some(PublicFilter::Ended) => v.state == ActivityState::Ended,
        })
        .collect();
    if query.state == Some(PublicFilter::Ended) {
        shown.sort_by(|(a, _), (b, _)| b.ends_at.cmp(&a.ends_at).then(b.id.cmp(&a.id)));
        shown.truncate(ENDED_SHOWN);
    }
    let list: Vec<Activity> = shown.iter().map(|(a, _)| a.clone()).collect();
    let products = products_of(catalog, &list).await?;
    Ok(Json(Items::of(shown.iter().map(|(a, v)| ActivitySummary::new(a, products.get(&a.product_id), v)))))
}

/// A brand as shown with a product.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandRef {
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A category as shown with a product.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRef {
    pub id: i64,
    pub name: String,
}

/// The product of an activity, for shoppers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProduct {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub image_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<BrandRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryRef>,
}

/// A SKU on sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicSku {
    pub sku_id: i64,
    pub name: String,
    pub spec: String,
    /// The list price.
    pub price_cents: i64,
    pub seckill_price_cents: i64,
    /// Units put on sale in this activity.
    pub stock: u32,
}

/// Who may buy how much.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    /// Units one shopper may buy in the whole activity.
    pub total_limit: u32,
    /// Units one order may hold.
    pub single_limit: u32,
    pub min_level: u8,
    pub reservation_required: bool,
    pub pay_timeout_secs: u32,
}

/// An activity with its product, SKUs, rules and slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityDetail {
    pub id: i64,
    pub name: String,
    pub product: PublicProduct,
    pub skus: Vec<PublicSku>,
    pub rules: RulesView,
    pub slots: Vec<ActivitySlotView>,
    pub state: ActivityState,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_window_start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub window_end: Option<Timestamp>,
}

/// The brand and category `product` is filed under, if any (and if they still exist).
pub(crate) async fn brand_and_category(
    catalog: &dyn Catalog,
    product: &Product,
) -> Result<(Option<Brand>, Option<Category>), StoreError> {
    let brand = match product.brand_id {
        Some(b) => catalog.brands().await?.into_iter().find(|x| x.id == b),
        None => None,
    };
    let category = match product.category_id {
        Some(c) => catalog.categories().await?.into_iter().find(|x| x.id == c),
        None => None,
    };
    Ok((brand, category))
}

/// `GET /api/activities/{id}`: one activity for its detail page.
#[utoipa::path(get, path = "/api/activities/{id}", operation_id = "activities_detail", tag = "activities",
    params(("id" = i64, Path, description = "activity id")),
    responses(
        (status = 200, description = "the activity", body = ActivityDetail),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(activity_id = %id))]
pub async fn detail(
    State(state): State<AppState>,
    PathId(id): PathId<ActivityId>,
) -> Result<Json<ActivityDetail>, AppError> {
    let catalog = &*state.records.catalog;
    let activity = catalog.activity(id).await.or_not_found(|| format!("activity {id}"))?;
    let product = catalog.product(activity.product_id).await.or_not_found(|| format!("activity {id}"))?;
    let (brand, category) = brand_and_category(catalog, &product).await?;
    let view = sale_at(&activity, state.now(), &state.tz, &*state.stock);
    let skus = activity
        .skus
        .iter()
        .map(|s| {
            let sku = product.sku(s.sku_id);
            PublicSku {
                sku_id: s.sku_id.get(),
                name: sku.map(|k| k.name.clone()).unwrap_or_default(),
                spec: sku.map(|k| k.spec.clone()).unwrap_or_default(),
                price_cents: sku.map_or(s.seckill_price.cents(), |k| k.price.cents()),
                seckill_price_cents: s.seckill_price.cents(),
                stock: s.stock,
            }
        })
        .collect();
    let r = activity.rules;
    Ok(Json(ActivityDetail {
        id: activity.id.get(),
        name: activity.name.clone(),
        product: PublicProduct {
            id: product.id.get(),
            name: product.name,
            description: product.description,
            image_urls: product.image_urls,
            brand: brand.map(|b| BrandRef { id: b.id.get(), name: b.name, image_url: b.image_url }),
            category: category.map(|c| CategoryRef { id: c.id.get(), name: c.name }),
        },
        skus,
        rules: RulesView {
            total_limit: r.total_limit,
            single_limit: r.single_limit,
            min_level: r.min_level,
            reservation_required: r.reservation_required,
            pay_timeout_secs: r.pay_timeout_secs,
        },
        slots: activity.slots.iter().map(ActivitySlotView::from).collect(),
        state: view.state,
        starts_at: activity.starts_at,
        ends_at: activity.ends_at,
        next_window_start: view.next_window_start,
        window_end: view.window_end,
    }))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::admin::activities::AdminListQuery;

    async fn status_of(uri: &str) -> (u16, String) {
        let app: Router = Router::new()
            .route("/public", get(|ApiQuery(q): ApiQuery<PublicListQuery>| async move { format!("{:?}", q.state) }))
            .route("/admin", get(|ApiQuery(q): ApiQuery<AdminListQuery>| async move { format!("{:?}", q.state) }));
        let r = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = r.status().as_u16();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn list_filters_accept_known_states_only() {
        assert_eq!(status_of("/public").await, (200, "None".into()));
        assert_eq!(status_of("/public?state=").await, (200, "None".into()));
        assert_eq!(status_of("/public?state=running").await, (200, "Some(Running)".into()));
        assert_eq!(status_of("/public?state=ended").await, (200, "Some(Ended)".into()));
        let (s, body) = status_of("/public?state=weird").await;
        assert_eq!(s, 400);
        assert!(body.contains("BAD_REQUEST"), "{body}");
        // Shoppers cannot ask for paused or disabled activities by name; operators can.
        assert_eq!(status_of("/public?state=disabled").await.0, 400);
        assert_eq!(status_of("/admin?state=sold_out").await, (200, "Some(SoldOut)".into()));
        assert_eq!(status_of("/admin?state=disabled").await, (200, "Some(Disabled)".into()));
        assert_eq!(status_of("/admin?state=nope").await.0, 400);
    }
}
