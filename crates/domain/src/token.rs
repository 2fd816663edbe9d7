//! Stateless signed tokens: `base64url(payload).base64url(HMAC-SHA256(key, payload))`.
//!
//! One format serves three audiences — shopper sessions, admin sessions and purchase tokens
//! (the "hidden path", bound to user and activity) — and the audience is inside the signed
//! payload, so a token minted for one can never pass for another. Verification is pure
//! computation (no I/O) and compares MACs in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted; anything longer is refused before any work.
pub const MAX_TOKEN_LEN: usize = 256;

/// Who a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// A shopper's session.
    Shopper,
    /// An operator's session.
    Admin,
    /// Permission to place an order in one activity, for a short while.
    Purchase,
}

impl Audience {
    fn tag(self) -> char {
        match self {
            Audience::Shopper => 's',
            Audience::Admin => 'a',
            Audience::Purchase => 'p',
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "s" => Some(Audience::Shopper),
            "a" => Some(Audience::Admin),
            "p" => Some(Audience::Purchase),
            _ => None,
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub audience: Audience,
    /// The user or admin id.
    pub subject: i64,
    /// Unix seconds after which the token is refused.
    pub expires_at: i64,
    /// The shopper's level when the token was issued (0 for other audiences), so the level rule
    /// needs no database read on the hot path.
    pub level: u8,
    /// The activity a purchase token is for (0 for other audiences).
    pub activity: i64,
}

/// Why a token was refused. Deliberately coarse: callers answer all of these the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("token for another audience")]
    WrongAudience,
    #[error("token expired")]
    Expired,
}

/// Derives an independent 32-byte key for one purpose from the server secret, so token keys and
/// payment-signature keys never coincide.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(b"seckill/v1/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

// HMAC accepts keys of any length, so keying never fails.
fn unreachable_hmac() -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(&[0u8; 32])
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// A keyed MAC, cloned per use so the key schedule is computed once.
#[derive(Clone)]
pub struct MacKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    /// A MAC key for `purpose`, derived from the server secret.
    pub fn derive(secret: &[u8], purpose: &str) -> Self {
        let key = derive_key(secret, purpose);
        MacKey { mac: <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable_hmac()) }
    }

    /// The MAC of `data`.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The MAC of `data` as lower-case hex (for signature headers).
    pub fn sign_hex(&self, data: &[u8]) -> String {
        self.sign(data).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `mac` is the MAC of `data`, compared in constant time.
    pub fn verify(&self, data: &[u8], mac: &[u8]) -> bool {
        let mut m = self.mac.clone();
        m.update(data);
        m.verify_slice(mac).is_ok()
    }

    /// [`MacKey::verify`] for a hex signature; malformed hex is simply a bad signature.
    pub fn verify_hex(&self, data: &[u8], hex: &str) -> bool {
        if hex.len() != 64 {
            return false;
        }
        let mut bytes = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let Ok(s) = std::str::from_utf8(chunk) else { return false };
            let Ok(b) = u8::from_str_radix(s, 16) else { return false };
            bytes[i] = b;
        }
        self.verify(data, &bytes)
    }
}

/// Signs and verifies tokens with a key derived from the server secret.
#[derive(Debug, Clone)]
pub struct TokenKey {
    key: MacKey,
}

impl TokenKey {
    /// The token key of a server secret.
    pub fn new(secret: &[u8]) -> Self {
        TokenKey { key: MacKey::derive(secret, "tokens") }
    }

    /// A token carrying `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = format!(
            "{}:{}:{}:{}:{}",
            claims.audience.tag(),
            claims.subject,
            claims.expires_at,
            claims.level,
            claims.activity
        );
        let payload = B64.encode(payload);
        let mac = B64.encode(self.key.sign(payload.as_bytes()));
        format!("{payload}.{mac}")
    }

    /// The claims of `token` if it is genuine, for `audience`, and not expired at `now_secs`.
    pub fn verify(&self, token: &str, audience: Audience, now_secs: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, mac) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let mut mac_bytes = [0u8; 32];
        match B64.decode_slice(mac, &mut mac_bytes) {
            Ok(32) => {}
            _ => return Err(TokenError::Malformed),
        }
        if !self.key.verify(payload.as_bytes(), &mac_bytes) {
            return Err(TokenError::BadSignature);
        }
        let mut buf = [0u8; 128];
        let n = B64.decode_slice(payload, &mut buf).map_err(|_| TokenError::Malformed)?;
        let text = std::str::from_utf8(&buf[..n]).map_err(|_| TokenError::Malformed)?;
        let mut parts = text.split(':');
        let mut next = || parts.next().ok_or(TokenError::Malformed);
        let aud = Audience::from_tag(next()?).ok_or(TokenError::Malformed)?;
        let subject = next()?.parse().map_err(|_| TokenError::Malformed)?;
        let expires_at = next()?.parse().map_err(|_| TokenError::Malformed)?;
        let level = next()?.parse().map_err(|_| TokenError::Malformed)?;
        let activity = next()?.parse().map_err(|_| TokenError::Malformed)?;
        if aud != audience {
            return Err(TokenError::WrongAudience);
        }
        if now_secs >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Claims { audience: aud, subject, expires_at, level, activity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(b"0123456789abcdef0123456789abcdef")
    }

    fn claims(audience: Audience) -> Claims {
        Claims { audience, subject: 42, expires_at: 1_000, level: 3, activity: 7 }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let k = key();
        let t = k.sign(&claims(Audience::Purchase));
        assert!(t.len() < MAX_TOKEN_LEN);
        assert_eq!(k.verify(&t, Audience::Purchase, 999), Ok(claims(Audience::Purchase)));
        assert_eq!(k.verify(&t, Audience::Purchase, 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_for_one_audience_never_passes_for_another() {
        let k = key();
        let shopper = k.sign(&claims(Audience::Shopper));
        assert_eq!(k.verify(&shopper, Audience::Admin, 0), Err(TokenError::WrongAudience));
        assert_eq!(k.verify(&shopper, Audience::Purchase, 0), Err(TokenError::WrongAudience));
    }

    #[test]
    fn forged_tampered_and_garbage_tokens_are_refused() {
        let k = key();
        let t = k.sign(&claims(Audience::Shopper));
        let other = TokenKey::new(b"another secret of at least 32 bytes!");
        assert_eq!(other.verify(&t, Audience::Shopper, 0), Err(TokenError::BadSignature));

        // Re-encode a payload with a different subject but keep the old MAC.
        let (_, mac) = t.split_once('.').unwrap();
        let forged = format!("{}.{mac}", B64.encode("s:1:1000:3:7"));
        assert_eq!(k.verify(&forged, Audience::Shopper, 0), Err(TokenError::BadSignature));

        for junk in ["", ".", "abc", "a.b", "a.b.c", &"x".repeat(1000), "é.é"] {
            assert!(k.verify(junk, Audience::Shopper, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn hex_signatures_verify_in_constant_time_and_refuse_junk() {
        let k = MacKey::derive(b"0123456789abcdef0123456789abcdef", "payments");
        let sig = k.sign_hex(b"body");
        assert!(k.verify_hex(b"body", &sig));
        assert!(!k.verify_hex(b"body2", &sig));
        assert!(!k.verify_hex(b"body", "zz"));
        assert!(!k.verify_hex(b"body", &"g".repeat(64)));
        // Keys for different purposes differ.
        let t = MacKey::derive(b"0123456789abcdef0123456789abcdef", "tokens");
        assert!(!t.verify_hex(b"body", &sig));
    }
}
