//! Classification of a run that did not succeed into a [`Failure`] with a stable code.
//!
//! The top-level text of a wasmtime error is usually just "error while executing at wasm
//! backtrace"; it says nothing. The cause is found by downcasting (trap codes, the
//! limiter's and the host-call budget's typed errors, a WASI exit) and by the facts the
//! sandbox collected during the run (stderr tail, egress denials, agent state).

use crate::error::{ErrorCode, Failure, HostError};
use crate::output::cap_text;
use crate::{InvalidParams, RunError};
use std::time::Duration;
use wasmtime::Trap;
use wasmtime_wasi::I32Exit;

/// Longest message a failure carries; guest text beyond it is cut.
const MAX_MESSAGE_BYTES: usize = 4096;
/// How much of the console an `exit_nonzero` message quotes.
const EXIT_TAIL_BYTES: usize = 1024;

/// What the sandbox knows about a run besides the error itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The fuel budget of the run.
    pub fuel_budget: u64,
    /// Fuel used (budget minus what remained), also after a trap.
    pub fuel_used: u64,
    /// The wall-clock deadline.
    pub timeout: Duration,
    /// `(cap, requested)` if the memory limiter refused a grow.
    pub memory_exceeded: Option<(u64, u64)>,
    /// The host-call budget, if a charge against it was refused.
    pub hostcall_exceeded: Option<u64>,
    /// The last bytes of the guest's stderr (panic messages are there).
    pub stderr_tail: String,
    /// The captured console (stdout + stderr in write order).
    pub console: String,
    /// Egress denials recorded during the run, in order.
    pub denials: Vec<String>,
    /// Set if the agent reported the connection offline during the run.
    pub agent_offline: Option<String>,
}

/// Classifies an error returned by instantiation or a call (a trap or a host error).
pub fn classify(err: wasmtime::Error, facts: &RunFacts) -> Failure {
    attribute(classify_error(&err, facts), facts)
}

/// Classifies the guest's own `run-error`.
pub fn classify_run_error(err: RunError, facts: &RunFacts) -> Failure {
    match err {
        RunError::InvalidParams(InvalidParams { missing, message }) => {
            if missing.is_empty() {
                Failure::new(ErrorCode::ParamInvalid, bounded(message))
            } else {
                // hoop's wording, so admins see the same text from both systems.
                Failure::new(
                    ErrorCode::ParamMissing,
                    bounded(format!(
                        "the following inputs are missing [{}]",
                        missing.join(", ")
                    )),
                )
            }
        }
        RunError::Failed(message) => attribute(
            Failure::new(ErrorCode::GuestError, guest_text(message)),
            facts,
        ),
        RunError::Retryable(message) => attribute(
            Failure::retryable(ErrorCode::GuestError, guest_text(message)),
            facts,
        ),
    }
}

/// Classifies a plain command's non-zero exit code (hoop's wording).
pub fn classify_exit(code: i32, facts: &RunFacts) -> Failure {
    let tail = tail(facts.console.trim_end(), EXIT_TAIL_BYTES);
    let message = if tail.is_empty() {
        format!("runbook exited with code {code}")
    } else {
        format!("runbook exited with code {code}: {tail}")
    };
    attribute(Failure::new(ErrorCode::ExitNonzero, message), facts)
}

/// The failure of a run stopped by the wall-clock deadline.
pub fn deadline_exceeded(timeout: Duration) -> Failure {
    Failure::retryable(
        ErrorCode::DeadlineExceeded,
        format!("deadline of {} ms exceeded", timeout.as_millis()),
    )
}

fn classify_error(err: &wasmtime::Error, facts: &RunFacts) -> Failure {
    if let Some(host) = err.downcast_ref::<HostError>() {
        match host {
            HostError::MemoryLimit { cap, requested } => return memory_limit(*cap, *requested),
            HostError::HostcallLimit { .. } => {
                return Failure::new(ErrorCode::HostcallLimit, host.to_string());
            }
            _ => {}
        }
    }
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return classify_exit(exit.0, facts);
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return classify_trap(*trap, facts);
    }
    if let Some((cap, requested)) = facts.memory_exceeded {
        return memory_limit(cap, requested);
    }
    if let Some(cap) = facts.hostcall_exceeded {
        return Failure::new(
            ErrorCode::HostcallLimit,
            format!("host-call byte budget of {cap} bytes exceeded"),
        );
    }
    let cause = describe(err);
    if err.downcast_ref::<wasmtime::WasmBacktrace>().is_some() {
        // Raised while wasm was running (e.g. misuse of a WASI resource): the guest's.
        Failure::new(ErrorCode::GuestTrap, format!("guest trapped: {cause}"))
    } else {
        Failure::new(ErrorCode::Internal, cause)
    }
}

