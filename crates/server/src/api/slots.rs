//! Today's time slots (场次) in the shop's zone, each with the activities that sell in it today.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use seckill_domain::slot::{SlotSpan, SlotTime};
use seckill_store::ActivityQuery;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::activities::{ActivitySummary, products_of};
use crate::error::AppError;
use crate::sale::sale_at;
use crate::state::AppState;

/// One of today's slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotToday {
    pub id: i64,
    pub name: String,
    #[schema(example = "10:00")]
    pub start: String,
    #[schema(example = "12:00")]
    pub end: String,
    /// Today's opening instant of the slot.
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// Today's closing instant of the slot.
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// Enabled activities with a window in this slot today.
    pub activities: Vec<ActivitySummary>,
}

/// Today's slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsToday {
    /// Today in the shop's zone, `YYYY-MM-DD`.
    #[schema(example = "2026-11-11")]
    pub date: String,
    pub items: Vec<SlotToday>,
}

/// The instant a slot time falls on `date` in `tz` (`24:00` is the next midnight), by the same
/// rule as the domain's windows.
fn instant_on(date: Date, time: SlotTime, tz: &TimeZone) -> Option<Timestamp> {
    let (h, m) = time.hour_minute();
    let (day, h) = if h == 24 { (date.tomorrow().ok()?, 0) } else { (date, h) };
    day.at(h, m, 0, 0).to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

fn bounds_on(date: Date, span: SlotSpan, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    Some((instant_on(date, span.start(), tz)?, instant_on(date, span.end(), tz)?))
}

/// `GET /api/time-slots`: today's enabled slots with their activities.
#[utoipa::path(get, path = "/api/time-slots", operation_id = "slots_today", tag = "activities", responses(
    (status = 200, description = "today's slots", body = SlotsToday),
))]
#[tracing::instrument(skip_all)]
pub async fn today(State(state): State<AppState>) -> Result<Json<SlotsToday>, AppError> {
    let now = state.now();
    let date = now.to_zoned(state.tz.clone()).date();
    let midnight = date.to_zoned(state.tz.clone()).map(|z| z.timestamp()).unwrap_or(now);
    let catalog = &*state.records.catalog;
    let slots = catalog.slots().await?;
    let activities: Vec<_> = catalog
        .activities(&ActivityQuery { ends_after: Some(midnight), ..Default::default() })
        .await?
        .into_iter()
        .filter(|a| a.enabled)
        .collect();
    let products = products_of(catalog, &activities).await?;
    let mut items = Vec::new();
    for slot in slots.into_iter().filter(|s| s.enabled) {
        let Some((starts_at, ends_at)) = bounds_on(date, slot.span, &state.tz) else { continue };
        let selling = activities
            .iter()
            .filter(|a| a.slots.iter().any(|s| s.id == slot.id && s.enabled))
            .filter(|a| a.starts_at < ends_at && starts_at < a.ends_at)
            .map(|a| ActivitySummary::new(a, products.get(&a.product_id), &sale_at(a, now, &state.tz, &*state.stock)))
            .collect();
        items.push(SlotToday {
            id: slot.id.get(),
            name: slot.name,
            start: slot.span.start().to_string(),
            end: slot.span.end().to_string(),
            starts_at,
            ends_at,
            activities: selling,
        });
    }
    Ok(Json(SlotsToday { date: date.to_string(), items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_bounds_are_local_wall_clock_times_of_the_day() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let date: Date = "2026-11-11".parse().unwrap();
        let span = SlotSpan::new("22:00".parse().unwrap(), "24:00".parse().unwrap()).unwrap();
        let (s, e) = bounds_on(date, span, &tz).unwrap();
        assert_eq!(s, "2026-11-11T14:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(e, "2026-11-11T16:00:00Z".parse::<Timestamp>().unwrap());
    }
}
