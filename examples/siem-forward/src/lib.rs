//! `siem-forward`: a session hook that forwards hoop's hook payload to a SIEM.
//!
//! Install the same component twice in the runbooks repository, as
//! `hoop-hooks/session-open.runbook.wasm` and `hoop-hooks/session-close.runbook.wasm`.
//! For every session open and close it POSTs the hook payload (hoop's JSON, exactly the
//! bytes in `HOOP_RUNBOOK_HOOK_PAYLOAD`, never re-serialized) to config `siem_url` with:
//!
//! - `content-type: application/json`
//! - `x-runbox-event: session-open` or `session-close` (from the trigger; for a manual
//!   run, from whichever of `event_session_open`/`event_session_close` is non-null)
//! - `x-runbox-hook-id: <payload id>`: hoop's hook id, stable per session and event, so
//!   the SIEM can drop duplicates (the open hook may fire more than once per session)
//! - `authorization: Bearer <siem_token>` when config `siem_token` is set (never logged)
//!
//! Output: `forwarded <n> bytes: status <code>`. A non-2xx answer fails the hook (5xx
//! and 429 as retryable); a SIEM host not on the egress allow-list fails with the SDK's
//! `Denied` text (recorded as `policy_denied`). A hook never blocks the session either
//! way: the host bounds its time and only records the result.

use runbox_sdk::prelude::*;
use runbox_sdk::serde_json::{self, Value};
use runbox_sdk::{Config, HttpError};

/// Config key of the SIEM's HTTP intake URL (required).
const URL_KEY: &str = "siem_url";
/// Config key of the SIEM's bearer token (optional).
const TOKEN_KEY: &str = "siem_token";

/// Forwards the session-open/close hook payload to a SIEM over HTTP.
#[runbook(name = "siem-forward")]
fn run(ctx: &Context) -> Result<String, RunbookError> {
    let inv = ctx.invocation();
    let payload = inv.raw_payload();
    let hook = HookFacts::read(inv.trigger(), payload)?;

    let config = ctx.config();
    let url = required(&config, URL_KEY)?;
    let token = optional(&config, TOKEN_KEY)?;
    ctx.log().debug(format!(
        "forwarding {} hook {} ({} bytes) to {url}",
        hook.event,
        hook.id,
        payload.len()
    ));

    let mut request = ctx
        .http()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-runbox-event", hook.event)
        .header("x-runbox-hook-id", &hook.id)
        // The payload text as received: byte for byte what hoop put in
        // HOOP_RUNBOOK_HOOK_PAYLOAD.
        .body(payload);
    if let Some(token) = &token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .and_then(|response| response.error_for_status())
        .map_err(http_failure)?;
    if !response.is_success() {
        // 1xx/3xx: not an error status, but the SIEM did not take the event either.
        return Err(RunbookError::failed(format!(
            "the SIEM at {url} answered {} (expected 2xx)",
            response.status
        )));
    }
    Ok(format!(
        "forwarded {} bytes: status {}",
        payload.len(),
        response.status
    ))
}

/// What the headers need from the trigger and the payload.
#[derive(Debug, PartialEq, Eq)]
struct HookFacts {
    /// `session-open` or `session-close`.
    event: &'static str,
    /// hoop's hook id (`id` in the payload).
    id: String,
}

impl HookFacts {
    /// Reads the payload only to find `id` (and, outside a hook trigger, which event
    /// field is set); the forwarded body stays the original text.
    fn read(trigger: &Trigger, payload: &str) -> Result<Self, RunbookError> {
        let value: Value = serde_json::from_str(payload)
            .map_err(|e| RunbookError::failed(format!("the hook payload is not JSON: {e}")))?;
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                RunbookError::failed(
                    "the payload has no hook `id`: is this a session-open/close hook payload?",
                )
            })?
            .to_owned();
        let event = match trigger {
            Trigger::Hook(kind) => kind.as_str(),
            Trigger::Event(_) | Trigger::Manual => {
                let set = |field: &str| value.get(field).is_some_and(|v| !v.is_null());
                match (set("event_session_open"), set("event_session_close")) {
                    (true, false) => HookKind::SessionOpen.as_str(),
                    (false, true) => HookKind::SessionClose.as_str(),
                    _ => {
                        return Err(RunbookError::failed(format!(
                            "run as {trigger}, and the payload does not say which hook it is \
                             (exactly one of event_session_open/event_session_close must be set)"
                        )));
                    }
                }
            }
        };
        Ok(Self { event, id })
    }
}

