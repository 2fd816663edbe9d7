//! The ports of seckill: what the server asks of a backend, in domain words.
//!
//! - [`error`]: [`StoreError`] — infrastructure failure and the conflicts a store detects
//!   inside its transactions (a business "no" on the hot path is a
//!   [`Rejection`](seckill_domain::rejection::Rejection) instead, never merged with this).
//! - [`page`]: paging of long lists.
//! - [`ports`]: the records' traits — [`Accounts`], [`Catalog`], [`Health`] — and
//!   [`Records`], the bundle a backend hands to the server.
//! - [`orders`]: [`Orders`](orders::Orders), the records' side of selling.
//! - [`search`]: [`SearchQuery`], a shopper's search parsed into plain terms, and the
//!   [`SearchHit`]s [`Catalog::search`] answers with.
//! - [`rush`]: the hot path's ports — [`StockGate`](rush::StockGate), the atomic reservation
//!   in the hot state, and [`OrderQueue`](rush::OrderQueue), the hand-off to durable orders.
//! - `conformance` (feature `conformance`): the behavioural suite every backend must pass,
//!   instantiated by `conformance_tests!`.
//!
//! This crate depends on the domain only: no SQL, no driver, no HTTP. Every backend (SQLite in
//! `seckill-embedded`, PostgreSQL and Redis in `seckill-cluster`) implements these traits and
//! passes the same suite; the server never knows which one it talks to.

pub mod error;
pub mod orders;
pub mod page;
pub mod ports;
pub mod rush;
pub mod search;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{Conflict, StoreError};
pub use page::{Page, Paged};
pub use ports::{Accounts, ActivityQuery, Catalog, Credentials, Health, OrderCounts, Records};
pub use search::{SearchHit, SearchQuery};
