//! Errors of mapping validation and rendering, each with a stable code so the admin API can
//! answer 400 with `{code, message}` and a worker can store the code in `last_error`.

use serde::{Deserialize, Serialize};

use crate::catalog::PayloadError;

/// A mapping (or the event it is for) that cannot be saved or previewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// Unknown event type, or a payload that breaks its schema.
    #[error(transparent)]
    Payload(#[from] PayloadError),

    /// A mapping path does not parse as RFC 9535 JSONPath.
    #[error("parameter `{param}`: invalid JSONPath {path:?}: {reason}")]
    InvalidPath {
        param: String,
        path: String,
        reason: String,
    },

    /// A mapping path starts from a field the event type does not have.
    #[error(
        "parameter `{param}`: field `{field}` (from {path:?}) is not in the schema of \
         {event_type} (fields: {})",
        .known.join(", ")
    )]
    UnknownField {
        param: String,
        path: String,
        field: String,
        event_type: String,
        known: Vec<String>,
    },

    /// Required runbook params (required and no default) left unmapped. hoop's wording.
    #[error("the following inputs are missing [{}]", .0.join(", "))]
    MissingInputs(Vec<String>),
}

impl RoutingError {
    /// A stable code: `unknown_event_type`, `invalid_payload`, `invalid_mapping`,
    /// `param_missing`.
    pub fn code(&self) -> &'static str {
        match self {
            RoutingError::Payload(e) => e.code(),
            RoutingError::InvalidPath { .. } | RoutingError::UnknownField { .. } => {
                "invalid_mapping"
            }
            RoutingError::MissingInputs(_) => ParamErrorCode::Missing.as_str(),
        }
    }

    /// The mapping parameter the error is about, if one.
    pub fn param(&self) -> Option<&str> {
        match self {
            RoutingError::InvalidPath { param, .. } | RoutingError::UnknownField { param, .. } => {
                Some(param)
            }
            _ => None,
        }
    }
}

/// The code of one parameter's problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamErrorCode {
    /// No value: the path selected nothing and there is no default, or a required param is
    /// not mapped at all.
    #[serde(rename = "param_missing")]
    Missing,
    /// A value could not be produced (a default that is not JSON text).
    #[serde(rename = "param_render")]
    Render,
    /// The mapping itself is wrong (bad path, field not in the schema); only in previews,
    /// since a saved mapping was validated.
    #[serde(rename = "invalid_mapping")]
    InvalidMapping,
}

impl ParamErrorCode {
    /// The wire spelling (`param_missing`, `param_render`, `invalid_mapping`).
    pub fn as_str(self) -> &'static str {
        match self {
            ParamErrorCode::Missing => "param_missing",
            ParamErrorCode::Render => "param_render",
            ParamErrorCode::InvalidMapping => "invalid_mapping",
        }
    }
}

impl std::fmt::Display for ParamErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parameter's problem: `{"param","code","message"}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamError {
    pub param: String,
    pub code: ParamErrorCode,
    pub message: String,
}

/// Every parameter that failed to render, so one failed dispatch reports all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderErrors {
    pub errors: Vec<ParamError>,
}

impl RenderErrors {
    /// `param_missing` when any param is missing (the error hoop users know), otherwise
    /// `param_render`.
    pub fn code(&self) -> &'static str {
        if self.missing().next().is_some() {
            ParamErrorCode::Missing.as_str()
        } else {
            ParamErrorCode::Render.as_str()
        }
    }

    fn missing(&self) -> impl Iterator<Item = &ParamError> {
        self.errors
            .iter()
            .filter(|e| e.code == ParamErrorCode::Missing)
    }
}

/// hoop's `the following inputs are missing [a, b]` for the missing ones, then each other
/// problem as `param `x`: message`, separated by `; `.
impl std::fmt::Display for RenderErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let missing: Vec<&str> = self.missing().map(|e| e.param.as_str()).collect();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "the following inputs are missing [{}]",
                missing.join(", ")
            ));
        }
        for e in self
            .errors
            .iter()
            .filter(|e| e.code != ParamErrorCode::Missing)
        {
            parts.push(format!("parameter `{}`: {}", e.param, e.message));
        }
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for RenderErrors {}
