//! The operators' API under `/api/admin`: sessions, catalog (brands, categories, products),
//! time slots, activities with live figures, and shoppers' levels. Boring CRUD: parse the DTO
//! into domain types, call the records, answer DTOs.

pub mod activities;
pub mod brands;
pub mod categories;
pub mod orders;
pub mod products;
pub mod sessions;
pub mod slots;
pub mod stats;
pub mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Signing in and out: reachable without an admin token.
pub fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sessions::login, sessions::logout))
}

/// Everything that needs an admin token. `app()` puts the gate on these with `route_layer`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sessions::whoami))
        .routes(routes!(brands::create, brands::list))
        .routes(routes!(brands::update))
        .routes(routes!(categories::create, categories::list))
        .routes(routes!(categories::update))
        .routes(routes!(products::create, products::list))
        .routes(routes!(products::get, products::update))
        .routes(routes!(slots::create, slots::list))
        .routes(routes!(slots::update, slots::delete))
        .routes(routes!(activities::create, activities::list))
        .routes(routes!(activities::get, activities::update))
        .routes(routes!(activities::enable))
        .routes(routes!(activities::disable))
        .routes(routes!(users::list))
        .routes(routes!(users::set_level))
        .routes(routes!(orders::list))
        .routes(routes!(orders::ship))
        .routes(routes!(orders::cancel))
        .routes(routes!(stats::stats))
}
