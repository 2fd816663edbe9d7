//! Brands, categories, products and their SKUs, and the [`Catalog`] port on SQLite (slots,
//! activities and search are handed to their own modules).
//!
//! Rules kept here, each inside one write transaction: a product's brand and category exist;
//! a category's parent exists and is never the category itself or one of its descendants (the
//! tree has no cycles); a SKU used by an activity is never removed from its product.

use async_trait::async_trait;
use seckill_domain::Timestamp;
use seckill_domain::activity::{Activity, NewActivity};
use seckill_domain::catalog::{Brand, Category, NewBrand, NewCategory, NewProduct, Product, Sku};
use seckill_domain::ids::{ActivityId, BrandId, CategoryId, ProductId, SlotId};
use seckill_domain::slot::{NewTimeSlot, TimeSlot};
use seckill_domain::validation::FieldErrors;
use seckill_store::{ActivityQuery, Catalog, OrderCounts, Page, Paged, SearchHit, SearchQuery, StoreError};
use sqlx::SqliteConnection;

use super::SqliteRecords;
use super::accounts::contains_pattern;
use super::error::{DbResult, corrupt, invalid};
use super::rows::{BrandRow, CategoryRow, ProductRow, RowResult, SkuRow, id_list, millis, paged};
use super::{activities, search, slots};

#[async_trait]
impl Catalog for SqliteRecords {
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
        Ok(load_product(&mut tx, id).await?)
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
        Ok(slots::live_slots(&mut *self.reader_conn().await?).await?)
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
        Ok(activities::load_activity(&mut tx, id).await?)
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

async fn load_brand(conn: &mut SqliteConnection, id: i64) -> DbResult<Brand> {
    let row: BrandRow = sqlx::query_as("SELECT id, name, image_url, letter, sort FROM brands WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into_brand()?)
}

async fn create_brand(db: &SqliteRecords, new: &NewBrand, now: Timestamp) -> DbResult<Brand> {
    let mut tx = db.write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO brands (name, image_url, letter, sort, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.image_url.as_deref())
    .bind(new.letter.as_deref())
    .bind(new.sort)
    .bind(millis(now))
    .bind(millis(now))
    .fetch_one(&mut *tx)
    .await?;
    let brand = load_brand(&mut tx, id).await?;
    tx.commit().await?;
    Ok(brand)
}

async fn brands(db: &SqliteRecords) -> DbResult<Vec<Brand>> {
    let rows: Vec<BrandRow> =
        sqlx::query_as("SELECT id, name, image_url, letter, sort FROM brands ORDER BY sort, name, id")
            .fetch_all(&db.reader)
            .await?;
    Ok(rows.into_iter().map(BrandRow::into_brand).collect::<RowResult<_>>()?)
}

async fn update_brand(db: &SqliteRecords, id: BrandId, new: &NewBrand, now: Timestamp) -> DbResult<Brand> {
    let mut tx = db.write().await?;
    let changed =
        sqlx::query("UPDATE brands SET name = ?, image_url = ?, letter = ?, sort = ?, updated_at = ? WHERE id = ?")
            .bind(&new.name)
            .bind(new.image_url.as_deref())
            .bind(new.letter.as_deref())
            .bind(new.sort)
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound.into());
    }
    let brand = load_brand(&mut tx, id.get()).await?;
    tx.commit().await?;
    Ok(brand)
}

// ---- categories ---------------------------------------------------------------------------

async fn load_category(conn: &mut SqliteConnection, id: i64) -> DbResult<Category> {
    let row: CategoryRow = sqlx::query_as("SELECT id, name, parent_id, sort FROM categories WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into_category()?)
}

async fn categories(db: &SqliteRecords) -> DbResult<Vec<Category>> {
    let rows: Vec<CategoryRow> =
        sqlx::query_as("SELECT id, name, parent_id, sort FROM categories ORDER BY sort, name, id")
            .fetch_all(&db.reader)
            .await?;
    Ok(rows.into_iter().map(CategoryRow::into_category).collect::<RowResult<_>>()?)
}

/// Creates (`id = None`) or replaces a category. Keeps the tree a tree: the parent exists and
/// is neither the category nor one of its descendants.
async fn save_category(
    db: &SqliteRecords,
    id: Option<CategoryId>,
    new: &NewCategory,
    now: Timestamp,
) -> DbResult<Category> {
    let mut tx = db.write().await?;
    if let Some(id) = id {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE id = ?")
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
                 SELECT id, parent_id FROM categories WHERE id = ?
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
                "INSERT INTO categories (name, parent_id, sort, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&new.name)
            .bind(parent)
            .bind(new.sort)
            .bind(millis(now))
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?
        }
        Some(id) => {
            sqlx::query("UPDATE categories SET name = ?, parent_id = ?, sort = ?, updated_at = ? WHERE id = ?")
                .bind(&new.name)
                .bind(parent)
                .bind(new.sort)
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
async fn live_skus(conn: &mut SqliteConnection, ids: &[i64]) -> DbResult<Vec<SkuRow>> {
    Ok(sqlx::query_as(
        "SELECT id, product_id, name, spec, price_cents, stock, seckill FROM skus
         WHERE product_id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL
         ORDER BY product_id, position, id",
    )
    .bind(id_list(ids.iter().copied()))
    .fetch_all(&mut *conn)
    .await?)
}

/// Products with their live SKUs: one query for all the SKUs, never one per product.
async fn with_skus(conn: &mut SqliteConnection, rows: Vec<ProductRow>) -> DbResult<Vec<Product>> {
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
            image_urls: row.image_urls()?,
            name: row.name,
            description: row.description,
            skus: mine,
        });
    }
    Ok(products)
}

