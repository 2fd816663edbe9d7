//! Who is asking: passwords, session tokens, the `Shopper` and `AdminSession` extractors, and
//! login throttling.
//!
//! Sessions are stateless signed tokens ([`TokenKey`]): verifying one is pure computation, no
//! I/O. A token arrives as `Authorization: Bearer <token>` or as the HttpOnly cookie the login
//! endpoints set (`seckill_session` for shoppers, `seckill_admin` for operators). Passwords are
//! argon2id PHC strings, hashed and checked off the async threads and a few at a time, so a
//! login flood cannot take every core.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::{SignedDuration, Timestamp};
use seckill_domain::clock::SharedClock;
use seckill_domain::ids::{AdminId, UserId};
use seckill_domain::rejection::Rejection;
use seckill_domain::token::{Audience, Claims, TokenError, TokenKey};
use tokio::sync::Semaphore;

use crate::error::AppError;
use crate::state::ServerConfig;

/// The shoppers' session cookie.
pub const SHOPPER_COOKIE: &str = "seckill_session";
/// The operators' session cookie.
pub const ADMIN_COOKIE: &str = "seckill_admin";

/// Login attempts allowed per minute, per client address and per username.
const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 10;
/// Password checks waiting for a core beyond which new ones are shed with `503 OVERLOADED`.
const MAX_QUEUED_PASSWORD_JOBS: usize = 64;

/// How expensive password hashing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordCost {
    /// argon2id with the crate's recommended defaults (19 MiB, 2 passes). Use this in production.
    #[default]
    Standard,
    /// argon2id at its minimum cost: only for test suites that create many users.
    FastInsecureForTests,
}

/// A password could not be hashed or checked (never a wrong password: that is `false`).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too many hashes waiting for a core: shed, retry shortly.
    #[error("too many password checks are waiting; retry shortly")]
    Busy,
    /// The hasher failed (bad parameters, a panicked task).
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<PasswordError> for AppError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Rejection::Overloaded { retry_after_secs: 1 }.into(),
            PasswordError::Failed(cause) => AppError::Internal(cause),
        }
    }
}

/// Hashes and verifies passwords as argon2id PHC strings.
///
/// [`Passwords::hash`], [`Passwords::verify`] and [`Passwords::check`] run on the blocking
/// pool, a few at a time (half the cores): argon2 is deliberately expensive, and a login flood
/// must not take every core from the rest of the server. Cheap to clone (shared).
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<PasswordsInner>,
}

struct PasswordsInner {
    params: Params,
    /// A well-formed hash with the same cost that no password matches: an unknown username
    /// spends one verification on it, so timing does not tell which usernames exist.
    dummy: String,
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("m_cost", &self.inner.params.m_cost())
            .field("t_cost", &self.inner.params.t_cost())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// Password hashing at `cost`.
    pub fn new(cost: PasswordCost) -> Self {
        let params = match cost {
            PasswordCost::Standard => Params::DEFAULT,
            // MIN_M_COST, one pass, one lane: always valid parameters.
            PasswordCost::FastInsecureForTests => {
                Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        };
        // 16 zero bytes of salt and 32 of output, in PHC base64 (no padding).
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            "A".repeat(22),
            "A".repeat(43)
        );
        // Half the cores (at least one) may hash at once; the rest keep serving requests.
        let lanes = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        Passwords {
            inner: Arc::new(PasswordsInner {
                params,
                dummy,
                permits: Arc::new(Semaphore::new(lanes)),
                queued: AtomicUsize::new(0),
            }),
        }
    }

