//! Paths of built guest components.
