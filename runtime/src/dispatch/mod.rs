//! Running dispatches: the worker pool, start-up recovery and automatic retries.
//!
//! A [`Dispatcher`] holds what every worker shares (store, repositories, engine, limits,
//! agents, per-org capabilities) and the signals that drive the pool: `wake` (new work:
//! a publish, a replay, an agent back online), `stop` (claim nothing more) and `interrupt`
//! (cut running guests at the shutdown deadline). [`crate::Runtime`] owns one.

mod agents;
mod batch;
mod error;
mod pool;
mod recovery;
mod retry;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use runbox_host_api::{Agent, Limits};
use tokio::sync::{Notify, watch};

use crate::agent::LocalAgentLimits;
use crate::engine::Engine;
use crate::org_capabilities::OrgCapabilities;
use crate::repo::Repositories;
use crate::store::Store;

pub use agents::AgentRegistry;
pub use error::{ErrorClass, RoutingServiceError};
pub(crate) use pool::DispatchPool;
pub use recovery::recover;
pub use retry::{jittered, retry_due};
pub use worker::OUTPUT_EXCERPT_BYTES;

/// Tuning of the worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Workers (concurrent runs). 0 runs no workers (dispatches stay `pending`).
    pub workers: usize,
    /// Dispatches claimed per store call.
    pub claim_batch: usize,
    /// How long a claim is held before it counts as abandoned.
    pub lease: Duration,
    /// An idle worker looks again after this long even without a wake-up (for retries that
    /// became due). New events never wait for it: they wake the workers at once.
    pub idle_poll: Duration,
    /// Threads of the dispatch runtime the workers run on (0: one per core). They are
    /// runbox's own, apart from the caller's tokio runtime (see `dispatch/pool.rs`).
    pub threads: usize,
    /// How much lower than the caller's the dispatch threads' CPU priority is (Linux nice
    /// increment, 0 to 19; 0 keeps the same priority). Acknowledging an event comes first;
    /// running its runbooks takes what CPU is left.
    pub nice: i32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            workers: 2,
            claim_batch: 64,
            lease: Duration::from_secs(300),
            idle_poll: Duration::from_millis(500),
            threads: 0,
            nice: 10,
        }
    }
}

/// Which agent runs `connection.exec` for the guests.
#[derive(Clone)]
pub enum AgentChoice {
    /// The built-in [`crate::agent::LocalAgent`]: `custom` connections run their command
    /// on this machine with their secrets as env.
    Local(LocalAgentLimits),
    /// The embedding gateway's agent.
    Gateway(Arc<dyn Agent>),
}

impl std::fmt::Debug for AgentChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentChoice::Local(l) => f.debug_tuple("Local").field(l).finish(),
            AgentChoice::Gateway(_) => f.write_str("Gateway(..)"),
        }
    }
}

/// What the workers share.
pub struct Dispatcher {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) repos: Repositories,
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
    pub(crate) agents: AgentRegistry,
    pub(crate) agent: AgentChoice,
    pub(crate) capabilities: OrgCapabilities,
    pub(crate) settings: WorkerSettings,
    pub(crate) wake: Notify,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) interrupt: watch::Sender<bool>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("settings", &self.settings)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<dyn Store>,
        repos: Repositories,
        engine: Engine,
        limits: Limits,
        agents: AgentRegistry,
        agent: AgentChoice,
        capabilities: OrgCapabilities,
        settings: WorkerSettings,
    ) -> Self {
        Dispatcher {
            store,
            repos,
            engine,
            limits,
            agents,
            agent,
            capabilities,
            settings,
            wake: Notify::new(),
            stop: watch::Sender::new(false),
            interrupt: watch::Sender::new(false),
        }
    }

    /// Wakes every idle worker now.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Starts the workers on `pool`; the handles end after [`Dispatcher::stop`].
    pub(crate) fn start(self: &Arc<Self>, pool: &DispatchPool) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.settings.workers)
            .map(|n| pool.spawn(worker::run(Arc::clone(self), n)))
            .collect()
    }

    /// Workers claim nothing more; runs in progress go on.
    pub(crate) fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Running guests are stopped (they end `interrupted`).
    pub(crate) fn interrupt(&self) {
        self.interrupt.send_replace(true);
    }

    pub(crate) fn interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// Completes when [`Dispatcher::interrupt`] is called (never if it is not).
    pub(crate) fn interrupt_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.interrupt.subscribe();
        async move {
            if rx.wait_for(|v| *v).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
