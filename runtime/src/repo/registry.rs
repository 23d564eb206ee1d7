//! One configured repository and its TTL-bounded snapshot.
//!
//! Readers take the current `Arc<Snapshot>` under a lock held only for a pointer copy, so
//! they never wait on git. A refresh fetches and loads beside the served snapshot and swaps
//! the pointer when the new one is complete and usable; runs that already took a component
//! keep theirs. Refreshes of one repository are serialized, and a caller that queued
//! behind a refresh takes that refresh's result instead of fetching again: concurrent
//! refreshes coalesce into one fetch. A failed fetch or an unusable commit leaves the
//! served snapshot as it was and is recorded as the last error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use git2::Oid;
use tracing::Instrument as _;

use super::clock::{Clock, rfc3339_of};
use super::config::{RepoSettings, Resolved};
use super::discover::{DiscoverLimits, FoundFile, commit_info, discover};
use super::fetch::{FetchError, FetchRequest, Fetched, fetch, open_mirror};
use super::snapshot::{BuildInput, CommitInfo, Snapshot, build};
use super::status::{RefreshReport, RepoStatus, StatusError};
use super::url::RepoKey;
use crate::engine::Engine;
use crate::error::RepoError;

/// Extra time the outer bound allows past the fetch deadline before giving up on the
/// blocking task (the callbacks normally abort it at the deadline itself).
const OUTER_GRACE: Duration = Duration::from_secs(2);

/// A repository of an org.
#[derive(Debug)]
pub(crate) struct Entry {
    pub org: String,
    pub resolved: Resolved,
    mirror_dir: PathBuf,
    current: RwLock<Option<Arc<Snapshot>>>,
    state: Mutex<State>,
    /// Serializes refreshes (and so coalesces them).
    refresh_lock: tokio::sync::Mutex<()>,
    /// Held by the blocking git work on the mirror. A fetch abandoned by the outer bound
    /// may still hold it; the next one then fails fast instead of queueing behind it.
    mirror_lock: Arc<Mutex<()>>,
    /// A background refresh has been scheduled by a reader.
    background: AtomicBool,
    refreshing: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Refreshes finished (a generation number for coalescing).
    generation: u64,
    last_outcome: Option<Result<RefreshReport, RepoError>>,
    fetches: u64,
    last_attempt: Option<Instant>,
    last_attempt_wall: Option<SystemTime>,
    last_success: Option<Instant>,
    last_success_wall: Option<SystemTime>,
    last_error: Option<StatusError>,
    /// The last commit found unusable, so it is not rebuilt on every TTL.
    rejected: Option<(String, RepoError, Arc<Snapshot>)>,
}

/// What the blocking part of a refresh produced.
enum Fetch {
    Unchanged(Fetched),
    New {
        fetched: Fetched,
        commit: CommitInfo,
        files: Vec<FoundFile>,
    },
}

