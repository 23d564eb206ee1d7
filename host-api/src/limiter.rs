//! The store's own [`ResourceLimiter`]: caps linear memory, records the peak, and fails an
//! over-cap grow with a typed error.
//!
//! Stock `StoreLimits` makes a refused grow look like `memory.grow` returning -1, which a
//! Rust guest turns into an allocation-failure abort: indistinguishable from a panic. Here
//! an over-cap grow traps with [`HostError::MemoryLimit`] instead, so the run is classified
//! `memory_limit` with the cap and the requested size.

use crate::error::HostError;
use wasmtime::ResourceLimiter;

/// Most core instances a component may create (a Rust component has a handful).
const MAX_INSTANCES: usize = 100;
/// Most tables a store may create.
const MAX_TABLES: usize = 100;
/// Most linear memories a store may create.
const MAX_MEMORIES: usize = 16;
/// Most elements one table may hold (each one costs the host a pointer).
const MAX_TABLE_ELEMENTS: usize = 200_000;

/// Memory accounting for one store.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    cap: u64,
    /// Sum of the current sizes of all linear memories.
    total: u64,
    peak: u64,
    /// The last permitted growth, undone if the grow then fails.
    last_growth: u64,
    exceeded: Option<(u64, u64)>,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes over all linear memories together.
    pub fn new(cap: u64) -> Self {
        MemoryLimiter {
            cap,
            total: 0,
            peak: 0,
            last_growth: 0,
            exceeded: None,
        }
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// The largest total linear memory the store reached, in bytes.
    pub fn peak_bytes(&self) -> u64 {
        self.peak
    }

    /// The refused request as `(cap, requested)`, if a grow went over the cap.
    pub fn exceeded(&self) -> Option<(u64, u64)> {
        self.exceeded
    }

    /// Accounts a growth of one memory from `current` to `desired` bytes.
    fn grow(&mut self, current: usize, desired: usize) -> Result<bool, HostError> {
        let growth = (desired as u64).saturating_sub(current as u64);
        let requested = self.total.saturating_add(growth);
        if requested > self.cap {
            self.exceeded = Some((self.cap, requested));
            tracing::debug!(cap = self.cap, requested, "memory cap reached");
            return Err(HostError::MemoryLimit {
                cap: self.cap,
                requested,
            });
        }
        self.total = requested;
        self.last_growth = growth;
        self.peak = self.peak.max(self.total);
        Ok(true)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(current, desired)?)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The grow was permitted but the memory could not grow (its own maximum): it
        // did not happen, so it does not count.
        self.total = self.total.saturating_sub(self.last_growth);
        self.last_growth = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 * 1024;

    #[test]
    fn records_peak_over_all_memories() {
        let mut l = MemoryLimiter::new(10 * PAGE as u64);
        assert!(l.memory_growing(0, 2 * PAGE, None).unwrap());
        assert!(l.memory_growing(0, PAGE, None).unwrap());
        assert!(l.memory_growing(2 * PAGE, 5 * PAGE, None).unwrap());
        assert_eq!(l.peak_bytes(), 6 * PAGE as u64);
        assert_eq!(l.exceeded(), None);
    }

    #[test]
    fn over_cap_grow_is_a_typed_error_with_figures() {
        let mut l = MemoryLimiter::new(4 * PAGE as u64);
        assert!(l.memory_growing(0, 3 * PAGE, None).unwrap());
        let err = l.memory_growing(3 * PAGE, 6 * PAGE, None).unwrap_err();
        match err.downcast_ref::<HostError>() {
            Some(HostError::MemoryLimit { cap, requested }) => {
                assert_eq!(*cap, 4 * PAGE as u64);
                assert_eq!(*requested, 6 * PAGE as u64);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(l.exceeded(), Some((4 * PAGE as u64, 6 * PAGE as u64)));
        // The refused grow does not move the peak.
        assert_eq!(l.peak_bytes(), 3 * PAGE as u64);
    }

    #[test]
    fn exactly_at_cap_is_allowed() {
        let mut l = MemoryLimiter::new(2 * PAGE as u64);
        assert!(l.memory_growing(0, 2 * PAGE, None).unwrap());
        assert_eq!(l.peak_bytes(), 2 * PAGE as u64);
    }

    #[test]
    fn failed_grow_is_not_counted() {
        let mut l = MemoryLimiter::new(4 * PAGE as u64);
        assert!(l.memory_growing(0, 2 * PAGE, None).unwrap());
        assert!(l.memory_growing(2 * PAGE, 4 * PAGE, None).unwrap());
        l.memory_grow_failed(wasmtime::Error::msg("max")).unwrap();
        // Two pages are free again.
        assert!(l.memory_growing(0, 2 * PAGE, None).unwrap());
    }

    #[test]
    fn tables_are_capped() {
        let mut l = MemoryLimiter::new(PAGE as u64);
        assert!(l.table_growing(0, 1000, None).unwrap());
        assert!(!l.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert_eq!(l.memories(), MAX_MEMORIES);
    }
}
