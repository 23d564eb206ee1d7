//! The process-wide wasm engine: one `wasmtime::Engine` configured for the sandbox, its
//! epoch ticker, the compiled-artifact cache, and a bound on concurrent instances.
//!
//! Per-invocation cost is dominated by instance allocation, so the engine uses the pooling
//! allocator with copy-on-write memory images and keeps reset memory resident (memset
//! instead of `madvise`): on a 2-core VM that is what lets instantiation scale across
//! cores instead of getting slower (see DESIGN.md, measured facts).

use std::sync::Arc;
use std::time::Duration;

use runbox_host_api::{EpochTicker, Limits, RunOutcome, RunRequest, Sandbox, Spent};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cache::ArtifactCache;
use crate::component::LoadedComponent;
use crate::error::{Result, RuntimeError};
use crate::standby::Kept;

/// Settings of the process-wide engine. Per-run limits are [`runbox_host_api::Limits`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Runs that may hold an instance at the same time; further runs wait for a slot.
    /// With pooling this many instance slots are reserved up front.
    pub max_instances: u32,
    /// Use the pooling allocator (recommended). When the pool cannot be reserved (a
    /// restricted address space) the engine falls back to on-demand allocation and says so.
    pub pooling: bool,
    /// How often the epoch advances; the wall-clock deadline is checked at this grain.
    #[serde(with = "crate::serde_duration")]
    pub epoch_tick: Duration,
    /// Bytes of each linear memory kept resident between runs (reset with memset).
    pub memory_keep_resident: usize,
    /// Instances kept made ahead for session hooks: each hook component that has run
    /// keeps one, so its next run skips instantiation, and its teardown happens after
    /// the run has answered (see [`Engine::run_with_standby`]). They have pool slots of
    /// their own beyond `max_instances`; when all are taken a hook runs on a fresh
    /// instance. 0 turns standby instances off.
    pub standby_instances: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_instances: 256,
            pooling: true,
            epoch_tick: Duration::from_millis(10),
            memory_keep_resident: 2 << 20,
            standby_instances: 16,
        }
    }
}

impl EngineSettings {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.max_instances == 0 || self.max_instances > 10_000 {
            return Err(RuntimeError::InvalidConfig(format!(
                "engine.max_instances must be between 1 and 10000, got {}",
                self.max_instances
            )));
        }
        if self.standby_instances > 10_000 {
            return Err(RuntimeError::InvalidConfig(format!(
                "engine.standby_instances must be at most 10000, got {}",
                self.standby_instances
            )));
        }
        if self.epoch_tick < Duration::from_millis(1) || self.epoch_tick > Duration::from_secs(1) {
            return Err(RuntimeError::InvalidConfig(format!(
                "engine.epoch_tick must be between 1ms and 1s, got {:?}",
                self.epoch_tick
            )));
        }
        Ok(())
    }
}

/// What is left of a run made by [`Engine::run_with_standby`] once its outcome is known:
/// its spent store (whose drop resets the instance's memory: a few microseconds) and
/// the component's next standby instance. Call [`Aftercare::finish`] where that work is
/// off the latency path; dropping it instead drops the store but makes no standby.
#[derive(Debug)]
#[must_use = "finish() drops the spent store and makes the next standby instance"]
pub struct Aftercare {
    engine: Engine,
    component: LoadedComponent,
    limits: Limits,
    spent: Spent,
    permit: Option<OwnedSemaphorePermit>,
}

impl Aftercare {
    /// Drops the spent store, then makes the component's next standby instance (when it
    /// has none and a standby slot is free).
    pub async fn finish(self) {
        let Aftercare {
            engine,
            component,
            limits,
            spent,
            permit,
        } = self;
        // The slot's permit goes back only once the store has released the slot.
        drop(spent);
        drop(permit);
        engine.refill_standby(&component, &limits).await;
    }
}

/// How instances are allocated, as built (pooling may have fallen back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    Pooling,
    OnDemand,
}

/// The engine shared by every run in the process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    wasmtime: wasmtime::Engine,
    sandbox: Sandbox,
    cache: ArtifactCache,
    allocator: Allocator,
    slots: Arc<Semaphore>,
    /// Pool slots for standby instances (see [`EngineSettings::standby_instances`]).
    standby_slots: Arc<Semaphore>,
    _ticker: EpochTicker,
}

