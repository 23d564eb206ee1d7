//! Views across every org, for the server's readiness check, metrics and warm-up.

use super::{RepoKey, RepoStatus, Repositories};

impl Repositories {
    /// Status of every repository of every org, in configuration order.
    pub fn all_status(&self) -> Vec<RepoStatus> {
        let clock = self.inner.clock.as_ref();
        self.read_entries()
            .iter()
            .map(|e| e.status(clock))
            .collect()
    }

    /// Every `(org, repository)` pair, in configuration order.
    pub fn all_keys(&self) -> Vec<(String, RepoKey)> {
        self.read_entries()
            .iter()
            .map(|e| (e.org.clone(), e.key().clone()))
            .collect()
    }
}
