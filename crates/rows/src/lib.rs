//! Rows as both record backends (SQLite in `seckill-embedded`, PostgreSQL in `seckill-cluster`)
//! read them, and their checked conversion into domain types. The `FromRow` derive is generic over
//! the driver, so one definition serves both; what differs (how a product's image URLs are stored)
//! stays in each backend.
//!
//! Every conversion re-checks what the domain promises (positive ids, levels 0–100, spans with
//! `start < end`, non-negative stock): a stored value that does not fit is corruption and
//! answers [`StoreError::Internal`], never a panic or a
//! silently wrong value.

use seckill_domain::Timestamp;
use seckill_domain::activity::{ActivitySku, ActivitySlot};
use seckill_domain::catalog::{Brand, Category, Sku};
use seckill_domain::ids::{AddressId, AdminId, BrandId, CategoryId, SkuId, SlotId, UserId};
use seckill_domain::money::Money;
use seckill_domain::slot::{SlotSpan, SlotTime, TimeSlot};
use seckill_domain::user::{Address, Admin, User};

use seckill_store::StoreError;

/// The result of a conversion helper: `StoreError::Internal` for stored data that does not fit.
/// The rows' own conversions answer in the caller's error type (`E: From<StoreError>`).
pub type RowResult<T> = Result<T, StoreError>;

/// Stored data that breaks our own rules (a bug or corruption).
pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored data does not fit the domain: {what}"))
}

/// Unix milliseconds, as every time column stores it.
pub fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A stored time.
pub fn timestamp(ms: i64) -> RowResult<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| corrupt(format!("time {ms}: {e}")))
}

/// A stored id of type `T`.
pub fn id<T: TryFrom<i64>>(raw: i64) -> RowResult<T> {
    T::try_from(raw).map_err(|_| corrupt(format!("id {raw}")))
}

/// A stored non-negative count (stock, sold, limits).
pub fn count(raw: i64) -> RowResult<u32> {
    u32::try_from(raw).map_err(|_| corrupt(format!("count {raw}")))
}

/// A stored level, 0–100.
pub fn level(raw: i64) -> RowResult<u8> {
    u8::try_from(raw).ok().filter(|l| *l <= 100).ok_or_else(|| corrupt(format!("level {raw}")))
}

/// A stored `sort` value.
pub fn sort(raw: i64) -> RowResult<i32> {
    i32::try_from(raw).map_err(|_| corrupt(format!("sort {raw}")))
}

/// A stored slot span.
pub fn span(start_minute: i64, end_minute: i64) -> RowResult<SlotSpan> {
    let minute = |m: i64| u16::try_from(m).ok().and_then(|m| SlotTime::from_minutes(m).ok());
    match (minute(start_minute), minute(end_minute)) {
        (Some(s), Some(e)) => SlotSpan::new(s, e).map_err(|_| corrupt(format!("span {start_minute}..{end_minute}"))),
        _ => Err(corrupt(format!("span {start_minute}..{end_minute}"))),
    }
}

/// `users` without the password hash.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub level: i64,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: Option<String>,
    pub created_at: i64,
}

impl UserRow {
    pub fn into_user(self) -> RowResult<User> {
        Ok(User {
            id: id::<UserId>(self.id)?,
            username: self.username,
            level: level(self.level)?,
            phone: self.phone,
            email: self.email,
            nickname: self.nickname,
            created_at: timestamp(self.created_at)?,
        })
    }
}

/// `admins` without the password hash.
#[derive(Debug, sqlx::FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub created_at: i64,
}

impl AdminRow {
    pub fn into_admin(self) -> RowResult<Admin> {
        Ok(Admin { id: id::<AdminId>(self.id)?, username: self.username, created_at: timestamp(self.created_at)? })
    }
}

/// A live row of `addresses`.
#[derive(Debug, sqlx::FromRow)]
pub struct AddressRow {
    pub id: i64,
    pub user_id: i64,
    pub contact: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: bool,
}

impl AddressRow {
    pub fn into_address(self) -> RowResult<Address> {
        Ok(Address {
            id: id::<AddressId>(self.id)?,
            user_id: id::<UserId>(self.user_id)?,
            contact: self.contact,
            phone: self.phone,
            province: self.province,
            city: self.city,
            district: self.district,
            detail: self.detail,
            is_default: self.is_default,
        })
    }
}

/// `brands`.
#[derive(Debug, sqlx::FromRow)]
pub struct BrandRow {
    pub id: i64,
    pub name: String,
    pub image_url: Option<String>,
    pub letter: Option<String>,
    pub sort: i64,
}

impl BrandRow {
    pub fn into_brand(self) -> RowResult<Brand> {
        Ok(Brand {
            id: id::<BrandId>(self.id)?,
            name: self.name,
            image_url: self.image_url,
            letter: self.letter,
            sort: sort(self.sort)?,
        })
    }
}

/// `categories`.
#[derive(Debug, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub sort: i64,
}

impl CategoryRow {
    pub fn into_category(self) -> RowResult<Category> {
        Ok(Category {
            id: id::<CategoryId>(self.id)?,
            name: self.name,
            parent_id: self.parent_id.map(id::<CategoryId>).transpose()?,
            sort: sort(self.sort)?,
        })
    }
}

/// A live row of `skus`.
#[derive(Debug, sqlx::FromRow)]
pub struct SkuRow {
    pub id: i64,
    pub product_id: i64,
    pub name: String,
    pub spec: String,
    pub price_cents: i64,
    pub stock: i64,
    pub seckill: bool,
}

