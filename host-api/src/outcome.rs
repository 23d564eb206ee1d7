//! What a run produced: its result, console, logs, denials and the resources it used.
//!
//! Always complete: a failed run reports the same usage figures as a successful one, so
//! authors can see how close to a limit they are.

use crate::error::Failure;
use crate::log::LogLine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Resources one run used, next to its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The fuel budget.
    pub fuel_budget: u64,
    /// Fuel used: budget minus what remained (also after a trap).
    pub fuel_used: u64,
    /// The linear-memory cap, in bytes.
    pub memory_cap: u64,
    /// The largest total linear memory reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Wall-clock time of instantiate + call, serialized as `duration_ms` (fractional).
    #[serde(
        rename = "duration_ms",
        serialize_with = "duration_ms",
        deserialize_with = "duration_from_ms"
    )]
    pub duration: Duration,
}

fn duration_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn duration_from_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    Ok(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default())
}

/// The outcome of [`crate::Sandbox::run`].
///
/// Serialized as `{ok, output?, error?, exit_code, console, truncated_bytes, logs,
/// denials, usage}` rather than serde's `{"Ok": ..}` encoding of `Result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "OutcomeRepr", from = "OutcomeRepr")]
pub struct RunOutcome {
    /// The output text on success (capped to the output limit, with the truncation
    /// marker if cut; for a plain command: its console), or the classified failure.
    pub result: Result<String, Failure>,
    /// A plain command's exit code (`None` for runbook components, or if it never exited).
    pub exit_code: Option<i32>,
    /// stdout and stderr in write order, capped, with the truncation marker if cut.
    pub console: String,
    /// Bytes dropped by the output cap (console, logs and output together).
    pub truncated_bytes: u64,
    /// Log lines from the `log` import.
    pub logs: Vec<LogLine>,
    /// Egress denials, each naming what was denied.
    pub denials: Vec<String>,
    /// Resources used.
    pub usage: Usage,
}

impl RunOutcome {
    /// Whether the run succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The failure, if the run failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.result.as_ref().err()
    }

    /// The output, if the run succeeded.
    pub fn output(&self) -> Option<&str> {
        self.result.as_deref().ok()
    }
}

#[derive(Serialize, Deserialize)]
struct OutcomeRepr {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
    exit_code: Option<i32>,
    console: String,
    truncated_bytes: u64,
    logs: Vec<LogLine>,
    denials: Vec<String>,
    usage: Usage,
}

impl From<RunOutcome> for OutcomeRepr {
    fn from(o: RunOutcome) -> Self {
        let (output, error) = match o.result {
            Ok(out) => (Some(out), None),
            Err(f) => (None, Some(f)),
        };
        OutcomeRepr {
            ok: error.is_none(),
            output,
            error,
            exit_code: o.exit_code,
            console: o.console,
            truncated_bytes: o.truncated_bytes,
            logs: o.logs,
            denials: o.denials,
            usage: o.usage,
        }
    }
}

impl From<OutcomeRepr> for RunOutcome {
    fn from(r: OutcomeRepr) -> Self {
        let result = match r.error {
            Some(f) => Err(f),
            None => Ok(r.output.unwrap_or_default()),
        };
        RunOutcome {
            result,
            exit_code: r.exit_code,
            console: r.console,
            truncated_bytes: r.truncated_bytes,
            logs: r.logs,
            denials: r.denials,
            usage: r.usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn usage() -> Usage {
        Usage {
            fuel_budget: 100,
            fuel_used: 40,
            memory_cap: 1 << 20,
            peak_memory_bytes: 65536,
            duration: Duration::from_micros(1500),
        }
    }

    #[test]
    fn serializes_flat_and_round_trips() {
        let ok = RunOutcome {
            result: Ok("done".into()),
            exit_code: None,
            console: String::new(),
            truncated_bytes: 0,
            logs: vec![],
            denials: vec![],
            usage: usage(),
        };
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["output"], "done");
        assert!(json.get("error").is_none());
        assert_eq!(json["usage"]["duration_ms"], 1.5);
        assert_eq!(json["usage"]["fuel_used"], 40);
        let back: RunOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, ok);

        let failed = RunOutcome {
            result: Err(Failure::new(
                ErrorCode::FuelExhausted,
                "fuel budget 100 exhausted (used 100)",
            )),
            exit_code: Some(1),
            ..ok
        };
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["error"]["code"], "fuel_exhausted");
        let back: RunOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, failed);
        assert!(back.failure().is_some());
        assert_eq!(back.output(), None);
    }
}
