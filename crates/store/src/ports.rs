//! The traits a backend implements. Every method that depends on time takes `now` from the
//! caller's injected clock; stores never read the system clock.

use std::sync::Arc;

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::activity::{Activity, NewActivity};
use seckill_domain::catalog::{Brand, Category, NewBrand, NewCategory, NewProduct, Product};
use seckill_domain::ids::{ActivityId, AddressId, BrandId, CategoryId, ProductId, SlotId, UserId};
use seckill_domain::slot::{NewTimeSlot, TimeSlot};
use seckill_domain::user::{Address, Admin, NewAddress, NewUser, User, Username};

use crate::error::StoreError;
use crate::orders::Orders;
use crate::page::{Page, Paged};
use crate::search::{SearchHit, SearchQuery};

/// An account with its stored password hash, for a login check.
#[derive(Debug, Clone)]
pub struct Credentials<T> {
    pub account: T,
    /// The PHC string (`$argon2id$...`). Never logged, never sent.
    pub password_hash: String,
}

/// Shoppers, operators and addresses.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Registers a shopper at level [`NEW_USER_LEVEL`](seckill_domain::user::NEW_USER_LEVEL).
    /// `Conflict::UsernameTaken` when the name exists in any letter case.
    async fn create_user(&self, new: &NewUser, password_hash: &str, now: Timestamp) -> Result<User, StoreError>;

    /// The shopper with this username (any letter case) and their password hash.
    async fn user_credentials(&self, username: &str) -> Result<Option<Credentials<User>>, StoreError>;

    /// One shopper; `NotFound` if absent.
    async fn user(&self, id: UserId) -> Result<User, StoreError>;

    /// Shoppers by id, optionally only those whose username contains `query`.
    async fn users(&self, query: Option<&str>, page: Page) -> Result<Paged<User>, StoreError>;

    /// Sets a shopper's membership level (0–100).
    async fn set_user_level(&self, id: UserId, level: u8) -> Result<User, StoreError>;

    /// Creates an operator; `Conflict::UsernameTaken` when the name exists in any letter case.
    async fn create_admin(&self, username: &Username, password_hash: &str, now: Timestamp)
    -> Result<Admin, StoreError>;

    /// Replaces an operator's password; `NotFound` if there is no such operator.
    async fn set_admin_password(&self, username: &Username, password_hash: &str) -> Result<Admin, StoreError>;

    /// The operator with this username (any letter case) and their password hash.
    async fn admin_credentials(&self, username: &str) -> Result<Option<Credentials<Admin>>, StoreError>;

    /// Adds an address. The first address of a user, or one marked default, becomes the only
    /// default. At most [`MAX_ADDRESSES`](seckill_domain::user::MAX_ADDRESSES) per user
    /// (`Invalid` beyond).
    async fn add_address(&self, user: UserId, new: &NewAddress, now: Timestamp) -> Result<Address, StoreError>;

    /// A user's addresses, the default first.
    async fn addresses(&self, user: UserId) -> Result<Vec<Address>, StoreError>;

    /// One of the user's addresses; `NotFound` for another user's or a deleted one.
    async fn address(&self, user: UserId, id: AddressId) -> Result<Address, StoreError>;

    /// Removes one of the user's addresses (orders keep their own copy). If it was the
    /// default, the most recent remaining address becomes the default.
    async fn delete_address(&self, user: UserId, id: AddressId) -> Result<(), StoreError>;

    /// Registers many shoppers at once (load tests, imports): each at
    /// [`NEW_USER_LEVEL`](seckill_domain::user::NEW_USER_LEVEL) with `password_hash` (pass one
    /// that no password matches, such as `"!"`, for accounts that never sign in) and `address`
    /// as their one, default, address. Answers `(user, address)` ids in the order of
    /// `usernames`. All or nothing, in one transaction: `Conflict::UsernameTaken` when a name
    /// exists already or appears twice, in any letter case, and then nobody is created. Callers
    /// send large batches (thousands of names) — that is what makes it fast.
    async fn create_users_in_bulk(
        &self,
        usernames: &[Username],
        password_hash: &str,
        address: &NewAddress,
        now: Timestamp,
    ) -> Result<Vec<(UserId, AddressId)>, StoreError>;
}

/// Which activities to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    /// Only activities with `ends_at > ends_after` (not finished by then).
    pub ends_after: Option<Timestamp>,
    /// Only activities of this product.
    pub product_id: Option<ProductId>,
}

/// Order counts of one activity, for the operators' live figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderCounts {
    /// Orders placed and not cancelled.
    pub orders: u64,
    /// Of those, orders paid (paid, shipped or completed).
    pub paid: u64,
}

