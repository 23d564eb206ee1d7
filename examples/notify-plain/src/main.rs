//! `notify-plain`: a runbook written as a plain `wasi:cli/command`, without the SDK.
//!
//! This is the path for runbooks that are ordinary programs (the way hoop runs scripts):
//!
//! - params arrive as environment variables: `CHANNEL` and `MESSAGE` here, declared in
//!   the `runbook.toml` sidecar (a command has no `describe` export);
//! - the event or hook payload arrives as JSON text in `HOOP_RUNBOOK_HOOK_PAYLOAD`
//!   (runbox also sets `RUNBOX_DISPATCH_ID` and `RUNBOX_ATTEMPT`);
//! - stdout and stderr are the output; exit code 0 is success, anything else fails the
//!   run (`exit_nonzero`). WASI 0.2 only carries ok/err, so the host sees exit code 1
//!   for any failure.
//!
//! It prints one line, `notify #<channel>: <message> (session <session_id>)`, for a chat
//! bridge or log shipper on the other side of stdout to pick up. `session_id` is the
//! event's `session_id` (or a hook payload's `sid`), `unknown` when neither is there.

use std::process::ExitCode;

use serde_json::Value;

/// The payload variable hoop (and runbox) sets for every runbook.
const PAYLOAD_ENV: &str = "HOOP_RUNBOOK_HOOK_PAYLOAD";
/// The channel when `CHANNEL` is unset or empty (the sidecar declares the same default).
const DEFAULT_CHANNEL: &str = "ops-alerts";

fn main() -> ExitCode {
    let channel = std::env::var("CHANNEL").unwrap_or_default();
    let message = std::env::var("MESSAGE").unwrap_or_default();
    let payload = std::env::var(PAYLOAD_ENV).ok();
    match notify_line(&channel, &message, payload.as_deref()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("notify-plain: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The summary line, or why there is none.
fn notify_line(channel: &str, message: &str, payload: Option<&str>) -> Result<String, String> {
    let message = message.trim();
    if message.is_empty() {
        return Err("MESSAGE is empty: map it to a payload field, e.g. \"$.reason\"".into());
    }
    let payload = payload.ok_or_else(|| format!("{PAYLOAD_ENV} is not set"))?;
    let payload: Value =
        serde_json::from_str(payload).map_err(|e| format!("{PAYLOAD_ENV} is not JSON: {e}"))?;
    let session = ["session_id", "sid"]
        .iter()
        .find_map(|field| payload.get(field).and_then(Value::as_str))
        .unwrap_or("unknown");
    let channel = channel.trim().trim_start_matches('#');
    let channel = if channel.is_empty() {
        DEFAULT_CHANNEL
    } else {
        channel
    };
    // One line: a message with newlines would otherwise split the summary.
    let message = message.replace(['\r', '\n'], " ");
    Ok(format!("notify #{channel}: {message} (session {session})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../sample.json");

    #[test]
    fn summary_line_from_an_event() {
        assert_eq!(
            notify_line(
                "sec-alerts",
                "query volume 10x above baseline",
                Some(SAMPLE)
            ),
            Ok(
                "notify #sec-alerts: query volume 10x above baseline (session ses_01HX9F5OPQ)"
                    .into()
            )
        );
    }

    #[test]
    fn defaults_and_hook_payloads() {
        let hook = r#"{"id":"x","sid":"8c59a347","event_session_open":null}"#;
        assert_eq!(
            notify_line("", "closed", Some(hook)),
            Ok("notify #ops-alerts: closed (session 8c59a347)".into())
        );
        assert_eq!(
            notify_line("#ops", "two\nlines", Some("{}")),
            Ok("notify #ops: two lines (session unknown)".into())
        );
    }

    #[test]
    fn empty_message_or_bad_payload_fail() {
        assert!(
            notify_line("ops", "  ", Some(SAMPLE))
                .unwrap_err()
                .contains("MESSAGE is empty")
        );
        assert!(
            notify_line("ops", "hi", Some("{"))
                .unwrap_err()
                .contains("is not JSON")
        );
        assert!(
            notify_line("ops", "hi", None)
                .unwrap_err()
                .contains("is not set")
        );
    }
}