    fn hasher(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.inner.params.clone())
    }

    /// The PHC string of `password` with a fresh random salt, computed on the blocking pool.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let (this, password) = (self.clone(), password.to_owned());
        self.run_bounded(move || this.hash_blocking(&password)).await?
    }

    /// Whether `password` matches the PHC string `phc` (a malformed `phc` matches nothing;
    /// so does everything while the hasher is saturated), checked on the blocking pool.
    pub async fn verify(&self, password: &str, phc: &str) -> bool {
        self.check(password, Some(phc)).await.unwrap_or(false)
    }

    /// Whether `password` matches `phc`, on the blocking pool. With `phc: None` (no such
    /// account) it still spends one verification, against a dummy hash of the same cost, and
    /// answers `false`.
    pub async fn check(&self, password: &str, phc: Option<&str>) -> Result<bool, PasswordError> {
        let this = self.clone();
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.run_bounded(move || match phc {
            Some(phc) => this.verify_blocking(&password, &phc),
            None => {
                let _ = this.verify_blocking(&password, &this.inner.dummy);
                false
            }
        })
        .await
    }

    /// [`Passwords::hash`] on the calling thread, which it blocks for the whole hashing.
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        self.hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Failed(e.to_string()))
    }

    /// [`Passwords::verify`] on the calling thread, which it blocks for the whole check.
    pub fn verify_blocking(&self, password: &str, phc: &str) -> bool {
        // Verification takes its parameters from the PHC string itself.
        self.hasher().verify_password(password.as_bytes(), phc).is_ok()
    }

    async fn run_bounded<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let inner = &self.inner;
        if inner.queued.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED_PASSWORD_JOBS {
            inner.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(PasswordError::Busy);
        }
        let permit = inner.permits.clone().acquire_owned().await;
        inner.queued.fetch_sub(1, Ordering::AcqRel);
        let permit = permit.map_err(|_| PasswordError::Failed("password semaphore closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| PasswordError::Failed(format!("password task failed: {e}")))
    }
}

/// Everything about sessions: the token key, the clock, the TTL, cookies, passwords and login
/// throttling. A substate of [`AppState`](crate::AppState).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<AuthInner>,
}

struct AuthInner {
    tokens: TokenKey,
    clock: SharedClock,
    session_ttl: Duration,
    secure_cookies: bool,
    passwords: Passwords,
    throttle: Option<LoginThrottle>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("session_ttl", &self.inner.session_ttl)
            .field("secure_cookies", &self.inner.secure_cookies)
            .field("throttled", &self.inner.throttle.is_some())
            .finish_non_exhaustive()
    }
}

/// A freshly signed session token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub expires_at: Timestamp,
}

impl Auth {
    /// Auth for a server configured by `config`.
    pub fn new(config: &ServerConfig, clock: SharedClock) -> Self {
        Auth {
            inner: Arc::new(AuthInner {
                tokens: TokenKey::new(&config.secret),
                clock,
                session_ttl: config.session_ttl,
                secure_cookies: config.secure_cookies,
                passwords: Passwords::new(config.password_cost),
                throttle: config.rate_limits.then(LoginThrottle::new),
            }),
        }
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.inner.session_ttl.as_secs()).unwrap_or(i64::MAX).max(1)
    }

    /// Signs a session token for `audience`, valid for the session TTL from now.
    pub fn issue(&self, audience: Audience, subject: i64, level: u8) -> Issued {
        let now = self.inner.clock.now();
        let expires_at = now.checked_add(SignedDuration::from_secs(self.ttl_secs())).unwrap_or(Timestamp::MAX);
        let claims = Claims { audience, subject, expires_at: expires_at.as_second(), level, activity: 0 };
        Issued { token: self.inner.tokens.sign(&claims), expires_at }
    }

    /// The claims of a genuine, unexpired `token` for `audience`.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Claims, TokenError> {
        self.inner.tokens.verify(token, audience, self.inner.clock.now().as_second())
    }

    /// `Set-Cookie` value that stores `token` in cookie `name` for the session TTL.
    pub fn session_cookie(&self, name: &str, token: &str) -> HeaderValue {
        self.cookie(format!("{name}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", self.ttl_secs()))
    }

    /// `Set-Cookie` value that deletes cookie `name`.
    pub fn clearing_cookie(&self, name: &str) -> HeaderValue {
        self.cookie(format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))
    }

    fn cookie(&self, mut value: String) -> HeaderValue {
        if self.inner.secure_cookies {
            value.push_str("; Secure");
        }
        // Tokens are base64url and '.', names are ours: always a valid header value.
        HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Counts one login attempt at `door` for `username` from `ip`; `429 RATE_LIMITED` beyond
    /// 10 a minute for either. The shop and the console count apart: someone guessing operator
    /// passwords does not lock shoppers behind the same address out. Does nothing when rate
    /// limits are off.
    pub fn throttle_login(&self, door: Door, ip: Option<IpAddr>, username: &str) -> Result<(), AppError> {
        match &self.inner.throttle {
            Some(t) => t.check(door, ip, username),
            None => Ok(()),
        }
    }

    fn admin_claims(&self, parts: &Parts) -> Result<Claims, AppError> {
        if let Some(token) = bearer(parts).or_else(|| cookie(parts, ADMIN_COOKIE)) {
            return self.verify(token, Audience::Admin).map_err(refusal);
        }
        // No admin credential at all, but a valid shopper session: known, yet not allowed.
        if cookie(parts, SHOPPER_COOKIE).is_some_and(|t| self.verify(t, Audience::Shopper).is_ok()) {
            return Err(AppError::Forbidden);
        }
        Err(AppError::Unauthenticated)
    }

    fn shopper_claims(&self, parts: &Parts) -> Result<Claims, AppError> {
        let token = bearer(parts).or_else(|| cookie(parts, SHOPPER_COOKIE)).ok_or(AppError::Unauthenticated)?;
        self.verify(token, Audience::Shopper).map_err(refusal)
    }
}

