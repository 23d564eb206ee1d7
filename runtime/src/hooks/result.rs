//! The recorded result of one hook run: hoop's `{id, exit_code, output,
//! execution_time_sec}` plus what runbox knows besides (which hook, when, from which
//! commit, the classified error, resources used).

use runbox_host_api::{ErrorCode, RunOutcome, cap_text, truncation_marker};
use serde::{Deserialize, Serialize};

/// Bytes of hook output kept (hoop's cap); the rest is cut with hoop's
/// ` [truncated N byte(s)]` suffix.
pub const HOOK_OUTPUT_BYTES: usize = 4096;

/// The exit code recorded when a hook did not exit by itself (a trap, a limit, the wall
/// bound, a hook that could not load): `error.code` says why.
pub const NO_EXIT_CODE: i32 = -1;

/// Caps `text` at [`HOOK_OUTPUT_BYTES`] with hoop's suffix. Text the sandbox already cut
/// at its own (larger) output cap ends with a marker; that marker is replaced, so the one
/// suffix counts every byte dropped.
fn cap_output(mut text: String) -> String {
    let earlier = earlier_drop(&text);
    if let Some((_, marker_len)) = earlier {
        text.truncate(text.len() - marker_len);
    }
    let earlier = earlier.map_or(0, |(dropped, _)| dropped);
    let (mut text, dropped) = cap_text(text, HOOK_OUTPUT_BYTES);
    if earlier > 0 {
        if dropped > 0 {
            text.truncate(text.len() - truncation_marker(dropped).len());
        }
        text.push_str(&truncation_marker(dropped + earlier));
    }
    text
}

/// The count and length of a trailing ` [truncated N byte(s)]` marker.
fn earlier_drop(text: &str) -> Option<(u64, usize)> {
    let body = text.strip_suffix(" byte(s)]")?;
    let start = body.rfind(" [truncated ")?;
    let n: u64 = body[start + " [truncated ".len()..].parse().ok()?;
    Some((n, text.len() - start))
}

/// Failures where the hook did not end by itself: stopped by a limit or interrupted.
fn stopped(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::FuelExhausted
            | ErrorCode::DeadlineExceeded
            | ErrorCode::MemoryLimit
            | ErrorCode::StackOverflow
            | ErrorCode::HostcallLimit
            | ErrorCode::PayloadTooLarge
            | ErrorCode::Interrupted
            | ErrorCode::Internal
    )
}

/// One hook run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRun {
    /// hoop's hook id (stable per session and event; repeated when the open hook fires
    /// again for the same session).
    pub id: String,
    /// 0 on success; a plain command's own exit code; 1 when the hook failed by itself
    /// (returned an error, panicked, trapped, was denied a capability); [`NO_EXIT_CODE`]
    /// when a limit stopped it or it never started.
    pub exit_code: i32,
    /// The output (console for a plain command, the returned text for a runbook, the
    /// error for a failure), at most [`HOOK_OUTPUT_BYTES`] plus the truncation suffix.
    pub output: String,
    /// Wall-clock time of the run, in seconds.
    pub execution_time_sec: f64,
    /// The session.
    pub sid: String,
    /// `session-open` or `session-close`.
    pub hook: String,
    /// When the hook was fired, RFC 3339 UTC.
    pub started_at: String,
    /// The repository and commit the hook component came from (absent when it did not
    /// load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The classified failure (`deadline_exceeded`, `policy_denied`, ...); `None` on
    /// success.
    #[serde(default)]
    pub error: Option<HookError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
}

/// Why a hook run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookError {
    /// A stable code (the sandbox's codes, plus `runbook_unavailable`, `fetch_failed`,
    /// ...).
    pub code: String,
    pub message: String,
}

/// What the runner knew about a run before it ended.
#[derive(Debug, Clone)]
pub(crate) struct RunContext {
    pub id: String,
    pub sid: String,
    pub hook: &'static str,
    pub started_at: String,
    pub repository: Option<String>,
    pub commit: Option<String>,
}

