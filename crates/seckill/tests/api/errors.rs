//! Bad input of every kind gets the one JSON error shape with the right status, and never a 500:
//! malformed JSON, wrong types, missing fields, wrong content types, oversized bodies, unknown
//! routes and methods, bad path ids and bad query parameters.

use reqwest::Method;
use seckill_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};

const JSON: Option<&str> = Some("application/json");
/// The body limit of API.md: 64 KiB.
const LIMIT: usize = 64 * 1024;

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for body in [r#"{"username": "#, "not json", "", "{} trailing", r#"{"username": "a",}"#, "\u{feff}{}"] {
        let r = app.raw(Method::POST, "/api/users", JSON, body, None).await;
        r.assert_error(400, "BAD_REQUEST");
        let r = app.raw(Method::POST, "/api/admin/brands", JSON, body, Some(&admin)).await;
        r.assert_error(400, "BAD_REQUEST");
    }
    let invalid_utf8: &[u8] = b"{\"name\": \"\xff\xfe\"}";
    let r = app.raw(Method::POST, "/api/admin/brands", JSON, invalid_utf8.to_vec(), Some(&admin)).await;
    r.assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_bad_requests_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases: [(&str, Value, &str); 12] = [
        ("/api/users", json!({"username": 5, "password": "long enough"}), "username"),
        ("/api/users", json!({"username": "alice"}), "password"),
        ("/api/users", json!({"username": null, "password": "long enough"}), "username"),
        ("/api/sessions", json!({"password": "x"}), "username"),
        ("/api/admin/time-slots", json!({"name": "x", "start": 10, "end": "12:00"}), "start"),
        ("/api/admin/time-slots", json!({"name": "x", "start": "10:00", "end": "12:00", "enabled": "yes"}), "enabled"),
        ("/api/admin/brands", json!({"name": "x", "sort": 3_000_000_000u64}), "sort"),
        (
            "/api/admin/products",
            json!({"name": "P", "skus": [{"name": "a", "price_cents": "cheap", "stock": 1}]}),
            "price_cents",
        ),
        (
            "/api/admin/products",
            json!({"name": "P", "skus": [{"name": "a", "price_cents": 1.5, "stock": 1}]}),
            "price_cents",
        ),
        ("/api/admin/products", json!({"name": "P"}), "skus"),
        ("/api/admin/activities", json!({"name": "x", "product_id": "1"}), "product_id"),
        (
            "/api/admin/activities",
            json!({"name": "x", "product_id": 1, "starts_at": "a", "ends_at": "b"}),
            "time_slot_ids",
        ),
    ];
    for (path, body, field) in cases {
        let r = app.post(path, &body, Some(&admin)).await;
        r.assert_error(400, "BAD_REQUEST");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{path} {body}: names {field}: {}",
            r.text
        );
    }
    for body in [json!([]), json!(null), json!("alice"), json!(42)] {
        app.post("/api/users", &body, None).await.assert_error(400, "BAD_REQUEST");
    }
    // Numbers beyond 64 bits are wrong types too, not a crash.
    let huge = r#"{"name": "P", "skus": [{"name": "a", "price_cents": 99999999999999999999999, "stock": 1}]}"#;
    app.raw(Method::POST, "/api/admin/products", JSON, huge, Some(&admin)).await.assert_error(400, "BAD_REQUEST");
    assert_eq!(app.get("/api/admin/products", Some(&admin)).await.body["total"], 0, "nothing was created");
}

#[tokio::test]
async fn a_body_without_the_json_content_type_is_unsupported() {
    let app = spawn_app().await;
    let body = r#"{"username": "alice", "password": "long enough"}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("json")] {
        let r = app.raw(Method::POST, "/api/users", content_type, body, None).await;
        r.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    }
    let r = app.raw(Method::POST, "/api/users", Some("application/json; charset=utf-8"), body, None).await;
    r.expect(201);
}

