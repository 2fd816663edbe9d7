//! The search cases of the suite: what [`Catalog::search`](crate::ports::Catalog::search)
//! finds — substrings of product, brand and category names in any letter case, Chinese
//! included — only in enabled activities that have not ended, renames seen at once, best
//! matches first, and no query text that the backend's own query language could trip on.
//!
//! Each case is a `pub async fn(&Records)`.

use seckill_domain::Timestamp;
use seckill_domain::activity::{Activity, NewActivity, NewActivitySku, PurchaseRules};
use seckill_domain::catalog::{Brand, Category, NewBrand, NewCategory, NewProduct, Product};
use seckill_domain::ids::SlotId;
use seckill_domain::money::Money;

use super::{at, day, new_product, new_slot, now};
use crate::ports::Records;
use crate::search::SearchQuery;

/// A shop being set up for a search case: one slot every activity sells in.
struct Scene {
    records: Records,
    slot: SlotId,
}

impl Scene {
    async fn open(records: &Records) -> Scene {
        let slot = records.catalog.create_slot(&new_slot("10点场", "10:00", "12:00", true), now()).await.unwrap();
        Scene { records: records.clone(), slot: slot.id }
    }

    async fn brand(&self, name: &str) -> Brand {
        self.records.catalog.create_brand(&NewBrand::parse(name, None, None, 0).unwrap(), now()).await.unwrap()
    }

    async fn category(&self, name: &str) -> Category {
        self.records.catalog.create_category(&NewCategory::parse(name, None, 0).unwrap(), now()).await.unwrap()
    }

    async fn product(&self, name: &str, brand: Option<&Brand>, category: Option<&Category>) -> Product {
        let mut new = new_product(name, &[("standard", 19_900, 100)]);
        new.brand_id = brand.map(|b| b.id);
        new.category_id = category.map(|c| c.id);
        self.records.catalog.create_product(&new, now()).await.unwrap()
    }

    /// An activity selling 10 of `product`'s first SKU at ¥99.00, from `from` until `until`.
    async fn sale(&self, product: &Product, from: Timestamp, until: Timestamp, enabled: bool) -> Activity {
        let new = NewActivity {
            name: format!("{} 秒杀", product.name),
            product_id: product.id,
            starts_at: from,
            ends_at: until,
            slot_ids: vec![self.slot],
            skus: vec![NewActivitySku {
                sku_id: product.skus[0].id,
                seckill_price: Money::from_cents(9_900),
                stock: 10,
            }],
            rules: PurchaseRules {
                total_limit: 1,
                single_limit: 1,
                min_level: 0,
                reservation_required: false,
                pay_timeout_secs: 900,
            },
            enabled,
        };
        self.records.catalog.create_activity(&new, now()).await.unwrap()
    }

    /// A product on sale on Singles' Day (2026-11-11).
    async fn on_sale(&self, name: &str, brand: Option<&Brand>, category: Option<&Category>) -> Product {
        let product = self.product(name, brand, category).await;
        self.sale(&product, day(11), day(12), true).await;
        product
    }

    /// The product names found for `raw` at `when`, best first (at most 50).
    async fn found_at(&self, raw: &str, when: Timestamp) -> Vec<String> {
        let query = SearchQuery::parse(raw, "q").unwrap();
        let hits = self.records.catalog.search(&query, when, 50).await.unwrap_or_else(|e| panic!("{raw:?}: {e:?}"));
        hits.into_iter().map(|h| h.product.name).collect()
    }

    /// [`Scene::found_at`] before every sale of the cases.
    async fn found(&self, raw: &str) -> Vec<String> {
        self.found_at(raw, now()).await
    }
}

