//! The storage seam of API tokens: a small trait next to [`crate::store::Store`], so the
//! `Store` trait (and every implementation of it) stays as it is. The sled store implements
//! both on one database (`store/sled_tokens.rs`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Role, TokenInfo};
use crate::model::Timestamp;
use crate::store::StoreResult;

/// A token as stored: its hash, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub org: String,
    pub role: Role,
    #[serde(default)]
    pub label: String,
    /// Lowercase hex SHA-256 of `"<id>:<secret>"`.
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// The listing view (no hash).
    pub fn info(&self) -> TokenInfo {
        TokenInfo {
            id: self.id.clone(),
            org: self.org.clone(),
            role: self.role,
            label: self.label.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            revoked_at: self.revoked_at,
        }
    }
}

/// Durable storage of token records. Writes return once durable and are audited in the
/// token's org with `actor`.
#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// Stores a new record (its id is fresh; an existing id is a conflict).
    async fn insert_token(&self, record: TokenRecord, actor: &str) -> StoreResult<()>;
    /// The record with this id, whatever its org; `None` when there is none.
    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;
    /// The org's tokens (revoked ones included), oldest first.
    async fn list_tokens(&self, org: &str) -> StoreResult<Vec<TokenRecord>>;
    /// Marks the org's token revoked (again: no change); another org's id is not found.
    async fn revoke_token(&self, org: &str, id: &str, actor: &str) -> StoreResult<TokenRecord>;
}
