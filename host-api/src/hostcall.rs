//! The per-run budget of bytes passed across runbox host calls.
//!
//! Fuel bounds what a guest computes, not what it makes the host copy: a loop calling
//! `log` or `config.get` with megabytes each time is cheap in fuel and expensive on the
//! host. Every host call charges its payload here; going over the budget traps the run
//! with [`HostError::HostcallLimit`] (or, for HTTP bodies streamed outside the guest's
//! call, fails the body and marks the budget exceeded).

use crate::error::HostError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared, thread-safe byte budget (HTTP bodies are metered on tokio tasks).
#[derive(Debug)]
pub struct HostcallBudget {
    cap: u64,
    used: AtomicU64,
    exceeded: AtomicBool,
}

impl HostcallBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Self {
        HostcallBudget {
            cap,
            used: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
        }
    }

    /// Charges `bytes`; fails once the total goes over the cap.
    pub fn charge(&self, bytes: u64) -> Result<(), HostError> {
        let total = self
            .used
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if total > self.cap {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(HostError::HostcallLimit {
                cap: self.cap,
                requested: total,
            });
        }
        Ok(())
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Bytes charged so far (including a refused charge).
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether a charge was refused.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_the_cap() {
        let b = HostcallBudget::new(10);
        b.charge(4).unwrap();
        b.charge(6).unwrap();
        assert!(!b.exceeded());
        let e = b.charge(1).unwrap_err();
        assert!(matches!(
            e,
            HostError::HostcallLimit {
                cap: 10,
                requested: 11
            }
        ));
        assert!(b.exceeded());
        assert_eq!(b.used(), 11);
    }
}
