//! The shop's catalog: brands, categories, products (SPU) and their SKUs.

use serde::{Deserialize, Serialize};

use crate::ids::{BrandId, CategoryId, ProductId, SkuId};
use crate::money::{MAX_CENTS, Money};
use crate::validation::{FieldErrors, optional_text, text};

/// Most SKUs one product may have.
pub const MAX_SKUS: usize = 100;
/// Most images one product may list.
pub const MAX_IMAGES: usize = 20;
/// Most units of stock one SKU (or one activity SKU) may hold.
pub const MAX_STOCK: u32 = 100_000_000;

/// A brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub id: BrandId,
    pub name: String,
    pub image_url: Option<String>,
    /// Initial letter for A–Z brand lists.
    pub letter: Option<String>,
    pub sort: i32,
}

/// A valid brand definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBrand {
    pub name: String,
    pub image_url: Option<String>,
    pub letter: Option<String>,
    pub sort: i32,
}

impl NewBrand {
    /// Parses the operator's input. `letter` defaults to the upper-cased first ASCII letter of
    /// the name.
    pub fn parse(name: &str, image_url: Option<&str>, letter: Option<&str>, sort: i32) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = text(&mut errors, "name", name, 64);
        let image_url = url(&mut errors, "image_url", image_url);
        let letter = match optional_text(&mut errors, "letter", letter, 1) {
            Some(l) if l.chars().all(|c| c.is_ascii_alphabetic()) => Some(l.to_ascii_uppercase()),
            Some(_) => {
                errors.add("letter", "must be one letter A–Z");
                None
            }
            None => name.chars().next().filter(char::is_ascii_alphabetic).map(|c| c.to_ascii_uppercase().to_string()),
        };
        errors.into_result(NewBrand { name, image_url, letter, sort })
    }
}

/// A product category; categories form a tree through `parent_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub parent_id: Option<CategoryId>,
    pub sort: i32,
}

/// A valid category definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCategory {
    pub name: String,
    pub parent_id: Option<CategoryId>,
    pub sort: i32,
}

impl NewCategory {
    /// Parses the operator's input (whether the parent exists is the store's check).
    pub fn parse(name: &str, parent_id: Option<i64>, sort: i32) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = text(&mut errors, "name", name, 64);
        let parent_id = parent_id
            .and_then(|p| CategoryId::try_from(p).map_err(|_| errors.add("parent_id", "must be a positive id")).ok());
        errors.into_result(NewCategory { name, parent_id, sort })
    }
}

/// A product (SPU) with its SKUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub brand_id: Option<BrandId>,
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub image_urls: Vec<String>,
    pub skus: Vec<Sku>,
}

impl Product {
    /// The SKU with this id, if it belongs to this product.
    pub fn sku(&self, id: SkuId) -> Option<&Sku> {
        self.skus.iter().find(|s| s.id == id)
    }
}

/// A SKU: one buyable variant of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sku {
    pub id: SkuId,
    pub name: String,
    /// Free-form variant description, e.g. `{"color":"black","storage":"256G"}` or `black / 256G`.
    pub spec: String,
    /// The list price.
    pub price: Money,
    /// Ordinary (non-seckill) stock.
    pub stock: u32,
    /// Set while an activity on this SKU is preheated or live: the product page then shows the
    /// seckill price and the countdown.
    pub seckill: bool,
}

/// A valid product definition, for create and update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub brand_id: Option<BrandId>,
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub image_urls: Vec<String>,
    pub skus: Vec<NewSku>,
}

/// One SKU of a [`NewProduct`]. On update, `id` names an existing SKU to change; SKUs without
/// an id are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSku {
    pub id: Option<SkuId>,
    pub name: String,
    pub spec: String,
    pub price: Money,
    pub stock: u32,
}

/// Raw SKU input as it arrives, before validation.
#[derive(Debug, Clone, Default)]
pub struct SkuInput<'a> {
    pub id: Option<i64>,
    pub name: &'a str,
    pub spec: Option<&'a str>,
    pub price_cents: i64,
    pub stock: i64,
}

/// Raw product input as it arrives, before validation.
#[derive(Debug, Clone, Default)]
pub struct ProductInput<'a> {
    pub name: &'a str,
    pub brand_id: Option<i64>,
    pub category_id: Option<i64>,
    pub description: Option<&'a str>,
    pub image_urls: &'a [String],
    pub skus: Vec<SkuInput<'a>>,
}

