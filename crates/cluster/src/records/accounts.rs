//! Shoppers, operators and delivery addresses: the [`Accounts`] port on PostgreSQL.
//!
//! Usernames are unique regardless of letter case through the `username_key` column (the
//! Unicode lower-case of the name, made here, not by the server's locale) and its UNIQUE
//! constraint; the address rules (at most [`MAX_ADDRESSES`], exactly one default while any
//! address is left) are kept inside one transaction each that first locks the user's row, so
//! two changes of one user's addresses take turns.

use std::collections::HashMap;

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::activity::MAX_LEVEL;
use seckill_domain::ids::{AddressId, UserId};
use seckill_domain::user::{Address, Admin, MAX_ADDRESSES, NEW_USER_LEVEL, NewAddress, NewUser, User, Username};
use seckill_store::{Accounts, Credentials, Page, Paged, StoreError};
use sqlx::PgConnection;

use super::PgRecords;
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
impl Accounts for PgRecords {
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
        Ok(load_user(&mut *self.conn().await?, id.get()).await?)
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
        Ok(load_address(&mut *self.conn().await?, user, id.get()).await?)
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

async fn load_user(conn: &mut PgConnection, id: i64) -> DbResult<User> {
    let row: UserRow =
        sqlx::query_as("SELECT id, username, level, phone, email, nickname, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(row.into_user()?)
}

async fn load_address(conn: &mut PgConnection, user: UserId, id: i64) -> DbResult<Address> {
    let row: AddressRow = sqlx::query_as(
        "SELECT id, user_id, contact, phone, province, city, district, detail, is_default
         FROM addresses WHERE id = $1 AND user_id = $2 AND NOT deleted",
    )
    .bind(id)
    .bind(user.get())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into_address()?)
}

async fn create_user(db: &PgRecords, new: &NewUser, password_hash: &str, now: Timestamp) -> DbResult<User> {
    let row: UserRow = sqlx::query_as(
        "INSERT INTO users (username, username_key, password_hash, level, phone, email, nickname, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, username, level, phone, email, nickname, created_at",
    )
    .bind(new.username.as_str())
    .bind(username_key(new.username.as_str()))
    .bind(password_hash)
    .bind(i64::from(NEW_USER_LEVEL))
    .bind(new.phone.as_deref())
    .bind(new.email.as_deref())
    .bind(new.nickname.as_deref())
    .bind(millis(now))
    .fetch_one(&db.pool)
    .await?;
    Ok(row.into_user()?)
}

async fn user_credentials(db: &PgRecords, username: &str) -> DbResult<Option<Credentials<User>>> {
    let row: Option<UserCredentialRow> = sqlx::query_as(
        "SELECT id, username, level, phone, email, nickname, created_at, password_hash
         FROM users WHERE username_key = $1",
    )
    .bind(username_key(username))
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok(Credentials { account: r.user.into_user()?, password_hash: r.password_hash })).transpose()
}

async fn users(db: &PgRecords, query: Option<&str>, page: Page) -> DbResult<Paged<User>> {
    // Matched against the lower-cased key: a search ignores letter case, beyond ASCII too.
    let pattern = contains_pattern(query.map(str::to_lowercase).as_deref());
    let mut tx = db.read().await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE $1::text IS NULL OR username_key LIKE $1 ESCAPE '\\'")
            .bind(pattern.as_deref())
            .fetch_one(&mut *tx)
            .await?;
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT id, username, level, phone, email, nickname, created_at FROM users
         WHERE $1::text IS NULL OR username_key LIKE $1 ESCAPE '\\'
         ORDER BY id LIMIT $2 OFFSET $3",
    )
    .bind(pattern.as_deref())
    .bind(i64::from(page.per_page()))
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let items = rows.into_iter().map(UserRow::into_user).collect::<RowResult<_>>()?;
    Ok(paged(items, total, page))
}

async fn set_user_level(db: &PgRecords, id: UserId, level: u8) -> DbResult<User> {
    if level > MAX_LEVEL {
        return Err(invalid("level", format!("must be between 0 and {MAX_LEVEL}")));
    }
    let row: Option<UserRow> = sqlx::query_as(
        "UPDATE users SET level = $1 WHERE id = $2 RETURNING id, username, level, phone, email, nickname, created_at",
    )
    .bind(i64::from(level))
    .bind(id.get())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.ok_or(StoreError::NotFound)?.into_user()?)
}

async fn create_admin(db: &PgRecords, username: &Username, password_hash: &str, now: Timestamp) -> DbResult<Admin> {
    let row: AdminRow = sqlx::query_as(
        "INSERT INTO admins (username, username_key, password_hash, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id, username, created_at",
    )
    .bind(username.as_str())
    .bind(username_key(username.as_str()))
    .bind(password_hash)
    .bind(millis(now))
    .fetch_one(&db.pool)
    .await?;
    Ok(row.into_admin()?)
}

async fn set_admin_password(db: &PgRecords, username: &Username, password_hash: &str) -> DbResult<Admin> {
    let row: Option<AdminRow> = sqlx::query_as(
        "UPDATE admins SET password_hash = $1 WHERE username_key = $2 RETURNING id, username, created_at",
    )
    .bind(password_hash)
    .bind(username_key(username.as_str()))
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.ok_or(StoreError::NotFound)?.into_admin()?)
}

