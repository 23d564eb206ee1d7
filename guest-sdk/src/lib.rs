//! Write runbox runbooks and session hooks in Rust: one function, a typed params struct,
//! a typed context.
//!
//! A runbook is a WASI component (`wasm32-wasip2`) targeting the `runbook` world of
//! `runbox:runbook` (the repository's `wit/`). This crate generates the bindings, and its
//! two macros write the exports for you:
//!
//! - [`#[derive(Params)]`](derive@Params) declares the params (`describe`) and parses
//!   them (`run`), collecting every missing or badly typed one into a single
//!   `invalid-params` error;
//! - [`#[runbook]`](macro@runbook) turns a function `fn(&Context, P) -> Result<O, E>` into
//!   the component's `describe` and `run` exports.
//!
//! # Example
//! ```rust,standalone_crate
//! use runbox_sdk::prelude::*;
//!
//! #[derive(Debug, Params)]
//! struct Revoke {
//!     /// The AI agent's user.
//!     #[param(kind = "email")]
//!     agent_user: String,
//!     /// The connection to revoke access to.
//!     connection_name: String,
//!     /// How long the revocation lasts.
//!     #[param(default = 15)]
//!     ttl_minutes: u32,
//!     note: Option<String>,
//! }
//!
//! /// Revokes an AI agent's access when PII is detected.
//! #[runbook(name = "revoke-ai-agent-access")]
//! fn run(ctx: &Context, params: Revoke) -> Result<String, RunbookError> {
//!     let inv = ctx.invocation();
//!     ctx.log().info(format!(
//!         "revoking {} on {} for {} min (attempt {}, {})",
//!         params.agent_user,
//!         params.connection_name,
//!         params.ttl_minutes,
//!         inv.attempt(),
//!         inv.trigger(),
//!     ));
//!     if let Some(note) = &params.note {
//!         ctx.log().debug(format!("note: {note}"));
//!     }
//!     // Side effects are keyed by the dispatch id, stable across retries.
//!     let statement = format!(
//!         "-- {}\nREVOKE CONNECT ON DATABASE app FROM \"{}\";",
//!         inv.dispatch_id(),
//!         params.agent_user,
//!     );
//!     match ctx.connection().exec(&statement) {
//!         Ok(output) => Ok(output.success()?),
//!         // The agent may come back: let the retry policy try again.
//!         Err(error) if error.is_retryable() => Err(RunbookError::retryable(error)),
//!         Err(error) => Err(error.into()),
//!     }
//! }
//!
//! # fn main() {
//! // `describe` is what the host sees at load time.
//! let specs = Revoke::specs();
//! assert_eq!(specs[0].name, "agent_user");
//! assert_eq!(specs[0].kind, ParamKind::Email);
//! assert_eq!(specs[0].description.as_deref(), Some("The AI agent's user."));
//! assert!(specs[0].required);
//! assert_eq!(specs[2].default.as_deref(), Some("15"));
//! assert!(!specs[2].required && !specs[3].required);
//!
//! // Params arrive as a JSON object; numbers may come as strings.
//! let params = serde_json::json!({
//!     "agent_user": "bot@example.com",
//!     "connection_name": "pg-prod",
//!     "ttl_minutes": "30",
//! });
//! let parsed = Revoke::from_params(params.as_object().unwrap()).unwrap();
//! assert_eq!(parsed.ttl_minutes, 30);
//!
//! // Every problem is reported at once.
//! let bad = serde_json::json!({"ttl_minutes": "abc"});
//! let error = Revoke::from_params(bad.as_object().unwrap()).unwrap_err();
//! assert_eq!(error.missing(), ["agent_user", "connection_name"]);
//! assert_eq!(
//!     error.to_string(),
//!     r#"the following inputs are missing [agent_user, connection_name]; ttl_minutes: expected a number, got "abc""#,
//! );
//!
//! // Off the sandbox the capabilities are stubs, so the function runs in plain tests.
//! let ctx = Context::new(Invocation::new("dispatch-1", Trigger::Manual));
//! let result = run(&ctx, parsed);
//! assert_eq!(result, Err(RunbookError::failed("exec: this run has no connection bound")));
//! # }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` from a crate with
//! `crate-type = ["cdylib"]`; the `.wasm` in `target/wasm32-wasip2/release/` is the
//! component.
//!
//! # The pieces
//! - [`Context`]: the [`Invocation`] (dispatch id, attempt, [`Trigger`], payload,
//!   connection info) and the host capabilities: [`Context::log`],
//!   [`Context::connection`] (`exec`), [`Context::config`] (`get`), [`Context::http`]
//!   (outbound HTTP over `wasi:http`). Each is deny-by-default on the host and answers
//!   with an error value when not granted.
//! - [`RunbookError`]: `failed`, `retryable` or `invalid_params`; any
//!   `std::error::Error` converts into `failed` with `?`, and [`ResultExt::retryable`]
//!   marks a failure as worth retrying.
//! - [`params`]: the conversion rules (a number may arrive as a string, a string param
//!   accepts numbers and booleans, `null` counts as absent).
//!
//! # Panics
//! `wasm32-wasip2` aborts on panic: a panic cannot be caught and turned into a
//! `run-error`. The run ends in a trap that the host reports as `guest_panic` together
//! with the tail of stderr. The generated exports install a panic hook that logs
//! `runbook panicked at <file>:<line>:<col>: <message>` at `error` through the `log`
//! import and writes the same single line to stderr, so the report says what happened.
//! Return a [`RunbookError`] for failures you expect.
//!
//! # Plain commands
//! A plain `wasi:cli/command` (a binary with `fn main`) is a runbook too, without this
//! crate: params arrive as environment variables, the payload in
//! `HOOP_RUNBOOK_HOOK_PAYLOAD`, and exit code 0 is success.

