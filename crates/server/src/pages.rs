//! The HTML pages for people (`/`, `/seckill/{id}`, `/checkout`, `/admin`, …). A later issue
//! fills this router; it is merged into the app already so the three routers stay visible.

use axum::Router;

use crate::state::AppState;

/// The pages router (no pages yet).
pub fn routes() -> Router<AppState> {
    Router::new()
}
