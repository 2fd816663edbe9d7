//! What can go wrong in a store, apart from a business "no".

use seckill_domain::ids::{ActivityId, SkuId, SlotId};
use seckill_domain::order::OrderStatus;
use seckill_domain::validation::FieldErrors;

/// A store operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or is not the caller's: callers answer both the same way).
    #[error("not found")]
    NotFound,
    /// The change would break a rule the store checks inside its transaction.
    #[error("{0}")]
    Conflict(Conflict),
    /// The input refers to records that do not fit (a SKU of another product, a missing slot):
    /// the same shape of answer as the domain's own validation.
    #[error("invalid: {0}")]
    Invalid(FieldErrors),
    /// The store cannot answer now (connection lost, busy, disk full); retrying may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A bug or corruption: stored data that breaks our own rules. Logged, answered opaquely.
    #[error("store failure: {0}")]
    Internal(String),
}

impl From<FieldErrors> for StoreError {
    fn from(e: FieldErrors) -> Self {
        StoreError::Invalid(e)
    }
}

impl From<Conflict> for StoreError {
    fn from(c: Conflict) -> Self {
        StoreError::Conflict(c)
    }
}

/// A rule of the records that a change would break. Each maps to one API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// `USERNAME_TAKEN`: usernames are unique regardless of case.
    #[error("username is taken")]
    UsernameTaken,
    /// `SLOT_OVERLAP`: enabled slots never overlap.
    #[error("overlaps enabled time slot {slot_id} ({name})")]
    SlotOverlap { slot_id: SlotId, name: String },
    /// `SLOT_IN_USE`: a slot used by an unfinished activity stays.
    #[error("time slot is used by activity {activity_id}, which has not finished")]
    SlotInUse { activity_id: ActivityId },
    /// `PRODUCT_IN_ACTIVITY`: a product sells in at most one enabled activity at any instant.
    #[error("the product is already in enabled activity {activity_id} at overlapping times")]
    ProductInActivity { activity_id: ActivityId },
    /// `STOCK_BELOW_SOLD`: stock never drops below what is sold.
    #[error("sku {sku_id}: stock {stock} would be below the {sold} already sold")]
    StockBelowSold { sku_id: SkuId, stock: u32, sold: u32 },
    /// `BAD_ORDER_STATE`: the order is not in a state that allows the move.
    #[error("the order is {status}")]
    BadOrderState { status: OrderStatus },
}

impl Conflict {
    /// The stable API error code.
    pub fn code(&self) -> &'static str {
        match self {
            Conflict::UsernameTaken => "USERNAME_TAKEN",
            Conflict::SlotOverlap { .. } => "SLOT_OVERLAP",
            Conflict::SlotInUse { .. } => "SLOT_IN_USE",
            Conflict::ProductInActivity { .. } => "PRODUCT_IN_ACTIVITY",
            Conflict::StockBelowSold { .. } => "STOCK_BELOW_SOLD",
            Conflict::BadOrderState { .. } => "BAD_ORDER_STATE",
        }
    }
}
