//! What the registry reports about each repository: enough for an admin to see at a glance
//! whether runbooks are current, and if not, why and since when.

use std::time::Duration;

use serde::Serialize;

use super::url::RepoKey;
use crate::error::RepoError;

/// State of one repository of an org.
#[derive(Debug, Clone, Serialize)]
pub struct RepoStatus {
    pub org: String,
    pub repository: RepoKey,
    /// The configured URL, credentials replaced by `***`.
    pub url: String,
    /// The branch followed (known after the first successful fetch).
    pub branch: Option<String>,
    /// Whether session hooks are served from this repository (`hook_config_ttl` set).
    pub hooks_enabled: bool,
    /// Refetch interval.
    #[serde(rename = "ttl_seconds", serialize_with = "seconds")]
    pub ttl: Duration,
    /// Commit of the snapshot being served.
    pub commit: Option<String>,
    /// Runbook files of the served snapshot that loaded / did not.
    pub loaded: usize,
    pub failed: usize,
    /// When a fetch last started (RFC 3339).
    pub last_fetch_at: Option<String>,
    /// When a fetch last succeeded and confirmed or replaced the snapshot (RFC 3339).
    pub last_success_at: Option<String>,
    /// Time since the last success: how out of date the served snapshot may be.
    #[serde(rename = "snapshot_age_seconds", serialize_with = "opt_seconds")]
    pub snapshot_age: Option<Duration>,
    /// Whether the TTL has passed since the last fetch.
    pub stale: bool,
    /// Whether a refresh is running now.
    pub refreshing: bool,
    /// The error of the last refresh, if it failed (the served snapshot is then older).
    pub last_error: Option<StatusError>,
    /// Fetches started since the registry was built.
    pub fetches: u64,
}

/// The last error of a repository.
#[derive(Debug, Clone, Serialize)]
pub struct StatusError {
    pub code: &'static str,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

impl StatusError {
    pub(crate) fn new(error: &RepoError, at: String) -> Self {
        StatusError {
            code: error.code(),
            message: error.to_string(),
            at,
        }
    }
}

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RefreshReport {
    /// The TTL had not passed; nothing was fetched.
    Fresh { commit: String },
    /// Fetched; the branch still points at the served commit.
    Unchanged { commit: String },
    /// Fetched a new commit and swapped the snapshot.
    Updated {
        from: Option<String>,
        to: String,
        loaded: usize,
        failed: usize,
    },
}

impl RefreshReport {
    /// The commit served after the refresh.
    pub fn commit(&self) -> &str {
        match self {
            RefreshReport::Fresh { commit } | RefreshReport::Unchanged { commit } => commit,
            RefreshReport::Updated { to, .. } => to,
        }
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}
