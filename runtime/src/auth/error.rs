//! Why a token could not be created, checked or revoked.

use crate::error::StoreError;

/// What went wrong with an API token. The messages never contain token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer ...` header.
    #[error("missing bearer token (send Authorization: Bearer <token>)")]
    Missing,

    /// The text is not a token, names no token, has the wrong secret, or the token was
    /// revoked. One variant for all, so a caller learns nothing about which it was.
    #[error("invalid or revoked API token")]
    Invalid,

    /// A create or revoke argument is unusable; the message names it.
    #[error("invalid {field}: {reason}")]
    BadRequest { field: &'static str, reason: String },

    /// The operating system's random source failed.
    #[error("cannot draw a random token secret: {0}")]
    Random(String),

    /// The token store failed or does not know the token (revoke of an unknown id).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// A stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthenticated",
            AuthError::Invalid => "invalid_token",
            AuthError::BadRequest { .. } => "invalid_request",
            AuthError::Random(_) => "random_failure",
            AuthError::Store(e) => e.code(),
        }
    }
}
