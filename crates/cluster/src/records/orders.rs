//! Orders on PostgreSQL: the group-commit batch write, reads by id and ticket, reservations,
//! and the records' view of an activity that the hot state is rebuilt from.
//!
//! [`Orders::write_orders`] is the one place orders are born. In one transaction, with a fixed
//! number of statements whatever the batch size, it:
//! 1. answers drafts whose ticket is already written with that order (a redelivered message of
//!    the order stream writes nothing twice);
//! 2. resolves every draft's address (a live one of the draft's own user, copied into the
//!    order);
//! 3. raises `activity_skus.sold` once per SKU — the rows locked in key order first, so two
//!    writers never deadlock, then one `UPDATE … FROM UNNEST(…)` guarded by `sold + n <=
//!    stock`, with the schema's `CHECK (sold <= stock)` behind it;
//! 4. inserts every order with one `INSERT … SELECT … FROM UNNEST(…)` of column arrays.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::ids::{ActivityId, OrderId, PaymentId, SkuId, Ticket, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::{CancelReason, Order, OrderStatus, PayType};
use seckill_domain::payment::Payment;
use seckill_domain::rejection::Rejection;
use seckill_domain::user::AddressSnapshot;
use seckill_store::orders::{NoticeOutcome, OrderFilter, Orders, PaymentNotice, PendingReturn};
use seckill_store::rush::{HotActivity, HotHolding, HotKey, HotSku, OrderDraft};
use seckill_store::{Page, Paged, StoreError};
use sqlx::types::Uuid;

use super::PgRecords;
use super::error::{DbResult, corrupt};
use super::rows::{AddressRow, RowResult, count, id, millis, timestamp};

/// The columns every order read selects, in [`OrderRow`]'s order (a macro, so queries stay
/// `&'static str` through `concat!`).
macro_rules! order_columns {
    () => {
        "id, ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, status, pay_type, \
         address_contact, address_phone, address_text, created_at, pay_deadline, paid_at, shipped_at, closed_at, \
         cancel_reason, carrier, tracking_no"
    };
}
pub(crate) use order_columns;

/// A row of `orders`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OrderRow {
    pub id: i64,
    pub ticket: Uuid,
    pub activity_id: i64,
    pub sku_id: i64,
    pub user_id: i64,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
    pub status: String,
    pub pay_type: String,
    pub address_contact: String,
    pub address_phone: String,
    pub address_text: String,
    pub created_at: i64,
    pub pay_deadline: i64,
    pub paid_at: Option<i64>,
    pub shipped_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub cancel_reason: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
}

impl OrderRow {
    pub fn into_order(self) -> DbResult<Order> {
        let bad = |what: &str| corrupt(format!("order {} {what}", self.id));
        let optional_time = |t: Option<i64>| t.map(timestamp).transpose();
        Ok(Order {
            id: id::<OrderId>(self.id)?,
            ticket: Ticket::from_uuid(self.ticket),
            activity_id: id(self.activity_id)?,
            sku_id: id(self.sku_id)?,
            user_id: id(self.user_id)?,
            quantity: count(self.quantity)?,
            unit_price: Money::from_cents(self.unit_price_cents),
            amount: Money::from_cents(self.amount_cents),
            status: self.status.parse::<OrderStatus>().map_err(|_| bad("status"))?,
            pay_type: self.pay_type.parse::<PayType>().map_err(|_| bad("pay_type"))?,
            address: AddressSnapshot {
                contact: self.address_contact.clone(),
                phone: self.address_phone.clone(),
                text: self.address_text.clone(),
            },
            created_at: timestamp(self.created_at)?,
            pay_deadline: timestamp(self.pay_deadline)?,
            paid_at: optional_time(self.paid_at)?,
            shipped_at: optional_time(self.shipped_at)?,
            closed_at: optional_time(self.closed_at)?,
            cancel_reason: self
                .cancel_reason
                .as_deref()
                .map(|r| r.parse::<CancelReason>().map_err(|_| bad("cancel_reason")))
                .transpose()?,
            carrier: self.carrier.clone(),
            tracking_no: self.tracking_no.clone(),
        })
    }
}

