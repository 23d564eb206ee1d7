//! Compile-fail checks of the macros, run as doctests (`cargo test -p runbox-sdk --doc`).
//! The exact messages are unit-tested in `runbox-sdk-macros`; these make sure the
//! errors surface through the real macro entry points.
//!
//! Derive on an enum:
//! ```compile_fail
//! #[derive(runbox_sdk::Params)]
//! enum E { A }
//! ```
//!
//! Unknown attribute key:
//! ```compile_fail
//! #[derive(runbox_sdk::Params)]
//! struct P {
//!     #[param(colour = "red")]
//!     a: String,
//! }
//! ```
//!
//! Unknown kind:
//! ```compile_fail
//! #[derive(runbox_sdk::Params)]
//! struct P {
//!     #[param(kind = "mail")]
//!     a: String,
//! }
//! ```
//!
//! A field type that is not a `ParamValue`:
//! ```compile_fail
//! struct NotAParam;
//! #[derive(runbox_sdk::Params)]
//! struct P {
//!     a: NotAParam,
//! }
//! ```
//!
//! Context by value:
//! ```compile_fail
//! use runbox_sdk::prelude::*;
//! #[runbook]
//! fn run(ctx: Context) -> Result<String, RunbookError> { Ok(String::new()) }
//! # fn main() {}
//! ```
//!
//! No return type:
//! ```compile_fail
//! use runbox_sdk::prelude::*;
//! #[runbook]
//! fn run(ctx: &Context) {}
//! # fn main() {}
//! ```
//!
//! A params type that is not `Params`:
//! ```compile_fail
//! use runbox_sdk::prelude::*;
//! struct NotParams;
//! #[runbook]
//! fn run(ctx: &Context, p: NotParams) -> Result<String, RunbookError> { Ok(String::new()) }
//! # fn main() {}
//! ```
//!
//! An output type that is not `IntoOutput`:
//! ```compile_fail
//! use runbox_sdk::prelude::*;
//! #[runbook]
//! fn run(ctx: &Context) -> Result<u32, RunbookError> { Ok(1) }
//! # fn main() {}
//! ```
//!
//! The same things, valid, do compile:
//! ```
//! use runbox_sdk::prelude::*;
//! #[derive(Params)]
//! struct P {
//!     a: String,
//! }
//! #[runbook]
//! fn run(ctx: &Context, p: P) -> Result<String, RunbookError> { Ok(p.a) }
//! # fn main() {}
//! ```
