//! Orders on SQLite: the group-commit batch write, reads by id and ticket, reservations, and
//! the records' view of an activity that the hot state is rebuilt from.
//!
//! [`Orders::write_orders`] (the group commit) is the one place orders are born; it runs on
//! the order batch connection (`batch.rs`): in one `BEGIN IMMEDIATE` transaction it resolves
//! every draft's address (it must be the user's own, and is copied into the order), raises
//! `activity_skus.sold` once per SKU — guarded by `sold + n <= stock`, with the schema's
//! `CHECK (sold <= stock)` behind it — and inserts the orders. One commit, one fsync, for the
//! whole batch.

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

use super::SqliteRecords;
use super::error::{DbResult, corrupt};
use super::rows::{RowResult, count, id, id_list, millis, timestamp};

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
    pub ticket: String,
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
            ticket: self.ticket.parse::<Ticket>().map_err(|_| bad("ticket"))?,
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
    ticket: String,
    sku_id: i64,
    user_id: i64,
    quantity: i64,
    idempotency_key: Option<String>,
}

impl SqliteRecords {
    async fn hot_activity_inner(&self, activity: ActivityId) -> DbResult<HotActivity> {
        // One read transaction: one consistent snapshot of the activity and its orders.
        let mut tx = self.read().await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM activities WHERE id = ?")
            .bind(activity.get())
            .fetch_one(&mut *tx)
            .await?;
        let skus: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT sku_id, stock, sold FROM activity_skus WHERE activity_id = ? ORDER BY position")
                .bind(activity.get())
                .fetch_all(&mut *tx)
                .await?;
        let holdings: Vec<HoldingRow> = sqlx::query_as(
            "SELECT ticket, sku_id, user_id, quantity, idempotency_key FROM orders
             WHERE activity_id = ? AND status <> 'cancelled'",
        )
        .bind(activity.get())
        .fetch_all(&mut *tx)
        .await?;
        // A cancelled order's key still answers with it: forgetting it here would let a retry
        // hold new stock under a key the records already hold, which no insert can store.
        let cancelled_keys: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT ticket, user_id, idempotency_key FROM orders
             WHERE activity_id = ? AND status = 'cancelled' AND idempotency_key IS NOT NULL",
        )
        .bind(activity.get())
        .fetch_all(&mut *tx)
        .await?;
        let reserved: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM reservations WHERE activity_id = ?")
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
                        ticket: h.ticket.parse::<Ticket>().map_err(|_| corrupt("order ticket"))?,
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
                    Ok(HotKey {
                        ticket: ticket.parse::<Ticket>().map_err(|_| corrupt("order ticket"))?,
                        user_id: id(user)?,
                        idempotency_key: key,
                    })
                })
                .collect::<DbResult<_>>()?,
            reserved: reserved.into_iter().map(id::<UserId>).collect::<RowResult<_>>()?,
        })
    }

    async fn add_reservation_inner(&self, activity: ActivityId, user: UserId, now: Timestamp) -> DbResult<bool> {
        let mut tx = self.write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT id FROM activities WHERE id = ?")
            .bind(activity.get())
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound.into());
        }
        let done = sqlx::query(
            "INSERT INTO reservations (activity_id, user_id, created_at) VALUES (?, ?, ?)
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
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE skus SET seckill = (id IN (SELECT value FROM json_each(?1)))
             WHERE seckill <> (id IN (SELECT value FROM json_each(?1)))",
        )
        .bind(id_list(tagged.iter().map(|s| s.get())))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn order_inner(&self, id: OrderId) -> DbResult<Order> {
        let row: OrderRow = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?"))
            .bind(id.get())
            .fetch_one(&mut *self.reader_conn().await?)
            .await?;
        row.into_order()
    }

    async fn order_by_ticket_inner(&self, ticket: Ticket) -> DbResult<Option<Order>> {
        let row: Option<OrderRow> =
            sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE ticket = ?"))
                .bind(ticket.to_string())
                .fetch_optional(&mut *self.reader_conn().await?)
                .await?;
        row.map(OrderRow::into_order).transpose()
    }
}

#[async_trait]
impl Orders for SqliteRecords {
    async fn write_orders(&self, drafts: &[OrderDraft]) -> Result<Vec<Result<Order, Rejection>>, StoreError> {
        Ok(self.batch.write(drafts).await?)
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
