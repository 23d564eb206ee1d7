//! `runbox serve` as a library: [`Server::start`] builds the [`Runtime`] from a
//! [`ServerConfig`], sets up the configured orgs (and the demo), binds the listen address
//! and serves [`crate::api::router`]; [`Server::shutdown`] stops it cleanly. Tests start
//! servers in-process with it; the CLI adds signals and the banner.
//!
//! Shutdown order: `/readyz` turns 503, the listener stops accepting and in-flight
//! requests finish (manual runs included), then the workers stop claiming and running
//! dispatches finish, all within one deadline; what is still running then is interrupted
//! (recorded `interrupted`). Every state change was durable when it was acknowledged, so
//! nothing is left to flush; the store closes when the runtime is dropped.

mod access_log;
pub mod demo;
pub mod logging;
pub mod repo_configs;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use demo::DemoInfo;
pub use repo_configs::RepoConfigs;
pub use state::ServeState;

use crate::api::{ApiState, router};
use crate::cache::ArtifactCache;
use crate::config::ServerConfig;
use crate::error::RuntimeError;
use crate::runtime::Runtime;

/// Actor recorded for what the config file sets up.
const CONFIG_ACTOR: &str = "config";

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    runtime: Arc<Runtime>,
    serve: Arc<ServeState>,
    deadline: Duration,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    upkeep: JoinHandle<()>,
    demo: Option<DemoInfo>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// In-flight HTTP requests did not finish within the deadline and were cut.
    pub requests_cut: bool,
    /// How long the whole shutdown took.
    pub took: Duration,
}

impl Server {
    /// Builds everything and starts serving. Fails on a bad config, an unusable data dir
    /// or a listen address that cannot be bound.
    pub async fn start(config: &ServerConfig) -> Result<Server, RuntimeError> {
        config
            .validate()
            .map_err(|e| RuntimeError::InvalidConfig(e.to_string()))?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| RuntimeError::io("create data directory", &config.data_dir, e))?;
        let mut builder = Runtime::builder()
            .data_dir(&config.data_dir)
            .repo_settings(config.repo_settings())
            .engine_settings(config.engine.to_settings())
            .limits(config.limits.to_limits())
            .workers(config.workers)
            .agents_online_by_default(config.agents_online_default);
        if let Some(dir) = &config.cache_dir {
            builder = builder.cache(ArtifactCache::at(dir.clone()));
        }
        let runtime = Arc::new(builder.build().await?);
        if runtime.recovered_at_start() > 0 {
            tracing::warn!(
                recovered = runtime.recovered_at_start(),
                "dispatches left processing by the previous process were recovered"
            );
        }

        let configs = RepoConfigs::open(runtime.repositories().clone(), &config.data_dir)
            .map_err(|e| RuntimeError::InvalidConfig(e.to_string()))?;
        for (org, org_config) in &config.orgs {
            for repo in &org_config.repositories {
                configs
                    .add_from_config(org, repo.clone())
                    .map_err(|e| RuntimeError::InvalidConfig(format!("orgs.{org}: {e}")))?;
            }
            if org_config.event_routing {
                runtime
                    .set_event_routing(org, true, CONFIG_ACTOR)
                    .await
                    .map_err(|e| RuntimeError::InvalidConfig(format!("orgs.{org}: {e}")))?;
            }
        }
        let demo = if config.demo {
            Some(demo::setup(&runtime, &configs, config).await?)
        } else {
            None
        };

