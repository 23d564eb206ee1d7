//! `revoke-ai-agent-access`: when DLP flags sensitive data in a session
//! (`alert.sensitive_data_detected`), revoke the access of the AI agent's user on the
//! connection it used.
//!
//! The runbook is bound to an ops connection of type `custom` (e.g. `bash-ops`) whose
//! agent runs the input as a shell script. It sends a short script that calls the
//! site's own `revoke-agent-access` tool, guarded by a marker file named after the
//! dispatch id: the dispatch id is stable across retries and replays, so running the
//! same dispatch twice revokes once and reports "already revoked" the second time.
//!
//! Results:
//! - exit code 0: `Ok` with what was done and the agent's output;
//! - non-zero exit: `failed` with the exit code and the output;
//! - agent offline: `retryable` (a subscription retry policy runs it again later);
//! - no connection bound, or exec denied: `failed` with the SDK's error text.

use runbox_sdk::prelude::*;

/// Params, rendered from the alert payload by the subscription's `parameter_mapping`
/// (`agent_user: "$.user"`, `connection_name: "$.connection"`).
#[derive(Debug, Params)]
struct Revoke {
    /// The AI agent's user whose access is revoked (the alert's `user`).
    #[param(kind = "email", placeholder = "ai-agent@acme.com")]
    agent_user: String,
    /// The connection the agent used (the alert's `connection`).
    #[param(placeholder = "conn-prod-pg")]
    connection_name: String,
}

/// Revokes an AI agent's access to a connection when DLP detects sensitive data.
#[runbook(name = "revoke-ai-agent-access")]
fn run(ctx: &Context, params: Revoke) -> Result<String, RunbookError> {
    let inv = ctx.invocation();
    let script = revoke_script(
        &params.agent_user,
        &params.connection_name,
        inv.dispatch_id(),
    )?;
    ctx.log().info(format!(
        "revoking {} on {} (dispatch {}, attempt {}, {})",
        params.agent_user,
        params.connection_name,
        inv.dispatch_id(),
        inv.attempt(),
        inv.trigger(),
    ));

    let output = match ctx.connection().exec(&script) {
        Ok(output) => output,
        // The agent may come back: let the subscription's retry policy try again
        // (same dispatch id, so the marker keeps it idempotent).
        Err(error) if error.is_retryable() => return Err(RunbookError::retryable(error)),
        Err(error) => return Err(error.into()),
    };
    // A non-zero exit becomes `failed` with the exit code and the script's output.
    let text = output.success()?;
    Ok(format!(
        "revoked access of {} on {} (dispatch {}): {}",
        params.agent_user,
        params.connection_name,
        inv.dispatch_id(),
        text.trim_end()
    ))
}

/// The shell script sent to the ops connection's agent.
///
/// Every value is quoted with [`sh_quote`]; the marker file name uses only a sanitized
/// form of the dispatch id, so it stays one path component.
fn revoke_script(user: &str, connection: &str, dispatch_id: &str) -> Result<String, RunbookError> {
    if user.trim().is_empty() || connection.trim().is_empty() {
        return Err(RunbookError::failed(
            "agent_user and connection_name must not be empty",
        ));
    }
    let user_q = sh_quote(user)?;
    let connection_q = sh_quote(connection)?;
    let dispatch_q = sh_quote(dispatch_id)?;
    // The comment and the marker file name only get the sanitized id: a newline in
    // a comment would end it.
    let dispatch_comment = file_safe(dispatch_id);
    let marker = sh_quote(&format!("/var/tmp/runbox-revoke-{dispatch_comment}.done"))?;
    Ok(format!(
        "# runbox revoke-ai-agent-access, dispatch {dispatch_comment}\n\
         set -eu\n\
         marker={marker}\n\
         if [ -e \"$marker\" ]; then\n  \
           echo \"already revoked by dispatch \"{dispatch_q}\n  \
           exit 0\n\
         fi\n\
         revoke-agent-access --user {user_q} --connection {connection_q} --request-id {dispatch_q}\n\
         touch \"$marker\"\n\
         echo \"revoked \"{user_q}\" on \"{connection_q}\n"
    ))
}

/// Quotes `value` as one POSIX `sh` word: `'...'`, each `'` written as `'\''`.
///
/// A NUL byte cannot be part of a shell word (or any argv), so it is refused instead of
/// being silently cut.
fn sh_quote(value: &str) -> Result<String, RunbookError> {
    if value.contains('\0') {
        return Err(RunbookError::failed(format!(
            "{value:?} contains a NUL byte and cannot be passed to a shell"
        )));
    }
    Ok(format!("'{}'", value.replace('\'', r"'\''")))
}

/// `value` with everything but `[A-Za-z0-9._-]` replaced by `_`: safe as a file name part.
fn file_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quote_makes_one_word() {
        assert_eq!(sh_quote("plain").unwrap(), "'plain'");
        assert_eq!(sh_quote("").unwrap(), "''");
        assert_eq!(sh_quote("it's").unwrap(), r"'it'\''s'");
        assert_eq!(sh_quote("$(rm -rf /); `x`").unwrap(), "'$(rm -rf /); `x`'");
        assert!(sh_quote("a\0b").is_err());
    }

    #[test]
    fn script_quotes_everything_and_keys_on_the_dispatch() {
        let script = revoke_script("bot'@acme.com", "conn-prod-pg", "dsp/01 x").unwrap();
        assert!(script.contains("marker='/var/tmp/runbox-revoke-dsp_01_x.done'"));
        assert!(script.contains(
            r"revoke-agent-access --user 'bot'\''@acme.com' --connection 'conn-prod-pg' --request-id 'dsp/01 x'"
        ));
        assert!(
            script.starts_with("# runbox revoke-ai-agent-access, dispatch dsp_01_x\nset -eu\n")
        );
    }

    #[cfg(unix)]
    #[test]
    fn script_runs_once_per_dispatch() {
        // Needs a POSIX sh on the build machine (unix only).
        let dir = std::env::temp_dir().join(format!("runbox-revoke-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dispatch = format!("test-{}", std::process::id());
        let script = revoke_script("bot@acme.com", "conn'1", &dispatch)
            .unwrap()
            .replace("/var/tmp/", &format!("{}/", dir.display()));
        // A stand-in for the site's tool, first on PATH.
        let tool = dir.join("revoke-agent-access");
        std::fs::write(&tool, "#!/bin/sh\necho \"tool: $*\"\n").unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let run = || {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("PATH", &path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let first = run();
        assert!(
            first.contains(&format!(
                "tool: --user bot@acme.com --connection conn'1 --request-id {dispatch}"
            )),
            "{first}"
        );
        assert!(
            first.ends_with("revoked bot@acme.com on conn'1\n"),
            "{first}"
        );
        let second = run();
        assert_eq!(second, format!("already revoked by dispatch {dispatch}\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_connection_the_run_fails_clearly() {
        let ctx = Context::new(Invocation::new("dsp-1", Trigger::Manual));
        let params = Revoke {
            agent_user: "bot@acme.com".into(),
            connection_name: "conn-prod-pg".into(),
        };
        assert_eq!(
            run(&ctx, params),
            Err(RunbookError::failed(
                "exec: this run has no connection bound"
            ))
        );
    }
}
