//! The sale of a run, set up and read back over the operators' API exactly as the console
//! would: a product with its SKUs, a daily time slot covering the rush (in the server's zone), an
//! activity opening a few seconds ahead; afterwards the activity's figures, its orders, and
//! switching it off.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use jiff::{SignedDuration, Timestamp, Unit, Zoned};
use reqwest::Method;
use seckill_domain::TimeZone;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::args::Plan;

/// How long the sale stays open after the rush, so the invariant check can still ask for
/// purchase tokens (for the idempotency replays).
const AFTER_THE_RUSH: SignedDuration = SignedDuration::from_mins(30);
/// Orders per page of the operators' list (its maximum).
const PER_PAGE: u64 = 200;
/// Pages of orders read at once.
const PAGES_AT_ONCE: usize = 4;

/// An operator's session over HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    http: reqwest::Client,
    base: String,
    auth: String,
}

/// The server's clock, read once: converts the server's instants into this process's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerClock {
    /// The server's "now" at `at`.
    now: Timestamp,
    at: Instant,
}

impl ServerClock {
    /// The server's "now" at this moment.
    pub(crate) fn now(&self) -> Timestamp {
        let d = SignedDuration::try_from(self.at.elapsed()).unwrap_or(SignedDuration::ZERO);
        self.now.checked_add(d).unwrap_or(self.now)
    }

    /// The local instant at which the server's clock shows `t`.
    pub(crate) fn instant_of(&self, t: Timestamp) -> Instant {
        let ahead = t.duration_since(self.now);
        match Duration::try_from(ahead) {
            Ok(d) => self.at + d,
            Err(_) => self.at.checked_sub(Duration::try_from(-ahead).unwrap_or_default()).unwrap_or(self.at),
        }
    }
}

/// The sale under load.
#[derive(Debug, Clone)]
pub(crate) struct Sale {
    pub id: i64,
    /// SKU ids, in the order they were created.
    pub skus: Vec<i64>,
    pub opens_at: Timestamp,
    pub total_limit: u32,
    pub single_limit: u32,
}

/// One SKU of the activity as operators see it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SkuFigures {
    pub sku_id: i64,
    pub stock: u32,
    pub sold: u32,
    /// Units left in the hot state.
    pub remaining: u32,
}

/// The activity's live figures.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ActivityFigures {
    pub skus: Vec<SkuFigures>,
    pub figures: OrderCount,
}

/// How many orders the operators count.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct OrderCount {
    /// Non-cancelled orders.
    pub orders: u64,
}

/// An order as the operators' list shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OrderRow {
    pub id: i64,
    pub ticket: String,
    pub user_id: i64,
    pub sku_id: i64,
    pub quantity: u32,
    pub status: String,
}

#[derive(Debug, Deserialize)]
struct OrderPage {
    items: Vec<OrderRow>,
    total: u64,
}

#[derive(Debug, Deserialize)]
struct SlotRow {
    id: i64,
    start: String,
    end: String,
    enabled: bool,
}

#[derive(Debug, Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

