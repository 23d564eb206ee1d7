//! `quarantine-connection`: when a guardrail trips in a session
//! (`session.guardrail_violation`), quarantine what the connection points at.
//!
//! - Bound to a `database`/`postgres` connection, it sends one SQL transaction through
//!   `connection.exec` that records the quarantine in `runbox_quarantine` and revokes
//!   `CONNECT` on the connection's current database from `PUBLIC` (new sessions of
//!   ordinary roles are refused; the owner, superusers and roles granted `CONNECT`
//!   explicitly keep access, and open sessions are not terminated).
//! - Bound to any other connection type, it sends the shell command
//!   `quarantine-connection <connection> <rule>` (a site-provided script on the agent),
//!   with `RUNBOX_DISPATCH_ID` set for its own deduplication.
//!
//! Idempotency: the record is keyed by the dispatch id (`ON CONFLICT DO NOTHING`), and
//! revoking a privilege that is already revoked is a no-op in PostgreSQL, so a retried
//! or replayed dispatch changes nothing the second time.
//!
//! Every value from the event is quoted (a SQL literal or a `sh` word); a NUL byte is
//! refused, never cut.

use runbox_sdk::ConnectionInfo;
use runbox_sdk::prelude::*;

/// Params, rendered from the violation payload (`connection: "$.connection"`,
/// `triggered_rule: "$.rule"`, `query_excerpt: "$.query_excerpt"`).
#[derive(Debug, Params)]
struct Quarantine {
    /// The connection the violation happened on (the event's `connection`).
    #[param(placeholder = "conn-prod-pg")]
    connection: String,
    /// The guardrail rule that tripped (the event's `rule`).
    #[param(placeholder = "block-truncate-prod")]
    triggered_rule: String,
    /// The start of the offending query (the event's optional `query_excerpt`).
    #[param(kind = "textarea")]
    query_excerpt: Option<String>,
}

/// Quarantines the database behind a connection after a guardrail violation.
#[runbook(name = "quarantine-connection")]
fn run(ctx: &Context, params: Quarantine) -> Result<String, RunbookError> {
    let inv = ctx.invocation();
    let action = plan(inv.connection(), inv.dispatch_id(), &params)?;
    ctx.log().info(format!(
        "quarantining {} after rule {} with {} (dispatch {}, attempt {})",
        params.connection,
        params.triggered_rule,
        action.what(),
        inv.dispatch_id(),
        inv.attempt(),
    ));

    let output = match ctx.connection().exec(action.input()) {
        Ok(output) => output,
        // The agent may come back: let the subscription's retry policy try again.
        Err(error) if error.is_retryable() => return Err(RunbookError::retryable(error)),
        Err(error) => return Err(error.into()),
    };
    // A non-zero exit (a SQL error, a failing script) is `failed` with its output.
    let text = output.success()?;
    Ok(format!(
        "quarantined {} ({}, rule {}, dispatch {}): {}",
        params.connection,
        action.what(),
        params.triggered_rule,
        inv.dispatch_id(),
        text.trim_end()
    ))
}

/// What to send to the bound connection.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// A PostgreSQL script.
    Sql(String),
    /// A shell command line.
    Shell(String),
}

impl Action {
    fn input(&self) -> &str {
        match self {
            Self::Sql(text) | Self::Shell(text) => text,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Self::Sql(_) => "REVOKE CONNECT on the current database",
            Self::Shell(_) => "the quarantine-connection command",
        }
    }
}

/// Chooses SQL for a PostgreSQL connection and a shell command otherwise. Without a
/// bound connection the shell command is planned; `exec` then reports the missing
/// connection.
fn plan(
    bound: Option<&ConnectionInfo>,
    dispatch_id: &str,
    params: &Quarantine,
) -> Result<Action, RunbookError> {
    let is_postgres = bound.is_some_and(|c| {
        c.kind.eq_ignore_ascii_case("database") && c.subtype.eq_ignore_ascii_case("postgres")
    });
    if is_postgres {
        Ok(Action::Sql(quarantine_sql(dispatch_id, params)?))
    } else {
        Ok(Action::Shell(format!(
            "RUNBOX_DISPATCH_ID={} quarantine-connection {} {}",
            sh_quote(dispatch_id)?,
            sh_quote(&params.connection)?,
            sh_quote(&params.triggered_rule)?,
        )))
    }
}

/// One transaction: record the quarantine (once per dispatch), then revoke `CONNECT` on
/// the current database. The database name comes from `current_database()` inside the
/// server and is quoted there with `format('%I')`; `REVOKE` takes no expression, hence
/// the dynamic `EXECUTE` in a `DO` block.
fn quarantine_sql(dispatch_id: &str, params: &Quarantine) -> Result<String, RunbookError> {
    let excerpt = match &params.query_excerpt {
        Some(text) => quote_literal(text)?,
        None => "NULL".to_owned(),
    };
    Ok(format!(
        "-- runbox quarantine-connection\n\
         BEGIN;\n\
         CREATE TABLE IF NOT EXISTS runbox_quarantine (\n    \
             dispatch_id text PRIMARY KEY,\n    \
             connection  text NOT NULL,\n    \
             rule        text NOT NULL,\n    \
             excerpt     text,\n    \
             at          timestamptz NOT NULL DEFAULT now()\n\
         );\n\
         INSERT INTO runbox_quarantine (dispatch_id, connection, rule, excerpt)\n    \
             VALUES ({dispatch}, {connection}, {rule}, {excerpt})\n    \
             ON CONFLICT (dispatch_id) DO NOTHING;\n\
         DO $$\n\
         BEGIN\n    \
             EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());\n\
         END\n\
         $$;\n\
         COMMIT;\n",
        dispatch = quote_literal(dispatch_id)?,
        connection = quote_literal(&params.connection)?,
        rule = quote_literal(&params.triggered_rule)?,
    ))
}

