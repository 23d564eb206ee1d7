//! The admin HTTP API (hoop's routes, bodies and status codes; see `HOOP-COMPAT.md`).
//!
//! One file per resource, each with its request/response types, handlers and `router()`:
//! [`catalog`], [`subscriptions`], [`dispatches`], [`mapping`]. Every error is an
//! [`ApiError`] (JSON `{"message", "code"}`); handlers take the [`error::Json`],
//! [`error::Query`] and [`error::Path`] extractors so bad input is a 4xx with a message.
//!
//! The caller's org comes from the `x-runbox-org` request header (see [`Org`]). That header
//! is a stand-in for identity: bearer API tokens bound to an org and a role replace it in the
//! next step of the admin API work, and until then this router must only be exposed to
//! trusted callers.

pub mod catalog;
pub mod dispatches;
pub mod error;
pub mod health;
pub mod mapping;
pub mod metrics;
pub mod runbook_configs;
pub mod runbooks;
pub mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

pub use error::{ApiError, ApiResult};

use crate::Runtime;
use crate::server::{RepoConfigs, ServeState};

/// The header naming the caller's org (until bearer tokens carry it).
pub const ORG_HEADER: &str = "x-runbox-org";

/// The actor recorded in the audit trail for writes made through the API (until tokens
/// give each caller an identity).
pub const API_ACTOR: &str = "admin-api";

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

/// The caller's org, from the [`ORG_HEADER`] header. A missing or empty header is 401:
/// the request does not say who it is for. Bearer-token auth replaces this extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Org {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(ORG_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        match value {
            Some(org) => Ok(Org(org.to_owned())),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                format!("missing or empty {ORG_HEADER} header"),
            )),
        }
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
        .merge(health::router())
        .merge(metrics::router())
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
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
