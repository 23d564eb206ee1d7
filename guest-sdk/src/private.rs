//! Support for the code the macros generate. Not a public API: names and signatures
//! change without notice.

use std::io::Write as _;
use std::sync::Once;

pub use serde_json::{Map, Value};

use crate::bindings::runbox::runbook::types as wit;
use crate::context::{Context, Invocation};
use crate::error::{IntoOutput, RunbookError};
use crate::log::{Level, emit};
pub use crate::params::read_field;
use crate::params::{Params, parse_object};

/// What a `#[runbook]` function may return: `Result<O, E>` with `O: IntoOutput` and
/// `E: Into<RunbookError>`.
pub trait IntoRunResult {
    /// The output text, or the error.
    fn into_run_result(self) -> Result<String, RunbookError>;
}

impl<O: IntoOutput, E: Into<RunbookError>> IntoRunResult for Result<O, E> {
    fn into_run_result(self) -> Result<String, RunbookError> {
        self.map(IntoOutput::into_output).map_err(Into::into)
    }
}

/// Compile-time check that a type implements `Params` (spanned at the type).
pub fn assert_params<P: Params>() {}

/// Compile-time check of the return type (spanned at it).
pub fn assert_run_result<R: IntoRunResult>() {}

/// The `describe` export.
pub fn describe<P: Params>(name: &str, description: &str) -> wit::RunbookInfo {
    install_panic_hook();
    wit::RunbookInfo {
        name: name.to_owned(),
        description: description.to_owned(),
        params: P::specs()
            .into_iter()
            .map(crate::params::ParamSpec::into_wit)
            .collect(),
    }
}

/// The `run` export: parses the params, builds the context, calls the function and maps
/// its result.
pub fn run<P: Params, R: IntoRunResult>(
    invocation: wit::Invocation,
    function: impl FnOnce(&Context, P) -> R,
) -> Result<String, wit::RunError> {
    install_panic_hook();
    let invocation = Invocation::from_wit(invocation);
    let params = parse_object(invocation.raw_params())
        .and_then(|map| P::from_params(&map))
        .map_err(|error| RunbookError::from(error).into_wit())?;
    let context = Context::new(invocation);
    function(&context, params)
        .into_run_result()
        .map_err(RunbookError::into_wit)
}

/// Replaces the default panic hook with one that reports a panic as one clean line.
///
/// wasm32-wasip2 builds with `panic = "abort"`: a panic cannot be caught and turned into
/// a `run-error`; it ends in a trap that the host classifies as `guest_panic`, quoting
/// the tail of stderr. The hook logs `runbook panicked at <file:line:col>: <message>` at
/// `error` through the `log` import (so it sits with the run's other log lines) and
/// writes the same line to stderr (for the host's trap report). The words `panicked at`
/// are kept from the default hook's wording on purpose.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            let line = panic_line(
                info.location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                message,
            );
            emit(Level::Error, &line);
            if crate::IN_SANDBOX {
                // Nothing sensible to do if stderr itself fails.
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }));
    });
}

fn panic_line(location: Option<String>, message: &str) -> String {
    match location {
        Some(location) => format!("runbook panicked at {location}: {message}"),
        None => format!("runbook panicked: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_line_format() {
        assert_eq!(
            panic_line(Some("src/lib.rs:3:5".into()), "fixture panic: boom"),
            "runbook panicked at src/lib.rs:3:5: fixture panic: boom"
        );
        assert_eq!(panic_line(None, "x"), "runbook panicked: x");
    }

    #[test]
    fn run_maps_params_errors_and_results() {
        fn invocation(params: &str) -> wit::Invocation {
            wit::Invocation {
                dispatch_id: "d-1".into(),
                attempt: 1,
                trigger: wit::Trigger::Manual,
                payload: "{}".into(),
                params: params.into(),
                connection: None,
            }
        }
        let ok = run::<(), _>(invocation(""), |ctx, ()| {
            Ok::<_, RunbookError>(ctx.invocation().dispatch_id().to_owned())
        });
        assert_eq!(ok.unwrap(), "d-1");

        let failed = run::<(), _>(invocation("{}"), |_, ()| {
            Err::<String, _>(RunbookError::retryable("later"))
        });
        assert!(matches!(failed, Err(wit::RunError::Retryable(m)) if m == "later"));

        let not_object = run::<(), _>(invocation("[1]"), |_, ()| Ok::<_, RunbookError>(()));
        match not_object {
            Err(wit::RunError::InvalidParams(p)) => {
                assert!(p.missing.is_empty());
                assert_eq!(p.message, "params: expected a JSON object, got an array");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn describe_maps_specs() {
        let info = describe::<()>("noop", "does nothing");
        assert_eq!(info.name, "noop");
        assert_eq!(info.description, "does nothing");
        assert!(info.params.is_empty());
    }
}
