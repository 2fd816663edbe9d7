//! Daily time slots (场次): shape, overlap, update and delete rules.

use jiff::SignedDuration;
use seckill_testkit::spawn_app;
use serde_json::json;

use crate::{create_activity, ids, product_with_two_skus, singles_day, slot};

#[tokio::test]
async fn an_operator_creates_and_lists_slots() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .post("/api/admin/time-slots", &json!({"name": "10点场", "start": "10:00", "end": "12:00"}), Some(&admin))
        .await;
    r.expect(201);
    let ten = r.id("id");
    assert_eq!(
        r.body,
        json!({"id": ten, "name": "10点场", "start": "10:00", "end": "12:00", "enabled": true, "sort": 0})
    );
    let late = app
        .post(
            "/api/admin/time-slots",
            &json!({"name": "夜场", "start": "22:00", "end": "24:00", "sort": -1}),
            Some(&admin),
        )
        .await;
    late.expect(201);
    assert_eq!(late.body["end"], "24:00", "a slot may end at midnight");
    let off = app
        .post(
            "/api/admin/time-slots",
            &json!({"name": "off", "start": "11:00", "end": "13:00", "enabled": false}),
            Some(&admin),
        )
        .await;
    off.expect(201);
    assert_eq!(off.body["enabled"], false);

    let list = app.get("/api/admin/time-slots", Some(&admin)).await;
    list.expect(200);
    assert_eq!(ids(&list), [late.id("id"), ten, off.id("id")], "by sort then start: {}", list.text);
}

#[tokio::test]
async fn a_slot_that_does_not_end_after_it_starts_is_a_422() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({"name": "x", "start": "12:00", "end": "10:00"}), "end"),
        (json!({"name": "x", "start": "12:00", "end": "12:00"}), "end"),
        (json!({"name": "x", "start": "24:00", "end": "24:00"}), "start"),
        (json!({"name": "x", "start": "9:00", "end": "12:00"}), "start"),
        (json!({"name": "x", "start": "10:00", "end": "24:30"}), "end"),
        (json!({"name": "x", "start": "10:60", "end": "12:00"}), "start"),
        (json!({"name": "x", "start": "noon", "end": "12:00"}), "start"),
        (json!({"name": " ", "start": "10:00", "end": "12:00"}), "name"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/admin/time-slots", &body, Some(&admin)).await;
        r.assert_error(422, "VALIDATION_FAILED");
        assert!(!r.field(field).is_empty(), "{body}: {field} not listed: {}", r.text);
    }
    assert_eq!(app.get("/api/admin/time-slots", Some(&admin)).await.body, json!({"items": []}));
}

