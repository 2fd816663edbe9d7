//! The records' side of selling: reservations, the seckill tags of SKUs, the figures the hot
//! state is rebuilt from, and orders as stored.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, OrderId, SkuId, Ticket, UserId};
use seckill_domain::order::Order;

use crate::error::StoreError;
use crate::rush::HotActivity;

/// Orders and what surrounds them in the records.
#[async_trait]
pub trait Orders: Send + Sync + 'static {
    /// The records' view of one activity for (re)building its hot state, read in one
    /// consistent snapshot: per-SKU stock and sold, every non-cancelled order's holding (with
    /// its ticket and idempotency key), and the reserved users. `NotFound` if absent.
    async fn hot_activity(&self, activity: ActivityId) -> Result<HotActivity, StoreError>;

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
}