/// A term matches a substring of the product's name, its brand's or its category's, in any
/// letter case; every term must match (each in any of the three names).
pub async fn search_matches_product_brand_and_category_names_in_any_letter_case(records: &Records) {
    let shop = Scene::open(records).await;
    let (huawei, apple) = (shop.brand("华为 HUAWEI").await, shop.brand("Apple").await);
    let (phones, audio) = (shop.category("手机 Phones").await, shop.category("耳机").await);
    shop.on_sale("Mate 70 Pro", Some(&huawei), Some(&phones)).await;
    shop.on_sale("iPhone 17", Some(&apple), Some(&phones)).await;
    shop.on_sale("FreeBuds 6", Some(&huawei), Some(&audio)).await;
    shop.on_sale("Watch GT", None, None).await;

    for (query, expected) in [
        ("mate", &["Mate 70 Pro"][..]),
        ("MATE", &["Mate 70 Pro"]),
        ("mAtE 70", &["Mate 70 Pro"]),
        ("pro mate", &["Mate 70 Pro"]),
        ("huawei", &["Mate 70 Pro", "FreeBuds 6"]),
        ("华为", &["Mate 70 Pro", "FreeBuds 6"]),
        ("手机", &["Mate 70 Pro", "iPhone 17"]),
        ("phones", &["Mate 70 Pro", "iPhone 17"]),
        ("耳机", &["FreeBuds 6"]),
        ("华为 耳机", &["FreeBuds 6"]),
        ("iphone 手机", &["iPhone 17"]),
        ("apple", &["iPhone 17"]),
        ("gt", &["Watch GT"]),
        ("WATCH", &["Watch GT"]),
        ("mate 17", &[]),
        ("xiaomi", &[]),
        ("小米", &[]),
    ] {
        assert_eq!(shop.found(query).await, expected, "{query:?}");
    }
}

/// Chinese has no spaces between words and Latin names run together: a term matches anywhere
/// inside a name, but only as one contiguous piece.
pub async fn a_chinese_or_latin_substring_matches_inside_a_longer_name(records: &Records) {
    let shop = Scene::open(records).await;
    shop.on_sale("华为Mate70Pro旗舰5G手机", None, None).await;
    shop.on_sale("纯棉T恤", None, None).await;
    let mate = ["华为Mate70Pro旗舰5G手机"];
    for query in ["手机", "旗舰", "5G手机", "mate70", "TE70P", "为Mate", "华", "Mate 70 5g"] {
        assert_eq!(shop.found(query).await, mate, "{query:?}");
    }
    assert_eq!(shop.found("t恤").await, ["纯棉T恤"]);
    assert_eq!(shop.found("棉").await, ["纯棉T恤"]);
    for query in ["旗舰手机", "mate80", "手机 T恤"] {
        assert!(shop.found(query).await.is_empty(), "{query:?}");
    }
}

/// Only enabled activities that have not ended are found (`ends_at > now`); a product in no
/// activity is never found; a product in two unfinished activities is found in each.
pub async fn search_finds_only_enabled_activities_that_have_not_ended(records: &Records) {
    let shop = Scene::open(records).await;
    let c = &records.catalog;
    let noon_12th = at("2026-11-12T12:00:00+08:00");
    let ended = shop.product("Mate ended", None, None).await;
    shop.sale(&ended, day(11), day(12), true).await;
    let edge = shop.product("Mate ends now", None, None).await;
    shop.sale(&edge, day(11), noon_12th, true).await;
    let running = shop.product("Mate running", None, None).await;
    let running_sale = shop.sale(&running, day(12), day(13), true).await;
    let upcoming = shop.product("Mate upcoming", None, None).await;
    shop.sale(&upcoming, day(14), day(15), true).await;
    let off = shop.product("Mate disabled", None, None).await;
    shop.sale(&off, day(12), day(13), false).await;
    let twice = shop.product("Mate twice", None, None).await;
    shop.sale(&twice, day(11), day(12), true).await;
    shop.sale(&twice, day(13), day(14), true).await;
    shop.sale(&twice, day(16), day(17), true).await;
    shop.product("Mate in no activity", None, None).await;

    assert_eq!(
        shop.found_at("mate", noon_12th).await,
        ["Mate running", "Mate twice", "Mate upcoming", "Mate twice"],
        "by starts_at: the 12th, 13th, 14th, 16th"
    );
    assert_eq!(shop.found_at("mate", day(20)).await, Vec::<String>::new());
    assert_eq!(shop.found_at("ends now", noon_12th).await, Vec::<String>::new());
    assert_eq!(shop.found_at("ends now", at("2026-11-12T11:59:59+08:00")).await, ["Mate ends now"]);
    assert!(shop.found("no activity").await.is_empty());

    c.set_activity_enabled(running_sale.id, false, now()).await.unwrap();
    assert!(shop.found_at("running", noon_12th).await.is_empty());
    c.set_activity_enabled(running_sale.id, true, now()).await.unwrap();
    assert_eq!(shop.found_at("running", noon_12th).await, ["Mate running"]);
}

