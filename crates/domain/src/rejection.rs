//! The business "no": why the hot path (or an order move) refused, as a small `Copy` value.
//! A rejection is an answer, not a failure: it is counted, never logged as an error.

use std::fmt;

/// Why a purchase (or reservation, or order move) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Before the activity's first window.
    NotStarted,
    /// Between two windows.
    Paused,
    /// After the last window.
    Ended,
    /// Switched off by an operator.
    Disabled,
    /// No stock left for the SKU.
    SoldOut,
    /// The user's non-cancelled quantity would exceed `total_limit`.
    LimitExceeded,
    /// More than `single_limit` in one order.
    QuantityTooLarge,
    /// The activity requires a reservation the user does not have.
    NotReserved,
    /// The user's level is below `min_level`.
    LevelTooLow,
    /// Purchase token missing, forged, expired, or another user's or activity's.
    BadPurchaseToken,
    /// The SKU is not on sale in this activity.
    UnknownSku,
    /// The address is not one of the user's.
    UnknownAddress,
    /// Reservations close when the activity starts.
    ReservationClosed,
    /// The order is not in a state that allows the move.
    BadOrderState,
    /// Too many requests from this user or address; retry after the given seconds.
    RateLimited { retry_after_secs: u32 },
    /// The system sheds load; retry after the given seconds.
    Overloaded { retry_after_secs: u32 },
}

impl Rejection {
    /// Every rejection without a payload, for counters and documentation.
    pub const ALL: [Rejection; 16] = [
        Rejection::NotStarted,
        Rejection::Paused,
        Rejection::Ended,
        Rejection::Disabled,
        Rejection::SoldOut,
        Rejection::LimitExceeded,
        Rejection::QuantityTooLarge,
        Rejection::NotReserved,
        Rejection::LevelTooLow,
        Rejection::BadPurchaseToken,
        Rejection::UnknownSku,
        Rejection::UnknownAddress,
        Rejection::ReservationClosed,
        Rejection::BadOrderState,
        Rejection::RateLimited { retry_after_secs: 1 },
        Rejection::Overloaded { retry_after_secs: 1 },
    ];

    /// The stable machine code of API.md.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::NotStarted => "NOT_STARTED",
            Rejection::Paused => "PAUSED",
            Rejection::Ended => "ENDED",
            Rejection::Disabled => "DISABLED",
            Rejection::SoldOut => "SOLD_OUT",
            Rejection::LimitExceeded => "LIMIT_EXCEEDED",
            Rejection::QuantityTooLarge => "QUANTITY_TOO_LARGE",
            Rejection::NotReserved => "NOT_RESERVED",
            Rejection::LevelTooLow => "LEVEL_TOO_LOW",
            Rejection::BadPurchaseToken => "BAD_PURCHASE_TOKEN",
            Rejection::UnknownSku => "UNKNOWN_SKU",
            Rejection::UnknownAddress => "UNKNOWN_ADDRESS",
            Rejection::ReservationClosed => "RESERVATION_CLOSED",
            Rejection::BadOrderState => "BAD_ORDER_STATE",
            Rejection::RateLimited { .. } => "RATE_LIMITED",
            Rejection::Overloaded { .. } => "OVERLOADED",
        }
    }

    /// A short human explanation.
    pub fn describe(self) -> &'static str {
        match self {
            Rejection::NotStarted => "the sale has not started yet",
            Rejection::Paused => "the sale is paused until its next time slot",
            Rejection::Ended => "the sale has ended",
            Rejection::Disabled => "the sale has been switched off",
            Rejection::SoldOut => "sold out",
            Rejection::LimitExceeded => "this would exceed the per-user purchase limit",
            Rejection::QuantityTooLarge => "this exceeds the per-order limit",
            Rejection::NotReserved => "this sale is for shoppers who reserved before it started",
            Rejection::LevelTooLow => "your membership level is too low for this sale",
            Rejection::BadPurchaseToken => "purchase token missing, invalid or expired; fetch a new one",
            Rejection::UnknownSku => "this sku is not on sale in this activity",
            Rejection::UnknownAddress => "unknown address",
            Rejection::ReservationClosed => "reservations closed when the sale started",
            Rejection::BadOrderState => "the order is not in a state that allows this",
            Rejection::RateLimited { .. } => "too many requests; slow down",
            Rejection::Overloaded { .. } => "too busy right now; retry shortly",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_upper_snake() {
        let mut codes: Vec<_> = Rejection::ALL.iter().map(|r| r.code()).collect();
        assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Rejection::ALL.len());
    }
}
