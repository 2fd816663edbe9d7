//! The order message: an [`OrderDraft`] as it travels in a stream entry (field `d`, JSON), and
//! the records' view of an activity as the load script reads it.
//!
//! Ids travel as strings so Lua never turns a large one into a float.

use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, AddressId, SkuId, Ticket, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::PayType;
use seckill_store::rush::{HotActivity, OrderDraft};
use serde::{Deserialize, Serialize};

/// An order draft on the wire. Every field is required: a message that lacks one is not ours.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireDraft {
    pub ticket: String,
    pub activity: i64,
    pub sku: i64,
    pub user: i64,
    pub quantity: u32,
    pub unit_price_cents: i64,
    pub address: i64,
    pub pay_type: String,
    pub key: Option<String>,
    pub created_ms: i64,
    pub deadline_ms: i64,
}

impl From<&OrderDraft> for WireDraft {
    fn from(d: &OrderDraft) -> Self {
        WireDraft {
            ticket: d.ticket.to_string(),
            activity: d.activity_id.get(),
            sku: d.sku_id.get(),
            user: d.user_id.get(),
            quantity: d.quantity,
            unit_price_cents: d.unit_price.cents(),
            address: d.address_id.get(),
            pay_type: d.pay_type.as_str().to_owned(),
            key: d.idempotency_key.clone(),
            created_ms: d.created_at.as_millisecond(),
            deadline_ms: d.pay_deadline.as_millisecond(),
        }
    }
}

impl WireDraft {
    /// The draft, or why the message is not one.
    pub fn into_draft(self) -> Result<OrderDraft, String> {
        let time = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| format!("bad time {ms}: {e}"));
        Ok(OrderDraft {
            ticket: self.ticket.parse::<Ticket>().map_err(|_| format!("bad ticket {:?}", self.ticket))?,
            activity_id: ActivityId::from_raw(self.activity),
            sku_id: SkuId::from_raw(self.sku),
            user_id: UserId::from_raw(self.user),
            quantity: self.quantity,
            unit_price: Money::from_cents(self.unit_price_cents),
            address_id: AddressId::from_raw(self.address),
            pay_type: self.pay_type.parse::<PayType>().map_err(|_| format!("bad pay type {:?}", self.pay_type))?,
            idempotency_key: self.key,
            created_at: time(self.created_ms)?,
            pay_deadline: time(self.deadline_ms)?,
        })
    }

    /// The message of `draft`.
    pub fn encode(draft: &OrderDraft) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(&WireDraft::from(draft)).unwrap_or_default()
    }

    /// The draft in a message.
    pub fn decode(message: &str) -> Result<OrderDraft, String> {
        serde_json::from_str::<WireDraft>(message).map_err(|e| format!("not an order message: {e}"))?.into_draft()
    }
}

/// The argument of the load script (see [`LOAD`](super::scripts::LOAD)).
pub fn load_argument(hot: &HotActivity) -> String {
    let skus: Vec<(String, u32, u32)> =
        hot.skus.iter().map(|s| (s.sku_id.get().to_string(), s.stock, s.sold)).collect();
    let holdings: Vec<(String, String, String, u32, String)> = hot
        .holdings
        .iter()
        .map(|h| {
            (
                h.ticket.to_string(),
                h.sku_id.get().to_string(),
                h.user_id.get().to_string(),
                h.quantity,
                h.idempotency_key.clone().unwrap_or_default(),
            )
        })
        .collect();
    let keys: Vec<(String, String, String)> = hot
        .cancelled_keys
        .iter()
        .map(|k| (k.ticket.to_string(), k.user_id.get().to_string(), k.idempotency_key.clone()))
        .collect();
    let reserved: Vec<String> = hot.reserved.iter().map(|u| u.get().to_string()).collect();
    serde_json::json!({
        "v": hot.version,
        "skus": skus,
        "holdings": holdings,
        "keys": keys,
        "reserved": reserved,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_survives_the_wire_and_garbage_is_refused() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let d = OrderDraft {
            ticket: Ticket::new(now),
            activity_id: ActivityId::from_raw(7),
            sku_id: SkuId::from_raw(12),
            user_id: UserId::from_raw(99),
            quantity: 2,
            unit_price: Money::from_cents(599_900),
            address_id: AddressId::from_raw(3),
            pay_type: PayType::Online,
            idempotency_key: Some("k-1".into()),
            created_at: now,
            pay_deadline: Timestamp::from_second(1_800_000_900).unwrap(),
        };
        assert_eq!(WireDraft::decode(&WireDraft::encode(&d)), Ok(d));
        assert!(WireDraft::decode("{}").is_err());
        assert!(WireDraft::decode("not json").is_err());
    }
}
