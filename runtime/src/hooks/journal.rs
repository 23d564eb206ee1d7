//! Durable hook state, in a sled database of its own (`<data_dir>/hooks`): the recorded
//! runs, what each open session's hooks need at close, and the per-org hook settings.
//!
//! Why its own database rather than trees of the routing store: hook records are written
//! from fire-and-forget tasks on the session path and must never contend with the
//! dispatch store's transactions and group commits; and the routing store's file format
//! stays the routing store's. Every write is flushed before the call returns (the same
//! crash-not-power-loss guarantee as the routing store, see the README).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::result::HookRun;
use crate::error::StoreError;

/// Runs kept per session; older ones are dropped first (a session re-opened in a loop
/// must not grow the journal without bound).
pub const MAX_RUNS_PER_SESSION: usize = 256;

/// sled's page cache for the hook journal (small: it is append-mostly).
const CACHE_BYTES: u64 = 16 << 20;

/// How long a session's open facts are kept waiting for its close. A gateway that never
/// reports a close (it crashed, the session was killed) must not grow the journal without
/// bound; a close after this long still runs its hook, with the open facts empty.
pub const OPEN_SESSION_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Least time between two sweeps of expired open facts.
const SWEEP_EVERY_MS: u64 = 60_000;

/// Per-org hook settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgHookSettings {
    /// Hooks see connection secret values (base64, as hoop sends them) in
    /// `connection_envs`; off (the default): only the keys, each mapped to `""`.
    #[serde(default)]
    pub show_secret_values: bool,
}

/// What a session's close hook needs from its open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpenSession {
    pub verb: String,
    pub command: Vec<String>,
    pub input_file: String,
    /// When it was remembered (Unix ms; its key in the time index). 0 in records written
    /// before the index existed, which are never swept.
    #[serde(default)]
    pub opened_at_ms: u64,
}

/// The hook journal.
#[derive(Debug, Clone)]
pub struct HookJournal {
    db: sled::Db,
    runs: sled::Tree,
    sessions: sled::Tree,
    /// (opened ms, session key) -> (): open facts by age, for the sweep.
    sessions_by_time: sled::Tree,
    settings: sled::Tree,
    /// When the last sweep ran (Unix ms).
    last_sweep_ms: Arc<AtomicU64>,
}

/// A run's place in its session's list: sled's monotonic id (it never repeats, across
/// restarts too), taken when the hook fires.
#[derive(Clone, Copy, Debug)]
pub struct FiredOrder(u64);

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        reason: e.to_string(),
    }
}

/// `org \0 sid \0`: the prefix of a session's keys.
fn session_prefix(org: &str, sid: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(org.len() + sid.len() + 2);
    key.extend_from_slice(org.as_bytes());
    key.push(0);
    key.extend_from_slice(sid.as_bytes());
    key.push(0);
    key
}

/// `opened ms (big-endian) ++ session key`: the time index's key.
fn time_key(ms: u64, session_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + session_key.len());
    key.extend_from_slice(&ms.to_be_bytes());
    key.extend_from_slice(session_key);
    key
}

