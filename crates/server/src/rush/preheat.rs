//! The preheater (预热): gets activities ready before their first window and keeps the hot path's
//! view in step with the records.
//!
//! One step ([`Preheater::try_step`]) reads the activities that have not ended (or ended within
//! a week), and
//! 1. loads the hot state of every enabled activity whose first window opens within
//!    `preheat` (or is open already), reloading it when its `version` moved (more stock is on
//!    sale at once);
//! 2. tags exactly the SKUs of those activities as seckill SKUs;
//! 3. unloads the hot state of activities that have ended (past their last window or their
//!    `ends_at`), after comparing it with the records (the final reconciliation), and untags
//!    their SKUs;
//! 4. publishes the new snapshot — after the loads, so the hot path never sees an activity
//!    running before its stock is in memory;
//! 5. answers when the next step is due (a preheat instant, a window boundary, an end).
//!
//! [`Preheater::run_until_stopped`] runs steps when due, when woken (an operator's change here
//! or, announced, on another instance; or the hot path meeting an activity not loaded yet), and
//! at least every second. Every instance runs steps (each has its own snapshot, local view and
//! pages; loading the shared hot state is versioned, so any order of instances is right); the
//! records' bookkeeping — SKU tags, the final reconciliation — is the leader's alone. Restarting the
//! server runs a step before it serves, from the records, so it resumes exactly where it was.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use seckill_domain::ids::{ActivityId, SkuId};
use seckill_domain::window::Phase;
use seckill_store::{ActivityQuery, Records, StoreError};
use tokio_util::sync::CancellationToken;

use super::Rush;
use crate::pages::detail::PageRenderer;

/// How long ended activities stay in the snapshot (their status keeps answering from memory).
const KEEP_ENDED: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The longest the preheater sleeps, so a clock moved by hand is noticed within a second.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// What the preheater remembers between steps.
#[derive(Debug, Default)]
struct Loaded {
    activities: BTreeSet<ActivityId>,
    tagged: Option<Vec<SkuId>>,
    /// The version each activity's detail page was rendered at.
    rendered: HashMap<ActivityId, i64>,
}

/// The scheduler of activities' lifecycles.
#[derive(Debug)]
pub struct Preheater {
    rush: Rush,
    records: Records,
    pages: Option<Arc<PageRenderer>>,
    // An async mutex, off the hot path: steps run one at a time, so a slower step can never
    // publish an older snapshot over a newer one.
    loaded: tokio::sync::Mutex<Loaded>,
}

impl Preheater {
    /// A preheater for `rush` reading `records`, rendering detail pages with `pages`.
    pub fn new(rush: Rush, records: Records, pages: Option<Arc<PageRenderer>>) -> Self {
        Preheater { rush, records, pages, loaded: tokio::sync::Mutex::new(Loaded::default()) }
    }

    /// Makes the next step render every detail page again (a product, brand or category
    /// changed, which moves no activity's version).
    pub async fn forget_pages(&self) {
        self.loaded.lock().await.rendered.clear();
        if let Some(pages) = &self.pages {
            pages.forget();
        }
    }

