//! The one error type of the routing service ([`crate::Runtime`]'s event-routing calls).
//!
//! Why one enum over the layers' own errors: the admin API and an embedding gateway need a
//! stable `code` and an HTTP-like class for every failure, whichever layer it came from,
//! while the message stays the layer's own (hoop's texts where users know them).

use crate::catalog::PayloadError;
use crate::error::{RepoError, StoreError};
use crate::routing::RoutingError;

/// What went wrong in a routing call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingServiceError {
    /// The org has not turned on `experimental.event_routing`.
    #[error(
        "event routing is disabled for org \"{org}\" (turn on the experimental.event_routing flag)"
    )]
    FeatureDisabled { org: String },

    /// Unknown event type or a payload that breaks its schema.
    #[error(transparent)]
    Payload(#[from] PayloadError),

    /// Invalid mapping or missing inputs.
    #[error(transparent)]
    Routing(#[from] RoutingError),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Repo(#[from] RepoError),

    /// The connection exists but runbooks may not run on it.
    #[error(
        "connection \"{name}\" does not allow runbooks (attach the runbooks plugin and enable the runbooks access mode)"
    )]
    RunbooksNotAllowed { name: String },

    #[error("payload is {size} bytes; the limit is {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },

    /// A request that is malformed in a way no layer below checks.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The class of an error, for an HTTP status or a caller's retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 400: the request is wrong.
    BadRequest,
    /// 403: the feature is off for the org.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 413.
    TooLarge,
    /// 503: a dependency (storage, git) failed; try again.
    Unavailable,
}

impl ErrorClass {
    /// The HTTP status the admin API answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorClass::BadRequest => 400,
            ErrorClass::Forbidden => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::Conflict => 409,
            ErrorClass::TooLarge => 413,
            ErrorClass::Unavailable => 503,
        }
    }
}

impl RoutingServiceError {
    /// A stable machine-readable code (`feature_disabled`, `unknown_event_type`,
    /// `invalid_payload`, `invalid_mapping`, `param_missing`, `not_found`, `conflict`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            RoutingServiceError::FeatureDisabled { .. } => "feature_disabled",
            RoutingServiceError::Payload(e) => e.code(),
            RoutingServiceError::Routing(e) => e.code(),
            RoutingServiceError::Store(e) => match e {
                StoreError::NotFound { .. } => "not_found",
                StoreError::DuplicateName { .. }
                | StoreError::ConnectionInUse { .. }
                | StoreError::ReplayRefused { .. }
                | StoreError::InvalidTransition { .. } => "conflict",
                other => other.code(),
            },
            RoutingServiceError::Repo(e) => e.code(),
            RoutingServiceError::RunbooksNotAllowed { .. } => "runbooks_not_allowed",
            RoutingServiceError::PayloadTooLarge { .. } => "payload_too_large",
            RoutingServiceError::Invalid { .. } => "invalid_request",
        }
    }

    /// The finer code of the layer below, where it has one (`duplicate_name`,
    /// `replay_conflict`, `connection_in_use`, ...); else [`Self::code`].
    pub fn detail_code(&self) -> &'static str {
        match self {
            RoutingServiceError::Store(e) => e.code(),
            other => other.code(),
        }
    }

    /// The class of the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            RoutingServiceError::FeatureDisabled { .. } => ErrorClass::Forbidden,
            RoutingServiceError::Payload(_)
            | RoutingServiceError::Routing(_)
            | RoutingServiceError::RunbooksNotAllowed { .. }
            | RoutingServiceError::Invalid { .. } => ErrorClass::BadRequest,
            RoutingServiceError::PayloadTooLarge { .. } => ErrorClass::TooLarge,
            RoutingServiceError::Store(e) => match e {
                StoreError::NotFound { .. } => ErrorClass::NotFound,
                StoreError::UnknownConnection { .. } | StoreError::Invalid { .. } => {
                    ErrorClass::BadRequest
                }
                StoreError::DuplicateName { .. }
                | StoreError::ConnectionInUse { .. }
                | StoreError::ReplayRefused { .. }
                | StoreError::InvalidTransition { .. } => ErrorClass::Conflict,
                _ => ErrorClass::Unavailable,
            },
            RoutingServiceError::Repo(e) => match e {
                RepoError::Fetch { .. } | RepoError::FetchTimeout { .. } => ErrorClass::Unavailable,
                _ => ErrorClass::BadRequest,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_classes_are_stable() {
        let e = RoutingServiceError::Store(StoreError::ReplayRefused { status: "pending" });
        assert_eq!(e.code(), "conflict");
        assert_eq!(e.detail_code(), "replay_conflict");
        assert_eq!(e.class().http_status(), 409);
        assert_eq!(e.to_string(), "cannot replay a dispatch that is pending");
        let off = RoutingServiceError::FeatureDisabled { org: "acme".into() };
        assert_eq!(off.code(), "feature_disabled");
        let nf = RoutingServiceError::Store(StoreError::NotFound {
            kind: "dispatch",
            id: "x".into(),
        });
        assert_eq!((nf.code(), nf.class()), ("not_found", ErrorClass::NotFound));
    }
}