impl NewProduct {
    /// Parses the operator's input, collecting every problem (SKU fields as `skus[i].field`).
    /// Whether brand and category exist is the store's check.
    pub fn parse(input: &ProductInput<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = text(&mut errors, "name", input.name, 120);
        let brand_id = input
            .brand_id
            .and_then(|b| BrandId::try_from(b).map_err(|_| errors.add("brand_id", "must be a positive id")).ok());
        let category_id = input
            .category_id
            .and_then(|c| CategoryId::try_from(c).map_err(|_| errors.add("category_id", "must be a positive id")).ok());
        let description = input.description.map(str::trim).unwrap_or_default().to_owned();
        if description.chars().count() > 10_000 {
            errors.add("description", "must be at most 10000 characters");
        }
        if input.image_urls.len() > MAX_IMAGES {
            errors.add("image_urls", format!("at most {MAX_IMAGES} images"));
        }
        let image_urls: Vec<String> = input
            .image_urls
            .iter()
            .enumerate()
            .filter_map(|(i, u)| url(&mut errors, &format!("image_urls[{i}]"), Some(u)))
            .collect();
        if input.skus.is_empty() {
            errors.add("skus", "a product needs at least one sku");
        } else if input.skus.len() > MAX_SKUS {
            errors.add("skus", format!("at most {MAX_SKUS} skus"));
        }
        let mut skus = Vec::with_capacity(input.skus.len());
        for (i, sku) in input.skus.iter().enumerate() {
            match NewSku::parse(sku) {
                Ok(s) => skus.push(s),
                Err(e) => errors.merge_prefixed(&format!("skus[{i}]"), e),
            }
        }
        let mut ids: Vec<SkuId> = skus.iter().filter_map(|s| s.id).collect();
        ids.sort();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            errors.add("skus", "a sku id appears twice");
        }
        errors.into_result(NewProduct { name, brand_id, category_id, description, image_urls, skus })
    }
}

impl NewSku {
    fn parse(input: &SkuInput<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let id = input.id.and_then(|i| SkuId::try_from(i).map_err(|_| errors.add("id", "must be a positive id")).ok());
        let name = text(&mut errors, "name", input.name, 120);
        let spec = optional_text(&mut errors, "spec", input.spec, 500).unwrap_or_default();
        let price = match Money::parse_cents(input.price_cents) {
            Ok(p) if p.cents() > 0 => p,
            _ => {
                errors.add("price_cents", format!("must be between 1 and {MAX_CENTS} cents"));
                Money::ZERO
            }
        };
        let stock = match u32::try_from(input.stock) {
            Ok(s) if s <= MAX_STOCK => s,
            _ => {
                errors.add("stock", format!("must be between 0 and {MAX_STOCK}"));
                0
            }
        };
        errors.into_result(NewSku { id, name, spec, price, stock })
    }
}

/// An optional http(s) URL or site-absolute path (`/static/...`), at most 1000 characters.
fn url(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    let v = optional_text(errors, field, value, 1000)?;
    let ok = (v.starts_with("https://") || v.starts_with("http://") || (v.starts_with('/') && !v.starts_with("//")))
        && !v.chars().any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>');
    if !ok {
        errors.add(field, "must be an http(s) URL or a path starting with /");
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(name: &str, price_cents: i64, stock: i64) -> SkuInput<'_> {
        SkuInput { id: None, name, spec: None, price_cents, stock }
    }

    #[test]
    fn a_product_needs_a_name_and_valid_skus() {
        let imgs = vec!["https://img.example/a.jpg".to_owned(), "javascript:alert(1)".to_owned()];
        let input = ProductInput {
            name: " ",
            brand_id: Some(0),
            image_urls: &imgs,
            skus: vec![sku("black", 0, 5), sku("", 100, -1)],
            ..Default::default()
        };
        let e = NewProduct::parse(&input).unwrap_err();
        assert_eq!(e.get("name"), Some("must not be empty"));
        assert_eq!(e.get("brand_id"), Some("must be a positive id"));
        assert!(e.get("image_urls[1]").is_some());
        assert!(e.get("image_urls[0]").is_none());
        assert!(e.get("skus[0].price_cents").is_some());
        assert!(e.get("skus[1].name").is_some());
        assert!(e.get("skus[1].stock").is_some());

        // Too dear says what the bound is, not that the price is not positive.
        let dear = ProductInput { name: "Phone", skus: vec![sku("gold", MAX_CENTS + 1, 1)], ..Default::default() };
        assert_eq!(
            NewProduct::parse(&dear).unwrap_err().get("skus[0].price_cents"),
            Some("must be between 1 and 10000000000 cents")
        );

        let none = ProductInput { name: "Phone", ..Default::default() };
        assert_eq!(NewProduct::parse(&none).unwrap_err().get("skus"), Some("a product needs at least one sku"));
    }

    #[test]
    fn a_valid_product_parses_with_trimmed_fields() {
        let input = ProductInput {
            name: "  Mate 70 ",
            brand_id: Some(1),
            description: Some(" fast "),
            skus: vec![SkuInput {
                id: None,
                name: "black 256G",
                spec: Some("black / 256G"),
                price_cents: 599_900,
                stock: 1000,
            }],
            ..Default::default()
        };
        let p = NewProduct::parse(&input).unwrap();
        assert_eq!(p.name, "Mate 70");
        assert_eq!(p.description, "fast");
        assert_eq!(p.skus[0].price, Money::from_cents(599_900));
    }

    #[test]
    fn brand_letters_default_to_the_first_letter() {
        assert_eq!(NewBrand::parse("apple", None, None, 0).unwrap().letter.as_deref(), Some("A"));
        assert_eq!(NewBrand::parse("华为", None, Some("h"), 0).unwrap().letter.as_deref(), Some("H"));
        assert_eq!(NewBrand::parse("华为", None, None, 0).unwrap().letter, None);
        assert!(NewBrand::parse("x", None, Some("1"), 0).is_err());
    }
}