impl Admin {
    /// Signs in as operator `user` at `base`.
    pub(crate) async fn login(base: &str, user: &str, password: &str) -> anyhow::Result<Admin> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let r = http
            .post(format!("{base}/api/admin/sessions"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let Some(token) = body["token"].as_str() else {
            bail!("operator sign-in as {user:?} at {base} failed: {status} {body}");
        };
        Ok(Admin { http, base: base.to_owned(), auth: format!("Bearer {token}") })
    }

    /// The operator's session token, as the server issued it.
    pub(crate) fn token(&self) -> &str {
        self.auth.strip_prefix("Bearer ").unwrap_or(&self.auth)
    }

    /// The base URL of the server.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base)).header("authorization", &self.auth);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = r.status().as_u16();
        let text = r.text().await.with_context(|| format!("{method} {path}: reading the answer"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    async fn expect(&self, method: Method, path: &str, body: Option<&Value>, want: u16) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, body).await?;
        if status != want {
            bail!("{method} {path}: expected {want}, got {status}: {value}");
        }
        Ok(value)
    }

    /// Reads the server's clock (`GET /api/time`), halfway through the round trip.
    pub(crate) async fn clock(&self) -> anyhow::Result<ServerClock> {
        let sent = Instant::now();
        let body = self.expect(Method::GET, "/api/time", None, 200).await?;
        let rtt = sent.elapsed();
        let now: Timestamp =
            body["now"].as_str().context("GET /api/time without `now`")?.parse().context("GET /api/time: `now`")?;
        Ok(ServerClock { now, at: sent + rtt / 2 })
    }

    /// Creates the sale of `plan`: a product with `plan.skus` SKUs, slots covering the rush in
    /// `tz`, and an activity opening at `opens_at`.
    pub(crate) async fn create_sale(
        &self,
        plan: &Plan,
        tz: &TimeZone,
        opens_at: Timestamp,
        tag: &str,
    ) -> anyhow::Result<Sale> {
        let opens_at = opens_at.round(Unit::Second)?;
        let ends_at = opens_at
            .checked_add(SignedDuration::try_from(plan.duration).unwrap_or(SignedDuration::MAX))
            .and_then(|t| t.checked_add(AFTER_THE_RUSH))
            .context("the rush ends too far in the future")?;
        let skus: Vec<Value> = (0..plan.skus)
            .map(|i| json!({"name": format!("bench sku {i}"), "spec": "bench", "price_cents": 10_000, "stock": plan.stock}))
            .collect();
        let product = self
            .expect(
                Method::POST,
                "/api/admin/products",
                Some(&json!({"name": format!("seckill bench {tag}"), "description": "made by seckill bench", "skus": skus})),
                201,
            )
            .await
            .context("cannot create the product")?;
        let product_id = product["id"].as_i64().context("a product without an id")?;
        let sku_ids: Vec<i64> = product["skus"]
            .as_array()
            .context("a product without skus")?
            .iter()
            .map(|s| s["id"].as_i64().context("a sku without an id"))
            .collect::<anyhow::Result<_>>()?;

        let slots = self.slots_covering(tz, opens_at, ends_at, tag).await?;
        let body = json!({
            "name": format!("seckill bench {tag} ({:?})", plan.scenario).to_lowercase(),
            "product_id": product_id,
            "starts_at": opens_at.to_string(),
            "ends_at": ends_at.to_string(),
            "time_slot_ids": slots,
            "skus": sku_ids.iter().map(|id| json!({"sku_id": id, "seckill_price_cents": 100, "stock": plan.stock})).collect::<Vec<_>>(),
            "total_limit": plan.total_limit,
            "single_limit": plan.single_limit,
            "pay_timeout_secs": 3600,
            "enabled": true,
        });
        let activity = self
            .expect(Method::POST, "/api/admin/activities", Some(&body), 201)
            .await
            .context("cannot create the activity")?;
        Ok(Sale {
            id: activity["id"].as_i64().context("an activity without an id")?,
            skus: sku_ids,
            opens_at,
            total_limit: plan.total_limit,
            single_limit: plan.single_limit,
        })
    }

    /// Ids of enabled daily slots covering `from..until` in `tz`: the existing enabled slots
    /// that meet a needed span, and new ones for the gaps between them (so a second run on the
    /// same server — or `--repeat` over one database — reuses the slots of the first).
    async fn slots_covering(
        &self,
        tz: &TimeZone,
        from: Timestamp,
        until: Timestamp,
        tag: &str,
    ) -> anyhow::Result<Vec<i64>> {
        let existing: Items<SlotRow> =
            serde_json::from_value(self.expect(Method::GET, "/api/admin/time-slots", None, 200).await?)
                .context("the list of time slots")?;
        let enabled: Vec<(i64, u16, u16)> = existing
            .items
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| Some((s.id, minutes(&s.start)?, minutes(&s.end)?)))
            .collect();
        let mut ids = Vec::new();
        for span in spans(&from.to_zoned(tz.clone()), &until.to_zoned(tz.clone()))? {
            for part in cover(span, &enabled) {
                let (start, end) = match part {
                    Cover::Existing(id) => {
                        ids.push(id);
                        continue;
                    }
                    Cover::New(start, end) => (start, end),
                };
                let body =
                    json!({"name": format!("bench {tag} {}", hhmm(start)), "start": hhmm(start), "end": hhmm(end)});
                let (status, value) = self.call(Method::POST, "/api/admin/time-slots", Some(&body)).await?;
                match status {
                    201 => ids.push(value["id"].as_i64().context("a slot without an id")?),
                    409 => bail!(
                        "the sale needs a time slot {}–{} ({}), but an enabled slot created meanwhile overlaps it: \
                         run the bench again",
                        hhmm(start),
                        hhmm(end),
                        tz.iana_name().unwrap_or("the server's zone")
                    ),
                    _ => bail!("cannot create a time slot {}–{}: {status} {value}", hhmm(start), hhmm(end)),
                }
            }
        }
        ids.dedup();
        Ok(ids)
    }

