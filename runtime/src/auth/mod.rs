//! Bearer API tokens: who may call the admin API, for which org, with which role.
//!
//! A token is bound to one org and one [`Role`]. Its text (`rbx_<id>_<secret>`) is shown
//! once, when it is created; the store keeps only a SHA-256 hash of the secret, so a copy
//! of the database does not hand out working tokens. Authentication looks the token up by
//! its id and compares hashes in constant time.
//!
//! Files: [`role`] (the two roles), [`token`] (text format, generation, hashing),
//! [`store`] (the [`TokenStore`] seam, implemented by the sled store), [`issue`]
//! (creating, checking and revoking tokens over a `TokenStore`), [`runtime_api`] (the same
//! on [`crate::Runtime`]), [`error`].

pub mod error;
pub mod issue;
pub mod role;
pub mod runtime_api;
pub mod store;
pub mod token;

pub use error::AuthError;
pub use issue::{authenticate, issue_token, list_tokens, revoke_token};
pub use role::Role;
pub use store::{TokenRecord, TokenStore};
pub use token::{Caller, NewToken, TokenInfo};
