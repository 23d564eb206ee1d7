//! What the server adds to the API's shared state: repository configurations and the
//! lifecycle flag readiness reports.

use std::sync::atomic::{AtomicBool, Ordering};

use super::repo_configs::RepoConfigs;

/// Server-level state shared by the handlers.
#[derive(Debug)]
pub struct ServeState {
    pub repo_configs: RepoConfigs,
    shutting_down: AtomicBool,
}

impl ServeState {
    pub fn new(repo_configs: RepoConfigs) -> Self {
        ServeState {
            repo_configs,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// From now on `/readyz` answers 503 so load balancers stop sending traffic.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}
