//! The ports of the rush: the hot state that takes stock atomically ([`StockGate`]) and the
//! hand-off that turns a reservation into a durable order ([`OrderQueue`]).
//!
//! One purchase is two steps. [`StockGate::reserve`] checks the idempotency key, the user's
//! quantity against `total_limit` and the stock, and takes the stock — atomically, in memory
//! (embedded) or in one Lua script (cluster, which also appends the order message). Then
//! [`OrderQueue::place`] hands the [`OrderDraft`] to the writer and answers once the order is
//! committed (`Created`) or safely queued (`Queued`). A draft that cannot be written gives its
//! hold back, exactly once, before the answer.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, AddressId, SkuId, Ticket, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::{Order, OrderStatus, PayType};
use seckill_domain::rejection::Rejection;
use seckill_domain::user::AddressSnapshot;

use crate::error::StoreError;

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 64;

/// The records' view of one activity SKU, for (re)building the hot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotSku {
    pub sku_id: SkuId,
    /// Units put on sale.
    pub stock: u32,
    /// Units in non-cancelled orders.
    pub sold: u32,
}

/// One non-cancelled order as the hot state remembers it: who holds how much of what, under
/// which ticket and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotHolding {
    pub ticket: Ticket,
    pub sku_id: SkuId,
    pub user_id: UserId,
    pub quantity: u32,
    pub idempotency_key: Option<String>,
}

/// The idempotency key of a cancelled order: it holds no stock, but it keeps answering with
/// that order, so a late retry never makes a second order under the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotKey {
    pub ticket: Ticket,
    pub user_id: UserId,
    pub idempotency_key: String,
}

/// Everything the hot state needs to serve one activity, read from the records: loaded at
/// preheat and rebuilt at start-up. `remaining = stock − sold`; a user's bought quantity is
/// the sum of their holdings; every key that won (its order live or cancelled) replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotActivity {
    pub activity_id: ActivityId,
    /// The records' `version` of the activity this was read at.
    pub version: i64,
    pub skus: Vec<HotSku>,
    /// Non-cancelled orders.
    pub holdings: Vec<HotHolding>,
    /// Keys of cancelled orders (the keys of live orders are in `holdings`).
    pub cancelled_keys: Vec<HotKey>,
    /// Users who reserved (预约).
    pub reserved: Vec<UserId>,
}

/// An order as the hot path asks for it, before it is written. Carries everything the writer
/// needs, so the cluster shape can put it in the order message as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDraft {
    pub ticket: Ticket,
    pub activity_id: ActivityId,
    pub sku_id: SkuId,
    pub user_id: UserId,
    pub quantity: u32,
    pub unit_price: Money,
    /// Resolved (and checked to be the user's) by the writer, which snapshots it into the order.
    pub address_id: AddressId,
    pub pay_type: PayType,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
    pub pay_deadline: Timestamp,
}

/// What [`StockGate::reserve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Stock was taken for this new ticket; place the draft.
    New(Ticket),
    /// The idempotency key already won under this ticket: answer what that request got.
    Replay(Ticket),
}

/// Units to give back: a cancelled order's, or a reservation whose order could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockReturn {
    pub ticket: Ticket,
    pub activity_id: ActivityId,
    pub sku_id: SkuId,
    pub user_id: UserId,
    pub quantity: u32,
}

/// Why units go back, which decides what happens to the idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnReason {
    /// The order existed and was cancelled: the key keeps answering with that order.
    Cancelled,
    /// No order was written: the request stored nothing, so its key is forgotten and a retry
    /// simply asks again.
    NotWritten,
}