    /// The activity's figures (`GET /api/admin/activities/{id}`).
    pub(crate) async fn activity(&self, id: i64) -> anyhow::Result<ActivityFigures> {
        let v = self.expect(Method::GET, &format!("/api/admin/activities/{id}"), None, 200).await?;
        serde_json::from_value(v).context("the activity's figures")
    }

    /// Units left per SKU as the shoppers' live status shows them.
    pub(crate) async fn remaining(&self, id: i64) -> anyhow::Result<Vec<(i64, u32)>> {
        let v = self.expect(Method::GET, &format!("/api/activities/{id}/status"), None, 200).await?;
        v["skus"]
            .as_array()
            .context("a status without skus")?
            .iter()
            .map(|s| {
                let sku = s["sku_id"].as_i64().context("sku_id")?;
                let left = s["remaining"].as_u64().and_then(|n| u32::try_from(n).ok()).context("remaining")?;
                Ok((sku, left))
            })
            .collect()
    }

    /// Every order of the activity, page by page (a few pages at once).
    pub(crate) async fn orders(&self, id: i64) -> anyhow::Result<Vec<OrderRow>> {
        let page = |n: u64| async move {
            let path = format!("/api/admin/orders?activity_id={id}&per_page={PER_PAGE}&page={n}");
            let v = self.expect(Method::GET, &path, None, 200).await?;
            serde_json::from_value::<OrderPage>(v).context("a page of orders")
        };
        let first = page(1).await?;
        let pages = first.total.div_ceil(PER_PAGE);
        let mut orders = first.items;
        let rest: Vec<OrderPage> =
            futures::stream::iter(2..=pages).map(page).buffered(PAGES_AT_ONCE).try_collect().await?;
        for p in rest {
            orders.extend(p.items);
        }
        Ok(orders)
    }

    /// Switches the activity off (after the run on a server that keeps living).
    pub(crate) async fn disable(&self, id: i64) -> anyhow::Result<()> {
        self.expect(Method::POST, &format!("/api/admin/activities/{id}/disable"), Some(&json!({})), 200).await?;
        Ok(())
    }
}

/// `"HH:MM"` → minutes since midnight (`"24:00"` is 1440).
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A part of a needed span: an existing enabled slot, or a gap to create a slot for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    Existing(i64),
    New(u16, u16),
}

/// How `span` (`[start, end)` in minutes) is covered by the enabled slots `(id, start, end)`
/// (which never overlap one another): every slot meeting the span, and new slots for the gaps
/// between them, in time order. A new slot only ever fills a gap, so it overlaps none.
fn cover((start, end): (u16, u16), enabled: &[(i64, u16, u16)]) -> Vec<Cover> {
    let mut meeting: Vec<&(i64, u16, u16)> = enabled.iter().filter(|(_, s, e)| *s < end && *e > start).collect();
    meeting.sort_by_key(|(_, s, _)| *s);
    let mut parts = Vec::new();
    let mut cursor = start;
    for &&(id, s, e) in &meeting {
        if s > cursor {
            parts.push(Cover::New(cursor, s));
        }
        parts.push(Cover::Existing(id));
        cursor = cursor.max(e);
    }
    if cursor < end {
        parts.push(Cover::New(cursor, end));
    }
    parts
}

