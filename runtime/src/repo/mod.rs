//! Runbook repositories: runbooks and session hooks loaded from an org's git repositories.
//!
//! An admin configures each org's repositories ([`RepoConfig`]: URL, branch, credentials,
//! `hook_config_ttl`). [`Repositories`] keeps a bare mirror of each under the data
//! directory, refetches it at most once per TTL, and serves an immutable [`Snapshot`] of the
//! branch tip: every `*.runbook.wasm` file compiled (or loaded from the compiled cache),
//! linked and described, or listed with the reason it did not load.
//!
//! - Readers ([`Repositories::get`], [`Repositories::list`], [`Repositories::hooks`]) get
//!   the current snapshot without waiting on git; a stale one triggers a background refresh.
//!   Only the very first use of a repository waits for its first fetch.
//! - A refresh builds the new snapshot beside the old one and swaps it in whole. A failed
//!   fetch, or a commit with no usable runbook, keeps the last good snapshot; the error and
//!   the snapshot's age show in [`Repositories::status`].
//! - Hooks of an org come from the first repository configured for it with
//!   `hook_config_ttl` set (hoop enables hooks with that setting); other repositories of the
//!   org serve runbooks only.
//! - Secrets in the configuration never reach a log line, an error or a listing.
//!
//! Layout: [`config`] (what admins set), [`url`] (keys), `fetch` (git), `discover` (the
//! commit tree), [`snapshot`] (loaded commit), `registry` (TTL, swap, coalescing),
//! [`status`], [`clock`], [`cli_support`] (what `runbox repo list` / `run --repo` call).

pub mod cli_support;
pub mod clock;
pub mod config;
mod discover;
mod fetch;
mod known_hosts;
mod overview;
mod registry;
pub mod secret;
pub mod snapshot;
pub mod status;
pub mod url;

use std::sync::{Arc, RwLock};

use runbox_host_api::{HookKind, Prepared, RunbookInfo};
use serde::Serialize;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{GitUrl, RepoConfig, RepoSettings};
pub use discover::{SESSION_CLOSE_HOOK, SESSION_OPEN_HOOK, is_runbook_path};
pub use secret::Secret;
pub use snapshot::{CommitInfo, FileListing, FileRole, RunbookFile, Snapshot, SnapshotListing};
pub use status::{RefreshReport, RepoStatus, StatusError};
pub use url::{RepoKey, Transport};

use crate::component::LoadedComponent;
use crate::engine::Engine;
use crate::error::{RepoError, Result, RuntimeError};
use registry::Entry;

/// The runbook repositories of every org. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Repositories {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    settings: RepoSettings,
    clock: Arc<dyn Clock>,
    /// In configuration order: the order decides which repository serves an org's hooks.
    entries: RwLock<Vec<Arc<Entry>>>,
}

/// A runbook picked for a run: the component to instantiate and the commit to record with
/// the dispatch. It stays valid (and keeps its commit) after later refreshes.
#[derive(Debug, Clone)]
pub struct RunbookHandle {
    pub repository: RepoKey,
    /// Path in the repository.
    pub path: String,
    /// sha of the commit the component came from.
    pub commit: String,
    pub component: LoadedComponent,
}

impl RunbookHandle {
    /// The linked component (`InstancePre` inside), for `Engine::run`.
    pub fn prepared(&self) -> &Prepared {
        self.component.prepared()
    }
    /// Declared params and description.
    pub fn info(&self) -> Option<&RunbookInfo> {
        self.component.info()
    }
}

/// The session hooks of an org.
#[derive(Debug, Clone)]
pub struct OrgHooks {
    /// The repository they come from.
    pub repository: RepoKey,
    pub commit: String,
    /// `None`: the commit has no such hook. `Some(Err)`: it has one that does not load.
    pub session_open: Option<Result<RunbookHandle, RepoError>>,
    pub session_close: Option<Result<RunbookHandle, RepoError>>,
}

impl OrgHooks {
    /// The hook of `kind`.
    pub fn get(&self, kind: HookKind) -> Option<&Result<RunbookHandle, RepoError>> {
        match kind {
            HookKind::SessionOpen => self.session_open.as_ref(),
            HookKind::SessionClose => self.session_close.as_ref(),
        }
    }
}

/// A repository's runbooks with its state, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct RepoListing {
    pub status: RepoStatus,
    /// The snapshot being served (`None` before the first successful load).
    pub snapshot: Option<SnapshotListing>,
    /// The newest commit that was refused as unusable, with its files' errors, when it is
    /// newer than the one served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<SnapshotListing>,
}

impl Repositories {
    /// A registry on the system clock.
    pub fn new(engine: Engine, settings: RepoSettings) -> Result<Repositories> {
        Self::with_clock(engine, settings, Arc::new(SystemClock))
    }