fn classify_trap(trap: Trap, facts: &RunFacts) -> Failure {
    match trap {
        Trap::OutOfFuel => Failure::new(
            ErrorCode::FuelExhausted,
            format!(
                "fuel budget {} exhausted (used {})",
                facts.fuel_budget, facts.fuel_used
            ),
        ),
        Trap::Interrupt => deadline_exceeded(facts.timeout),
        Trap::StackOverflow => Failure::new(
            ErrorCode::StackOverflow,
            "guest exhausted the wasm call stack (stack overflow)",
        ),
        Trap::UnreachableCodeReached => {
            if let Some((cap, requested)) = facts.memory_exceeded {
                return memory_limit(cap, requested);
            }
            match panic_message(&facts.stderr_tail) {
                Some(panic) => Failure::new(
                    ErrorCode::GuestPanic,
                    bounded(format!("guest panicked: {panic}")),
                ),
                None => Failure::new(
                    ErrorCode::GuestPanic,
                    "guest panicked or aborted: wasm `unreachable` executed with no panic \
                     message on stderr",
                ),
            }
        }
        other => {
            let text = other.to_string();
            let what = text.strip_prefix("wasm trap: ").unwrap_or(&text);
            Failure::new(ErrorCode::GuestTrap, format!("guest trapped: {what}"))
        }
    }
}

fn memory_limit(cap: u64, requested: u64) -> Failure {
    Failure::new(
        ErrorCode::MemoryLimit,
        format!("memory cap {cap} bytes, requested {requested} bytes"),
    )
}

/// Re-labels a guest failure that happened after an egress denial, an exhausted host-call
/// budget (an HTTP body cut short) or an offline agent: that is the actionable cause.
fn attribute(failure: Failure, facts: &RunFacts) -> Failure {
    let guest_side = matches!(
        failure.code,
        ErrorCode::GuestError
            | ErrorCode::ExitNonzero
            | ErrorCode::GuestPanic
            | ErrorCode::GuestTrap
    );
    if !guest_side {
        return failure;
    }
    if let Some(denial) = facts.denials.first() {
        return Failure::new(
            ErrorCode::PolicyDenied,
            bounded(format!(
                "{denial}; the runbook then failed: {}",
                failure.message
            )),
        );
    }
    if let Some(cap) = facts.hostcall_exceeded {
        return Failure::new(
            ErrorCode::HostcallLimit,
            bounded(format!(
                "host-call byte budget of {cap} bytes exceeded; the runbook then failed: {}",
                failure.message
            )),
        );
    }
    if let Some(why) = &facts.agent_offline {
        return Failure::retryable(
            ErrorCode::AgentOffline,
            bounded(format!(
                "agent offline: {why}; the runbook then failed: {}",
                failure.message
            )),
        );
    }
    failure
}

/// The error chain without wasmtime's backtrace header.
fn describe(err: &wasmtime::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|e| e.to_string())
        .filter(|s| !s.starts_with("error while executing at wasm backtrace"))
        .collect();
    if parts.is_empty() {
        "unknown error while running the guest".to_string()
    } else {
        bounded(parts.join(": "))
    }
}

/// The panic report from a stderr tail: from the line with the last `panicked at` to the
/// end, without the `RUST_BACKTRACE` hint.
fn panic_message(stderr: &str) -> Option<String> {
    let at = stderr.rfind("panicked at")?;
    let start = stderr[..at].rfind('\n').map_or(0, |i| i + 1);
    let text = stderr[start..]
        .lines()
        .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect::<Vec<_>>()
        .join("\n");
    Some(text.trim().to_string())
}

fn guest_text(message: String) -> String {
    if message.trim().is_empty() {
        "runbook failed without a message".to_string()
    } else {
        bounded(message)
    }
}

fn bounded(message: String) -> String {
    cap_text(message, MAX_MESSAGE_BYTES).0
}

