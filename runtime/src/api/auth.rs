//! Bearer-token extractors: [`Reader`] for reads (any role) and [`Admin`] for writes.
//!
//! The token comes from `Authorization: Bearer <token>`. No token, or one that does not
//! authenticate, is 401 `{"code": "unauthenticated" | "invalid_token"}`; a `read-only`
//! token on a write is 403 `forbidden`. The token text is never logged or echoed: error
//! messages are fixed texts. Which org a request acts on comes only from the token, so
//! another org's objects are simply not found (404).

use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, ApiState};
use crate::auth::{AuthError, Caller};
use crate::dispatch::RoutingServiceError;

/// A caller with any role (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader(pub Caller);

/// A caller with the `admin` role (writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub Caller);

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = match e {
            AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
            AuthError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AuthError::Random(_) => StatusCode::SERVICE_UNAVAILABLE,
            // The same status and code as any other store error (404 for an unknown id).
            AuthError::Store(e) => return RoutingServiceError::Store(e).into(),
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// Middleware: marks `Authorization` sensitive so that `Debug` of the request or its
/// headers (a tracing field, a panic message) prints `Sensitive`, never the token.
pub async fn mark_authorization_sensitive(mut req: Request) -> Request {
    if let Some(value) = req.headers_mut().get_mut(AUTHORIZATION) {
        value.set_sensitive(true);
    }
    req
}

/// The token text of `Authorization: Bearer <token>` (scheme in any ASCII case).
fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    // A header that is not visible ASCII cannot hold a token; say "invalid", not why.
    let value = value.to_str().map_err(|_| AuthError::Invalid)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

async fn caller(parts: &Parts, state: &ApiState) -> Result<Caller, ApiError> {
    let token = bearer(parts)?;
    Ok(state.runtime.authenticate(token).await?)
}

impl FromRequestParts<ApiState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Reader(caller(parts, state).await?))
    }
}

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let c = caller(parts, state).await?;
        if !c.role.can_write() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token's role is {}; this request needs admin", c.role),
            ));
        }
        Ok(Admin(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn authorization_is_sensitive_after_the_middleware() {
        let req = Request::builder()
            .header(AUTHORIZATION, "Bearer rbx_tok_x_0123456789abcdef")
            .body(axum::body::Body::empty())
            .unwrap_or_default();
        let req = mark_authorization_sensitive(req).await;
        let debug = format!("{:?}", req.headers());
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(debug.contains("Sensitive"), "{debug}");
    }
}