/// Whole-minute daily spans `[start, end)` (minutes since midnight) covering `from..until`:
/// one, or two when midnight falls in between. At most a day.
fn spans(from: &Zoned, until: &Zoned) -> anyhow::Result<Vec<(u16, u16)>> {
    let minute = |z: &Zoned| u16::try_from(z.hour()).unwrap_or(0) * 60 + u16::try_from(z.minute()).unwrap_or(0);
    let start = minute(from);
    let mut end = minute(until) + u16::from(until.second() > 0 || until.subsec_nanosecond() > 0);
    if until.duration_since(from) >= SignedDuration::from_hours(23) {
        bail!("a rush of a day or more does not fit daily time slots");
    }
    if from.date() == until.date() {
        end = end.max(start + 1).min(1440);
        Ok(vec![(start, end)])
    } else if end == 0 {
        Ok(vec![(start, 1440)])
    } else {
        Ok(vec![(start, 1440), (0, end)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Zoned {
        s.parse().unwrap()
    }

    #[test]
    fn slots_cover_the_rush_in_whole_minutes_and_split_at_midnight() {
        let z = |s: &str| at(&format!("2026-11-11T{s}[Asia/Shanghai]"));
        assert_eq!(spans(&z("10:00:30+08:00"), &z("10:31:00+08:00")).unwrap(), [(600, 631)]);
        assert_eq!(spans(&z("10:00:30+08:00"), &z("10:31:01+08:00")).unwrap(), [(600, 632)]);
        let late = at("2026-11-11T23:50:10+08:00[Asia/Shanghai]");
        let after = at("2026-11-12T00:20:05+08:00[Asia/Shanghai]");
        assert_eq!(spans(&late, &after).unwrap(), [(1430, 1440), (0, 21)]);
        let midnight = at("2026-11-12T00:00:00+08:00[Asia/Shanghai]");
        assert_eq!(spans(&late, &midnight).unwrap(), [(1430, 1440)]);
        assert_eq!(hhmm(1440), "24:00");
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("09:05"), Some(545));
        assert_eq!(minutes("25:00"), None);
    }

    #[test]
    fn a_span_reuses_the_slots_it_meets_and_fills_only_the_gaps() {
        use Cover::{Existing, New};
        // Nothing there: one new slot.
        assert_eq!(cover((600, 631), &[]), [New(600, 631)]);
        // A slot covering it whole (another run's, or the operator's): reused alone.
        assert_eq!(cover((600, 631), &[(7, 540, 720)]), [Existing(7)]);
        // The previous run's slot overlaps the start: reused, the rest is new.
        assert_eq!(cover((600, 631), &[(7, 598, 610)]), [Existing(7), New(610, 631)]);
        // Slots in the middle and at the end, one far away; gaps filled in order.
        let slots = [(3, 625, 700), (2, 610, 615), (9, 0, 60)];
        assert_eq!(cover((600, 631), &slots), [New(600, 610), Existing(2), New(615, 625), Existing(3)]);
        // Touching is not meeting.
        assert_eq!(cover((600, 631), &[(4, 540, 600), (5, 631, 700)]), [New(600, 631)]);
    }

    #[test]
    fn the_servers_instants_map_onto_local_ones() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let at = Instant::now();
        let clock = ServerClock { now, at };
        let later = now.checked_add(SignedDuration::from_secs(3)).unwrap();
        assert_eq!(clock.instant_of(later), at + Duration::from_secs(3));
        let earlier = now.checked_sub(SignedDuration::from_millis(5)).unwrap();
        assert_eq!(clock.instant_of(earlier) + Duration::from_millis(5), at);
    }
}
