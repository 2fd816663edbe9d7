//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! DTOs' `ToSchema`. The routers and the document come from the same `routes!` lists, so a
//! route cannot be served without being described.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{ADMIN_COOKIE, SHOPPER_COOKIE};
use crate::error::{ErrorBody, ErrorDetail};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "seckill",
        description = "A flash-sale (秒杀) system. Money is integer cents, times are RFC 3339 UTC, \
                       time-slot bounds are HH:MM in the server's zone. Every error answers \
                       {\"error\": {\"code\", \"message\", \"fields\"?}}."
    ),
    tags(
        (name = "ops", description = "probes, metrics, clock, this document"),
        (name = "accounts", description = "shoppers: registration, sessions, addresses"),
        (name = "activities", description = "the public catalog of seckill activities, and search"),
        (name = "rush", description = "the sale itself: reservations, purchase tokens, orders, tickets"),
        (name = "orders", description = "a shopper's own orders after the rush: list, cancel, pay"),
        (name = "payments", description = "the payment provider's callback"),
        (name = "admin", description = "operators (admin token required, except signing in)"),
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct ApiDoc;

/// Every route of the server with the document describing it: the public routes, signing in
/// and out of the console, and the admin routes passed through `gate` (`app()` puts the admin
/// token check there; the document needs none).
pub fn routes(gate: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::api::routes())
        .merge(crate::admin::open_routes())
        .merge(gate(crate::admin::routes()))
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = routes(|admin| admin).split_for_parts();
    describe_security(&mut doc);
    doc
}

/// The document as JSON, built once per process.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document().to_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "OpenAPI document does not serialize");
            "{}".to_owned()
        })
    })
}

/// Declares the token schemes and marks which operations need which.
fn describe_security(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("seckill token").build()),
    );
    components.add_security_scheme(
        "shopper_cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SHOPPER_COOKIE))),
    );
    components
        .add_security_scheme("admin_cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(ADMIN_COOKIE))));
    let no_scopes = Vec::<String>::new;
    for (path, item) in doc.paths.paths.iter_mut() {
        let rush = path.starts_with("/api/activities/")
            && (path.ends_with("/orders") || path.ends_with("/purchase-token") || path.ends_with("/reservations"));
        let cookie = if path.starts_with("/api/me") || path.starts_with("/api/tickets") || rush {
            "shopper_cookie"
        } else if path.starts_with("/api/admin/") && path != "/api/admin/sessions" {
            "admin_cookie"
        } else {
            continue;
        };
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            op.security = Some(vec![
                SecurityRequirement::new("bearer", no_scopes()),
                SecurityRequirement::new(cookie, no_scopes()),
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path and method of API.md that exists so far.
    const API_MD: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/api/openapi.json"),
        ("get", "/api/time"),
        ("post", "/api/users"),
        ("post", "/api/sessions"),
        ("delete", "/api/sessions"),
        ("get", "/api/me"),
        ("post", "/api/me/addresses"),
        ("get", "/api/me/addresses"),
        ("delete", "/api/me/addresses/{id}"),
        ("get", "/api/time-slots"),
        ("get", "/api/search"),
        ("get", "/api/activities"),
        ("get", "/api/activities/{id}"),
        ("get", "/api/activities/{id}/status"),
        ("post", "/api/activities/{id}/reservations"),
        ("post", "/api/activities/{id}/purchase-token"),
        ("post", "/api/activities/{id}/orders"),
        ("get", "/api/tickets/{ticket}"),
        ("get", "/api/me/orders"),
        ("get", "/api/me/orders/{id}"),
        ("post", "/api/me/orders/{id}/cancel"),
        ("post", "/api/me/orders/{id}/confirm"),
        ("post", "/api/me/orders/{id}/payments"),
        ("post", "/api/payments/notify"),
        ("get", "/api/admin/orders"),
        ("post", "/api/admin/orders/{id}/ship"),
        ("post", "/api/admin/orders/{id}/cancel"),
        ("get", "/api/admin/stats"),
        ("post", "/api/admin/sessions"),
        ("delete", "/api/admin/sessions"),
        ("get", "/api/admin/session"),
        ("post", "/api/admin/brands"),
        ("get", "/api/admin/brands"),
        ("put", "/api/admin/brands/{id}"),
        ("post", "/api/admin/categories"),
        ("get", "/api/admin/categories"),
        ("put", "/api/admin/categories/{id}"),
        ("post", "/api/admin/products"),
        ("get", "/api/admin/products"),
        ("get", "/api/admin/products/{id}"),
        ("put", "/api/admin/products/{id}"),
        ("post", "/api/admin/time-slots"),
        ("get", "/api/admin/time-slots"),
        ("put", "/api/admin/time-slots/{id}"),
        ("delete", "/api/admin/time-slots/{id}"),
        ("post", "/api/admin/activities"),
        ("get", "/api/admin/activities"),
        ("get", "/api/admin/activities/{id}"),
        ("put", "/api/admin/activities/{id}"),
        ("post", "/api/admin/activities/{id}/enable"),
        ("post", "/api/admin/activities/{id}/disable"),
        ("get", "/api/admin/users"),
        ("put", "/api/admin/users/{id}"),
    ];

    fn operations(doc: &serde_json::Value) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    ops.push((method.clone(), path.clone()));
                }
            }
        }
        ops.sort();
        ops
    }

    #[test]
    fn the_document_lists_every_route_of_api_md_built_so_far_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let ops = operations(&doc);
        let mut expected: Vec<(String, String)> =
            API_MD.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        expected.sort();
        let missing: Vec<_> = expected.iter().filter(|e| !ops.contains(e)).collect();
        assert!(missing.is_empty(), "routes of API.md missing from the document: {missing:?}");
        let extra: Vec<_> = ops.iter().filter(|o| !expected.contains(o)).collect();
        assert!(extra.is_empty(), "documented routes that API.md does not list: {extra:?}");
    }

    #[test]
    fn every_operation_has_responses_and_every_referenced_schema_exists() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][&method];
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        }
        let text = json();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "schema {name} is referenced but not defined");
        }
        for name in ["ErrorBody", "ActivityStatus", "AdminActivityView", "ProductView", "UserView"] {
            assert!(schemas.contains_key(name), "{name}");
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut ids: Vec<String> = operations(&doc)
            .iter()
            .map(|(m, p)| doc["paths"][p][m]["operationId"].as_str().unwrap().to_owned())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "{ids:?}");
    }

    #[test]
    fn protected_operations_declare_their_tokens() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let security = |m: &str, p: &str| doc["paths"][p][m]["security"].clone();
        assert_eq!(security("get", "/api/me")[1]["shopper_cookie"], serde_json::json!([]));
        assert_eq!(security("get", "/api/admin/brands")[1]["admin_cookie"], serde_json::json!([]));
        assert!(security("post", "/api/admin/sessions").is_null());
        assert!(security("get", "/api/activities").is_null());
    }
}