/// The last `max` bytes of `text`, cut on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RunFacts {
        RunFacts {
            fuel_budget: 1000,
            fuel_used: 1000,
            timeout: Duration::from_millis(1500),
            ..RunFacts::default()
        }
    }

    #[test]
    fn out_of_fuel() {
        let f = classify(wasmtime::Error::from(Trap::OutOfFuel), &facts());
        assert_eq!(f.code, ErrorCode::FuelExhausted);
        assert_eq!(f.message, "fuel budget 1000 exhausted (used 1000)");
        assert!(!f.retryable);
    }

    #[test]
    fn interrupt_is_deadline() {
        let f = classify(wasmtime::Error::from(Trap::Interrupt), &facts());
        assert_eq!(f.code, ErrorCode::DeadlineExceeded);
        assert_eq!(f.message, "deadline of 1500 ms exceeded");
        assert!(f.retryable);
    }

    #[test]
    fn stack_overflow() {
        let f = classify(wasmtime::Error::from(Trap::StackOverflow), &facts());
        assert_eq!(f.code, ErrorCode::StackOverflow);
    }

    #[test]
    fn unreachable_with_panic_message_is_guest_panic() {
        let facts = RunFacts {
            stderr_tail: "some output\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom\n\
                          note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
                .into(),
            ..facts()
        };
        let f = classify(wasmtime::Error::from(Trap::UnreachableCodeReached), &facts);
        assert_eq!(f.code, ErrorCode::GuestPanic);
        assert_eq!(
            f.message,
            "guest panicked: thread '<unnamed>' panicked at src/lib.rs:10:5:\nboom"
        );
    }

    #[test]
    fn unreachable_without_message_says_so() {
        let f = classify(
            wasmtime::Error::from(Trap::UnreachableCodeReached),
            &facts(),
        );
        assert_eq!(f.code, ErrorCode::GuestPanic);
        assert!(f.message.contains("no panic message"), "{}", f.message);
    }

    #[test]
    fn other_traps_are_named() {
        for (trap, needle) in [
            (Trap::IntegerDivisionByZero, "integer divide by zero"),
            (Trap::MemoryOutOfBounds, "out of bounds memory access"),
            (Trap::IndirectCallToNull, "uninitialized element"),
        ] {
            let f = classify(wasmtime::Error::from(trap), &facts());
            assert_eq!(f.code, ErrorCode::GuestTrap);
            assert_eq!(f.message, format!("guest trapped: {needle}"));
        }
    }

    #[test]
    fn limiter_error_is_memory_limit_even_with_context() {
        let err = wasmtime::Error::from(HostError::MemoryLimit {
            cap: 65536,
            requested: 131072,
        })
        .context("error while executing at wasm backtrace:\n    0: 0x1 - f");
        let f = classify(err, &facts());
        assert_eq!(f.code, ErrorCode::MemoryLimit);
        assert_eq!(f.message, "memory cap 65536 bytes, requested 131072 bytes");
    }

    #[test]
    fn memory_fact_wins_over_a_bare_unreachable() {
        let facts = RunFacts {
            memory_exceeded: Some((10, 20)),
            ..facts()
        };
        let f = classify(wasmtime::Error::from(Trap::UnreachableCodeReached), &facts);
        assert_eq!(f.code, ErrorCode::MemoryLimit);
    }

    #[test]
    fn hostcall_limit() {
        let err = wasmtime::Error::from(HostError::HostcallLimit {
            cap: 10,
            requested: 11,
        });
        let f = classify(err, &facts());
        assert_eq!(f.code, ErrorCode::HostcallLimit);
        assert!(f.message.contains("10 bytes"), "{}", f.message);
        let facts = RunFacts {
            hostcall_exceeded: Some(10),
            ..facts()
        };
        let f = classify(wasmtime::Error::msg("stream failed"), &facts);
        assert_eq!(f.code, ErrorCode::HostcallLimit);
    }

    #[test]
    fn exit_codes() {
        let facts = RunFacts {
            console: "step 1\nerror: cannot connect\n".into(),
            ..facts()
        };
        let f = classify(wasmtime::Error::from(I32Exit(3)), &facts);
        assert_eq!(f.code, ErrorCode::ExitNonzero);
        assert_eq!(
            f.message,
            "runbook exited with code 3: step 1\nerror: cannot connect"
        );
        let f = classify_exit(1, &RunFacts::default());
        assert_eq!(f.message, "runbook exited with code 1");
    }

    #[test]
    fn exit_message_quotes_only_the_tail() {
        let facts = RunFacts {
            console: format!("{}END", "x".repeat(5000)),
            ..facts()
        };
        let f = classify_exit(2, &facts);
        assert!(f.message.ends_with("END"));
        assert!(f.message.len() < 1100);
    }

    #[test]
    fn never_a_bare_backtrace_header() {
        let err = wasmtime::Error::msg("resource already borrowed")
            .context("error while executing at wasm backtrace:\n    0: 0x2a - <unknown>!run");
        let f = classify(err, &facts());
        assert!(
            !f.message.contains("error while executing"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("resource already borrowed"),
            "{}",
            f.message
        );
        let f = classify(wasmtime::Error::msg("linker exploded"), &facts());
        assert_eq!(f.code, ErrorCode::Internal);
        assert_eq!(f.message, "linker exploded");
    }

    #[test]
    fn run_errors() {
        let f = classify_run_error(
            RunError::InvalidParams(InvalidParams {
                missing: vec!["a".into(), "b".into()],
                message: "a and b are required".into(),
            }),
            &facts(),
        );
        assert_eq!(f.code, ErrorCode::ParamMissing);
        assert_eq!(f.message, "the following inputs are missing [a, b]");

        let f = classify_run_error(
            RunError::InvalidParams(InvalidParams {
                missing: vec![],
                message: "count must be a number".into(),
            }),
            &facts(),
        );
        assert_eq!(
            (f.code, f.message.as_str()),
            (ErrorCode::ParamInvalid, "count must be a number")
        );

        let f = classify_run_error(RunError::Failed("no such user".into()), &facts());
        assert_eq!(f.code, ErrorCode::GuestError);
        assert_eq!(f.message, "no such user");
        assert!(!f.retryable);

        let f = classify_run_error(RunError::Retryable("503 upstream".into()), &facts());
        assert_eq!(f.code, ErrorCode::GuestError);
        assert!(f.retryable);

        let f = classify_run_error(RunError::Failed(String::new()), &facts());
        assert_eq!(f.message, "runbook failed without a message");
    }

    #[test]
    fn failure_after_a_denial_is_policy_denied() {
        let facts = RunFacts {
            denials: vec!["egress to https://evil.com:443 denied: not on the allow-list".into()],
            ..facts()
        };
        for f in [
            classify_run_error(RunError::Failed("request failed".into()), &facts),
            classify_exit(1, &facts),
            classify(wasmtime::Error::from(Trap::UnreachableCodeReached), &facts),
            classify(wasmtime::Error::from(Trap::IntegerDivisionByZero), &facts),
        ] {
            assert_eq!(f.code, ErrorCode::PolicyDenied, "{f:?}");
            assert!(f.message.contains("evil.com"), "{}", f.message);
            assert!(!f.retryable);
        }
        // Limits keep their own code, and params are about params.
        let f = classify(wasmtime::Error::from(Trap::OutOfFuel), &facts);
        assert_eq!(f.code, ErrorCode::FuelExhausted);
        let f = classify_run_error(
            RunError::InvalidParams(InvalidParams {
                missing: vec!["x".into()],
                message: String::new(),
            }),
            &facts,
        );
        assert_eq!(f.code, ErrorCode::ParamMissing);
    }

    #[test]
    fn failure_after_agent_offline_is_agent_offline() {
        let facts = RunFacts {
            agent_offline: Some("agent pg-1 disconnected".into()),
            ..facts()
        };
        let f = classify_run_error(RunError::Failed("exec failed".into()), &facts);
        assert_eq!(f.code, ErrorCode::AgentOffline);
        assert!(f.retryable);
        assert!(f.message.contains("pg-1"), "{}", f.message);
    }

    #[test]
    fn failure_after_a_cut_http_body_is_hostcall_limit() {
        let facts = RunFacts {
            hostcall_exceeded: Some(1024),
            ..facts()
        };
        let f = classify_run_error(RunError::Failed("body read failed".into()), &facts);
        assert_eq!(f.code, ErrorCode::HostcallLimit);
        assert!(f.message.contains("1024 bytes"), "{}", f.message);
    }

    #[test]
    fn long_guest_messages_are_bounded() {
        let f = classify_run_error(RunError::Failed("y".repeat(100_000)), &facts());
        assert!(f.message.len() < MAX_MESSAGE_BYTES + 64);
        assert!(f.message.ends_with("byte(s)]"));
    }
}