/// 5xx, 429, timeouts, transport failures and a body that could not be written or read
/// are worth a retry (the request may or may not have arrived: the receiver drops
/// duplicates by `x-runbox-hook-id`); everything else (4xx, an egress denial, a bad URL)
/// is not. The message is the SDK's error text.
fn http_failure(error: HttpError) -> RunbookError {
    if error.is_retryable() || matches!(error, HttpError::Body { .. }) {
        RunbookError::retryable(error)
    } else {
        RunbookError::failed(error)
    }
}

/// A config value that must be set; the error names the key.
fn required(config: &Config, key: &str) -> Result<String, RunbookError> {
    match config.get(key) {
        Ok(Some(value)) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        Ok(_) => Err(RunbookError::failed(format!(
            "config {key:?} is required (the SIEM's HTTP intake URL) but is not set"
        ))),
        Err(error) => Err(RunbookError::failed(format!(
            "config {key:?} is required (the SIEM's HTTP intake URL): {error}"
        ))),
    }
}

/// A config value that may be absent: not granted or empty both read as `None`; a
/// failing config provider is worth a retry.
fn optional(config: &Config, key: &str) -> Result<Option<String>, RunbookError> {
    match config.get(key) {
        Ok(value) => Ok(value.filter(|v| !v.trim().is_empty())),
        Err(ConfigError::Denied(_)) => Ok(None),
        Err(error) => Err(RunbookError::retryable(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = include_str!("../sample.json");
    const CLOSE: &str = r#"{"id":"5d0e7b1a-3f2c-5a8e-9b47-6c1d2e3f4a5b","sid":"8c59a347-62bd-4db2-a456-2b25963dfebf","command":["python3"],"input_file":"","event_session_open":null,"event_session_close":{"exit_code":0,"output":null}}"#;

    #[test]
    fn event_comes_from_the_trigger() {
        let facts = HookFacts::read(&Trigger::Hook(HookKind::SessionClose), OPEN).unwrap();
        assert_eq!(facts.event, "session-close");
        assert_eq!(facts.id, "2c1f6a0e-9c7b-5d3e-8a51-0f3c2b7e9d11");
    }

    #[test]
    fn manual_runs_read_the_event_from_the_payload() {
        let open = HookFacts::read(&Trigger::Manual, OPEN).unwrap();
        assert_eq!(open.event, "session-open");
        let close = HookFacts::read(&Trigger::Manual, CLOSE).unwrap();
        assert_eq!(close.event, "session-close");
        assert_eq!(close.id, "5d0e7b1a-3f2c-5a8e-9b47-6c1d2e3f4a5b");
    }

    #[test]
    fn payloads_that_are_not_hook_payloads_fail() {
        let hook = Trigger::Hook(HookKind::SessionOpen);
        assert!(HookFacts::read(&hook, "not json").is_err());
        assert!(HookFacts::read(&hook, r#"{"sid":"x"}"#).is_err());
        let neither = r#"{"id":"x","event_session_open":null,"event_session_close":null}"#;
        assert!(HookFacts::read(&Trigger::Manual, neither).is_err());
    }

    #[test]
    fn missing_url_names_the_key() {
        let ctx = Context::new(
            Invocation::new("dsp-1", Trigger::Hook(HookKind::SessionOpen)).with_payload(OPEN),
        );
        let error = run(&ctx).unwrap_err();
        assert!(
            error
                .message()
                .starts_with(r#"config "siem_url" is required"#),
            "{error}"
        );
    }
}
