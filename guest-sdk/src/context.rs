//! What a runbook function gets besides its params: the invocation and the host's
//! capabilities.

use std::cell::OnceCell;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::runbox::runbook::types as wit;
use crate::config::Config;
use crate::connection::Connection;
use crate::http::Http;
use crate::log::Log;

/// The run's context: the invocation and handles to the host's capabilities.
///
/// Every capability is deny-by-default on the host: one the admin has not granted
/// answers with an error value (`ExecError::Denied`, `ConfigError::Denied`,
/// `HttpError::Denied`), never a trap.
///
/// On targets other than `wasm32` (unit tests and doctests on the host) the
/// capabilities are stubs: [`Log`] writes to stderr, `exec` answers
/// [`ExecError::NoConnection`](crate::ExecError::NoConnection), `config` answers
/// [`ConfigError::Unavailable`](crate::ConfigError::Unavailable) and HTTP answers
/// [`HttpError::Unavailable`](crate::HttpError::Unavailable). That makes a runbook's
/// pure logic testable with `cargo test` by building a [`Context`] with
/// [`Context::new`].
#[derive(Debug)]
pub struct Context {
    invocation: Invocation,
}

impl Context {
    /// A context for this invocation (the `#[runbook]` macro builds it for you; build
    /// one yourself to unit-test a runbook function on the host).
    pub fn new(invocation: Invocation) -> Self {
        Self { invocation }
    }

    /// Why and with what this run happens.
    pub fn invocation(&self) -> &Invocation {
        &self.invocation
    }

    /// Structured log lines, captured with the run's result.
    pub fn log(&self) -> Log {
        Log::new()
    }

    /// The connection this run is bound to.
    pub fn connection(&self) -> Connection {
        Connection::new()
    }

    /// Admin-set configuration values (secrets included) granted to this runbook.
    pub fn config(&self) -> Config {
        Config::new()
    }

    /// Outbound HTTP through `wasi:http` (allow-listed hosts only).
    pub fn http(&self) -> Http {
        Http::new()
    }
}

/// One run of a runbook (the WIT `invocation`).
#[derive(Debug, Clone)]
pub struct Invocation {
    dispatch_id: String,
    attempt: u32,
    trigger: Trigger,
    raw_payload: String,
    payload: OnceCell<Value>,
    raw_params: String,
    connection: Option<ConnectionInfo>,
}

impl Invocation {
    /// A first attempt with an empty payload, no params and no connection; adjust it with
    /// the `with_*` methods. Meant for tests: the host builds the real one.
    pub fn new(dispatch_id: impl Into<String>, trigger: Trigger) -> Self {
        Self {
            dispatch_id: dispatch_id.into(),
            attempt: 1,
            trigger,
            raw_payload: String::new(),
            payload: OnceCell::new(),
            raw_params: String::new(),
            connection: None,
        }
    }

    /// Sets the attempt number.
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Sets the payload (JSON text).
    #[must_use]
    pub fn with_payload(mut self, payload: impl Into<String>) -> Self {
        self.raw_payload = payload.into();
        self.payload = OnceCell::new();
        self
    }

    /// Sets the params (JSON object text).
    #[must_use]
    pub fn with_params(mut self, params: impl Into<String>) -> Self {
        self.raw_params = params.into();
        self
    }

    /// Sets the bound connection.
    #[must_use]
    pub fn with_connection(mut self, connection: ConnectionInfo) -> Self {
        self.connection = Some(connection);
        self
    }

    pub(crate) fn from_wit(invocation: wit::Invocation) -> Self {
        Self {
            dispatch_id: invocation.dispatch_id,
            attempt: invocation.attempt,
            trigger: Trigger::from_wit(invocation.trigger),
            raw_payload: invocation.payload,
            payload: OnceCell::new(),
            raw_params: invocation.params,
            connection: invocation.connection.map(|c| ConnectionInfo {
                name: c.name,
                kind: c.type_,
                subtype: c.subtype,
                tags: c.tags,
            }),
        }
    }

    /// Stable across attempts and replays of the same dispatch: use it as the
    /// idempotency key of side effects.
    pub fn dispatch_id(&self) -> &str {
        &self.dispatch_id
    }

    /// 1 for the first attempt.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Why this run happens.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The event (or hook) payload, parsed on first use.
    ///
    /// An empty payload, or one that is not valid JSON, reads as `Value::Null`; use
    /// [`raw_payload`](Self::raw_payload) or [`payload_as`](Self::payload_as) to see the
    /// text or the parse error.
    pub fn payload(&self) -> &Value {
        self.payload
            .get_or_init(|| serde_json::from_str(&self.raw_payload).unwrap_or(Value::Null))
    }

