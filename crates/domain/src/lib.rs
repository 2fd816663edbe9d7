//! The words and rules of seckill, with no I/O: every other crate speaks these types.
//!
//! - [`ids`]: typed ids (`UserId`, `ActivityId`, …) and the order [`Ticket`](ids::Ticket).
//! - [`money`]: [`Money`](money::Money) in integer cents.
//! - [`clock`]: the injectable [`Clock`](clock::Clock) every time-dependent part asks.
//! - [`slot`]: daily time slots (场次) as local wall-clock spans, and their overlap rule.
//! - [`window`]: the one place that decides an activity's state at an instant, across days,
//!   slots and a time zone (`state_at`, `next_transition`).
//! - [`catalog`]: brands, categories, products (SPU) and their SKUs.
//! - [`activity`]: seckill activities (秒杀活动), their purchase rules (限购) and validation.
//! - [`user`]: shoppers, operators, addresses, credentials policy.
//! - [`order`]: the order state machine and its reasons.
//! - [`payment`]: payment attempts and what a gateway notification means.
//! - [`rejection`]: the business "no" of the hot path, a small `Copy` value.
//! - [`token`]: HMAC-signed stateless tokens (shopper, admin, purchase).
//! - [`validation`]: field errors for `422 VALIDATION_FAILED`.
//!
//! This crate must not depend on any store, server, runtime or network crate.

pub mod activity;
pub mod catalog;
pub mod clock;
pub mod ids;
pub mod money;
pub mod order;
pub mod payment;
pub mod rejection;
pub mod slot;
pub mod token;
pub mod user;
pub mod validation;
pub mod window;

pub use jiff::Timestamp;
pub use jiff::tz::TimeZone;
