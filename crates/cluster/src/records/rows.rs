//! Rows as PostgreSQL returns them: the ones both backends share come from `seckill-rows`; what
//! only PostgreSQL stores its own way (a product's image URLs, as a text array) is here.

use seckill_domain::ids::{BrandId, CategoryId, ProductId};

pub(crate) use seckill_rows::*;

/// `products`, without SKUs.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProductRow {
    pub id: i64,
    pub name: String,
    pub brand_id: Option<i64>,
    pub category_id: Option<i64>,
    pub description: String,
    pub image_urls: Vec<String>,
}

impl ProductRow {
    pub fn product_id(&self) -> RowResult<ProductId> {
        id(self.id)
    }

    pub fn brand_id(&self) -> RowResult<Option<BrandId>> {
        self.brand_id.map(id::<BrandId>).transpose()
    }

    pub fn category_id(&self) -> RowResult<Option<CategoryId>> {
        self.category_id.map(id::<CategoryId>).transpose()
    }
}
