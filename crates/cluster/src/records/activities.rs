//! Seckill activities (秒杀活动) on PostgreSQL: definitions, their slots and SKUs, and the rules
//! that need other records.
//!
//! Rules kept inside each write transaction (holding the catalog lock), with the domain's own
//! functions:
//! - [`NewActivity::check_against`] the product and the live slots (`Invalid`);
//! - a product sells in at most one *enabled* activity at any instant
//!   ([`Schedule::overlaps`] over enabled slots; `Conflict::ProductInActivity`);
//! - stock never drops below `sold` ([`NewActivity::first_stock_below_sold`];
//!   `Conflict::StockBelowSold`), and the product never changes once anything is sold;
//! - `version` moves on every change.

use std::collections::BTreeMap;

use seckill_domain::activity::{Activity, ActivitySku, ActivitySlot, NewActivity, PurchaseRules};
use seckill_domain::ids::{ActivityId, ProductId, SlotId};
use seckill_domain::window::Schedule;
use seckill_domain::{TimeZone, Timestamp};
use seckill_store::{ActivityQuery, Conflict, OrderCounts, StoreError};
use sqlx::PgConnection;

use super::PgRecords;
use super::catalog::load_product;
use super::error::{DbError, DbResult, invalid};
use super::rows::{ActivityRow, ActivitySkuRow, ActivitySlotRow, count, id, level, millis, timestamp};
use super::slots::live_slots;

/// Activities with their slots (deleted ones included, shown as disabled: they open no window)
/// and SKUs: two queries for all of them, never one per activity.
async fn assemble(conn: &mut PgConnection, rows: Vec<ActivityRow>) -> DbResult<Vec<Activity>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let slot_rows: Vec<ActivitySlotRow> = sqlx::query_as(
        "SELECT ats.activity_id, s.id, s.name, s.start_minute, s.end_minute,
                (s.enabled AND s.deleted_at IS NULL) AS enabled
         FROM activity_time_slots ats JOIN time_slots s ON s.id = ats.slot_id
         WHERE ats.activity_id = ANY($1)
         ORDER BY ats.activity_id, ats.position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let sku_rows: Vec<ActivitySkuRow> = sqlx::query_as(
        "SELECT activity_id, sku_id, seckill_price_cents, stock, sold FROM activity_skus
         WHERE activity_id = ANY($1)
         ORDER BY activity_id, position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut slots: BTreeMap<i64, Vec<ActivitySlot>> = BTreeMap::new();
    for row in slot_rows {
        slots.entry(row.activity_id).or_default().push(row.into_slot()?);
    }
    let mut skus: BTreeMap<i64, Vec<ActivitySku>> = BTreeMap::new();
    for row in sku_rows {
        skus.entry(row.activity_id).or_default().push(row.into_sku()?);
    }
    rows.into_iter()
        .map(|r| {
            let (s, k) = (slots.remove(&r.id).unwrap_or_default(), skus.remove(&r.id).unwrap_or_default());
            into_activity(r, s, k)
        })
        .collect()
}

fn into_activity(r: ActivityRow, slots: Vec<ActivitySlot>, skus: Vec<ActivitySku>) -> DbResult<Activity> {
    Ok(Activity {
        id: id(r.id)?,
        name: r.name,
        product_id: id(r.product_id)?,
        starts_at: timestamp(r.starts_at)?,
        ends_at: timestamp(r.ends_at)?,
        slots,
        skus,
        rules: PurchaseRules {
            total_limit: count(r.total_limit)?,
            single_limit: count(r.single_limit)?,
            min_level: level(r.min_level)?,
            reservation_required: r.reservation_required,
            pay_timeout_secs: count(r.pay_timeout_secs)?,
        },
        enabled: r.enabled,
        version: r.version,
        created_at: timestamp(r.created_at)?,
        updated_at: timestamp(r.updated_at)?,
    })
}

/// One activity with its slots and SKUs; `NotFound` if absent.
pub(crate) async fn load_activity(conn: &mut PgConnection, id: ActivityId) -> DbResult<Activity> {
    let row: ActivityRow = sqlx::query_as(
        "SELECT id, name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at
         FROM activities WHERE id = $1",
    )
    .bind(id.get())
    .fetch_one(&mut *conn)
    .await?;
    assemble(conn, vec![row]).await?.pop().ok_or(DbError::Store(StoreError::NotFound))
}

/// The activities with these ids, in the order given; ids of no activity are left out.
pub(crate) async fn activities_by_id(conn: &mut PgConnection, ids: &[i64]) -> DbResult<Vec<Activity>> {
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT id, name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at
         FROM activities WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = assemble(conn, rows).await?;
    let mut ordered = Vec::with_capacity(found.len());
    for id in ids {
        if let Some(i) = found.iter().position(|a| a.id.get() == *id) {
            ordered.push(found.swap_remove(i));
        }
    }
    Ok(ordered)
}

/// Activities matching `query`, by `starts_at` then id.
pub(crate) async fn activities(db: &PgRecords, query: &ActivityQuery) -> DbResult<Vec<Activity>> {
    let mut tx = db.read().await?;
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT id, name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at
         FROM activities
         WHERE ($1::bigint IS NULL OR ends_at > $1) AND ($2::bigint IS NULL OR product_id = $2)
         ORDER BY starts_at, id",
    )
    .bind(query.ends_after.map(millis))
    .bind(query.product_id.map(ProductId::get))
    .fetch_all(&mut *tx)
    .await?;
    let activities = assemble(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(activities)
}

/// Keeps one product in at most one enabled activity at any instant: the first enabled
/// activity of `product` other than `except` whose windows overlap `schedule` is a conflict.
async fn check_product_free(
    conn: &mut PgConnection,
    product: ProductId,
    schedule: &Schedule,
    except: Option<ActivityId>,
    tz: &TimeZone,
) -> DbResult<()> {
    // Only activities whose dates overlap can share a window.
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT id, name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at
         FROM activities
         WHERE product_id = $1 AND enabled AND id IS DISTINCT FROM $2 AND ends_at > $3 AND starts_at < $4
         ORDER BY starts_at, id",
    )
    .bind(product.get())
    .bind(except.map(ActivityId::get))
    .bind(millis(schedule.starts_at()))
    .bind(millis(schedule.ends_at()))
    .fetch_all(&mut *conn)
    .await?;
    for other in assemble(conn, rows).await? {
        // A record without a valid schedule never sells (the domain treats it as ended).
        if other.schedule().is_some_and(|s| s.overlaps(schedule, tz)) {
            return Err(Conflict::ProductInActivity { activity_id: other.id }.into());
        }
    }
    Ok(())
}

