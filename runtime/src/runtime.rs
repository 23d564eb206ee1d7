//! The embedding API: a [`Runtime`] built from a [`RuntimeBuilder`] opens the store, the
//! repositories and the engine, recovers what a crash left `processing`, starts the
//! workers, and offers event routing to the gateway: publish, connections, subscriptions,
//! dispatch history, replay, preview, agent status and a clean shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use runbox::{RepoConfig, Runtime};
//! let runtime = Runtime::builder()
//!     .data_dir("/var/lib/runbox")
//!     .repository("acme", RepoConfig::new("https://github.com/acme/runbooks"))
//!     .workers(4)
//!     .build()
//!     .await?;
//! runtime.set_event_routing("acme", true, "admin").await?;
//! let receipt = runtime
//!     .publish("acme", "session.started", serde_json::json!({}), Some("ses_1:session.started"))
//!     .await;
//! # let _ = receipt;
//! runtime.shutdown(std::time::Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbox_host_api::{Agent, ConfigSource, EgressPolicy, Limits, ParamSpec};
use serde::Serialize;
use serde_json::Value;

use crate::agent::LocalAgentLimits;
use crate::auth::TokenStore;
use crate::cache::ArtifactCache;
use crate::catalog::Catalog;
use crate::dispatch::{
    AgentChoice, AgentRegistry, DispatchPool, Dispatcher, RoutingServiceError, WorkerSettings,
    recover,
};
use crate::engine::{Engine, EngineSettings};
use crate::error::{RuntimeError, StoreError};
use crate::hooks::{HookJournal, HookRunner, HookSettings};
use crate::metrics::{MeteredStore, Metrics};
use crate::model::{
    Connection, ConnectionSpec, Dispatch, EVENT_ROUTING_FLAG, NewEvent, Subscription,
    SubscriptionSpec, SubscriptionStatus, Timestamp,
};
use crate::org_capabilities::OrgCapabilities;
use crate::repo::{Clock, RepoConfig, RepoSettings, Repositories, SystemClock};
use crate::routing::{ParameterMapping, PreviewResult, check_required, preview, validate_mapping};
use crate::store::{DispatchDetail, Page, SledStore, Store, SubscriptionStats};

/// Result of a routing call.
pub type RoutingResult<T> = Result<T, RoutingServiceError>;

/// Builds a [`Runtime`]; see the module docs.
pub struct RuntimeBuilder {
    data_dir: PathBuf,
    repositories: Vec<(String, RepoConfig)>,
    repo_settings: Option<RepoSettings>,
    engine: EngineSettings,
    cache: Option<ArtifactCache>,
    limits: Limits,
    worker: WorkerSettings,
    agent: AgentChoice,
    agents_online_by_default: bool,
    config: HashMap<String, Arc<dyn ConfigSource>>,
    egress: HashMap<String, Arc<EgressPolicy>>,
    pub(crate) hook_settings: HookSettings,
    pub(crate) repo_clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("data_dir", &self.data_dir)
            .field("worker", &self.worker)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            data_dir: PathBuf::from("data"),
            repositories: Vec::new(),
            repo_settings: None,
            engine: EngineSettings::default(),
            cache: None,
            limits: Limits::default(),
            worker: WorkerSettings::default(),
            agent: AgentChoice::Local(LocalAgentLimits::default()),
            agents_online_by_default: true,
            config: HashMap::new(),
            egress: HashMap::new(),
            hook_settings: HookSettings::default(),
            repo_clock: Arc::new(SystemClock),
        }
    }
}

impl RuntimeBuilder {
    /// Where the store (`store/`), repository mirrors (`repos/`) and compiled components
    /// (`compiled/`) live.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// Adds a runbook repository to an org.
    pub fn repository(mut self, org: impl Into<String>, config: RepoConfig) -> Self {
        self.repositories.push((org.into(), config));
        self
    }

    /// Repository registry settings (its `data_dir` is replaced by [`Self::data_dir`]).
    pub fn repo_settings(mut self, settings: RepoSettings) -> Self {
        self.repo_settings = Some(settings);
        self
    }

    pub fn engine_settings(mut self, settings: EngineSettings) -> Self {
        self.engine = settings;
        self
    }

