//! Seckill activities (秒杀活动): one product, per-SKU seckill price and stock, the days and
//! slots it sells in, and its purchase rules (限购).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::catalog::{MAX_STOCK, Product};
use crate::ids::{ActivityId, ProductId, SkuId, SlotId};
use crate::money::{MAX_CENTS, Money};
use crate::slot::{SlotSpan, TimeSlot};
use crate::validation::{FieldErrors, text};
use crate::window::{Moment, Phase, Schedule, ScheduleError};

/// Default time a shopper has to pay an order: 15 minutes.
pub const DEFAULT_PAY_TIMEOUT_SECS: u32 = 15 * 60;
/// Longest payment deadline accepted: one day.
pub const MAX_PAY_TIMEOUT_SECS: u32 = 24 * 60 * 60;
/// Largest per-user or per-order limit accepted.
pub const MAX_LIMIT: u32 = 10_000;
/// Highest shopper level.
pub const MAX_LEVEL: u8 = 100;

/// Who may buy how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRules {
    /// Units one user may hold across all their non-cancelled orders of the activity.
    pub total_limit: u32,
    /// Units one order may hold. Never above `total_limit`.
    pub single_limit: u32,
    /// Lowest shopper level admitted.
    pub min_level: u8,
    /// Only users who reserved (预约) before the start may buy.
    pub reservation_required: bool,
    /// Seconds an order may stay unpaid before it is cancelled and its stock returned.
    pub pay_timeout_secs: u32,
}

/// One SKU on sale in an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitySku {
    pub sku_id: SkuId,
    pub seckill_price: Money,
    /// Units put on sale.
    pub stock: u32,
    /// Units in non-cancelled orders. The records keep `sold <= stock`.
    pub sold: u32,
}

impl ActivitySku {
    /// Units still on sale according to the records.
    pub fn remaining(&self) -> u32 {
        self.stock.saturating_sub(self.sold)
    }
}

/// A slot an activity sells in, as currently defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitySlot {
    pub id: SlotId,
    pub name: String,
    pub span: SlotSpan,
    pub enabled: bool,
}

impl From<&TimeSlot> for ActivitySlot {
    fn from(s: &TimeSlot) -> Self {
        ActivitySlot { id: s.id, name: s.name.clone(), span: s.span, enabled: s.enabled }
    }
}

/// A stored activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: ActivityId,
    pub name: String,
    pub product_id: ProductId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub slots: Vec<ActivitySlot>,
    pub skus: Vec<ActivitySku>,
    pub rules: PurchaseRules,
    pub enabled: bool,
    /// Bumped by every change of the activity or its slots; the snapshot and the static page
    /// are rebuilt when it moves.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Activity {
    /// The windows rule of this activity: its enabled slots between `starts_at` and `ends_at`.
    /// `None` only for records that break the creation rules (treated as ended).
    pub fn schedule(&self) -> Option<Schedule> {
        let spans = self.slots.iter().filter(|s| s.enabled).map(|s| s.span).collect();
        Schedule::new(self.starts_at, self.ends_at, spans).ok()
    }

    /// Where the activity stands at `now` in zone `tz`.
    pub fn moment_at(&self, now: Timestamp, tz: &TimeZone) -> Moment {
        match self.schedule() {
            Some(s) => s.moment_at(now, self.enabled, tz),
            None => Moment { phase: Phase::Ended, current: None, next: None },
        }
    }

    /// The activity SKU with this id.
    pub fn sku(&self, id: SkuId) -> Option<&ActivitySku> {
        self.skus.iter().find(|s| s.sku_id == id)
    }

    /// Whether the activity is over for good at `now` (its slots can no longer be deleted freely
    /// only while it is not).
    pub fn is_finished(&self, now: Timestamp) -> bool {
        now >= self.ends_at
    }
}

/// Raw activity input as it arrives, before validation.
#[derive(Debug, Clone, Default)]
pub struct ActivityInput<'a> {
    pub name: &'a str,
    pub product_id: i64,
    pub starts_at: &'a str,
    pub ends_at: &'a str,
    pub time_slot_ids: &'a [i64],
    pub skus: Vec<ActivitySkuInput>,
    pub total_limit: i64,
    pub single_limit: i64,
    pub min_level: Option<i64>,
    pub reservation_required: Option<bool>,
    pub pay_timeout_secs: Option<i64>,
    pub enabled: Option<bool>,
}

/// Raw per-SKU input.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivitySkuInput {
    pub sku_id: i64,
    pub seckill_price_cents: i64,
    pub stock: i64,
}

/// A valid activity definition (shape only); see [`NewActivity::check_against`] for the rules
/// that need the product and the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    pub name: String,
    pub product_id: ProductId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub slot_ids: Vec<SlotId>,
    pub skus: Vec<NewActivitySku>,
    pub rules: PurchaseRules,
    pub enabled: bool,
}

