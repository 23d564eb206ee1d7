//! runbox runtime.
