//! The rush itself: virtual shoppers on a pool of HTTP/1.1 connections.
//!
//! Each connection has a worker that walks a shuffled deck of shoppers (a bot appears
//! `bot_factor` times in it, so it fires that many times as often) and pays each free one a
//! visit: poll its `202` ticket if it has one; else get a purchase token if it has none (only
//! once the sale is open — bots try from `bot_lead` before); then press "buy" once, with an
//! `Idempotency-Key`. A shopper told to wait (`429`, `503`, `Retry-After`) is skipped until
//! then and sends the same request under the same key again, as a browser would; so is one
//! whose request got no answer at all. A shopper is done once they hold `total_limit` units,
//! are told `LIMIT_EXCEEDED`, or the sale ends; in a rush everyone else keeps pressing until
//! the duration is over — almost every answer is then `SOLD_OUT`.
//!
//! Every `201` (and every ticket that turns into an order) is kept as an [`Ack`] for the
//! invariant check.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use seckill_domain::ids::Ticket;
use serde::{Deserialize, Serialize};

use crate::args::Plan;
use crate::client::{Answer, Call, Conn, Endpoint, error_code};
use crate::crowd::{Minter, Shopper};
use crate::sale::Sale;
use crate::stats::{CpuMeter, CpuUse, Kind, Recorded, Recorder};

/// How long a purchase token is used before a fresh one is fetched (the server's default TTL
/// is a minute; a shorter one shows as `BAD_PURCHASE_TOKEN`, after which a new one is fetched).
const PURCHASE_TOKEN_REUSE: Duration = Duration::from_secs(30);
/// Pause before asking again when the sale has not opened yet by the server's clock.
const NOT_OPEN_YET_PAUSE: Duration = Duration::from_millis(20);
/// Pause after a request that got no answer.
const FAILURE_PAUSE: Duration = Duration::from_millis(100);
/// Pause between polls of a queued ticket.
const TICKET_POLL_PAUSE: Duration = Duration::from_millis(20);
/// How long queued tickets are polled after the rush before they count as unsettled.
const SETTLE_FOR: Duration = Duration::from_secs(30);

/// An order the server acknowledged (`201`, or a polled ticket that became an order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Index of the shopper in the crowd.
    pub shopper: u32,
    /// The shopper's attempt: the `Idempotency-Key` is `{tag}-{shopper}-{attempt}`.
    pub attempt: u32,
    pub order_id: i64,
    /// The reservation's ticket, stored unique on the order.
    pub ticket: Ticket,
    pub user_id: i64,
    pub sku_id: i64,
    pub quantity: u32,
    /// When it was acknowledged, since the open.
    pub at_ms: u64,
}

/// What the rush did.
#[derive(Debug)]
pub struct Outcome {
    pub recorded: Recorded,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// When the load started, relative to the open (negative with bots firing early), in seconds.
    pub start_offset_secs: f64,
    pub acks: Vec<Ack>,
    /// Order requests that never got an answer (the order may exist anyway).
    pub unanswered_orders: u64,
    /// Tickets still queued after the settling time.
    pub unsettled: u64,
    /// Processor time of the rush.
    pub cpu: Option<CpuUse>,
}

/// The `Idempotency-Key` of a shopper's attempt.
pub fn idempotency_key(tag: &str, shopper: u32, attempt: u32) -> String {
    format!("{tag}-{shopper}-{attempt}")
}

/// An order request, to send (again) under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    n: u32,
    /// SKU index.
    sku: u16,
}

#[derive(Debug, Default)]
struct State {
    busy: bool,
    done: bool,
    not_before: Option<Instant>,
    session: Option<HeaderValue>,
    purchase: Option<(Arc<str>, Instant)>,
    pending: Option<Attempt>,
    ticket: Option<(Arc<str>, Attempt)>,
    attempts: u32,
    bought: u32,
}

/// What a worker takes out of a shopper's state for one visit (the state stays claimed).
#[derive(Debug)]
struct Visit {
    session: Option<HeaderValue>,
    purchase: Option<(Arc<str>, Instant)>,
    pending: Option<Attempt>,
    ticket: Option<(Arc<str>, Attempt)>,
    attempts: u32,
    bought: u32,
    not_before: Option<Instant>,
    done: bool,
}

#[derive(Debug)]
struct Visitor {
    shopper: Shopper,
    bot: bool,
    state: Mutex<State>,
}

