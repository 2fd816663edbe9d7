//! The operators' catalog: brands, categories, products with SKUs.

use seckill_testkit::spawn_app;
use serde_json::json;

use crate::{LIST_PRICES, SKU_STOCK, create_activity, ids, product_with_two_skus, singles_day, slot};

#[tokio::test]
async fn an_operator_creates_lists_and_updates_brands() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.post("/api/admin/brands", &json!({"name": "xiaomi", "sort": 2}), Some(&admin)).await;
    r.expect(201);
    let xiaomi = r.id("id");
    assert_eq!(r.body["letter"], "X", "the letter defaults to the name's first letter: {}", r.text);
    let r = app
        .post(
            "/api/admin/brands",
            &json!({"name": "华为 HUAWEI", "letter": "h", "image_url": "https://img.example/h.png", "sort": 1}),
            Some(&admin),
        )
        .await;
    r.expect(201);
    let huawei = r.id("id");
    assert_eq!(
        (r.body["letter"].as_str(), r.body["image_url"].as_str()),
        (Some("H"), Some("https://img.example/h.png"))
    );

    let list = app.get("/api/admin/brands", Some(&admin)).await;
    list.expect(200);
    assert_eq!(ids(&list), [huawei, xiaomi], "by sort: {}", list.text);

    let r = app
        .put(&format!("/api/admin/brands/{xiaomi}"), &json!({"name": "小米 Xiaomi", "letter": "X"}), Some(&admin))
        .await;
    r.expect(200);
    assert_eq!((r.id("id"), r.body["name"].as_str(), r.body["sort"].as_i64()), (xiaomi, Some("小米 Xiaomi"), Some(0)));
    let list = app.get("/api/admin/brands", Some(&admin)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(ids(&list), [xiaomi, huawei], "sort 0 now comes first");

    app.put("/api/admin/brands/9999", &json!({"name": "ghost"}), Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_brand_with_bad_fields_is_a_422_naming_each() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({"name": " "}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": "Apple", "letter": "1"}), "letter"),
        (json!({"name": "Apple", "letter": "AB"}), "letter"),
        (json!({"name": "Apple", "image_url": "javascript:alert(1)"}), "image_url"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/admin/brands", &body, Some(&admin)).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{body}: {}", r.text);
    }
    assert_eq!(app.get("/api/admin/brands", Some(&admin)).await.body, json!({"items": []}));
}

#[tokio::test]
async fn categories_form_a_tree_whose_parents_must_exist_and_never_loop() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let digital = app.post("/api/admin/categories", &json!({"name": "数码"}), Some(&admin)).await;
    digital.expect(201);
    let digital = digital.id("id");
    let phones = app.post("/api/admin/categories", &json!({"name": "手机", "parent_id": digital}), Some(&admin)).await;
    phones.expect(201);
    assert_eq!(phones.body["parent_id"], digital);
    let phones = phones.id("id");

    let r = app.post("/api/admin/categories", &json!({"name": "orphan", "parent_id": 9999}), Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(r.field("parent_id").contains("9999"), "{}", r.text);
    let r = app.post("/api/admin/categories", &json!({"name": "x", "parent_id": 0}), Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("parent_id").is_empty());
    app.post("/api/admin/categories", &json!({"name": ""}), Some(&admin)).await.assert_error(422, "VALIDATION_FAILED");

    // A category cannot become its own parent or its descendant's child.
    let own = app
        .put(&format!("/api/admin/categories/{digital}"), &json!({"name": "数码", "parent_id": digital}), Some(&admin))
        .await;
    own.assert_error(422, "VALIDATION_FAILED");
    let looped = app
        .put(&format!("/api/admin/categories/{digital}"), &json!({"name": "数码", "parent_id": phones}), Some(&admin))
        .await;
    looped.assert_error(422, "VALIDATION_FAILED");
    assert!(!looped.field("parent_id").is_empty(), "{}", looped.text);

    let moved =
        app.put(&format!("/api/admin/categories/{phones}"), &json!({"name": "Phones", "sort": 3}), Some(&admin)).await;
    moved.expect(200);
    assert!(moved.body.get("parent_id").is_none(), "moved to the top: {}", moved.text);
    let list = app.get("/api/admin/categories", Some(&admin)).await;
    list.expect(200);
    assert_eq!(ids(&list), [digital, phones]);
    app.put("/api/admin/categories/9999", &json!({"name": "ghost"}), Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn an_operator_creates_a_product_with_skus_and_reads_it_back() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let brand = app.post("/api/admin/brands", &json!({"name": "HUAWEI"}), Some(&admin)).await.id("id");
    let category = app.post("/api/admin/categories", &json!({"name": "Phones"}), Some(&admin)).await.id("id");
    let body = json!({
        "name": "  HUAWEI Mate 70 Pro ",
        "brand_id": brand,
        "category_id": category,
        "description": "Kirin 9020",
        "image_urls": ["https://img.example/1.jpg", "/static/2.jpg"],
        "skus": [
            {"name": "black", "spec": "black / 256GB", "price_cents": 599_900, "stock": 1_000},
            {"name": "white", "price_cents": 699_900, "stock": 0},
        ],
    });
    let r = app.post("/api/admin/products", &body, Some(&admin)).await;
    r.expect(201);
    let id = r.id("id");
    assert_eq!(r.body["name"], "HUAWEI Mate 70 Pro");
    assert_eq!((r.body["brand_id"].as_i64(), r.body["category_id"].as_i64()), (Some(brand), Some(category)));
    assert_eq!(r.body["image_urls"], json!(["https://img.example/1.jpg", "/static/2.jpg"]));
    let skus = r.body["skus"].as_array().unwrap();
    assert_eq!(skus.len(), 2);
    assert!(skus.iter().all(|s| s["id"].as_i64().is_some_and(|i| i > 0)), "{}", r.text);
    assert_eq!(
        (skus[0]["price_cents"].as_i64(), skus[0]["stock"].as_i64(), skus[0]["spec"].as_str()),
        (Some(599_900), Some(1_000), Some("black / 256GB"))
    );
    assert_eq!((skus[1]["spec"].as_str(), skus[1]["seckill"].as_bool()), (Some(""), Some(false)));

    let got = app.get(&format!("/api/admin/products/{id}"), Some(&admin)).await;
    got.expect(200);
    assert_eq!(got.body, r.body, "what was created is what is read");
    app.get("/api/admin/products/9999", Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn products_are_listed_newest_first_in_pages_and_searchable_by_name() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut created = Vec::new();
    for name in ["Mate 70", "iPhone 17", "Mate X6", "Buds 5"] {
        created.push(product_with_two_skus(&app, &admin, name).await.id);
    }
    let all = app.get("/api/admin/products", Some(&admin)).await;
    all.expect(200);
    assert_eq!(ids(&all), created.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!((all.body["total"].as_u64(), all.body["page"].as_u64()), (Some(4), Some(1)));

    let page = app.get("/api/admin/products?page=2&per_page=3", Some(&admin)).await;
    page.expect(200);
    assert_eq!(ids(&page), [created[0]]);
    assert_eq!((page.body["total"].as_u64(), page.body["per_page"].as_u64()), (Some(4), Some(3)));

    let mate = app.get("/api/admin/products?q=mate", Some(&admin)).await;
    assert_eq!(ids(&mate), [created[2], created[0]], "{}", mate.text);
    assert_eq!(mate.body["total"], 2);
    let literal = app.get("/api/admin/products?q=%25", Some(&admin)).await;
    assert_eq!(literal.body["total"], 0, "a % in the query is a literal percent sign: {}", literal.text);
}

#[tokio::test]
async fn a_product_update_changes_adds_and_removes_skus() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let body = json!({
        "name": "Mate 70 Pro",
        "skus": [
            {"id": p.skus[0], "name": "black", "price_cents": 549_900, "stock": 900},
            {"name": "green", "spec": "green / 1TB", "price_cents": 799_900, "stock": 10},
        ],
    });
    let r = app.put(&format!("/api/admin/products/{}", p.id), &body, Some(&admin)).await;
    r.expect(200);
    let skus = r.body["skus"].as_array().unwrap();
    assert_eq!(skus.len(), 2, "{}", r.text);
    assert_eq!(skus[0]["id"], p.skus[0], "the listed sku keeps its id");
    assert_eq!((skus[0]["price_cents"].as_i64(), skus[0]["stock"].as_i64()), (Some(549_900), Some(900)));
    assert!(skus[1]["id"].as_i64().is_some_and(|i| i != p.skus[0] && i != p.skus[1]), "a new sku: {}", r.text);
    assert_eq!(r.body["name"], "Mate 70 Pro");
    assert_eq!(r.body["image_urls"], json!([]), "a replacement, not a patch");
    assert_eq!(app.get(&format!("/api/admin/products/{}", p.id), Some(&admin)).await.body, r.body);

    // A sku of another product cannot be named.
    let other = product_with_two_skus(&app, &admin, "Other").await;
    let steal = json!({"name": "x", "skus": [{"id": other.skus[0], "name": "stolen", "price_cents": 1, "stock": 1}]});
    let r = app.put(&format!("/api/admin/products/{}", p.id), &steal, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("skus[0].id").is_empty(), "{}", r.text);
    let body = json!({"name": "x", "skus": [{"name": "a", "price_cents": 1, "stock": 1}]});
    app.put("/api/admin/products/9999", &body, Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_sku_on_sale_in_an_activity_cannot_be_removed_from_its_product() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    let only_first = json!({
        "name": "Mate 70",
        "skus": [{"id": p.skus[0], "name": "black", "price_cents": LIST_PRICES[0], "stock": SKU_STOCK[0]}],
    });
    let r = app.put(&format!("/api/admin/products/{}", p.id), &only_first, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(r.field("skus").contains(&p.skus[1].to_string()), "{}", r.text);
    let product = app.get(&format!("/api/admin/products/{}", p.id), Some(&admin)).await;
    assert_eq!(product.body["skus"].as_array().unwrap().len(), 2, "nothing changed");
}

#[tokio::test]
async fn a_product_with_bad_fields_is_a_422_naming_each() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let sku = json!({"name": "black", "price_cents": 100, "stock": 1});
    let cases = [
        (json!({"name": " ", "skus": [sku]}), "name"),
        (json!({"name": "P", "skus": []}), "skus"),
        (json!({"name": "P", "skus": [{"name": "", "price_cents": 100, "stock": 1}]}), "skus[0].name"),
        (json!({"name": "P", "skus": [sku, {"name": "b", "price_cents": 0, "stock": 1}]}), "skus[1].price_cents"),
        (json!({"name": "P", "skus": [{"name": "b", "price_cents": -5, "stock": 1}]}), "skus[0].price_cents"),
        (json!({"name": "P", "skus": [{"name": "b", "price_cents": 100, "stock": -1}]}), "skus[0].stock"),
        (json!({"name": "P", "skus": [{"name": "b", "price_cents": 100, "stock": 100_000_001}]}), "skus[0].stock"),
        (json!({"name": "P", "brand_id": 9999, "skus": [sku]}), "brand_id"),
        (json!({"name": "P", "category_id": 9999, "skus": [sku]}), "category_id"),
        (json!({"name": "P", "brand_id": -1, "skus": [sku]}), "brand_id"),
        (json!({"name": "P", "image_urls": ["ftp://x"], "skus": [sku]}), "image_urls[0]"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/admin/products", &body, Some(&admin)).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{body}: {field} is not listed: {}", r.text);
    }
    let every = json!({"name": "", "brand_id": 9999, "skus": [{"name": "", "price_cents": 0, "stock": -1}]});
    let r = app.post("/api/admin/products", &every, Some(&admin)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    for field in ["name", "skus[0].name", "skus[0].price_cents", "skus[0].stock"] {
        assert!(!r.field(field).is_empty(), "every problem at once, {field} missing: {}", r.text);
    }
    assert_eq!(app.get("/api/admin/products", Some(&admin)).await.body["total"], 0);
}