/// `value` as a PostgreSQL string literal, like the server's own `quote_literal`:
/// single quotes doubled; if there is a backslash, an `E'...'` literal with backslashes
/// doubled too, so the result is right whatever `standard_conforming_strings` says.
/// PostgreSQL text cannot hold NUL, so a NUL byte is refused.
fn quote_literal(value: &str) -> Result<String, RunbookError> {
    if value.contains('\0') {
        return Err(RunbookError::failed(format!(
            "{value:?} contains a NUL byte, which PostgreSQL text cannot hold"
        )));
    }
    let body = value.replace('\'', "''");
    Ok(if body.contains('\\') {
        format!("E'{}'", body.replace('\\', r"\\"))
    } else {
        format!("'{body}'")
    })
}

/// Quotes `value` as one POSIX `sh` word: `'...'`, each `'` written as `'\''`. A NUL
/// byte cannot be part of a shell word, so it is refused.
fn sh_quote(value: &str) -> Result<String, RunbookError> {
    if value.contains('\0') {
        return Err(RunbookError::failed(format!(
            "{value:?} contains a NUL byte and cannot be passed to a shell"
        )));
    }
    Ok(format!("'{}'", value.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(excerpt: Option<&str>) -> Quarantine {
        Quarantine {
            connection: "conn-prod-pg".into(),
            triggered_rule: "block-truncate-prod".into(),
            query_excerpt: excerpt.map(Into::into),
        }
    }

    fn connection(kind: &str, subtype: &str) -> ConnectionInfo {
        ConnectionInfo {
            name: "conn-prod-pg".into(),
            kind: kind.into(),
            subtype: subtype.into(),
            tags: vec![],
        }
    }

    #[test]
    fn quote_literal_doubles_quotes_and_escapes_backslashes() {
        assert_eq!(quote_literal("plain").unwrap(), "'plain'");
        assert_eq!(quote_literal("").unwrap(), "''");
        assert_eq!(quote_literal("O'Brien").unwrap(), "'O''Brien'");
        assert_eq!(
            quote_literal("x'); DROP TABLE t; --").unwrap(),
            "'x''); DROP TABLE t; --'"
        );
        assert_eq!(quote_literal(r"a\'b").unwrap(), r"E'a\\''b'");
        assert_eq!(quote_literal("$$ $runbox$").unwrap(), "'$$ $runbox$'");
        assert!(quote_literal("a\0b").is_err());
    }

    #[test]
    fn sh_quote_makes_one_word() {
        assert_eq!(sh_quote("rule").unwrap(), "'rule'");
        assert_eq!(sh_quote("it's").unwrap(), r"'it'\''s'");
        assert_eq!(sh_quote("; rm -rf / #").unwrap(), "'; rm -rf / #'");
        assert!(sh_quote("\0").is_err());
    }

    #[test]
    fn postgres_gets_the_sql_transaction() {
        let pg = connection("database", "postgres");
        let Action::Sql(sql) =
            plan(Some(&pg), "dsp-1", &params(Some("TRUNCATE TABLE 'x'"))).unwrap()
        else {
            panic!("expected SQL");
        };
        assert!(sql.contains(
            "VALUES ('dsp-1', 'conn-prod-pg', 'block-truncate-prod', 'TRUNCATE TABLE ''x''')"
        ));
        assert!(sql.contains("ON CONFLICT (dispatch_id) DO NOTHING;"));
        assert!(sql.contains(
            "EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());"
        ));
        assert!(sql.contains("BEGIN;\nCREATE TABLE IF NOT EXISTS runbox_quarantine ("));
        assert!(sql.ends_with("COMMIT;\n"));

        let Action::Sql(sql) = plan(Some(&pg), "dsp-2", &params(None)).unwrap() else {
            panic!("expected SQL");
        };
        assert!(sql.contains("'block-truncate-prod', NULL)"));
    }

    #[test]
    fn other_connections_get_the_shell_command() {
        let mut p = params(None);
        p.triggered_rule = "no 'drop'".into();
        for bound in [
            Some(connection("custom", "bash")),
            Some(connection("database", "mysql")),
            None,
        ] {
            assert_eq!(
                plan(bound.as_ref(), "dsp-3", &p).unwrap(),
                Action::Shell(
                    r"RUNBOX_DISPATCH_ID='dsp-3' quarantine-connection 'conn-prod-pg' 'no '\''drop'\'''"
                        .into()
                )
            );
        }
    }

    #[test]
    fn nul_bytes_are_refused() {
        let pg = connection("database", "postgres");
        let error = plan(Some(&pg), "dsp-4", &params(Some("a\0b"))).unwrap_err();
        assert!(error.message().contains("NUL"), "{error}");
    }
}