impl HookRun {
    /// A run that produced a sandbox outcome.
    pub(crate) fn from_outcome(ctx: RunContext, outcome: RunOutcome) -> Self {
        let seconds = outcome.usage.duration.as_secs_f64();
        let (exit_code, text, error) = match outcome.result {
            Ok(output) => (outcome.exit_code.unwrap_or(0), output, None),
            Err(failure) => {
                let exit_code = match outcome.exit_code {
                    Some(code) => code,
                    None if stopped(failure.code) => NO_EXIT_CODE,
                    None => 1,
                };
                // The console first (what the hook printed), then why it failed.
                let mut text = outcome.console;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&failure.message);
                let error = HookError {
                    code: failure.code.as_str().to_owned(),
                    message: failure.message,
                };
                (exit_code, text, Some(error))
            }
        };
        HookRun {
            id: ctx.id,
            exit_code,
            output: cap_output(text),
            execution_time_sec: seconds,
            sid: ctx.sid,
            hook: ctx.hook.to_owned(),
            started_at: ctx.started_at,
            repository: ctx.repository,
            commit: ctx.commit,
            error,
            fuel_used: Some(outcome.usage.fuel_used),
            peak_memory_bytes: Some(outcome.usage.peak_memory_bytes),
        }
    }

    /// A run that never got to the sandbox, or was cut by the wall bound.
    pub(crate) fn failed(ctx: RunContext, code: &str, message: String, seconds: f64) -> Self {
        HookRun {
            id: ctx.id,
            exit_code: NO_EXIT_CODE,
            output: cap_output(message.clone()),
            execution_time_sec: seconds,
            sid: ctx.sid,
            hook: ctx.hook.to_owned(),
            started_at: ctx.started_at,
            repository: ctx.repository,
            commit: ctx.commit,
            error: Some(HookError {
                code: code.to_owned(),
                message,
            }),
            fuel_used: None,
            peak_memory_bytes: None,
        }
    }

    /// Whether the hook succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runbox_host_api::{Failure, Usage};
    use std::time::Duration;

    fn ctx() -> RunContext {
        RunContext {
            id: "id-1".into(),
            sid: "s1".into(),
            hook: "session-close",
            started_at: "2026-05-04T15:30:00Z".into(),
            repository: Some("local/r".into()),
            commit: Some("abc".into()),
        }
    }

    fn outcome(result: Result<String, Failure>, console: &str) -> RunOutcome {
        RunOutcome {
            result,
            exit_code: None,
            console: console.into(),
            truncated_bytes: 0,
            logs: vec![],
            denials: vec![],
            usage: Usage {
                fuel_budget: 10,
                fuel_used: 5,
                memory_cap: 1 << 20,
                peak_memory_bytes: 1 << 16,
                duration: Duration::from_millis(1500),
            },
        }
    }

    #[test]
    fn output_is_capped_with_hoops_suffix() {
        let run = HookRun::from_outcome(ctx(), outcome(Ok("x".repeat(5000)), ""));
        assert_eq!(run.exit_code, 0);
        assert!(run.is_ok());
        assert_eq!(
            run.output,
            format!("{}{}", "x".repeat(4096), " [truncated 904 byte(s)]")
        );
        assert_eq!(truncation_marker(904), " [truncated 904 byte(s)]");
        assert_eq!(run.execution_time_sec, 1.5);
    }

    #[test]
    fn a_sandbox_marker_is_folded_into_one_suffix() {
        let cut_once = format!("{}{}", "y".repeat(65536), truncation_marker(1000));
        assert_eq!(
            cap_output(cut_once),
            format!(
                "{}{}",
                "y".repeat(4096),
                truncation_marker(1000 + 65536 - 4096)
            )
        );
        let short = format!("abc{}", truncation_marker(7));
        assert_eq!(cap_output(short), format!("abc{}", truncation_marker(7)));
        assert_eq!(cap_output("no marker".into()), "no marker");
    }

    #[test]
    fn failures_carry_code_console_and_message() {
        let f = Failure::new(
            ErrorCode::DeadlineExceeded,
            "wall-clock limit of 1 s passed",
        );
        let run = HookRun::from_outcome(ctx(), outcome(Err(f), "started"));
        assert_eq!(run.exit_code, NO_EXIT_CODE);
        assert_eq!(run.output, "started\nwall-clock limit of 1 s passed");
        assert_eq!(run.error.as_ref().unwrap().code, "deadline_exceeded");
        let json = serde_json::to_value(&run).unwrap();
        for key in ["id", "exit_code", "output", "execution_time_sec"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