/// One SKU of a [`NewActivity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewActivitySku {
    pub sku_id: SkuId,
    pub seckill_price: Money,
    pub stock: u32,
}

fn limit(errors: &mut FieldErrors, field: &str, value: i64) -> u32 {
    match u32::try_from(value) {
        Ok(v) if (1..=MAX_LIMIT).contains(&v) => v,
        _ => {
            errors.add(field, format!("must be between 1 and {MAX_LIMIT}"));
            0
        }
    }
}

/// An RFC 3339 instant, kept to the millisecond: the records store milliseconds, so the rules
/// checked on the parsed value (`starts_at < ends_at`) hold for what is stored too.
fn instant(errors: &mut FieldErrors, field: &str, value: &str) -> Option<Timestamp> {
    let parsed =
        value.trim().parse::<Timestamp>().ok().and_then(|t| Timestamp::from_millisecond(t.as_millisecond()).ok());
    if parsed.is_none() {
        errors.add(field, "must be an RFC 3339 time such as 2026-11-11T10:00:00Z, before the year 9999");
    }
    parsed
}

impl NewActivity {
    /// Parses the operator's input, collecting every problem: `starts_at < ends_at`,
    /// `single_limit >= 1`, `total_limit >= single_limit`, positive prices and stock, no SKU or
    /// slot twice.
    pub fn parse(input: &ActivityInput<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = text(&mut errors, "name", input.name, 120);
        let product_id =
            ProductId::try_from(input.product_id).map_err(|_| errors.add("product_id", "must be a positive id")).ok();
        let starts_at = instant(&mut errors, "starts_at", input.starts_at);
        let ends_at = instant(&mut errors, "ends_at", input.ends_at);
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            match Schedule::new(s, e, vec![]) {
                Err(ScheduleError::EndsBeforeStart) => errors.add("ends_at", "must be after starts_at"),
                Err(e) => errors.add("ends_at", e.to_string()),
                Ok(_) => {}
            }
        }

        let mut slot_ids = Vec::new();
        if input.time_slot_ids.is_empty() {
            errors.add("time_slot_ids", "choose at least one time slot");
        }
        for raw in input.time_slot_ids {
            match SlotId::try_from(*raw) {
                Ok(id) if slot_ids.contains(&id) => errors.add("time_slot_ids", format!("slot {id} is listed twice")),
                Ok(id) => slot_ids.push(id),
                Err(_) => errors.add("time_slot_ids", "must be positive ids"),
            }
        }

        let mut skus: Vec<NewActivitySku> = Vec::new();
        let mut seen: Vec<SkuId> = Vec::new();
        if input.skus.is_empty() {
            errors.add("skus", "put at least one sku on sale");
        }
        for (i, s) in input.skus.iter().enumerate() {
            let at = |f: &str| format!("skus[{i}].{f}");
            let sku_id = SkuId::try_from(s.sku_id).map_err(|_| errors.add(at("sku_id"), "must be a positive id")).ok();
            if let Some(id) = sku_id {
                if seen.contains(&id) {
                    errors.add(at("sku_id"), format!("sku {id} is listed twice"));
                }
                seen.push(id);
            }
            let price = match Money::parse_cents(s.seckill_price_cents) {
                Ok(p) if p.cents() > 0 => Some(p),
                _ => {
                    errors.add(at("seckill_price_cents"), format!("must be between 1 and {MAX_CENTS} cents"));
                    None
                }
            };
            let stock = match u32::try_from(s.stock) {
                Ok(v) if (1..=MAX_STOCK).contains(&v) => Some(v),
                _ => {
                    errors.add(at("stock"), format!("must be between 1 and {MAX_STOCK}"));
                    None
                }
            };
            if let (Some(sku_id), Some(seckill_price), Some(stock)) = (sku_id, price, stock) {
                skus.push(NewActivitySku { sku_id, seckill_price, stock });
            }
        }