mod config;
mod connection;
mod context;
mod error;
pub mod http;
mod log;
pub mod params;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The generated `wit-bindgen` bindings of the `runbook` world (with `wasi:http`).
///
/// `#[runbook]` uses them; you normally don't. They are not a stable API of this crate.
#[doc(hidden)]
#[allow(unsafe_code, missing_debug_implementations, rust_2018_idioms)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "runbook",
        path: "../wit",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "runbox_sdk::bindings",
    });
}

/// Whether the host capabilities are real (inside the runbox sandbox) or stubs (unit
/// tests and doctests on the build machine).
pub(crate) const IN_SANDBOX: bool = cfg!(target_arch = "wasm32");

/// The `serde_json` this crate uses (payloads, params and outputs are JSON), re-exported
/// so a runbook needs no dependency of its own: `runbox_sdk::serde_json::json!`.
pub use serde_json;

pub use config::{Config, ConfigError};
pub use connection::{Connection, ExecError, ExecOutput};
pub use context::{ConnectionInfo, Context, HookKind, Invocation, Trigger};
pub use error::{IntoOutput, ResultExt, RunbookError};
pub use http::{Http, HttpError, Response};
pub use log::{Level, Log};
pub use params::{Json, ParamKind, ParamSpec, ParamValue, Params, ParamsError};

/// Derives [`Params`] for a struct with named fields.
///
/// Each field is one param. Its kind comes from the field type ([`ParamValue::KIND`]:
/// `String` → `text`, integers and floats → `number`, `bool` → `boolean`, `Vec`, maps and
/// `serde_json::Value` → `json`); it is required unless it is an `Option` or has a
/// default; its description is the field's doc comment.
///
/// Field attributes, `#[param(...)]`:
///
/// | key | meaning |
/// |---|---|
/// | `kind = "email"` | any WIT `param-kind`: text, number, boolean, json, tel, time, date, url, email, select, textarea, password, file |
/// | `default = 15` | a literal (string, integer, float, bool), stored as JSON text; makes the param optional |
/// | `default_json = "[1, 2]"` | a default given as JSON text |
/// | `description = "..."` | instead of the doc comment |
/// | `placeholder = "..."` | hint text for forms |
/// | `options = ["a", "b"]` | allowed values; the kind becomes `select` unless given |
/// | `order = 3` | position in forms (default: the field position, from 0) |
/// | `rename = "other-name"` | the param name (default: the field name) |
/// | `json` | parse the field with `serde` (`T: DeserializeOwned`), kind `json` |
///
/// ```
/// use runbox_sdk::{ParamKind, Params};
///
/// #[derive(Params)]
/// struct Rotate {
///     /// Where the key lives.
///     #[param(options = ["eu-west-1", "us-east-1"], default = "eu-west-1")]
///     region: String,
///     #[param(rename = "dry-run", default = false)]
///     dry_run: bool,
///     #[param(json)]
///     labels: Option<std::collections::BTreeMap<String, String>>,
/// }
///
/// let specs = Rotate::specs();
/// assert_eq!(specs[0].kind, ParamKind::Select);
/// assert_eq!(specs[0].default.as_deref(), Some(r#""eu-west-1""#));
/// assert_eq!(specs[1].name, "dry-run");
/// assert_eq!(specs[2].kind, ParamKind::Json);
/// ```
pub use runbox_sdk_macros::Params;

/// Turns a function into the component's `describe` and `run` exports.
///
/// The function takes `&Context` and optionally a [`Params`] type, and returns
/// `Result<O, E>` where `O` is [`IntoOutput`] (`String`, `&str`, `serde_json::Value`,
/// `()`) and `E: Into<RunbookError>` (`RunbookError` itself, or any
/// `std::error::Error`).
///
/// Arguments: `name = "..."` (default: the crate name) and `description = "..."`
/// (default: the function's doc comment, else the crate description). One `#[runbook]`
/// per component.
///
/// ```rust,standalone_crate
/// use runbox_sdk::prelude::*;
///
/// /// Does nothing, quickly.
/// #[runbook(name = "noop")]
/// fn run(_ctx: &Context) -> Result<&'static str, RunbookError> {
///     Ok("ok")
/// }
/// # fn main() {
/// #     let ctx = Context::new(Invocation::new("d", Trigger::Manual));
/// #     assert_eq!(run(&ctx), Ok("ok"));
/// # }
/// ```
pub use runbox_sdk_macros::runbook;

/// Everything a runbook usually needs: `use runbox_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ConfigError, Context, ExecError, ExecOutput, HookKind, HttpError, Invocation, Json, Level,
        ParamKind, Params, ParamsError, ResultExt, RunbookError, Trigger, runbook,
    };
}

#[cfg(doctest)]
mod compile_fail;
