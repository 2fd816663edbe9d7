//! Orders after the rush, on PostgreSQL: the state machine's moves as conditional updates, the
//! timeout sweep's queries, lists, and the stock-return outbox.
//!
//! Every move locks the order's row (`SELECT … FOR UPDATE`), decides from the status it then
//! reads, and updates `WHERE status = <that status>`, so of two racing moves (a payment and a
//! timeout, say) exactly one wins and the other sees the winner's status. A cancellation gives
//! its units back to `activity_skus.sold` and writes one `stock_returns` row (unique per order)
//! in the same transaction: the hot state takes the units from that outbox afterwards, exactly
//! once, even across a crash in between.

use seckill_domain::Timestamp;
use seckill_domain::ids::{OrderId, Ticket, UserId};
use seckill_domain::order::{CancelReason, Order, OrderMove, OrderStatus};
use seckill_store::orders::{OrderFilter, PendingReturn};
use seckill_store::rush::StockReturn;
use seckill_store::{Conflict, Page, Paged, StoreError};
use sqlx::types::Uuid;
use sqlx::{Postgres, Transaction};

use super::PgRecords;
use super::error::DbResult;
use super::orders::{OrderRow, order_columns};
use super::rows::{RowResult, count, id, millis, order_search, paged, timestamp};

/// The order `id`, its row locked until `tx` ends; `NotFound` if absent or (with `owner`) not
/// that user's.
async fn locked_order(tx: &mut Transaction<'static, Postgres>, id: OrderId, owner: Option<UserId>) -> DbResult<Order> {
    let row: Option<OrderRow> =
        sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 FOR UPDATE"))
            .bind(id.get())
            .fetch_optional(&mut **tx)
            .await?;
    let order = row.ok_or(StoreError::NotFound)?.into_order()?;
    if owner.is_some_and(|u| u != order.user_id) {
        return Err(StoreError::NotFound.into());
    }
    Ok(order)
}

/// The status `mv` moves `order` to, or `BadOrderState`.
fn target(order: &Order, mv: OrderMove) -> DbResult<OrderStatus> {
    mv.from_to(order.status).ok_or_else(|| Conflict::BadOrderState { status: order.status }.into())
}

/// The order after a conditional update's `RETURNING`, or `BadOrderState` if the update found
/// the order no longer in the status it was read in (only possible without the row lock, kept
/// as the second line of defence).
fn moved(row: Option<OrderRow>, read: &Order) -> DbResult<Order> {
    row.ok_or(Conflict::BadOrderState { status: read.status })?.into_order()
}