/// Renaming a product, its brand or its category, or moving the product to another brand or
/// category, is searchable as soon as it is stored; the old names no longer match.
pub async fn renaming_a_product_its_brand_or_its_category_is_found_at_once(records: &Records) {
    let shop = Scene::open(records).await;
    let c = &records.catalog;
    let huawei = shop.brand("Huawei").await;
    let xiaomi = shop.brand("Xiaomi").await;
    let phones = shop.category("Phones").await;
    let mate = shop.on_sale("Mate 70", Some(&huawei), Some(&phones)).await;
    shop.on_sale("Redmi K80", Some(&xiaomi), Some(&phones)).await;

    c.update_brand(huawei.id, &NewBrand::parse("Honor", None, None, 0).unwrap(), now()).await.unwrap();
    assert!(shop.found("huawei").await.is_empty());
    assert_eq!(shop.found("honor").await, ["Mate 70"]);
    assert_eq!(shop.found("xiaomi").await, ["Redmi K80"], "other brands keep their products");

    c.update_category(phones.id, &NewCategory::parse("平板 Tablets", None, 0).unwrap(), now()).await.unwrap();
    assert!(shop.found("phones").await.is_empty());
    assert_eq!(shop.found("平板").await, ["Mate 70", "Redmi K80"]);

    let mut update = product_update(&mate);
    (update.name, update.brand_id, update.category_id) = ("Mate 80 RS".into(), Some(xiaomi.id), None);
    c.update_product(mate.id, &update, now()).await.unwrap();
    assert!(shop.found("mate 70").await.is_empty());
    assert_eq!(shop.found("80 rs").await, ["Mate 80 RS"]);
    assert_eq!(shop.found("xiaomi").await, ["Mate 80 RS", "Redmi K80"]);
    assert!(shop.found("honor").await.is_empty());
    assert_eq!(shop.found("tablets").await, ["Redmi K80"]);

    let audio = shop.category("Audio").await;
    (update.brand_id, update.category_id) = (None, Some(audio.id));
    c.update_product(mate.id, &update, now()).await.unwrap();
    assert_eq!(shop.found("xiaomi").await, ["Redmi K80"]);
    assert_eq!(shop.found("audio").await, ["Mate 80 RS"]);
}

