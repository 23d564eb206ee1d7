//! Subscriptions: "when event X fires in this org, run runbook Y against connection Z".

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// Only `active` subscriptions get dispatches; resuming does not backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    #[default]
    Active,
    Paused,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Paused => "paused",
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Opt-in automatic retries (default: none, as in hoop). Exponential backoff from
/// `base_backoff` capped at `max_backoff`; no retry once `max_attempts` runs were made or
/// the dispatch is older than `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    #[serde(with = "crate::serde_duration")]
    #[schema(value_type = String, example = "10s")]
    pub base_backoff: Duration,
    #[serde(with = "crate::serde_duration")]
    #[schema(value_type = String, example = "10s")]
    pub max_backoff: Duration,
    #[serde(with = "crate::serde_duration")]
    #[schema(value_type = String, example = "10s")]
    pub max_age: Duration,
}

impl RetryPolicy {
    /// The delay before run `attempt + 1` after `attempt` runs (1-based): base * 2^(attempt-1),
    /// capped. Jitter is the caller's choice (it owns the randomness).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
    }

    /// Whether a dispatch created at `created_at` that has run `attempt` times may run again at
    /// `now`.
    pub fn allows_retry(&self, attempt: u32, created_at: Timestamp, now: Timestamp) -> bool {
        attempt < self.max_attempts
            && u128::from(now.millis_since(created_at)) <= self.max_age.as_millis()
    }
}

/// A subscription as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub org: String,
    /// Unique per org.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Exactly one, fixed at creation (a list for hoop compatibility).
    pub event_types: Vec<String>,
    pub runbook_repository: String,
    pub runbook_file: String,
    pub connection_name: String,
    /// Runbook parameter -> JSONPath text, kept sorted by parameter name.
    #[serde(default)]
    pub parameter_mapping: BTreeMap<String, String>,
    pub status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Subscription {
    /// The one event type (empty if a stored record somehow has none).
    pub fn event_type(&self) -> &str {
        self.event_types.first().map_or("", String::as_str)
    }
}

/// The request body of create/update (hoop's shape plus `retry_policy`); on update the
/// event type must not change and `status` is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub event_types: Vec<String>,
    pub runbook_repository: String,
    pub runbook_file: String,
    pub connection_name: String,
    #[serde(default)]
    pub parameter_mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub status: SubscriptionStatus,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            max_age: Duration::from_secs(60),
        };
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(2), Duration::from_secs(2));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(4), Duration::from_secs(5));
        assert_eq!(p.backoff(100), Duration::from_secs(5));
        let t0 = Timestamp::from_millis(1_000_000);
        assert!(p.allows_retry(4, t0, t0.saturating_add(Duration::from_secs(60))));
        assert!(!p.allows_retry(5, t0, t0));
        assert!(!p.allows_retry(1, t0, t0.saturating_add(Duration::from_secs(61))));
    }

    #[test]
    fn request_body_from_hoop_parses() {
        let body = r#"{"name":"revoke-on-pii","description":"Revoke AI agent on PII",
 "event_types":["alert.sensitive_data_detected"],
 "runbook_repository":"github.com/acme/runbooks","runbook_file":"ops/revoke-agent.runbook.wasm",
 "connection_name":"bash-ops",
 "parameter_mapping":{"agent_user":"$.user","connection_name":"$.connection"},
 "status":"paused"}"#;
        let spec: Result<SubscriptionSpec, _> = serde_json::from_str(body);
        let spec = spec.map_err(|e| e.to_string());
        assert!(
            matches!(&spec, Ok(s) if s.status == SubscriptionStatus::Paused && s.parameter_mapping.len() == 2),
            "{spec:?}"
        );
    }
}
