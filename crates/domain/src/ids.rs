//! Typed ids. Each is a positive `i64` as stored in both databases; a newtype keeps a
//! `UserId` from ever being passed where an `ActivityId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value that is not a positive integer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a positive integer id")]
pub struct BadId;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw id read from a trusted source (the records). Use `TryFrom<i64>`
            /// for anything that came from outside.
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw value, for storing and formatting.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = BadId;
            fn try_from(raw: i64) -> Result<Self, BadId> {
                if raw > 0 { Ok(Self(raw)) } else { Err(BadId) }
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                s.parse::<i64>().map_err(|_| BadId).and_then(Self::try_from)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A shopper.
    UserId
);
id_type!(
    /// An operator of the console.
    AdminId
);
id_type!(
    /// A shopper's delivery address.
    AddressId
);
id_type!(
    /// A brand.
    BrandId
);
id_type!(
    /// A product category.
    CategoryId
);
id_type!(
    /// A product (SPU).
    ProductId
);
id_type!(
    /// A stock-keeping unit of a product.
    SkuId
);
id_type!(
    /// A daily time slot (场次).
    SlotId
);
id_type!(
    /// A seckill activity (秒杀活动).
    ActivityId
);
id_type!(
    /// An order.
    OrderId
);
id_type!(
    /// A payment attempt for an order.
    PaymentId
);

/// The name of one purchase attempt that won stock: made by the instance that took the stock
/// (a UUIDv7, so tickets sort by time), carried by the order message and stored unique on the
/// order, so a redelivered message can never make a second order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ticket(uuid::Uuid);

impl Ticket {
    /// A new ticket for a reservation made at `now`: a UUIDv7 — the millisecond first, so
    /// tickets written together sit together in the ticket index, then 74 random bits from the
    /// thread's CSPRNG (`rand`'s ChaCha, seeded by the OS), so a ticket cannot be guessed. Not
    /// `Uuid::new_v7`: it asks the kernel for randomness on every call, a system call per order.
    pub fn new(now: jiff::Timestamp) -> Self {
        let millis = u64::try_from(now.as_millisecond()).unwrap_or(0);
        let random: [u8; 10] = rand::random();
        Ticket(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    /// The UUID, for storing.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }

    /// Wraps a stored UUID.
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Ticket(id)
    }
}

impl FromStr for Ticket {
    type Err = BadId;
    fn from_str(s: &str) -> Result<Self, BadId> {
        uuid::Uuid::parse_str(s).map(Ticket).map_err(|_| BadId)
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_positive() {
        assert_eq!(UserId::try_from(0), Err(BadId));
        assert_eq!(UserId::try_from(-3), Err(BadId));
        assert_eq!(UserId::try_from(7).map(UserId::get), Ok(7));
        assert_eq!("12".parse::<SkuId>().map(SkuId::get), Ok(12));
        assert!("x".parse::<SkuId>().is_err());
        assert!("-1".parse::<SkuId>().is_err());
    }

    #[test]
    fn tickets_round_trip_and_sort_by_time() {
        let a = Ticket::new(jiff::Timestamp::from_second(1_700_000_000).unwrap_or_default());
        let b = Ticket::new(jiff::Timestamp::from_second(1_700_000_001).unwrap_or_default());
        assert!(a < b);
        assert_eq!(a.to_string().parse::<Ticket>(), Ok(a));
        assert!("not-a-ticket".parse::<Ticket>().is_err());
    }

    #[test]
    fn tickets_of_one_millisecond_are_version_7_and_differ() {
        let now = jiff::Timestamp::from_millisecond(1_700_000_000_123).unwrap_or_default();
        let tickets: std::collections::HashSet<Ticket> = (0..1000).map(|_| Ticket::new(now)).collect();
        assert_eq!(tickets.len(), 1000);
        for t in &tickets {
            assert_eq!(t.as_uuid().get_version_num(), 7);
            assert_eq!(t.as_uuid().get_timestamp().map(|ts| ts.to_unix()), Some((1_700_000_000, 123_000_000)));
        }
    }
}
