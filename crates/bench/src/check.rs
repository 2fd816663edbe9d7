//! The invariants of DESIGN.md, checked after the rush against the records:
//!
//! 1. per SKU, `sold <= stock` and `sold` = Σ quantity of the non-cancelled orders;
//! 2. per shopper, Σ quantity <= `total_limit`, each order <= `single_limit`;
//! 3. the hot state's units left = `stock − sold` once quiet;
//! 4. every acknowledged order is in the records exactly once, as acknowledged; no order exists
//!    that no answer acknowledged (beyond requests that never got an answer); one
//!    `Idempotency-Key` never names two orders, and sending an acknowledged request again with
//!    its key answers the same order.
//!
//! Where the figures come from: the operators' API for what operators see (stock, sold, units
//! left, the order count, and — while the sale has at most [`LISTED_ORDERS`] orders — the order
//! list itself), the shoppers' live status for the hot state, and, for the order-by-order
//! checks, the records' own consistent snapshot of every non-cancelled order with its ticket
//! and idempotency key (the one the hot state is rebuilt from at start-up). The operators' list
//! pages with OFFSET and counts on every page, which grows quadratically with the orders of a
//! long flood; the snapshot is one read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use seckill_domain::ids::{ActivityId, Ticket};
use seckill_store::Records;
use seckill_store::rush::HotHolding;
use serde::Serialize;

use crate::client::{Call, Conn, Endpoint};
use crate::crowd::{Minter, Shopper};
use crate::load::{Outcome, idempotency_key};
use crate::sale::{ActivityFigures, Admin, OrderRow, Sale, SkuFigures};

/// Up to this many orders, the operators' order list is read too and cross-checked by id.
pub const LISTED_ORDERS: u64 = 20_000;

/// One invariant and how it fared.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    /// What was counted, or the first violations.
    pub detail: String,
}

/// The verdict on a run.
#[derive(Debug, Clone, Serialize)]
pub struct Invariants {
    /// Every check passed.
    pub passed: bool,
    pub checks: Vec<Check>,
    /// Non-cancelled orders of the sale in the records.
    pub orders: usize,
    /// Units sold per the records.
    pub units_sold: u64,
    /// Units put on sale.
    pub stock: u64,
    /// Everything was sold.
    pub sold_out: bool,
    /// Whether the operators' order list was read and cross-checked too.
    pub order_list_checked: bool,
}

fn check(name: &'static str, violations: &[String], ok_detail: String) -> Check {
    if violations.is_empty() {
        Check { name, passed: true, detail: ok_detail }
    } else {
        let shown: Vec<&str> = violations.iter().take(5).map(String::as_str).collect();
        let more = if violations.len() > 5 { format!(" (and {} more)", violations.len() - 5) } else { String::new() };
        Check { name, passed: false, detail: format!("{}{more}", shown.join("; ")) }
    }
}

/// What the checks need besides the server.
#[derive(Debug)]
pub(crate) struct Evidence<'a> {
    pub sale: &'a Sale,
    pub shoppers: &'a [Shopper],
    pub outcome: &'a Outcome,
    pub records: &'a Records,
    pub endpoint: Arc<Endpoint>,
    pub minter: &'a Minter,
    pub tag: &'a str,
    /// Acknowledged requests to send again with their key.
    pub replays: usize,
}

/// What was read back after the rush.
#[derive(Debug)]
pub(crate) struct Readings<'a> {
    /// The operators' view of the activity.
    pub activity: &'a ActivityFigures,
    /// Units left per SKU in the shoppers' live status.
    pub live: &'a [(i64, u32)],
    /// Every non-cancelled order, from the records' snapshot.
    pub holdings: &'a [HotHolding],
    /// The operators' order list, when it was read.
    pub listed: Option<&'a [OrderRow]>,
}