impl HookJournal {
    /// Opens (or creates) the journal in `dir`.
    pub fn open(dir: &Path) -> Result<HookJournal, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()?;
        Ok(HookJournal {
            runs: db.open_tree("runs")?,
            sessions: db.open_tree("sessions")?,
            sessions_by_time: db.open_tree("sessions_by_time")?,
            settings: db.open_tree("settings")?,
            last_sweep_ms: Default::default(),
            db,
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Takes the place of a run about to start in its session's list. Taken when the
    /// hook fires, so a session's runs list in the order they were fired even when a
    /// later hook finishes (and is recorded) first.
    pub fn fired_order(&self) -> Result<FiredOrder, StoreError> {
        Ok(FiredOrder(self.db.generate_id()?))
    }

    /// Records a run at its place (durable on return), dropping the session's oldest
    /// runs past [`MAX_RUNS_PER_SESSION`].
    pub async fn record(
        &self,
        org: &str,
        order: FiredOrder,
        run: &HookRun,
    ) -> Result<(), StoreError> {
        let prefix = session_prefix(org, &run.sid);
        let mut key = prefix.clone();
        key.extend_from_slice(&order.0.to_be_bytes());
        let value = serde_json::to_vec(run).map_err(|e| corrupt("hook run", e))?;
        self.runs.insert(key, value)?;
        let count = self.runs.scan_prefix(&prefix).keys().count();
        if count > MAX_RUNS_PER_SESSION {
            let old: Vec<_> = self
                .runs
                .scan_prefix(&prefix)
                .keys()
                .take(count - MAX_RUNS_PER_SESSION)
                .collect::<Result<_, _>>()?;
            for k in old {
                self.runs.remove(k)?;
            }
        }
        self.flush().await
    }

    /// A session's runs, oldest first.
    pub fn runs(&self, org: &str, sid: &str) -> Result<Vec<HookRun>, StoreError> {
        self.runs
            .scan_prefix(session_prefix(org, sid))
            .values()
            .map(|v| {
                let v = v?;
                serde_json::from_slice(&v).map_err(|e| corrupt("hook run", e))
            })
            .collect()
    }

    /// Remembers a session's open facts (the last open wins), and now and then forgets
    /// those older than [`OPEN_SESSION_MAX_AGE`].
    pub(crate) async fn remember_open(
        &self,
        org: &str,
        sid: &str,
        open: &OpenSession,
    ) -> Result<(), StoreError> {
        let now_ms = crate::model::Timestamp::now().as_millis();
        self.remember_open_at(org, sid, open, now_ms)?;
        let since = now_ms.saturating_sub(self.last_sweep_ms.load(Ordering::Relaxed));
        if since >= SWEEP_EVERY_MS {
            self.last_sweep_ms.store(now_ms, Ordering::Relaxed);
            let removed = self.sweep_open(now_ms)?;
            if removed > 0 {
                tracing::info!(
                    removed,
                    "forgot open sessions never closed within the retention"
                );
            }
        }
        self.flush().await
    }

    fn remember_open_at(
        &self,
        org: &str,
        sid: &str,
        open: &OpenSession,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let key = session_prefix(org, sid);
        let open = OpenSession {
            opened_at_ms: now_ms,
            ..open.clone()
        };
        let value = serde_json::to_vec(&open).map_err(|e| corrupt("open session", e))?;
        if let Some(previous) = self.sessions.insert(&key, value)? {
            self.unindex(&key, &previous)?;
        }
        self.sessions_by_time.insert(time_key(now_ms, &key), &[])?;
        Ok(())
    }

    /// Drops the time-index entry of a session record that is being replaced or removed.
    fn unindex(&self, key: &[u8], record: &[u8]) -> Result<(), StoreError> {
        if let Ok(old) = serde_json::from_slice::<OpenSession>(record)
            && old.opened_at_ms > 0
        {
            self.sessions_by_time
                .remove(time_key(old.opened_at_ms, key))?;
        }
        Ok(())
    }

    /// Forgets open facts remembered before `now_ms - OPEN_SESSION_MAX_AGE`; returns how
    /// many.
    fn sweep_open(&self, now_ms: u64) -> Result<usize, StoreError> {
        let cutoff = now_ms.saturating_sub(OPEN_SESSION_MAX_AGE.as_millis() as u64);
        let expired: Vec<sled::IVec> = self
            .sessions_by_time
            .range(..cutoff.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()?;
        for entry in &expired {
            let (stamp, key) = entry.split_at(8);
            // Removed only if it is still that open (a later open re-indexed it).
            if let Some(record) = self.sessions.get(key)?
                && serde_json::from_slice::<OpenSession>(&record)
                    .is_ok_and(|o| o.opened_at_ms.to_be_bytes() == stamp)
            {
                self.sessions.remove(key)?;
            }
            self.sessions_by_time.remove(entry)?;
        }
        Ok(expired.len())
    }

    /// Takes (and forgets) a session's open facts at close.
    pub(crate) async fn take_open(
        &self,
        org: &str,
        sid: &str,
    ) -> Result<Option<OpenSession>, StoreError> {
        let key = session_prefix(org, sid);
        let Some(v) = self.sessions.remove(&key)? else {
            return Ok(None);
        };
        self.unindex(&key, &v)?;
        self.flush().await?;
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| corrupt("open session", e))
    }

    /// The org's settings (defaults when never set).
    pub fn settings(&self, org: &str) -> Result<OrgHookSettings, StoreError> {
        match self.settings.get(org.as_bytes())? {
            Some(v) => serde_json::from_slice(&v).map_err(|e| corrupt("hook settings", e)),
            None => Ok(OrgHookSettings::default()),
        }
    }

    /// Replaces the org's settings (durable on return).
    pub async fn set_settings(
        &self,
        org: &str,
        settings: OrgHookSettings,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_vec(&settings).map_err(|e| corrupt("hook settings", e))?;
        self.settings.insert(org.as_bytes(), value)?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::result::{HookRun, NO_EXIT_CODE};

    fn run(sid: &str, n: usize) -> HookRun {
        HookRun {
            id: format!("id-{n}"),
            exit_code: 0,
            output: String::new(),
            execution_time_sec: 0.0,
            sid: sid.into(),
            hook: "session-open".into(),
            started_at: String::new(),
            repository: None,
            commit: None,
            error: None,
            fuel_used: None,
            peak_memory_bytes: None,
        }
    }

    #[tokio::test]
    async fn runs_survive_reopen_and_stay_per_org_and_session() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let j = HookJournal::open(tmp.path()).unwrap();
            for (org, sid, n) in [
                ("acme", "s1", 1),
                ("acme", "s1", 2),
                ("acme", "s10", 3),
                ("other", "s1", 4),
            ] {
                let order = j.fired_order().unwrap();
                j.record(org, order, &run(sid, n)).await.unwrap();
            }
            j.set_settings(
                "acme",
                OrgHookSettings {
                    show_secret_values: true,
                },
            )
            .await
            .unwrap();
        }
        let j = HookJournal::open(tmp.path()).unwrap();
        let ids: Vec<_> = j
            .runs("acme", "s1")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["id-1", "id-2"]);
        assert_eq!(j.runs("other", "s1").unwrap().len(), 1);
        assert!(j.runs("acme", "nope").unwrap().is_empty());
        assert!(j.settings("acme").unwrap().show_secret_values);
        assert!(!j.settings("other").unwrap().show_secret_values);
        let _ = NO_EXIT_CODE;
    }