/// One holding row, for the hot state's rebuild.
#[derive(Debug, sqlx::FromRow)]
struct HoldingRow {
    ticket: Uuid,
    sku_id: i64,
    user_id: i64,
    quantity: i64,
    idempotency_key: Option<String>,
}

/// The orders of one batch as column arrays, for `INSERT … SELECT … FROM UNNEST(…)`.
#[derive(Debug, Default)]
struct OrderColumns {
    ticket: Vec<Uuid>,
    activity_id: Vec<i64>,
    sku_id: Vec<i64>,
    user_id: Vec<i64>,
    quantity: Vec<i64>,
    unit_price_cents: Vec<i64>,
    amount_cents: Vec<i64>,
    idempotency_key: Vec<Option<String>>,
    pay_type: Vec<&'static str>,
    address_contact: Vec<String>,
    address_phone: Vec<String>,
    address_text: Vec<String>,
    created_at: Vec<i64>,
    pay_deadline: Vec<i64>,
}

impl OrderColumns {
    fn push(&mut self, d: &OrderDraft, address: &AddressSnapshot) -> DbResult<()> {
        let amount = d.unit_price.times(d.quantity).map_err(|_| corrupt("order amount overflows"))?;
        self.ticket.push(*d.ticket.as_uuid());
        self.activity_id.push(d.activity_id.get());
        self.sku_id.push(d.sku_id.get());
        self.user_id.push(d.user_id.get());
        self.quantity.push(i64::from(d.quantity));
        self.unit_price_cents.push(d.unit_price.cents());
        self.amount_cents.push(amount.cents());
        self.idempotency_key.push(d.idempotency_key.clone());
        self.pay_type.push(d.pay_type.as_str());
        self.address_contact.push(address.contact.clone());
        self.address_phone.push(address.phone.clone());
        self.address_text.push(address.text.clone());
        self.created_at.push(millis(d.created_at));
        self.pay_deadline.push(millis(d.pay_deadline));
        Ok(())
    }
}