    /// One step (see the module docs); answers when the next one is due.
    #[tracing::instrument(skip_all)]
    pub async fn try_step(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut loaded = self.loaded.lock().await;
        let rush = &self.rush;
        let (now, tz) = (rush.now(), rush.tz().clone());
        let since = now.checked_sub(KEEP_ENDED).unwrap_or(now);
        let activities =
            self.records.catalog.activities(&ActivityQuery { ends_after: Some(since), ..Default::default() }).await?;
        let preheat = SignedDuration::try_from(rush.config().preheat).unwrap_or(SignedDuration::ZERO);

        let mut keep = BTreeSet::new();
        let mut tagged = BTreeSet::new();
        let mut due: Option<Timestamp> = None;
        let mut wake_at = |t: Timestamp| {
            if t > now {
                due = Some(due.map_or(t, |d: Timestamp| d.min(t)));
            }
        };
        for a in &activities {
            let moment = a.moment_at(now, &tz);
            // Ended: past `ends_at`, or past the last window (only an operator's change can
            // open another, and then the activity is loaded afresh from the records).
            if a.is_finished(now) || moment.phase == Phase::Ended {
                continue;
            }
            let first = a.schedule().and_then(|s| s.first_window(&tz));
            let preheat_at = first.map(|w| w.start.checked_sub(preheat).unwrap_or(w.start));
            let in_horizon = a.enabled && preheat_at.is_some_and(|p| now >= p);
            // Once loaded, an activity stays loaded until it ends (disabling pauses it; its
            // counters must survive a re-enable).
            if in_horizon || loaded.activities.contains(&a.id) {
                if rush.gate().loaded_version(a.id) != Some(a.version) {
                    let hot = self.records.orders.hot_activity(a.id).await?;
                    rush.gate().load(&hot).await?;
                    tracing::info!(activity_id = %a.id, version = a.version, "hot state loaded");
                }
                keep.insert(a.id);
                if a.enabled {
                    tagged.extend(a.skus.iter().map(|s| s.sku_id));
                }
            }
            if let Some(p) = preheat_at {
                wake_at(p);
            }
            if let Some(t) = moment.next_transition() {
                wake_at(t);
            }
            wake_at(a.ends_at);
        }
        for ended in loaded.activities.difference(&keep).copied().collect::<Vec<_>>() {
            if rush.coordination().is_leader() {
                self.reconcile(ended).await;
            }
            rush.gate().unload(ended).await?;
            tracing::info!(activity_id = %ended, "activity ended; hot state unloaded");
        }
        loaded.activities = keep;
        let tagged: Vec<SkuId> = tagged.into_iter().collect();
        let leader = rush.coordination().is_leader();
        if !leader {
            // The leader tags; a follower tags again if it becomes the leader.
            loaded.tagged = None;
        } else if loaded.tagged.as_ref() != Some(&tagged) {
            self.records.orders.sync_seckill_tags(&tagged).await?;
            loaded.tagged = Some(tagged);
        }
        if let Some(pages) = &self.pages {
            // Pages of activities not over yet, rendered when published or changed.
            for a in activities.iter().filter(|a| !a.is_finished(now)) {
                if loaded.rendered.get(&a.id) == Some(&a.version) {
                    continue;
                }
                match pages.publish(&self.records, a).await {
                    Ok(_) => {
                        loaded.rendered.insert(a.id, a.version);
                    }
                    Err(e) => tracing::warn!(activity_id = %a.id, error = ?e, "detail page not rendered; retrying"),
                }
            }
        }
        rush.snapshot().publish(activities, now, &tz);
        Ok(due)
    }

    /// Compares the hot state of an ending activity with the records and reports any drift
    /// (`remaining` must equal `stock − sold` once no order is in flight).
    async fn reconcile(&self, activity: ActivityId) {
        let hot = match self.records.orders.hot_activity(activity).await {
            Ok(hot) => hot,
            Err(e) => {
                tracing::warn!(activity_id = %activity, error = %e, "final reconciliation skipped");
                return;
            }
        };
        for sku in hot.skus {
            let recorded = sku.stock.saturating_sub(sku.sold);
            match self.rush.gate().remaining(activity, sku.sku_id) {
                Some(live) if live == recorded => {
                    tracing::info!(activity_id = %activity, sku_id = %sku.sku_id, remaining = live, sold = sku.sold, "reconciled")
                }
                live => {
                    metrics::counter!("seckill_reconciliation_drift_total").increment(1);
                    tracing::warn!(
                        activity_id = %activity, sku_id = %sku.sku_id, hot_remaining = ?live, recorded_remaining = recorded,
                        "hot state and records disagree at the end of the activity; the records are the truth"
                    );
                }
            }
        }
    }

    /// Runs steps until `shutdown`: when due, when woken, and at least every second.
    pub async fn run_until_stopped(&self, shutdown: CancellationToken) {
        loop {
            let due = match self.try_step().await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "preheat step failed; retrying");
                    None
                }
            };
            let now = self.rush.now();
            let sleep = due
                .and_then(|t| Duration::try_from(t.duration_since(now)).ok())
                .map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP));
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.rush.woken() => {}
                () = self.rush.coordination().changed() => {
                    // A product, brand or category change moves no version: render again.
                    self.forget_pages().await;
                }
                () = shutdown.cancelled() => return,
            }
        }
    }
}
