//! Creating, checking, listing and revoking tokens over any [`TokenStore`]; shared by
//! [`crate::Runtime`] and the `runbox token` command (which opens only the store).

use super::token::{format_token, hash_secret, new_secret, parse_token, verify_secret};
use super::{AuthError, Caller, NewToken, Role, TokenInfo, TokenRecord, TokenStore};
use crate::model::{IdKind, Timestamp, new_id};

/// Longest org name and label accepted.
const MAX_NAME: usize = 128;

/// Issues a token for `org` with `role`; `label` says what it is for (may be empty).
/// Only the hash is stored; the returned [`NewToken`] holds the one copy of the text.
pub async fn issue_token(
    store: &dyn TokenStore,
    org: &str,
    role: Role,
    label: &str,
    actor: &str,
) -> Result<NewToken, AuthError> {
    check_text("org", org, false)?;
    check_text("label", label, true)?;
    let id = new_id(IdKind::Token);
    let secret = new_secret()?;
    let record = TokenRecord {
        id: id.clone(),
        org: org.to_owned(),
        role,
        label: label.to_owned(),
        secret_hash: hash_secret(&id, &secret),
        created_at: Timestamp::now(),
        created_by: actor.to_owned(),
        revoked_at: None,
    };
    store.insert_token(record, actor).await?;
    tracing::info!(token_id = %id, org, %role, "API token issued");
    Ok(NewToken {
        secret_text: format_token(&id, &secret),
        id,
        org: org.to_owned(),
        role,
    })
}

/// The caller a token text stands for. Malformed, unknown, wrong-secret and revoked
/// tokens are all [`AuthError::Invalid`].
pub async fn authenticate(store: &dyn TokenStore, text: &str) -> Result<Caller, AuthError> {
    let (id, secret) = parse_token(text).ok_or(AuthError::Invalid)?;
    let record = store.token(id).await?.ok_or(AuthError::Invalid)?;
    if !verify_secret(id, secret, &record.secret_hash) || record.revoked_at.is_some() {
        return Err(AuthError::Invalid);
    }
    Ok(Caller {
        org: record.org,
        token_id: record.id,
        role: record.role,
    })
}

/// The org's tokens, oldest first, without hashes.
pub async fn list_tokens(store: &dyn TokenStore, org: &str) -> Result<Vec<TokenInfo>, AuthError> {
    Ok(store
        .list_tokens(org)
        .await?
        .iter()
        .map(TokenRecord::info)
        .collect())
}

/// Revokes one of the org's tokens: it stops authenticating at once.
pub async fn revoke_token(
    store: &dyn TokenStore,
    org: &str,
    id: &str,
    actor: &str,
) -> Result<TokenInfo, AuthError> {
    let record = store.revoke_token(org, id, actor).await?;
    tracing::info!(token_id = %id, org, "API token revoked");
    Ok(record.info())
}

fn check_text(field: &'static str, text: &str, may_be_empty: bool) -> Result<(), AuthError> {
    let reason = if text.is_empty() && !may_be_empty {
        "must not be empty"
    } else if text.len() > MAX_NAME {
        "must be at most 128 bytes"
    } else if text.trim() != text {
        "must not start or end with spaces"
    } else if text.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(AuthError::BadRequest {
        field,
        reason: reason.into(),
    })
}