/// One product with its live SKUs; `NotFound` if absent.
pub(crate) async fn load_product(conn: &mut SqliteConnection, id: ProductId) -> DbResult<Product> {
    let row: ProductRow =
        sqlx::query_as("SELECT id, name, brand_id, category_id, description, image_urls FROM products WHERE id = ?")
            .bind(id.get())
            .fetch_one(&mut *conn)
            .await?;
    with_skus(conn, vec![row]).await?.pop().ok_or_else(|| corrupt(format!("product {id} vanished")))
}

/// The products with these ids and their live SKUs, in the order given; ids of no product are
/// left out.
pub(crate) async fn products_by_id(conn: &mut SqliteConnection, ids: &[i64]) -> DbResult<Vec<Product>> {
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, name, brand_id, category_id, description, image_urls FROM products
         WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(id_list(ids.iter().copied()))
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

async fn products(db: &SqliteRecords, query: Option<&str>, page: Page) -> DbResult<Paged<Product>> {
    let pattern = contains_pattern(query);
    let mut tx = db.read().await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE ?1 IS NULL OR name LIKE ?1 ESCAPE '\\'")
        .bind(pattern.as_deref())
        .fetch_one(&mut *tx)
        .await?;
    let rows: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, name, brand_id, category_id, description, image_urls FROM products
         WHERE ?1 IS NULL OR name LIKE ?1 ESCAPE '\\'
         ORDER BY id DESC LIMIT ?2 OFFSET ?3",
    )
    .bind(pattern.as_deref())
    .bind(i64::from(page.per_page()))
    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    let items = with_skus(&mut tx, rows).await?;
    Ok(paged(items, total, page))
}

/// Creates (`id = None`) or replaces a product with its SKUs. Keeps: brand and category exist;
/// a listed SKU id belongs to this product; a SKU left out is removed (soft) unless an activity
/// uses it.
async fn save_product(
    db: &SqliteRecords,
    id: Option<ProductId>,
    new: &NewProduct,
    now: Timestamp,
) -> DbResult<Product> {
    let mut tx = db.write().await?;
    let mut errors = FieldErrors::new();
    if let Some(brand) = new.brand_id {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM brands WHERE id = ?").bind(brand.get()).fetch_optional(&mut *tx).await?;
        if found.is_none() {
            errors.add("brand_id", format!("brand {brand} does not exist"));
        }
    }
    if let Some(category) = new.category_id {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE id = ?")
            .bind(category.get())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            errors.add("category_id", format!("category {category} does not exist"));
        }
    }
    let image_urls = serde_json::to_string(&new.image_urls).map_err(|e| corrupt(format!("image_urls: {e}")))?;

    let product_id = match id {
        None => {
            if !errors.is_empty() {
                return Err(errors.into());
            }
            sqlx::query_scalar(
                "INSERT INTO products (name, brand_id, category_id, description, image_urls, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&new.name)
            .bind(new.brand_id.map(BrandId::get))
            .bind(new.category_id.map(CategoryId::get))
            .bind(&new.description)
            .bind(&image_urls)
            .bind(millis(now))
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
                     WHERE sku_id IN (SELECT value FROM json_each(?)) GROUP BY sku_id ORDER BY sku_id",
                )
                .bind(id_list(removed.iter().copied()))
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
                "UPDATE products SET name = ?, brand_id = ?, category_id = ?, description = ?, image_urls = ?, updated_at = ?
                 WHERE id = ?",
            )
            .bind(&new.name)
            .bind(new.brand_id.map(BrandId::get))
            .bind(new.category_id.map(CategoryId::get))
            .bind(&new.description)
            .bind(&image_urls)
            .bind(millis(now))
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE skus SET deleted_at = ?, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))")
                .bind(millis(now))
                .bind(millis(now))
                .bind(id_list(removed))
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
                    "UPDATE skus SET name = ?, spec = ?, price_cents = ?, stock = ?, position = ?, updated_at = ?
                     WHERE id = ? AND product_id = ?",
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
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(product_id)
                .bind(&sku.name)
                .bind(&sku.spec)
                .bind(sku.price.cents())
                .bind(i64::from(sku.stock))
                .bind(position)
                .bind(millis(now))
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
