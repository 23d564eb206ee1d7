//! The counters and the run-duration histogram.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::LIMIT_CODES;

/// Upper bounds (seconds) of the run-duration histogram buckets.
pub const RUN_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
];

/// Counters keyed by one label value.
#[derive(Debug, Default)]
pub(crate) struct Labelled(Mutex<BTreeMap<String, u64>>);

impl Labelled {
    pub(crate) fn add(&self, label: &str, n: u64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(label.to_owned()).or_default() += n;
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A histogram of seconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Per bucket (not cumulative); the last slot is `+Inf`.
    pub(crate) buckets: Vec<AtomicU64>,
    pub(crate) count: AtomicU64,
    /// Sum in microseconds (exact integer adds).
    pub(crate) sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..=RUN_DURATION_BUCKETS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(crate) fn observe_ms(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        let slot = RUN_DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(RUN_DURATION_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(ms.saturating_mul(1000), Ordering::Relaxed);
    }
}

/// Everything `/metrics` shows that is counted in-process. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Stored events by type (duplicates excluded).
    pub(crate) events_published: Labelled,
    /// Publishes whose producer id was seen before.
    pub(crate) events_duplicate: AtomicU64,
    /// Dispatch transitions: `pending` (created, replayed, requeued), `processing`
    /// (claimed), `delivered`, `failed`.
    pub(crate) dispatches: Labelled,
    /// Failed dispatches by error code.
    pub(crate) failures: Labelled,
    /// Runs (dispatches and manual) that hit a sandbox limit, by code.
    pub(crate) limit_hits: Labelled,
    /// Duration of finished dispatch runs.
    pub(crate) run_duration: Histogram,
    /// Fuel consumed by finished runs.
    pub(crate) fuel: AtomicU64,
    /// Manual runs (`POST /runbooks/exec`) by `success` / `failed`.
    pub(crate) manual_runs: Labelled,
    /// Manual runs going on now.
    pub(crate) runs_in_flight: AtomicI64,
    /// Failed repository refreshes the server started, by `org/repository`.
    pub(crate) repo_fetch_errors: Labelled,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    pub(crate) fn record_failure_code(&self, code: &str) {
        self.failures.add(code, 1);
        if LIMIT_CODES.contains(&code) {
            self.limit_hits.add(code, 1);
        }
    }

    /// A manual run started; the guard ends it.
    pub fn manual_run_started(&self) -> InFlight<'_> {
        self.runs_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// A manual run ended with `error_code` (`None`: success), fuel and duration.
    pub fn manual_run_finished(&self, error_code: Option<&str>, fuel: u64) {
        self.fuel.fetch_add(fuel, Ordering::Relaxed);
        match error_code {
            None => self.manual_runs.add("success", 1),
            Some(code) => {
                self.manual_runs.add("failed", 1);
                if LIMIT_CODES.contains(&code) {
                    self.limit_hits.add(code, 1);
                }
            }
        }
    }

    /// A refresh the server asked for failed.
    pub fn repo_fetch_error(&self, org: &str, repository: &str) {
        self.repo_fetch_errors
            .add(&format!("{org}/{repository}"), 1);
    }

    /// Manual runs going on now.
    pub fn runs_in_flight(&self) -> i64 {
        self.runs_in_flight.load(Ordering::Relaxed)
    }
}

/// Counts a manual run as in flight until dropped (also when its request is cancelled).
#[derive(Debug)]
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.runs_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
