//! Why an event type or payload is refused at publish time.

/// A payload or event type the catalog refuses. Every message names the offending field (or
/// type) and what is wrong, so the producer can fix it without reading the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The event type is not in the catalog; `known` lists every type, sorted.
    #[error("unknown event type \"{name}\" (known: {})", .known.join(", "))]
    UnknownEventType { name: String, known: Vec<String> },

    /// The payload is not a JSON object.
    #[error("payload of {event_type} must be a JSON object, got {got}")]
    NotAnObject { event_type: String, got: String },

    /// A required field is absent.
    #[error("missing required field `{field}`")]
    MissingField { field: String },

    /// A field has the wrong JSON type; `got` is the offending value as JSON (shortened).
    #[error("field `{field}` must be {expected}, got {got}")]
    WrongType {
        field: String,
        expected: &'static str,
        got: String,
    },

    /// A field has the right type but breaks a stated rule (email, timestamp, size, order).
    #[error("field `{field}` {reason}")]
    InvalidValue { field: String, reason: String },
}

impl PayloadError {
    /// A stable code for APIs (`unknown_event_type`, `invalid_payload`).
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::UnknownEventType { .. } => "unknown_event_type",
            _ => "invalid_payload",
        }
    }

    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            PayloadError::MissingField { field }
            | PayloadError::WrongType { field, .. }
            | PayloadError::InvalidValue { field, .. } => Some(field),
            _ => None,
        }
    }
}