/// A registration body of exactly `len` bytes: valid JSON padded with trailing spaces.
fn registration_of_length(len: usize) -> String {
    let mut body = json!({"username": "alice", "password": "long enough"}).to_string();
    assert!(body.len() <= len);
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[tokio::test]
async fn a_body_over_64_kib_is_payload_too_large() {
    let app = spawn_app().await;
    let r = app.raw(Method::POST, "/api/users", JSON, registration_of_length(LIMIT + 1), None).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    let r = app.raw(Method::POST, "/api/users", JSON, "x".repeat(LIMIT * 4), None).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    // Exactly the limit is fine.
    app.raw(Method::POST, "/api/users", JSON, registration_of_length(LIMIT), None).await.expect(201);
    // Admin routes share the limit.
    let admin = app.admin_token().await;
    let big =
        json!({"name": "P", "description": "d".repeat(LIMIT), "skus": [{"name": "a", "price_cents": 1, "stock": 1}]});
    app.post("/api/admin/products", &big, Some(&admin)).await.assert_error(413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_chunked_body_over_64_kib_without_a_length_is_payload_too_large() {
    let app = spawn_app().await;
    let body = registration_of_length(LIMIT + 10);
    let mut request = b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for chunk in body.as_bytes().chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let r = app.raw_http(&request).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    // The same framing under the limit is accepted: the refusal was about the size.
    let small = registration_of_length(100);
    let request = format!(
        "POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{small}\r\n0\r\n\r\n",
        small.len()
    );
    app.raw_http(request.as_bytes()).await.expect(201);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_both_in_json() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in ["/nope", "/api", "/api/nope", "/api/activities/1/nope", "/api/admin/nope", "/API/TIME", "/healthz/"] {
        let r = app.get(path, Some(&admin)).await;
        r.assert_error(404, "NOT_FOUND");
        let r = app.get(path, None).await;
        r.assert_error(404, "NOT_FOUND");
    }
    let wrong = [
        (Method::POST, "/healthz"),
        (Method::DELETE, "/api/users"),
        (Method::GET, "/api/users"),
        (Method::PUT, "/api/me"),
        (Method::PATCH, "/api/activities/1"),
        (Method::POST, "/api/activities/1/status"),
        (Method::DELETE, "/api/admin/brands"),
        (Method::GET, "/api/admin/activities/1/enable"),
    ];
    for (method, path) in wrong {
        let r = app.send(method.clone(), path, None, Some(&admin)).await;
        assert_eq!(r.status.as_u16(), 405, "{method} {path}: {}", r.text);
        r.assert_error(405, "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn path_ids_must_be_positive_integers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.shopper("alice").await;
    for id in ["abc", "1.5", "1e3", "99999999999999999999", "%20"] {
        app.get(&format!("/api/activities/{id}"), None).await.assert_error(400, "BAD_REQUEST");
        app.get(&format!("/api/activities/{id}/status"), None).await.assert_error(400, "BAD_REQUEST");
        app.get(&format!("/api/admin/products/{id}"), Some(&admin)).await.assert_error(400, "BAD_REQUEST");
        app.delete(&format!("/api/me/addresses/{id}"), Some(&alice.token)).await.assert_error(400, "BAD_REQUEST");
    }
    // Zero and negative ids name no record.
    for id in ["0", "-1", "-9223372036854775808"] {
        app.get(&format!("/api/activities/{id}"), None).await.assert_error(404, "NOT_FOUND");
        app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await.assert_error(404, "NOT_FOUND");
        let body = json!({"name": "x"});
        app.put(&format!("/api/admin/brands/{id}"), &body, Some(&admin)).await.assert_error(404, "NOT_FOUND");
        app.delete(&format!("/api/me/addresses/{id}"), Some(&alice.token)).await.assert_error(404, "NOT_FOUND");
    }
}

#[tokio::test]
async fn bad_query_parameters_are_bad_requests() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for query in ["state=weird", "state=Running", "state=running&state=ended"] {
        app.get(&format!("/api/activities?{query}"), None).await.assert_error(400, "BAD_REQUEST");
    }
    for query in ["page=abc", "page=-1", "page=1.5", "per_page=many", "per_page=99999999999"] {
        app.get(&format!("/api/admin/products?{query}"), Some(&admin)).await.assert_error(400, "BAD_REQUEST");
        app.get(&format!("/api/admin/users?{query}"), Some(&admin)).await.assert_error(400, "BAD_REQUEST");
    }
    // Blank values are absent; out-of-range pages are clamped; unknown parameters are ignored.
    for query in ["page=", "page=&per_page=", "page=0&per_page=1000", "utm_source=mail"] {
        app.get(&format!("/api/admin/products?{query}"), Some(&admin)).await.expect(200);
    }
    app.get("/api/activities?state=&foo=bar", None).await.expect(200);
}

/// Every write route with a token that may use it.
async fn write_routes(app: &TestApp) -> Vec<(Method, String, String)> {
    let admin = app.admin_token().await;
    let alice = app.shopper("alice").await.token;
    let mut routes: Vec<(Method, String, String)> = [
        (Method::POST, "/api/users"),
        (Method::POST, "/api/sessions"),
        (Method::POST, "/api/admin/sessions"),
        (Method::POST, "/api/me/addresses"),
    ]
    .into_iter()
    .map(|(m, p)| (m, p.to_owned(), alice.clone()))
    .collect();
    for path in [
        "/api/admin/brands",
        "/api/admin/categories",
        "/api/admin/products",
        "/api/admin/time-slots",
        "/api/admin/activities",
    ] {
        routes.push((Method::POST, path.to_owned(), admin.clone()));
    }
    for path in [
        "/api/admin/brands/1",
        "/api/admin/categories/1",
        "/api/admin/products/1",
        "/api/admin/time-slots/1",
        "/api/admin/activities/1",
        "/api/admin/users/1",
    ] {
        routes.push((Method::PUT, path.to_owned(), admin.clone()));
    }
    routes
}

#[tokio::test]
async fn no_bad_input_anywhere_is_answered_with_a_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Something to point at, so updates reach their validation.
    app.post("/api/admin/brands", &json!({"name": "b"}), Some(&admin)).await.expect(201);
    app.post("/api/admin/categories", &json!({"name": "c"}), Some(&admin)).await.expect(201);
    crate::product_with_two_skus(&app, &admin, "p").await;
    crate::slot(&app, &admin, "s", "10:00", "12:00").await;
    let long = "长".repeat(5_000);
    let bodies = [
        json!({}),
        json!({"name": null}),
        json!({"name": "", "username": "", "password": "", "level": -1}),
        json!({"name": long, "username": long, "password": long}),
        json!({"name": "x\u{0}y", "contact": "\u{7}", "start": "\u{0}", "end": "\u{0}"}),
        json!({"name": "x", "skus": [{}], "time_slot_ids": [null]}),
        json!({"name": "x", "level": i64::MAX, "sort": i32::MIN, "parent_id": i64::MIN, "brand_id": i64::MAX}),
        json!({"name": "x", "product_id": i64::MAX, "starts_at": "2026-11-11T00:00:00Z", "ends_at": "9999-12-31T23:59:59Z",
               "time_slot_ids": [i64::MAX, -1, 0], "skus": [{"sku_id": i64::MIN, "seckill_price_cents": i64::MAX, "stock": i64::MAX}],
               "total_limit": i64::MAX, "single_limit": i64::MIN, "min_level": i64::MAX, "pay_timeout_secs": i64::MIN}),
        json!({"name": "x", "skus": [{"id": i64::MAX, "name": "s", "price_cents": i64::MAX, "stock": i64::MAX}]}),
        json!({"name": "x", "start": "23:59", "end": "24:00", "image_url": "//evil", "letter": "ß"}),
        json!({"contact": "x", "phone": "1".repeat(25), "province": "p", "city": "c", "district": "d", "detail": "x"}),
    ];
    for (method, path, token) in write_routes(&app).await {
        for body in &bodies {
            let r = app.send(method.clone(), &path, Some(body), Some(&token)).await;
            assert!(
                r.status.is_client_error() || r.status.is_success(),
                "{method} {path} {body}: {} {}",
                r.status,
                r.text
            );
            if r.status.is_client_error() {
                assert!(!r.code().is_empty(), "{method} {path} {body}: no error code: {}", r.text);
                r.assert_error(r.status.as_u16(), r.code());
            }
        }
    }
}
