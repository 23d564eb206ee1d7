//! `GET /event-routing/catalog[?category=]` and `GET /event-routing/catalog/{event_type}`.
//!
//! The catalog is the same for every org; the routes still need a token (any role).

use axum::Router;
use axum::routing::get;
use serde::Deserialize;

use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::{ApiState, Reader};
use crate::catalog::{Catalog, CatalogEntry, Category};

/// The query of the list route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// `Session`, `Access` or `Alert` (any ASCII case).
    pub category: Option<String>,
}

/// Every entry (or one category's), sorted by name; an unknown category is 400.
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