        let serve = Arc::new(ServeState::new(configs));
        let state = ApiState::new(Arc::clone(&runtime))
            .with_body_limit(usize::try_from(config.body_limit).unwrap_or(usize::MAX))
            .with_serve(Arc::clone(&serve));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                RuntimeError::InvalidConfig(format!("cannot listen on {}: {e}", config.listen))
            })?;
        let addr = listener.local_addr().map_err(|e| {
            RuntimeError::InvalidConfig(format!("cannot listen on {}: {e}", config.listen))
        })?;
        let (stop, stopped) = watch::channel(false);
        let app = router(state).layer(axum::middleware::from_fn(access_log::access_log));
        let mut http_stop = stopped.clone();
        let http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.wait_for(|v| *v).await;
                })
                .await
        });
        let upkeep = tokio::spawn(upkeep(
            Arc::clone(&runtime),
            config.repos.default_ttl,
            stopped,
        ));
        tracing::info!(%addr, data_dir = %config.data_dir.display(), workers = config.workers, demo = config.demo, "runbox serve listening");
        Ok(Server {
            addr,
            runtime,
            serve,
            deadline: config.shutdown_deadline,
            stop,
            http,
            upkeep,
            demo,
        })
    }

    /// The bound address (the real port when the config said `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn serve_state(&self) -> &Arc<ServeState> {
        &self.serve
    }

    /// What the demo set up, when it is on.
    pub fn demo(&self) -> Option<&DemoInfo> {
        self.demo.as_ref()
    }

    /// Serves until `signal` completes, then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> ShutdownReport {
        signal.await;
        self.shutdown().await
    }

    /// Stops accepting, lets in-flight requests and runs finish within the shutdown
    /// deadline, interrupts what is left, and closes the store.
    pub async fn shutdown(self) -> ShutdownReport {
        let started = Instant::now();
        let end = started + self.deadline;
        tracing::info!(deadline = ?self.deadline, "shutting down: no new connections; finishing in-flight work");
        self.serve.begin_shutdown();
        self.stop.send_replace(true);
        let mut http = self.http;
        let requests_cut = match tokio::time::timeout_at(end.into(), &mut http).await {
            Ok(Ok(Ok(()))) => false,
            Ok(Ok(Err(e))) => {
                tracing::error!(error = %e, "HTTP server ended with an error");
                false
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "HTTP server task failed");
                false
            }
            Err(_) => {
                tracing::warn!("shutdown deadline reached with requests in flight; cutting them");
                http.abort();
                true
            }
        };
        let remaining = end.saturating_duration_since(Instant::now());
        self.runtime
            .shutdown(remaining.max(Duration::from_millis(1)))
            .await;
        let _ = self.upkeep.await;
        // The HTTP task and upkeep are gone, so unless the embedder kept a clone this is
        // the last handle and the store closes (sled flushes on drop) here: a new server
        // can open the same data dir right after.
        if Arc::strong_count(&self.runtime) > 1 {
            tracing::debug!(
                "runtime still referenced elsewhere; the store closes when it is dropped"
            );
        }
        drop(self.runtime);
        let took = started.elapsed();
        tracing::info!(?took, "runbox serve stopped");
        ShutdownReport { requests_cut, took }
    }
}

/// Loads every repository once at start (so `/readyz` settles), then refreshes stale ones
/// every `period`, counting failures in the metrics.
async fn upkeep(runtime: Arc<Runtime>, period: Duration, mut stop: watch::Receiver<bool>) {
    let repos = runtime.repositories().clone();
    for (org, key) in repos.all_keys() {
        if *stop.borrow() {
            return;
        }
        let result = tokio::select! {
            r = repos.refresh_if_stale(&org, key.as_str()) => r,
            _ = stop.wait_for(|v| *v) => return,
        };
        if let Err(e) = result {
            runtime.metrics().repo_fetch_error(&org, key.as_str());
            tracing::warn!(org, repository = %key, error = %e, "repository load failed");
        }
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
        let results = tokio::select! {
            r = repos.refresh_stale() => r,
            _ = stop.wait_for(|v| *v) => return,
        };
        for (org, key, result) in results {
            if let Err(e) = result {
                runtime.metrics().repo_fetch_error(&org, key.as_str());
                tracing::warn!(org, repository = %key, error = %e, "repository refresh failed");
            }
        }
    }
}
