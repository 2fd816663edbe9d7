//! Shapes shared by several endpoints: lists, pages, users, addresses, slots. Request bodies are
//! raw (`i64`, `String`) and are parsed into domain types with the domain's own constructors;
//! responses are built from domain values. Times are RFC 3339 UTC, money is `*_cents`.

use jiff::Timestamp;
use seckill_domain::activity::ActivitySlot;
use seckill_domain::slot::TimeSlot;
use seckill_domain::user::{Address, User};
use seckill_store::Paged;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A list: `{"items": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Items<T> {
    /// Wraps `items`.
    pub fn of(items: impl IntoIterator<Item = T>) -> Self {
        Items { items: items.into_iter().collect() }
    }
}

/// One page of a long list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: u64,
    /// 1-based page number.
    pub page: u32,
    pub per_page: u32,
}

impl<T> PageOf<T> {
    /// The page `paged`, each item converted.
    pub fn map<U>(paged: Paged<U>, f: impl FnMut(U) -> T) -> Self {
        PageOf {
            items: paged.items.into_iter().map(f).collect(),
            total: paged.total,
            page: paged.page,
            per_page: paged.per_page,
        }
    }
}

/// `?q=&page=&per_page=` of a searchable, paged list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Only items whose name contains this.
    pub q: Option<String>,
    /// 1-based page (default 1).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub per_page: Option<u32>,
}

impl PageQuery {
    /// The page asked for, clamped into range.
    pub fn page(&self) -> seckill_store::Page {
        seckill_store::Page::new(self.page, self.per_page)
    }

    /// The search text, if any non-blank.
    pub fn query(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// A shopper.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    /// Membership level; activities may require a minimum.
    pub level: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id.get(),
            username: u.username,
            level: u.level,
            phone: u.phone,
            email: u.email,
            nickname: u.nickname,
            created_at: u.created_at,
        }
    }
}

/// A shopper's delivery address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub id: i64,
    pub contact: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: bool,
}

impl From<Address> for AddressView {
    fn from(a: Address) -> Self {
        AddressView {
            id: a.id.get(),
            contact: a.contact,
            phone: a.phone,
            province: a.province,
            city: a.city,
            district: a.district,
            detail: a.detail,
            is_default: a.is_default,
        }
    }
}

/// A daily time slot (场次), bounds as `"HH:MM"` in the shop's zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub id: i64,
    pub name: String,
    #[schema(example = "10:00")]
    pub start: String,
    #[schema(example = "12:00")]
    pub end: String,
    pub enabled: bool,
    pub sort: i32,
}

impl From<TimeSlot> for SlotView {
    fn from(s: TimeSlot) -> Self {
        SlotView {
            id: s.id.get(),
            name: s.name,
            start: s.span.start().to_string(),
            end: s.span.end().to_string(),
            enabled: s.enabled,
            sort: s.sort,
        }
    }
}

/// A slot an activity sells in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivitySlotView {
    pub id: i64,
    pub name: String,
    #[schema(example = "10:00")]
    pub start: String,
    #[schema(example = "12:00")]
    pub end: String,
    pub enabled: bool,
}

impl From<&ActivitySlot> for ActivitySlotView {
    fn from(s: &ActivitySlot) -> Self {
        ActivitySlotView {
            id: s.id.get(),
            name: s.name.clone(),
            start: s.span.start().to_string(),
            end: s.span.end().to_string(),
            enabled: s.enabled,
        }
    }
}

/// `{"status": "..."}` of the probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}
