//! Host bindings generated from `wit/runbook.wit` (world `runbook`).
//!
//! The WIT is read from the repository's one `wit/` directory so that host and guest can
//! never disagree about the contract. `wasi:http`, `wasi:io` and `wasi:clocks` are mapped
//! onto wasmtime-wasi(-http)'s own bindings: the resource types (`outgoing-request`,
//! `pollable`, ...) are then the very same Rust types in the runbook world and in the WASI
//! linker, so one linker serves both plain commands and runbook components.

#![allow(missing_docs, reason = "bindgen-generated code")]
#![allow(missing_debug_implementations, reason = "bindgen-generated code")]
#![allow(unsafe_code, reason = "bindgen-generated typed-function accessors")]
#![allow(
    unused_variables,
    reason = "bindgen-generated code for a function-less interface"
)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "runbook",
    imports: { default: async | trappable },
    exports: { default: async },
    require_store_data_send: true,
    additional_derives: [
        Clone,
        PartialEq,
        serde::Serialize,
        serde::Deserialize,
    ],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});
