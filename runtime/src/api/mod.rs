//! The admin HTTP API (hoop's routes, bodies and status codes; see `HOOP-COMPAT.md`).
//!
//! One file per resource, each with its request/response types, handlers and `router()`.
//! Every error is an
//! [`ApiError`] (JSON `{"message", "code"}`); handlers take the [`error::Json`],
//! [`error::Query`] and [`error::Path`] extractors so bad input is a 4xx with a message.
//!
//! Every route needs a bearer API token (see [`auth`]): reads take the [`Reader`]
//! extractor (any role), writes [`Admin`]. The org a request acts on is the token's, and
//! every write is audited with the token's identity (`token:<id>`).
//!
//! Resources: [`catalog`], [`subscriptions`], [`dispatches`], [`mapping`], [`events`],
//! [`connections`], [`agents`], [`feature_flags`], [`tokens`], [`audit`]. [`openapi`] serves the
//! OpenAPI document generated from the handlers (`GET /openapi.json`, no token).

pub mod agents;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod connections;
pub mod dispatches;
pub mod error;
pub mod events;
pub mod feature_flags;
pub mod health;
pub mod hooks;
pub mod mapping;
pub mod metrics;
pub mod openapi;
pub mod panic;
pub mod runbook_configs;
pub mod runbooks;
pub mod secret_input;
pub mod sessions;
pub mod subscriptions;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;

pub use auth::{Admin, Reader};
pub use error::{ApiError, ApiResult};

use crate::Runtime;
use crate::server::{RepoConfigs, ServeState};

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub runtime: Arc<Runtime>,
    /// Largest request body accepted, in bytes; a larger one is answered 413.
    pub body_limit: usize,
    /// Repository configurations and lifecycle (`runbox serve` supplies a persisted one).
    pub serve: Arc<ServeState>,
}

impl ApiState {
    pub fn new(runtime: Arc<Runtime>) -> Self {
        let configs = RepoConfigs::in_memory(runtime.repositories().clone());
        ApiState {
            runtime,
            body_limit: DEFAULT_BODY_LIMIT,
            serve: Arc::new(ServeState::new(configs)),
        }
    }

    /// Uses the server's state (persisted repository configurations, lifecycle).
    pub fn with_serve(mut self, serve: Arc<ServeState>) -> Self {
        self.serve = serve;
        self
    }

    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// The whole admin API over `state`.
pub fn router(state: ApiState) -> Router {
    let limit = state.body_limit;
    Router::new()
        .merge(catalog::router())
        .merge(subscriptions::router())
        .merge(dispatches::router())
        .merge(mapping::router())
        .merge(events::router())
        .merge(connections::router())
        .merge(agents::router())
        .merge(feature_flags::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(sessions::router())
        .merge(hooks::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .merge(runbooks::router())
        .merge(runbook_configs::router())
        .fallback(|| async { ApiError::not_found("route not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(axum::middleware::map_request(
            auth::mark_authorization_sensitive,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(panic::catch_panic))
        .with_state(state)
}
