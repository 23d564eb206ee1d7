//! Instances made ahead of their run, and the stores runs leave behind.
//!
//! Instantiating a Rust `wasm32-wasip2` component (wiring its imports, building its core
//! instances) and dropping its store afterwards (resetting the pages the run dirtied) are
//! most of a short run's cost. For latency-sensitive callers such as session hooks, the
//! sandbox can do both off the caller's path: [`crate::Sandbox::standby`] instantiates a
//! component before any event needs it, and [`crate::Sandbox::run_on`] hands back the
//! finished store as [`Spent`] for the caller to drop elsewhere.
//!
//! Isolation is unchanged: a standby instance has never run guest code (instantiating a
//! component runs no guest function; its exports are first called by the run), and each
//! run gets its own instance, which is dropped after the run and never reused.

use crate::limits::Limits;
use crate::sandbox::{ComponentKind, Instantiated, Prepared};
use crate::state::HostState;
use std::fmt;
use wasmtime::Store;

/// A component instantiated in a store of its own, waiting for its one run.
///
/// Made by [`crate::Sandbox::standby`] under a memory cap (the instance's initial memory
/// already counts against it), used by [`crate::Sandbox::run_on`]. Until then it holds an
/// instance slot of the engine's pool.
pub struct Standby {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: Instantiated,
    pub(crate) prepared: Prepared,
    /// Fuel instantiation used (start functions); charged to the run, as in a fresh one.
    pub(crate) fuel_used: u64,
}

impl Standby {
    /// The component this instance was made from.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Which kind of guest this is.
    pub fn kind(&self) -> ComponentKind {
        self.prepared.kind()
    }

    /// Whether a run under `limits` can use this instance: it was made under the same
    /// memory cap (the other limits are set when the run starts).
    pub fn fits(&self, limits: &Limits) -> bool {
        self.memory_cap() == limits.memory_bytes
    }

    /// The memory cap it was made under (its limiter's).
    fn memory_cap(&self) -> u64 {
        self.store.data().limiter.cap()
    }

    /// The store with `state` as its data, ready for the run, and the fuel instantiation
    /// used. The instance's memory was counted by the limiter it was made with, so that
    /// limiter carries over.
    pub(crate) fn into_run(self, state: HostState) -> (Store<HostState>, Instantiated, u64) {
        let mut store = self.store;
        let made = std::mem::replace(store.data_mut(), state);
        store.data_mut().limiter = made.limiter;
        (store, self.instance, self.fuel_used)
    }
}

impl fmt::Debug for Standby {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Standby")
            .field("kind", &self.kind())
            .field("memory_cap", &self.memory_cap())
            .field("fuel_used", &self.fuel_used)
            .finish_non_exhaustive()
    }
}

/// The store of a finished run (or of a standby that was not used).
///
/// Dropping it returns the instance's pooled memories, tables and slot to the engine,
/// which resets the pages the run dirtied: a few microseconds, which a caller on a
/// latency path can spend elsewhere (another task, after answering).
#[must_use = "dropping a Spent store resets its instance; drop it where that cost is acceptable"]
pub struct Spent(pub(crate) Option<Store<HostState>>);

impl Spent {
    /// Nothing to release (the run never got a store).
    pub(crate) fn none() -> Self {
        Spent(None)
    }
}

impl fmt::Debug for Spent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Spent").field(&self.0.is_some()).finish()
    }
}
