//! Paths of the guest components built for the tests, benchmarks and the demo.
//!
//! `build.rs` compiles `tests/fixtures/*` and `examples/*` to `wasm32-wasip2`; this crate
//! exposes each artifact as a constant (`fixtures::ECHO_PARAMS`, `examples::SIEM_FORWARD`,
//! ...) and every set as `ALL`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