    /// The compiled-artifact cache (default: `<data_dir>/compiled`).
    pub fn cache(mut self, cache: ArtifactCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Per-run limits of every dispatch.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Worker count (0: no workers; dispatches stay pending).
    pub fn workers(mut self, n: usize) -> Self {
        self.worker.workers = n;
        self
    }

    /// Full worker tuning.
    pub fn worker_settings(mut self, settings: WorkerSettings) -> Self {
        self.worker = settings;
        self
    }

    /// The gateway's agent for `connection.exec` (default: the built-in local agent for
    /// `custom` connections).
    pub fn agent(mut self, agent: Arc<dyn Agent>) -> Self {
        self.agent = AgentChoice::Gateway(agent);
        self
    }

    /// The built-in local agent with these bounds.
    pub fn local_agent(mut self, limits: LocalAgentLimits) -> Self {
        self.agent = AgentChoice::Local(limits);
        self
    }

    /// Status of agents never reported through [`Runtime::set_agent_status`] (default
    /// online).
    pub fn agents_online_by_default(mut self, online: bool) -> Self {
        self.agents_online_by_default = online;
        self
    }

    /// `config.get` values of an org's runbooks.
    pub fn config_source(mut self, org: impl Into<String>, source: Arc<dyn ConfigSource>) -> Self {
        self.config.insert(org.into(), source);
        self
    }

    /// Outbound HTTP policy of an org's runbooks (default: deny all).
    pub fn egress_policy(mut self, org: impl Into<String>, policy: Arc<EgressPolicy>) -> Self {
        self.egress.insert(org.into(), policy);
        self
    }

    /// Opens everything, recovers interrupted dispatches, then starts the workers. Must be
    /// called inside a tokio runtime.
    pub async fn build(self) -> Result<Runtime, RuntimeError> {
        let w = self.worker;
        if w.workers > self.engine.max_instances as usize {
            return Err(RuntimeError::InvalidConfig(format!(
                "workers ({}) must not exceed engine.max_instances ({})",
                w.workers, self.engine.max_instances
            )));
        }
        if w.claim_batch == 0 {
            return Err(RuntimeError::InvalidConfig(
                "claim_batch must be at least 1".into(),
            ));
        }
        if !(0..=19).contains(&w.nice) {
            return Err(RuntimeError::InvalidConfig(format!(
                "worker nice must be 0 to 19 (got {})",
                w.nice
            )));
        }
        self.limits
            .validate()
            .map_err(|e| RuntimeError::InvalidConfig(e.to_string()))?;
        let cache = self
            .cache
            .unwrap_or_else(|| ArtifactCache::at(self.data_dir.join("compiled")));
        let engine = Engine::new(&self.engine, cache)?;
        let mut repo_settings = self.repo_settings.unwrap_or_default();
        repo_settings.data_dir = self.data_dir.clone();
        let repos = Repositories::with_clock(engine.clone(), repo_settings, self.repo_clock)?;
        for (org, config) in self.repositories {
            repos.add(&org, config)?;
        }
        let store_dir = self.data_dir.join("store");
        let sled = SledStore::open(&store_dir)?;
        // API tokens live in the same database, behind their own small trait.
        let tokens: Arc<dyn TokenStore> = Arc::new(sled.clone());
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> =
            Arc::new(MeteredStore::new(Arc::new(sled), Arc::clone(&metrics)));

        // Before any worker can claim: nothing left `processing` by a crash is re-run
        // silently or left stuck.
        let recovered = recover(store.as_ref(), Timestamp::now()).await?;

        let capabilities = OrgCapabilities::new(self.config, self.egress);
        let hooks = Arc::new(HookRunner {
            journal: HookJournal::open(&self.data_dir.join("hooks"))?,
            settings: self.hook_settings,
            repos: repos.clone(),
            engine: engine.clone(),
            store: Arc::clone(&store),
            limits: self.limits.clone(),
            capabilities: capabilities.clone(),
            handle: tokio::runtime::Handle::current(),
            in_flight: Default::default(),
        });
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&store),
            repos.clone(),
            engine.clone(),
            self.limits,
            AgentRegistry::new(self.agents_online_by_default),
            self.agent,
            capabilities,
            w,
        ));
        let pool = DispatchPool::start(&w)?;
        let workers = dispatcher.start(&pool);
        Ok(Runtime {
            store,
            tokens,
            repos,
            engine,
            dispatcher,
            workers: Mutex::new(workers),
            _pool: pool,
            disabled_events: Mutex::new(HashMap::new()),
            recovered: recovered.len(),
            published: AtomicU64::new(0),
            hooks,
            metrics,
        })
    }
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReceipt {
    /// The stored event (the original one for a duplicate); `None` when event routing is
    /// off for the org and nothing was stored.
    pub event_id: Option<String>,
    /// The dispatches created (empty for a duplicate or with no active subscription).
    pub dispatch_ids: Vec<String>,
    /// The producer id was seen before: nothing was created.
    pub duplicate: bool,
    /// Event routing is off for the org: the event was counted, not stored.
    pub feature_disabled: bool,
}

