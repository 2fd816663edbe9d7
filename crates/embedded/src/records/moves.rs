//! Orders after the rush, on SQLite: the state machine's moves as conditional updates, the
//! timeout sweep's queries, lists, and the stock-return outbox.
//!
//! Every move runs in one `BEGIN IMMEDIATE` transaction and updates `WHERE status = <the status
//! it read>`, so of two racing moves (a payment and a timeout, say) exactly one wins. A
//! cancellation gives its units back to `activity_skus.sold` and writes one `stock_returns` row
//! (unique per order) in the same transaction: the hot state takes the units from that outbox
//! afterwards, exactly once, even across a crash in between.

use seckill_domain::Timestamp;
use seckill_domain::ids::{OrderId, Ticket, UserId};
use seckill_domain::order::{CancelReason, Order, OrderMove, OrderStatus};
use seckill_store::orders::{OrderFilter, PendingReturn};
use seckill_store::rush::StockReturn;
use seckill_store::{Conflict, Page, Paged, StoreError};
use sqlx::{Sqlite, SqliteConnection};

use super::SqliteRecords;
use super::error::{DbResult, corrupt};
use super::orders::{OrderRow, order_columns};
use super::rows::{RowResult, count, id, id_list, millis, order_search, paged, timestamp};

/// The order `id` as `conn` sees it (inside its transaction), `NotFound` if absent or (with `owner`) not that user's.
async fn locked_order(conn: &mut SqliteConnection, id: OrderId, owner: Option<UserId>) -> DbResult<Order> {
    let row: Option<OrderRow> = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?"))
        .bind(id.get())
        .fetch_optional(&mut *conn)
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

async fn reread(conn: &mut SqliteConnection, id: OrderId) -> DbResult<Order> {
    locked_order(conn, id, None).await
}

impl SqliteRecords {
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
        let done = sqlx::query(
            "UPDATE orders SET status = 'cancelled', cancel_reason = ?, closed_at = ?, updated_at = ?
             WHERE id = ? AND status = ?",
        )
        .bind(reason.as_str())
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.get())
        .bind(order.status.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(Conflict::BadOrderState { status: order.status }.into());
        }
        sqlx::query("UPDATE activity_skus SET sold = sold - ? WHERE activity_id = ? AND sku_id = ?")
            .bind(i64::from(order.quantity))
            .bind(order.activity_id.get())
            .bind(order.sku_id.get())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO stock_returns (order_id, activity_id, sku_id, user_id, quantity, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
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
                "UPDATE payments SET status = 'refund_needed', updated_at = ? WHERE order_id = ? AND status = 'succeeded'",
            )
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        }
        let cancelled = reread(&mut tx, id).await?;
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
        sqlx::query(
            "UPDATE orders SET status = 'shipped', carrier = ?, tracking_no = ?, shipped_at = ?, updated_at = ?
             WHERE id = ? AND status = 'paid'",
        )
        .bind(carrier)
        .bind(tracking_no)
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        let shipped = reread(&mut tx, id).await?;
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
        sqlx::query(
            "UPDATE orders SET status = 'completed', completed_at = ?, closed_at = ?, updated_at = ?
             WHERE id = ? AND status = 'shipped'",
        )
        .bind(millis(now))
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        let completed = reread(&mut tx, id).await?;
        tx.commit().await?;
        Ok(completed)
    }

    pub(crate) async fn overdue_orders_inner(&self, now: Timestamp, limit: u32) -> DbResult<Vec<OrderId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM orders WHERE status = 'pending_payment' AND pay_deadline <= ?
             ORDER BY pay_deadline, id LIMIT ?",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.reader_conn().await?)
        .await?;
        Ok(ids.into_iter().map(id::<OrderId>).collect::<RowResult<_>>()?)
    }

    pub(crate) async fn next_deadline_inner(&self) -> DbResult<Option<Timestamp>> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(pay_deadline) FROM orders WHERE status = 'pending_payment'")
                .fetch_one(&mut *self.reader_conn().await?)
                .await?;
        Ok(next.map(timestamp).transpose()?)
    }

    pub(crate) async fn orders_of_user_inner(&self, user: UserId, page: Page) -> DbResult<Paged<Order>> {
        self.find_orders_inner(&OrderFilter { user_id: Some(user), ..Default::default() }, page).await
    }

    pub(crate) async fn find_orders_inner(&self, filter: &OrderFilter, page: Page) -> DbResult<Paged<Order>> {
        let (mut count, mut select) = order_search::<Sqlite>(order_columns!(), filter, page);
        let mut tx = self.read().await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<OrderRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let orders = rows.into_iter().map(OrderRow::into_order).collect::<DbResult<Vec<_>>>()?;
        Ok(paged(orders, total, page))
    }

    pub(crate) async fn pending_returns_inner(&self, limit: u32) -> DbResult<Vec<PendingReturn>> {
        let rows: Vec<(i64, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT r.id, o.ticket, r.activity_id, r.sku_id, r.user_id, r.quantity
             FROM stock_returns r JOIN orders o ON o.id = r.order_id
             WHERE r.applied_at IS NULL ORDER BY r.id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *self.reader_conn().await?)
        .await?;
        rows.into_iter()
            .map(|(rid, ticket, activity, sku, user, quantity)| {
                Ok(PendingReturn {
                    id: rid,
                    stock: StockReturn {
                        ticket: ticket.parse::<Ticket>().map_err(|_| corrupt("order ticket"))?,
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
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE stock_returns SET applied_at = ? WHERE applied_at IS NULL AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(millis(now))
        .bind(id_list(ids.iter().copied()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