        let single_limit = limit(&mut errors, "single_limit", input.single_limit);
        let total_limit = limit(&mut errors, "total_limit", input.total_limit);
        if single_limit > 0 && total_limit > 0 && total_limit < single_limit {
            errors.add("total_limit", "must be at least single_limit");
        }
        let min_level = match input.min_level.map(u8::try_from) {
            None => 0,
            Some(Ok(l)) if l <= MAX_LEVEL => l,
            Some(_) => {
                errors.add("min_level", format!("must be between 0 and {MAX_LEVEL}"));
                0
            }
        };
        let pay_timeout_secs = match input.pay_timeout_secs.map(u32::try_from) {
            None => DEFAULT_PAY_TIMEOUT_SECS,
            Some(Ok(t)) if (1..=MAX_PAY_TIMEOUT_SECS).contains(&t) => t,
            Some(_) => {
                errors.add("pay_timeout_secs", format!("must be between 1 and {MAX_PAY_TIMEOUT_SECS}"));
                0
            }
        };
        let rules = PurchaseRules {
            total_limit,
            single_limit,
            min_level,
            reservation_required: input.reservation_required.unwrap_or(false),
            pay_timeout_secs,
        };
        match (product_id, starts_at, ends_at) {
            (Some(product_id), Some(starts_at), Some(ends_at)) if errors.is_empty() => Ok(NewActivity {
                name,
                product_id,
                starts_at,
                ends_at,
                slot_ids,
                skus,
                rules,
                enabled: input.enabled.unwrap_or(true),
            }),
            _ => Err(errors),
        }
    }

    /// The rules that need the records: every SKU belongs to the product, its seckill price is
    /// not above the list price and its stock not above the SKU's stock; every slot exists; and
    /// at least one enabled slot opens a window between `starts_at` and `ends_at` in `tz`.
    /// Returns the slots in the order given and the schedule.
    pub fn check_against(
        &self,
        product: &Product,
        all_slots: &[TimeSlot],
        tz: &TimeZone,
    ) -> Result<(Vec<ActivitySlot>, Schedule), FieldErrors> {
        let mut errors = FieldErrors::new();
        for (i, s) in self.skus.iter().enumerate() {
            match product.sku(s.sku_id) {
                None => errors.add(
                    format!("skus[{i}].sku_id"),
                    format!("sku {} is not a sku of product {}", s.sku_id, product.id),
                ),
                Some(sku) => {
                    if s.seckill_price > sku.price {
                        errors.add(
                            format!("skus[{i}].seckill_price_cents"),
                            format!("must not exceed the list price of {} cents", sku.price.cents()),
                        );
                    }
                    if s.stock > sku.stock {
                        errors.add(
                            format!("skus[{i}].stock"),
                            format!("must not exceed the sku's stock of {}", sku.stock),
                        );
                    }
                }
            }
        }
        let mut slots = Vec::with_capacity(self.slot_ids.len());
        for id in &self.slot_ids {
            match all_slots.iter().find(|s| s.id == *id) {
                Some(s) => slots.push(ActivitySlot::from(s)),
                None => errors.add("time_slot_ids", format!("slot {id} does not exist")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let spans = slots.iter().filter(|s| s.enabled).map(|s| s.span).collect();
        match Schedule::validate(self.starts_at, self.ends_at, spans, tz) {
            Ok(schedule) => Ok((slots, schedule)),
            Err(e) => Err(FieldErrors::single("time_slot_ids", e.to_string())),
        }
    }

    /// For an update of `existing`: the first SKU whose new stock would drop below what is
    /// already sold (a SKU removed from the activity counts as stock 0).
    pub fn first_stock_below_sold(&self, existing: &Activity) -> Option<(SkuId, u32, u32)> {
        existing.skus.iter().filter(|old| old.sold > 0).find_map(|old| {
            let stock = self.skus.iter().find(|n| n.sku_id == old.sku_id).map_or(0, |n| n.stock);
            (stock < old.sold).then_some((old.sku_id, stock, old.sold))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Sku;

    fn input<'a>(slots: &'a [i64]) -> ActivityInput<'a> {
        ActivityInput {
            name: "Double 11 phone",
            product_id: 1,
            starts_at: "2026-11-11T00:00:00Z",
            ends_at: "2026-11-12T00:00:00Z",
            time_slot_ids: slots,
            skus: vec![ActivitySkuInput { sku_id: 10, seckill_price_cents: 9_900, stock: 100 }],
            total_limit: 2,
            single_limit: 1,
            ..Default::default()
        }
    }

    fn product() -> Product {
        Product {
            id: ProductId::from_raw(1),
            name: "Phone".into(),
            brand_id: None,
            category_id: None,
            description: String::new(),
            image_urls: vec![],
            skus: vec![Sku {
                id: SkuId::from_raw(10),
                name: "black".into(),
                spec: String::new(),
                price: Money::from_cents(19_900),
                stock: 500,
                seckill: false,
            }],
        }
    }

    fn slots() -> Vec<TimeSlot> {
        let span = |a: &str, b: &str| SlotSpan::new(a.parse().unwrap(), b.parse().unwrap()).unwrap();
        vec![
            TimeSlot {
                id: SlotId::from_raw(1),
                name: "10点场".into(),
                span: span("10:00", "12:00"),
                enabled: true,
                sort: 0,
            },
            TimeSlot {
                id: SlotId::from_raw(2),
                name: "off".into(),
                span: span("14:00", "16:00"),
                enabled: false,
                sort: 1,
            },
        ]
    }

    #[test]
    fn a_valid_activity_parses_with_defaults() {
        let a = NewActivity::parse(&input(&[1])).unwrap();
        assert_eq!(a.rules.pay_timeout_secs, DEFAULT_PAY_TIMEOUT_SECS);
        assert_eq!(a.rules.min_level, 0);
        assert!(a.enabled);
        assert!(!a.rules.reservation_required);
        let (slots, _) = a.check_against(&product(), &slots(), &TimeZone::UTC).unwrap();
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn every_shape_rule_of_the_api_is_enforced() {
        let mut bad = input(&[1, 1]);
        bad.starts_at = "2026-11-12T00:00:00Z";
        bad.skus = vec![
            ActivitySkuInput { sku_id: 10, seckill_price_cents: 0, stock: 0 },
            ActivitySkuInput { sku_id: 10, seckill_price_cents: 5, stock: 1 },
        ];
        bad.single_limit = 3;
        bad.total_limit = 2;
        let e = NewActivity::parse(&bad).unwrap_err();
        assert_eq!(e.get("ends_at"), Some("must be after starts_at"));
        assert!(e.get("time_slot_ids").is_some());
        assert!(e.get("skus[0].seckill_price_cents").is_some());
        assert!(e.get("skus[0].stock").is_some());
        assert!(e.get("skus[1].sku_id").is_some());
        assert_eq!(e.get("total_limit"), Some("must be at least single_limit"));

        let mut bad = input(&[]);
        bad.single_limit = 0;
        bad.starts_at = "tomorrow";
        let e = NewActivity::parse(&bad).unwrap_err();
        assert!(e.get("single_limit").is_some());
        assert!(e.get("starts_at").is_some());
        assert_eq!(e.get("time_slot_ids"), Some("choose at least one time slot"));
    }

    #[test]
    fn instants_are_kept_to_the_millisecond_the_records_store() {
        let mut i = input(&[1]);
        i.starts_at = "2026-11-11T10:00:00.123456789+08:00";
        let a = NewActivity::parse(&i).unwrap();
        assert_eq!(a.starts_at, "2026-11-11T02:00:00.123Z".parse::<Timestamp>().unwrap());
        // Apart below the millisecond only: the same stored instant, so not after it.
        i.starts_at = "2026-11-11T00:00:00.0001Z";
        i.ends_at = "2026-11-11T00:00:00.0009Z";
        assert_eq!(NewActivity::parse(&i).unwrap_err().get("ends_at"), Some("must be after starts_at"));
    }

    #[test]
    fn skus_prices_stock_and_slots_are_checked_against_the_records() {
        let mut i = input(&[1, 9]);
        i.skus = vec![
            ActivitySkuInput { sku_id: 10, seckill_price_cents: 30_000, stock: 501 },
            ActivitySkuInput { sku_id: 11, seckill_price_cents: 1, stock: 1 },
        ];
        let e = NewActivity::parse(&i).unwrap().check_against(&product(), &slots(), &TimeZone::UTC).unwrap_err();
        assert!(e.get("skus[0].seckill_price_cents").is_some());
        assert!(e.get("skus[0].stock").is_some());
        assert_eq!(e.get("skus[1].sku_id"), Some("sku 11 is not a sku of product 1"));
        assert_eq!(e.get("time_slot_ids"), Some("slot 9 does not exist"));

        // Only a disabled slot: no window ever opens.
        let e =
            NewActivity::parse(&input(&[2])).unwrap().check_against(&product(), &slots(), &TimeZone::UTC).unwrap_err();
        assert_eq!(e.get("time_slot_ids"), Some("no enabled time slot opens between starts_at and ends_at"));
    }

    #[test]
    fn stock_may_not_drop_below_what_is_sold() {
        let new = NewActivity::parse(&input(&[1])).unwrap();
        let ts: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let mut existing = Activity {
            id: ActivityId::from_raw(1),
            name: "x".into(),
            product_id: ProductId::from_raw(1),
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            slots: vec![],
            skus: vec![ActivitySku {
                sku_id: SkuId::from_raw(10),
                seckill_price: Money::from_cents(1),
                stock: 200,
                sold: 100,
            }],
            rules: new.rules,
            enabled: true,
            version: 1,
            created_at: ts,
            updated_at: ts,
        };
        assert_eq!(new.first_stock_below_sold(&existing), None); // 100 >= 100
        existing.skus[0].sold = 101;
        assert_eq!(new.first_stock_below_sold(&existing), Some((SkuId::from_raw(10), 100, 101)));
        existing.skus[0].sku_id = SkuId::from_raw(12); // a sold sku that the update drops
        assert_eq!(new.first_stock_below_sold(&existing), Some((SkuId::from_raw(12), 0, 101)));
    }
}
