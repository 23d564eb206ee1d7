//! A small in-process metrics registry, rendered in the Prometheus text format by
//! `GET /metrics`.
//!
//! Counters are fed at the seams that already see every event: [`MeteredStore`] wraps the
//! store (every publish, claim, finish, requeue and replay passes through it, so dispatch
//! transitions, run durations, fuel and limit hits are counted without touching the
//! workers), manual runs count themselves, and repository figures are read from the
//! registry's status when scraped. Figures are since the process started.

mod registry;
mod render;
mod store;

pub use registry::{Metrics, RUN_DURATION_BUCKETS};
pub use render::render;
pub use store::MeteredStore;

/// Error codes that mean a sandbox limit was hit (counted as `runbox_limit_hits_total`).
pub const LIMIT_CODES: &[&str] = &[
    "fuel_exhausted",
    "deadline_exceeded",
    "memory_limit",
    "stack_overflow",
    "payload_too_large",
    "hostcall_limit",
];
