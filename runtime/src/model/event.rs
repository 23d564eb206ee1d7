//! Platform events as stored.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// A published event, kept so dispatches (and replays) render from the stored payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub org: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// The producer's idempotency key (`<sid>:session.started`, ...); a repeat creates nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_event_id: Option<String>,
    pub received_at: Timestamp,
}

/// What a publisher hands to the store; the store assigns id and `received_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub payload: serde_json::Value,
    pub producer_event_id: Option<String>,
    /// Who published it, for the audit record (`token:<id>` over HTTP); `None` records
    /// `publisher` (an embedding gateway).
    pub actor: Option<String>,
}
