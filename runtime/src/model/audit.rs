//! The append-only audit record: who moved what from which state to which, and when.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// The kind of object a transition happened to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Org,
    Connection,
    Subscription,
    /// A publish: `to = pending` for the dispatches listed in `detail`.
    Event,
    Dispatch,
    /// An API token: created (`to = <role>`) or revoked (`to = revoked`).
    Token,
}

/// One transition. `from`/`to` are states (`pending`, `active`, ...) or, for creation
/// and deletion, absent on one side; a rename shows the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Increases with every record of the store (gaps possible, never reused).
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub object_kind: ObjectKind,
    pub object_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
