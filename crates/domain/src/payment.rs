//! Payments: one attempt to pay one order through a gateway, and what its notification means
//! for the order.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, PaymentId};
use crate::money::Money;
use crate::order::UnknownValue;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Created, the shopper has not paid (yet).
    Created,
    /// The gateway says the money arrived and the order is paid.
    Succeeded,
    /// The gateway says the payment failed; the order is still payable until its deadline.
    Failed,
    /// The money arrived for an order that had been cancelled meanwhile: it must go back. The
    /// order stays cancelled.
    RefundNeeded,
    /// The money went back.
    Refunded,
}

impl PaymentStatus {
    /// The stable lower-case name used by the API and the records.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Created => "created",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::RefundNeeded => "refund_needed",
            PaymentStatus::Refunded => "refunded",
        }
    }

    /// Whether a notification can still change this payment (later ones are replays).
    pub fn is_open(self) -> bool {
        matches!(self, PaymentStatus::Created | PaymentStatus::Failed)
    }
}

impl FromStr for PaymentStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "created" => Ok(PaymentStatus::Created),
            "succeeded" => Ok(PaymentStatus::Succeeded),
            "failed" => Ok(PaymentStatus::Failed),
            "refund_needed" => Ok(PaymentStatus::RefundNeeded),
            "refunded" => Ok(PaymentStatus::Refunded),
            _ => Err(UnknownValue),
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub status: PaymentStatus,
    /// The gateway that handles it (`sandbox`).
    pub provider: String,
    /// The gateway's own reference, once it has notified us.
    pub provider_ref: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub notified_at: Option<Timestamp>,
}

/// What a gateway's notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    Succeeded,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_open_ones_take_notifications() {
        for s in [
            PaymentStatus::Created,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
            PaymentStatus::RefundNeeded,
            PaymentStatus::Refunded,
        ] {
            assert_eq!(s.as_str().parse::<PaymentStatus>(), Ok(s));
        }
        assert!(PaymentStatus::Created.is_open() && PaymentStatus::Failed.is_open());
        assert!(!PaymentStatus::Succeeded.is_open() && !PaymentStatus::RefundNeeded.is_open());
    }
}
