//! The HTML pages for people, rendered with minijinja from `templates/` (compiled into the
//! binary), and the static assets of `static/`. For now: the sandbox gateway's pay page; the
//! shop and the console come with the pages issue.

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use seckill_domain::payment::Payment;

use crate::error::AppError;
use crate::state::AppState;

/// The templates, parsed once per process.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("pay.html", include_str!("../templates/pay.html")),
            ("pay_result.html", include_str!("../templates/pay_result.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                // A broken template is a build defect; the page then answers 500, logged.
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

fn render(name: &str, ctx: minijinja::Value) -> Result<String, AppError> {
    templates()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| AppError::Internal(format!("template {name}: {e}")))
}

fn yuan(cents: i64) -> String {
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

/// A static asset compiled into the binary.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

/// The pages router: the sandbox gateway and the static assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(|| async { asset(include_str!("../static/app.css"), "text/css; charset=utf-8") }))
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
    fn the_pay_page_offers_both_buttons_only_while_open() {
        let open = render_pay_page(&payment(PaymentStatus::Created)).unwrap();
        assert!(open.contains("¥3999.00"));
        assert!(open.contains(r#"action="/pay/3/confirm""#) && open.contains(r#"data-testid="confirm""#));
        assert!(open.contains(r#"action="/pay/3/fail""#) && open.contains(r#"data-testid="fail""#));
        let done = render_pay_page(&payment(PaymentStatus::Succeeded)).unwrap();
        assert!(!done.contains(r#"data-testid="confirm""#));
        assert!(done.contains("succeeded"));
        let result = render_pay_result(&payment(PaymentStatus::Succeeded), true).unwrap();
        assert!(result.contains(r#"data-status="succeeded""#));
    }
}