async fn admin_credentials(db: &PgRecords, username: &str) -> DbResult<Option<Credentials<Admin>>> {
    let row: Option<AdminCredentialRow> =
        sqlx::query_as("SELECT id, username, created_at, password_hash FROM admins WHERE username_key = $1")
            .bind(username_key(username))
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| Ok(Credentials { account: r.admin.into_admin()?, password_hash: r.password_hash })).transpose()
}

/// Locks the user's row for the rest of the transaction (changes of one user's addresses take
/// turns); `NotFound` if there is no such user.
async fn lock_user(conn: &mut PgConnection, user: UserId) -> DbResult<()> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .bind(user.get())
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| StoreError::NotFound.into())
}

/// Keeps: at most [`MAX_ADDRESSES`] live addresses; the first one, or one marked default,
/// becomes the only default.
async fn add_address(db: &PgRecords, user: UserId, new: &NewAddress, now: Timestamp) -> DbResult<Address> {
    let mut tx = db.write().await?;
    lock_user(&mut tx, user).await?;
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = $1 AND NOT deleted")
        .bind(user.get())
        .fetch_one(&mut *tx)
        .await?;
    if usize::try_from(live).unwrap_or(usize::MAX) >= MAX_ADDRESSES {
        return Err(invalid("address", format!("at most {MAX_ADDRESSES} addresses per user")));
    }
    let is_default = new.is_default || live == 0;
    if is_default {
        sqlx::query("UPDATE addresses SET is_default = FALSE WHERE user_id = $1 AND is_default")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
    }
    let row: AddressRow = sqlx::query_as(
        "INSERT INTO addresses (user_id, contact, phone, province, city, district, detail, is_default, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id, user_id, contact, phone, province, city, district, detail, is_default",
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
    tx.commit().await?;
    Ok(row.into_address()?)
}

async fn addresses(db: &PgRecords, user: UserId) -> DbResult<Vec<Address>> {
    let rows: Vec<AddressRow> = sqlx::query_as(
        "SELECT id, user_id, contact, phone, province, city, district, detail, is_default
         FROM addresses WHERE user_id = $1 AND NOT deleted
         ORDER BY is_default DESC, created_at DESC, id DESC",
    )
    .bind(user.get())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(AddressRow::into_address).collect::<RowResult<_>>()?)
}

/// Keeps: a user with addresses left has exactly one default — the most recent one if the
/// default was deleted.
async fn delete_address(db: &PgRecords, user: UserId, id: AddressId) -> DbResult<()> {
    let mut tx = db.write().await?;
    lock_user(&mut tx, user).await?;
    let was_default: bool =
        sqlx::query_scalar("SELECT is_default FROM addresses WHERE id = $1 AND user_id = $2 AND NOT deleted")
            .bind(id.get())
            .bind(user.get())
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("UPDATE addresses SET deleted = TRUE, is_default = FALSE WHERE id = $1")
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    if was_default {
        sqlx::query(
            "UPDATE addresses SET is_default = TRUE WHERE id = (
                 SELECT id FROM addresses WHERE user_id = $1 AND NOT deleted
                 ORDER BY created_at DESC, id DESC LIMIT 1)",
        )
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Keeps: all or nothing (one transaction); every user gets exactly one address, which is
/// their default. A name taken (or given twice) fails the UNIQUE constraint on
/// `username_key`, which is `Conflict::UsernameTaken`. Two statements for the whole batch:
/// the names and the user ids travel as arrays (`UNNEST`), so no limit on bound parameters
/// applies however many names there are.
async fn create_users_in_bulk(
    db: &PgRecords,
    usernames: &[Username],
    password_hash: &str,
    address: &NewAddress,
    now: Timestamp,
) -> DbResult<Vec<(UserId, AddressId)>> {
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = usernames.iter().map(Username::as_str).collect();
    let keys: Vec<String> = names.iter().map(|n| username_key(n)).collect();
    let mut tx = db.write().await?;
    let users: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO users (username, username_key, password_hash, level, created_at)
         SELECT name, key, $3, $4, $5 FROM UNNEST($1::text[], $2::text[]) AS n(name, key)
         RETURNING id, username_key",
    )
    .bind(&names)
    .bind(&keys)
    .bind(password_hash)
    .bind(i64::from(NEW_USER_LEVEL))
    .bind(millis(now))
    .fetch_all(&mut *tx)
    .await?;
    // RETURNING gives no order guarantee: match the rows to the names by key.
    let by_key: HashMap<String, i64> = users.into_iter().map(|(id, key)| (key, id)).collect();
    let user_ids = keys
        .iter()
        .map(|k| by_key.get(k).copied().ok_or_else(|| corrupt("a bulk user was not inserted")))
        .collect::<DbResult<Vec<i64>>>()?;
    let addresses: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO addresses (user_id, contact, phone, province, city, district, detail, is_default, created_at)
         SELECT u, $2, $3, $4, $5, $6, $7, TRUE, $8 FROM UNNEST($1::bigint[]) AS u
         RETURNING user_id, id",
    )
    .bind(&user_ids)
    .bind(&address.contact)
    .bind(&address.phone)
    .bind(&address.province)
    .bind(&address.city)
    .bind(&address.district)
    .bind(&address.detail)
    .bind(millis(now))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let by_user: HashMap<i64, i64> = addresses.into_iter().collect();
    user_ids
        .into_iter()
        .map(|user| {
            let address = by_user.get(&user).copied().ok_or_else(|| corrupt("a bulk address was not inserted"))?;
            Ok((UserId::try_from(user).map_err(corrupt)?, AddressId::try_from(address).map_err(corrupt)?))
        })
        .collect()
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
