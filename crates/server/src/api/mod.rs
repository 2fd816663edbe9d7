//! The public API: probes and operations, shoppers' accounts, and the catalog of activities as
//! shoppers see it. Later issues add the rush (reservations, purchase tokens, orders) here.

pub mod accounts;
pub mod activities;
pub mod health;
pub mod slots;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every public route, with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(health::time))
        .routes(routes!(health::openapi))
        .routes(routes!(accounts::register))
        .routes(routes!(accounts::login, accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::add_address, accounts::addresses))
        .routes(routes!(accounts::delete_address))
        .routes(routes!(slots::today))
        .routes(routes!(activities::list))
        .routes(routes!(activities::detail))
        .routes(routes!(activities::status))
}
