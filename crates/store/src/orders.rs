//! The records' side of selling: reservations, the seckill tags of SKUs, the figures the hot
//! state is rebuilt from, orders and their moves, the stock-return outbox, and payments.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, OrderId, PaymentId, SkuId, Ticket, UserId};
use seckill_domain::order::{CancelReason, Order};
use seckill_domain::payment::Payment;
use seckill_domain::rejection::Rejection;

use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::rush::{HotActivity, OrderDraft};

/// Orders and what surrounds them in the records.
#[async_trait]
pub trait Orders: Send + Sync + 'static {
    /// The records' view of one activity for (re)building its hot state, read in one
    /// consistent snapshot: per-SKU stock and sold, every non-cancelled order's holding (with
    /// its ticket and idempotency key), the keys of cancelled orders, and the reserved users.
    /// `NotFound` if absent.
    async fn hot_activity(&self, activity: ActivityId) -> Result<HotActivity, StoreError>;

    /// The group commit: writes a batch of the hot path's drafts in one transaction and answers
    /// each, in order — its order, or why it was not written: `UnknownAddress` (not a live
    /// address of the draft's own user; the one used is copied into the order) or `SoldOut`
    /// (the records have no room for the SKU's units, which only happens if an operator lowered
    /// the stock while orders were in flight). `activity_skus.sold` rises in the same
    /// transaction, once per SKU and never past `stock`. `Err` means nothing of the batch was
    /// written. Each draft's ticket is new (its reservation made it); a backend fed by a
    /// redeliverable queue answers a ticket already written with its order and writes nothing
    /// twice.
    async fn write_orders(&self, drafts: &[OrderDraft]) -> Result<Vec<Result<Order, Rejection>>, StoreError>;

    /// Records that `user` reserved `activity` (预约); `true` if new, `false` if they had
    /// already. `NotFound` for an unknown activity.
    async fn add_reservation(&self, activity: ActivityId, user: UserId, now: Timestamp) -> Result<bool, StoreError>;

    /// Makes exactly the SKUs in `tagged` the seckill SKUs (the product page then shows the
    /// seckill price and countdown); every other SKU loses the tag.
    async fn sync_seckill_tags(&self, tagged: &[SkuId]) -> Result<(), StoreError>;

    /// One order; `NotFound` if absent.
    async fn order(&self, id: OrderId) -> Result<Order, StoreError>;

    /// The order a ticket became, if it was written.
    async fn order_by_ticket(&self, ticket: Ticket) -> Result<Option<Order>, StoreError>;

    /// A shopper's orders, newest first.
    async fn orders_of_user(&self, user: UserId, page: Page) -> Result<Paged<Order>, StoreError>;

    /// Orders matching `filter`, newest first.
    async fn find_orders(&self, filter: &OrderFilter, page: Page) -> Result<Paged<Order>, StoreError>;

    /// Cancels an order — `pending_payment` for any reason, `paid` only by an operator (its
    /// payment is then marked `refund_needed`) — as one conditional move: `sold` goes down by
    /// the order's quantity and one stock-return row is written, in the same transaction.
    /// `NotFound` if absent or, with `owner`, not theirs; `Conflict::BadOrderState` otherwise.
    async fn cancel_order(
        &self,
        id: OrderId,
        reason: CancelReason,
        owner: Option<UserId>,
        now: Timestamp,
    ) -> Result<Order, StoreError>;

    /// `paid` → `shipped` with the carrier and tracking number.
    async fn ship_order(
        &self,
        id: OrderId,
        carrier: &str,
        tracking_no: &str,
        now: Timestamp,
    ) -> Result<Order, StoreError>;

    /// `shipped` → `completed` (the shopper received it).
    async fn complete_order(&self, id: OrderId, owner: Option<UserId>, now: Timestamp) -> Result<Order, StoreError>;

    /// Unpaid orders whose deadline is at or before `now`, earliest deadline first.
    async fn overdue_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError>;

    /// The earliest deadline of an unpaid order, if any.
    async fn next_deadline(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Stock returns not yet applied to the hot state, oldest first.
    async fn pending_returns(&self, limit: u32) -> Result<Vec<PendingReturn>, StoreError>;

    /// Marks stock returns as applied to the hot state.
    async fn mark_returns_applied(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError>;

    /// Starts paying one of `owner`'s orders through `provider` (an open attempt of the same
    /// provider is answered again). `Conflict::BadOrderState` unless the order is
    /// `pending_payment` and before its deadline; `NotFound` if absent or not theirs.
    async fn create_payment(
        &self,
        order: OrderId,
        owner: UserId,
        provider: &str,
        now: Timestamp,
    ) -> Result<Payment, StoreError>;

    /// One payment; `NotFound` if absent.
    async fn payment(&self, id: PaymentId) -> Result<Payment, StoreError>;

    /// Applies a gateway's notification exactly once (see [`NoticeEffect`]). `Invalid` when the
    /// amount or order does not match the payment; `NotFound` for an unknown payment.
    async fn record_payment_notice(&self, notice: &PaymentNotice, now: Timestamp) -> Result<NoticeOutcome, StoreError>;
}

/// Which orders to list (every field narrows; none lists all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub activity_id: Option<ActivityId>,
    pub status: Option<seckill_domain::order::OrderStatus>,
    pub user_id: Option<UserId>,
}

/// A row of the stock-return outbox not yet applied to the hot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingReturn {
    /// The outbox row, to mark applied.
    pub id: i64,
    /// What to give back (keyed by the order's ticket, so applying it twice gives back once).
    pub stock: crate::rush::StockReturn,
}

/// A payment gateway's notification, already authenticated (its signature checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotice {
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// Must equal the payment's amount.
    pub amount: seckill_domain::money::Money,
    pub outcome: seckill_domain::payment::PaymentOutcome,
    /// The gateway's own reference for the payment.
    pub provider_ref: String,
}

/// What a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeEffect {
    /// The order is paid.
    Paid,
    /// The payment failed; the order is still payable until its deadline.
    Failed,
    /// The money arrived for an order no longer payable (cancelled meanwhile): it must be
    /// refunded; the order stays as it was.
    RefundNeeded,
    /// The payment had already been settled: nothing changed.
    Replayed,
}

/// A notification's effect, with the payment and order as they now stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeOutcome {
    pub effect: NoticeEffect,
    pub payment: Payment,
    pub order: Order,
}
