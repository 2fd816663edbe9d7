//! Shoppers: registration, signing in, the profile and delivery addresses.

use seckill_testkit::spawn_app;
use serde_json::json;

use crate::{address, ids};

#[tokio::test]
async fn a_shopper_registers_and_gets_201_with_id_username_and_level() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/users",
            &json!({"username": "alice", "password": "correct horse", "phone": "+86 138-0013-8000",
                    "email": "alice@example.cn", "nickname": " Al "}),
            None,
        )
        .await;
    r.expect(201);
    assert!(r.id("id") > 0);
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["level"], 1);
    assert_eq!(r.body["nickname"], "Al", "text fields are trimmed");
    assert!(!r.text.contains("correct horse"), "the password never comes back: {}", r.text);
    assert!(!r.text.contains("argon2"), "nor its hash: {}", r.text);
}

#[tokio::test]
async fn a_registration_cannot_choose_its_own_level_or_id() {
    let app = spawn_app().await;
    let body = json!({"username": "mallory", "password": "long enough", "level": 100, "id": 42, "is_admin": true});
    let r = app.post("/api/users", &body, None).await;
    r.expect(201);
    assert_eq!(r.body["level"], 1, "{}", r.text);
    let token = app.post("/api/sessions", &body, None).await.body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/me", Some(&token)).await.body["level"], 1);
    app.get("/api/admin/brands", Some(&token)).await.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn a_second_registration_with_the_same_name_in_capitals_is_taken() {
    let app = spawn_app().await;
    app.post("/api/users", &json!({"username": "alice", "password": "password-1"}), None).await.expect(201);
    for name in ["alice", "ALICE", "Alice", " alice "] {
        let r = app.post("/api/users", &json!({"username": name, "password": "password-2"}), None).await;
        r.assert_error(409, "USERNAME_TAKEN");
    }
    // The first account is untouched: its password still works, the second one does not.
    app.post("/api/sessions", &json!({"username": "alice", "password": "password-1"}), None).await.expect(200);
    let r = app.post("/api/sessions", &json!({"username": "alice", "password": "password-2"}), None).await;
    r.assert_error(401, "BAD_CREDENTIALS");
}

#[tokio::test]
async fn a_registration_with_bad_fields_lists_each_of_them() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/users",
            &json!({"username": "a b", "password": "short", "phone": "12ab", "email": "nope", "nickname": "x".repeat(33)}),
            None,
        )
        .await;
    r.assert_error(422, "VALIDATION_FAILED");
    for field in ["username", "password", "phone", "email", "nickname"] {
        assert!(!r.field(field).is_empty(), "{field} is not listed: {}", r.text);
    }
    let cases = [
        (json!({"username": "ab", "password": "long enough"}), "username"),
        (json!({"username": "<script>", "password": "long enough"}), "username"),
        (json!({"username": "x".repeat(33), "password": "long enough"}), "username"),
        (json!({"username": "bob", "password": "seven77"}), "password"),
        (json!({"username": "bob", "password": "p".repeat(129)}), "password"),
        (json!({"username": "bob", "password": "long enough", "email": "bob@localhost"}), "email"),
        (json!({"username": "bob", "password": "long enough", "phone": "123"}), "phone"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/users", &body, None).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{body}: {field} is not listed: {}", r.text);
    }
    // None of those created an account.
    let r = app.get("/api/admin/users", Some(&app.admin_token().await)).await;
    r.expect(200);
    assert_eq!(r.body["total"], 0, "{}", r.text);
}

#[tokio::test]
async fn a_shopper_logs_in_and_sees_their_profile() {
    let app = spawn_app().await;
    let id = app
        .post("/api/users", &json!({"username": "Alice", "password": "correct horse", "email": "a@b.cn"}), None)
        .await
        .id("id");
    let r = app.post("/api/sessions", &json!({"username": "Alice", "password": "correct horse"}), None).await;
    r.expect(200);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["user"], json!({"id": id, "username": "Alice", "level": 1}));
    let expires: seckill_domain::Timestamp = r.body["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = i64::try_from(app.settings.session_ttl.as_secs()).unwrap();
    assert_eq!(expires.as_second() - app.now().as_second(), ttl, "sessions last the configured TTL");

    let me = app.get("/api/me", Some(&token)).await;
    me.expect(200);
    assert_eq!((me.id("id"), me.body["username"].as_str(), me.body["level"].as_i64()), (id, Some("Alice"), Some(1)));
    assert_eq!(me.body["email"], "a@b.cn");

    // Names are matched regardless of letter case, and surrounding spaces are ignored.
    let r = app.post("/api/sessions", &json!({"username": " aLICE ", "password": "correct horse"}), None).await;
    r.expect(200);
    assert_eq!(r.body["user"]["username"], "Alice");
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_name_is_bad_credentials() {
    let app = spawn_app().await;
    app.shopper("alice").await;
    let wrong = app.post("/api/sessions", &json!({"username": "alice", "password": "not-her-password"}), None).await;
    wrong.assert_error(401, "BAD_CREDENTIALS");
    let unknown = app.post("/api/sessions", &json!({"username": "nobody", "password": "whatever!"}), None).await;
    unknown.assert_error(401, "BAD_CREDENTIALS");
    assert_eq!(wrong.body, unknown.body, "the answer does not tell which usernames exist");
    assert!(wrong.header_all("set-cookie").is_empty(), "no cookie for a failed login");
}

#[tokio::test]
async fn the_first_address_becomes_the_default_and_the_list_shows_the_default_first() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    let empty = app.get("/api/me/addresses", Some(&alice.token)).await;
    empty.expect(200);
    assert_eq!(empty.body, json!({"items": []}));

    let home = app.post("/api/me/addresses", &address("home", None), Some(&alice.token)).await;
    home.expect(201);
    assert_eq!(home.body["is_default"], true, "the only address is the default: {}", home.text);
    for key in ["contact", "phone", "province", "city", "district", "detail"] {
        assert_eq!(home.body[key], address("home", None)[key], "{key}");
    }
    let home = home.id("id");
    let office = app.post("/api/me/addresses", &address("office", None), Some(&alice.token)).await;
    office.expect(201);
    assert_eq!(office.body["is_default"], false);
    let office = office.id("id");

    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    list.expect(200);
    assert_eq!(ids(&list), [home, office]);
    assert_eq!(list.body["items"][0]["is_default"], true);
    assert_eq!(list.body["items"][1]["is_default"], false);
}

