//! `GET /event-routing/catalog[?category=]` and `GET /event-routing/catalog/{event_type}`.
//!
//! The catalog is the same for every org; the routes still need a token (any role).

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use super::{ApiState, Reader};
use crate::catalog::{Catalog, CatalogEntry, Category};

// Schema only (`/openapi.json`): the shape of [`CatalogEntry`] (catalog module); a test in `api::openapi`
// checks it against the real type.
/// One event type of the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CatalogEntry)]
pub struct CatalogEntrySchema {
    /// The event type, e.g. `session.closed`.
    pub name: String,
    pub category: CategorySchema,
    pub description: String,
    /// The payload's fields: the base fields first, then the event's own.
    pub schema: Vec<FieldSpecSchema>,
    /// A payload that validates against `schema`; previews render against it.
    pub sample_payload: serde_json::Value,
}

/// The group of an event type.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = Category)]
pub enum CategorySchema {
    Session,
    Access,
    Alert,
}

/// One field of an event payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FieldSpec)]
pub struct FieldSpecSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldTypeSchema,
    pub required: bool,
}

/// The JSON type of a payload field.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = FieldType)]
pub enum FieldTypeSchema {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "int")]
    Int,
    #[serde(rename = "string[]")]
    StringArray,
}

/// The query of the list route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// `Session`, `Access` or `Alert` (any ASCII case).
    pub category: Option<String>,
}

/// Every entry (or one category's), sorted by name; an unknown category is 400.
#[utoipa::path(
    get,
    path = "/event-routing/catalog",
    operation_id = "list_catalog",
    tag = "catalog",
    params(CatalogQuery),
    responses(
        (status = 200, description = "The entries (`name`, `category`, `description`, `schema`, `sample_payload`)", body = Vec<CatalogEntrySchema>),
        (status = 400, description = "Unknown category or query parameter", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    _caller: Reader,
    Query(q): Query<CatalogQuery>,
) -> ApiResult<Json<Vec<CatalogEntry>>> {
    let category = match q.category.as_deref() {
        None => None,
        Some(text) => Some(Category::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("unknown category \"{text}\" (expected Session, Access or Alert)"),
            )
        })?),
    };
    Ok(Json(
        Catalog::builtin()
            .list(category)
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// One entry, or 404 `{"message":"event type not found"}`.
#[utoipa::path(
    get,
    path = "/event-routing/catalog/{event_type}",
    operation_id = "get_catalog_entry",
    tag = "catalog",
    params(("event_type" = String, Path, description = "An event type, e.g. `session.closed`")),
    responses(
        (status = 200, description = "The entry", body = CatalogEntrySchema),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 404, description = "Unknown event type", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_one(
    _caller: Reader,
    Path(event_type): Path<String>,
) -> ApiResult<Json<CatalogEntry>> {
    Catalog::builtin()
        .get(&event_type)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("event type not found"))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/event-routing/catalog", get(list))
        .route("/event-routing/catalog/{event_type}", get(get_one))
}