/// Quotes, `*`, `-`, `^`, `:`, parentheses, `AND`/`OR`/`NOT`/`NEAR`, `%`, `_`, `\` and SQL are
/// text to search for, never syntax: no query is an error, and they match only themselves.
pub async fn search_text_is_never_query_syntax(records: &Records) {
    let shop = Scene::open(records).await;
    let mate = shop.on_sale("Mate 70 Pro", None, None).await;
    shop.on_sale("100% 纯棉 T恤", None, None).await;
    shop.on_sale(r#"Say "cheese" 相机"#, None, None).await;
    shop.on_sale("USB_C 数据线", None, None).await;
    shop.on_sale(r"C:\Tools (NEAR) kit", None, None).await;

    #[rustfmt::skip]
    let weird = [
        "\"", "\"\"", "\"\"\"", "\"mate", "mate\"", "'", "''", "*", "mate*", "*mate", "-", "-mate", "mate -pro",
        "+", "^", "^mate", ":", "name:mate", "{name brand}: mate", "(", ")", "()", "(mate)", "mate)", "AND", "OR",
        "NOT", "NEAR", "NEAR(mate pro)", "NEAR(mate pro, 2)", "mate NEAR pro", "mate OR pro", "mate AND pro",
        "NOT mate", "mate NOT pro", "%", "_", "\\", "%%", "__", "\\%", "'; DROP TABLE products; --", "\u{FFFD}",
        "🙂", "🙂🙂🙂", "a\u{301}", ".", ",", "|", "&", "$1", "?", "?1", ":1", "@x", "#",
    ];
    for weird in weird {
        let query = SearchQuery::parse(weird, "q").unwrap();
        records.catalog.search(&query, now(), 20).await.unwrap_or_else(|e| panic!("{weird:?} failed: {e:?}"));
    }

    assert_eq!(shop.found("mate pro").await, ["Mate 70 Pro"]);
    for none in ["mate*", "(mate)", "name:mate", "mate OR pro", "^mate", "mate\"", "NOT mate", "__", "%%"] {
        assert!(shop.found(none).await.is_empty(), "{none:?} is text, not syntax");
    }
    assert_eq!(shop.found("100%").await, ["100% 纯棉 T恤"]);
    assert_eq!(shop.found("%").await, ["100% 纯棉 T恤"]);
    assert_eq!(shop.found("_").await, ["USB_C 数据线"]);
    assert_eq!(shop.found("b_c").await, ["USB_C 数据线"]);
    assert_eq!(shop.found(r#""cheese""#).await, [r#"Say "cheese" 相机"#]);
    assert_eq!(shop.found("\"").await, [r#"Say "cheese" 相机"#]);
    assert_eq!(shop.found(r"c:\tools").await, [r"C:\Tools (NEAR) kit"]);
    assert_eq!(shop.found(r"\").await, [r"C:\Tools (NEAR) kit"]);
    assert_eq!(shop.found("(near)").await, [r"C:\Tools (NEAR) kit"]);
    assert_eq!(records.catalog.product(mate.id).await.unwrap(), mate, "no query changes anything");
}

/// Products whose own name holds every term come first, then the others (a brand or category
/// match); within each, by `starts_at` then id; never more than the limit. Each hit carries
/// the activity and the product as stored.
pub async fn the_best_matches_come_first_and_at_most_the_limit(records: &Records) {
    let shop = Scene::open(records).await;
    let c = &records.catalog;
    let works = shop.brand("Mate Works").await;
    let by_brand = shop.product("Phone A", Some(&works), None).await;
    let brand_sale = shop.sale(&by_brand, day(11), day(12), true).await;
    let seventy = shop.product("Mate 70", None, None).await;
    let seventy_sale = shop.sale(&seventy, day(13), day(14), true).await;
    let sixty = shop.product("Mate 60", None, None).await;
    shop.sale(&sixty, day(12), day(13), true).await;

    assert_eq!(shop.found("mate").await, ["Mate 60", "Mate 70", "Phone A"]);
    assert_eq!(shop.found("phone").await, ["Phone A"]);
    let query = &SearchQuery::parse("MATE", "q").unwrap();
    let names = |limit| async move {
        let hits = c.search(query, now(), limit).await.unwrap();
        hits.into_iter().map(|h| h.product.name).collect::<Vec<_>>()
    };
    assert_eq!(names(2).await, ["Mate 60", "Mate 70"]);
    assert_eq!(names(1).await, ["Mate 60"]);

    let hits = c.search(&SearchQuery::parse("mate 70", "q").unwrap(), now(), 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].activity, c.activity(seventy_sale.id).await.unwrap());
    assert_eq!(hits[0].product, c.product(seventy.id).await.unwrap());
    let hits = c.search(&SearchQuery::parse("works", "q").unwrap(), now(), 10).await.unwrap();
    assert_eq!((hits[0].activity.id, hits[0].product.id), (brand_sale.id, by_brand.id));
}

/// The fields of `product` as an update that changes nothing.
fn product_update(product: &Product) -> NewProduct {
    let mut new = new_product(&product.name, &[("x", 1, 1)]);
    new.brand_id = product.brand_id;
    new.category_id = product.category_id;
    new.description = product.description.clone();
    new.image_urls = product.image_urls.clone();
    new.skus = product
        .skus
        .iter()
        .map(|s| seckill_domain::catalog::NewSku {
            id: Some(s.id),
            name: s.name.clone(),
            spec: s.spec.clone(),
            price: s.price,
            stock: s.stock,
        })
        .collect();
    new
}