#[tokio::test]
async fn a_new_default_address_takes_over_and_deleting_the_default_promotes_the_newest() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    let add = |name: &'static str, default: Option<bool>| {
        let (app, token) = (&app, alice.token.clone());
        async move {
            let r = app.post("/api/me/addresses", &address(name, default), Some(&token)).await;
            r.expect(201);
            r.id("id")
        }
    };
    let first = add("first", None).await;
    let second = add("second", Some(true)).await;
    let third = add("third", Some(false)).await;
    let defaults = |r: &seckill_testkit::Reply| -> Vec<i64> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["is_default"] == true)
            .map(|a| a["id"].as_i64().unwrap())
            .collect()
    };
    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(defaults(&list), [second], "exactly one default: {}", list.text);
    assert_eq!(ids(&list)[0], second);

    app.delete(&format!("/api/me/addresses/{second}"), Some(&alice.token)).await.expect(204);
    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(defaults(&list), [third], "the most recent address left is the default: {}", list.text);
    assert_eq!(ids(&list), [third, first]);

    app.delete(&format!("/api/me/addresses/{third}"), Some(&alice.token)).await.expect(204);
    app.delete(&format!("/api/me/addresses/{first}"), Some(&alice.token)).await.expect(204);
    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(list.body, json!({"items": []}));
    // Gone is gone.
    app.delete(&format!("/api/me/addresses/{first}"), Some(&alice.token)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn another_users_address_is_not_found_and_stays_theirs() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    let bob = app.shopper("bob").await;
    let hers = app.post("/api/me/addresses", &address("alice", None), Some(&alice.token)).await.id("id");

    let r = app.delete(&format!("/api/me/addresses/{hers}"), Some(&bob.token)).await;
    r.assert_error(404, "NOT_FOUND");
    let missing = app.delete("/api/me/addresses/987654", Some(&bob.token)).await;
    missing.assert_error(404, "NOT_FOUND");
    assert_eq!(r.status, missing.status, "a foreign id looks exactly like a missing one");

    let bobs = app.get("/api/me/addresses", Some(&bob.token)).await;
    assert_eq!(bobs.body, json!({"items": []}), "bob sees none of alice's addresses");
    let hers_now = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(ids(&hers_now), [hers]);
}

#[tokio::test]
async fn an_address_with_missing_or_bad_parts_lists_each_of_them() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    let blank = json!({"contact": " ", "phone": "", "province": "", "city": "", "district": "", "detail": ""});
    let r = app.post("/api/me/addresses", &blank, Some(&alice.token)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    for field in ["contact", "phone", "province", "city", "district", "detail"] {
        assert!(!r.field(field).is_empty(), "{field} is not listed: {}", r.text);
    }
    let mut bad_phone = address("x", None);
    bad_phone["phone"] = json!("call me");
    let r = app.post("/api/me/addresses", &bad_phone, Some(&alice.token)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(!r.field("phone").is_empty(), "{}", r.text);
    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(list.body, json!({"items": []}), "nothing was stored");
}

#[tokio::test]
async fn a_shopper_keeps_at_most_twenty_addresses() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    for i in 0..20 {
        app.post("/api/me/addresses", &address(&format!("a{i}"), None), Some(&alice.token)).await.expect(201);
    }
    let r = app.post("/api/me/addresses", &address("one too many", None), Some(&alice.token)).await;
    r.assert_error(422, "VALIDATION_FAILED");
    assert!(r.field("address").contains("20"), "{}", r.text);
    let list = app.get("/api/me/addresses", Some(&alice.token)).await;
    assert_eq!(ids(&list).len(), 20);
    // Deleted addresses do not count.
    app.delete(&format!("/api/me/addresses/{}", ids(&list)[0]), Some(&alice.token)).await.expect(204);
    app.post("/api/me/addresses", &address("room again", None), Some(&alice.token)).await.expect(201);
}
