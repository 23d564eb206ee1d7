//! The instance a component keeps made ahead for its next latency-sensitive run (session
//! hooks): see [`crate::Engine::run_with_standby`] and `runbox_host_api::standby`.

use std::fmt;
use std::sync::Mutex;

use runbox_host_api::Standby;
use tokio::sync::OwnedSemaphorePermit;

/// A standby instance with the engine permit that pays for its pool slot.
pub(crate) struct Kept {
    pub(crate) standby: Standby,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// At most one standby instance of one component.
#[derive(Default)]
pub(crate) struct StandbySlot(Mutex<Option<Kept>>);

impl StandbySlot {
    /// Takes the standby out, if there is one.
    pub(crate) fn take(&self) -> Option<Kept> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Whether the slot holds a standby.
    pub(crate) fn is_filled(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Fills an empty slot with `kept`; gives it back when the slot was filled meanwhile.
    pub(crate) fn fill(&self, kept: Kept) -> Option<Kept> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Some(kept);
        }
        *slot = Some(kept);
        None
    }
}

impl fmt::Debug for StandbySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StandbySlot")
            .field(&self.is_filled())
            .finish()
    }
}
