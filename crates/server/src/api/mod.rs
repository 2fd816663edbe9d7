//! The public API: probes and operations, shoppers' accounts, the catalog of activities as
//! shoppers see it (lists, detail, search), and the rush endpoints of [`crate::rush::handlers`].

pub mod accounts;
pub mod activities;
pub mod health;
pub mod orders;
pub mod search;
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
        .routes(routes!(search::search))
        .routes(routes!(activities::list))
        .routes(routes!(activities::detail))
        .routes(routes!(crate::rush::handlers::status))
        .routes(routes!(crate::rush::handlers::purchase_token))
        .routes(routes!(crate::rush::handlers::place_order))
        .routes(routes!(crate::rush::handlers::reserve))
        .routes(routes!(crate::rush::handlers::ticket))
        .routes(routes!(orders::list))
        .routes(routes!(orders::get))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::confirm))
        .routes(routes!(orders::pay))
        .routes(routes!(crate::payments::notify))
}
