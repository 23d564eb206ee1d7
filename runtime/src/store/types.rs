//! Inputs and outputs of [`super::Store`] operations.

use serde::Serialize;

use crate::model::{Connection, Dispatch, DispatchError, Subscription, Timestamp};

/// hoop's cap on `page_size`.
pub const MAX_PAGE_SIZE: usize = 100;
/// Used when a caller passes `page_size = 0`.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    pub event_id: String,
    /// The dispatches created (empty for a duplicate).
    pub dispatch_ids: Vec<String>,
    /// The producer id was seen before: `event_id` is the original one, nothing was created.
    pub duplicate: bool,
}

/// What a claim filter sees of a due dispatch.
#[derive(Debug)]
pub struct ClaimCandidate<'a> {
    pub dispatch: &'a Dispatch,
    /// Absent only if the subscription vanished under the dispatch.
    pub subscription: Option<&'a Subscription>,
    /// Absent if the subscription names a connection that does not exist (any more).
    pub connection: Option<&'a Connection>,
}

/// The two ends of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStatus {
    Delivered,
    Failed,
}

/// The result of a run, recorded by `finish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishOutcome {
    pub status: TerminalStatus,
    pub last_error: Option<DispatchError>,
    pub finished_at: Timestamp,
    pub duration_ms: u64,
    pub fuel_used: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    pub commit_sha: Option<String>,
    pub output_excerpt: Option<String>,
}

/// What recovery does with a dispatch found `processing` at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Terminal `failed` with this error (normally [`DispatchError::interrupted`]).
    Fail(DispatchError),
    /// Back to `pending`, due at `due_at`.
    Retry {
        due_at: Timestamp,
        last_error: DispatchError,
    },
}

/// The default recovery rule: `interrupted`, retried only when the subscription's retry
/// policy allows another attempt (after its backoff), otherwise failed. Never re-run
/// silently: a retried dispatch carries `last_error.code = "interrupted"`.
pub fn recover_by_retry_policy(
    now: Timestamp,
) -> impl Fn(&Dispatch, Option<&Subscription>) -> Recovery + Send + Sync {
    move |dispatch, subscription| {
        let error = DispatchError::interrupted();
        match subscription.and_then(|s| s.retry_policy) {
            Some(policy) if policy.allows_retry(dispatch.attempt, dispatch.created_at, now) => {
                Recovery::Retry {
                    due_at: now.saturating_add(policy.backoff(dispatch.attempt)),
                    last_error: error,
                }
            }
            _ => Recovery::Fail(error),
        }
    }
}

/// A page of a newest-first listing, in hoop's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub page: usize,
    /// The page size actually used (after the cap).
    pub limit: usize,
}

/// A dispatch with what the detail view adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispatchDetail {
    #[serde(flatten)]
    pub dispatch: Dispatch,
    pub event_payload: serde_json::Value,
    pub subscription_name: String,
}

/// hoop's per-subscription figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SubscriptionStats {
    pub delivered_count_7d: u64,
    pub failed_count_7d: u64,
    pub last_error: Option<DispatchError>,
}
