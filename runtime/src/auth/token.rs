//! The token text `rbx_<id>_<secret>`: generation, parsing, hashing and the constant-time
//! check, plus the values handed to callers ([`NewToken`], [`Caller`], [`TokenInfo`]).
//!
//! `<id>` is a `tok_...` id (not secret: it names the token in lists, logs and the audit
//! trail); `<secret>` is 32 bytes from the OS random source as 64 lowercase hex digits.
//! The store keeps `sha256("<id>:<secret>")`: with 256 random bits a fast hash is enough
//! (there is nothing to brute-force), and binding the id means a hash copied onto another
//! record does not verify.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, Role};
use crate::model::Timestamp;

/// Every token text starts with this, so secret scanners and humans recognise it.
pub const TOKEN_PREFIX: &str = "rbx_";
/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 32;
/// Length of an id made by [`crate::model::new_id`] (`tok_` + 26 characters).
const ID_LEN: usize = 30;

/// A token as issued: the only time its text exists outside the caller's hands.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct NewToken {
    pub id: String,
    pub org: String,
    pub role: Role,
    /// `rbx_<id>_<secret>`: give it to the client; it cannot be shown again.
    pub secret_text: String,
}

/// `Debug` leaves the secret out, so a token never reaches a log through `{:?}`.
impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("role", &self.role)
            .field("secret_text", &"<redacted>")
            .finish()
    }
}

/// Who is calling: what a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub org: String,
    pub token_id: String,
    pub role: Role,
}

impl Caller {
    /// The audit actor of this caller's writes: `token:<id>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

/// A token as listed: everything but its secret and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub org: String,
    pub role: Role,
    pub label: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
}

/// A fresh secret: 64 hex digits from the OS random source.
pub(crate) fn new_secret() -> Result<String, AuthError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// `rbx_<id>_<secret>`.
pub(crate) fn format_token(id: &str, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

/// Splits a token text into `(id, secret)`; `None` when it does not have the shape of
/// one (it is then refused without a store lookup).
pub(crate) fn parse_token(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.rsplit_once('_')?;
    let id_ok = id.len() == ID_LEN
        && id.starts_with("tok_")
        && id[4..].bytes().all(|b| b.is_ascii_alphanumeric());
    let secret_ok = secret.len() == SECRET_BYTES * 2
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (id_ok && secret_ok).then_some((id, secret))
}

/// The stored form of a secret: lowercase hex of `sha256("<id>:<secret>")`.
pub(crate) fn hash_secret(id: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(b":");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// True when `secret` hashes to `stored_hash`, compared in constant time (the hex forms
/// have a fixed length, so only their contents are compared).
pub(crate) fn verify_secret(id: &str, secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(id, secret);
    presented.len() == stored_hash.len()
        && bool::from(presented.as_bytes().ct_eq(stored_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IdKind, new_id};

    #[test]
    fn formats_parses_and_verifies() {
        let id = new_id(IdKind::Token);
        let secret = new_secret().unwrap_or_default();
        assert_eq!(secret.len(), 64);
        let text = format_token(&id, &secret);
        assert_eq!(parse_token(&text), Some((id.as_str(), secret.as_str())));
        let hash = hash_secret(&id, &secret);
        assert!(!hash.contains(&secret));
        assert!(verify_secret(&id, &secret, &hash));
        let other = new_secret().unwrap_or_default();
        assert_ne!(other, secret, "secrets are random");
        assert!(!verify_secret(&id, &other, &hash));
        let other_id = new_id(IdKind::Token);
        assert!(
            !verify_secret(&other_id, &secret, &hash),
            "hash bound to id"
        );
    }

    #[test]
    fn malformed_texts_do_not_parse() {
        let id = new_id(IdKind::Token);
        let secret = "a".repeat(64);
        for bad in [
            String::new(),
            "rbx_".into(),
            format!("{id}_{secret}"),
            format!("rbx_{id}{secret}"),
            format!("rbx_{id}_{}", "A".repeat(64)),
            format!("rbx_{id}_{}", "a".repeat(63)),
            format!("rbx_con_{}_{secret}", &id[4..]),
            format!("rbx_{id}x_{secret}"),
        ] {
            assert_eq!(parse_token(&bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_of_a_new_token_hides_the_secret() {
        let t = NewToken {
            id: "tok_1".into(),
            org: "acme".into(),
            role: Role::Admin,
            secret_text: "rbx_tok_1_deadbeef".into(),
        };
        let debug = format!("{t:?}");
        assert!(!debug.contains("deadbeef"), "{debug}");
    }
}
