//! What a shopper sees of an activity at an instant: its state, the window bounds a countdown
//! needs, and the units left of each SKU.
//!
//! "Units left" is asked of one small port, [`StockLevels`]. For now it reads the records
//! (`stock − sold`); the hot in-memory stock replaces it later without touching any handler.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use seckill_domain::activity::{Activity, ActivitySku};
use seckill_domain::ids::SkuId;
use seckill_domain::window::{Moment, Phase};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where the server learns how many units of an activity SKU are left.
pub trait StockLevels: Send + Sync + fmt::Debug + 'static {
    /// Units of `sku` still on sale in `activity`.
    fn remaining(&self, activity: &Activity, sku: &ActivitySku) -> u32;
}

/// Stock as the records know it: `stock − sold`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordedStock;

impl StockLevels for RecordedStock {
    fn remaining(&self, _activity: &Activity, sku: &ActivitySku) -> u32 {
        sku.remaining()
    }
}

/// An activity's state as the API shows it: the time phase, plus `sold_out` while running
/// with nothing left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    Upcoming,
    Running,
    Paused,
    SoldOut,
    Ended,
    Disabled,
}

impl ActivityState {
    /// Running, paused between slots, or running but sold out (stock may come back).
    pub fn is_ongoing(self) -> bool {
        matches!(self, ActivityState::Running | ActivityState::Paused | ActivityState::SoldOut)
    }

    /// Ongoing or not started yet: what shoppers are shown unless they ask for ended ones (the
    /// default activity list, search).
    pub fn is_current_or_upcoming(self) -> bool {
        self == ActivityState::Upcoming || self.is_ongoing()
    }
}

/// An activity at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleView {
    pub state: ActivityState,
    /// The next window to open, if one is ahead (not for ended or disabled activities).
    pub next_window_start: Option<Timestamp>,
    /// The end of the window now open.
    pub window_end: Option<Timestamp>,
    /// Units left per SKU, in the activity's order.
    pub remaining: Vec<(SkuId, u32)>,
}

impl SaleView {
    /// Units left of `sku` (0 if it is not on sale here).
    pub fn remaining_of(&self, sku: SkuId) -> u32 {
        self.remaining.iter().find(|(id, _)| *id == sku).map_or(0, |(_, n)| *n)
    }
}

/// `activity` at `now` in zone `tz`, with stock from `stock`.
pub fn sale_at(activity: &Activity, now: Timestamp, tz: &TimeZone, stock: &dyn StockLevels) -> SaleView {
    sale_in(activity, activity.moment_at(now, tz), stock)
}

/// `activity` in the given `moment` (e.g. one cached by the snapshot), with stock from `stock`.
pub fn sale_in(activity: &Activity, moment: Moment, stock: &dyn StockLevels) -> SaleView {
    let remaining: Vec<(SkuId, u32)> = activity.skus.iter().map(|s| (s.sku_id, stock.remaining(activity, s))).collect();
    let state = match moment.phase {
        Phase::Upcoming => ActivityState::Upcoming,
        Phase::Running if !remaining.is_empty() && remaining.iter().all(|(_, n)| *n == 0) => ActivityState::SoldOut,
        Phase::Running => ActivityState::Running,
        Phase::Paused => ActivityState::Paused,
        Phase::Ended => ActivityState::Ended,
        Phase::Disabled => ActivityState::Disabled,
    };
    let (next_window_start, window_end) = match moment.phase {
        Phase::Ended | Phase::Disabled => (None, None),
        _ => (moment.next.map(|w| w.start), moment.current.map(|w| w.end)),
    };
    SaleView { state, next_window_start, window_end, remaining }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seckill_domain::activity::{ActivitySlot, PurchaseRules};
    use seckill_domain::ids::{ActivityId, ProductId, SlotId};
    use seckill_domain::money::Money;
    use seckill_domain::slot::SlotSpan;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn activity(sold: [u32; 2], enabled: bool) -> Activity {
        let sku = |id, sold| ActivitySku {
            sku_id: SkuId::from_raw(id),
            seckill_price: Money::from_cents(100),
            stock: 5,
            sold,
        };
        Activity {
            id: ActivityId::from_raw(1),
            name: "a".into(),
            product_id: ProductId::from_raw(1),
            starts_at: ts("2026-11-11T00:00:00Z"),
            ends_at: ts("2026-11-12T00:00:00Z"),
            slots: vec![ActivitySlot {
                id: SlotId::from_raw(1),
                name: "10".into(),
                span: SlotSpan::new("10:00".parse().unwrap(), "12:00".parse().unwrap()).unwrap(),
                enabled: true,
            }],
            skus: vec![sku(1, sold[0]), sku(2, sold[1])],
            rules: PurchaseRules {
                total_limit: 1,
                single_limit: 1,
                min_level: 0,
                reservation_required: false,
                pay_timeout_secs: 900,
            },
            enabled,
            version: 1,
            created_at: ts("2026-11-01T00:00:00Z"),
            updated_at: ts("2026-11-01T00:00:00Z"),
        }
    }

    #[test]
    fn the_state_follows_the_window_and_sold_out_needs_every_sku_gone() {
        let tz = TimeZone::UTC;
        let at = |a: &Activity, t: &str| sale_at(a, ts(t), &tz, &RecordedStock);
        let a = activity([0, 5], true);
        let v = at(&a, "2026-11-11T09:00:00Z");
        assert_eq!(v.state, ActivityState::Upcoming);
        assert_eq!(v.next_window_start, Some(ts("2026-11-11T10:00:00Z")));
        assert_eq!(v.window_end, None);
        let v = at(&a, "2026-11-11T10:00:00Z");
        assert_eq!((v.state, v.window_end), (ActivityState::Running, Some(ts("2026-11-11T12:00:00Z"))));
        assert_eq!((v.remaining_of(SkuId::from_raw(1)), v.remaining_of(SkuId::from_raw(2))), (5, 0));
        assert_eq!(at(&activity([5, 5], true), "2026-11-11T10:00:00Z").state, ActivityState::SoldOut);
        assert_eq!(at(&activity([5, 5], true), "2026-11-11T09:00:00Z").state, ActivityState::Upcoming);
        assert_eq!(at(&a, "2026-11-11T12:00:00Z").state, ActivityState::Ended);
        let off = at(&activity([0, 0], false), "2026-11-11T10:30:00Z");
        assert_eq!((off.state, off.next_window_start, off.window_end), (ActivityState::Disabled, None, None));
        assert!(ActivityState::SoldOut.is_ongoing() && ActivityState::Paused.is_ongoing());
        assert!(!ActivityState::Upcoming.is_ongoing());
        assert!(ActivityState::Upcoming.is_current_or_upcoming() && ActivityState::SoldOut.is_current_or_upcoming());
        assert!(!ActivityState::Ended.is_current_or_upcoming() && !ActivityState::Disabled.is_current_or_upcoming());
    }
}
