//! Payments on SQLite: attempts for pending orders, and the gateway's notifications applied
//! exactly once.
//!
//! A notification is applied in one `BEGIN IMMEDIATE` transaction: a replay (the payment is no
//! longer open) changes nothing; a success pays the order only `WHERE status =
//! 'pending_payment'` — if a timeout or a shopper cancelled it first, the payment is marked
//! `refund_needed` and the order stays cancelled, never resurrected.

use seckill_domain::Timestamp;
use seckill_domain::ids::{OrderId, PaymentId, UserId};
use seckill_domain::money::Money;
use seckill_domain::order::OrderStatus;
use seckill_domain::payment::{Payment, PaymentOutcome, PaymentStatus};
use seckill_store::orders::{NoticeEffect, NoticeOutcome, PaymentNotice};
use seckill_store::{Conflict, StoreError};
use sqlx::SqliteConnection;

use super::SqliteRecords;
use super::error::{DbResult, corrupt, invalid};
use super::orders::{OrderRow, order_columns};
use super::rows::{id, millis, timestamp};

/// A row of `payments`.
#[derive(Debug, sqlx::FromRow)]
struct PaymentRow {
    id: i64,
    order_id: i64,
    amount_cents: i64,
    status: String,
    provider: String,
    provider_ref: Option<String>,
    created_at: i64,
    updated_at: i64,
    notified_at: Option<i64>,
}

impl PaymentRow {
    fn into_payment(self) -> DbResult<Payment> {
        Ok(Payment {
            id: id::<PaymentId>(self.id)?,
            order_id: id::<OrderId>(self.order_id)?,
            amount: Money::from_cents(self.amount_cents),
            status: self.status.parse().map_err(|_| corrupt(format!("payment {} status", self.id)))?,
            provider: self.provider,
            provider_ref: self.provider_ref,
            created_at: timestamp(self.created_at)?,
            updated_at: timestamp(self.updated_at)?,
            notified_at: self.notified_at.map(timestamp).transpose()?,
        })
    }
}

const PAYMENT_COLUMNS: &str =
    "id, order_id, amount_cents, status, provider, provider_ref, created_at, updated_at, notified_at";

async fn payment_in(conn: &mut SqliteConnection, id: PaymentId) -> DbResult<Payment> {
    let row: Option<PaymentRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = ?")))
            .bind(id.get())
            .fetch_optional(&mut *conn)
            .await?;
    row.ok_or(StoreError::NotFound)?.into_payment()
}

async fn order_in(conn: &mut SqliteConnection, id: OrderId) -> DbResult<seckill_domain::order::Order> {
    let row: Option<OrderRow> = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?"))
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or(StoreError::NotFound)?.into_order()
}

impl SqliteRecords {
    pub(crate) async fn create_payment_inner(
        &self,
        order_id: OrderId,
        owner: UserId,
        provider: &str,
        now: Timestamp,
    ) -> DbResult<Payment> {
        let mut tx = self.write().await?;
        let order = order_in(&mut tx, order_id).await?;
        if order.user_id != owner {
            return Err(StoreError::NotFound.into());
        }
        if order.status != OrderStatus::PendingPayment || now >= order.pay_deadline {
            return Err(Conflict::BadOrderState { status: order.status }.into());
        }
        // One open attempt per order and gateway: asking again answers the same payment.
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM payments WHERE order_id = ? AND provider = ? AND status = 'created' ORDER BY id LIMIT 1",
        )
        .bind(order_id.get())
        .bind(provider)
        .fetch_optional(&mut *tx)
        .await?;
        let payment_id = match open {
            Some(existing) => existing,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO payments (order_id, amount_cents, status, provider, created_at, updated_at)
                     VALUES (?, ?, 'created', ?, ?, ?) RETURNING id",
                )
                .bind(order_id.get())
                .bind(order.amount.cents())
                .bind(provider)
                .bind(millis(now))
                .bind(millis(now))
                .fetch_one(&mut *tx)
                .await?
            }
        };
        let payment = payment_in(&mut tx, id(payment_id)?).await?;
        tx.commit().await?;
        Ok(payment)
    }

    pub(crate) async fn payment_inner(&self, id: PaymentId) -> DbResult<Payment> {
        let mut tx = self.read().await?;
        let payment = payment_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(payment)
    }

    pub(crate) async fn record_payment_notice_inner(
        &self,
        notice: &PaymentNotice,
        now: Timestamp,
    ) -> DbResult<NoticeOutcome> {
        let mut tx = self.write().await?;
        let payment = payment_in(&mut tx, notice.payment_id).await?;
        if payment.order_id != notice.order_id {
            return Err(invalid("order_id", "does not match the payment"));
        }
        if payment.amount != notice.amount {
            return Err(invalid("amount_cents", "does not match the payment"));
        }
        if !payment.status.is_open() {
            let order = order_in(&mut tx, payment.order_id).await?;
            tx.commit().await?;
            return Ok(NoticeOutcome { effect: NoticeEffect::Replayed, payment, order });
        }
        let effect = match notice.outcome {
            PaymentOutcome::Failed => NoticeEffect::Failed,
            PaymentOutcome::Succeeded => {
                let paid = sqlx::query(
                    "UPDATE orders SET status = 'paid', paid_at = ?, updated_at = ?
                     WHERE id = ? AND status = 'pending_payment'",
                )
                .bind(millis(now))
                .bind(millis(now))
                .bind(payment.order_id.get())
                .execute(&mut *tx)
                .await?;
                if paid.rows_affected() == 1 { NoticeEffect::Paid } else { NoticeEffect::RefundNeeded }
            }
        };
        let status = match effect {
            NoticeEffect::Paid => PaymentStatus::Succeeded,
            NoticeEffect::Failed => PaymentStatus::Failed,
            NoticeEffect::RefundNeeded | NoticeEffect::Replayed => PaymentStatus::RefundNeeded,
        };
        sqlx::query("UPDATE payments SET status = ?, provider_ref = ?, notified_at = ?, updated_at = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(&notice.provider_ref)
            .bind(millis(now))
            .bind(millis(now))
            .bind(payment.id.get())
            .execute(&mut *tx)
            .await?;
        let payment = payment_in(&mut tx, payment.id).await?;
        let order = order_in(&mut tx, payment.order_id).await?;
        tx.commit().await?;
        Ok(NoticeOutcome { effect, payment, order })
    }
}