/// Runs every check.
pub(crate) async fn run(admin: &Admin, ev: &Evidence<'_>) -> anyhow::Result<Invariants> {
    let (activity, live) = converged(admin, ev.sale.id).await?;
    let id = ActivityId::try_from(ev.sale.id).map_err(|e| anyhow::anyhow!("activity id: {e}"))?;
    let hot = ev.records.orders.hot_activity(id).await?;
    let listed = if activity.figures.orders <= LISTED_ORDERS { Some(admin.orders(ev.sale.id).await?) } else { None };
    let readings = Readings { activity: &activity, live: &live, holdings: &hot.holdings, listed: listed.as_deref() };
    let mut checks = judge(ev.sale, ev.shoppers, ev.outcome, ev.tag, &readings);
    checks.push(replay(ev).await);
    let units_sold: u64 = activity.skus.iter().map(|s| u64::from(s.sold)).sum();
    let stock: u64 = activity.skus.iter().map(|s| u64::from(s.stock)).sum();
    Ok(Invariants {
        passed: checks.iter().all(|c| c.passed),
        checks,
        orders: hot.holdings.len(),
        units_sold,
        stock,
        sold_out: stock > 0 && units_sold == stock,
        order_list_checked: listed.is_some(),
    })
}

/// How long the hot state's views may take to show the last orders: in the cluster shape an
/// instance's units-left view follows Redis by its acknowledgements (every 100 ms) and its
/// refresh (every 500 ms), and may hold a value read just before the last order meanwhile.
const CONVERGENCE: Duration = Duration::from_secs(2);