impl Engine {
    /// Builds the engine and starts its epoch ticker. `cache` holds compiled artifacts.
    pub fn new(settings: &EngineSettings, cache: ArtifactCache) -> Result<Engine> {
        settings.validate()?;
        let (wasmtime, allocator) = if settings.pooling {
            match wasmtime::Engine::new(&wasmtime_config(settings, true)) {
                Ok(engine) => (engine, Allocator::Pooling),
                Err(err) => {
                    tracing::warn!(error = %err, "pooling allocator unavailable; using on-demand allocation");
                    (build(settings, false)?, Allocator::OnDemand)
                }
            }
        } else {
            (build(settings, false)?, Allocator::OnDemand)
        };
        let sandbox = Sandbox::new(&wasmtime).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let ticker = EpochTicker::start(&wasmtime, settings.epoch_tick);
        let cache = cache.for_engine(&wasmtime)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                wasmtime,
                sandbox,
                cache,
                allocator,
                slots: Arc::new(Semaphore::new(settings.max_instances as usize)),
                standby_slots: Arc::new(Semaphore::new(settings.standby_instances as usize)),
                _ticker: ticker,
            }),
        })
    }

    /// The underlying wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    /// The sandbox (linker and run logic) bound to this engine.
    pub fn sandbox(&self) -> &Sandbox {
        &self.inner.sandbox
    }

    /// The compiled-artifact cache of this engine.
    pub fn cache(&self) -> &ArtifactCache {
        &self.inner.cache
    }

    /// The allocator actually in use.
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    /// Runs a prepared component once, on a fresh instance. Waits for a free instance slot
    /// first, so a burst never fails with "pool exhausted".
    pub async fn run(
        &self,
        prepared: &runbox_host_api::Prepared,
        request: RunRequest,
    ) -> RunOutcome {
        let _permit = self.instance_slot().await;
        self.inner.sandbox.run(prepared, request).await
    }

    /// Like [`Engine::run`], but the guest is stopped when `interrupt` completes first
    /// (shutdown): the outcome is then `interrupted`. Waits for an instance slot too.
    pub async fn run_until(
        &self,
        prepared: &runbox_host_api::Prepared,
        request: RunRequest,
        interrupt: impl Future<Output = ()> + Send,
    ) -> RunOutcome {
        let _permit = self.instance_slot().await;
        self.inner
            .sandbox
            .run_until(prepared, request, interrupt)
            .await
    }

    /// Runs `component` like [`Engine::run`], on its standby instance when it has one, and
    /// leaves the rest of the instance's life to the returned [`Aftercare`]: dropping the
    /// spent store and making the next standby. The outcome is the same as
    /// [`Engine::run`]'s; each run still gets an instance of its own that has run no
    /// guest code before. For session hooks, whose components run on every session open
    /// and close: their result is ready without waiting for instantiation or teardown.
    pub async fn run_with_standby(
        &self,
        component: &LoadedComponent,
        request: RunRequest,
    ) -> (RunOutcome, Aftercare) {
        let limits = request.limits.clone();
        let (standby, permit) = match component.standby().take() {
            Some(Kept { standby, permit }) => (Some(standby), Some(permit)),
            None => (None, self.instance_slot().await),
        };
        let (outcome, spent) = self
            .inner
            .sandbox
            .run_on(component.prepared(), standby, request)
            .await;
        let aftercare = Aftercare {
            engine: self.clone(),
            component: component.clone(),
            limits,
            spent,
            permit,
        };
        (outcome, aftercare)
    }

    /// Waits for one of the `max_instances` slots. The semaphore is never closed, so
    /// acquiring only fails if it were; that is "run without a permit" rather than an
    /// invented failure.
    async fn instance_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.slots.clone().acquire_owned().await.ok()
    }

    /// Makes `component`'s next standby instance unless it has one or no standby slot is
    /// free.
    async fn refill_standby(&self, component: &LoadedComponent, limits: &Limits) {
        if component.standby().is_filled() {
            return;
        }
        let Ok(permit) = self.inner.standby_slots.clone().try_acquire_owned() else {
            tracing::debug!(component = component.name(), "every standby slot is taken");
            return;
        };
        match self
            .inner
            .sandbox
            .standby(component.prepared(), limits)
            .await
        {
            // Filled meanwhile by another run's refill: this one is dropped.
            Ok(standby) => drop(component.standby().fill(Kept { standby, permit })),
            Err(failure) => tracing::debug!(
                component = component.name(),
                code = failure.code.as_str(),
                "no standby instance: {}",
                failure.message
            ),
        }
    }
}

fn build(settings: &EngineSettings, pooling: bool) -> Result<wasmtime::Engine> {
    wasmtime::Engine::new(&wasmtime_config(settings, pooling))
        .map_err(|e| RuntimeError::Engine(e.to_string()))
}

fn wasmtime_config(settings: &EngineSettings, pooling: bool) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    runbox_host_api::configure_engine(&mut config);
    // Runbooks do not use component-model async; leaving it off keeps stores small.
    config.concurrency_support(false);
    config.memory_init_cow(true);
    if pooling {
        // Standby instances have slots of their own, so they never starve runs.
        let n = settings
            .max_instances
            .saturating_add(settings.standby_instances);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            // A Rust wasip2 component has a handful of core instances (main module, WASI
            // adapter, shims) and up to two memories.
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .linear_memory_keep_resident(settings.memory_keep_resident)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10)
            // With PAGEMAP_SCAN (Linux 6.7+) only the pages a run dirtied are reset, instead
            // of memsetting the whole keep-resident prefix (a Rust guest's 1 MiB stack sits
            // there, mostly untouched). Falls back to memset on older kernels.
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