impl SkuRow {
    pub fn into_sku(self) -> RowResult<Sku> {
        if self.price_cents <= 0 {
            return Err(corrupt(format!("sku {} price {}", self.id, self.price_cents)));
        }
        Ok(Sku {
            id: id::<SkuId>(self.id)?,
            name: self.name,
            spec: self.spec,
            price: Money::from_cents(self.price_cents),
            stock: count(self.stock)?,
            seckill: self.seckill,
        })
    }
}

/// A live row of `time_slots`.
#[derive(Debug, sqlx::FromRow)]
pub struct SlotRow {
    pub id: i64,
    pub name: String,
    pub start_minute: i64,
    pub end_minute: i64,
    pub enabled: bool,
    pub sort: i64,
}

impl SlotRow {
    pub fn into_slot(self) -> RowResult<TimeSlot> {
        Ok(TimeSlot {
            id: id::<SlotId>(self.id)?,
            name: self.name,
            span: span(self.start_minute, self.end_minute)?,
            enabled: self.enabled,
            sort: sort(self.sort)?,
        })
    }
}

/// `activities`, without slots and SKUs.
#[derive(Debug, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: i64,
    pub name: String,
    pub product_id: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub total_limit: i64,
    pub single_limit: i64,
    pub min_level: i64,
    pub reservation_required: bool,
    pub pay_timeout_secs: i64,
    pub enabled: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One slot of an activity, joined from `activity_time_slots` and `time_slots` (deleted slots
/// included: finished activities keep showing them).
#[derive(Debug, sqlx::FromRow)]
pub struct ActivitySlotRow {
    pub activity_id: i64,
    pub id: i64,
    pub name: String,
    pub start_minute: i64,
    pub end_minute: i64,
    /// `enabled` and not deleted: a deleted slot opens no window.
    pub enabled: bool,
}

impl ActivitySlotRow {
    pub fn into_slot(self) -> RowResult<ActivitySlot> {
        Ok(ActivitySlot {
            id: id::<SlotId>(self.id)?,
            name: self.name,
            span: span(self.start_minute, self.end_minute)?,
            enabled: self.enabled,
        })
    }
}

/// One row of `activity_skus`.
#[derive(Debug, sqlx::FromRow)]
pub struct ActivitySkuRow {
    pub activity_id: i64,
    pub sku_id: i64,
    pub seckill_price_cents: i64,
    pub stock: i64,
    pub sold: i64,
}

impl ActivitySkuRow {
    pub fn into_sku(self) -> RowResult<ActivitySku> {
        let (stock, sold) = (count(self.stock)?, count(self.sold)?);
        if self.seckill_price_cents <= 0 || sold > stock {
            return Err(corrupt(format!("activity {} sku {}", self.activity_id, self.sku_id)));
        }
        Ok(ActivitySku {
            sku_id: id::<SkuId>(self.sku_id)?,
            seckill_price: Money::from_cents(self.seckill_price_cents),
            stock,
            sold,
        })
    }
}

/// One page of a list, with the size of the whole list.
pub fn paged<T>(items: Vec<T>, total: i64, page: seckill_store::Page) -> seckill_store::Paged<T> {
    seckill_store::Paged {
        items,
        total: u64::try_from(total).unwrap_or_default(),
        page: page.number(),
        per_page: page.per_page(),
    }
}

/// An order search ([`OrderFilter`](seckill_store::orders::OrderFilter)) as two queries for
/// either backend: the count of matching orders, and the `columns` of one page of them, newest
/// first. The `WHERE` holds only the conditions asked for — `activity_id = ?`, `status = ?`,
/// `user_id = ?` — so each can use its index: the catch-all form `(? IS NULL OR user_id = ?)`
/// made SQLite read every order for one shopper's list (and PostgreSQL's generic plan
/// likewise), so after a big sale every "my orders" page scanned the table. Pages come in the
/// order of an index (`created_at` alone, or after `activity_id` / `activity_id, status`), so
/// an operator's page reads its own rows instead of sorting every order of the sale; only a
/// shopper's own few orders are sorted after their lookup.
pub fn order_search<DB>(
    columns: &str,
    filter: &seckill_store::orders::OrderFilter,
    page: seckill_store::Page,
) -> (sqlx::QueryBuilder<DB>, sqlx::QueryBuilder<DB>)
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Arguments: Default,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM orders");
    push_order_filter(&mut count, filter);
    let mut select = sqlx::QueryBuilder::new(format!("SELECT {columns} FROM orders"));
    push_order_filter(&mut select, filter);
    select
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(page.per_page()))
        .push(" OFFSET ")
        .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
    (count, select)
}

/// The `WHERE` of [`order_search`].
fn push_order_filter<DB>(query: &mut sqlx::QueryBuilder<DB>, filter: &seckill_store::orders::OrderFilter)
where
    DB: sqlx::Database,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    let mut keyword = " WHERE ";
    if let Some(activity) = filter.activity_id {
        // With a shopper named too, the shopper's index finds their few orders, sorted after;
        // the unary `+` keeps SQLite from walking the whole sale's `(activity_id, created_at)`
        // index instead just because it comes in page order (SQLite's documented way to take a
        // term out of index selection; a no-op on the value in both backends).
        let column = if filter.user_id.is_some() { "+activity_id = " } else { "activity_id = " };
        query.push(keyword).push(column).push_bind(activity.get());
        keyword = " AND ";
    }
    if let Some(status) = filter.status {
        query.push(keyword).push("status = ").push_bind(status.as_str());
        keyword = " AND ";
    }
    if let Some(user) = filter.user_id {
        query.push(keyword).push("user_id = ").push_bind(user.get());
    }
}
