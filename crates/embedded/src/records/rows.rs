//! Rows as SQLite returns them: the ones both backends share come from `seckill-rows`; what
//! only SQLite stores its own way (a product's image URLs, as a JSON text) is here.

use seckill_domain::ids::{BrandId, CategoryId, ProductId};

pub(crate) use seckill_rows::*;

use super::error::{DbResult, corrupt};

/// `products`, without SKUs.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProductRow {
    pub id: i64,
    pub name: String,
    pub brand_id: Option<i64>,
    pub category_id: Option<i64>,
    pub description: String,
    pub image_urls: String,
}

impl ProductRow {
    pub fn product_id(&self) -> DbResult<ProductId> {
        Ok(id(self.id)?)
    }

    pub fn brand_id(&self) -> DbResult<Option<BrandId>> {
        Ok(self.brand_id.map(id::<BrandId>).transpose()?)
    }

    pub fn category_id(&self) -> DbResult<Option<CategoryId>> {
        Ok(self.category_id.map(id::<CategoryId>).transpose()?)
    }

    pub fn image_urls(&self) -> DbResult<Vec<String>> {
        serde_json::from_str(&self.image_urls).map_err(|e| corrupt(format!("product {} image_urls: {e}", self.id)))
    }
}

/// A JSON array of ids, bound as one parameter and read with `json_each(?)`: lists of any
/// length in one statement, without building SQL text.
pub(crate) fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", ids.join(","))
}
