//! Host side of `runbox:runbook/config`: `get` asks the run's [`crate::ConfigSource`].
//!
//! Values are secrets: they are never logged, only the key and whether it was granted.

use crate::bindings::runbox::runbook::config::{ConfigError, Host};
use crate::config_source::ConfigSourceError;
use crate::state::HostState;
use tracing::Instrument;

impl HostState {
    /// Reads one granted key. Denied or unavailable keys are error values for the guest.
    pub(crate) fn config_get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, ConfigError>> {
        self.charge(key.len())?;
        match self.config.get(&key) {
            Ok(value) => {
                self.charge(value.as_ref().map_or(0, String::len))?;
                tracing::debug!(key = %key, present = value.is_some(), "config granted");
                Ok(Ok(value))
            }
            Err(ConfigSourceError::Denied(_)) => {
                tracing::info!(key = %key, "config key not granted");
                Ok(Err(ConfigError::Denied(format!(
                    "config key {key:?} is not granted to this runbook"
                ))))
            }
            Err(ConfigSourceError::Unavailable(why)) => {
                tracing::warn!(key = %key, "config provider unavailable: {why}");
                Ok(Err(ConfigError::Unavailable(why)))
            }
        }
    }
}

impl Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, ConfigError>> {
        let span = tracing::debug_span!("hostcall", interface = "runbox:runbook/config");
        async { self.config_get(key) }.instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::Capabilities;
    use crate::config_source::{ConfigSource, StaticConfig};
    use crate::limits::Limits;
    use crate::state::test_support::state_with;
    use std::sync::Arc;

    struct Broken;
    impl ConfigSource for Broken {
        fn get(&self, _key: &str) -> Result<Option<String>, ConfigSourceError> {
            Err(ConfigSourceError::Unavailable("vault sealed".into()))
        }
    }

    #[tokio::test]
    async fn granted_unset_and_denied_keys() {
        let caps = Capabilities {
            config: Arc::new(
                StaticConfig::new()
                    .with("TOKEN", "s3cr3t")
                    .with_unset("EMPTY"),
            ),
            ..Capabilities::default()
        };
        let mut s = state_with(&Limits::default(), &caps);
        assert_eq!(
            Host::get(&mut s, "TOKEN".into()).await.unwrap(),
            Ok(Some("s3cr3t".into()))
        );
        assert_eq!(Host::get(&mut s, "EMPTY".into()).await.unwrap(), Ok(None));
        match Host::get(&mut s, "OTHER".into()).await.unwrap() {
            Err(ConfigError::Denied(msg)) => assert!(msg.contains("OTHER"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn default_capabilities_deny_every_key() {
        let mut s = state_with(&Limits::default(), &Capabilities::default());
        assert!(matches!(
            Host::get(&mut s, "TOKEN".into()).await.unwrap(),
            Err(ConfigError::Denied(_))
        ));
    }

    #[tokio::test]
    async fn provider_failure_is_unavailable() {
        let caps = Capabilities {
            config: Arc::new(Broken),
            ..Capabilities::default()
        };
        let mut s = state_with(&Limits::default(), &caps);
        assert_eq!(
            Host::get(&mut s, "K".into()).await.unwrap(),
            Err(ConfigError::Unavailable("vault sealed".into()))
        );
    }
}
