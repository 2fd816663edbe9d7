//! The HTML pages for people, rendered with minijinja from `templates/` and served with the
//! assets of `static/` (both compiled into the binary, so one file is the whole shop).
//!
//! - `/` today's slots and their activities, with a search box; `/login` (and registration);
//!   `/checkout?activity=&sku=`; `/orders`: shells whose small vanilla JS (`static/app.js`)
//!   talks to the JSON API with the session cookie.
//! - `/seckill/{id}`: the product detail page, rendered to a file when an activity is published
//!   or changed and at preheat ([`detail`]), served with `ETag`/`Cache-Control`, gzip
//!   precompressed — or straight from disk by nginx (`deploy/nginx.conf`). Its live bits (server
//!   time, state, remaining stock) come from `/api/time` and the cacheable `/status`.
//! - `/admin`: the operators' console, one page over the admin API (`static/admin.js`).
//! - `/pay/{payment_id}`: the sandbox payment provider's page.

pub mod detail;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use seckill_domain::payment::Payment;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("shop.html", include_str!("../../templates/shop.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("checkout.html", include_str!("../../templates/checkout.html")),
    ("orders.html", include_str!("../../templates/orders.html")),
    ("seckill.html", include_str!("../../templates/seckill.html")),
    ("not_found.html", include_str!("../../templates/not_found.html")),
    ("admin.html", include_str!("../../templates/admin.html")),
    ("pay.html", include_str!("../../templates/pay.html")),
    ("pay_result.html", include_str!("../../templates/pay_result.html")),
];

/// Every static asset: path under `/static/`, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../../static/app.css")),
    ("dom.js", "text/javascript; charset=utf-8", include_str!("../../static/dom.js")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../static/app.js")),
    ("admin.css", "text/css; charset=utf-8", include_str!("../../static/admin.css")),
    ("admin.js", "text/javascript; charset=utf-8", include_str!("../../static/admin.js")),
    ("img/phone.svg", "image/svg+xml", include_str!("../../static/img/phone.svg")),
    ("img/earbuds.svg", "image/svg+xml", include_str!("../../static/img/earbuds.svg")),
    ("img/laptop.svg", "image/svg+xml", include_str!("../../static/img/laptop.svg")),
    ("img/box.svg", "image/svg+xml", include_str!("../../static/img/box.svg")),
];

/// The templates, parsed once per process.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // A broken template is a build defect: the page answers 500, logged.
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// Renders template `name` with `ctx` (HTML-escaped by default).
pub(crate) fn render(name: &str, ctx: minijinja::Value) -> Result<String, AppError> {
    templates()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| AppError::Internal(format!("template {name}: {e}")))
}

/// Cents as yuan, `399900` → `3999.00`.
pub(crate) fn yuan(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The sandbox gateway's page for `payment`.
pub fn render_pay_page(payment: &Payment) -> Result<String, AppError> {
    render(
        "pay.html",
        context! {
            payment_id => payment.id.get(),
            order_id => payment.order_id.get(),
            amount => yuan(payment.amount.cents()),
            status => payment.status.as_str(),
            open => payment.status.is_open(),
        },
    )
}

/// What the sandbox shows after the payer decided.
pub fn render_pay_result(payment: &Payment, notified: bool) -> Result<String, AppError> {
    render(
        "pay_result.html",
        context! {
            payment_id => payment.id.get(),
            order_id => payment.order_id.get(),
            amount => yuan(payment.amount.cents()),
            status => payment.status.as_str(),
            notified => notified,
        },
    )
}

/// A page people see: HTML, never cached by shared caches (it may greet a signed-in shopper
/// through its script), revalidated cheaply.
fn html(body: String) -> Response {
    ([(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], Html(body)).into_response()
}

/// The shop's 404 page.
pub(crate) fn not_found_page(what: &str) -> Response {
    match render("not_found.html", context! { what => what }) {
        Ok(body) => (StatusCode::NOT_FOUND, Html(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct IndexQuery {
    #[serde(default)]
    q: Option<String>,
}

async fn index(Query(query): Query<IndexQuery>) -> Result<Response, AppError> {
    let q: String = query.q.unwrap_or_default().trim().chars().take(64).collect();
    Ok(html(render("index.html", context! { q => q })?))
}

async fn shell(name: &'static str) -> Result<Response, AppError> {
    Ok(html(render(name, context! {})?))
}

/// An asset's strong validator: a hash of its bytes, computed once.
fn etag_of(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| ASSETS.iter().map(|(_, _, body)| etag_of(body)).collect());
    let Some(i) = ASSETS.iter().position(|(name, _, _)| *name == path) else {
        return AppError::not_found(format!("asset {path}")).into_response();
    };
    let (_, content_type, body) = ASSETS[i];
    let etag = &etags[i];
    let cache = HeaderValue::from_static("public, max-age=300");
    let etag_value = HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(etag.as_str())) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)])
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// The id a page's path names, if it can name a record: a page answers anything else with the
/// 404 page (where the API's `PathId` tells a malformed id, `400`, from a missing one).
pub(crate) fn id_in_path<I: TryFrom<i64>>(raw: &str) -> Option<I> {
    raw.parse::<i64>().ok().and_then(|n| I::try_from(n).ok())
}

async fn seckill_page(State(state): State<AppState>, Path(raw): Path<String>, headers: HeaderMap) -> Response {
    match id_in_path(&raw) {
        Some(id) => detail::serve(&state, id, &headers).await,
        None => not_found_page("没有这个秒杀活动"),
    }
}

/// The pages router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(|| shell("login.html")))
        .route("/checkout", get(|| shell("checkout.html")))
        .route("/orders", get(|| shell("orders.html")))
        .route("/admin", get(|| shell("admin.html")))
        .route("/seckill/{id}", get(seckill_page))
        .route("/static/{*path}", get(asset))
        .route("/pay/{id}", get(crate::payments::pay_page))
        .route("/pay/{id}/confirm", post(crate::payments::confirm))
        .route("/pay/{id}/fail", post(crate::payments::fail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seckill_domain::ids::{OrderId, PaymentId};
    use seckill_domain::money::Money;
    use seckill_domain::payment::PaymentStatus;

    fn payment(status: PaymentStatus) -> Payment {
        let t = "2026-11-11T02:00:00Z".parse().unwrap();
        Payment {
            id: PaymentId::from_raw(3),
            order_id: OrderId::from_raw(7),
            amount: Money::from_cents(399_900),
            status,
            provider: "sandbox".into(),
            provider_ref: None,
            created_at: t,
            updated_at: t,
            notified_at: None,
        }
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(templates().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn the_pay_page_offers_both_buttons_only_while_open() {
        let open = render_pay_page(&payment(PaymentStatus::Created)).unwrap();
        assert!(open.contains("¥3999.00"));
        assert!(open.contains(r#"action="/pay/3/confirm""#) && open.contains(r#"data-testid="confirm""#));
        assert!(open.contains(r#"action="/pay/3/fail""#) && open.contains(r#"data-testid="fail""#));
        let done = render_pay_page(&payment(PaymentStatus::Succeeded)).unwrap();
        assert!(!done.contains(r#"data-testid="confirm""#));
        assert!(done.contains(r#"data-status="succeeded""#) && done.contains("已成功"));
        let result = render_pay_result(&payment(PaymentStatus::Succeeded), true).unwrap();
        assert!(result.contains(r#"data-status="succeeded""#));
    }

    #[test]
    fn the_search_box_escapes_what_was_typed() {
        let page = render("index.html", context! { q => "<script>alert(1)</script>" }).unwrap();
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains("&lt;script&gt;"));
    }
}
