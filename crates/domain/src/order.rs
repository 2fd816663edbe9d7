//! Orders and their state machine:
//! `pending_payment → paid → shipped → completed`, `pending_payment → cancelled` (timeout,
//! user, admin) and `paid → cancelled` (admin, refund noted). Stores apply every move as a
//! conditional update on the current status, so two racing moves have exactly one winner.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{ActivityId, OrderId, SkuId, Ticket, UserId};
use crate::money::Money;
use crate::user::AddressSnapshot;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Shipped,
    Completed,
    Cancelled,
}

/// Who or what cancelled an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Not paid before `pay_deadline`.
    Timeout,
    /// The shopper cancelled.
    User,
    /// An operator cancelled (a paid order is then refunded).
    Admin,
}

/// How the order will be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayType {
    /// Through the payment gateway.
    Online,
}

/// A move of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMove {
    Pay,
    Ship,
    Complete,
    Cancel(CancelReason),
}

/// A status string that is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

macro_rules! string_enum {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            /// The stable lower-case name used by the API and the records.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $s),+ }
            }
        }
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s { $($s => Ok($ty::$variant),)+ _ => Err(UnknownValue) }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(OrderStatus {
    PendingPayment => "pending_payment",
    Paid => "paid",
    Shipped => "shipped",
    Completed => "completed",
    Cancelled => "cancelled",
});
string_enum!(CancelReason { Timeout => "timeout", User => "user", Admin => "admin" });
string_enum!(PayType { Online => "online" });

impl OrderMove {
    /// The status an order must be in for this move, and the status after it. A store updates
    /// `WHERE status = from`; zero rows changed means another move won the race.
    pub fn from_to(self, current: OrderStatus) -> Option<OrderStatus> {
        use OrderStatus::*;
        match (self, current) {
            (OrderMove::Pay, PendingPayment) => Some(Paid),
            (OrderMove::Ship, Paid) => Some(Shipped),
            (OrderMove::Complete, Shipped) => Some(Completed),
            (OrderMove::Cancel(_), PendingPayment) => Some(Cancelled),
            (OrderMove::Cancel(CancelReason::Admin), Paid) => Some(Cancelled),
            _ => None,
        }
    }

    /// Statuses from which this move is allowed.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            OrderMove::Pay => &[PendingPayment],
            OrderMove::Ship => &[Paid],
            OrderMove::Complete => &[Shipped],
            OrderMove::Cancel(CancelReason::Admin) => &[PendingPayment, Paid],
            OrderMove::Cancel(_) => &[PendingPayment],
        }
    }
}

impl OrderStatus {
    /// Whether the order still holds its stock (everything but `cancelled`).
    pub fn holds_stock(self) -> bool {
        self != OrderStatus::Cancelled
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub ticket: Ticket,
    pub activity_id: ActivityId,
    pub sku_id: SkuId,
    pub user_id: UserId,
    pub quantity: u32,
    pub unit_price: Money,
    pub amount: Money,
    pub status: OrderStatus,
    pub pay_type: PayType,
    pub address: AddressSnapshot,
    pub created_at: Timestamp,
    pub pay_deadline: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub shipped_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub cancel_reason: Option<CancelReason>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn the_state_machine_allows_only_the_documented_moves() {
        let all = [PendingPayment, Paid, Shipped, Completed, Cancelled];
        let moves = [
            OrderMove::Pay,
            OrderMove::Ship,
            OrderMove::Complete,
            OrderMove::Cancel(CancelReason::Timeout),
            OrderMove::Cancel(CancelReason::User),
            OrderMove::Cancel(CancelReason::Admin),
        ];
        let mut allowed = vec![];
        for m in moves {
            for s in all {
                if let Some(to) = m.from_to(s) {
                    assert!(m.allowed_from().contains(&s));
                    allowed.push((m, s, to));
                } else {
                    assert!(!m.allowed_from().contains(&s));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                (OrderMove::Pay, PendingPayment, Paid),
                (OrderMove::Ship, Paid, Shipped),
                (OrderMove::Complete, Shipped, Completed),
                (OrderMove::Cancel(CancelReason::Timeout), PendingPayment, Cancelled),
                (OrderMove::Cancel(CancelReason::User), PendingPayment, Cancelled),
                (OrderMove::Cancel(CancelReason::Admin), PendingPayment, Cancelled),
                (OrderMove::Cancel(CancelReason::Admin), Paid, Cancelled),
            ]
        );
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [PendingPayment, Paid, Shipped, Completed, Cancelled] {
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert!("refunded".parse::<OrderStatus>().is_err());
        assert_eq!("timeout".parse::<CancelReason>(), Ok(CancelReason::Timeout));
    }
}