    #[tokio::test]
    async fn runs_per_session_are_bounded_oldest_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let j = HookJournal::open(tmp.path()).unwrap();
        for n in 0..MAX_RUNS_PER_SESSION + 3 {
            let order = j.fired_order().unwrap();
            j.record("acme", order, &run("s", n)).await.unwrap();
        }
        let runs = j.runs("acme", "s").unwrap();
        assert_eq!(runs.len(), MAX_RUNS_PER_SESSION);
        assert_eq!(runs[0].id, "id-3");
    }

    #[tokio::test]
    async fn runs_list_in_the_order_they_were_fired_not_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let j = HookJournal::open(tmp.path()).unwrap();
        let first = j.fired_order().unwrap();
        let second = j.fired_order().unwrap();
        // The second hook finishes first.
        j.record("acme", second, &run("s", 2)).await.unwrap();
        j.record("acme", first, &run("s", 1)).await.unwrap();
        let ids: Vec<_> = j
            .runs("acme", "s")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["id-1", "id-2"]);
    }

    #[tokio::test]
    async fn open_facts_are_taken_once() {
        let tmp = tempfile::tempdir().unwrap();
        let j = HookJournal::open(tmp.path()).unwrap();
        let open = OpenSession {
            verb: "exec".into(),
            command: vec!["psql".into()],
            input_file: String::new(),
            opened_at_ms: 0,
        };
        j.remember_open("acme", "s", &open).await.unwrap();
        let taken = j.take_open("acme", "s").await.unwrap().unwrap();
        assert_eq!(
            (taken.verb.as_str(), taken.command.clone()),
            ("exec", open.command)
        );
        assert!(taken.opened_at_ms > 0);
        assert_eq!(j.take_open("acme", "s").await.unwrap(), None);
        assert_eq!(
            j.sessions_by_time.len(),
            0,
            "closed sessions leave no index entry"
        );
    }

    #[tokio::test]
    async fn open_facts_never_closed_are_forgotten_after_the_retention() {
        let tmp = tempfile::tempdir().unwrap();
        let j = HookJournal::open(tmp.path()).unwrap();
        let open = OpenSession::default();
        let day = 24 * 3600 * 1000;
        let t0 = 1_000 * day;
        j.remember_open_at("acme", "old", &open, t0).unwrap();
        j.remember_open_at("acme", "reopened", &open, t0).unwrap();
        // Re-opened later: its first open no longer counts.
        j.remember_open_at("acme", "reopened", &open, t0 + 6 * day)
            .unwrap();
        j.remember_open_at("acme", "new", &open, t0 + 6 * day)
            .unwrap();
        let now = t0 + OPEN_SESSION_MAX_AGE.as_millis() as u64 + 1;
        assert_eq!(
            j.sweep_open(now).unwrap(),
            1,
            "only the old open: the re-open replaced its first entry"
        );
        assert_eq!(j.take_open("acme", "old").await.unwrap(), None);
        assert!(j.take_open("acme", "reopened").await.unwrap().is_some());
        assert!(j.take_open("acme", "new").await.unwrap().is_some());
        assert_eq!(j.sessions_by_time.len(), 0);
    }
}
