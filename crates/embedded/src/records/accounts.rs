//! Shoppers, operators and delivery addresses: the [`Accounts`] port on SQLite.
//!
//! Usernames are unique regardless of letter case through the `username_key` column (the
//! Unicode lower-case of the name) and its UNIQUE index; the address rules (at most
//! [`MAX_ADDRESSES`], exactly one default while any address is left) are kept inside one
//! write transaction each.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::activity::MAX_LEVEL;
use seckill_domain::ids::{AddressId, UserId};
use seckill_domain::user::{Address, Admin, MAX_ADDRESSES, NEW_USER_LEVEL, NewAddress, NewUser, User, Username};
use seckill_store::{Accounts, Credentials, Page, Paged, StoreError};
use sqlx::SqliteConnection;

use super::SqliteRecords;
use super::error::{DbResult, corrupt, invalid};
use super::rows::{AddressRow, AdminRow, RowResult, UserRow, millis, paged};

/// The key that makes usernames unique regardless of case.
fn username_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// `LIKE` pattern for "contains `query`" (`\` escapes the wildcards), or `None` for no filter.
pub(crate) fn contains_pattern(query: Option<&str>) -> Option<String> {
    let query = query.map(str::trim).filter(|q| !q.is_empty())?;
    let mut p = String::with_capacity(query.len() + 2);
    p.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    Some(p)
}

#[derive(Debug, sqlx::FromRow)]
struct UserCredentialRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(Debug, sqlx::FromRow)]
struct AdminCredentialRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    password_hash: String,
}