/// A genuine token for another audience is `403`; anything else is `401`.
fn refusal(e: TokenError) -> AppError {
    match e {
        TokenError::WrongAudience => AppError::Forbidden,
        TokenError::Malformed | TokenError::BadSignature | TokenError::Expired => AppError::Unauthenticated,
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The value of cookie `name` in any `Cookie` header.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

/// A signed-in shopper, from a verified shopper token (no I/O).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shopper {
    pub id: UserId,
    /// The level when the token was issued.
    pub level: u8,
    pub expires_at: Timestamp,
}

impl<S> FromRequestParts<S> for Shopper
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let claims = Auth::from_ref(state).shopper_claims(parts)?;
        Ok(Shopper {
            id: UserId::try_from(claims.subject).map_err(|_| AppError::Unauthenticated)?,
            level: claims.level,
            expires_at: Timestamp::from_second(claims.expires_at).map_err(|_| AppError::Unauthenticated)?,
        })
    }
}

/// A signed-in operator, from a verified admin token (no I/O).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminSession {
    pub id: AdminId,
    pub expires_at: Timestamp,
}

impl AdminSession {
    fn from_claims(claims: &Claims) -> Result<Self, AppError> {
        Ok(AdminSession {
            id: AdminId::try_from(claims.subject).map_err(|_| AppError::Unauthenticated)?,
            expires_at: Timestamp::from_second(claims.expires_at).map_err(|_| AppError::Unauthenticated)?,
        })
    }
}

impl<S> FromRequestParts<S> for AdminSession
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if let Some(session) = parts.extensions.get::<AdminSession>() {
            return Ok(*session);
        }
        AdminSession::from_claims(&Auth::from_ref(state).admin_claims(parts)?)
    }
}

/// The admin router's gate: no valid admin token, no admin route (`401`, or `403` for a
/// shopper's token). The session is handed on to handlers as a request extension.
pub async fn require_admin(State(auth): State<Auth>, request: Request, next: Next) -> Result<Response, AppError> {
    let (mut parts, body) = request.into_parts();
    let session = AdminSession::from_claims(&auth.admin_claims(&parts)?)?;
    parts.extensions.insert(session);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The client's address, when the server was started with connect info.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip())))
    }
}

/// Where someone signs in: the shop (shoppers) or the console (operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    Shop,
    Console,
}

