//! The shoppers of a run: created in bulk in the server's records (each with one address; a
//! password hash no password matches, so none of them can sign in) and given shopper tokens
//! minted lazily with the server's secret — by the same [`TokenKey`] code the server signs its
//! sessions with, so a million shoppers cost no argon2 and no login round trip.

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use seckill_domain::ids::{AddressId, UserId};
use seckill_domain::token::{Audience, Claims, TokenKey};
use seckill_domain::user::{AddressInput, NEW_USER_LEVEL, NewAddress, Username};
use seckill_store::Records;

/// Shoppers per call of the bulk registration (one transaction each).
const USERS_PER_BATCH: usize = 20_000;
/// A stored password hash that no password matches (not a PHC string at all).
const NO_LOGIN: &str = "!";
/// How long minted shopper tokens last: longer than any run.
const TOKEN_TTL: SignedDuration = SignedDuration::from_hours(24);

/// One shopper of the crowd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shopper {
    pub id: UserId,
    pub address: AddressId,
}

/// Creates `n` shoppers named `{prefix}-{i}`, each with one default address, in a few large
/// transactions; `progress(done)` is called after each batch.
pub(crate) async fn provision(
    records: &Records,
    prefix: &str,
    n: u32,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Vec<Shopper>> {
    let address = NewAddress::parse(&AddressInput {
        contact: "压测用户",
        phone: "13800138000",
        province: "浙江省",
        city: "杭州市",
        district: "余杭区",
        detail: "文一西路 969 号",
        is_default: Some(true),
    })
    .map_err(|e| anyhow::anyhow!("the bench address is invalid: {e}"))?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut shoppers = Vec::with_capacity(n);
    let now = Timestamp::now();
    let mut start = 0;
    while start < n {
        let end = (start + USERS_PER_BATCH).min(n);
        let names = (start..end)
            .map(|i| Username::parse(&format!("{prefix}-{i}")).map_err(|m| anyhow::anyhow!("username: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ids = records
            .accounts
            .create_users_in_bulk(&names, NO_LOGIN, &address, now)
            .await
            .with_context(|| format!("cannot create shoppers {start}..{end} in the records"))?;
        shoppers.extend(ids.into_iter().map(|(id, address)| Shopper { id, address }));
        start = end;
        progress(start as u64);
    }
    Ok(shoppers)
}

/// Mints shopper tokens as the server does.
#[derive(Debug, Clone)]
pub(crate) struct Minter {
    key: TokenKey,
    expires_at: i64,
}

impl Minter {
    /// A minter with the server's `secret`; its tokens last a day from now.
    pub(crate) fn new(secret: &[u8]) -> Self {
        let expires_at = Timestamp::now().checked_add(TOKEN_TTL).unwrap_or(Timestamp::MAX).as_second();
        Minter { key: TokenKey::new(secret), expires_at }
    }

    /// A session token of `user`, as `POST /api/sessions` would have given them.
    pub(crate) fn shopper_token(&self, user: UserId) -> String {
        self.key.sign(&Claims {
            audience: Audience::Shopper,
            subject: user.get(),
            expires_at: self.expires_at,
            level: NEW_USER_LEVEL,
            activity: 0,
        })
    }
}

/// A random tag that keeps the names of one run apart from any other's.
pub(crate) fn run_tag() -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..6).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_shopper_sessions_the_server_accepts() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = Minter::new(secret).shopper_token(UserId::from_raw(42));
        let claims = TokenKey::new(secret).verify(&token, Audience::Shopper, Timestamp::now().as_second()).unwrap();
        assert_eq!((claims.subject, claims.level), (42, NEW_USER_LEVEL));
        assert!(TokenKey::new(b"another secret of at least 32 bytes!").verify(&token, Audience::Shopper, 0).is_err());
        let tag = run_tag();
        assert_eq!(tag.len(), 6);
        assert!(Username::parse(&format!("b{tag}-999999")).is_ok());
    }
}
