//! Engine settings the sandbox relies on, and the epoch ticker that drives wall-clock
//! deadlines.
//!
//! The runtime owns the [`wasmtime::Engine`] (it adds pooling and the compiled-artifact
//! cache on top); it must pass its `Config` through [`configure_engine`], and keep an
//! [`EpochTicker`] running for the engine's lifetime. Without a ticker a CPU-bound guest is
//! still stopped by fuel, and a guest blocked in a host call by the sandbox's outer timeout,
//! but the deadline is no longer enforced inside a long computation.

use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine};

/// Most stack a guest may use; must stay well below [`ASYNC_STACK_SIZE`] so host calls
/// (which run on the same fiber stack) have room, and small enough that deep recursion
/// traps as `stack_overflow` instead of exhausting host memory.
pub const MAX_WASM_STACK: usize = 512 * 1024;
/// The fiber stack of an async call: guest stack plus room for host functions.
pub const ASYNC_STACK_SIZE: usize = 2 * 1024 * 1024;
/// Wasm frames kept in backtraces (classification uses them to tell guest faults from
/// host faults).
const BACKTRACE_FRAMES: usize = 20;
/// A sensible epoch tick for [`EpochTicker`]: the deadline granularity.
pub const DEFAULT_EPOCH_INTERVAL: Duration = Duration::from_millis(10);

/// Sets what the sandbox needs: fuel metering, epoch interruption, a bounded wasm stack
/// and wasm backtraces (for messages). A compiled artifact only loads into an engine with
/// the same fuel/epoch settings, so use this for compiling and for loading alike.
pub fn configure_engine(config: &mut Config) {
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK_SIZE)
        .wasm_backtrace_max_frames(NonZeroUsize::new(BACKTRACE_FRAMES));
}

/// A thread incrementing an engine's epoch at a fixed interval; stops when dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine` every `interval` (see [`DEFAULT_EPOCH_INTERVAL`]).
    pub fn start(engine: &Engine, interval: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let engine = engine.clone();
        let interval = interval.max(Duration::from_millis(1));
        let spawned = std::thread::Builder::new()
            .name("runbox-epoch".into())
            .spawn(move || {
                // Ends when the ticker is dropped (sender gone) or told to stop.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    engine.increment_epoch();
                }
            });
        let thread = match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::error!(error = %e, "could not start the epoch ticker; wall-clock deadlines rely on the outer timeout only");
                None
            }
        };
        EpochTicker {
            stop: Some(stop),
            thread,
        }
    }

    /// Whether the ticking thread is running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_config_is_accepted() {
        let mut config = Config::new();
        configure_engine(&mut config);
        Engine::new(&config).unwrap();
    }

    #[test]
    fn ticker_starts_and_stops() {
        let engine = Engine::default();
        let ticker = EpochTicker::start(&engine, Duration::from_millis(1));
        assert!(ticker.is_running());
        std::thread::sleep(Duration::from_millis(20));
        drop(ticker); // joins; must not hang
    }
}