impl PgRecords {
    pub(crate) async fn cancel_order_inner(
        &self,
        id: OrderId,
        reason: CancelReason,
        owner: Option<UserId>,
        now: Timestamp,
    ) -> DbResult<Order> {
        let mut tx = self.write().await?;
        let order = locked_order(&mut tx, id, owner).await?;
        target(&order, OrderMove::Cancel(reason))?;
        let row: Option<OrderRow> = sqlx::query_as(concat!(
            "UPDATE orders SET status = 'cancelled', cancel_reason = $1, closed_at = $2, updated_at = $2
             WHERE id = $3 AND status = $4 RETURNING ",
            order_columns!()
        ))
        .bind(reason.as_str())
        .bind(millis(now))
        .bind(id.get())
        .bind(order.status.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let cancelled = moved(row, &order)?;
        sqlx::query("UPDATE activity_skus SET sold = sold - $1 WHERE activity_id = $2 AND sku_id = $3")
            .bind(i64::from(order.quantity))
            .bind(order.activity_id.get())
            .bind(order.sku_id.get())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO stock_returns (order_id, activity_id, sku_id, user_id, quantity, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.get())
        .bind(order.activity_id.get())
        .bind(order.sku_id.get())
        .bind(order.user_id.get())
        .bind(i64::from(order.quantity))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        if order.status == OrderStatus::Paid {
            // The money goes back: a paid order cancelled by an operator is refunded.
            sqlx::query(
                "UPDATE payments SET status = 'refund_needed', updated_at = $1
                 WHERE order_id = $2 AND status = 'succeeded'",
            )
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    pub(crate) async fn ship_order_inner(
        &self,
        id: OrderId,
        carrier: &str,
        tracking_no: &str,
        now: Timestamp,
    ) -> DbResult<Order> {
        let mut tx = self.write().await?;
        let order = locked_order(&mut tx, id, None).await?;
        target(&order, OrderMove::Ship)?;
        let row: Option<OrderRow> = sqlx::query_as(concat!(
            "UPDATE orders SET status = 'shipped', carrier = $1, tracking_no = $2, shipped_at = $3, updated_at = $3
             WHERE id = $4 AND status = 'paid' RETURNING ",
            order_columns!()
        ))
        .bind(carrier)
        .bind(tracking_no)
        .bind(millis(now))
        .bind(id.get())
        .fetch_optional(&mut *tx)
        .await?;
        let shipped = moved(row, &order)?;
        tx.commit().await?;
        Ok(shipped)
    }

    pub(crate) async fn complete_order_inner(
        &self,
        id: OrderId,
        owner: Option<UserId>,
        now: Timestamp,
    ) -> DbResult<Order> {
        let mut tx = self.write().await?;
        let order = locked_order(&mut tx, id, owner).await?;
        target(&order, OrderMove::Complete)?;
        let row: Option<OrderRow> = sqlx::query_as(concat!(
            "UPDATE orders SET status = 'completed', completed_at = $1, closed_at = $1, updated_at = $1
             WHERE id = $2 AND status = 'shipped' RETURNING ",
            order_columns!()
        ))
        .bind(millis(now))
        .bind(id.get())
        .fetch_optional(&mut *tx)
        .await?;
        let completed = moved(row, &order)?;
        tx.commit().await?;
        Ok(completed)
    }

    pub(crate) async fn overdue_orders_inner(&self, now: Timestamp, limit: u32) -> DbResult<Vec<OrderId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM orders WHERE status = 'pending_payment' AND pay_deadline <= $1
             ORDER BY pay_deadline, id LIMIT $2",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(id::<OrderId>).collect::<RowResult<_>>()?)
    }

    pub(crate) async fn next_deadline_inner(&self) -> DbResult<Option<Timestamp>> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(pay_deadline) FROM orders WHERE status = 'pending_payment'")
                .fetch_one(&self.pool)
                .await?;
        Ok(next.map(timestamp).transpose()?)
    }

    pub(crate) async fn orders_of_user_inner(&self, user: UserId, page: Page) -> DbResult<Paged<Order>> {
        self.find_orders_inner(&OrderFilter { user_id: Some(user), ..Default::default() }, page).await
    }

    pub(crate) async fn find_orders_inner(&self, filter: &OrderFilter, page: Page) -> DbResult<Paged<Order>> {
        let (mut count, mut select) = order_search::<Postgres>(order_columns!(), filter, page);
        let mut tx = self.read().await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<OrderRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let orders = rows.into_iter().map(OrderRow::into_order).collect::<DbResult<Vec<_>>>()?;
        Ok(paged(orders, total, page))
    }

    pub(crate) async fn pending_returns_inner(&self, limit: u32) -> DbResult<Vec<PendingReturn>> {
        let rows: Vec<(i64, Uuid, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT r.id, o.ticket, r.activity_id, r.sku_id, r.user_id, r.quantity
             FROM stock_returns r JOIN orders o ON o.id = r.order_id
             WHERE r.applied_at IS NULL ORDER BY r.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(rid, ticket, activity, sku, user, quantity)| {
                Ok(PendingReturn {
                    id: rid,
                    stock: StockReturn {
                        ticket: Ticket::from_uuid(ticket),
                        activity_id: id(activity)?,
                        sku_id: id(sku)?,
                        user_id: id(user)?,
                        quantity: count(quantity)?,
                    },
                })
            })
            .collect()
    }

    pub(crate) async fn mark_returns_applied_inner(&self, ids: &[i64], now: Timestamp) -> DbResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE stock_returns SET applied_at = $1 WHERE applied_at IS NULL AND id = ANY($2)")
            .bind(millis(now))
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
