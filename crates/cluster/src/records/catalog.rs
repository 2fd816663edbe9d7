//! Brands, categories, products and their SKUs, and the [`Catalog`] port on PostgreSQL (slots,
//! activities and search are handed to their own modules).
//!
//! Rules kept here, each inside one write transaction holding the catalog lock: a product's
//! brand and category exist; a category's parent exists and is never the category itself or
//! one of its descendants (the tree has no cycles); a SKU used by an activity is never removed
//! from its product.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::activity::{Activity, NewActivity};
use seckill_domain::catalog::{Brand, Category, NewBrand, NewCategory, NewProduct, Product, Sku};
use seckill_domain::ids::{ActivityId, BrandId, CategoryId, ProductId, SlotId};
use seckill_domain::slot::{NewTimeSlot, TimeSlot};
use seckill_domain::validation::FieldErrors;
use seckill_store::{ActivityQuery, Catalog, OrderCounts, Page, Paged, SearchHit, SearchQuery, StoreError};
use sqlx::PgConnection;

use super::PgRecords;
use super::accounts::contains_pattern;
use super::error::{DbResult, corrupt, invalid};
use super::rows::{BrandRow, CategoryRow, ProductRow, RowResult, SkuRow, millis, paged};
use super::{activities, search, slots};

#[async_trait]
impl Catalog for PgRecords {
    #[tracing::instrument(skip_all)]
    async fn create_brand(&self, new: &NewBrand, now: Timestamp) -> Result<Brand, StoreError> {
        Ok(create_brand(self, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn brands(&self) -> Result<Vec<Brand>, StoreError> {
        Ok(brands(self).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update_brand(&self, id: BrandId, new: &NewBrand, now: Timestamp) -> Result<Brand, StoreError> {
        Ok(update_brand(self, id, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn create_category(&self, new: &NewCategory, now: Timestamp) -> Result<Category, StoreError> {
        Ok(save_category(self, None, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        Ok(categories(self).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update_category(&self, id: CategoryId, new: &NewCategory, now: Timestamp) -> Result<Category, StoreError> {
        Ok(save_category(self, Some(id), new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn create_product(&self, new: &NewProduct, now: Timestamp) -> Result<Product, StoreError> {
        Ok(save_product(self, None, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn product(&self, id: ProductId) -> Result<Product, StoreError> {
        let mut tx = self.read().await?;
        let product = load_product(&mut tx, id).await?;
        tx.commit().await.map_err(super::DbError::from)?;
        Ok(product)
    }

    #[tracing::instrument(skip_all)]
    async fn products(&self, query: Option<&str>, page: Page) -> Result<Paged<Product>, StoreError> {
        Ok(products(self, query, page).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update_product(&self, id: ProductId, new: &NewProduct, now: Timestamp) -> Result<Product, StoreError> {
        Ok(save_product(self, Some(id), new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn create_slot(&self, new: &NewTimeSlot, now: Timestamp) -> Result<TimeSlot, StoreError> {
        Ok(slots::save_slot(self, None, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn slots(&self) -> Result<Vec<TimeSlot>, StoreError> {
        Ok(slots::live_slots(&mut *self.conn().await?).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update_slot(&self, id: SlotId, new: &NewTimeSlot, now: Timestamp) -> Result<TimeSlot, StoreError> {
        Ok(slots::save_slot(self, Some(id), new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_slot(&self, id: SlotId, now: Timestamp) -> Result<(), StoreError> {
        Ok(slots::delete_slot(self, id, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn create_activity(&self, new: &NewActivity, now: Timestamp) -> Result<Activity, StoreError> {
        Ok(activities::save_activity(self, None, new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn activity(&self, id: ActivityId) -> Result<Activity, StoreError> {
        let mut tx = self.read().await?;
        let activity = activities::load_activity(&mut tx, id).await?;
        tx.commit().await.map_err(super::DbError::from)?;
        Ok(activity)
    }

    #[tracing::instrument(skip_all)]
    async fn activities(&self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        Ok(activities::activities(self, query).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update_activity(&self, id: ActivityId, new: &NewActivity, now: Timestamp) -> Result<Activity, StoreError> {
        Ok(activities::save_activity(self, Some(id), new, now).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn set_activity_enabled(
        &self,
        id: ActivityId,
        enabled: bool,
        now: Timestamp,
    ) -> Result<Activity, StoreError> {
        Ok(activities::set_enabled(self, id, enabled, now).await?)
    }

    #[tracing::instrument(skip_all, fields(terms = query.terms().len()))]
    async fn search(&self, query: &SearchQuery, now: Timestamp, limit: u32) -> Result<Vec<SearchHit>, StoreError> {
        Ok(search::search(self, query, now, limit).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn order_counts(&self, ids: &[ActivityId]) -> Result<Vec<(ActivityId, OrderCounts)>, StoreError> {
        Ok(activities::order_counts(self, ids).await?)
    }
}

// ---- brands -------------------------------------------------------------------------------

async fn create_brand(db: &PgRecords, new: &NewBrand, now: Timestamp) -> DbResult<Brand> {
    // A lone insert breaks no cross-record rule: no catalog lock needed.
    let row: BrandRow = sqlx::query_as(
        "INSERT INTO brands (name, image_url, letter, sort, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, name, image_url, letter, sort",
    )
    .bind(&new.name)
    .bind(new.image_url.as_deref())
    .bind(new.letter.as_deref())
    .bind(i64::from(new.sort))
    .bind(millis(now))
    .fetch_one(&db.pool)
    .await?;
    Ok(row.into_brand()?)
}

async fn brands(db: &PgRecords) -> DbResult<Vec<Brand>> {
    let rows: Vec<BrandRow> =
        sqlx::query_as("SELECT id, name, image_url, letter, sort FROM brands ORDER BY sort, name, id")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(BrandRow::into_brand).collect::<RowResult<_>>()?)
}

async fn update_brand(db: &PgRecords, id: BrandId, new: &NewBrand, now: Timestamp) -> DbResult<Brand> {
    // The rename reaches the search index through a trigger, in this same statement.
    let row: Option<BrandRow> = sqlx::query_as(
        "UPDATE brands SET name = $1, image_url = $2, letter = $3, sort = $4, updated_at = $5 WHERE id = $6
         RETURNING id, name, image_url, letter, sort",
    )
    .bind(&new.name)
    .bind(new.image_url.as_deref())
    .bind(new.letter.as_deref())
    .bind(i64::from(new.sort))
    .bind(millis(now))
    .bind(id.get())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.ok_or(StoreError::NotFound)?.into_brand()?)
}

// ---- categories ---------------------------------------------------------------------------

async fn load_category(conn: &mut PgConnection, id: i64) -> DbResult<Category> {
    let row: CategoryRow = sqlx::query_as("SELECT id, name, parent_id, sort FROM categories WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into_category()?)
}

async fn categories(db: &PgRecords) -> DbResult<Vec<Category>> {
    let rows: Vec<CategoryRow> =
        sqlx::query_as("SELECT id, name, parent_id, sort FROM categories ORDER BY sort, name, id")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(CategoryRow::into_category).collect::<RowResult<_>>()?)
}

/// Creates (`id = None`) or replaces a category. Keeps the tree a tree: the parent exists and
/// is neither the category nor one of its descendants (checked under the catalog lock, so two
/// concurrent moves can never close a cycle between them).
async fn save_category(
    db: &PgRecords,
    id: Option<CategoryId>,
    new: &NewCategory,
    now: Timestamp,
) -> DbResult<Category> {
    let mut tx = db.catalog_write().await?;
    if let Some(id) = id {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE id = $1")
            .bind(id.get())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound.into());
        }
    }
    if let Some(parent) = new.parent_id {
        // The parent and its ancestors, walking up; the tree has no cycle, so this ends.
        let ancestors: Vec<i64> = sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id) AS (
                 SELECT id, parent_id FROM categories WHERE id = $1
                 UNION
                 SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id)
             SELECT id FROM up",
        )
        .bind(parent.get())
        .fetch_all(&mut *tx)
        .await?;
        if ancestors.is_empty() {
            return Err(invalid("parent_id", format!("category {parent} does not exist")));
        }
        if let Some(id) = id
            && ancestors.contains(&id.get())
        {
            return Err(invalid("parent_id", "must not be the category itself or one of its descendants"));
        }
    }
    let parent = new.parent_id.map(CategoryId::get);
    let id = match id {
        None => {
            sqlx::query_scalar(
                "INSERT INTO categories (name, parent_id, sort, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
                 RETURNING id",
            )
            .bind(&new.name)
            .bind(parent)
            .bind(i64::from(new.sort))
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?
        }
        Some(id) => {
            sqlx::query("UPDATE categories SET name = $1, parent_id = $2, sort = $3, updated_at = $4 WHERE id = $5")
                .bind(&new.name)
                .bind(parent)
                .bind(i64::from(new.sort))
                .bind(millis(now))
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
            id.get()
        }
    };
    let category = load_category(&mut tx, id).await?;
    tx.commit().await?;
    Ok(category)
}

// ---- products -----------------------------------------------------------------------------

/// The live SKUs of the products in `ids`, each list in the operator's order.
async fn live_skus(conn: &mut PgConnection, ids: &[i64]) -> DbResult<Vec<SkuRow>> {
    Ok(sqlx::query_as(
        "SELECT id, product_id, name, spec, price_cents, stock, seckill FROM skus
         WHERE product_id = ANY($1) AND deleted_at IS NULL
         ORDER BY product_id, position, id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?)
}

/// Products with their live SKUs: one query for all the SKUs, never one per product.
async fn with_skus(conn: &mut PgConnection, rows: Vec<ProductRow>) -> DbResult<Vec<Product>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut skus = live_skus(conn, &ids).await?;
    let mut products = Vec::with_capacity(rows.len());
    for row in rows {
        let mine: Vec<Sku> =
            skus.extract_if(.., |s| s.product_id == row.id).map(SkuRow::into_sku).collect::<RowResult<_>>()?;
        products.push(Product {
            id: row.product_id()?,
            brand_id: row.brand_id()?,
            category_id: row.category_id()?,
            image_urls: row.image_urls,
            name: row.name,
            description: row.description,
            skus: mine,
        });
    }
    Ok(products)
}

/// One product with its live SKUs; `NotFound` if absent.
pub(crate) async fn load_product(conn: &mut PgConnection, id: ProductId) -> DbResult<Product> {
    let row: ProductRow =
        sqlx::query_as("SELECT id, name, brand_id, category_id, description, image_urls FROM products WHERE id = $1")
            .bind(id.get())
            .fetch_one(&mut *conn)
            .await?;
    with_skus(conn, vec![row]).await?.pop().ok_or_else(|| corrupt(format!("product {id} vanished")))
}

/// The products with these ids and their live SKUs, in the order given; ids of no product are
/// left out.
pub(crate) async fn products_by_id(conn: &mut PgConnection, ids: &[i64]) -> DbResult<Vec<Product>> {
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, name, brand_id, category_id, description, image_urls FROM products WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = with_skus(conn, rows).await?;
    let mut ordered = Vec::with_capacity(found.len());
    for id in ids {
        if let Some(i) = found.iter().position(|p| p.id.get() == *id) {
            ordered.push(found.swap_remove(i));
        }
    }
    Ok(ordered)
}

async fn products(db: &PgRecords, query: Option<&str>, page: Page) -> DbResult<Paged<Product>> {
    // ILIKE: the filter ignores letter case, as SQLite's LIKE does.
    let pattern = contains_pattern(query);
    let mut tx = db.read().await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM products WHERE $1::text IS NULL OR name ILIKE $1 ESCAPE '\\'")
            .bind(pattern.as_deref())
            .fetch_one(&mut *tx)
            .await?;
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, name, brand_id, category_id, description, image_urls FROM products
         WHERE $1::text IS NULL OR name ILIKE $1 ESCAPE '\\'
         ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(pattern.as_deref())
    .bind(i64::from(page.per_page()))
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let items = with_skus(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(paged(items, total, page))
}

/// Creates (`id = None`) or replaces a product with its SKUs. Keeps: brand and category exist;
/// a listed SKU id belongs to this product; a SKU left out is removed (soft) unless an activity
/// uses it.
async fn save_product(db: &PgRecords, id: Option<ProductId>, new: &NewProduct, now: Timestamp) -> DbResult<Product> {
    let mut tx = db.catalog_write().await?;
    let mut errors = FieldErrors::new();
    if let Some(brand) = new.brand_id {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM brands WHERE id = $1")
            .bind(brand.get())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            errors.add("brand_id", format!("brand {brand} does not exist"));
        }
    }
    if let Some(category) = new.category_id {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE id = $1")
            .bind(category.get())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            errors.add("category_id", format!("category {category} does not exist"));
        }
    }

    let product_id = match id {
        None => {
            if !errors.is_empty() {
                return Err(errors.into());
            }
            sqlx::query_scalar(
                "INSERT INTO products (name, brand_id, category_id, description, image_urls, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(&new.name)
            .bind(new.brand_id.map(BrandId::get))
            .bind(new.category_id.map(CategoryId::get))
            .bind(&new.description)
            .bind(&new.image_urls)
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?
        }
        Some(id) => {
            let current = load_product(&mut tx, id).await?;
            for (i, sku) in new.skus.iter().enumerate() {
                if let Some(sku_id) = sku.id
                    && current.sku(sku_id).is_none()
                {
                    errors.add(format!("skus[{i}].id"), format!("sku {sku_id} is not a sku of product {id}"));
                }
            }
            let removed: Vec<i64> = current
                .skus
                .iter()
                .filter(|old| !new.skus.iter().any(|n| n.id == Some(old.id)))
                .map(|old| old.id.get())
                .collect();
            if !removed.is_empty() {
                let used: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT sku_id, min(activity_id) FROM activity_skus
                     WHERE sku_id = ANY($1) GROUP BY sku_id ORDER BY sku_id",
                )
                .bind(&removed)
                .fetch_all(&mut *tx)
                .await?;
                if let Some((sku, activity)) = used.first() {
                    errors.add("skus", format!("sku {sku} is used by activity {activity} and cannot be removed"));
                }
            }
            if !errors.is_empty() {
                return Err(errors.into());
            }
            sqlx::query(
                "UPDATE products SET name = $1, brand_id = $2, category_id = $3, description = $4, image_urls = $5,
                 updated_at = $6 WHERE id = $7",
            )
            .bind(&new.name)
            .bind(new.brand_id.map(BrandId::get))
            .bind(new.category_id.map(CategoryId::get))
            .bind(&new.description)
            .bind(&new.image_urls)
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE skus SET deleted_at = $1, updated_at = $1 WHERE id = ANY($2)")
                .bind(millis(now))
                .bind(&removed)
                .execute(&mut *tx)
                .await?;
            id.get()
        }
    };

    for (position, sku) in new.skus.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match sku.id.filter(|_| id.is_some()) {
            Some(sku_id) => {
                sqlx::query(
                    "UPDATE skus SET name = $1, spec = $2, price_cents = $3, stock = $4, position = $5, updated_at = $6
                     WHERE id = $7 AND product_id = $8",
                )
                .bind(&sku.name)
                .bind(&sku.spec)
                .bind(sku.price.cents())
                .bind(i64::from(sku.stock))
                .bind(position)
                .bind(millis(now))
                .bind(sku_id.get())
                .bind(product_id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO skus (product_id, name, spec, price_cents, stock, position, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(product_id)
                .bind(&sku.name)
                .bind(&sku.spec)
                .bind(sku.price.cents())
                .bind(i64::from(sku.stock))
                .bind(position)
                .bind(millis(now))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    let product = load_product(&mut tx, ProductId::from_raw(product_id)).await?;
    tx.commit().await?;
    Ok(product)
}
