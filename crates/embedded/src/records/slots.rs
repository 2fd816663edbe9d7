//! Daily time slots (场次) on SQLite.
//!
//! Rules kept inside each write transaction: enabled live slots never overlap
//! ([`NewTimeSlot::first_overlap`]); a slot used by an activity that has not finished stays;
//! every change of a slot moves the `version` of the activities using it, and re-checks that
//! their product still sells in at most one enabled activity at a time.

use seckill_domain::Timestamp;
use seckill_domain::ids::SlotId;
use seckill_domain::slot::{NewTimeSlot, TimeSlot};
use seckill_store::{Conflict, StoreError};
use sqlx::SqliteConnection;

use super::SqliteRecords;
use super::activities;
use super::error::DbResult;
use super::rows::{RowResult, SlotRow, millis};

/// Every slot not deleted, by `sort` then start.
pub(crate) async fn live_slots(conn: &mut SqliteConnection) -> DbResult<Vec<TimeSlot>> {
    let rows: Vec<SlotRow> = sqlx::query_as(
        "SELECT id, name, start_minute, end_minute, enabled, sort FROM time_slots
         WHERE deleted_at IS NULL ORDER BY sort, start_minute, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(SlotRow::into_slot).collect::<RowResult<_>>()?)
}

/// Whether `id` names a live slot.
async fn is_live(conn: &mut SqliteConnection, id: SlotId) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM time_slots WHERE id = ? AND deleted_at IS NULL")
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Moves the `version` of every activity using slot `id`: their windows changed with it.
async fn bump_users(conn: &mut SqliteConnection, id: SlotId, now: Timestamp) -> DbResult<()> {
    sqlx::query(
        "UPDATE activities SET version = version + 1, updated_at = ?
         WHERE id IN (SELECT activity_id FROM activity_time_slots WHERE slot_id = ?)",
    )
    .bind(millis(now))
    .bind(id.get())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Creates (`id = None`) or replaces a slot. Keeps: enabled live slots never overlap; the
/// activities using a changed slot get a new `version` and keep one enabled activity per
/// product at any instant.
pub(crate) async fn save_slot(
    db: &SqliteRecords,
    id: Option<SlotId>,
    new: &NewTimeSlot,
    now: Timestamp,
) -> DbResult<TimeSlot> {
    let mut tx = db.write().await?;
    if let Some(id) = id
        && !is_live(&mut tx, id).await?
    {
        return Err(StoreError::NotFound.into());
    }
    let existing = live_slots(&mut tx).await?;
    if let Some(other) = new.first_overlap(&existing, id) {
        return Err(Conflict::SlotOverlap { slot_id: other.id, name: other.name.clone() }.into());
    }
    let (start, end) = (i64::from(new.span.start().minutes()), i64::from(new.span.end().minutes()));
    let id = match id {
        None => SlotId::from_raw(
            sqlx::query_scalar(
                "INSERT INTO time_slots (name, start_minute, end_minute, enabled, sort, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&new.name)
            .bind(start)
            .bind(end)
            .bind(new.enabled)
            .bind(new.sort)
            .bind(millis(now))
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?,
        ),
        Some(id) => {
            sqlx::query(
                "UPDATE time_slots SET name = ?, start_minute = ?, end_minute = ?, enabled = ?, sort = ?, updated_at = ?
                 WHERE id = ?",
            )
            .bind(&new.name)
            .bind(start)
            .bind(end)
            .bind(new.enabled)
            .bind(new.sort)
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            bump_users(&mut tx, id, now).await?;
            if new.enabled {
                activities::recheck_slot_users(&mut tx, id, &db.tz).await?;
            }
            id
        }
    };
    let row: SlotRow =
        sqlx::query_as("SELECT id, name, start_minute, end_minute, enabled, sort FROM time_slots WHERE id = ?")
            .bind(id.get())
            .fetch_one(&mut *tx)
            .await?;
    let slot = row.into_slot()?;
    tx.commit().await?;
    Ok(slot)
}

/// Deletes a slot (soft). Keeps: a slot used by an activity unfinished at `now` stays; the
/// finished activities that used it keep showing it, with a new `version`.
pub(crate) async fn delete_slot(db: &SqliteRecords, id: SlotId, now: Timestamp) -> DbResult<()> {
    let mut tx = db.write().await?;
    if !is_live(&mut tx, id).await? {
        return Err(StoreError::NotFound.into());
    }
    let unfinished: Option<i64> = sqlx::query_scalar(
        "SELECT a.id FROM activities a JOIN activity_time_slots ats ON ats.activity_id = a.id
         WHERE ats.slot_id = ? AND a.ends_at > ? ORDER BY a.ends_at, a.id LIMIT 1",
    )
    .bind(id.get())
    .bind(millis(now))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(activity) = unfinished {
        return Err(Conflict::SlotInUse { activity_id: super::rows::id(activity)? }.into());
    }
    sqlx::query("UPDATE time_slots SET deleted_at = ?, updated_at = ? WHERE id = ?")
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    bump_users(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(())
}