impl Entry {
    /// `mirror_lock`: the lock of the entry this one replaces (same org and key, so the
    /// same mirror directory), so an old entry's fetch and a new one's never overlap.
    pub(crate) fn new(
        org: &str,
        resolved: Resolved,
        data_dir: &std::path::Path,
        mirror_lock: Option<Arc<Mutex<()>>>,
    ) -> Entry {
        let mirror_dir = data_dir.join("repos").join(sanitize(org)).join(format!(
            "{}-{}.git",
            sanitize(resolved.key.as_str()),
            &crate::cache::sha256_hex(format!("{org}\0{}", resolved.key).as_bytes())[..12]
        ));
        Entry {
            org: org.to_string(),
            resolved,
            mirror_dir,
            current: RwLock::new(None),
            state: Mutex::new(State::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            mirror_lock: mirror_lock.unwrap_or_default(),
            background: AtomicBool::new(false),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The lock guarding this entry's mirror directory.
    pub(crate) fn mirror_lock(&self) -> Arc<Mutex<()>> {
        self.mirror_lock.clone()
    }

    pub(crate) fn key(&self) -> &RepoKey {
        &self.resolved.key
    }

    /// The served snapshot, if any. Never waits on git.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last commit refused as unusable, with the snapshot built from it (for
    /// diagnostics: it lists every file's error).
    pub(crate) fn rejected(&self) -> Option<(RepoError, Arc<Snapshot>)> {
        self.lock_state()
            .rejected
            .as_ref()
            .map(|(_, err, snap)| (err.clone(), snap.clone()))
    }

    /// The last recorded error.
    pub(crate) fn last_error(&self) -> Option<RepoError> {
        match &self.lock_state().last_outcome {
            Some(Err(err)) => Some(err.clone()),
            _ => None,
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the TTL has passed since the last fetch attempt (or none was made).
    pub(crate) fn is_stale(&self, clock: &dyn Clock) -> bool {
        match self.lock_state().last_attempt {
            None => true,
            Some(at) => clock.now().saturating_duration_since(at) >= self.resolved.ttl,
        }
    }

    /// Claims the right to schedule one background refresh; released when it ends.
    pub(crate) fn claim_background(&self) -> bool {
        !self.background.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn release_background(&self) {
        self.background.store(false, Ordering::Release);
    }

    /// Refreshes the snapshot: always when `force`, else only when the TTL has passed.
    /// Callers that arrive while a refresh runs wait for it and share its result.
    pub(crate) async fn refresh(
        &self,
        engine: &Engine,
        settings: &RepoSettings,
        clock: &dyn Clock,
        force: bool,
    ) -> Result<RefreshReport, RepoError> {
        let seen = self.lock_state().generation;
        let _serial = self.refresh_lock.lock().await;
        {
            let state = self.lock_state();
            if state.generation != seen
                && let Some(outcome) = &state.last_outcome
            {
                // Someone refreshed while we queued: that fetch is ours too.
                return outcome.clone();
            }
        }
        if !force && !self.is_stale(clock) {
            if let Some(current) = self.current() {
                return Ok(RefreshReport::Fresh {
                    commit: current.commit.sha.clone(),
                });
            }
            // Never loaded and failed inside the TTL: the same answer, without hammering
            // the remote on every read.
            if let Some(Err(err)) = &self.lock_state().last_outcome {
                return Err(err.clone());
            }
        }
        self.refreshing.store(true, Ordering::Release);
        let span = tracing::info_span!("repo.refresh", org = %self.org, repository = %self.key());
        let outcome = self
            .refresh_now(engine, settings, clock)
            .instrument(span)
            .await;
        self.refreshing.store(false, Ordering::Release);
        let mut state = self.lock_state();
        state.generation += 1;
        match &outcome {
            Ok(report) => {
                state.last_success = Some(clock.now());
                state.last_success_wall = Some(clock.wall());
                state.last_error = None;
                tracing::info!(org = %self.org, repository = %self.key(), commit = report.commit(), "repository refreshed");
            }
            Err(err) => {
                state.last_error = Some(StatusError::new(err, rfc3339_of(clock.wall())));
                tracing::warn!(org = %self.org, repository = %self.key(), error = %err, "repository refresh failed; serving the last good snapshot");
            }
        }
        state.last_outcome = Some(outcome.clone());
        outcome
    }

    async fn refresh_now(
        &self,
        engine: &Engine,
        settings: &RepoSettings,
        clock: &dyn Clock,
    ) -> Result<RefreshReport, RepoError> {
        let previous = self.current();
        {
            let mut state = self.lock_state();
            state.fetches += 1;
            state.last_attempt = Some(clock.now());
            state.last_attempt_wall = Some(clock.wall());
        }
        let known = previous.as_ref().map(|s| s.commit.sha.clone());
        let rejected = self
            .lock_state()
            .rejected
            .as_ref()
            .map(|(sha, ..)| sha.clone());
        let fetched = self.fetch_blocking(settings, known, rejected).await?;
        let (fetched, commit, files) = match fetched {
            Fetch::Unchanged(fetched) => {
                let sha = fetched.tip.to_string();
                if previous.as_ref().is_some_and(|p| p.commit.sha == sha) {
                    return Ok(RefreshReport::Unchanged { commit: sha });
                }
                // The tip is the commit already refused: same verdict, no rebuild.
                let state = self.lock_state();
                return Err(match &state.rejected {
                    Some((_, err, _)) => err.clone(),
                    None => self.fetch_error(format!("commit {sha} vanished")),
                });
            }
            Fetch::New {
                fetched,
                commit,
                files,
            } => (fetched, commit, files),
        };
        tracing::debug!(
            commit = %commit.sha, branch = %fetched.branch, files = files.len(),
            received_bytes = fetched.received_bytes, fetch_ms = fetched.duration.as_millis() as u64,
            "fetched; loading components"
        );
        let snapshot = build(
            BuildInput {
                engine,
                key: self.key().clone(),
                branch: fetched.branch.clone(),
                commit: commit.clone(),
                built_at: clock.wall(),
                previous: previous.as_deref(),
                max_file_bytes: settings.max_file_bytes,
                concurrency: settings.load_concurrency,
            },
            files,
        )
        .await;
        if let Err(err) = self.usable(&snapshot) {
            self.lock_state().rejected =
                Some((commit.sha.clone(), err.clone(), Arc::new(snapshot)));
            return Err(err);
        }
        let report = RefreshReport::Updated {
            from: previous.map(|p| p.commit.sha.clone()),
            to: commit.sha.clone(),
            loaded: snapshot.loaded_count(),
            failed: snapshot.error_count(),
        };
        // The swap: runs holding components of the old snapshot keep them.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(snapshot));
        self.lock_state().rejected = None;
        Ok(report)
    }

    /// A commit with no runbooks, or with none that loads, is refused: serving it would
    /// silently take every runbook away (an accidental force-push, a bad CI artifact).
    fn usable(&self, snapshot: &Snapshot) -> Result<(), RepoError> {
        let unusable = |reason: String| RepoError::Unusable {
            repository: self.key().to_string(),
            commit: snapshot.commit.sha.clone(),
            reason,
        };
        if snapshot.files.is_empty() {
            return Err(unusable(
                "it has no runbooks (no file named *.runbook.*.wasm or *.runbook.wasm); keeping the last good snapshot".into(),
            ));
        }
        if snapshot.loaded_count() == 0 {
            let first = snapshot
                .files
                .values()
                .find_map(|f| f.component.as_ref().err())
                .cloned()
                .unwrap_or_default();
            return Err(unusable(format!(
                "none of its {} runbook files loads (first error: {first}); keeping the last good snapshot",
                snapshot.files.len()
            )));
        }
        Ok(())
    }

    /// Fetches and, for a new commit, reads its runbooks: on a blocking thread, bounded.
    async fn fetch_blocking(
        &self,
        settings: &RepoSettings,
        known: Option<String>,
        rejected: Option<String>,
    ) -> Result<Fetch, RepoError> {
        let timeout = settings.fetch_timeout;
        let cancel = Arc::new(AtomicBool::new(false));
        let job = {
            let resolved = self.resolved.clone();
            let mirror_dir = self.mirror_dir.clone();
            let mirror_lock = self.mirror_lock.clone();
            let cancel = cancel.clone();
            let limits = DiscoverLimits {
                max_file_bytes: settings.max_file_bytes,
                max_runbooks: settings.max_runbooks,
            };
            let span = tracing::info_span!("repo.fetch", url = %resolved.url.display);
            move || {
                let _enter = span.enter();
                let Ok(_mirror) = mirror_lock.try_lock() else {
                    return Err(FetchError::Failed(
                        "a previous fetch of this repository is still running (it exceeded its timeout)".into(),
                    ));
                };
                let repo = open_mirror(&mirror_dir).map_err(FetchError::Failed)?;
                let request = FetchRequest {
                    url: &resolved.url,
                    auth: &resolved.auth,
                    branches: &resolved.branches,
                    redactor: &resolved.redactor,
                    deadline: Instant::now() + timeout,
                    cancel: &cancel,
                };
                let fetched = fetch(&repo, &request)?;
                let sha = fetched.tip.to_string();
                if known.as_deref() == Some(sha.as_str())
                    || rejected.as_deref() == Some(sha.as_str())
                {
                    return Ok(Fetch::Unchanged(fetched));
                }
                let tip: Oid = fetched.tip;
                let commit = commit_info(&repo, tip).map_err(FetchError::Failed)?;
                let files = discover(&repo, tip, limits).map_err(FetchError::Failed)?;
                Ok(Fetch::New {
                    fetched,
                    commit,
                    files,
                })
            }
        };
        let task = tokio::task::spawn_blocking(job);
        let result = match tokio::time::timeout(timeout + OUTER_GRACE, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(FetchError::Failed(format!("the fetch task failed: {join}"))),
            Err(_) => {
                // The thread is left to finish on its own; the flag stops it at libgit2's
                // next callback, and the mirror lock keeps the next fetch off the mirror.
                cancel.store(true, Ordering::Relaxed);
                Err(FetchError::Timeout(timeout))
            }
        };
        result.map_err(|err| self.map_fetch_error(err))
    }

    fn fetch_error(&self, reason: String) -> RepoError {
        RepoError::Fetch {
            repository: self.key().to_string(),
            reason: self.resolved.redactor.scrub(&reason),
        }
    }

    fn map_fetch_error(&self, err: FetchError) -> RepoError {
        let repository = self.key().to_string();
        match err {
            FetchError::Timeout(after) => RepoError::FetchTimeout {
                repository,
                millis: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            },
            FetchError::BranchNotFound {
                branches,
                available,
            } => RepoError::BranchNotFound {
                repository,
                wanted: branches.join(" or "),
                available: if available.is_empty() {
                    "none".into()
                } else {
                    available.join(", ")
                },
            },
            FetchError::Failed(reason) => self.fetch_error(reason),
        }
    }

    /// The status as shown to admins.
    pub(crate) fn status(&self, clock: &dyn Clock) -> RepoStatus {
        let current = self.current();
        let stale = self.is_stale(clock);
        let state = self.lock_state();
        RepoStatus {
            org: self.org.clone(),
            repository: self.key().clone(),
            url: self.resolved.url.display.clone(),
            branch: current.as_ref().map(|s| s.branch.clone()),
            hooks_enabled: self.resolved.hooks,
            ttl: self.resolved.ttl,
            commit: current.as_ref().map(|s| s.commit.sha.clone()),
            loaded: current.as_ref().map_or(0, |s| s.loaded_count()),
            failed: current.as_ref().map_or(0, |s| s.error_count()),
            last_fetch_at: state.last_attempt_wall.map(rfc3339_of),
            last_success_at: state.last_success_wall.map(rfc3339_of),
            snapshot_age: current
                .as_ref()
                .and(state.last_success)
                .map(|at| clock.now().saturating_duration_since(at)),
            stale,
            refreshing: self.refreshing.load(Ordering::Acquire),
            last_error: state.last_error.clone(),
            fetches: state.fetches,
        }
    }
}

/// A file-name-safe form of a key or org name.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_names_safe() {
        assert_eq!(sanitize("github.com/acme/r"), "github.com_acme_r");
        assert_eq!(sanitize("../etc"), "_etc");
        assert_eq!(sanitize("org one"), "org_one");
    }
}