/// The hot state: remaining stock per SKU, bought quantity per user, idempotency keys,
/// reservations, sold-out flags. Every method is safe under any concurrency; `reserve` never
/// takes more than `stock` and never lets a user pass `total_limit`.
#[async_trait]
pub trait StockGate: Send + Sync + 'static {
    /// Loads an activity, or reloads it after a change: stock figures follow the records
    /// (more stock is on sale at once), reservations are merged, and the live counters of
    /// units taken and bought are kept (they include orders still being written).
    async fn load(&self, hot: &HotActivity) -> Result<(), StoreError>;

    /// Forgets an activity (it has ended).
    async fn unload(&self, activity: ActivityId) -> Result<(), StoreError>;

    /// Whether the activity is loaded, and at which records version.
    fn loaded_version(&self, activity: ActivityId) -> Option<i64>;

    /// The one atomic step: replay a known idempotency key, else check the user's quantity
    /// against `total_limit` (`LimitExceeded`) and the stock (`SoldOut`), then take both.
    /// `UnknownSku` if the SKU is not loaded for the activity; `Unavailable` if the activity is
    /// not loaded at all.
    async fn reserve(&self, draft: &OrderDraft, total_limit: u32) -> Result<Result<Hold, Rejection>, StoreError>;

    /// Gives units back, exactly once per ticket: `true` if this call gave them back, `false`
    /// if that ticket's units were already returned (or never held).
    async fn release(&self, ret: &StockReturn, reason: ReturnReason) -> Result<bool, StoreError>;

    /// Units left of a SKU, from memory (`None` if the activity is not loaded). Never a
    /// round trip on the embedded shape; a local cache on the cluster shape.
    fn remaining(&self, activity: ActivityId, sku: SkuId) -> Option<u32>;

    /// The sold-out short-circuit, from memory: `true` only if answering `SOLD_OUT` now is what
    /// [`reserve`](StockGate::reserve) would answer for this user and key at some instant during
    /// the call — every SKU of the activity has no unit left and `key` (if any) has not won.
    /// `false` means "ask `reserve`" (a gate that cannot tell cheaply answers `false`).
    fn sold_out_for(&self, activity: ActivityId, user: UserId, key: Option<&str>) -> bool;

    /// Whether the user reserved the activity, from memory (`false` if not loaded).
    fn is_reserved(&self, activity: ActivityId, user: UserId) -> bool;

    /// Records a reservation made after the activity was loaded.
    async fn add_reservation(&self, activity: ActivityId, user: UserId) -> Result<(), StoreError>;

    /// Units of a SKU in orders and orders being written, as the hot state itself holds them
    /// (not a local cache): `None` if the activity is not loaded. For invariant checks.
    async fn units_taken(&self, activity: ActivityId, sku: SkuId) -> Result<Option<u32>, StoreError>;

    /// Units a user holds in an activity, as the hot state itself holds them (0 if the
    /// activity is not loaded). For invariant checks.
    async fn units_bought(&self, activity: ActivityId, user: UserId) -> Result<u32, StoreError>;

    /// A cheap round trip to where the hot state lives (readiness); in process, always fine.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How a reservation ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The order is durably stored.
    Created(Box<Order>),
    /// The order is safely queued and will be written (poll its ticket).
    Queued(Ticket),
    /// The order was not written and its hold was given back (`UnknownAddress`, `SoldOut`
    /// when the records disagree with the hot state, `Overloaded` when the queue is full or a
    /// write failed).
    Rejected(Rejection),
}

/// The hand-off from a reservation to a durable order.
#[async_trait]
pub trait OrderQueue: Send + Sync + 'static {
    /// Places the order of a reservation that won its hold. Whatever the outcome, the hold is
    /// either in an order or given back when this returns.
    async fn place(&self, draft: OrderDraft) -> Result<Placement, StoreError>;

    /// The outcome of an earlier reservation, by ticket: for idempotent replays and ticket
    /// polling. `Ok(None)` if the ticket is unknown.
    async fn outcome(&self, ticket: Ticket) -> Result<Option<Placement>, StoreError>;
}

impl OrderDraft {
    /// The order this draft becomes when written with `id` and the user's `address`: pending
    /// payment, times at the millisecond precision the records keep (so this answer and any
    /// later read of the order agree). `None` if the amount overflows.
    pub fn pending_order(&self, id: seckill_domain::ids::OrderId, address: AddressSnapshot) -> Option<Order> {
        let ms = |t: Timestamp| Timestamp::from_millisecond(t.as_millisecond()).ok();
        Some(Order {
            id,
            ticket: self.ticket,
            activity_id: self.activity_id,
            sku_id: self.sku_id,
            user_id: self.user_id,
            quantity: self.quantity,
            unit_price: self.unit_price,
            amount: self.unit_price.times(self.quantity).ok()?,
            status: OrderStatus::PendingPayment,
            pay_type: self.pay_type,
            address,
            created_at: ms(self.created_at)?,
            pay_deadline: ms(self.pay_deadline)?,
            paid_at: None,
            shipped_at: None,
            closed_at: None,
            cancel_reason: None,
            carrier: None,
            tracking_no: None,
        })
    }
}

impl From<&OrderDraft> for StockReturn {
    fn from(d: &OrderDraft) -> Self {
        StockReturn {
            ticket: d.ticket,
            activity_id: d.activity_id,
            sku_id: d.sku_id,
            user_id: d.user_id,
            quantity: d.quantity,
        }
    }
}

/// How the instances of one deployment work together: which one runs the one-per-cluster jobs
/// (preheat bookkeeping, timeouts, the stock-return relay), and how a change made on one
/// reaches the others' snapshots.
#[async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// Whether this instance runs the one-per-cluster jobs now. The jobs stay safe if two
    /// instances believe it for a moment (every step they take is idempotent); leadership only
    /// keeps them from doing the work twice.
    fn is_leader(&self) -> bool;

    /// Tells every other instance that activities changed, so they reload now rather than at
    /// their next periodic step.
    async fn announce_change(&self);

    /// Resolves when another instance announced a change (or when announcements may have been
    /// missed, after a reconnect).
    async fn changed(&self);
}

/// One instance alone: always the leader, nobody to tell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

#[async_trait]
impl Coordination for Solo {
    fn is_leader(&self) -> bool {
        true
    }

    async fn announce_change(&self) {}

    async fn changed(&self) {
        std::future::pending::<()>().await;
    }
}
