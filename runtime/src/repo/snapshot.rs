//! One loaded commit of a repository: every runbook and hook in it, each loaded into a
//! ready-to-run component or listed with the reason it did not load.
//!
//! A snapshot is immutable and shared as `Arc<Snapshot>`: a run that picked a component
//! out of it keeps that component (and its commit) however many refreshes happen
//! meanwhile. Building a new snapshot reuses the previous one's components for files
//! whose bytes did not change, so a refresh after a one-file commit loads one file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use runbox_host_api::{ComponentKind, HookKind, RunbookInfo};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::discover::FoundFile;
use super::url::RepoKey;
use crate::cache::sha256_hex;
use crate::component::LoadedComponent;
use crate::engine::Engine;
use crate::repo::clock::rfc3339_of;

/// The commit a snapshot was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// Full hex sha of the commit.
    pub sha: String,
    /// `Name <email>`.
    pub author: String,
    /// The commit message (trimmed, at most 2000 characters).
    pub message: String,
    /// Author time, RFC 3339 UTC.
    pub time: String,
    /// Author time, seconds since the epoch.
    pub unix_time: i64,
}

/// What a runbook file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRole {
    /// A runbook, run by subscriptions and by hand.
    Runbook,
    /// `hoop-hooks/session-open.runbook.wasm`.
    SessionOpenHook,
    /// `hoop-hooks/session-close.runbook.wasm`.
    SessionCloseHook,
}

impl FileRole {
    /// The hook this file implements, if it is one.
    pub fn hook(self) -> Option<HookKind> {
        match self {
            FileRole::Runbook => None,
            FileRole::SessionOpenHook => Some(HookKind::SessionOpen),
            FileRole::SessionCloseHook => Some(HookKind::SessionClose),
        }
    }
}

/// One runbook file of a snapshot.
#[derive(Debug, Clone)]
pub struct RunbookFile {
    /// Path in the repository (the runbook's name).
    pub path: String,
    pub role: FileRole,
    /// Size of the blob in bytes.
    pub size: usize,
    /// sha256 of the bytes (`None` when they were not read: too large, over the count).
    pub sha256: Option<String>,
    /// git blob id.
    pub blob: String,
    /// sha256 of the `.toml` sidecar beside it, if there is one (`unreadable` when it
    /// could not be read).
    pub sidecar_sha256: Option<String>,
    /// The loaded component, or why it did not load (the message names the file).
    pub component: Result<LoadedComponent, String>,
}

impl RunbookFile {
    /// Declared metadata of a loaded file.
    pub fn info(&self) -> Option<&RunbookInfo> {
        self.component.as_ref().ok().and_then(|c| c.info())
    }
}

/// A loaded commit.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub key: RepoKey,
    /// The branch it follows.
    pub branch: String,
    pub commit: CommitInfo,
    /// When this snapshot was built (wall clock).
    pub built_at: SystemTime,
    /// Every runbook file by path.
    pub files: BTreeMap<String, RunbookFile>,
    /// Runbook paths that existed in an earlier snapshot and are gone now, with the last
    /// commit that had them: "not found" errors can then say "removed after <sha>".
    pub removed: BTreeMap<String, String>,
}

/// How many removed paths are remembered.
const MAX_REMOVED: usize = 1000;

impl Snapshot {
    /// The file at `path`.
    pub fn file(&self, path: &str) -> Option<&RunbookFile> {
        self.files.get(path.trim_start_matches('/'))
    }

    /// The hook file of `kind`, if the commit has one.
    pub fn hook(&self, kind: HookKind) -> Option<&RunbookFile> {
        self.files.values().find(|f| f.role.hook() == Some(kind))
    }

    /// Files that loaded.
    pub fn loaded_count(&self) -> usize {
        self.files.values().filter(|f| f.component.is_ok()).count()
    }

    /// Files that failed to load.
    pub fn error_count(&self) -> usize {
        self.files.len() - self.loaded_count()
    }

    /// What listings show: every file with its metadata or its error.
    pub fn listing(&self) -> SnapshotListing {
        SnapshotListing {
            repository: self.key.clone(),
            branch: self.branch.clone(),
            commit: self.commit.clone(),
            built_at: rfc3339_of(self.built_at),
            loaded: self.loaded_count(),
            failed: self.error_count(),
            files: self.files.values().map(FileListing::from).collect(),
        }
    }
}

/// Serializable view of a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotListing {
    pub repository: RepoKey,
    pub branch: String,
    pub commit: CommitInfo,
    pub built_at: String,
    pub loaded: usize,
    pub failed: usize,
    pub files: Vec<FileListing>,
}