/// After slot `slot` changed: every enabled activity using it must still be the only enabled
/// activity of its product at each instant.
pub(crate) async fn recheck_slot_users(conn: &mut PgConnection, slot: SlotId, tz: &TimeZone) -> DbResult<()> {
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT id, name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at
         FROM activities
         WHERE enabled AND id IN (SELECT activity_id FROM activity_time_slots WHERE slot_id = $1)
         ORDER BY starts_at, id",
    )
    .bind(slot.get())
    .fetch_all(&mut *conn)
    .await?;
    for activity in assemble(conn, rows).await? {
        if let Some(schedule) = activity.schedule() {
            check_product_free(conn, activity.product_id, &schedule, Some(activity.id), tz).await?;
        }
    }
    Ok(())
}

/// Locks the activity's SKU rows for the rest of the transaction.
async fn lock_skus(conn: &mut PgConnection, id: ActivityId) -> DbResult<()> {
    sqlx::query("SELECT sku_id FROM activity_skus WHERE activity_id = $1 ORDER BY sku_id FOR UPDATE")
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Creates (`id = None`) or replaces an activity under every rule of the module.
pub(crate) async fn save_activity(
    db: &PgRecords,
    id: Option<ActivityId>,
    new: &NewActivity,
    now: Timestamp,
) -> DbResult<Activity> {
    let mut tx = db.catalog_write().await?;
    let existing = match id {
        Some(id) => {
            // Order batches raise `sold` without the catalog lock: hold their rows still while
            // the new stock is checked against `sold` and written.
            lock_skus(&mut tx, id).await?;
            Some(load_activity(&mut tx, id).await?)
        }
        None => None,
    };
    if let Some(existing) = &existing
        && existing.product_id != new.product_id
        && existing.skus.iter().any(|s| s.sold > 0)
    {
        return Err(invalid("product_id", "cannot change once anything is sold"));
    }
    let product = match load_product(&mut tx, new.product_id).await {
        Err(DbError::Sqlx(sqlx::Error::RowNotFound)) => {
            return Err(invalid("product_id", format!("product {} does not exist", new.product_id)));
        }
        other => other?,
    };
    let all_slots = live_slots(&mut tx).await?;
    let (_, schedule) = new.check_against(&product, &all_slots, &db.tz)?;
    if let Some(existing) = &existing
        && let Some((sku_id, stock, sold)) = new.first_stock_below_sold(existing)
    {
        return Err(Conflict::StockBelowSold { sku_id, stock, sold }.into());
    }
    if new.enabled {
        check_product_free(&mut tx, new.product_id, &schedule, id, &db.tz).await?;
    }

    let activity_id: i64 =
        match id {
            None => sqlx::query_scalar(
                "INSERT INTO activities (name, product_id, starts_at, ends_at, total_limit, single_limit, min_level,
                     reservation_required, pay_timeout_secs, enabled, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING id",
            )
            .bind(&new.name)
            .bind(new.product_id.get())
            .bind(millis(new.starts_at))
            .bind(millis(new.ends_at))
            .bind(i64::from(new.rules.total_limit))
            .bind(i64::from(new.rules.single_limit))
            .bind(i64::from(new.rules.min_level))
            .bind(new.rules.reservation_required)
            .bind(i64::from(new.rules.pay_timeout_secs))
            .bind(new.enabled)
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?,
            Some(id) => {
                sqlx::query(
                    "UPDATE activities SET name = $1, product_id = $2, starts_at = $3, ends_at = $4, total_limit = $5,
                     single_limit = $6, min_level = $7, reservation_required = $8, pay_timeout_secs = $9, enabled = $10,
                     version = version + 1, updated_at = $11
                 WHERE id = $12",
                )
                .bind(&new.name)
                .bind(new.product_id.get())
                .bind(millis(new.starts_at))
                .bind(millis(new.ends_at))
                .bind(i64::from(new.rules.total_limit))
                .bind(i64::from(new.rules.single_limit))
                .bind(i64::from(new.rules.min_level))
                .bind(new.rules.reservation_required)
                .bind(i64::from(new.rules.pay_timeout_secs))
                .bind(new.enabled)
                .bind(millis(now))
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM activity_time_slots WHERE activity_id = $1")
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                // SKUs left out go (none has sales: checked above); the others keep their `sold`.
                sqlx::query(
                    "DELETE FROM activity_skus
                 WHERE activity_id = $1 AND NOT (sku_id = ANY($2))",
                )
                .bind(id.get())
                .bind(new.skus.iter().map(|s| s.sku_id.get()).collect::<Vec<i64>>())
                .execute(&mut *tx)
                .await?;
                id.get()
            }
        };
    for (position, slot) in new.slot_ids.iter().enumerate() {
        sqlx::query("INSERT INTO activity_time_slots (activity_id, slot_id, position) VALUES ($1, $2, $3)")
            .bind(activity_id)
            .bind(slot.get())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
    }
    for (position, sku) in new.skus.iter().enumerate() {
        sqlx::query(
            "INSERT INTO activity_skus (activity_id, sku_id, position, seckill_price_cents, stock, sold)
             VALUES ($1, $2, $3, $4, $5, 0)
             ON CONFLICT (activity_id, sku_id) DO UPDATE SET
                 position = excluded.position,
                 seckill_price_cents = excluded.seckill_price_cents,
                 stock = excluded.stock",
        )
        .bind(activity_id)
        .bind(sku.sku_id.get())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(sku.seckill_price.cents())
        .bind(i64::from(sku.stock))
        .execute(&mut *tx)
        .await?;
    }
    let activity = load_activity(&mut tx, ActivityId::from_raw(activity_id)).await?;
    tx.commit().await?;
    Ok(activity)
}

/// Switches an activity on or off; switching on re-checks that its product is in no other
/// enabled activity at overlapping times. Setting the current value changes nothing.
pub(crate) async fn set_enabled(db: &PgRecords, id: ActivityId, enabled: bool, now: Timestamp) -> DbResult<Activity> {
    let mut tx = db.catalog_write().await?;
    let activity = load_activity(&mut tx, id).await?;
    if activity.enabled == enabled {
        tx.commit().await?;
        return Ok(activity);
    }
    if enabled && let Some(schedule) = activity.schedule() {
        check_product_free(&mut tx, activity.product_id, &schedule, Some(id), &db.tz).await?;
    }
    sqlx::query("UPDATE activities SET enabled = $1, version = version + 1, updated_at = $2 WHERE id = $3")
        .bind(enabled)
        .bind(millis(now))
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    let activity = load_activity(&mut tx, id).await?;
    tx.commit().await?;
    Ok(activity)
}

#[derive(Debug, sqlx::FromRow)]
struct CountsRow {
    activity_id: i64,
    orders: i64,
    paid: i64,
}

/// Non-cancelled and paid order counts per activity; activities without such orders are absent.
pub(crate) async fn order_counts(db: &PgRecords, ids: &[ActivityId]) -> DbResult<Vec<(ActivityId, OrderCounts)>> {
    let rows: Vec<CountsRow> = sqlx::query_as(
        "SELECT activity_id, count(*) AS orders,
                count(*) FILTER (WHERE status IN ('paid', 'shipped', 'completed')) AS paid
         FROM orders
         WHERE activity_id = ANY($1) AND status <> 'cancelled'
         GROUP BY activity_id ORDER BY activity_id",
    )
    .bind(ids.iter().map(|a| a.get()).collect::<Vec<i64>>())
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let counts = OrderCounts {
                orders: u64::try_from(r.orders).unwrap_or_default(),
                paid: u64::try_from(r.paid).unwrap_or_default(),
            };
            Ok((id(r.activity_id)?, counts))
        })
        .collect()
}
