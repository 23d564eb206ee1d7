//! Procedural macros of `runbox-sdk`: `#[derive(Params)]` and `#[runbook]`.
//!
//! Use them through `runbox_sdk` (which documents them); the generated code names
//! `::runbox_sdk`, so the SDK must be a dependency under that name.

use proc_macro::TokenStream;

mod params;
mod runbook;
mod util;

/// See `runbox_sdk::Params`.
#[proc_macro_derive(Params, attributes(param))]
pub fn derive_params(input: TokenStream) -> TokenStream {
    params::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// See `runbox_sdk::runbook`.
#[proc_macro_attribute]
pub fn runbook(args: TokenStream, item: TokenStream) -> TokenStream {
    runbook::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
