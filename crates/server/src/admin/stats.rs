//! `GET /api/admin/stats`: the live sale as this instance sees it — order requests per second
//! (and the last minute, second by second), rejections by code, the hottest SKUs by request
//! rate, when SKUs sold out, and units taken against stock for every activity on sale.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, ErrorBody};
use crate::sale::{ActivityState, sale_in};
use crate::state::AppState;

/// How many hot SKUs the report lists.
const HOT_SKUS: usize = 10;

/// A SKU by request rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct HotSkuView {
    pub activity_id: i64,
    pub sku_id: i64,
    /// Order requests per second over the last 10 s.
    pub requests_per_sec: f64,
    pub requests_last_minute: u64,
}

/// When a SKU sold out.
#[derive(Debug, Serialize, ToSchema)]
pub struct SoldOutView {
    pub activity_id: i64,
    pub sku_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Units of one SKU on sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkuFigures {
    pub sku_id: i64,
    pub stock: u32,
    /// Units in orders (including orders being written).
    pub sold: u32,
    pub remaining: u32,
}

/// An activity that is not over, with its SKUs' figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveActivityFigures {
    pub id: i64,
    pub name: String,
    pub state: ActivityState,
    pub skus: Vec<SkuFigures>,
}

/// The live report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    #[schema(value_type = String, format = DateTime)]
    pub now: Timestamp,
    /// Order requests per second over the last 10 s.
    pub requests_per_sec: f64,
    /// Order requests per second, one value per second for the last minute, oldest first.
    pub requests_series: Vec<u64>,
    pub orders_created: u64,
    /// Rejections by API code since this instance started.
    pub rejections: BTreeMap<String, u64>,
    pub hot_skus: Vec<HotSkuView>,
    pub sold_out: Vec<SoldOutView>,
    pub activities: Vec<LiveActivityFigures>,
}

/// `GET /api/admin/stats`.
#[utoipa::path(get, path = "/api/admin/stats", operation_id = "admin_stats", tag = "admin", responses(
    (status = 200, description = "the live figures", body = Stats),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn stats(State(state): State<AppState>) -> Result<Json<Stats>, AppError> {
    let rush = &state.rush;
    let report = rush.stats().report(HOT_SKUS);
    let now = rush.now();
    let mut activities: Vec<LiveActivityFigures> = rush
        .snapshot()
        .all()
        .into_iter()
        .filter_map(|live| {
            let view = sale_in(&live.activity, live.moment(now, rush.tz()), rush);
            let over = matches!(view.state, ActivityState::Ended);
            (!over).then(|| LiveActivityFigures {
                id: live.activity.id.get(),
                name: live.activity.name.clone(),
                state: view.state,
                skus: live
                    .activity
                    .skus
                    .iter()
                    .map(|s| {
                        let remaining = view.remaining_of(s.sku_id);
                        SkuFigures {
                            sku_id: s.sku_id.get(),
                            stock: s.stock,
                            sold: s.stock.saturating_sub(remaining),
                            remaining,
                        }
                    })
                    .collect(),
            })
        })
        .collect();
    activities.sort_by_key(|a| a.id);
    Ok(Json(Stats {
        now,
        requests_per_sec: report.requests_per_sec,
        requests_series: report.requests_series,
        orders_created: report.orders_created,
        rejections: report.rejections.into_iter().map(|(c, n)| (c.to_owned(), n)).collect(),
        hot_skus: report
            .hot_skus
            .into_iter()
            .map(|h| HotSkuView {
                activity_id: h.activity_id.get(),
                sku_id: h.sku_id.get(),
                requests_per_sec: h.per_sec,
                requests_last_minute: h.last_minute,
            })
            .collect(),
        sold_out: report
            .sold_out
            .into_iter()
            .map(|(a, s, at)| SoldOutView { activity_id: a.get(), sku_id: s.get(), at })
            .collect(),
        activities,
    }))
}
