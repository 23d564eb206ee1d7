//! [`TokenStore`] on the sled database of [`SledStore`]: one tree, `api_tokens`, keyed by
//! token id (authentication knows the id, not the org). Each write is one transaction with
//! its audit record, made durable by the shared group commit before it returns.

use async_trait::async_trait;

use super::StoreResult;
use super::keys::Key;
use super::sled_store::{SledStore, abort, decode, t};
use crate::auth::{TokenRecord, TokenStore};
use crate::error::StoreError;
use crate::model::{ObjectKind, Timestamp};

const TOKEN: &str = "token";

/// Index of the token tree in [`t::NAMES`], found by name at compile time so that adding
/// trees elsewhere in the list cannot make it point at another tree.
const TOKENS: usize = tree_index("api_tokens");

const fn tree_index(name: &str) -> usize {
    let mut i = 0;
    while i < t::NAMES.len() {
        if bytes_eq(t::NAMES[i].as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("tree not in sled_store::t::NAMES")
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

fn key(id: &str) -> Vec<u8> {
    Key::new().s(id).done()
}

#[async_trait]
impl TokenStore for SledStore {
    async fn insert_token(&self, record: TokenRecord, actor: &str) -> StoreResult<()> {
        self.tx(|tx| {
            let k = key(&record.id);
            if tx.has(TOKENS, &k)? {
                return abort(StoreError::DuplicateName {
                    kind: TOKEN,
                    name: record.id.clone(),
                });
            }
            tx.put(TOKENS, k, &record)?;
            tx.audit(
                &record.org,
                record.created_at,
                actor,
                ObjectKind::Token,
                &record.id,
                None,
                Some(record.role.as_str()),
                (!record.label.is_empty()).then(|| format!("label {}", record.label)),
            )
        })?;
        self.inner.commit.durable().await
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.read(TOKENS, &key(id), TOKEN)
    }

    async fn list_tokens(&self, org: &str) -> StoreResult<Vec<TokenRecord>> {
        let mut out = Vec::new();
        for entry in self.tree(TOKENS).iter() {
            let (_, bytes) = entry?;
            let record: TokenRecord = decode(&bytes, TOKEN)?;
            if record.org == org {
                out.push(record);
            }
        }
        // Ids are time-ordered, so this is creation order.
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn revoke_token(&self, org: &str, id: &str, actor: &str) -> StoreResult<TokenRecord> {
        let now = Timestamp::now();
        let not_found = || StoreError::NotFound {
            kind: TOKEN,
            id: id.to_owned(),
        };
        let record = self.tx(|tx| {
            let k = key(id);
            let mut record = match tx.get::<TokenRecord>(TOKENS, &k, TOKEN)? {
                Some(r) if r.org == org => r,
                _ => return abort(not_found()),
            };
            if record.revoked_at.is_some() {
                return Ok(record);
            }
            record.revoked_at = Some(now);
            tx.put(TOKENS, k, &record)?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Token,
                id,
                Some(record.role.as_str()),
                Some("revoked"),
                None,
            )?;
            Ok(record)
        })?;
        self.inner.commit.durable().await?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_tree_is_found_by_name() {
        assert_eq!(t::NAMES[TOKENS], "api_tokens");
    }
}
