//! Money as integer cents. Never floats: a price of ¥19.99 is `Money::from_cents(1999)`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A non-negative amount of money in cents (分).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

/// A negative or overflowing amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount out of range")]
pub struct BadAmount;

/// The largest amount accepted anywhere: ¥100,000,000.00. Keeps every product of a price and a
/// quantity far from `i64` overflow.
pub const MAX_CENTS: i64 = 10_000_000_000;

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// An amount read from the records (trusted).
    pub const fn from_cents(cents: i64) -> Self {
        Money(cents)
    }

    /// Parses an amount that came from outside: `0 ..= MAX_CENTS`.
    pub fn parse_cents(cents: i64) -> Result<Self, BadAmount> {
        if (0..=MAX_CENTS).contains(&cents) { Ok(Money(cents)) } else { Err(BadAmount) }
    }

    /// Cents, for storing and the API.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// `self × quantity`, refusing overflow.
    pub fn times(self, quantity: u32) -> Result<Money, BadAmount> {
        self.0.checked_mul(i64::from(quantity)).map(Money).ok_or(BadAmount)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_cents_within_bounds() {
        assert_eq!(Money::parse_cents(1999).map(Money::cents), Ok(1999));
        assert_eq!(Money::parse_cents(-1), Err(BadAmount));
        assert_eq!(Money::parse_cents(MAX_CENTS + 1), Err(BadAmount));
        assert_eq!(Money::from_cents(1999).to_string(), "19.99");
        assert_eq!(Money::from_cents(5).to_string(), "0.05");
    }

    #[test]
    fn multiplying_by_a_quantity_never_overflows_silently() {
        assert_eq!(Money::from_cents(250).times(3), Ok(Money::from_cents(750)));
        assert_eq!(Money::from_cents(i64::MAX).times(2), Err(BadAmount));
    }
}
