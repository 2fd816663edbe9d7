//! The activity snapshot: every live activity's rules and window bounds in memory, read by the
//! hot path without a lock or a database read, and replaced whole when anything changes.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use seckill_domain::activity::Activity;
use seckill_domain::ids::ActivityId;
use seckill_domain::window::{Moment, Phase, Schedule};

/// One activity as the hot path sees it: its record at publish time and the state it was in,
/// valid until the next transition.
#[derive(Debug)]
pub struct LiveActivity {
    pub activity: Activity,
    schedule: Option<Schedule>,
    /// The moment at `computed_at`, true for every instant until `valid_until`.
    cached: Moment,
    computed_at: Timestamp,
    valid_until: Option<Timestamp>,
}

impl LiveActivity {
    /// Computes the activity's state at `now` once, for reuse until its next transition.
    pub fn new(activity: Activity, now: Timestamp, tz: &TimeZone) -> Self {
        let schedule = activity.schedule();
        let cached = match &schedule {
            Some(s) => s.moment_at(now, activity.enabled, tz),
            None => Moment { phase: Phase::Ended, current: None, next: None },
        };
        let valid_until = match cached.phase {
            // A disabled activity changes by itself only when it ends.
            Phase::Disabled => Some(activity.ends_at),
            _ => cached.next_transition(),
        };
        LiveActivity { activity, schedule, cached, computed_at: now, valid_until }
    }

    /// The activity's state at `now`: the cached one while it holds, else computed afresh
    /// (pure CPU; the preheater republishes at every transition, so this is rare).
    pub fn moment(&self, now: Timestamp, tz: &TimeZone) -> Moment {
        let fresh = now >= self.computed_at && self.valid_until.is_none_or(|until| now < until);
        if fresh {
            return self.cached;
        }
        match &self.schedule {
            Some(s) => s.moment_at(now, self.activity.enabled, tz),
            None => self.cached,
        }
    }

    /// When this entry's cached state stops holding.
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }
}

/// The published activities, swapped atomically.
#[derive(Debug, Default)]
pub struct Snapshot {
    live: ArcSwap<HashMap<ActivityId, Arc<LiveActivity>>>,
}

impl Snapshot {
    /// The activity, if it is in the snapshot (not ended long ago).
    pub fn get(&self, id: ActivityId) -> Option<Arc<LiveActivity>> {
        self.live.load().get(&id).cloned()
    }

    /// Every activity in the snapshot.
    pub fn all(&self) -> Vec<Arc<LiveActivity>> {
        self.live.load().values().cloned().collect()
    }

    /// Replaces the whole snapshot.
    pub fn publish(&self, activities: Vec<Activity>, now: Timestamp, tz: &TimeZone) {
        let map = activities.into_iter().map(|a| (a.id, Arc::new(LiveActivity::new(a, now, tz)))).collect();
        self.live.store(Arc::new(map));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seckill_domain::activity::{ActivitySku, ActivitySlot, PurchaseRules};
    use seckill_domain::ids::{ProductId, SkuId, SlotId};
    use seckill_domain::money::Money;
    use seckill_domain::slot::SlotSpan;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn activity(enabled: bool) -> Activity {
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
            skus: vec![ActivitySku {
                sku_id: SkuId::from_raw(1),
                seckill_price: Money::from_cents(1),
                stock: 1,
                sold: 0,
            }],
            rules: PurchaseRules {
                total_limit: 1,
                single_limit: 1,
                min_level: 0,
                reservation_required: false,
                pay_timeout_secs: 60,
            },
            enabled,
            version: 1,
            created_at: ts("2026-11-01T00:00:00Z"),
            updated_at: ts("2026-11-01T00:00:00Z"),
        }
    }

    #[test]
    fn a_cached_state_holds_until_the_next_transition_then_is_recomputed() {
        let tz = TimeZone::UTC;
        let live = LiveActivity::new(activity(true), ts("2026-11-11T09:00:00Z"), &tz);
        assert_eq!(live.valid_until(), Some(ts("2026-11-11T10:00:00Z")));
        assert_eq!(live.moment(ts("2026-11-11T09:59:59Z"), &tz).phase, Phase::Upcoming);
        // Past the transition without a republish: computed afresh, never stale.
        assert_eq!(live.moment(ts("2026-11-11T10:00:00Z"), &tz).phase, Phase::Running);
        assert_eq!(live.moment(ts("2026-11-11T12:00:00Z"), &tz).phase, Phase::Ended);
        // Before the publish instant (a clock moved back): computed afresh too.
        assert_eq!(live.moment(ts("2026-11-10T09:00:00Z"), &tz).phase, Phase::Upcoming);
    }

    #[test]
    fn a_disabled_activity_turns_ended_at_its_end() {
        let tz = TimeZone::UTC;
        let live = LiveActivity::new(activity(false), ts("2026-11-11T10:30:00Z"), &tz);
        assert_eq!(live.moment(ts("2026-11-11T11:00:00Z"), &tz).phase, Phase::Disabled);
        assert_eq!(live.moment(ts("2026-11-12T00:00:00Z"), &tz).phase, Phase::Ended);
    }

    #[test]
    fn publishing_replaces_the_whole_snapshot() {
        let tz = TimeZone::UTC;
        let snap = Snapshot::default();
        snap.publish(vec![activity(true)], ts("2026-11-11T09:00:00Z"), &tz);
        assert!(snap.get(ActivityId::from_raw(1)).is_some());
        snap.publish(vec![], ts("2026-11-11T09:00:00Z"), &tz);
        assert!(snap.get(ActivityId::from_raw(1)).is_none());
    }
}
