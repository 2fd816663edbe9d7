//! What survives a restart on the same data dir: accounts, sessions (the generated secret is
//! kept in the data dir), the catalog, slots and activities.

use seckill_testkit::spawn_app;
use serde_json::json;

use crate::{address, create_activity, product_with_two_skus, singles_day, slot};

#[tokio::test]
async fn data_and_sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.shopper("alice").await;
    app.post("/api/me/addresses", &address("home", None), Some(&alice.token)).await.expect(201);
    app.post("/api/admin/brands", &json!({"name": "HUAWEI"}), Some(&admin)).await.expect(201);
    app.post("/api/admin/categories", &json!({"name": "手机"}), Some(&admin)).await.expect(201);
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let activity = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    app.post(&format!("/api/admin/activities/{activity}/disable"), &json!({}), Some(&admin)).await.expect(200);

    let reads = [
        ("/api/me", alice.token.as_str()),
        ("/api/me/addresses", alice.token.as_str()),
        ("/api/admin/brands", admin.as_str()),
        ("/api/admin/categories", admin.as_str()),
        ("/api/admin/products", admin.as_str()),
        ("/api/admin/time-slots", admin.as_str()),
        ("/api/admin/activities", admin.as_str()),
    ];
    let mut before = Vec::new();
    for (path, token) in reads {
        let r = app.get(path, Some(token)).await;
        r.expect(200);
        before.push(r.body);
    }
    let public_before = app.get(&format!("/api/activities/{activity}"), None).await.body;
    let secret_before = std::fs::read_to_string(app.data_dir().join("secret")).unwrap();
    let old_base = app.base.clone();

    app.restart().await;
    assert_ne!(app.base, old_base, "a new server on a new port");
    assert_eq!(std::fs::read_to_string(app.data_dir().join("secret")).unwrap(), secret_before);

    // The tokens issued before still work: same secret, no server-side sessions to lose.
    for ((path, token), expected) in reads.iter().zip(&before) {
        let r = app.get(path, Some(token)).await;
        r.expect(200);
        assert_eq!(&r.body, expected, "{path} after the restart");
    }
    assert_eq!(app.get(&format!("/api/activities/{activity}"), None).await.body, public_before);
    // Logging in works, and names stay taken.
    let r = app.post("/api/sessions", &json!({"username": "alice", "password": "alice-password"}), None).await;
    r.expect(200);
    assert_eq!(r.body["user"]["id"], alice.id);
    let r = app.post("/api/users", &json!({"username": "ALICE", "password": "another one"}), None).await;
    r.assert_error(409, "USERNAME_TAKEN");
    let r = app
        .post("/api/admin/sessions", &json!({"username": "root", "password": "root-password-for-tests"}), None)
        .await;
    r.expect(200);
    // The rules still hold against what was stored before: the slot is in use, the product busy.
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.assert_error(409, "SLOT_IN_USE");
    app.post(&format!("/api/admin/activities/{activity}/enable"), &json!({}), Some(&admin)).await.expect(200);
    let twin = app.post("/api/admin/activities", &singles_day(&app, p, &[ten]), Some(&admin)).await;
    twin.assert_error(409, "PRODUCT_IN_ACTIVITY");
    // And new records get fresh ids.
    let second = product_with_two_skus(&app, &admin, "Mate 70 RS").await;
    assert!(second.id > p.id);
}

#[tokio::test]
async fn a_restart_twice_in_a_row_keeps_everything() {
    let mut app = spawn_app().await;
    let alice = app.shopper("alice").await;
    app.restart().await;
    app.restart().await;
    let r = app.get("/api/me", Some(&alice.token)).await;
    r.expect(200);
    assert_eq!(r.id("id"), alice.id);
}