/// The operators' catalog: brands, categories, products, time slots and activities.
///
/// Cross-record rules are checked inside the store's transaction, so two concurrent changes
/// can never both slip past a rule.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Adds a brand.
    async fn create_brand(&self, new: &NewBrand, now: Timestamp) -> Result<Brand, StoreError>;
    /// Every brand, by `sort` then name.
    async fn brands(&self) -> Result<Vec<Brand>, StoreError>;
    /// Replaces a brand's fields.
    async fn update_brand(&self, id: BrandId, new: &NewBrand, now: Timestamp) -> Result<Brand, StoreError>;

    /// Adds a category; `Invalid` (`parent_id`) if the parent does not exist.
    async fn create_category(&self, new: &NewCategory, now: Timestamp) -> Result<Category, StoreError>;
    /// Every category, by `sort` then name.
    async fn categories(&self) -> Result<Vec<Category>, StoreError>;
    /// Replaces a category's fields; `Invalid` if the parent does not exist or is the category
    /// itself or one of its descendants.
    async fn update_category(&self, id: CategoryId, new: &NewCategory, now: Timestamp) -> Result<Category, StoreError>;

    /// Adds a product with its SKUs; `Invalid` (`brand_id`, `category_id`) if those do not
    /// exist. SKU ids in `new` are ignored.
    async fn create_product(&self, new: &NewProduct, now: Timestamp) -> Result<Product, StoreError>;
    /// One product with its SKUs.
    async fn product(&self, id: ProductId) -> Result<Product, StoreError>;
    /// Products by id, newest first, optionally only those whose name contains `query`.
    async fn products(&self, query: Option<&str>, page: Page) -> Result<Paged<Product>, StoreError>;
    /// Replaces a product. SKUs with an `id` of this product are updated, SKUs without one are
    /// added, and SKUs not listed are removed — unless an activity uses them (`Invalid`,
    /// `skus`). An `id` of another product is `Invalid`.
    async fn update_product(&self, id: ProductId, new: &NewProduct, now: Timestamp) -> Result<Product, StoreError>;

    /// Adds a slot; `Conflict::SlotOverlap` if enabled and overlapping an enabled slot.
    async fn create_slot(&self, new: &NewTimeSlot, now: Timestamp) -> Result<TimeSlot, StoreError>;
    /// Every slot not deleted, by `sort` then start.
    async fn slots(&self) -> Result<Vec<TimeSlot>, StoreError>;
    /// Replaces a slot (`SlotOverlap` as for create). Activities using it change with it: their
    /// `version` moves.
    async fn update_slot(&self, id: SlotId, new: &NewTimeSlot, now: Timestamp) -> Result<TimeSlot, StoreError>;
    /// Deletes a slot; `Conflict::SlotInUse` while an activity that has not finished at `now`
    /// uses it. Finished activities keep showing it.
    async fn delete_slot(&self, id: SlotId, now: Timestamp) -> Result<(), StoreError>;

    /// Adds an activity after [`NewActivity::check_against`] the product and slots (`Invalid`)
    /// and the one-activity-per-product rule (`Conflict::ProductInActivity`, only when the new
    /// activity is enabled).
    async fn create_activity(&self, new: &NewActivity, now: Timestamp) -> Result<Activity, StoreError>;
    /// One activity with its slots and SKUs (with `sold`).
    async fn activity(&self, id: ActivityId) -> Result<Activity, StoreError>;
    /// Activities matching `query`, by `starts_at` then id.
    async fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError>;
    /// Replaces an activity's definition under the same rules as create, and
    /// `Conflict::StockBelowSold` if a SKU's stock would drop below its `sold` (a SKU with sales
    /// cannot be removed); the product cannot change once anything is sold (`Invalid`).
    async fn update_activity(&self, id: ActivityId, new: &NewActivity, now: Timestamp) -> Result<Activity, StoreError>;
    /// Switches an activity on or off; switching on re-checks `ProductInActivity`.
    async fn set_activity_enabled(&self, id: ActivityId, enabled: bool, now: Timestamp)
    -> Result<Activity, StoreError>;
    /// Order counts per activity (activities without orders are absent).
    async fn order_counts(&self, activities: &[ActivityId]) -> Result<Vec<(ActivityId, OrderCounts)>, StoreError>;

    /// Shoppers' search: the enabled activities not finished at `now` (`ends_at > now`) whose
    /// product matches every term of `query`, at most `limit`, each with its product.
    ///
    /// A term matches when it occurs, in any letter case, as a substring of the product's name,
    /// its brand's name or its category's name (so `手机` and `mate` match inside `华为Mate70
    /// 5G手机`); different terms may match different names. Best first: products whose own name
    /// holds every term, then the rest; within each, by `starts_at` then activity id.
    ///
    /// The index behind it is kept in step with every change of a product, brand or category in
    /// the same transaction: a rename is searchable as soon as it is stored. No query text is
    /// ever an error (`StoreError` only for a store failure).
    async fn search(&self, query: &SearchQuery, now: Timestamp, limit: u32) -> Result<Vec<SearchHit>, StoreError>;
}

/// Whether the records answer at all.
#[async_trait]
pub trait Health: Send + Sync + 'static {
    /// A cheap round trip to the records.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything a backend hands to the server. Cloning shares the same backend.
#[derive(Clone)]
pub struct Records {
    pub accounts: Arc<dyn Accounts>,
    pub catalog: Arc<dyn Catalog>,
    pub orders: Arc<dyn Orders>,
    pub health: Arc<dyn Health>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}

impl Records {
    /// Bundles one backend object that implements every port.
    pub fn from_backend<B: Accounts + Catalog + Orders + Health>(backend: Arc<B>) -> Self {
        Records { accounts: backend.clone(), catalog: backend.clone(), orders: backend.clone(), health: backend }
    }
}
