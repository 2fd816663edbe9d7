//! Shoppers' search, `GET /api/search?q=`: products of current and upcoming activities by name,
//! brand or category (Chinese substrings too), renames seen at once, bad input answered with
//! `422`, and no query text ever a `500`.

use rstest::rstest;
use seckill_testkit::{AppOptions, Database, Reply, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

use crate::{
    LIST_PRICES, SECKILL_PRICES, TwoSkus, activity_body, create_activity, product_with_two_skus, singles_day, slot,
    with,
};

/// `q` percent-encoded for a query string (every byte but ASCII letters and digits).
fn encode(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn search(app: &TestApp, q: &str) -> Reply {
    app.get(&format!("/api/search?q={}", encode(q)), None).await
}

/// The product names found for `q`, best first.
async fn names(app: &TestApp, q: &str) -> Vec<String> {
    let r = search(app, q).await;
    r.expect(200);
    r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", r.text))
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn brand(app: &TestApp, admin: &str, name: &str) -> i64 {
    app.post("/api/admin/brands", &json!({"name": name}), Some(admin)).await.expect(201).id("id")
}

async fn category(app: &TestApp, admin: &str, name: &str) -> i64 {
    app.post("/api/admin/categories", &json!({"name": name}), Some(admin)).await.expect(201).id("id")
}

/// [`product_with_two_skus`], then given `brand` and `category` by an update, as an operator
/// would in the console.
async fn branded(app: &TestApp, admin: &str, name: &str, brand: Option<i64>, category: Option<i64>) -> TwoSkus {
    let p = product_with_two_skus(app, admin, name).await;
    let mut update = product_update(app, admin, p.id).await;
    update["brand_id"] = json!(brand);
    update["category_id"] = json!(category);
    app.put(&format!("/api/admin/products/{}", p.id), &update, Some(admin)).await.expect(200);
    p
}

/// Product `id` as an update body that changes nothing.
async fn product_update(app: &TestApp, admin: &str, id: i64) -> Value {
    let product = app.get(&format!("/api/admin/products/{id}"), Some(admin)).await.body;
    let mut update = json!({
        "name": product["name"], "brand_id": product["brand_id"], "category_id": product["category_id"],
        "description": product["description"], "image_urls": product["image_urls"], "skus": product["skus"],
    });
    for s in update["skus"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().retain(|k, _| ["id", "name", "spec", "price_cents", "stock"].contains(&k.as_str()));
    }
    update
}

#[rstest]
#[case::sqlite(Database::Sqlite)]
#[case::postgres(Database::Postgres)]
#[case::cluster(Database::Cluster)]
#[tokio::test]
async fn search_finds_products_of_current_and_upcoming_activities_by_name_brand_or_category(
    #[case] database: Database,
) {
    let app = spawn_app_with(AppOptions::on(database)).await;
    let admin = app.admin_token().await;
    let (huawei, apple) = (brand(&app, &admin, "华为 HUAWEI").await, brand(&app, &admin, "Apple").await);
    let phones = category(&app, &admin, "手机").await;
    let (ten, eight) =
        (slot(&app, &admin, "10点场", "10:00", "12:00").await, slot(&app, &admin, "8点场", "08:00", "09:00").await);
    app.set_local_time("2026-11-11T10:30");

    let mate70 = branded(&app, &admin, "Mate 70 Pro", Some(huawei), Some(phones)).await;
    let running = create_activity(&app, &admin, &singles_day(&app, mate70, &[ten])).await;
    let mate60 = branded(&app, &admin, "Mate 60", Some(huawei), None).await;
    let next_days = activity_body(mate60, &[ten], app.local("2026-11-12T00:00"), app.local("2026-11-13T00:00"));
    let upcoming = create_activity(&app, &admin, &next_days).await;
    let iphone = branded(&app, &admin, "iPhone 17", Some(apple), Some(phones)).await;
    let past = activity_body(iphone, &[ten], app.local("2026-11-09T00:00"), app.local("2026-11-10T00:00"));
    create_activity(&app, &admin, &past).await;
    // Its only window today (08:00–09:00) is over: ended before its `ends_at`.
    let pura = branded(&app, &admin, "Pura 70", Some(huawei), Some(phones)).await;
    create_activity(&app, &admin, &singles_day(&app, pura, &[eight])).await;
    let disabled = branded(&app, &admin, "Mate X6", Some(huawei), Some(phones)).await;
    create_activity(&app, &admin, &with(&singles_day(&app, disabled, &[ten]), "/enabled", json!(false))).await;
    branded(&app, &admin, "Mate 50", Some(huawei), Some(phones)).await;

    let r = search(&app, "mate").await;
    r.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{}", r.text);
    let first = &r.body["items"][0];
    assert_eq!(first["activity_id"], running);
    assert_eq!(first["product_id"], mate70.id);
    assert_eq!(first["name"], "Mate 70 Pro");
    assert_eq!(first["activity_name"], "Mate 70 Pro 限时秒杀");
    assert_eq!(first["seckill_price_cents"], SECKILL_PRICES[0], "the lowest seckill price");
    assert_eq!(first["price_cents"], LIST_PRICES[0], "the lowest list price");
    assert_eq!(first["image_url"], "https://img.example/mate.jpg");
    assert_eq!(first["state"], "running");
    let second = &r.body["items"][1];
    assert_eq!(
        (&second["activity_id"], &second["name"], &second["state"]),
        (&json!(upcoming), &json!("Mate 60"), &json!("upcoming"))
    );
    assert_eq!(second["next_window_start"], crate::rfc3339(app.local("2026-11-12T10:00")));

    assert_eq!(names(&app, "MATE").await, ["Mate 70 Pro", "Mate 60"], "any letter case");
    assert_eq!(names(&app, "huawei").await, ["Mate 70 Pro", "Mate 60"], "by brand");
    assert_eq!(names(&app, "华为").await, ["Mate 70 Pro", "Mate 60"]);
    assert_eq!(names(&app, "手机").await, ["Mate 70 Pro"], "by category");
    assert_eq!(names(&app, "华为 手机").await, ["Mate 70 Pro"], "every term, each anywhere");
    assert_eq!(names(&app, "70 pro").await, ["Mate 70 Pro"]);
    assert!(names(&app, "iphone").await.is_empty(), "its activity has ended");
    assert!(names(&app, "pura").await.is_empty(), "no window left today");
    assert!(names(&app, "x6").await.is_empty(), "disabled");
    assert!(names(&app, "mate 50").await.is_empty(), "in no activity");

    // Once the running sale is over, only the upcoming one is left.
    app.set_local_time("2026-11-11T12:00");
    assert_eq!(names(&app, "mate").await, ["Mate 60"]);
}

#[tokio::test]
async fn a_chinese_substring_matches_inside_a_name_without_spaces() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let p = product_with_two_skus(&app, &admin, "华为Mate70Pro旗舰5G手机").await;
    create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    for q in ["手机", "旗舰", "5g手机", "mate70", "Mate 70", "为mate", "华"] {
        assert_eq!(names(&app, q).await, ["华为Mate70Pro旗舰5G手机"], "{q:?}");
    }
    assert!(names(&app, "旗舰手机").await.is_empty(), "a term matches as one contiguous piece");
}

#[tokio::test]
async fn renaming_a_product_brand_or_category_is_found_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let huawei = brand(&app, &admin, "Huawei").await;
    let phones = category(&app, &admin, "Phones").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let p = branded(&app, &admin, "Mate 70", Some(huawei), Some(phones)).await;
    create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    assert_eq!(names(&app, "huawei phones mate").await, ["Mate 70"]);

    app.put(&format!("/api/admin/brands/{huawei}"), &json!({"name": "Honor"}), Some(&admin)).await.expect(200);
    assert!(names(&app, "huawei").await.is_empty());
    assert_eq!(names(&app, "honor").await, ["Mate 70"]);

    app.put(&format!("/api/admin/categories/{phones}"), &json!({"name": "平板"}), Some(&admin)).await.expect(200);
    assert!(names(&app, "phones").await.is_empty());
    assert_eq!(names(&app, "平板").await, ["Mate 70"]);

    let mut update = product_update(&app, &admin, p.id).await;
    update["name"] = json!("Pura 80");
    app.put(&format!("/api/admin/products/{}", p.id), &update, Some(&admin)).await.expect(200);
    assert!(names(&app, "mate").await.is_empty());
    assert_eq!(names(&app, "pura").await, ["Pura 80"]);
    assert_eq!(names(&app, "honor 平板 80").await, ["Pura 80"]);
}

#[tokio::test]
async fn a_missing_blank_or_overlong_query_is_a_422_on_q() {
    let app = spawn_app().await;
    for path in ["/api/search", "/api/search?q=", "/api/search?q=%20%20", "/api/search?q=%E3%80%80", "/api/search?x=1"]
    {
        let r = app.get(path, None).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(r.field("q"), "must not be empty", "{path}: {}", r.text);
    }
    let r = search(&app, &"x".repeat(101)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(r.field("q"), "must be at most 100 characters");
    // Characters are counted, not bytes, and surrounding spaces do not count.
    search(&app, &"手".repeat(100)).await.expect(200);
    search(&app, &format!("  {}  ", "x".repeat(100))).await.expect(200);
    // Two values of `q` are not one query.
    app.get("/api/search?q=a&q=b", None).await.assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn no_query_text_is_a_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let p = product_with_two_skus(&app, &admin, r#"Say "cheese" 100% (NEAR) C:\kit"#).await;
    create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    #[rustfmt::skip]
    let weird = [
        "\"", "\"\"", "\"mate", "*", "mate*", "-", "-mate", "+", "^", ":", "name:mate", "{name}: mate", "(", ")",
        "(mate)", "AND", "OR", "NOT", "NEAR", "NEAR(mate pro)", "NEAR(a b, 2)", "mate OR pro", "NOT mate", "%",
        "_", "\\", "'", "'; DROP TABLE products; --", "🙂🙂🙂", "\u{FFFD}", "a\u{0}b", "?1", "$1", "#", "&", "=",
    ];
    for q in weird {
        let r = search(&app, q).await;
        assert_eq!(r.status.as_u16(), 200, "{q:?}: {}", r.text);
        assert!(r.body["items"].is_array(), "{q:?}: {}", r.text);
    }
    // Raw bytes that are not UTF-8 after decoding, and a bare `%`, are never a 500 either.
    for raw in ["/api/search?q=%FF%FE", "/api/search?q=%", "/api/search?q=%zz", "/api/search?q=a+b"] {
        let r = app.get(raw, None).await;
        assert!(r.status.as_u16() < 500, "{raw}: {} {}", r.status, r.text);
    }
    let found = [r#"Say "cheese" 100% (NEAR) C:\kit"#];
    for q in ["\"cheese\"", "100%", "%", "(near)", "c:\\kit", "\""] {
        assert_eq!(names(&app, q).await, found, "{q:?} is text");
    }
    for q in ["cheese*", "(cheese)", "cheese OR nothing", "NOT cheese", "_"] {
        assert!(names(&app, q).await.is_empty(), "{q:?} is text, not syntax");
    }
}

#[tokio::test]
async fn search_needs_no_sign_in_and_is_counted_per_route() {
    let app = spawn_app().await;
    search(&app, "anything").await.expect(200);
    let shopper = app.shopper("alice").await;
    let r = app.get("/api/search?q=anything", Some(&shopper.token)).await;
    r.expect(200);
    assert_eq!(r.body, json!({"items": []}));
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.lines().any(|l| l.starts_with("http_requests_total{") && l.contains(r#"route="/api/search""#)),
        "{metrics}"
    );
}
