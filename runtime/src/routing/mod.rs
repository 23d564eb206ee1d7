//! Event routing, the pure part: a subscription's parameter mapping (RFC 9535 JSONPath via
//! `serde_json_path`, parsed once), its save-time checks against the event catalog, and
//! rendering a payload into a runbook's typed params. No storage and no wasm here: the
//! dispatcher and the admin API call these functions.
//!
//! Layout: [`path`] (one compiled path, `query`), [`mapping`] (mapping types, validation,
//! pre-match, required check), [`render`] (render and preview), [`error`].

pub mod error;
pub mod mapping;
pub mod path;
pub mod render;

pub use error::{ParamError, ParamErrorCode, RenderErrors, RoutingError};
pub use mapping::{CompiledMapping, ParameterMapping, check_required, prematch, validate_mapping};
pub use path::{CompiledPath, PathRoot, compile, query};
pub use render::{PreviewResult, preview, render};

#[cfg(test)]
mod tests;
