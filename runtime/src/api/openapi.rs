//! `GET /openapi.json`: the OpenAPI 3.1 document of the admin API, generated from the code.
//!
//! Each handler carries a `#[utoipa::path]` attribute (route, parameters, body, status
//! codes) next to its code, and the request/response types derive `ToSchema`, so the
//! document changes with them. [`ApiDoc`] collects every handler; `runtime/openapi.json` is
//! a checked-in copy that the `openapi_drift` test compares with [`document_json`] (run
//! `RUNBOX_UPDATE_OPENAPI=1 cargo test -p runbox --test openapi_drift` to refresh it).
//!
//! Unauthenticated, like `/healthz`: the document holds no secret and no org data.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::ApiState;
use super::error::ErrorBody;
use super::{
    agents, audit, catalog, connections, dispatches, events, feature_flags, health, hooks, mapping,
    metrics, runbook_configs, runbooks, sessions, subscriptions, tokens,
};

/// The name of the bearer security scheme the authenticated operations refer to.
pub const BEARER_SCHEME: &str = "bearer_token";

/// The whole API: every route [`super::router`] serves, with its schemas.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "runbox admin API",
        description = "Event routing, runbooks, connections, session hooks and tokens of a \
            runbox server (hoop-compatible routes and bodies). Every error answers \
            `{\"message\", \"code\"}` (`ErrorBody`). Reads need a bearer API token of any \
            role, writes an `admin` one; the org is the token's."
    ),
    paths(
        catalog::list,
        catalog::get_one,
        subscriptions::list,
        subscriptions::create,
        subscriptions::get_one,
        subscriptions::update,
        subscriptions::delete,
        subscriptions::pause,
        subscriptions::resume,
        subscriptions::dispatches,
        dispatches::get_one,
        dispatches::replay,
        mapping::preview,
        events::publish,
        connections::list,
        connections::create,
        connections::get_one,
        connections::update,
        connections::delete,
        agents::get_status,
        agents::put_status,
        feature_flags::get_flags,
        feature_flags::put_flags,
        tokens::list,
        tokens::create,
        tokens::revoke,
        audit::list,
        sessions::open,
        sessions::close,
        hooks::runs,
        hooks::get_settings,
        hooks::put_settings,
        runbooks::list,
        runbooks::exec,
        runbook_configs::list,
        runbook_configs::create,
        runbook_configs::get_one,
        runbook_configs::update,
        runbook_configs::delete,
        runbook_configs::refresh,
        health::healthz,
        health::readyz,
        metrics::metrics,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerToken),
    tags(
        (name = "catalog", description = "The event types events can be published with"),
        (name = "subscriptions", description = "Which runbook runs for which event type"),
        (name = "dispatches", description = "One run of a subscription's runbook for an event"),
        (name = "mapping", description = "Parameter mappings, previewed without dispatching"),
        (name = "events", description = "Publishing events over HTTP"),
        (name = "connections", description = "Where runbooks run; secrets are write-only"),
        (name = "agents", description = "Agent status reported by the gateway"),
        (name = "feature-flags", description = "Per-org feature flags"),
        (name = "tokens", description = "The org's API tokens"),
        (name = "audit", description = "The org's append-only audit record"),
        (name = "sessions", description = "Session hooks fired by the gateway"),
        (name = "hooks", description = "Session hook runs and settings"),
        (name = "runbooks", description = "Runbooks of the org's repositories, and manual runs"),
        (name = "runbook-configurations", description = "The org's runbook repositories"),
        (name = "health", description = "Probes, metrics and this document (no token)"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme the operations' `security` names.
#[derive(Debug)]
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An API token (`runbox token create`, `POST /tokens`) as \
             `Authorization: Bearer <token>`"
                .to_owned(),
        );
        components.add_security_scheme(BEARER_SCHEME, SecurityScheme::Http(http));
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a final newline: what `/openapi.json` answers and
/// what `runtime/openapi.json` holds.
pub fn document_json() -> String {
    // Serializing a tree of strings, maps and numbers cannot fail; an empty document would
    // make the drift test fail loudly.
    let mut text = document().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// Built once: the document only changes with the binary.
static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_json",
    tag = "health",
    responses(
        (status = 200, description = "This document (OpenAPI 3.1)", body = Object, content_type = "application/json"),
    )
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// The schema-only mirrors of types that live outside the API (store, runtime, auth,
/// catalog, routing, hooks, repo, server, host-api) must name the keys and enum values the
/// real types serialize, or the document would describe another shape.
#[cfg(test)]
mod tests;
