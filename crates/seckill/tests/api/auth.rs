//! Who may call what: bearer tokens and cookies, shoppers and operators, expiry, forgery, and
//! login throttling.

use jiff::SignedDuration;
use reqwest::Method;
use seckill_domain::token::{Audience, Claims, TokenKey};
use seckill_testkit::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, spawn_app, spawn_app_with};
use serde_json::json;

/// The session TTL of the expiry tests: the default of `session_ttl_secs`, one day.
const TTL_SECS: i64 = 86_400;

/// Shopper routes, each with a body when it takes one.
fn shopper_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/me", None),
        (Method::GET, "/api/me/addresses", None),
        (Method::POST, "/api/me/addresses", Some(crate::address("x", None))),
        (Method::DELETE, "/api/me/addresses/1", None),
    ]
}

/// Admin routes, each with a body when it takes one.
fn admin_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/admin/session", None),
        (Method::GET, "/api/admin/brands", None),
        (Method::POST, "/api/admin/brands", Some(json!({"name": "Apple"}))),
        (Method::GET, "/api/admin/categories", None),
        (Method::GET, "/api/admin/products", None),
        (Method::GET, "/api/admin/products/1", None),
        (Method::GET, "/api/admin/time-slots", None),
        (Method::DELETE, "/api/admin/time-slots/1", None),
        (Method::GET, "/api/admin/activities", None),
        (Method::POST, "/api/admin/activities/1/enable", None),
        (Method::GET, "/api/admin/users", None),
    ]
}

/// Asks every route in `routes` with `token` and expects `status` and `code` from each.
async fn expect_everywhere(
    app: &TestApp,
    routes: &[(Method, &str, Option<serde_json::Value>)],
    token: Option<&str>,
    status: u16,
    code: &str,
) {
    for (method, path, body) in routes {
        let r = app.send(method.clone(), path, body.as_ref(), token).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code), "{method} {path}: {}", r.text);
        r.assert_error(status, code);
    }
}

/// The server's own token key, read from the secret it keeps in the data dir.
fn server_key(app: &TestApp) -> TokenKey {
    let secret = std::fs::read_to_string(app.data_dir().join("secret")).unwrap();
    TokenKey::new(secret.trim().as_bytes())
}

fn claims(audience: Audience, subject: i64, expires_at: i64) -> Claims {
    Claims { audience, subject, expires_at, level: 1, activity: 0 }
}