/// Everything the workers share.
struct Rush {
    endpoint: Arc<Endpoint>,
    visitors: Vec<Visitor>,
    deck: Vec<u32>,
    cursor: AtomicUsize,
    open: Instant,
    has_bots: bool,
    stop: AtomicBool,
    /// Only visitors with a ticket to poll are served (after the rush).
    settling: AtomicBool,
    active: AtomicU32,
    minter: Minter,
    tag: String,
    sale: Sale,
    orders_path: String,
    token_path: String,
    recorder: Recorder,
    acks: Mutex<Vec<Ack>>,
    unanswered_orders: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Rush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rush").field("visitors", &self.visitors.len()).finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Debug, Deserialize)]
struct OrderBody {
    id: i64,
    ticket: Ticket,
    user_id: i64,
    sku_id: i64,
    quantity: u32,
}

#[derive(Debug, Deserialize)]
struct Created {
    order: OrderBody,
}

#[derive(Debug, Deserialize)]
struct Queued {
    ticket: String,
}

#[derive(Debug, Deserialize)]
struct TicketBody {
    status: String,
    #[serde(default)]
    order_id: Option<i64>,
    #[serde(default)]
    error: Option<TicketError>,
}

#[derive(Debug, Deserialize)]
struct TicketError {
    code: String,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How the rush is to be driven.
pub(crate) struct RushSpec<'a> {
    pub endpoint: Arc<Endpoint>,
    pub plan: &'a Plan,
    pub sale: &'a Sale,
    pub shoppers: &'a [Shopper],
    pub minter: Minter,
    pub tag: String,
    /// The local instant the sale opens.
    pub open: Instant,
    /// The server's process, for its processor time.
    pub server_pid: Option<u32>,
    /// Progress callback's owner: called with (answers, 201s, seconds since open) every 200 ms.
    pub progress: &'a (dyn Fn(u64, u64, f64) + Sync),
}

impl std::fmt::Debug for RushSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RushSpec")
            .field("sale", &self.sale.id)
            .field("shoppers", &self.shoppers.len())
            .finish_non_exhaustive()
    }
}

/// Drives the rush of `spec` until the duration is over or every shopper is done.
pub(crate) async fn run(spec: RushSpec<'_>) -> Outcome {
    let plan = spec.plan;
    let mut rng = StdRng::seed_from_u64(7);
    let bots = (f64::from(plan.users) * plan.bots).round() as usize;
    let mut order: Vec<u32> = (0..u32::try_from(spec.shoppers.len()).unwrap_or(u32::MAX)).collect();
    order.shuffle(&mut rng);
    let is_bot: Vec<bool> = {
        let mut v = vec![false; spec.shoppers.len()];
        for &i in order.iter().take(bots) {
            v[i as usize] = true;
        }
        v
    };
    let visitors: Vec<Visitor> = spec
        .shoppers
        .iter()
        .zip(&is_bot)
        .map(|(s, &bot)| Visitor { shopper: *s, bot, state: Mutex::new(State::default()) })
        .collect();
    let mut deck: Vec<u32> = Vec::with_capacity(spec.shoppers.len() + bots * plan.bot_factor as usize);
    for (i, &bot) in is_bot.iter().enumerate() {
        let copies = if bot { plan.bot_factor } else { 1 };
        for _ in 0..copies {
            deck.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
    deck.shuffle(&mut rng);

    let now = Instant::now();
    let t0 = if bots > 0 { spec.open.checked_sub(plan.bot_lead).unwrap_or(now).max(now) } else { spec.open.max(now) };
    let rush = Arc::new(Rush {
        endpoint: spec.endpoint.clone(),
        active: AtomicU32::new(u32::try_from(visitors.len()).unwrap_or(u32::MAX)),
        visitors,
        deck,
        cursor: AtomicUsize::new(0),
        open: spec.open,
        has_bots: bots > 0,
        stop: AtomicBool::new(false),
        settling: AtomicBool::new(false),
        minter: spec.minter.clone(),
        tag: spec.tag.clone(),
        orders_path: format!("/api/activities/{}/orders", spec.sale.id),
        token_path: format!("/api/activities/{}/purchase-token", spec.sale.id),
        sale: spec.sale.clone(),
        recorder: Recorder::new(t0),
        acks: Mutex::new(Vec::new()),
        unanswered_orders: std::sync::atomic::AtomicU64::new(0),
    });

    // Connections are open before the first request, as a waiting browser's would be.
    let conns = Conn::open_many(&spec.endpoint, plan.connections).await;
    tokio::time::sleep_until(t0.into()).await;
    let cpu = CpuMeter::start(spec.server_pid);
    let deadline = spec.open + plan.duration;
    let workers = spawn_workers(&rush, conns);
    loop {
        let now = Instant::now();
        (spec.progress)(
            rush.recorder.answered.load(Ordering::Relaxed),
            rush.recorder.created.load(Ordering::Relaxed),
            now.saturating_duration_since(spec.open).as_secs_f64(),
        );
        if now >= deadline || rush.active.load(Ordering::Acquire) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(now))).await;
    }
    rush.stop.store(true, Ordering::Release);
    futures::future::join_all(workers).await;
    let elapsed = Instant::now().saturating_duration_since(t0);
    let cpu = cpu.finish(rush.recorder.answered.load(Ordering::Relaxed));

    // Queued tickets (the cluster shape answers 202) are polled until they settle.
    let mut unsettled = rush.outstanding_tickets();
    if unsettled > 0 {
        rush.stop.store(false, Ordering::Release);
        rush.settling.store(true, Ordering::Release);
        let settlers =
            spawn_workers(&rush, (0..plan.connections.min(32)).map(|_| Conn::new(rush.endpoint.clone())).collect());
        let until = Instant::now() + SETTLE_FOR;
        while Instant::now() < until && rush.outstanding_tickets() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rush.stop.store(true, Ordering::Release);
        futures::future::join_all(settlers).await;
        unsettled = rush.outstanding_tickets();
    }

    let recorded = rush.recorder.finish();
    let mut acks = std::mem::take(&mut *rush.acks.lock().unwrap_or_else(|p| p.into_inner()));
    acks.sort_by_key(|a| (a.at_ms, a.order_id));
    Outcome {
        recorded,
        elapsed,
        start_offset_secs: -(spec.open.saturating_duration_since(t0).as_secs_f64()),
        acks,
        unanswered_orders: rush.unanswered_orders.load(Ordering::Relaxed),
        unsettled,
        cpu,
    }
}

