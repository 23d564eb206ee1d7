//! Dispatches: one run of one subscription's runbook for one event.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// hoop's four states. `pending` -> `processing` -> `delivered` | `failed`; `processing`
/// goes back to `pending` only for an allowed retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DispatchStatus {
    Pending,
    Processing,
    Delivered,
    Failed,
}

impl DispatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchStatus::Pending => "pending",
            DispatchStatus::Processing => "processing",
            DispatchStatus::Delivered => "delivered",
            DispatchStatus::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, DispatchStatus::Delivered | DispatchStatus::Failed)
    }
}

impl fmt::Display for DispatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest `last_error.message` kept, in characters; longer texts are cut (with a marker).
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// Why a dispatch failed: a stable code (the sandbox's, or `interrupted`, `agent_offline`,
/// ...), a human message, and whether a retry policy may run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DispatchError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub retryable: bool,
}

impl DispatchError {
    /// Builds an error, capping the message at [`MAX_ERROR_MESSAGE_CHARS`] characters.
    pub fn new(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        let message = message.into();
        let message = match message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
            None => message,
            Some((cut, _)) => {
                const MARK: &str = "…";
                let keep = message[..cut]
                    .char_indices()
                    .nth(MAX_ERROR_MESSAGE_CHARS - 1)
                    .map_or(cut, |(i, _)| i);
                format!("{}{MARK}", &message[..keep])
            }
        };
        DispatchError {
            code: code.into(),
            message,
            retryable,
        }
    }

    /// The error a dispatch gets when the process died while it was running.
    pub fn interrupted() -> Self {
        DispatchError::new(
            "interrupted",
            "the runtime stopped while this dispatch was running; it was not re-run",
            true,
        )
    }
}

/// A dispatch row. Optional fields are absent until the state that fills them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dispatch {
    pub id: String,
    pub org: String,
    pub event_id: String,
    pub subscription_id: String,
    pub status: DispatchStatus,
    /// Runs started so far (0 while first pending).
    pub attempt: u32,
    pub last_error: Option<DispatchError>,
    pub replayed_from: Option<String>,
    pub created_at: Timestamp,
    pub dispatched_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    /// When a pending dispatch may be claimed (now, or later for a retry backoff).
    pub due_at: Timestamp,
    /// While processing: after this instant the claim is considered abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_excerpt: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_capped_at_1000_chars_on_a_char_boundary() {
        let long = "é".repeat(1500);
        let e = DispatchError::new("guest_error", long, false);
        assert_eq!(e.message.chars().count(), MAX_ERROR_MESSAGE_CHARS);
        let short = DispatchError::new("guest_error", "x".repeat(1000), false);
        assert_eq!(short.message.len(), 1000);
    }

    #[test]
    fn status_json_is_lowercase() {
        let json = serde_json::to_string(&DispatchStatus::Processing).unwrap_or_default();
        assert_eq!(json, "\"processing\"");
    }
}