#[tokio::test]
async fn an_enabled_slot_overlapping_another_enabled_slot_is_a_409() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    slot(&app, &admin, "10点场", "10:00", "12:00").await;
    for (start, end) in
        [("11:59", "13:00"), ("09:00", "10:01"), ("10:00", "12:00"), ("09:00", "13:00"), ("10:30", "11:00")]
    {
        let r =
            app.post("/api/admin/time-slots", &json!({"name": "x", "start": start, "end": end}), Some(&admin)).await;
        r.assert_error(409, "SLOT_OVERLAP");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("10点场"), "names the other slot: {}", r.text);
    }
    // Touching is fine, and a disabled slot neither blocks nor is blocked.
    slot(&app, &admin, "12点场", "12:00", "14:00").await;
    slot(&app, &admin, "8点场", "08:00", "10:00").await;
    let off = app
        .post(
            "/api/admin/time-slots",
            &json!({"name": "off", "start": "11:00", "end": "13:00", "enabled": false}),
            Some(&admin),
        )
        .await;
    off.expect(201);
    // ... until it is enabled.
    let on = json!({"name": "off", "start": "11:00", "end": "13:00", "enabled": true});
    app.put(&format!("/api/admin/time-slots/{}", off.id("id")), &on, Some(&admin))
        .await
        .assert_error(409, "SLOT_OVERLAP");
    let list = app.get("/api/admin/time-slots", Some(&admin)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn an_operator_updates_a_slot_and_it_never_overlaps_itself() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    slot(&app, &admin, "14点场", "14:00", "16:00").await;
    let r = app
        .put(
            &format!("/api/admin/time-slots/{ten}"),
            &json!({"name": "10点场", "start": "09:00", "end": "12:30"}),
            Some(&admin),
        )
        .await;
    r.expect(200);
    assert_eq!((r.body["start"].as_str(), r.body["end"].as_str()), (Some("09:00"), Some("12:30")));
    let r = app
        .put(
            &format!("/api/admin/time-slots/{ten}"),
            &json!({"name": "10点场", "start": "13:00", "end": "15:00"}),
            Some(&admin),
        )
        .await;
    r.assert_error(409, "SLOT_OVERLAP");
    let r = app
        .put(
            &format!("/api/admin/time-slots/{ten}"),
            &json!({"name": "x", "start": "13:00", "end": "12:00"}),
            Some(&admin),
        )
        .await;
    r.assert_error(422, "VALIDATION_FAILED");
    let body = json!({"name": "x", "start": "01:00", "end": "02:00"});
    app.put("/api/admin/time-slots/9999", &body, Some(&admin)).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn changing_a_slot_changes_the_windows_of_the_activities_selling_in_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let id = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;
    app.set_local_time("2026-11-11T12:30");
    let status = app.get(&format!("/api/activities/{id}/status"), None).await;
    assert_eq!(status.body["state"], "ended", "after its only window: {}", status.text);

    let longer = json!({"name": "10点场", "start": "10:00", "end": "13:00"});
    app.put(&format!("/api/admin/time-slots/{ten}"), &longer, Some(&admin)).await.expect(200);
    let a = app.get(&format!("/api/admin/activities/{id}"), Some(&admin)).await;
    assert_eq!(a.body["version"], 2, "a slot change moves the activity's version: {}", a.text);
    assert_eq!(a.body["slots"][0]["end"], "13:00");
    assert_eq!(a.body["state"], "running");
    assert_eq!(a.body["window_end"], crate::rfc3339(app.local("2026-11-11T13:00")));
    let status = app.get(&format!("/api/activities/{id}/status"), None).await;
    assert_eq!(status.body["state"], "running", "{}", status.text);
}

#[tokio::test]
async fn an_unused_slot_is_deleted_and_then_gone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.expect(204);
    assert_eq!(app.get("/api/admin/time-slots", Some(&admin)).await.body, json!({"items": []}));
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.assert_error(404, "NOT_FOUND");
    let body = json!({"name": "x", "start": "10:00", "end": "12:00"});
    app.put(&format!("/api/admin/time-slots/{ten}"), &body, Some(&admin)).await.assert_error(404, "NOT_FOUND");
    // Its hours are free again.
    slot(&app, &admin, "new 10点场", "10:00", "12:00").await;
}

#[tokio::test]
async fn a_slot_used_by_an_unfinished_activity_cannot_be_deleted_until_it_ends() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = product_with_two_skus(&app, &admin, "Mate 70").await;
    let ten = slot(&app, &admin, "10点场", "10:00", "12:00").await;
    let activity = create_activity(&app, &admin, &singles_day(&app, p, &[ten])).await;

    let r = app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await;
    r.assert_error(409, "SLOT_IN_USE");
    assert!(r.body["error"]["message"].as_str().unwrap().contains(&activity.to_string()), "{}", r.text);
    // Running (Singles' Day, 10:30 in Shanghai): still in use.
    app.set_local_time("2026-11-11T10:30");
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.assert_error(409, "SLOT_IN_USE");
    // A disabled activity that has not finished still holds its slot.
    app.post(&format!("/api/admin/activities/{activity}/disable"), &json!({}), Some(&admin)).await.expect(200);
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.assert_error(409, "SLOT_IN_USE");

    app.set_local_time("2026-11-12T00:00");
    app.clock.advance(SignedDuration::from_secs(1));
    app.delete(&format!("/api/admin/time-slots/{ten}"), Some(&admin)).await.expect(204);
    // The finished activity still shows the slot it sold in.
    let a = app.get(&format!("/api/admin/activities/{activity}"), Some(&admin)).await;
    a.expect(200);
    assert_eq!(a.body["time_slot_ids"], json!([ten]), "{}", a.text);
    assert_eq!(a.body["state"], "ended");
}