fn spawn_workers(rush: &Arc<Rush>, conns: Vec<Conn>) -> Vec<tokio::task::JoinHandle<()>> {
    conns
        .into_iter()
        .enumerate()
        .map(|(w, conn)| {
            let rush = rush.clone();
            tokio::spawn(async move { rush.work(w, conn).await })
        })
        .collect()
}

/// What a visit changes in the shopper's state.
enum Next {
    /// Visit again right away.
    Again,
    /// Visit again no earlier than this.
    After(Duration),
    /// Never again.
    Done,
}

impl Rush {
    fn outstanding_tickets(&self) -> u64 {
        self.visitors.iter().filter(|v| lock(&v.state).ticket.is_some()).count() as u64
    }

    async fn work(&self, w: usize, mut conn: Conn) {
        let mut rng = StdRng::seed_from_u64(w as u64 + 1);
        let mut misses = 0u32;
        let mut pause = Duration::from_millis(1);
        while !self.stop.load(Ordering::Acquire) {
            let now = Instant::now();
            let open = now >= self.open;
            if !open && !self.has_bots {
                tokio::time::sleep_until(self.open.into()).await;
                continue;
            }
            let at = self.cursor.fetch_add(1, Ordering::Relaxed) % self.deck.len();
            let i = self.deck[at] as usize;
            match self.claim(i, now, open) {
                Some(visit) => {
                    misses = 0;
                    pause = Duration::from_millis(1);
                    self.visit(w, &mut conn, i, visit, &mut rng).await;
                }
                None => {
                    // Everyone nearby is busy, waiting or done: back off a little, more while it
                    // lasts, so idle workers do not eat the cores the server needs.
                    misses += 1;
                    if misses >= 64 {
                        misses = 0;
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(16));
                    }
                }
            }
        }
    }

    /// Claims shopper `i` for a visit, if they are free, not waiting, not done, and allowed to
    /// act yet.
    fn claim(&self, i: usize, now: Instant, open: bool) -> Option<Visit> {
        let v = &self.visitors[i];
        if !open && !v.bot {
            return None;
        }
        let mut s = v.state.try_lock().ok()?;
        let settling = self.settling.load(Ordering::Relaxed);
        if s.busy || s.done || s.not_before.is_some_and(|t| t > now) || (settling && s.ticket.is_none()) {
            return None;
        }
        s.busy = true;
        Some(Visit {
            session: s.session.clone(),
            purchase: s.purchase.clone(),
            pending: s.pending,
            ticket: s.ticket.clone(),
            attempts: s.attempts,
            bought: s.bought,
            not_before: None,
            done: false,
        })
    }

    fn release(&self, i: usize, visit: Visit) {
        let v = &self.visitors[i];
        let mut s = lock(&v.state);
        s.busy = false;
        s.session = visit.session;
        s.purchase = visit.purchase;
        s.pending = visit.pending;
        s.ticket = visit.ticket;
        s.attempts = visit.attempts;
        s.bought = visit.bought;
        s.not_before = visit.not_before;
        if visit.done && !s.done {
            s.done = true;
            self.active.fetch_sub(1, Ordering::AcqRel);
        }
    }

    async fn send(&self, w: usize, conn: &mut Conn, kind: Kind, call: Call<'_>) -> Option<(Answer, &'static str)> {
        let started = Instant::now();
        match conn.send(call).await {
            Ok(answer) => {
                let done = Instant::now();
                let code = if answer.status >= 400 { error_code(&answer.body) } else { "" };
                self.recorder.answer(w, kind, answer.status, code, done - started, done);
                Some((answer, code))
            }
            Err(e) => {
                tracing::debug!(error = %e, "a request got no answer");
                self.recorder.failure(w, kind);
                None
            }
        }
    }

    fn ack(&self, shopper: u32, attempt: u32, order: &OrderBody) {
        let at_ms = u64::try_from(Instant::now().saturating_duration_since(self.open).as_millis()).unwrap_or(u64::MAX);
        let ack = Ack {
            shopper,
            attempt,
            order_id: order.id,
            ticket: order.ticket,
            user_id: order.user_id,
            sku_id: order.sku_id,
            quantity: order.quantity,
            at_ms,
        };
        self.acks.lock().unwrap_or_else(|p| p.into_inner()).push(ack);
    }

    async fn visit(&self, w: usize, conn: &mut Conn, i: usize, mut visit: Visit, rng: &mut StdRng) {
        let next = self.step(w, conn, i, &mut visit, rng).await;
        match next {
            Next::Again => visit.not_before = None,
            Next::After(d) => visit.not_before = Some(Instant::now() + d),
            Next::Done => visit.done = true,
        }
        self.release(i, visit);
    }

    /// One press of "buy" (or one poll of a ticket).
    async fn step(&self, w: usize, conn: &mut Conn, i: usize, visit: &mut Visit, rng: &mut StdRng) -> Next {
        let shopper = self.visitors[i].shopper;
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let session = visit
            .session
            .get_or_insert_with(|| {
                let token = format!("Bearer {}", self.minter.shopper_token(shopper.id));
                // base64url and '.': always a valid header value.
                HeaderValue::from_str(&token).unwrap_or_else(|_| HeaderValue::from_static(""))
            })
            .clone();

        if let Some((ticket, attempt)) = visit.ticket.take() {
            return self.poll(w, conn, index, &session, ticket, attempt, visit).await;
        }

        let now = Instant::now();
        if visit.purchase.as_ref().is_none_or(|(_, refresh)| now >= *refresh) {
            let call = Call {
                method: Method::POST,
                path: &self.token_path,
                auth: Some(&session),
                idempotency_key: None,
                json: None,
            };
            let Some((answer, code)) = self.send(w, conn, Kind::Token, call).await else {
                return Next::After(FAILURE_PAUSE);
            };
            match (answer.status, code) {
                (200, _) => match serde_json::from_slice::<TokenBody>(&answer.body) {
                    Ok(t) => visit.purchase = Some((Arc::from(t.token), Instant::now() + PURCHASE_TOKEN_REUSE)),
                    Err(_) => return Next::Done,
                },
                (409, "NOT_STARTED") => return Next::After(NOT_OPEN_YET_PAUSE),
                (429 | 503, _) => return Next::After(wait(&answer)),
                _ => return Next::Done,
            }
        }
        let Some((purchase, _)) = visit.purchase.clone() else { return Next::Done };

        let attempt = match visit.pending.take() {
            Some(a) => a,
            None => {
                visit.attempts += 1;
                let skus = self.sale.skus.len().max(1);
                Attempt { n: visit.attempts, sku: u16::try_from(rng.random_range(0..skus)).unwrap_or(0) }
            }
        };
        let sku = self.sale.skus.get(usize::from(attempt.sku)).copied().unwrap_or(0);
        let body = format!(
            r#"{{"sku_id":{sku},"quantity":1,"address_id":{},"pay_type":"online","purchase_token":"{purchase}"}}"#,
            shopper.address.get()
        );
        let key = idempotency_key(&self.tag, index, attempt.n);
        let call = Call {
            method: Method::POST,
            path: &self.orders_path,
            auth: Some(&session),
            idempotency_key: Some(&key),
            json: Some(Bytes::from(body)),
        };
        let Some((answer, code)) = self.send(w, conn, Kind::Order, call).await else {
            // No answer: the order may or may not exist. The same key asks again and gets
            // whatever the first request got.
            self.unanswered_orders.fetch_add(1, Ordering::Relaxed);
            visit.pending = Some(attempt);
            return Next::After(FAILURE_PAUSE);
        };
        match (answer.status, code) {
            (201, _) => match serde_json::from_slice::<Created>(&answer.body) {
                Ok(c) => {
                    self.ack(index, attempt.n, &c.order);
                    visit.bought += c.order.quantity;
                    if visit.bought >= self.sale.total_limit { Next::Done } else { Next::Again }
                }
                Err(_) => Next::Done,
            },
            (202, _) => match serde_json::from_slice::<Queued>(&answer.body) {
                Ok(q) => {
                    visit.ticket = Some((Arc::from(q.ticket), attempt));
                    Next::After(TICKET_POLL_PAUSE)
                }
                Err(_) => Next::Done,
            },
            // Nothing was stored: the next press is a new attempt under a new key.
            (409, "SOLD_OUT") => Next::Again,
            (409, "NOT_STARTED") => {
                visit.pending = Some(attempt);
                Next::After(NOT_OPEN_YET_PAUSE)
            }
            (403, "BAD_PURCHASE_TOKEN") => {
                visit.purchase = None;
                visit.pending = Some(attempt);
                Next::Again
            }
            (429 | 503, _) => {
                visit.pending = Some(attempt);
                Next::After(wait(&answer))
            }
            // LIMIT_EXCEEDED, ENDED, DISABLED, and anything unexpected (counted in the answers).
            _ => Next::Done,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn poll(
        &self,
        w: usize,
        conn: &mut Conn,
        index: u32,
        session: &HeaderValue,
        ticket: Arc<str>,
        attempt: Attempt,
        visit: &mut Visit,
    ) -> Next {
        let path = format!("/api/tickets/{ticket}");
        let call = Call { method: Method::GET, path: &path, auth: Some(session), idempotency_key: None, json: None };
        let answer = self.send(w, conn, Kind::Ticket, call).await;
        let parsed = answer
            .as_ref()
            .filter(|(a, _)| a.status == 200)
            .and_then(|(a, _)| serde_json::from_slice::<TicketBody>(&a.body).ok());
        let Some(t) = parsed else {
            visit.ticket = Some((ticket, attempt));
            return Next::After(FAILURE_PAUSE);
        };
        match (t.status.as_str(), t.order_id) {
            ("created", Some(order_id)) => {
                let shopper = self.visitors[index as usize].shopper;
                let sku_id = self.sale.skus.get(usize::from(attempt.sku)).copied().unwrap_or(0);
                let Ok(ticket) = ticket.parse::<Ticket>() else { return Next::Done };
                let order = OrderBody { id: order_id, ticket, user_id: shopper.id.get(), sku_id, quantity: 1 };
                self.ack(index, attempt.n, &order);
                visit.bought += 1;
                if visit.bought >= self.sale.total_limit { Next::Done } else { Next::Again }
            }
            ("queued", _) => {
                visit.ticket = Some((ticket, attempt));
                Next::After(TICKET_POLL_PAUSE)
            }
            _ => match t.error.map(|e| e.code).as_deref() {
                // Not written and the hold given back: the same key asks again.
                Some("OVERLOADED") => {
                    visit.pending = Some(attempt);
                    Next::After(Duration::from_secs(1))
                }
                Some("SOLD_OUT") => Next::Again,
                _ => Next::Done,
            },
        }
    }
}

/// How long an answer asks to wait (`Retry-After`, one second if it names none).
fn wait(answer: &Answer) -> Duration {
    answer.retry_after.unwrap_or(Duration::from_secs(1)).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_run_the_shopper_and_the_attempt() {
        assert_eq!(idempotency_key("abcdef", 12, 3), "abcdef-12-3");
        assert!(idempotency_key("abcdef", u32::MAX, u32::MAX).len() <= seckill_store::rush::MAX_IDEMPOTENCY_KEY_LEN);
    }
}