    /// A registry on the given clock (tests use [`ManualClock`]).
    pub fn with_clock(
        engine: Engine,
        settings: RepoSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Repositories> {
        settings.validate().map_err(RuntimeError::InvalidConfig)?;
        let repos_dir = settings.data_dir.join("repos");
        std::fs::create_dir_all(&repos_dir)
            .map_err(|e| RuntimeError::io("create repository directory", &repos_dir, e))?;
        fetch::configure_timeouts(settings.connect_timeout, settings.io_timeout);
        Ok(Repositories {
            inner: Arc::new(Inner {
                engine,
                settings,
                clock,
                entries: RwLock::new(Vec::new()),
            }),
        })
    }

    /// The engine components are loaded into.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Adds a repository to an org; nothing is fetched yet. Returns its key. Adding a key
    /// the org already has replaces that repository's configuration (and drops its
    /// snapshot).
    pub fn add(&self, org: &str, config: RepoConfig) -> Result<RepoKey, RepoError> {
        let resolved = config
            .resolve(self.inner.settings.default_ttl)
            .map_err(|reason| RepoError::InvalidConfig {
                repository: config.git_url.redacted(),
                reason,
            })?;
        let key = resolved.key.clone();
        let mut entries = self.write_entries();
        let slot = entries.iter().position(|e| e.org == org && *e.key() == key);
        let lock = slot.map(|i| entries[i].mirror_lock());
        let entry = Arc::new(Entry::new(
            org,
            resolved,
            &self.inner.settings.data_dir,
            lock,
        ));
        match slot {
            Some(i) => entries[i] = entry,
            None => entries.push(entry),
        }
        Ok(key)
    }

    /// Removes a repository from an org. In-flight runs keep their components.
    pub fn remove(&self, org: &str, repository: &str) -> bool {
        let Ok(entry) = self.entry(org, repository) else {
            return false;
        };
        let key = entry.key().clone();
        let mut entries = self.write_entries();
        let before = entries.len();
        entries.retain(|e| !(e.org == org && *e.key() == key));
        entries.len() != before
    }

    /// The keys of an org's repositories, in configuration order.
    pub fn repositories(&self, org: &str) -> Vec<RepoKey> {
        self.read_entries()
            .iter()
            .filter(|e| e.org == org)
            .map(|e| e.key().clone())
            .collect()
    }

    /// The served snapshot of a repository (`repository`: a key or any URL of it). Waits
    /// only when nothing was ever loaded; a stale snapshot is returned at once and a
    /// refresh starts in the background.
    pub async fn snapshot(&self, org: &str, repository: &str) -> Result<Arc<Snapshot>, RepoError> {
        let entry = self.entry(org, repository)?;
        self.snapshot_of(&entry).await
    }

    /// Every runbook of a repository with metadata, errors, commit and status.
    pub async fn list(&self, org: &str, repository: &str) -> Result<RepoListing, RepoError> {
        let entry = self.entry(org, repository)?;
        let snapshot = match self.snapshot_of(&entry).await {
            Ok(snapshot) => Some(snapshot),
            // Never loaded: still show the refused commit's files and the error.
            Err(err) if entry.rejected().is_none() => return Err(err),
            Err(_) => None,
        };
        Ok(self.listing(&entry, snapshot))
    }

    /// The runbook at `path` of a repository, for a run: its component and the commit to
    /// record. Errors use hoop's `runbook file "x" not found in repository "y"`.
    pub async fn get(
        &self,
        org: &str,
        repository: &str,
        path: &str,
    ) -> Result<RunbookHandle, RepoError> {
        let entry = self.entry(org, repository)?;
        let snapshot = self.snapshot_of(&entry).await?;
        handle(&snapshot, path)
    }

    /// The session hooks of an org, from its hook repository (the first one configured
    /// with `hook_config_ttl`). `Ok(None)`: hooks are not enabled for the org.
    pub async fn hooks(&self, org: &str) -> Result<Option<OrgHooks>, RepoError> {
        let entry = self
            .read_entries()
            .iter()
            .find(|e| e.org == org && e.resolved.hooks)
            .cloned();
        let Some(entry) = entry else {
            return Ok(None);
        };
        let snapshot = self.snapshot_of(&entry).await?;
        let hook = |kind: HookKind| {
            snapshot
                .hook(kind)
                .map(|file| handle(&snapshot, &file.path))
        };
        Ok(Some(OrgHooks {
            repository: snapshot.key.clone(),
            commit: snapshot.commit.sha.clone(),
            session_open: hook(HookKind::SessionOpen),
            session_close: hook(HookKind::SessionClose),
        }))
    }

    /// Fetches now, whatever the TTL. Concurrent calls share one fetch.
    pub async fn refresh(&self, org: &str, repository: &str) -> Result<RefreshReport, RepoError> {
        let entry = self.entry(org, repository)?;
        self.refresh_entry(&entry, true).await
    }

    /// Fetches if the TTL has passed, and waits for it (readers do this in the
    /// background instead). Concurrent calls share one fetch.
    pub async fn refresh_if_stale(
        &self,
        org: &str,
        repository: &str,
    ) -> Result<RefreshReport, RepoError> {
        let entry = self.entry(org, repository)?;
        self.refresh_entry(&entry, false).await
    }

    /// Refreshes every stale repository of every org, one after another; for a periodic
    /// task that keeps hooks warm without a reader having to come by first.
    pub async fn refresh_stale(&self) -> Vec<(String, RepoKey, Result<RefreshReport, RepoError>)> {
        let entries: Vec<_> = self.read_entries().clone();
        let mut out = Vec::new();
        for entry in entries {
            if entry.is_stale(self.inner.clock.as_ref()) {
                let result = self.refresh_entry(&entry, false).await;
                out.push((entry.org.clone(), entry.key().clone(), result));
            }
        }
        out
    }

    /// Status of each repository of an org, in configuration order.
    pub fn status(&self, org: &str) -> Vec<RepoStatus> {
        self.read_entries()
            .iter()
            .filter(|e| e.org == org)
            .map(|e| e.status(self.inner.clock.as_ref()))
            .collect()
    }

    /// Status of one repository.
    pub fn status_of(&self, org: &str, repository: &str) -> Result<RepoStatus, RepoError> {
        Ok(self
            .entry(org, repository)?
            .status(self.inner.clock.as_ref()))
    }

    async fn refresh_entry(
        &self,
        entry: &Arc<Entry>,
        force: bool,
    ) -> Result<RefreshReport, RepoError> {
        entry
            .refresh(
                &self.inner.engine,
                &self.inner.settings,
                self.inner.clock.as_ref(),
                force,
            )
            .await
    }

    async fn snapshot_of(&self, entry: &Arc<Entry>) -> Result<Arc<Snapshot>, RepoError> {
        if let Some(current) = entry.current() {
            if entry.is_stale(self.inner.clock.as_ref()) {
                self.refresh_in_background(entry);
            }
            return Ok(current);
        }
        // First use: nothing to serve until the first fetch ends.
        self.refresh_entry(entry, false).await?;
        match entry.current() {
            Some(current) => Ok(current),
            None => Err(entry.last_error().unwrap_or_else(|| RepoError::Fetch {
                repository: entry.key().to_string(),
                reason: "no snapshot has been loaded yet".into(),
            })),
        }
    }

    /// Starts one refresh in the background (when inside a tokio runtime and none is
    /// scheduled already).
    fn refresh_in_background(&self, entry: &Arc<Entry>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !entry.claim_background() {
            return;
        }
        let this = self.clone();
        let entry = entry.clone();
        runtime.spawn(async move {
            // Errors are recorded in the status; nobody awaits this task.
            let _ = this.refresh_entry(&entry, false).await;
            entry.release_background();
        });
    }

    fn listing(&self, entry: &Entry, snapshot: Option<Arc<Snapshot>>) -> RepoListing {
        let rejected = entry.rejected().map(|(_, s)| s).filter(|r| {
            snapshot
                .as_ref()
                .is_none_or(|s| s.commit.sha != r.commit.sha)
        });
        RepoListing {
            status: entry.status(self.inner.clock.as_ref()),
            snapshot: snapshot.map(|s| s.listing()),
            rejected: rejected.map(|r| r.listing()),
        }
    }

    /// The entry of `repository` in `org`: `repository` is a key (`host/owner/repo`,
    /// `local/...`) or any URL or path of the repository.
    fn entry(&self, org: &str, repository: &str) -> Result<Arc<Entry>, RepoError> {
        let entries = self.read_entries();
        let in_org = || entries.iter().filter(|e| e.org == org);
        if let Some(entry) = in_org().find(|e| e.key().as_str() == repository) {
            return Ok(entry.clone());
        }
        // Not a key: parse it as a URL. A URL's credentials are never echoed back.
        let key = RepoKey::parse(repository).map_err(|_| RepoError::NotConfigured {
            org: org.to_string(),
            repository: GitUrl::new(repository).redacted(),
        })?;
        in_org()
            .find(|e| *e.key() == key)
            .cloned()
            .ok_or_else(|| RepoError::NotConfigured {
                org: org.to_string(),
                repository: key.to_string(),
            })
    }

    fn read_entries(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Entry>>> {
        self.inner.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_entries(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Entry>>> {
        self.inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// The runbook at `path` of a snapshot as a run handle, or hoop's not-found error.
fn handle(snapshot: &Snapshot, path: &str) -> Result<RunbookHandle, RepoError> {
    let repository = snapshot.key.to_string();
    let path = path.trim_start_matches('/');
    let Some(file) = snapshot.file(path) else {
        let detail = match snapshot.removed.get(path) {
            Some(last) => format!(
                " (removed after commit {}; current commit {})",
                short(last),
                short(&snapshot.commit.sha)
            ),
            None => format!(" (commit {})", short(&snapshot.commit.sha)),
        };
        return Err(RepoError::RunbookNotFound {
            repository,
            file: path.to_string(),
            detail,
        });
    };
    match &file.component {
        Ok(component) => Ok(RunbookHandle {
            repository: snapshot.key.clone(),
            path: file.path.clone(),
            commit: snapshot.commit.sha.clone(),
            component: component.clone(),
        }),
        Err(reason) => Err(RepoError::RunbookUnavailable {
            repository,
            file: file.path.clone(),
            reason: reason.clone(),
        }),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