/// Serializable view of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileListing {
    pub path: String,
    pub role: FileRole,
    pub size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `runbook` (the runbook world) or `command` (plain wasi:cli).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ComponentKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<RunbookInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&RunbookFile> for FileListing {
    fn from(file: &RunbookFile) -> Self {
        FileListing {
            path: file.path.clone(),
            role: file.role,
            size: file.size,
            sha256: file.sha256.clone(),
            kind: file.component.as_ref().ok().map(|c| c.kind()),
            info: file.info().cloned(),
            error: file.component.as_ref().err().cloned(),
        }
    }
}

/// Inputs of [`build`] besides the files.
pub(crate) struct BuildInput<'a> {
    pub engine: &'a Engine,
    pub key: RepoKey,
    pub branch: String,
    pub commit: CommitInfo,
    pub built_at: SystemTime,
    pub previous: Option<&'a Snapshot>,
    pub max_file_bytes: usize,
    pub concurrency: usize,
}

/// Loads every found file (reusing unchanged ones from `previous`) into a snapshot. One
/// file failing never stops the others.
pub(crate) async fn build(input: BuildInput<'_>, found: Vec<FoundFile>) -> Snapshot {
    let mut files = BTreeMap::new();
    let mut jobs = JoinSet::new();
    let mut pending = HashMap::new();
    let permits = Arc::new(Semaphore::new(input.concurrency.max(1)));
    for file in found {
        let mut entry = RunbookFile {
            path: file.path.clone(),
            role: file.role,
            size: file.size,
            sha256: None,
            blob: file.blob.to_string(),
            sidecar_sha256: None,
            component: Err(String::new()),
        };
        let bytes = match file.content {
            Ok(bytes) => bytes,
            Err(reason) => {
                entry.component = Err(format!("{}: {reason}", file.path));
                files.insert(file.path, entry);
                continue;
            }
        };
        entry.sha256 = Some(sha256_hex(&bytes));
        let (sidecar_text, sidecar_error) = match file.sidecar {
            Some(Ok(text)) => {
                entry.sidecar_sha256 = Some(sha256_hex(text.as_bytes()));
                (Some(text), None)
            }
            Some(Err(reason)) => {
                entry.sidecar_sha256 = Some("unreadable".into());
                (None, Some(reason))
            }
            None => (None, None),
        };
        // Same path, same bytes, same sidecar: the previous load is still right.
        if let Some(old) = input.previous.and_then(|p| p.files.get(&file.path))
            && old.blob == entry.blob
            && old.sidecar_sha256 == entry.sidecar_sha256
            && old.component.is_ok()
        {
            entry.component = old.component.clone();
            files.insert(file.path, entry);
            continue;
        }
        let engine = input.engine.clone();
        let permits = permits.clone();
        let max_bytes = input.max_file_bytes;
        let mut fallback = entry.clone();
        let handle = jobs.spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            let loaded = engine
                .load(&entry.path, bytes, sidecar_text.as_deref(), max_bytes)
                .await;
            entry.component = match (loaded, sidecar_error) {
                (Ok(component), Some(reason)) if component.kind() == ComponentKind::Command => Err(
                    format!("invalid metadata sidecar of {}: {reason}", entry.path),
                ),
                (Ok(component), _) => Ok(component),
                (Err(err), _) => Err(err.to_string()),
            };
            entry
        });
        fallback.component = Err(format!("{}: the load task failed", fallback.path));
        pending.insert(handle.id(), fallback);
    }
    while let Some(done) = jobs.join_next_with_id().await {
        match done {
            Ok((_, entry)) => {
                files.insert(entry.path.clone(), entry);
            }
            // A load task panicked: the file is listed with an error, the rest stands.
            Err(err) => {
                tracing::error!(error = %err, "component load task failed");
                if let Some(entry) = pending.remove(&err.id()) {
                    files.insert(entry.path.clone(), entry);
                }
            }
        }
    }
    let mut removed = input
        .previous
        .map(|p| p.removed.clone())
        .unwrap_or_default();
    if let Some(previous) = input.previous {
        for path in previous.files.keys() {
            if !files.contains_key(path) {
                removed.insert(path.clone(), previous.commit.sha.clone());
            }
        }
    }
    removed.retain(|path, _| !files.contains_key(path));
    while removed.len() > MAX_REMOVED {
        removed.pop_first();
    }
    Snapshot {
        key: input.key,
        branch: input.branch,
        commit: input.commit,
        built_at: input.built_at,
        files,
        removed,
    }
}
