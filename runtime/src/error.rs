//! The runtime's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime outside a guest run (a guest run's failures
/// are [`runbox_host_api::Failure`] values with a stable code, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured (bad settings, pooling reservation refused).
    #[error("cannot build the wasm engine: {0}")]
    Engine(String),

    /// A configuration value is out of range or malformed; the message names it.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a loadable component (not wasm, a core module, a foreign world,
    /// an import the host does not provide, or too large).
    #[error("invalid component {name}: {reason}")]
    InvalidComponent { name: String, reason: String },

    /// A sidecar `.toml` next to a plain command is malformed.
    #[error("invalid metadata sidecar of {name}: {reason}")]
    InvalidSidecar { name: String, reason: String },

    /// A runbook repository could not be used (see [`RepoError`]).
    #[error(transparent)]
    Repo(#[from] RepoError),

    /// The event-routing store refused or failed an operation (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a runbook repository, or a file in it, cannot be used. Every message names the
/// repository by its key (or redacted URL) and the cause, and never holds a credential.
/// Cloneable: one fetch's failure is handed to every caller that waited on it and kept as
/// the repository's last error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// The repository's configuration is unusable.
    #[error("repository {repository}: invalid configuration: {reason}")]
    InvalidConfig { repository: String, reason: String },

    /// The org has no repository with this key.
    #[error("repository \"{repository}\" is not configured for org \"{org}\"")]
    NotConfigured { org: String, repository: String },

    /// The fetch failed: unreachable host, refused credentials, unknown host key, a path
    /// that is gone, a broken local mirror.
    #[error("cannot fetch repository {repository}: {reason}")]
    Fetch { repository: String, reason: String },

    /// The fetch ran past its deadline.
    #[error("fetching repository {repository} timed out after {millis} ms")]
    FetchTimeout { repository: String, millis: u64 },

    /// Neither the configured branch nor (by default) `master`/`main` exists.
    #[error("repository {repository} has no branch {wanted} (branches: {available})")]
    BranchNotFound {
        repository: String,
        wanted: String,
        available: String,
    },

    /// The new commit has nothing usable (no runbooks, or none of them loads).
    #[error("repository {repository} at commit {commit}: {reason}")]
    Unusable {
        repository: String,
        commit: String,
        reason: String,
    },

    /// hoop's wording, so existing dashboards and scripts keep matching it.
    #[error("runbook file \"{file}\" not found in repository \"{repository}\"{detail}")]
    RunbookNotFound {
        repository: String,
        file: String,
        detail: String,
    },

    /// The file exists in the current commit but did not load.
    #[error("runbook file \"{file}\" in repository \"{repository}\" does not load: {reason}")]
    RunbookUnavailable {
        repository: String,
        file: String,
        reason: String,
    },
}

impl RepoError {
    /// A stable code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RepoError::InvalidConfig { .. } => "invalid_config",
            RepoError::NotConfigured { .. } => "repository_not_configured",
            RepoError::Fetch { .. } => "fetch_failed",
            RepoError::FetchTimeout { .. } => "fetch_timeout",
            RepoError::BranchNotFound { .. } => "branch_not_found",
            RepoError::Unusable { .. } => "unusable_commit",
            RepoError::RunbookNotFound { .. } => "runbook_not_found",
            RepoError::RunbookUnavailable { .. } => "invalid_component",
        }
    }
}

/// Why a store operation did not happen. Cloneable: one failed group flush is reported
/// to every writer that waited on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (I/O, a full disk, a broken database file).
    #[error("storage failure: {0}")]
    Backend(String),

    /// A stored value does not decode; the database was written by something else.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },

    /// No such object in this org (another org's objects are "not found" too).
    #[error("{kind} not found")]
    NotFound { kind: &'static str, id: String },

    /// The name is taken in this org.
    #[error("a {kind} named \"{name}\" already exists")]
    DuplicateName { kind: &'static str, name: String },

    /// A subscription names a connection this org does not have.
    #[error("connection \"{name}\" not found")]
    UnknownConnection { name: String },

    /// Deleting a connection that subscriptions still use.
    #[error("connection \"{name}\" is used by subscriptions: {subscriptions}")]
    ConnectionInUse { name: String, subscriptions: String },

    /// hoop's wording (409): replay is allowed for `failed` and `delivered` only.
    #[error("cannot replay a dispatch that is {status}")]
    ReplayRefused { status: &'static str },

    /// The dispatch is not in the state this transition starts from.
    #[error("dispatch {id} is {from}; cannot move it to {to}")]
    InvalidTransition {
        id: String,
        from: &'static str,
        to: &'static str,
    },

    /// The request is malformed; the message names the field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// The change was applied in memory but the flush covering it failed, so it may not
    /// survive a crash; the caller must not acknowledge it.
    #[error("write not made durable: {0}")]
    NotDurable(String),

    /// The store was shut down.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// A stable code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Backend(_) => "store_failure",
            StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::NotFound { .. } => "not_found",
            StoreError::DuplicateName { .. } => "duplicate_name",
            StoreError::UnknownConnection { .. } => "unknown_connection",
            StoreError::ConnectionInUse { .. } => "connection_in_use",
            StoreError::ReplayRefused { .. } => "replay_conflict",
            StoreError::InvalidTransition { .. } => "invalid_transition",
            StoreError::Invalid { .. } => "invalid_request",
            StoreError::NotDurable(_) => "not_durable",
            StoreError::Closed => "store_closed",
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl RuntimeError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        RuntimeError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// The message a caught panic was raised with (`panic!("...")` payloads are `&str` or
/// `String`). For the log only: it is whatever the panicking code wrote.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Logs a run (a dispatch's or a hook's) that panicked in the host and returns the message
/// it fails with, under code `internal`: the same for every run, since the panic's own
/// words go to the log only.
pub(crate) fn host_panicked_run(run: &str, payload: &(dyn std::any::Any + Send)) -> &'static str {
    tracing::error!(
        panic = panic_message(payload),
        "a {run} panicked in the host; it fails with code internal"
    );
    "the run stopped on a fault of the host (a panic, logged by the runtime)"
}