#[async_trait]
impl Accounts for SqliteRecords {
    #[tracing::instrument(skip_all)]
    async fn create_user(&self, new: &NewUser, password_hash: &str, now: Timestamp) -> Result<User, StoreError> {
        Ok(create_user(self, new, password_hash, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn user_credentials(&self, username: &str) -> Result<Option<Credentials<User>>, StoreError> {
        Ok(user_credentials(self, username).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn user(&self, id: UserId) -> Result<User, StoreError> {
        Ok(load_user(&mut *self.reader_conn().await?, id.get()).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn users(&self, query: Option<&str>, page: Page) -> Result<Paged<User>, StoreError> {
        Ok(users(self, query, page).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn set_user_level(&self, id: UserId, level: u8) -> Result<User, StoreError> {
        Ok(set_user_level(self, id, level).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn create_admin(
        &self,
        username: &Username,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Admin, StoreError> {
        Ok(create_admin(self, username, password_hash, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn set_admin_password(&self, username: &Username, password_hash: &str) -> Result<Admin, StoreError> {
        Ok(set_admin_password(self, username, password_hash).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn admin_credentials(&self, username: &str) -> Result<Option<Credentials<Admin>>, StoreError> {
        Ok(admin_credentials(self, username).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn add_address(&self, user: UserId, new: &NewAddress, now: Timestamp) -> Result<Address, StoreError> {
        Ok(add_address(self, user, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn addresses(&self, user: UserId) -> Result<Vec<Address>, StoreError> {
        Ok(addresses(self, user).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn address(&self, user: UserId, id: AddressId) -> Result<Address, StoreError> {
        Ok(load_address(&mut *self.reader_conn().await?, user, id.get()).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_address(&self, user: UserId, id: AddressId) -> Result<(), StoreError> {
        Ok(delete_address(self, user, id).await?)
    }

    #[tracing::instrument(skip_all, fields(users = usernames.len()))]
    async fn create_users_in_bulk(
        &self,
        usernames: &[Username],
        password_hash: &str,
        address: &NewAddress,
        now: Timestamp,
    ) -> Result<Vec<(UserId, AddressId)>, StoreError> {
        Ok(create_users_in_bulk(self, usernames, password_hash, address, now).await?)
    }
}

async fn load_user(conn: &mut SqliteConnection, id: i64) -> DbResult<User> {
    let row: UserRow =
        sqlx::query_as("SELECT id, username, level, phone, email, nickname, created_at FROM users WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(row.into_user()?)
}

async fn load_admin(conn: &mut SqliteConnection, id: i64) -> DbResult<Admin> {
    let row: AdminRow = sqlx::query_as("SELECT id, username, created_at FROM admins WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into_admin()?)
}

async fn load_address(conn: &mut SqliteConnection, user: UserId, id: i64) -> DbResult<Address> {
    let row: AddressRow = sqlx::query_as(
        "SELECT id, user_id, contact, phone, province, city, district, detail, is_default
         FROM addresses WHERE id = ? AND user_id = ? AND deleted = 0",
    )
    .bind(id)
    .bind(user.get())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into_address()?)
}

async fn create_user(db: &SqliteRecords, new: &NewUser, password_hash: &str, now: Timestamp) -> DbResult<User> {
    let mut tx = db.write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, level, phone, email, nickname, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(new.username.as_str())
    .bind(username_key(new.username.as_str()))
    .bind(password_hash)
    .bind(i64::from(NEW_USER_LEVEL))
    .bind(new.phone.as_deref())
    .bind(new.email.as_deref())
    .bind(new.nickname.as_deref())
    .bind(millis(now))
    .fetch_one(&mut *tx)
    .await?;
    let user = load_user(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

async fn user_credentials(db: &SqliteRecords, username: &str) -> DbResult<Option<Credentials<User>>> {
    let row: Option<UserCredentialRow> = sqlx::query_as(
        "SELECT id, username, level, phone, email, nickname, created_at, password_hash
         FROM users WHERE username_key = ?",
    )
    .bind(username_key(username))
    .fetch_optional(&db.reader)
    .await?;
    row.map(|r| Ok(Credentials { account: r.user.into_user()?, password_hash: r.password_hash })).transpose()
}

async fn users(db: &SqliteRecords, query: Option<&str>, page: Page) -> DbResult<Paged<User>> {
    // Matched against the lower-cased key: a search ignores letter case, beyond ASCII too.
    let pattern = contains_pattern(query.map(str::to_lowercase).as_deref());
    let mut tx = db.read().await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE ?1 IS NULL OR username_key LIKE ?1 ESCAPE '\\'")
            .bind(pattern.as_deref())
            .fetch_one(&mut *tx)
            .await?;
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT id, username, level, phone, email, nickname, created_at FROM users
         WHERE ?1 IS NULL OR username_key LIKE ?1 ESCAPE '\\'
         ORDER BY id LIMIT ?2 OFFSET ?3",
    )
    .bind(pattern.as_deref())
    .bind(i64::from(page.per_page()))
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let items = rows.into_iter().map(UserRow::into_user).collect::<RowResult<_>>()?;
    Ok(paged(items, total, page))
}

async fn set_user_level(db: &SqliteRecords, id: UserId, level: u8) -> DbResult<User> {
    if level > MAX_LEVEL {
        return Err(invalid("level", format!("must be between 0 and {MAX_LEVEL}")));
    }
    let mut tx = db.write().await?;
    let changed = sqlx::query("UPDATE users SET level = ? WHERE id = ?")
        .bind(i64::from(level))
        .bind(id.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound.into());
    }
    let user = load_user(&mut tx, id.get()).await?;
    tx.commit().await?;
    Ok(user)
}

async fn create_admin(db: &SqliteRecords, username: &Username, password_hash: &str, now: Timestamp) -> DbResult<Admin> {
    let mut tx = db.write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO admins (username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(username.as_str())
    .bind(username_key(username.as_str()))
    .bind(password_hash)
    .bind(millis(now))
    .fetch_one(&mut *tx)
    .await?;
    let admin = load_admin(&mut tx, id).await?;
    tx.commit().await?;
    Ok(admin)
}

async fn set_admin_password(db: &SqliteRecords, username: &Username, password_hash: &str) -> DbResult<Admin> {
    let mut tx = db.write().await?;
    let id: Option<i64> = sqlx::query_scalar("UPDATE admins SET password_hash = ? WHERE username_key = ? RETURNING id")
        .bind(password_hash)
        .bind(username_key(username.as_str()))
        .fetch_optional(&mut *tx)
        .await?;
    let id = id.ok_or(StoreError::NotFound)?;
    let admin = load_admin(&mut tx, id).await?;
    tx.commit().await?;
    Ok(admin)
}

async fn admin_credentials(db: &SqliteRecords, username: &str) -> DbResult<Option<Credentials<Admin>>> {
    let row: Option<AdminCredentialRow> =
        sqlx::query_as("SELECT id, username, created_at, password_hash FROM admins WHERE username_key = ?")
            .bind(username_key(username))
            .fetch_optional(&db.reader)
            .await?;
    row.map(|r| Ok(Credentials { account: r.admin.into_admin()?, password_hash: r.password_hash })).transpose()
}

/// Keeps: at most [`MAX_ADDRESSES`] live addresses; the first one, or one marked default,
/// becomes the only default.
async fn add_address(db: &SqliteRecords, user: UserId, new: &NewAddress, now: Timestamp) -> DbResult<Address> {
    let mut tx = db.write().await?;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE id = ?").bind(user.get()).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound.into());
    }
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = ? AND deleted = 0")
        .bind(user.get())
        .fetch_one(&mut *tx)
        .await?;
    if usize::try_from(live).unwrap_or(usize::MAX) >= MAX_ADDRESSES {
        return Err(invalid("address", format!("at most {MAX_ADDRESSES} addresses per user")));
    }
    let is_default = new.is_default || live == 0;
    if is_default {
        sqlx::query("UPDATE addresses SET is_default = 0 WHERE user_id = ? AND is_default = 1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO addresses (user_id, contact, phone, province, city, district, detail, is_default, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(user.get())
    .bind(&new.contact)
    .bind(&new.phone)
    .bind(&new.province)
    .bind(&new.city)
    .bind(&new.district)
    .bind(&new.detail)
    .bind(is_default)
    .bind(millis(now))
    .fetch_one(&mut *tx)
    .await?;
    let address = load_address(&mut tx, user, id).await?;
    tx.commit().await?;
    Ok(address)
}

async fn addresses(db: &SqliteRecords, user: UserId) -> DbResult<Vec<Address>> {
    let rows: Vec<AddressRow> = sqlx::query_as(
        "SELECT id, user_id, contact, phone, province, city, district, detail, is_default
         FROM addresses WHERE user_id = ? AND deleted = 0
         ORDER BY is_default DESC, created_at DESC, id DESC",
    )
    .bind(user.get())
    .fetch_all(&db.reader)
    .await?;
    Ok(rows.into_iter().map(AddressRow::into_address).collect::<RowResult<_>>()?)
}

/// Keeps: a user with addresses left has exactly one default — the most recent one if the
/// default was deleted.
async fn delete_address(db: &SqliteRecords, user: UserId, id: AddressId) -> DbResult<()> {
    let mut tx = db.write().await?;
    let was_default: bool =
        sqlx::query_scalar("SELECT is_default FROM addresses WHERE id = ? AND user_id = ? AND deleted = 0")
            .bind(id.get())
            .bind(user.get())
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("UPDATE addresses SET deleted = 1, is_default = 0 WHERE id = ?")
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    if was_default {
        sqlx::query(
            "UPDATE addresses SET is_default = 1 WHERE id = (
                 SELECT id FROM addresses WHERE user_id = ? AND deleted = 0
                 ORDER BY created_at DESC, id DESC LIMIT 1)",
        )
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per `INSERT … SELECT … FROM json_each(?)` statement of a bulk registration: one bound
/// JSON array per statement, so no limit on bound variables applies and each statement is one
/// round trip to the SQLite thread.
const BULK_ROWS_PER_STATEMENT: usize = 5_000;

/// Keeps: all or nothing (one write transaction); every user gets exactly one address, which
/// is their default. A name taken (or given twice) fails the UNIQUE index on `username_key`,
/// which is `Conflict::UsernameTaken`.
async fn create_users_in_bulk(
    db: &SqliteRecords,
    usernames: &[Username],
    password_hash: &str,
    address: &NewAddress,
    now: Timestamp,
) -> DbResult<Vec<(UserId, AddressId)>> {
    let mut tx = db.write().await?;
    let mut ids = Vec::with_capacity(usernames.len());
    for chunk in usernames.chunks(BULK_ROWS_PER_STATEMENT) {
        let names: Vec<(&str, String)> = chunk.iter().map(|u| (u.as_str(), username_key(u.as_str()))).collect();
        let names = serde_json::to_string(&names).map_err(|e| corrupt(format!("usernames as JSON: {e}")))?;
        let users: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO users (username, username_key, password_hash, level, created_at)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2, ?3, ?4 FROM json_each(?1)
             RETURNING id, username_key",
        )
        .bind(names)
        .bind(password_hash)
        .bind(i64::from(NEW_USER_LEVEL))
        .bind(millis(now))
        .fetch_all(&mut *tx)
        .await?;
        // RETURNING gives no order guarantee: match the rows to the names by key.
        let by_key: std::collections::HashMap<String, i64> = users.into_iter().map(|(id, key)| (key, id)).collect();
        let user_ids = chunk
            .iter()
            .map(|u| {
                by_key.get(&username_key(u.as_str())).copied().ok_or_else(|| corrupt("a bulk user was not inserted"))
            })
            .collect::<DbResult<Vec<i64>>>()?;
        let id_list = serde_json::to_string(&user_ids).map_err(|e| corrupt(format!("user ids as JSON: {e}")))?;
        let addresses: Vec<(i64, i64)> = sqlx::query_as(
            "INSERT INTO addresses (user_id, contact, phone, province, city, district, detail, is_default, created_at)
             SELECT value, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8 FROM json_each(?1)
             RETURNING user_id, id",
        )
        .bind(id_list)
        .bind(&address.contact)
        .bind(&address.phone)
        .bind(&address.province)
        .bind(&address.city)
        .bind(&address.district)
        .bind(&address.detail)
        .bind(millis(now))
        .fetch_all(&mut *tx)
        .await?;
        let by_user: std::collections::HashMap<i64, i64> = addresses.into_iter().collect();
        for user in user_ids {
            let address = by_user.get(&user).copied().ok_or_else(|| corrupt("a bulk address was not inserted"))?;
            ids.push((UserId::try_from(user).map_err(corrupt)?, AddressId::try_from(address).map_err(corrupt)?));
        }
    }
    tx.commit().await?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(contains_pattern(Some("a_b%c\\")).as_deref(), Some("%a\\_b\\%c\\\\%"));
        assert_eq!(contains_pattern(Some("  ")), None);
        assert_eq!(contains_pattern(None), None);
        assert_eq!(username_key(" Alice "), "alice");
        assert_eq!(username_key("ÄBC"), "äbc");
    }
}
