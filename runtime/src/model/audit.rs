//! The append-only audit record: who moved what from which state to which, and when.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// The kind of object a transition happened to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// A runbook repository configuration made over the API: created (`to = <repository>`),
    /// updated (`detail` names the fields sent) or deleted (`from = <repository>`).
    Repository,
}

/// One transition. `from`/`to` are states (`pending`, `active`, ...) or, for creation
/// and deletion, absent on one side; a rename shows the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// A record to append for a change made outside the store's own operations (they audit
/// themselves): who, what, from which state to which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditRecord {
    pub actor: String,
    pub object_kind: ObjectKind,
    pub object_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub detail: Option<String>,
}