/// A subscription with hoop's per-subscription figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    #[serde(flatten)]
    pub subscription: Subscription,
    #[serde(flatten)]
    pub stats: SubscriptionStats,
}

/// The event-routing runtime a gateway embeds. Dropping it stops the workers without
/// waiting; call [`Runtime::shutdown`] for a clean stop.
pub struct Runtime {
    store: Arc<dyn Store>,
    /// API tokens (see `auth/runtime_api.rs`).
    pub(crate) tokens: Arc<dyn TokenStore>,
    repos: Repositories,
    engine: Engine,
    dispatcher: Arc<Dispatcher>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The threads the workers run on; dropped after them (see `Drop`).
    _pool: DispatchPool,
    disabled_events: Mutex<HashMap<String, u64>>,
    recovered: usize,
    published: AtomicU64,
    /// Session hooks (see [`crate::hooks`]).
    pub(crate) hooks: Arc<HookRunner>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.dispatcher.stop();
        self.dispatcher.interrupt();
        let workers = self.workers.get_mut().unwrap_or_else(|p| p.into_inner());
        for handle in workers.drain(..) {
            handle.abort();
        }
    }
}

impl Runtime {
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The store (for tools and tests; prefer the methods below).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn repositories(&self) -> &Repositories {
        &self.repos
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Counters behind `/metrics` (fed by the store wrapper and manual runs).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub(crate) fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Dispatches recovered at start (failed `interrupted` or retried).
    pub fn recovered_at_start(&self) -> usize {
        self.recovered
    }

    // ---- feature flag ----

    /// Turns event routing on or off for an org (durable, audited).
    pub async fn set_event_routing(&self, org: &str, on: bool, actor: &str) -> RoutingResult<()> {
        Ok(self
            .store
            .set_feature_flag(org, EVENT_ROUTING_FLAG, on, actor)
            .await?)
    }

    pub async fn event_routing_enabled(&self, org: &str) -> RoutingResult<bool> {
        Ok(self.store.feature_flag(org, EVENT_ROUTING_FLAG).await?)
    }

    async fn require_enabled(&self, org: &str) -> RoutingResult<()> {
        if self.event_routing_enabled(org).await? {
            Ok(())
        } else {
            Err(RoutingServiceError::FeatureDisabled { org: org.into() })
        }
    }

    /// Events published while routing was off for the org (counted, not stored), since
    /// this runtime started.
    pub fn events_ignored_while_disabled(&self, org: &str) -> u64 {
        let map = self
            .disabled_events
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.get(org).copied().unwrap_or(0)
    }

    /// Events stored by this runtime since it started (duplicates excluded).
    pub fn events_published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    // ---- publish ----

    /// Publishes an event: flag check, size and schema check, then the event and one
    /// `pending` dispatch per active subscription of its type in one durable transaction;
    /// workers are woken at once. A repeated `producer_event_id` creates nothing.
    ///
    /// With routing off for the org the event is counted and dropped: the receipt says
    /// `feature_disabled` (not an error, so a gateway can publish unconditionally).
    pub async fn publish(
        &self,
        org: &str,
        event_type: &str,
        payload: Value,
        producer_event_id: Option<&str>,
    ) -> RoutingResult<PublishReceipt> {
        self.publish_as(org, None, event_type, payload, producer_event_id)
            .await
    }

    /// [`Runtime::publish`] with the publisher named in the audit record (the admin API
    /// passes `token:<id>`; `None` records `publisher`).
    pub async fn publish_as(
        &self,
        org: &str,
        actor: Option<&str>,
        event_type: &str,
        payload: Value,
        producer_event_id: Option<&str>,
    ) -> RoutingResult<PublishReceipt> {
        if !self.event_routing_enabled(org).await? {
            let mut map = self
                .disabled_events
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *map.entry(org.to_owned()).or_default() += 1;
            return Ok(PublishReceipt {
                event_id: None,
                dispatch_ids: Vec::new(),
                duplicate: false,
                feature_disabled: true,
            });
        }
        let limit = self.dispatcher.limits.payload_bytes;
        let size = json_len(&payload);
        if size > limit {
            return Err(RoutingServiceError::PayloadTooLarge { size, limit });
        }
        Catalog::builtin().validate(event_type, &payload)?;
        if producer_event_id.is_some_and(str::is_empty) {
            return Err(RoutingServiceError::Invalid {
                field: "producer_event_id",
                reason: "must not be empty".into(),
            });
        }
        let subscription_ids = self.store.active_subscription_ids(org, event_type).await?;
        let event = NewEvent {
            event_type: event_type.to_owned(),
            payload,
            producer_event_id: producer_event_id.map(str::to_owned),
            actor: actor.map(str::to_owned),
        };
        let outcome = self.store.publish(org, event, &subscription_ids).await?;
        if !outcome.duplicate {
            self.published.fetch_add(1, Ordering::Relaxed);
        }
        if !outcome.dispatch_ids.is_empty() {
            self.dispatcher.wake();
        }
        Ok(PublishReceipt {
            event_id: Some(outcome.event_id),
            dispatch_ids: outcome.dispatch_ids,
            duplicate: outcome.duplicate,
            feature_disabled: false,
        })
    }

    // ---- connections ----

    pub async fn create_connection(
        &self,
        org: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> RoutingResult<Connection> {
        validate_connection(&spec)?;
        Ok(self.store.create_connection(org, spec, actor).await?)
    }

    pub async fn get_connection(&self, org: &str, id: &str) -> RoutingResult<Connection> {
        Ok(self.store.get_connection(org, id).await?)
    }

    pub async fn connection_by_name(&self, org: &str, name: &str) -> RoutingResult<Connection> {
        Ok(self.store.connection_by_name(org, name).await?)
    }

    /// All connections of the org, sorted by name.
    pub async fn list_connections(&self, org: &str) -> RoutingResult<Vec<Connection>> {
        Ok(self.store.list_connections(org).await?)
    }

    /// Replaces a connection's fields; a new name carries over to its subscriptions.
    pub async fn update_connection(
        &self,
        org: &str,
        id: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> RoutingResult<Connection> {
        validate_connection(&spec)?;
        Ok(self.store.update_connection(org, id, spec, actor).await?)
    }

    /// Renames a connection (subscriptions follow).
    pub async fn rename_connection(
        &self,
        org: &str,
        id: &str,
        new_name: &str,
        actor: &str,
    ) -> RoutingResult<Connection> {
        let c = self.store.get_connection(org, id).await?;
        let spec = ConnectionSpec {
            name: new_name.to_owned(),
            kind: c.kind,
            subtype: c.subtype,
            tags: c.tags,
            agent_id: c.agent_id,
            access_mode_exec: c.access_mode_exec,
            access_mode_connect: c.access_mode_connect,
            access_mode_runbooks: c.access_mode_runbooks,
            plugins: c.plugins,
            secrets: c.secrets,
            command: c.command,
        };
        self.update_connection(org, id, spec, actor).await
    }

    /// Refused (`conflict`) while a subscription uses the connection.
    pub async fn delete_connection(&self, org: &str, id: &str, actor: &str) -> RoutingResult<()> {
        Ok(self.store.delete_connection(org, id, actor).await?)
    }

    // ---- agents ----

    /// The gateway reports an agent online or offline. Dispatches of connections whose
    /// agent is offline stay `pending`; when it comes back the workers are woken.
    pub fn set_agent_status(&self, agent_id: &str, online: bool) {
        if self.dispatcher.agents.set(agent_id, online) {
            self.dispatcher.wake();
        }
    }

    pub fn agent_online(&self, agent_id: &str) -> bool {
        self.dispatcher.agents.is_online(agent_id)
    }

    // ---- subscriptions ----

    /// Creates a subscription after validating it (see [`Runtime::validate_subscription`]);
    /// the stored mapping includes the pre-matched same-name fields.
    pub async fn create_subscription(
        &self,
        org: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> RoutingResult<Subscription> {
        self.require_enabled(org).await?;
        let spec = self.validate_subscription(org, spec).await?;
        Ok(self.store.create_subscription(org, spec, actor).await?)
    }

    /// Updates a subscription (same validation; event type fixed, status ignored).
    pub async fn update_subscription(
        &self,
        org: &str,
        id: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> RoutingResult<Subscription> {
        self.require_enabled(org).await?;
        let spec = self.validate_subscription(org, spec).await?;
        Ok(self.store.update_subscription(org, id, spec, actor).await?)
    }

    /// The checks made at save: exactly one known event type, the connection exists and
    /// allows runbooks, the runbook exists in the repository, every mapping path parses
    /// and starts at a schema field, every required param is mapped or defaulted. Returns
    /// the spec with same-name params pre-matched. (Name uniqueness is the store's.)
    pub async fn validate_subscription(
        &self,
        org: &str,
        mut spec: SubscriptionSpec,
    ) -> RoutingResult<SubscriptionSpec> {
        if spec.name.trim().is_empty() {
            return Err(RoutingServiceError::Invalid {
                field: "name",
                reason: "must not be empty".into(),
            });
        }
        let event_type = match spec.event_types.as_slice() {
            [one] => one.clone(),
            other => {
                return Err(RoutingServiceError::Invalid {
                    field: "event_types",
                    reason: format!("exactly one event type is required, got {}", other.len()),
                });
            }
        };
        let catalog = Catalog::builtin();
        let entry = catalog.entry(&event_type)?;
        let connection = self
            .store
            .connection_by_name(org, &spec.connection_name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => StoreError::UnknownConnection {
                    name: spec.connection_name.clone(),
                },
                other => other,
            })?;
        if !connection.allows_runbooks() {
            return Err(RoutingServiceError::RunbooksNotAllowed {
                name: connection.name,
            });
        }
        let handle = self
            .repos
            .get(org, &spec.runbook_repository, &spec.runbook_file)
            .await?;
        let params: Vec<ParamSpec> = handle.info().map(|i| i.params.clone()).unwrap_or_default();
        let mapping: ParameterMapping = spec
            .parameter_mapping
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mapping = mapping.with_prematched(&params, &entry.schema);
        validate_mapping(&event_type, &mapping, catalog)?;
        check_required(&mapping, &params)?;
        spec.parameter_mapping = mapping
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(spec)
    }

    /// A subscription with delivered/failed counts of the last 7 days and its last error.
    pub async fn get_subscription(&self, org: &str, id: &str) -> RoutingResult<SubscriptionView> {
        self.require_enabled(org).await?;
        let subscription = self.store.get_subscription(org, id).await?;
        let stats = self
            .store
            .subscription_stats(org, id, Timestamp::now())
            .await?;
        Ok(SubscriptionView {
            subscription,
            stats,
        })
    }

    /// Newest first, optionally one status.
    pub async fn list_subscriptions(
        &self,
        org: &str,
        status: Option<SubscriptionStatus>,
    ) -> RoutingResult<Vec<Subscription>> {
        self.require_enabled(org).await?;
        Ok(self.store.list_subscriptions(org, status).await?)
    }

    /// Paused subscriptions get no dispatches.
    pub async fn pause_subscription(
        &self,
        org: &str,
        id: &str,
        actor: &str,
    ) -> RoutingResult<Subscription> {
        self.require_enabled(org).await?;
        Ok(self
            .store
            .set_subscription_status(org, id, SubscriptionStatus::Paused, actor)
            .await?)
    }

    /// Resuming does not backfill.
    pub async fn resume_subscription(
        &self,
        org: &str,
        id: &str,
        actor: &str,
    ) -> RoutingResult<Subscription> {
        self.require_enabled(org).await?;
        Ok(self
            .store
            .set_subscription_status(org, id, SubscriptionStatus::Active, actor)
            .await?)
    }

    /// Deletes the subscription and its dispatch history.
    pub async fn delete_subscription(&self, org: &str, id: &str, actor: &str) -> RoutingResult<()> {
        self.require_enabled(org).await?;
        Ok(self.store.delete_subscription(org, id, actor).await?)
    }

    // ---- dispatches ----

    /// One subscription's dispatches, newest first (`page` from 1, `page_size` <= 100).
    pub async fn list_dispatches(
        &self,
        org: &str,
        subscription_id: &str,
        page: usize,
        page_size: usize,
    ) -> RoutingResult<Page<Dispatch>> {
        self.require_enabled(org).await?;
        Ok(self
            .store
            .list_dispatches(org, subscription_id, page, page_size)
            .await?)
    }

    /// A dispatch with its event payload and subscription name.
    pub async fn get_dispatch(&self, org: &str, id: &str) -> RoutingResult<DispatchDetail> {
        self.require_enabled(org).await?;
        Ok(self.store.get_dispatch(org, id).await?)
    }

    /// A new `pending` dispatch of the same event and subscription (current configuration,
    /// stored payload) with `replayed_from`. `conflict` with hoop's text
    /// `cannot replay a dispatch that is pending` for pending/processing ones.
    pub async fn replay(
        &self,
        org: &str,
        dispatch_id: &str,
        actor: &str,
    ) -> RoutingResult<Dispatch> {
        self.require_enabled(org).await?;
        let d = self.store.replay(org, dispatch_id, actor).await?;
        self.dispatcher.wake();
        Ok(d)
    }

    /// Renders `mapping` against `payload` (or the event type's sample) without
    /// dispatching. With `runbook = Some((repository, file))` the runbook's params are
    /// used for defaults and required-param errors.
    pub async fn preview(
        &self,
        org: &str,
        event_type: &str,
        mapping: &ParameterMapping,
        payload: Option<Value>,
        runbook: Option<(&str, &str)>,
    ) -> RoutingResult<PreviewResult> {
        let params: Option<Vec<ParamSpec>> = match runbook {
            Some((repository, file)) => {
                let handle = self.repos.get(org, repository, file).await?;
                Some(handle.info().map(|i| i.params.clone()).unwrap_or_default())
            }
            None => None,
        };
        Ok(preview(
            event_type,
            mapping,
            payload,
            Catalog::builtin(),
            params.as_deref(),
        )?)
    }

    // ---- shutdown ----

    /// Stops claiming, lets running dispatches finish within `deadline`, then interrupts
    /// the rest (they end `interrupted`, or `pending` when their retry policy allows).
    /// Session hooks still running are waited for within the same deadline.
    /// Every transition is durable when it is recorded, so nothing is left to flush.
    pub async fn shutdown(&self, deadline: Duration) {
        let started = std::time::Instant::now();
        self.dispatcher.stop();
        let handles: Vec<_> = {
            let mut w = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            w.drain(..).collect()
        };
        let mut all = futures_join(handles);
        if tokio::time::timeout(deadline, &mut all).await.is_err() {
            tracing::warn!(
                ?deadline,
                "shutdown deadline reached; interrupting running dispatches"
            );
            self.dispatcher.interrupt();
            all.await;
        }
        // Session hooks still running get what is left of the deadline; past it they end
        // at their own bound (they hold what they need and record their result).
        let left = deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, self.hooks.in_flight.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.hooks.in_flight.count(),
                "shutdown deadline reached with session hooks still running; they end at their own bound"
            );
        }
    }
}

/// Awaits every handle (a panicked worker is logged, not propagated).
fn futures_join(
    handles: Vec<tokio::task::JoinHandle<()>>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        for h in handles {
            if let Err(e) = h.await {
                tracing::error!(error = %e, "dispatch worker ended abnormally");
            }
        }
    })
}

fn validate_connection(spec: &ConnectionSpec) -> RoutingResult<()> {
    let name = spec.name.trim();
    if name.is_empty() || name != spec.name || spec.name.len() > 128 {
        return Err(RoutingServiceError::Invalid {
            field: "name",
            reason: "must be 1 to 128 characters without surrounding spaces".into(),
        });
    }
    Ok(())
}

/// Bytes of `value` as compact JSON, counted without building the text (the publish path
/// checks the size before the store serializes the payload itself).
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::json_len;

    #[test]
    fn json_len_is_the_length_of_the_compact_text() {
        let v = serde_json::json!({"user": "alex@acme.com", "n": [1, 2.5, null], "é": "\n"});
        assert_eq!(
            json_len(&v),
            serde_json::to_vec(&v).unwrap_or_default().len()
        );
    }
}