    /// The payload deserialised into `T`.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.raw_payload)
    }

    /// The payload as the host sent it (JSON text).
    pub fn raw_payload(&self) -> &str {
        &self.raw_payload
    }

    /// The rendered params as the host sent them (JSON object text). The typed params
    /// struct is usually what you want.
    pub fn raw_params(&self) -> &str {
        &self.raw_params
    }

    /// The connection this run is bound to, if any.
    pub fn connection(&self) -> Option<&ConnectionInfo> {
        self.connection.as_ref()
    }
}

/// Which session hook fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `hoop-hooks/session-open`.
    SessionOpen,
    /// `hoop-hooks/session-close`.
    SessionClose,
}

impl HookKind {
    /// `session-open` or `session-close`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionOpen => "session-open",
            Self::SessionClose => "session-close",
        }
    }
}

/// Why this run happens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A platform event of this type (e.g. `session.closed`).
    Event(String),
    /// A session hook.
    Hook(HookKind),
    /// A manual run (`runbox run`, `POST /runbooks/exec`).
    Manual,
}

impl Trigger {
    fn from_wit(trigger: wit::Trigger) -> Self {
        match trigger {
            wit::Trigger::Event(event_type) => Self::Event(event_type),
            wit::Trigger::Hook(wit::HookKind::SessionOpen) => Self::Hook(HookKind::SessionOpen),
            wit::Trigger::Hook(wit::HookKind::SessionClose) => Self::Hook(HookKind::SessionClose),
            wit::Trigger::Manual => Self::Manual,
        }
    }
}

/// `event:session.closed`, `hook:session-open`, `manual`.
impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event(event_type) => write!(f, "event:{event_type}"),
            Self::Hook(kind) => write!(f, "hook:{}", kind.as_str()),
            Self::Manual => f.write_str("manual"),
        }
    }
}

/// The connection a run is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The connection's name.
    pub name: String,
    /// `database`, `application` or `custom` (the WIT `type`).
    pub kind: String,
    /// e.g. `postgres`, `ssh`, `tcp`.
    pub subtype: String,
    /// The connection's tags.
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payload_is_parsed_lazily_and_leniently() {
        let inv = Invocation::new("d-1", Trigger::Manual).with_payload(r#"{"user":"a@b"}"#);
        assert_eq!(inv.payload(), &json!({"user": "a@b"}));
        assert_eq!(inv.raw_payload(), r#"{"user":"a@b"}"#);
        #[derive(serde::Deserialize)]
        struct P {
            user: String,
        }
        assert_eq!(inv.payload_as::<P>().unwrap().user, "a@b");

        let broken = Invocation::new("d-2", Trigger::Manual).with_payload("{");
        assert_eq!(broken.payload(), &Value::Null);
        assert!(broken.payload_as::<Value>().is_err());
        assert_eq!(
            Invocation::new("d", Trigger::Manual).payload(),
            &Value::Null
        );
    }

    #[test]
    fn from_wit_maps_every_field() {
        let inv = Invocation::from_wit(wit::Invocation {
            dispatch_id: "disp".into(),
            attempt: 3,
            trigger: wit::Trigger::Hook(wit::HookKind::SessionClose),
            payload: "{}".into(),
            params: r#"{"a":1}"#.into(),
            connection: Some(wit::ConnectionInfo {
                name: "pg".into(),
                type_: "database".into(),
                subtype: "postgres".into(),
                tags: vec!["prod".into()],
            }),
        });
        assert_eq!(inv.dispatch_id(), "disp");
        assert_eq!(inv.attempt(), 3);
        assert_eq!(inv.trigger(), &Trigger::Hook(HookKind::SessionClose));
        assert_eq!(inv.trigger().to_string(), "hook:session-close");
        assert_eq!(inv.raw_params(), r#"{"a":1}"#);
        let conn = inv.connection().unwrap();
        assert_eq!(
            (
                conn.name.as_str(),
                conn.kind.as_str(),
                conn.subtype.as_str()
            ),
            ("pg", "database", "postgres")
        );
        assert_eq!(conn.tags, ["prod"]);
        assert_eq!(
            Trigger::Event("session.closed".into()).to_string(),
            "event:session.closed"
        );
    }
}