impl PgRecords {
    async fn write_orders_inner(&self, drafts: &[OrderDraft]) -> DbResult<Vec<Result<Order, Rejection>>> {
        let mut answers: Vec<Option<Result<Order, Rejection>>> = vec![None; drafts.len()];
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;

        // 1. Tickets already written: their orders, as they are now.
        let tickets: Vec<Uuid> = drafts.iter().map(|d| *d.ticket.as_uuid()).collect();
        let written: Vec<OrderRow> =
            sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE ticket = ANY($1)"))
                .bind(&tickets)
                .fetch_all(&mut *tx)
                .await?;
        if !written.is_empty() {
            let mut by_ticket: HashMap<Uuid, Order> = HashMap::new();
            for row in written {
                by_ticket.insert(row.ticket, row.into_order()?);
            }
            for (i, d) in drafts.iter().enumerate() {
                if let Some(order) = by_ticket.get(d.ticket.as_uuid()) {
                    answers[i] = Some(Ok(order.clone()));
                }
            }
        }

        // 2. Addresses: each must be a live address of the draft's own user.
        let address_ids: Vec<i64> = drafts.iter().map(|d| d.address_id.get()).collect();
        let addresses: Vec<AddressRow> = sqlx::query_as(
            "SELECT id, user_id, contact, phone, province, city, district, detail, is_default FROM addresses
             WHERE NOT deleted AND id = ANY($1)",
        )
        .bind(&address_ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut snapshots: HashMap<(i64, i64), AddressSnapshot> = HashMap::new();
        for row in addresses {
            let a = row.into_address()?;
            snapshots.insert((a.id.get(), a.user_id.get()), a.snapshot());
        }
        for (i, d) in drafts.iter().enumerate() {
            if answers[i].is_none() && !snapshots.contains_key(&(d.address_id.get(), d.user_id.get())) {
                answers[i] = Some(Err(Rejection::UnknownAddress));
            }
        }

        // 3. `sold` once per SKU, never past `stock`.
        let mut per_sku: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for (i, d) in drafts.iter().enumerate() {
            if answers[i].is_none() {
                *per_sku.entry((d.activity_id.get(), d.sku_id.get())).or_default() += i64::from(d.quantity);
            }
        }
        if !per_sku.is_empty() {
            let activities: Vec<i64> = per_sku.keys().map(|(a, _)| *a).collect();
            let skus: Vec<i64> = per_sku.keys().map(|(_, s)| *s).collect();
            let units: Vec<i64> = per_sku.values().copied().collect();
            // In key order: concurrent writers (the stream consumers of other instances) take
            // the same rows in the same order, so they queue instead of deadlocking. One row
            // (the usual batch: one hot SKU) has no order to keep; the UPDATE locks it.
            if per_sku.len() > 1 {
                sqlx::query(
                    "SELECT 1 FROM activity_skus s JOIN UNNEST($1::bigint[], $2::bigint[]) AS v(activity_id, sku_id)
                     ON s.activity_id = v.activity_id AND s.sku_id = v.sku_id
                 ORDER BY s.activity_id, s.sku_id FOR UPDATE OF s",
                )
                .bind(&activities)
                .bind(&skus)
                .execute(&mut *tx)
                .await?;
            }
            let raised: Vec<(i64, i64)> = sqlx::query_as(
                "UPDATE activity_skus s SET sold = s.sold + v.units
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS v(activity_id, sku_id, units)
                 WHERE s.activity_id = v.activity_id AND s.sku_id = v.sku_id AND s.sold + v.units <= s.stock
                 RETURNING s.activity_id, s.sku_id",
            )
            .bind(&activities)
            .bind(&skus)
            .bind(&units)
            .fetch_all(&mut *tx)
            .await?;
            let raised: HashSet<(i64, i64)> = raised.into_iter().collect();
            for (i, d) in drafts.iter().enumerate() {
                if answers[i].is_none() && !raised.contains(&(d.activity_id.get(), d.sku_id.get())) {
                    answers[i] = Some(Err(Rejection::SoldOut));
                }
            }
        }

        // 4. The orders, all in one statement.
        let to_insert: Vec<usize> = (0..drafts.len()).filter(|i| answers[*i].is_none()).collect();
        if !to_insert.is_empty() {
            let mut columns = OrderColumns::default();
            for &i in &to_insert {
                let d = &drafts[i];
                let address =
                    snapshots.get(&(d.address_id.get(), d.user_id.get())).ok_or_else(|| corrupt("address"))?;
                columns.push(d, address)?;
            }
            // Only the ids come back: the order is the draft plus its address and id (decoding
            // every column of every new row cost more than the insert).
            let rows: Vec<(Uuid, i64)> = sqlx::query_as(
                "INSERT INTO orders (ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, \
                 idempotency_key, status, pay_type, address_contact, address_phone, address_text, created_at, \
                 pay_deadline, updated_at)
                 SELECT ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, \
                 idempotency_key, 'pending_payment', pay_type, address_contact, address_phone, address_text, \
                 created_at, pay_deadline, created_at
                 FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], \
                 $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], \
                 $14::bigint[]) AS o(ticket, activity_id, sku_id, user_id, quantity, unit_price_cents, amount_cents, \
                 idempotency_key, pay_type, address_contact, address_phone, address_text, created_at, pay_deadline)
                 RETURNING ticket, id",
            )
            .bind(&columns.ticket)
            .bind(&columns.activity_id)
            .bind(&columns.sku_id)
            .bind(&columns.user_id)
            .bind(&columns.quantity)
            .bind(&columns.unit_price_cents)
            .bind(&columns.amount_cents)
            .bind(&columns.idempotency_key)
            .bind(&columns.pay_type)
            .bind(&columns.address_contact)
            .bind(&columns.address_phone)
            .bind(&columns.address_text)
            .bind(&columns.created_at)
            .bind(&columns.pay_deadline)
            .fetch_all(&mut *tx)
            .await?;
            let ids: HashMap<Uuid, i64> = rows.into_iter().collect();
            for &i in &to_insert {
                let d = &drafts[i];
                let id = ids.get(d.ticket.as_uuid()).ok_or_else(|| corrupt("inserted order"))?;
                let address =
                    snapshots.get(&(d.address_id.get(), d.user_id.get())).ok_or_else(|| corrupt("address"))?;
                let order = d
                    .pending_order(OrderId::from_raw(*id), address.clone())
                    .ok_or_else(|| corrupt("order amount or time out of range"))?;
                answers[i] = Some(Ok(order));
            }
        }
        tx.commit().await?;
        answers.into_iter().map(|a| a.ok_or_else(|| corrupt("unanswered draft"))).collect()
    }

    async fn hot_activity_inner(&self, activity: ActivityId) -> DbResult<HotActivity> {
        // One repeatable-read transaction: one consistent snapshot of the activity and its
        // orders, even while batches commit.
        let mut tx = self.read().await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM activities WHERE id = $1")
            .bind(activity.get())
            .fetch_one(&mut *tx)
            .await?;
        let skus: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT sku_id, stock, sold FROM activity_skus WHERE activity_id = $1 ORDER BY position")
                .bind(activity.get())
                .fetch_all(&mut *tx)
                .await?;
        let holdings: Vec<HoldingRow> = sqlx::query_as(
            "SELECT ticket, sku_id, user_id, quantity, idempotency_key FROM orders
             WHERE activity_id = $1 AND status <> 'cancelled'",
        )
        .bind(activity.get())
        .fetch_all(&mut *tx)
        .await?;
        // A cancelled order's key still answers with it: forgetting it here would let a retry
        // hold new stock under a key the records already hold, which no insert can store.
        let cancelled_keys: Vec<(Uuid, i64, String)> = sqlx::query_as(
            "SELECT ticket, user_id, idempotency_key FROM orders
             WHERE activity_id = $1 AND status = 'cancelled' AND idempotency_key IS NOT NULL",
        )
        .bind(activity.get())
        .fetch_all(&mut *tx)
        .await?;
        let reserved: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM reservations WHERE activity_id = $1")
            .bind(activity.get())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(HotActivity {
            activity_id: activity,
            version,
            skus: skus
                .into_iter()
                .map(|(sku, stock, sold)| {
                    Ok(HotSku { sku_id: id::<SkuId>(sku)?, stock: count(stock)?, sold: count(sold)? })
                })
                .collect::<DbResult<_>>()?,
            holdings: holdings
                .into_iter()
                .map(|h| {
                    Ok(HotHolding {
                        ticket: Ticket::from_uuid(h.ticket),
                        sku_id: id(h.sku_id)?,
                        user_id: id(h.user_id)?,
                        quantity: count(h.quantity)?,
                        idempotency_key: h.idempotency_key,
                    })
                })
                .collect::<DbResult<_>>()?,
            cancelled_keys: cancelled_keys
                .into_iter()
                .map(|(ticket, user, key)| {
                    Ok(HotKey { ticket: Ticket::from_uuid(ticket), user_id: id(user)?, idempotency_key: key })
                })
                .collect::<DbResult<_>>()?,
            reserved: reserved.into_iter().map(id::<UserId>).collect::<RowResult<_>>()?,
        })
    }

    async fn add_reservation_inner(&self, activity: ActivityId, user: UserId, now: Timestamp) -> DbResult<bool> {
        let mut tx = self.write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT id FROM activities WHERE id = $1")
            .bind(activity.get())
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound.into());
        }
        let done = sqlx::query(
            "INSERT INTO reservations (activity_id, user_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (activity_id, user_id) DO NOTHING",
        )
        .bind(activity.get())
        .bind(user.get())
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sync_seckill_tags_inner(&self, tagged: &[SkuId]) -> DbResult<()> {
        let tagged: Vec<i64> = tagged.iter().map(|s| s.get()).collect();
        sqlx::query("UPDATE skus SET seckill = (id = ANY($1)) WHERE seckill <> (id = ANY($1))")
            .bind(&tagged)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn order_inner(&self, id: OrderId) -> DbResult<Order> {
        let row: OrderRow = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
            .bind(id.get())
            .fetch_one(&self.pool)
            .await?;
        row.into_order()
    }

    async fn order_by_ticket_inner(&self, ticket: Ticket) -> DbResult<Option<Order>> {
        let row: Option<OrderRow> =
            sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE ticket = $1"))
                .bind(ticket.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        row.map(OrderRow::into_order).transpose()
    }
}

#[async_trait]
impl Orders for PgRecords {
    async fn write_orders(&self, drafts: &[OrderDraft]) -> Result<Vec<Result<Order, Rejection>>, StoreError> {
        Ok(self.write_orders_inner(drafts).await?)
    }

    async fn hot_activity(&self, activity: ActivityId) -> Result<HotActivity, StoreError> {
        Ok(self.hot_activity_inner(activity).await?)
    }

    async fn add_reservation(&self, activity: ActivityId, user: UserId, now: Timestamp) -> Result<bool, StoreError> {
        Ok(self.add_reservation_inner(activity, user, now).await?)
    }

    async fn sync_seckill_tags(&self, tagged: &[SkuId]) -> Result<(), StoreError> {
        Ok(self.sync_seckill_tags_inner(tagged).await?)
    }

    async fn order(&self, id: OrderId) -> Result<Order, StoreError> {
        Ok(self.order_inner(id).await?)
    }

    async fn order_by_ticket(&self, ticket: Ticket) -> Result<Option<Order>, StoreError> {
        Ok(self.order_by_ticket_inner(ticket).await?)
    }

    async fn orders_of_user(&self, user: UserId, page: Page) -> Result<Paged<Order>, StoreError> {
        Ok(self.orders_of_user_inner(user, page).await?)
    }

    async fn find_orders(&self, filter: &OrderFilter, page: Page) -> Result<Paged<Order>, StoreError> {
        Ok(self.find_orders_inner(filter, page).await?)
    }

    async fn cancel_order(
        &self,
        id: OrderId,
        reason: CancelReason,
        owner: Option<UserId>,
        now: Timestamp,
    ) -> Result<Order, StoreError> {
        Ok(self.cancel_order_inner(id, reason, owner, now).await?)
    }

    async fn ship_order(
        &self,
        id: OrderId,
        carrier: &str,
        tracking_no: &str,
        now: Timestamp,
    ) -> Result<Order, StoreError> {
        Ok(self.ship_order_inner(id, carrier, tracking_no, now).await?)
    }

    async fn complete_order(&self, id: OrderId, owner: Option<UserId>, now: Timestamp) -> Result<Order, StoreError> {
        Ok(self.complete_order_inner(id, owner, now).await?)
    }

    async fn overdue_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        Ok(self.overdue_orders_inner(now, limit).await?)
    }

    async fn next_deadline(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.next_deadline_inner().await?)
    }

    async fn pending_returns(&self, limit: u32) -> Result<Vec<PendingReturn>, StoreError> {
        Ok(self.pending_returns_inner(limit).await?)
    }

    async fn mark_returns_applied(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
        Ok(self.mark_returns_applied_inner(ids, now).await?)
    }

    async fn create_payment(
        &self,
        order: OrderId,
        owner: UserId,
        provider: &str,
        now: Timestamp,
    ) -> Result<Payment, StoreError> {
        Ok(self.create_payment_inner(order, owner, provider, now).await?)
    }

    async fn payment(&self, id: PaymentId) -> Result<Payment, StoreError> {
        Ok(self.payment_inner(id).await?)
    }

    async fn record_payment_notice(&self, notice: &PaymentNotice, now: Timestamp) -> Result<NoticeOutcome, StoreError> {
        Ok(self.record_payment_notice_inner(notice, now).await?)
    }
}
