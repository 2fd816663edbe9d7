//! Shoppers' accounts: registration, sign-in and out, the profile and delivery addresses.

use std::fmt;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use seckill_domain::ids::AddressId;
use seckill_domain::token::Audience;
use seckill_domain::user::{AddressInput, NewAddress, NewUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ClientIp, SHOPPER_COOKIE, Shopper};
use crate::dto::{AddressView, Items, UserView};
use crate::error::{AppError, ErrorBody, NotFoundAs};
use crate::extract::{ApiJson, PathId};
use crate::state::AppState;

/// A registration.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "alice")]
    pub username: String,
    /// 8 to 128 characters.
    pub password: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: Option<String>,
}

impl fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterRequest").field("username", &self.username).finish_non_exhaustive()
    }
}

/// A sign-in, for shoppers and operators alike.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The shopper a session belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub level: u8,
}

/// A new shopper session. The same token is also set as the `seckill_session` cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopperSession {
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    pub user: SessionUser,
}

/// A new delivery address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddressRequest {
    pub contact: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub is_default: Option<bool>,
}

/// `POST /api/users`: registers a shopper.
#[utoipa::path(post, path = "/api/users", operation_id = "register", tag = "accounts", request_body = RegisterRequest, responses(
    (status = 201, description = "registered", body = UserView),
    (status = 409, description = "USERNAME_TAKEN", body = ErrorBody),
    (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    let new = NewUser::parse(
        &body.username,
        &body.password,
        body.phone.as_deref(),
        body.email.as_deref(),
        body.nickname.as_deref(),
    )?;
    let hash = state.auth.passwords().hash(&body.password).await?;
    let user = state.records.accounts.create_user(&new, &hash, state.now()).await?;
    tracing::info!(user_id = %user.id, "shopper registered");
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// `POST /api/sessions`: signs a shopper in; answers the token and sets the session cookie.
#[utoipa::path(post, path = "/api/sessions", operation_id = "session_login", tag = "accounts", request_body = LoginRequest, responses(
    (status = 200, description = "signed in", body = ShopperSession),
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
    state.auth.throttle_login(crate::auth::Door::Shop, ip, username)?;
    let found = state.records.accounts.user_credentials(username).await?;
    let (user, phc) = match found {
        Some(c) => (Some(c.account), Some(c.password_hash)),
        None => (None, None),
    };
    let matches = state.auth.passwords().check(&body.password, phc.as_deref()).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(AppError::BadCredentials);
    };
    let issued = state.auth.issue(Audience::Shopper, user.id.get(), user.level);
    tracing::info!(user_id = %user.id, "shopper signed in");
    let cookie = state.auth.session_cookie(SHOPPER_COOKIE, &issued.token);
    let session = ShopperSession {
        token: issued.token,
        expires_at: issued.expires_at,
        user: SessionUser { id: user.id.get(), username: user.username, level: user.level },
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(session)).into_response())
}

/// `DELETE /api/sessions`: signs out (clears the cookie; tokens simply expire).
#[utoipa::path(delete, path = "/api/sessions", operation_id = "session_logout", tag = "accounts", responses((status = 204, description = "signed out")))]
#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>) -> Response {
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, state.auth.clearing_cookie(SHOPPER_COOKIE))]).into_response()
}

/// `GET /api/me`: the signed-in shopper.
#[utoipa::path(get, path = "/api/me", operation_id = "me", tag = "accounts", responses(
    (status = 200, description = "the shopper", body = UserView),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id))]
pub async fn me(State(state): State<AppState>, shopper: Shopper) -> Result<Json<UserView>, AppError> {
    let user = state.records.accounts.user(shopper.id).await.or_not_found(|| format!("user {}", shopper.id))?;
    Ok(Json(user.into()))
}

/// `POST /api/me/addresses`: adds a delivery address.
#[utoipa::path(post, path = "/api/me/addresses", operation_id = "add_address", tag = "accounts", request_body = AddressRequest, responses(
    (status = 201, description = "added", body = AddressView),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
    (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id))]
pub async fn add_address(
    State(state): State<AppState>,
    shopper: Shopper,
    ApiJson(body): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<AddressView>), AppError> {
    let new = NewAddress::parse(&AddressInput {
        contact: &body.contact,
        phone: &body.phone,
        province: &body.province,
        city: &body.city,
        district: &body.district,
        detail: &body.detail,
        is_default: body.is_default,
    })?;
    let address = state.records.accounts.add_address(shopper.id, &new, state.now()).await?;
    Ok((StatusCode::CREATED, Json(address.into())))
}

/// `GET /api/me/addresses`: the shopper's addresses, the default first.
#[utoipa::path(get, path = "/api/me/addresses", operation_id = "addresses", tag = "accounts", responses(
    (status = 200, description = "the addresses", body = Items<AddressView>),
    (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id))]
pub async fn addresses(State(state): State<AppState>, shopper: Shopper) -> Result<Json<Items<AddressView>>, AppError> {
    let list = state.records.accounts.addresses(shopper.id).await?;
    Ok(Json(Items::of(list.into_iter().map(AddressView::from))))
}

/// `DELETE /api/me/addresses/{id}`: removes one of the shopper's addresses (another's is 404).
#[utoipa::path(delete, path = "/api/me/addresses/{id}", operation_id = "delete_address", tag = "accounts",
    params(("id" = i64, Path, description = "address id")),
    responses(
        (status = 204, description = "removed"),
        (status = 401, description = "UNAUTHENTICATED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %shopper.id, address_id = %id))]
pub async fn delete_address(
    State(state): State<AppState>,
    shopper: Shopper,
    PathId(id): PathId<AddressId>,
) -> Result<StatusCode, AppError> {
    state.records.accounts.delete_address(shopper.id, id).await.or_not_found(|| format!("address {id}"))?;
    Ok(StatusCode::NO_CONTENT)
}
