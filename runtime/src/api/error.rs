//! The one error type of the admin API, and the extractors that turn axum's rejections into
//! it.
//!
//! Every failure answers JSON `{"message": ..., "code": ...}` (hoop's `{"message"}` plus a
//! stable `code`). Input problems (malformed JSON, wrong types, unknown fields, bad query
//! values, oversized bodies) are 4xx with a message naming what is wrong; a 5xx only comes
//! from a real server fault and is logged.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::dispatch::RoutingServiceError;

/// An HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable (`not_found`, `invalid_json`, `conflict`, ...).
    pub code: &'static str,
    /// For a human: what is wrong.
    pub message: String,
}

/// The JSON body of every error answer (also the `ErrorBody` schema of `/openapi.json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(examples(json!({"message": "subscription not found", "code": "not_found"})))]
pub struct ErrorBody {
    /// For a human: what is wrong.
    pub message: String,
    /// Stable, machine-readable (`not_found`, `invalid_json`, `conflict`, ...).
    pub code: &'static str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = self.code, message = %self.message, "admin API server error");
        }
        let body = ErrorBody {
            message: self.message,
            code: self.code,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tell the client which scheme to use.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"runbox\""),
            );
        }
        response
    }
}

impl From<RoutingServiceError> for ApiError {
    fn from(e: RoutingServiceError) -> Self {
        let status = StatusCode::from_u16(e.class().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The finer code (`duplicate_name`, `replay_conflict`, ...) tells a client more than
        // the class-level `conflict`.
        ApiError::new(status, e.detail_code(), e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let message = r.body_text();
        match &r {
            JsonRejection::JsonDataError(_) => ApiError::bad_request("invalid_body", message),
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("invalid_json", message),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message,
            ),
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is larger than the configured limit",
            ),
            _ => ApiError::bad_request("invalid_body", message),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

/// Every path parameter of the API is an id, a name or an event type, so one that does
/// not even decode (bad percent-encoding, invalid UTF-8) names no object: 404, as hoop
/// answers for an id it does not know, rather than 400.
impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(_) => {
                ApiError::not_found("not found (the path holds a malformed id)")
            }
            // A route without the parameter its handler reads: a server bug.
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.body_text(),
            ),
        }
    }
}

/// `axum::Json` whose rejection is an [`ApiError`]; also a JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is an [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` whose rejection is an [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
