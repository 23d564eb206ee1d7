//! `page-oncall`: when the AI risk rating of a session is high
//! (`session.anomaly_detected`), page on-call through a webhook.
//!
//! It POSTs
//! `{"summary", "session_id", "dispatch_id", "severity": "critical", "source": "runbox"}`
//! to the URL in config `pager_webhook_url`, with `x-runbox-dispatch: <dispatch id>` so
//! the receiver can drop a retried or replayed page, and `authorization: Bearer <token>`
//! when config `pager_token` is set (the token is never logged or returned).
//!
//! Results:
//! - a 2xx answer: `Ok("paged on-call for session <sid>: status <code>")`;
//! - 5xx, 429, a timeout or a transport failure: `retryable`;
//! - any other status: `failed` with the status and the start of the body;
//! - the host not on the egress allow-list: `failed` with the SDK's `Denied` text (the
//!   host records the run as `policy_denied`);
//! - `pager_webhook_url` not set or not granted: `failed`, naming the key.

use runbox_sdk::prelude::*;
use runbox_sdk::serde_json::{Value, json};
use runbox_sdk::{Config, HttpError};

/// Config key of the webhook URL (required).
const URL_KEY: &str = "pager_webhook_url";
/// Config key of the bearer token (optional).
const TOKEN_KEY: &str = "pager_token";

/// Params, rendered from the anomaly payload (`session_id: "$.session_id"`,
/// `risk_summary: "$.reason"`).
#[derive(Debug, Params)]
struct Page {
    /// The session rated high risk (the event's `session_id`).
    #[param(placeholder = "ses_01HX9F5OPQ")]
    session_id: String,
    /// Why it is risky, shown as the page's summary (the event's `reason`).
    #[param(placeholder = "query volume 10x above baseline")]
    risk_summary: String,
}

/// Pages on-call through a webhook when a session's AI risk rating is high.
#[runbook(name = "page-oncall")]
fn run(ctx: &Context, params: Page) -> Result<String, RunbookError> {
    let inv = ctx.invocation();
    let config = ctx.config();
    let url = required(&config, URL_KEY)?;
    let token = optional(&config, TOKEN_KEY)?;

    let body = page_body(&params, inv.dispatch_id());
    // The URL is admin config, not a secret; the token is never logged.
    ctx.log().info(format!(
        "paging on-call for session {} via {url} (dispatch {}, attempt {}, token {})",
        params.session_id,
        inv.dispatch_id(),
        inv.attempt(),
        if token.is_some() { "set" } else { "not set" },
    ));

    let mut request = ctx
        .http()
        .post(&url)
        .header("x-runbox-dispatch", inv.dispatch_id())
        .json(&body)?;
    if let Some(token) = &token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .and_then(|response| response.error_for_status())
        .map_err(http_failure)?;
    Ok(format!(
        "paged on-call for session {}: status {}",
        params.session_id, response.status
    ))
}

/// The JSON body of the page.
fn page_body(params: &Page, dispatch_id: &str) -> Value {
    json!({
        "summary": params.risk_summary,
        "session_id": params.session_id,
        "dispatch_id": dispatch_id,
        "severity": "critical",
        "source": "runbox",
    })
}

/// 5xx, 429, timeouts, transport failures and a body that could not be written or read
/// are worth a retry (the request may or may not have arrived: the receiver drops
/// duplicates by `x-runbox-dispatch`); everything else (4xx, an egress denial, a bad URL)
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
            "config {key:?} is required (the pager webhook URL) but is not set"
        ))),
        Err(error) => Err(RunbookError::failed(format!(
            "config {key:?} is required (the pager webhook URL): {error}"
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

    fn page() -> Page {
        Page {
            session_id: "ses_01HX9F5OPQ".into(),
            risk_summary: "query volume 10x above baseline".into(),
        }
    }

    #[test]
    fn body_has_the_agreed_shape() {
        assert_eq!(
            page_body(&page(), "dsp-1"),
            json!({
                "summary": "query volume 10x above baseline",
                "session_id": "ses_01HX9F5OPQ",
                "dispatch_id": "dsp-1",
                "severity": "critical",
                "source": "runbox",
            })
        );
    }

    #[test]
    fn statuses_map_to_retryable_or_failed() {
        let status = |code| HttpError::Status {
            url: "https://pager.example.com".into(),
            status: code,
            body: String::new(),
        };
        assert!(http_failure(status(503)).is_retryable());
        assert!(http_failure(status(429)).is_retryable());
        assert!(!http_failure(status(400)).is_retryable());
        let body = HttpError::Body {
            url: "https://pager.example.com".into(),
            reason: "writing the request body: the stream was closed".into(),
        };
        assert!(http_failure(body).is_retryable());
        let denied = HttpError::Denied {
            url: "https://evil.example.com/".into(),
            reason: "the host is not on the allow-list".into(),
        };
        assert_eq!(
            http_failure(denied),
            RunbookError::failed(
                "request to https://evil.example.com/ denied by the host's egress policy: \
                 the host is not on the allow-list"
            )
        );
    }

    #[test]
    fn missing_config_names_the_key() {
        // Off the sandbox the config capability is a stub that answers `Unavailable`.
        let ctx = Context::new(Invocation::new("dsp-1", Trigger::Manual));
        let error = run(&ctx, page()).unwrap_err();
        assert!(
            error
                .message()
                .starts_with(r#"config "pager_webhook_url" is required"#),
            "{error}"
        );
    }
}
