//! Operators signing in and out.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use seckill_domain::token::Audience;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::accounts::LoginRequest;
use crate::auth::{ADMIN_COOKIE, AdminSession, ClientIp};
use crate::error::{AppError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A new operator session. The same token is also set as the `seckill_admin` cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminToken {
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// The operator a session belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminWhoAmI {
    /// The operator's id.
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// `POST /api/admin/sessions`: signs an operator in (throttled like shoppers).
#[utoipa::path(post, path = "/api/admin/sessions", operation_id = "admin_session_login", tag = "admin", request_body = LoginRequest, responses(
    (status = 200, description = "signed in", body = AdminToken),
    (status = 401, description = "BAD_CREDENTIALS", body = ErrorBody),
    (status = 429, description = "RATE_LIMITED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let username = body.username.trim();
    state.auth.throttle_login(crate::auth::Door::Console, ip, username)?;
    let found = state.records.accounts.admin_credentials(username).await?;
    let (admin, phc) = match found {
        Some(c) => (Some(c.account), Some(c.password_hash)),
        None => (None, None),
    };
    let matches = state.auth.passwords().check(&body.password, phc.as_deref()).await?;
    let Some(admin) = admin.filter(|_| matches) else {
        return Err(AppError::BadCredentials);
    };
    let issued = state.auth.issue(Audience::Admin, admin.id.get(), 0);
    tracing::info!(admin_id = %admin.id, "operator signed in");
    let cookie = state.auth.session_cookie(ADMIN_COOKIE, &issued.token);
    Ok(([(header::SET_COOKIE, cookie)], Json(AdminToken { token: issued.token, expires_at: issued.expires_at }))
        .into_response())
}

/// `DELETE /api/admin/sessions`: signs out (clears the cookie).
#[utoipa::path(delete, path = "/api/admin/sessions", operation_id = "admin_session_logout", tag = "admin", responses((status = 204, description = "signed out")))]
#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>) -> Response {
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, state.auth.clearing_cookie(ADMIN_COOKIE))]).into_response()
}

/// `GET /api/admin/session`: who is signed in.
#[utoipa::path(get, path = "/api/admin/session", operation_id = "admin_session_whoami", tag = "admin", responses(
    (status = 200, description = "the session", body = AdminWhoAmI),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
    (status = 403, description = "FORBIDDEN", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn whoami(session: AdminSession) -> Json<AdminWhoAmI> {
    Json(AdminWhoAmI { id: session.id.get(), expires_at: session.expires_at })
}