#[tokio::test]
async fn no_token_at_all_is_unauthenticated_on_shopper_and_admin_routes() {
    let app = spawn_app().await;
    expect_everywhere(&app, &shopper_routes(), None, 401, "UNAUTHENTICATED").await;
    expect_everywhere(&app, &admin_routes(), None, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_shopper_token_on_admin_routes_is_forbidden() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    expect_everywhere(&app, &admin_routes(), Some(&alice.token), 403, "FORBIDDEN").await;
    // Nothing was created by the refused POST.
    let brands = app.get("/api/admin/brands", Some(&app.admin_token().await)).await;
    assert_eq!(brands.body, json!({"items": []}));
}

#[tokio::test]
async fn an_operator_token_is_no_shopper_session() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.get("/api/admin/session", Some(&admin)).await.expect(200);
    expect_everywhere(&app, &shopper_routes(), Some(&admin), 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn garbage_and_forged_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let alice = app.shopper("alice").await;
    let admin = app.admin_token().await;
    let exp = app.now().as_second() + 3600;

    // Positive control: a token signed with the server's own key is accepted, so the refusals
    // below are about the key and the signature only.
    let genuine = server_key(&app).sign(&claims(Audience::Shopper, alice.id, exp));
    app.get("/api/me", Some(&genuine)).await.expect(200);

    let other_key = TokenKey::new(b"not the server's secret, but 32+ bytes long");
    let forged_shopper = other_key.sign(&claims(Audience::Shopper, alice.id, exp));
    let forged_admin = other_key.sign(&claims(Audience::Admin, 1, exp));
    let (payload, mac) = alice.token.split_once('.').unwrap();
    let (admin_payload, _) = admin.split_once('.').unwrap();
    // Alice's signature on an operator's payload: an attempt to become an operator.
    let swapped = format!("{admin_payload}.{mac}");
    let flipped = format!("{payload}.{}", mac.chars().rev().collect::<String>());
    let garbage = [
        "garbage".to_owned(),
        "a.b".to_owned(),
        ".".to_owned(),
        format!("{payload}."),
        flipped,
        forged_shopper,
        "x".repeat(1_000),
        "鉴权令牌".to_owned(),
    ];
    for token in &garbage {
        let r = app.get("/api/me", Some(token)).await;
        r.assert_error(401, "UNAUTHENTICATED");
    }
    for token in [&forged_admin, &swapped] {
        expect_everywhere(&app, &admin_routes(), Some(token), 401, "UNAUTHENTICATED").await;
    }
    // Not a bearer token at all.
    let basic = app.reply(app.client.get(app.url("/api/me")).header("authorization", "Basic YWxpY2U6cHc=")).await;
    basic.assert_error(401, "UNAUTHENTICATED");
    let empty = app.reply(app.client.get(app.url("/api/me")).header("authorization", "Bearer ")).await;
    empty.assert_error(401, "UNAUTHENTICATED");
    // Garbage in the cookie is no session either.
    let cookie = app.reply(app.client.get(app.url("/api/me")).header("cookie", "seckill_session=garbage")).await;
    cookie.assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn sessions_expire_when_the_clock_passes_their_ttl() {
    let ttl = std::time::Duration::from_secs(TTL_SECS.unsigned_abs());
    let app = spawn_app_with(AppOptions { session_ttl: ttl, ..AppOptions::default() }).await;
    let alice = app.shopper("alice").await;
    let admin = app.admin_token().await;
    app.clock.advance(SignedDuration::from_secs(TTL_SECS - 1));
    app.get("/api/me", Some(&alice.token)).await.expect(200);
    app.get("/api/admin/brands", Some(&admin)).await.expect(200);

    app.clock.advance(SignedDuration::from_secs(2));
    app.get("/api/me", Some(&alice.token)).await.assert_error(401, "UNAUTHENTICATED");
    expect_everywhere(&app, &admin_routes(), Some(&admin), 401, "UNAUTHENTICATED").await;

    // Signing in again gives a fresh session.
    let r = app.post("/api/sessions", &json!({"username": "alice", "password": "alice-password"}), None).await;
    r.expect(200);
    app.get("/api/me", Some(r.body["token"].as_str().unwrap())).await.expect(200);
}

/// The attributes of a `Set-Cookie` value, lower-cased, without the name=value pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn a_login_sets_an_http_only_strict_cookie_that_authenticates_the_browser() {
    let app = spawn_app().await;
    let alice_id = app.shopper("alice").await.id;
    let browser = app.browser();
    let r = app
        .browse(
            &browser,
            Method::POST,
            "/api/sessions",
            Some(&json!({"username": "alice", "password": "alice-password"})),
        )
        .await;
    r.expect(200);
    let cookies = r.header_all("set-cookie");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let token = r.body["token"].as_str().unwrap();
    assert!(cookies[0].starts_with(&format!("seckill_session={token};")), "{}", cookies[0]);
    let attrs = attributes(cookies[0]);
    let max_age = format!("max-age={}", app.settings.session_ttl.as_secs());
    for wanted in ["httponly", "samesite=strict", "path=/", max_age.as_str()] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} missing from {}", cookies[0]);
    }
    assert!(!attrs.iter().any(|a| a == "secure"), "plain http: no Secure: {}", cookies[0]);
    assert_eq!(browser.cookie(&app, "seckill_session").as_deref(), Some(token));

    // The browser never sends a bearer token: the cookie alone is the session.
    let me = app.browse(&browser, Method::GET, "/api/me", None).await;
    me.expect(200);
    assert_eq!(me.id("id"), alice_id);
    app.browse(&browser, Method::POST, "/api/me/addresses", Some(&crate::address("home", None))).await.expect(201);
    let list = app.browse(&browser, Method::GET, "/api/me/addresses", None).await;
    assert_eq!(crate::ids(&list).len(), 1);
}

