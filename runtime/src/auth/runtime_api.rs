//! API tokens on [`Runtime`]: issue, authenticate, list and revoke, over the runtime's own
//! store (the same sled database as event routing).

use super::{AuthError, Caller, NewToken, Role, TokenInfo};
use crate::Runtime;

impl Runtime {
    /// Issues a token bound to `org` and `role`; `actor` is recorded in the audit trail.
    /// The returned text is the only copy: only its hash is stored.
    pub async fn create_token(
        &self,
        org: &str,
        role: Role,
        label: &str,
        actor: &str,
    ) -> Result<NewToken, AuthError> {
        super::issue_token(self.tokens.as_ref(), org, role, label, actor).await
    }

    /// The caller behind a bearer token text (without the `Bearer ` scheme).
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller, AuthError> {
        super::authenticate(self.tokens.as_ref(), bearer).await
    }

    /// The org's tokens, revoked ones included, oldest first.
    pub async fn list_tokens(&self, org: &str) -> Result<Vec<TokenInfo>, AuthError> {
        super::list_tokens(self.tokens.as_ref(), org).await
    }

    /// Revokes one of the org's tokens (another org's id is not found).
    pub async fn revoke_token(
        &self,
        org: &str,
        id: &str,
        actor: &str,
    ) -> Result<TokenInfo, AuthError> {
        super::revoke_token(self.tokens.as_ref(), org, id, actor).await
    }
}
