//! Counting hook runs still going, so a shutdown can wait for them.
//!
//! Why: hooks are fired and forgotten by the session path, but a clean shutdown should not
//! cut a SIEM forward half-way when it would finish within the shutdown deadline.

use tokio::sync::watch;

/// The number of hook tasks running.
#[derive(Debug)]
pub(crate) struct InFlight(watch::Sender<usize>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(watch::Sender::new(0))
    }
}

/// Held by a running hook task; dropping it (however the task ends) counts it out.
#[derive(Debug)]
pub(crate) struct InFlightGuard(watch::Sender<usize>);

impl InFlight {
    pub(crate) fn enter(&self) -> InFlightGuard {
        self.0.send_modify(|n| *n += 1);
        InFlightGuard(self.0.clone())
    }

    /// Hook tasks running now.
    pub(crate) fn count(&self) -> usize {
        *self.0.borrow()
    }

    /// Returns once no hook task is running.
    pub(crate) async fn idle(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_guard() {
        let flight = InFlight::default();
        flight.idle().await; // nothing running: at once
        let a = flight.enter();
        let b = flight.enter();
        assert_eq!(flight.count(), 2);
        drop(a);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), flight.idle());
        assert!(waiting.await.is_err(), "one hook is still running");
        drop(b);
        flight.idle().await;
        assert_eq!(flight.count(), 0);
    }
}
