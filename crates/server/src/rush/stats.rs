//! Live figures of the sale for the operators' dashboard: order requests per second, rejections
//! by code, the hottest SKUs by request rate, and when each SKU sold out. Atomics only: the hot
//! path pays a few relaxed increments, never a lock.
//!
//! Figures are per instance (each counts what it served) and kept for the last
//! [`WINDOW_SECS`] seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use jiff::Timestamp;
use seckill_domain::ids::{ActivityId, SkuId};
use seckill_domain::rejection::Rejection;

/// Seconds of history kept.
pub const WINDOW_SECS: usize = 60;

/// Counts per second for the last [`WINDOW_SECS`] seconds, in a ring indexed by second.
#[derive(Debug)]
struct Ring {
    /// For each slot: the second it counts (since `epoch`) and the count.
    seconds: [AtomicU64; WINDOW_SECS],
    counts: [AtomicU64; WINDOW_SECS],
}

impl Ring {
    fn new() -> Self {
        Ring {
            seconds: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn add(&self, second: u64, n: u64) {
        let i = (second % WINDOW_SECS as u64) as usize;
        let owner = self.seconds[i].load(Ordering::Relaxed);
        if owner != second {
            // First event of a new second in this slot: claim it and restart its count. A lost
            // race costs at most a few counts in one second's bucket, never a wrong total.
            if self.seconds[i].compare_exchange(owner, second, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                self.counts[i].store(0, Ordering::Relaxed);
            }
        }
        self.counts[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Counts of the seconds `now-WINDOW+1 ..= now`, oldest first (0 where nothing happened).
    fn series(&self, now: u64) -> Vec<u64> {
        (0..WINDOW_SECS as u64)
            .rev()
            .map(|back| {
                let second = now.saturating_sub(back);
                let i = (second % WINDOW_SECS as u64) as usize;
                if now >= back && self.seconds[i].load(Ordering::Relaxed) == second {
                    self.counts[i].load(Ordering::Relaxed)
                } else {
                    0
                }
            })
            .collect()
    }
}

/// The sale's live figures.
#[derive(Debug)]
pub struct SaleStats {
    epoch: Instant,
    requests: Ring,
    rejections: DashMap<&'static str, AtomicU64>,
    per_sku: DashMap<(ActivityId, SkuId), Arc<Ring>>,
    sold_out_at: DashMap<(ActivityId, SkuId), Timestamp>,
    orders: AtomicU64,
}

impl Default for SaleStats {
    fn default() -> Self {
        SaleStats {
            epoch: Instant::now(),
            requests: Ring::new(),
            rejections: DashMap::new(),
            per_sku: DashMap::new(),
            sold_out_at: DashMap::new(),
            orders: AtomicU64::new(0),
        }
    }
}

/// A SKU's request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotSku {
    pub activity_id: ActivityId,
    pub sku_id: SkuId,
    /// Order requests per second over the last 10 seconds.
    pub per_sec: f64,
    /// Order requests in the last minute.
    pub last_minute: u64,
}

/// A snapshot of the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsReport {
    /// Order requests per second over the last 10 seconds.
    pub requests_per_sec: f64,
    /// Order requests per second, one value per second for the last minute, oldest first.
    pub requests_series: Vec<u64>,
    /// Rejections by API code since start.
    pub rejections: Vec<(&'static str, u64)>,
    /// Orders created since start.
    pub orders_created: u64,
    /// The SKUs with the most order requests in the last 10 seconds, hottest first.
    pub hot_skus: Vec<HotSku>,
    /// When each SKU last sold out (and has not had stock back since).
    pub sold_out: Vec<(ActivityId, SkuId, Timestamp)>,
}

impl SaleStats {
    fn second(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// One order request, for `sku` when the request named one.
    pub fn request(&self, activity: ActivityId, sku: Option<SkuId>) {
        let s = self.second();
        self.requests.add(s, 1);
        if let Some(sku) = sku {
            let ring = match self.per_sku.get(&(activity, sku)) {
                Some(r) => r.clone(),
                None => self.per_sku.entry((activity, sku)).or_insert_with(|| Arc::new(Ring::new())).clone(),
            };
            ring.add(s, 1);
        }
    }

    /// One rejection.
    pub fn rejected(&self, rejection: Rejection) {
        let code = rejection.code();
        if let Some(c) = self.rejections.get(code) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.rejections.entry(code).or_insert_with(|| AtomicU64::new(0)).fetch_add(1, Ordering::Relaxed);
    }

    /// One order created.
    pub fn created(&self) {
        self.orders.fetch_add(1, Ordering::Relaxed);
    }

    /// The SKU has just sold out (first time, or again after stock came back).
    pub fn sold_out(&self, activity: ActivityId, sku: SkuId, at: Timestamp) {
        self.sold_out_at.entry((activity, sku)).or_insert(at);
    }

    /// Stock came back to the SKU: it is no longer sold out.
    pub fn restocked(&self, activity: ActivityId, sku: SkuId) {
        self.sold_out_at.remove(&(activity, sku));
    }

    /// The figures now; `top` hot SKUs at most.
    pub fn report(&self, top: usize) -> StatsReport {
        let now = self.second();
        let series = self.requests.series(now);
        let recent = |s: &[u64]| s.iter().rev().take(10).sum::<u64>() as f64 / 10.0;
        let mut hot: Vec<HotSku> = self
            .per_sku
            .iter()
            .map(|e| {
                let s = e.value().series(now);
                HotSku { activity_id: e.key().0, sku_id: e.key().1, per_sec: recent(&s), last_minute: s.iter().sum() }
            })
            .filter(|h| h.last_minute > 0)
            .collect();
        hot.sort_by(|a, b| b.per_sec.total_cmp(&a.per_sec).then(b.last_minute.cmp(&a.last_minute)));
        hot.truncate(top);
        let mut rejections: Vec<(&'static str, u64)> =
            self.rejections.iter().map(|e| (*e.key(), e.value().load(Ordering::Relaxed))).collect();
        rejections.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut sold_out: Vec<(ActivityId, SkuId, Timestamp)> =
            self.sold_out_at.iter().map(|e| (e.key().0, e.key().1, *e.value())).collect();
        sold_out.sort_by_key(|s| s.2);
        StatsReport {
            requests_per_sec: recent(&series),
            requests_series: series,
            rejections,
            orders_created: self.orders.load(Ordering::Relaxed),
            hot_skus: hot,
            sold_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_keeps_the_last_minute_and_forgets_older_seconds() {
        let ring = Ring::new();
        ring.add(5, 3);
        ring.add(5, 1);
        ring.add(6, 2);
        let s = ring.series(6);
        assert_eq!(s.len(), WINDOW_SECS);
        assert_eq!(&s[WINDOW_SECS - 2..], &[4, 2]);
        // 60 seconds later the same slots count new seconds; the old counts are gone.
        ring.add(65, 7);
        assert_eq!(ring.series(65).iter().sum::<u64>(), 7 + 2, "second 6 is inside the minute ending at 65");
        assert_eq!(ring.series(66).iter().sum::<u64>(), 7, "and outside the minute ending at 66");
        assert_eq!(ring.series(200).iter().sum::<u64>(), 0);
    }

    #[test]
    fn the_report_ranks_hot_skus_and_counts_rejections() {
        let stats = SaleStats::default();
        let (a, x, y) = (ActivityId::from_raw(1), SkuId::from_raw(1), SkuId::from_raw(2));
        for _ in 0..5 {
            stats.request(a, Some(x));
        }
        stats.request(a, Some(y));
        stats.request(a, None);
        stats.rejected(Rejection::SoldOut);
        stats.rejected(Rejection::SoldOut);
        stats.rejected(Rejection::LimitExceeded);
        stats.created();
        let at: Timestamp = "2026-11-11T02:00:01Z".parse().unwrap();
        stats.sold_out(a, x, at);
        stats.sold_out(a, x, "2026-11-11T02:00:09Z".parse().unwrap());
        let r = stats.report(10);
        assert_eq!(r.hot_skus.iter().map(|h| h.sku_id).collect::<Vec<_>>(), vec![x, y]);
        assert_eq!(r.hot_skus[0].last_minute, 5);
        assert_eq!(r.rejections, vec![("SOLD_OUT", 2), ("LIMIT_EXCEEDED", 1)]);
        assert_eq!(r.orders_created, 1);
        assert_eq!(r.sold_out, vec![(a, x, at)], "the first sell-out time is kept");
        assert_eq!(r.requests_series.iter().sum::<u64>(), 7);
        stats.restocked(a, x);
        assert!(stats.report(10).sold_out.is_empty());
    }
}