/// Per-address and per-username login budgets (GCRA, in memory, per process), per door.
struct LoginThrottle {
    by_ip: DefaultKeyedRateLimiter<(Door, IpAddr)>,
    by_name: DefaultKeyedRateLimiter<(Door, String)>,
}

impl LoginThrottle {
    fn new() -> Self {
        let per_minute = NonZeroU32::new(LOGIN_ATTEMPTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(per_minute);
        LoginThrottle { by_ip: RateLimiter::keyed(quota), by_name: RateLimiter::keyed(quota) }
    }

    fn check(&self, door: Door, ip: Option<IpAddr>, username: &str) -> Result<(), AppError> {
        // Forget idle keys now and then, so a spray of usernames cannot grow the maps forever.
        if self.by_name.len() > 10_000 || self.by_ip.len() > 10_000 {
            self.by_name.retain_recent();
            self.by_ip.retain_recent();
        }
        if let Some(ip) = ip {
            self.by_ip.check_key(&(door, ip)).map_err(|n| limited(n.wait_time_from(DefaultClock::default().now())))?;
        }
        let name: String = username.trim().chars().take(64).flat_map(char::to_lowercase).collect();
        self.by_name.check_key(&(door, name)).map_err(|n| limited(n.wait_time_from(DefaultClock::default().now())))
    }
}

fn limited(wait: Duration) -> AppError {
    let secs = u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).unwrap_or(u32::MAX).max(1);
    AppError::Rejected {
        rejection: Rejection::RateLimited { retry_after_secs: secs },
        message: Some("too many sign-in attempts; wait before trying again".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use seckill_domain::clock::ManualClock;

    fn config(rate_limits: bool, secure: bool) -> ServerConfig {
        ServerConfig {
            tz: jiff::tz::TimeZone::UTC,
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            session_ttl: Duration::from_secs(3600),
            password_cost: PasswordCost::FastInsecureForTests,
            secure_cookies: secure,
            rate_limits,
            rush: crate::RushConfig::default(),
            base_url: "http://127.0.0.1:8080".into(),
            pages_dir: None,
        }
    }

    fn auth_at(clock: &ManualClock) -> Auth {
        Auth::new(&config(true, false), Arc::new(clock.clone()))
    }

    fn clock() -> ManualClock {
        ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::get("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap().into_parts().0
    }

    async fn shopper(auth: &Auth, headers: &[(&str, &str)]) -> Result<Shopper, AppError> {
        Shopper::from_request_parts(&mut parts(headers), auth).await
    }

    async fn admin(auth: &Auth, headers: &[(&str, &str)]) -> Result<AdminSession, AppError> {
        AdminSession::from_request_parts(&mut parts(headers), auth).await
    }

    #[tokio::test]
    async fn passwords_hash_to_argon2id_and_verify() {
        let p = Passwords::new(PasswordCost::FastInsecureForTests);
        let phc = p.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(p.verify("correct horse battery", &phc).await);
        assert!(!p.verify("wrong horse battery", &phc).await);
        assert!(!p.verify("anything", "not a phc string").await);
        assert_ne!(p.hash("correct horse battery").await.unwrap(), phc, "salts are random");
        // A hash made at another cost still verifies: the parameters travel in the string.
        let standard = Passwords::new(PasswordCost::Standard);
        assert!(standard.verify_blocking("correct horse battery", &phc));
    }

    #[test]
    fn the_dummy_hash_is_well_formed_and_matches_nothing() {
        for cost in [PasswordCost::Standard, PasswordCost::FastInsecureForTests] {
            let p = Passwords::new(cost);
            assert!(argon2::PasswordHash::new(&p.inner.dummy).is_ok(), "{}", p.inner.dummy);
            assert!(!p.verify_blocking("", &p.inner.dummy));
        }
        assert!(Passwords::new(PasswordCost::Standard).inner.dummy.contains("m=19456,t=2,p=1"));
    }

    #[tokio::test]
    async fn an_unknown_account_still_costs_one_verification_and_never_matches() {
        let p = Passwords::new(PasswordCost::FastInsecureForTests);
        let phc = p.hash_blocking("a long passphrase").unwrap();
        assert!(p.check("a long passphrase", Some(&phc)).await.unwrap());
        assert!(!p.check("other", Some(&phc)).await.unwrap());
        assert!(!p.check("a long passphrase", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_saturated_hasher_sheds_load_with_503() {
        let p = Passwords::new(PasswordCost::FastInsecureForTests);
        p.inner.queued.store(MAX_QUEUED_PASSWORD_JOBS, Ordering::Release);
        let e = p.check("x", None).await.unwrap_err();
        assert!(matches!(e, PasswordError::Busy));
        assert_eq!(AppError::from(e).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!p.verify("x", "y").await);
    }

    #[tokio::test]
    async fn a_shopper_is_read_from_the_bearer_header_or_the_cookie() {
        let c = clock();
        let auth = auth_at(&c);
        let issued = auth.issue(Audience::Shopper, 42, 3);
        assert_eq!(issued.expires_at.as_second(), 1_800_003_600);
        let bearer = format!("Bearer {}", issued.token);
        let s = shopper(&auth, &[("authorization", &bearer)]).await.unwrap();
        assert_eq!((s.id.get(), s.level), (42, 3));
        let cookie = format!("theme=dark; {SHOPPER_COOKIE}={}; other=1", issued.token);
        assert_eq!(shopper(&auth, &[("cookie", &cookie)]).await.unwrap().id.get(), 42);
        let lower = format!("bearer {}", issued.token);
        assert!(shopper(&auth, &[("authorization", &lower)]).await.is_ok());
    }

    #[tokio::test]
    async fn missing_forged_or_expired_shopper_tokens_are_unauthenticated() {
        let c = clock();
        let auth = auth_at(&c);
        let issued = auth.issue(Audience::Shopper, 42, 1);
        assert!(matches!(shopper(&auth, &[]).await, Err(AppError::Unauthenticated)));
        assert!(matches!(
            shopper(&auth, &[("authorization", "Bearer nonsense")]).await,
            Err(AppError::Unauthenticated)
        ));
        let other = Auth::new(
            &ServerConfig { secret: b"another secret, also 32 bytes long!!".to_vec(), ..config(false, false) },
            Arc::new(c.clone()),
        );
        let forged = format!("Bearer {}", other.issue(Audience::Shopper, 42, 1).token);
        assert!(matches!(shopper(&auth, &[("authorization", &forged)]).await, Err(AppError::Unauthenticated)));
        c.advance(SignedDuration::from_secs(3600));
        let expired = format!("Bearer {}", issued.token);
        assert!(matches!(shopper(&auth, &[("authorization", &expired)]).await, Err(AppError::Unauthenticated)));
        // A cookie under another name is not a session.
        let wrong_name = format!("{ADMIN_COOKIE}={}", auth.issue(Audience::Shopper, 1, 1).token);
        assert!(matches!(shopper(&auth, &[("cookie", &wrong_name)]).await, Err(AppError::Unauthenticated)));
    }

    #[tokio::test]
    async fn admin_routes_want_an_admin_token_and_refuse_shoppers_with_403() {
        let c = clock();
        let auth = auth_at(&c);
        let admin_token = auth.issue(Audience::Admin, 7, 0).token;
        let shopper_token = auth.issue(Audience::Shopper, 42, 1).token;

        let s = admin(&auth, &[("authorization", &format!("Bearer {admin_token}"))]).await.unwrap();
        assert_eq!(s.id.get(), 7);
        assert!(admin(&auth, &[("cookie", &format!("{ADMIN_COOKIE}={admin_token}"))]).await.is_ok());

        let by_bearer = admin(&auth, &[("authorization", &format!("Bearer {shopper_token}"))]).await;
        assert!(matches!(by_bearer, Err(AppError::Forbidden)));
        let by_cookie = admin(&auth, &[("cookie", &format!("{SHOPPER_COOKIE}={shopper_token}"))]).await;
        assert!(matches!(by_cookie, Err(AppError::Forbidden)));
        assert!(matches!(admin(&auth, &[]).await, Err(AppError::Unauthenticated)));
        assert!(matches!(
            admin(&auth, &[("cookie", &format!("{ADMIN_COOKIE}=garbage"))]).await,
            Err(AppError::Unauthenticated)
        ));
        // An admin token is no shopper session either.
        let as_shopper = shopper(&auth, &[("authorization", &format!("Bearer {admin_token}"))]).await;
        assert!(matches!(as_shopper, Err(AppError::Forbidden)));
    }

    #[tokio::test]
    async fn the_admin_gate_turns_away_everyone_but_operators() {
        use axum::Router;
        use axum::middleware::from_fn_with_state;
        use axum::routing::get;
        use tower::ServiceExt;

        let c = clock();
        let auth = auth_at(&c);
        let app = Router::new()
            .route("/api/admin/x", get(|s: AdminSession| async move { s.id.to_string() }))
            .route_layer(from_fn_with_state(auth.clone(), require_admin))
            .with_state(auth.clone());
        let call = |header: Option<String>| {
            let app = app.clone();
            async move {
                let mut req = axum::http::Request::get("/api/admin/x");
                if let Some(h) = header {
                    req = req.header("authorization", h);
                }
                let r = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
                let status = r.status();
                let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let admin_token = auth.issue(Audience::Admin, 7, 0).token;
        assert_eq!(call(Some(format!("Bearer {admin_token}"))).await, (StatusCode::OK, "7".to_owned()));
        let (s, body) = call(None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
        let shopper_token = auth.issue(Audience::Shopper, 42, 1).token;
        let (s, body) = call(Some(format!("Bearer {shopper_token}"))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body.contains("FORBIDDEN"), "{body}");
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        let c = clock();
        let plain = auth_at(&c).session_cookie(SHOPPER_COOKIE, "tok.en");
        assert_eq!(plain, "seckill_session=tok.en; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600");
        let secure = Auth::new(&config(false, true), Arc::new(c.clone()));
        assert!(secure.session_cookie(ADMIN_COOKIE, "t").to_str().unwrap().ends_with("; Secure"));
        assert_eq!(
            secure.clearing_cookie(ADMIN_COOKIE),
            "seckill_admin=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
        );
    }

    #[test]
    fn login_attempts_are_throttled_per_address_and_per_username_unless_limits_are_off() {
        let c = clock();
        let auth = auth_at(&c);
        let ip: Option<IpAddr> = Some([10, 0, 0, 1].into());
        for _ in 0..LOGIN_ATTEMPTS_PER_MINUTE {
            auth.throttle_login(Door::Shop, None, "Alice").unwrap();
        }
        let e = auth.throttle_login(Door::Shop, None, "alice").unwrap_err();
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            matches!(e, AppError::Rejected { rejection: Rejection::RateLimited { retry_after_secs }, .. } if retry_after_secs >= 1)
        );
        // Another name from the same (unknown) address is fine; one address with many names is not.
        auth.throttle_login(Door::Shop, None, "bob").unwrap();
        for i in 0..LOGIN_ATTEMPTS_PER_MINUTE {
            auth.throttle_login(Door::Console, ip, &format!("user{i}")).unwrap();
        }
        assert!(auth.throttle_login(Door::Console, ip, "carol").is_err());
        // Guessing at the console locks no shopper out at the shop, from the same address or
        // under the same name.
        auth.throttle_login(Door::Shop, ip, "carol").unwrap();
        auth.throttle_login(Door::Console, None, "alice").unwrap();

        let open = Auth::new(&config(false, false), Arc::new(c.clone()));
        for _ in 0..100 {
            open.throttle_login(Door::Shop, ip, "alice").unwrap();
        }
    }
}