#[tokio::test]
async fn logging_out_clears_the_cookie() {
    let app = spawn_app().await;
    app.shopper("alice").await;
    let browser = app.browser();
    let login = json!({"username": "alice", "password": "alice-password"});
    app.browse(&browser, Method::POST, "/api/sessions", Some(&login)).await.expect(200);
    app.browse(&browser, Method::GET, "/api/me", None).await.expect(200);

    let r = app.browse(&browser, Method::DELETE, "/api/sessions", None).await;
    r.expect(204);
    let cleared = r.header_all("set-cookie");
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(cleared[0].starts_with("seckill_session=;"), "{}", cleared[0]);
    let attrs = attributes(cleared[0]);
    for wanted in ["httponly", "samesite=strict", "path=/", "max-age=0"] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} missing from {}", cleared[0]);
    }
    assert_eq!(browser.cookie(&app, "seckill_session"), None, "the browser dropped the cookie");
    app.browse(&browser, Method::GET, "/api/me", None).await.assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_operator_cookie_opens_the_console_and_a_shopper_cookie_does_not() {
    let app = spawn_app().await;
    app.admin_token().await; // creates the operator account
    app.shopper("alice").await;

    let console = app.browser();
    let login = json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD});
    let r = app.browse(&console, Method::POST, "/api/admin/sessions", Some(&login)).await;
    r.expect(200);
    let ttl = i64::try_from(app.settings.session_ttl.as_secs()).unwrap();
    let expires: seckill_domain::Timestamp = r.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.as_second() - app.now().as_second(), ttl, "{}", r.text);
    assert_eq!(
        r.body["token"].as_str(),
        console.cookie(&app, "seckill_admin").as_deref(),
        "the cookie holds the token"
    );
    let set = r.header_all("set-cookie");
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with("seckill_admin="), "{}", set[0]);
    let attrs = attributes(set[0]);
    assert!(attrs.iter().any(|a| a == "httponly") && attrs.iter().any(|a| a == "samesite=strict"), "{}", set[0]);
    app.browse(&console, Method::GET, "/api/admin/session", None).await.expect(200);
    app.browse(&console, Method::POST, "/api/admin/brands", Some(&json!({"name": "Apple"}))).await.expect(201);
    // An operator's cookie is no shopper session.
    app.browse(&console, Method::GET, "/api/me", None).await.assert_error(401, "UNAUTHENTICATED");

    let shop = app.browser();
    let login = json!({"username": "alice", "password": "alice-password"});
    app.browse(&shop, Method::POST, "/api/sessions", Some(&login)).await.expect(200);
    app.browse(&shop, Method::GET, "/api/admin/brands", None).await.assert_error(403, "FORBIDDEN");

    let out = app.browse(&console, Method::DELETE, "/api/admin/sessions", None).await;
    out.expect(204);
    assert!(out.header("set-cookie").starts_with("seckill_admin=;"), "{}", out.header("set-cookie"));
    assert_eq!(console.cookie(&app, "seckill_admin"), None);
    app.browse(&console, Method::GET, "/api/admin/brands", None).await.assert_error(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_wrong_operator_password_is_bad_credentials() {
    let app = spawn_app().await;
    app.admin_token().await;
    let r = app.post("/api/admin/sessions", &json!({"username": ADMIN_USER, "password": "guess-guess"}), None).await;
    r.assert_error(401, "BAD_CREDENTIALS");
    assert!(r.header_all("set-cookie").is_empty());
    // A shopper's credentials do not open the console.
    app.shopper("alice").await;
    let r = app.post("/api/admin/sessions", &json!({"username": "alice", "password": "alice-password"}), None).await;
    r.assert_error(401, "BAD_CREDENTIALS");
}

#[tokio::test]
async fn login_attempts_beyond_ten_a_minute_are_rate_limited_with_retry_after() {
    let app = spawn_app_with(AppOptions { rate_limits: true, ..AppOptions::default() }).await;
    app.post("/api/users", &json!({"username": "alice", "password": "alice-password"}), None).await.expect(201);
    let wrong = json!({"username": "alice", "password": "not-it-at-all"});
    for attempt in 1..=10 {
        let r = app.post("/api/sessions", &wrong, None).await;
        assert_eq!(r.code(), "BAD_CREDENTIALS", "attempt {attempt}: {}", r.text);
    }
    let r = app.post("/api/sessions", &wrong, None).await;
    r.assert_error(429, "RATE_LIMITED");
    let retry: u64 = r.header("retry-after").parse().unwrap_or_else(|_| panic!("Retry-After: {:?}", r.headers));
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // While throttled even the right password waits: guessing gains nothing.
    let right = json!({"username": "alice", "password": "alice-password"});
    app.post("/api/sessions", &right, None).await.assert_error(429, "RATE_LIMITED");
    // The console counts apart: guessing at the shop locks no operator out (nor the reverse).
    let r = app.post("/api/admin/sessions", &json!({"username": "root", "password": "whatever-1"}), None).await;
    r.assert_error(401, "BAD_CREDENTIALS");
}

#[tokio::test]
async fn without_rate_limits_logins_are_never_throttled() {
    let app = spawn_app().await;
    app.shopper("alice").await;
    let wrong = json!({"username": "alice", "password": "not-it-at-all"});
    for attempt in 1..=30 {
        let r = app.post("/api/sessions", &wrong, None).await;
        assert_eq!(r.code(), "BAD_CREDENTIALS", "attempt {attempt}: {}", r.text);
    }
    let right = json!({"username": "alice", "password": "alice-password"});
    app.post("/api/sessions", &right, None).await.expect(200);
}