/// The operators' figures and the shoppers' live status, read again (every 100 ms, for at most
/// [`CONVERGENCE`]) while the units left they show disagree with the records' stock − sold;
/// what was read last if they never agree — the check then fails on it.
async fn converged(admin: &Admin, activity: i64) -> anyhow::Result<(ActivityFigures, Vec<(i64, u32)>)> {
    let deadline = Instant::now() + CONVERGENCE;
    loop {
        let figures = admin.activity(activity).await?;
        let live = admin.remaining(activity).await?;
        if hot_state_mismatches(&figures.skus, &live).is_empty() || Instant::now() >= deadline {
            return Ok((figures, live));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the units left that shoppers (`live`) and operators see differ from the records'
/// `stock − sold`, one line each.
fn hot_state_mismatches(skus: &[SkuFigures], live: &[(i64, u32)]) -> Vec<String> {
    let mut bad = Vec::new();
    for s in skus {
        let expected = s.stock.saturating_sub(s.sold);
        match live.iter().find(|(id, _)| *id == s.sku_id) {
            Some((_, left)) if *left == expected => {}
            Some((_, left)) => bad.push(format!("sku {}: {left} left in memory, {expected} by the records", s.sku_id)),
            None => bad.push(format!("sku {} missing from the live status", s.sku_id)),
        }
        if s.remaining != expected {
            bad.push(format!("sku {}: operators see {} left, the records {expected}", s.sku_id, s.remaining));
        }
    }
    bad
}

/// The checks that need only what was read (pure, for the unit tests).
pub(crate) fn judge(
    sale: &Sale,
    shoppers: &[Shopper],
    outcome: &Outcome,
    tag: &str,
    read: &Readings<'_>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let skus = &read.activity.skus;
    let holdings = read.holdings;

    // 1. Sold within stock, and sold = the orders (and the operators count them all).
    let mut in_orders: BTreeMap<i64, u64> = BTreeMap::new();
    for h in holdings {
        *in_orders.entry(h.sku_id.get()).or_default() += u64::from(h.quantity);
    }
    let mut bad = Vec::new();
    for s in skus {
        if s.sold > s.stock {
            bad.push(format!("sku {} sold {} of {}", s.sku_id, s.sold, s.stock));
        }
        let counted = in_orders.get(&s.sku_id).copied().unwrap_or(0);
        if u64::from(s.sold) != counted {
            bad.push(format!("sku {} says sold {} but its orders hold {counted}", s.sku_id, s.sold));
        }
    }
    for sku in in_orders.keys() {
        if !skus.iter().any(|s| s.sku_id == *sku) {
            bad.push(format!("orders of sku {sku}, which is not on sale"));
        }
    }
    if read.activity.figures.orders != holdings.len() as u64 {
        bad.push(format!(
            "operators count {} orders, the records hold {}",
            read.activity.figures.orders,
            holdings.len()
        ));
    }
    let sold: u64 = skus.iter().map(|s| u64::from(s.sold)).sum();
    let stock: u64 = skus.iter().map(|s| u64::from(s.stock)).sum();
    checks.push(check(
        "sold within stock and equal to the orders",
        &bad,
        format!("{sold} of {stock} units sold in {} orders", holdings.len()),
    ));

    // 2. Limits per shopper and per order.
    let mut per_user: HashMap<i64, u64> = HashMap::new();
    let mut bad = Vec::new();
    for h in holdings {
        *per_user.entry(h.user_id.get()).or_default() += u64::from(h.quantity);
        if h.quantity > sale.single_limit {
            bad.push(format!(
                "order {} holds {} units, above single_limit {}",
                h.ticket, h.quantity, sale.single_limit
            ));
        }
    }
    for (user, n) in &per_user {
        if *n > u64::from(sale.total_limit) {
            bad.push(format!("user {user} holds {n} units, above total_limit {}", sale.total_limit));
        }
    }
    let most = per_user.values().copied().max().unwrap_or(0);
    checks.push(check(
        "nobody past the limits",
        &bad,
        format!("{} buyers, at most {most} units each (limit {})", per_user.len(), sale.total_limit),
    ));

    // 3. Hot state = records.
    let bad = hot_state_mismatches(skus, read.live);
    checks.push(check("hot state equals the records", &bad, format!("{} SKUs agree", skus.len())));

    // 4a. Every acknowledged order is recorded exactly once, as acknowledged.
    let mut by_ticket: HashMap<Ticket, Vec<&HotHolding>> = HashMap::new();
    for h in holdings {
        by_ticket.entry(h.ticket).or_default().push(h);
    }
    let acks = &outcome.acks;
    let mut bad = Vec::new();
    for (ticket, hs) in &by_ticket {
        if hs.len() > 1 {
            bad.push(format!("ticket {ticket} holds {} orders", hs.len()));
        }
    }
    let mut acked_tickets = HashSet::new();
    for a in acks {
        acked_tickets.insert(a.ticket);
        let owner = shoppers.get(a.shopper as usize).map(|s| s.id.get());
        if owner != Some(a.user_id) {
            bad.push(format!("order {} was acknowledged to user {} for shopper {:?}", a.order_id, a.user_id, owner));
        }
        match by_ticket.get(&a.ticket).and_then(|hs| hs.first()) {
            None => bad.push(format!("acknowledged order {} (ticket {}) is not in the records", a.order_id, a.ticket)),
            Some(h) if (h.user_id.get(), h.sku_id.get(), h.quantity) != (a.user_id, a.sku_id, a.quantity) => {
                bad.push(format!(
                    "order {}: acknowledged as user {} sku {} ×{}, recorded as user {} sku {} ×{}",
                    a.order_id, a.user_id, a.sku_id, a.quantity, h.user_id, h.sku_id, h.quantity
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(listed) = read.listed {
        let mut by_id: HashMap<i64, Vec<&OrderRow>> = HashMap::new();
        for o in listed.iter().filter(|o| o.status != "cancelled") {
            by_id.entry(o.id).or_default().push(o);
        }
        if by_id.values().map(Vec::len).sum::<usize>() != holdings.len() {
            bad.push(format!("the operators list {} orders, the records hold {}", by_id.len(), holdings.len()));
        }
        for a in acks {
            match by_id.get(&a.order_id).map(Vec::as_slice) {
                Some([o])
                    if o.ticket == a.ticket.to_string()
                        && (o.user_id, o.sku_id, o.quantity) == (a.user_id, a.sku_id, a.quantity) => {}
                Some([o]) => bad.push(format!(
                    "order {} is listed as ticket {} user {} sku {} ×{}, acknowledged as ticket {} user {} sku {} ×{}",
                    a.order_id, o.ticket, o.user_id, o.sku_id, o.quantity, a.ticket, a.user_id, a.sku_id, a.quantity
                )),
                Some(rows) => bad.push(format!("order {} is listed {} times", a.order_id, rows.len())),
                None => bad.push(format!("acknowledged order {} is not in the operators' list", a.order_id)),
            }
        }
    }
    let acked_ids: HashSet<i64> = acks.iter().map(|a| a.order_id).collect();
    checks.push(check(
        "every acknowledged order is recorded once",
        &bad,
        format!(
            "{} acknowledgements, {} orders{}",
            acks.len(),
            acked_ids.len(),
            if read.listed.is_some() { ", also found in the operators' list" } else { "" }
        ),
    ));

    // 4b. No order that nobody was told about (beyond requests that never got an answer).
    let unexplained: Vec<&HotHolding> = holdings.iter().filter(|h| !acked_tickets.contains(&h.ticket)).collect();
    let unknown = outcome.unanswered_orders + outcome.unsettled;
    let bad: Vec<String> = if unexplained.len() as u64 > unknown {
        unexplained
            .iter()
            .map(|h| format!("the order of ticket {} (user {}) was never acknowledged", h.ticket, h.user_id))
            .collect()
    } else {
        Vec::new()
    };
    checks.push(check(
        "no order without an acknowledgement",
        &bad,
        format!("{} unacknowledged, {unknown} requests without an answer", unexplained.len()),
    ));

    // 4c. One key, one order: in the answers, and in the records.
    let mut by_key: HashMap<(u32, u32), HashSet<Ticket>> = HashMap::new();
    let mut keys_of: HashMap<Ticket, HashSet<(u32, u32)>> = HashMap::new();
    for a in acks {
        by_key.entry((a.shopper, a.attempt)).or_default().insert(a.ticket);
        keys_of.entry(a.ticket).or_default().insert((a.shopper, a.attempt));
    }
    let mut bad: Vec<String> = by_key
        .iter()
        .filter(|(_, tickets)| tickets.len() > 1)
        .map(|((s, n), tickets)| format!("shopper {s} attempt {n}: {} orders", tickets.len()))
        .collect();
    bad.extend(
        keys_of
            .iter()
            .filter(|(_, k)| k.len() > 1)
            .map(|(t, k)| format!("ticket {t} acknowledged under {} keys", k.len())),
    );
    let mut stored_keys: HashMap<(i64, &str), usize> = HashMap::new();
    for h in holdings {
        if let Some(k) = &h.idempotency_key {
            *stored_keys.entry((h.user_id.get(), k.as_str())).or_default() += 1;
        }
    }
    bad.extend(stored_keys.iter().filter(|(_, n)| **n > 1).map(|((u, k), n)| format!("user {u} key {k}: {n} orders")));
    for (&(shopper, attempt), tickets) in &by_key {
        let key = idempotency_key(tag, shopper, attempt);
        for t in tickets {
            let stored = by_ticket.get(t).and_then(|hs| hs.first()).and_then(|h| h.idempotency_key.as_deref());
            if stored.is_some_and(|s| s != key) {
                bad.push(format!("ticket {t} was sent under key {key} but stored under {stored:?}"));
            }
        }
    }
    checks.push(check("one idempotency key, one order", &bad, format!("{} keys won", by_key.len())));
    checks
}

/// Sends a call, and again (a few times) after the `Retry-After` of a `429` or `503`, as a
/// browser would: the replays must not fail on the server's own rate limits.
async fn send_patiently<'a>(
    conn: &mut Conn,
    call: impl Fn() -> Call<'a>,
) -> Result<crate::client::Answer, crate::client::Failure> {
    let mut answer = conn.send(call()).await;
    for _ in 0..5 {
        match &answer {
            Ok(a) if a.status == 429 || a.status == 503 => {
                tokio::time::sleep(
                    a.retry_after.unwrap_or(std::time::Duration::from_secs(1)).min(std::time::Duration::from_secs(5)),
                )
                .await;
                answer = conn.send(call()).await;
            }
            _ => break,
        }
    }
    answer
}

/// Sends `replays` acknowledged requests (all, if fewer were acknowledged) again (with a fresh purchase token) under their
/// key: each must answer `201` with the same order.
async fn replay(ev: &Evidence<'_>) -> Check {
    const NAME: &str = "a repeated key answers its first order";
    let acks = &ev.outcome.acks;
    if ev.replays == 0 || acks.is_empty() {
        return Check { name: NAME, passed: true, detail: "nothing to replay".into() };
    }
    // Exactly `replays` of them (or all, if fewer), spread evenly over the sale.
    let n = ev.replays.min(acks.len());
    let mut conn = Conn::new(ev.endpoint.clone());
    let token_path = format!("/api/activities/{}/purchase-token", ev.sale.id);
    let orders_path = format!("/api/activities/{}/orders", ev.sale.id);
    let mut bad = Vec::new();
    let mut sent = 0;
    for a in (0..n).map(|i| &acks[i * acks.len() / n]) {
        sent += 1;
        let Some(shopper) = ev.shoppers.get(a.shopper as usize) else { continue };
        let session = HeaderValue::from_str(&format!("Bearer {}", ev.minter.shopper_token(shopper.id)))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        let token = send_patiently(&mut conn, || Call {
            method: Method::POST,
            path: &token_path,
            auth: Some(&session),
            idempotency_key: None,
            json: None,
        })
        .await;
        let token = match token {
            Ok(t) if t.status == 200 => serde_json::from_slice::<serde_json::Value>(&t.body)
                .ok()
                .and_then(|v| v["token"].as_str().map(str::to_owned)),
            Ok(t) => {
                bad.push(format!("no purchase token for the replay of order {}: {}", a.order_id, t.status));
                continue;
            }
            Err(e) => {
                bad.push(format!("no purchase token for the replay of order {}: {e}", a.order_id));
                continue;
            }
        };
        let body = format!(
            r#"{{"sku_id":{},"quantity":{},"address_id":{},"pay_type":"online","purchase_token":"{}"}}"#,
            a.sku_id,
            a.quantity,
            shopper.address.get(),
            token.unwrap_or_default()
        );
        let key = idempotency_key(ev.tag, a.shopper, a.attempt);
        let body = Bytes::from(body);
        let call = || Call {
            method: Method::POST,
            path: &orders_path,
            auth: Some(&session),
            idempotency_key: Some(&key),
            json: Some(body.clone()),
        };
        match send_patiently(&mut conn, call).await {
            Ok(r) if r.status == 201 => {
                let id =
                    serde_json::from_slice::<serde_json::Value>(&r.body).ok().and_then(|v| v["order"]["id"].as_i64());
                if id != Some(a.order_id) {
                    bad.push(format!("key {key} first answered order {}, again {id:?}", a.order_id));
                }
            }
            Ok(r) => bad.push(format!(
                "key {key} first answered order {}, again {} {}",
                a.order_id,
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            Err(e) => bad.push(format!("key {key}: no answer: {e}")),
        }
    }
    check(NAME, &bad, format!("{sent} keys sent again, each answered its order"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use seckill_domain::ids::{AddressId, SkuId, UserId};

    use super::*;
    use crate::load::Ack;
    use crate::sale::{OrderCount, SkuFigures};
    use crate::stats::Recorder;

    const TAG: &str = "tag";

    fn sale() -> Sale {
        Sale { id: 1, skus: vec![10, 11], opens_at: jiff::Timestamp::UNIX_EPOCH, total_limit: 2, single_limit: 1 }
    }

    fn shoppers() -> Vec<Shopper> {
        (1..=3).map(|i| Shopper { id: UserId::from_raw(i), address: AddressId::from_raw(100 + i) }).collect()
    }

    /// Order `n` of shopper index `shopper` (user id `shopper + 1`), under that shopper's key
    /// for attempt `attempt`.
    fn held(shopper: u32, attempt: u32, sku: i64) -> HotHolding {
        HotHolding {
            ticket: Ticket::new(jiff::Timestamp::now()),
            sku_id: SkuId::from_raw(sku),
            user_id: UserId::from_raw(i64::from(shopper) + 1),
            quantity: 1,
            idempotency_key: Some(idempotency_key(TAG, shopper, attempt)),
        }
    }

    fn ack(shopper: u32, attempt: u32, id: i64, h: &HotHolding) -> Ack {
        Ack {
            shopper,
            attempt,
            order_id: id,
            ticket: h.ticket,
            user_id: h.user_id.get(),
            sku_id: h.sku_id.get(),
            quantity: h.quantity,
            at_ms: 0,
        }
    }

    fn row(id: i64, h: &HotHolding) -> OrderRow {
        OrderRow {
            id,
            ticket: h.ticket.to_string(),
            user_id: h.user_id.get(),
            sku_id: h.sku_id.get(),
            quantity: h.quantity,
            status: "pending_payment".into(),
        }
    }

    fn outcome(acks: Vec<Ack>, unanswered: u64) -> Outcome {
        Outcome {
            recorded: Recorder::new(std::time::Instant::now()).finish(),
            elapsed: Duration::from_secs(1),
            start_offset_secs: 0.0,
            acks,
            unanswered_orders: unanswered,
            unsettled: 0,
            cpu: None,
        }
    }

    fn figures(sold: [u32; 2], orders: u64) -> ActivityFigures {
        ActivityFigures {
            skus: vec![
                SkuFigures { sku_id: 10, stock: 5, sold: sold[0], remaining: 5 - sold[0] },
                SkuFigures { sku_id: 11, stock: 5, sold: sold[1], remaining: 5 - sold[1] },
            ],
            figures: OrderCount { orders },
        }
    }

    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.passed).map(|c| c.name).collect()
    }

    fn judged(
        acks: Vec<Ack>,
        unanswered: u64,
        a: &ActivityFigures,
        live: &[(i64, u32)],
        holdings: &[HotHolding],
        listed: Option<&[OrderRow]>,
    ) -> Vec<Check> {
        let read = Readings { activity: a, live, holdings, listed };
        judge(&sale(), &shoppers(), &outcome(acks, unanswered), TAG, &read)
    }

    #[test]
    fn a_clean_sale_passes_every_check() {
        let h = vec![held(0, 1, 10), held(0, 2, 11), held(1, 1, 10)];
        let acks = vec![ack(0, 1, 1, &h[0]), ack(0, 2, 2, &h[1]), ack(1, 1, 3, &h[2]), ack(1, 1, 3, &h[2])];
        let listed = vec![row(1, &h[0]), row(2, &h[1]), row(3, &h[2])];
        let checks = judged(acks, 0, &figures([2, 1], 3), &[(10, 3), (11, 4)], &h, Some(&listed));
        assert!(failed(&checks).is_empty(), "{checks:#?}");
        assert_eq!(checks.len(), 6);
    }

    #[test]
    fn each_broken_invariant_is_named() {
        // User 1 holds 3 units (limit 2); the order of shopper 1 was never acknowledged; key
        // (0, 1) names two orders; sold says 2 for sku 10 but its orders hold 3; the hot state
        // is off by one; the operators count 3 orders.
        let h = vec![held(0, 1, 10), held(0, 2, 11), held(0, 3, 10), held(1, 1, 10)];
        let acks = vec![ack(0, 1, 1, &h[0]), ack(0, 2, 2, &h[1]), ack(0, 3, 3, &h[2]), ack(0, 1, 3, &h[2])];
        let checks = judged(acks, 0, &figures([2, 1], 3), &[(10, 2), (11, 4)], &h, None);
        assert_eq!(
            failed(&checks),
            [
                "sold within stock and equal to the orders",
                "nobody past the limits",
                "hot state equals the records",
                "no order without an acknowledgement",
                "one idempotency key, one order",
            ]
        );
    }

    #[test]
    fn an_acknowledged_order_must_be_in_the_records_and_the_list_as_acknowledged() {
        let h = vec![held(0, 1, 10)];
        // Acknowledged as sku 11 but recorded as sku 10.
        let mut wrong = ack(0, 1, 1, &h[0]);
        wrong.sku_id = 11;
        let c = judged(vec![wrong], 0, &figures([1, 0], 1), &[(10, 4), (11, 5)], &h, None);
        assert_eq!(failed(&c), ["every acknowledged order is recorded once"]);
        // Listed under another id.
        let listed = vec![row(7, &h[0])];
        let c = judged(vec![ack(0, 1, 1, &h[0])], 0, &figures([1, 0], 1), &[(10, 4), (11, 5)], &h, Some(&listed));
        assert_eq!(failed(&c), ["every acknowledged order is recorded once"]);
        // Stored under another key than it was sent with.
        let mut other_key = held(0, 1, 10);
        other_key.idempotency_key = Some("something-else".into());
        let c = judged(vec![ack(0, 1, 1, &other_key)], 0, &figures([1, 0], 1), &[(10, 4), (11, 5)], &[other_key], None);
        assert_eq!(failed(&c), ["one idempotency key, one order"]);
    }

    #[test]
    fn an_unanswered_request_may_explain_an_unacknowledged_order() {
        let h = vec![held(0, 1, 10)];
        let strict = judged(vec![], 0, &figures([1, 0], 1), &[(10, 4), (11, 5)], &h, None);
        assert_eq!(failed(&strict), ["no order without an acknowledgement"]);
        let lenient = judged(vec![], 1, &figures([1, 0], 1), &[(10, 4), (11, 5)], &h, None);
        assert!(failed(&lenient).is_empty());
        // A missing acknowledged order is never explained away.
        let c = judged(vec![ack(0, 1, 9, &held(0, 1, 10))], 5, &figures([0, 0], 0), &[(10, 5), (11, 5)], &[], None);
        assert_eq!(failed(&c), ["every acknowledged order is recorded once"]);
    }
}
