//! What the dispatches of one claimed batch share, looked up once per batch.
//!
//! Why: an event fans out to many subscriptions and a batch holds many dispatches of the
//! same events, subscriptions and connections. Reading and decoding each of them once per
//! dispatch (and parsing the same JSONPath mapping again) was a large part of a worker's
//! time per dispatch. The cache lives only as long as the batch, so a subscription edited
//! meanwhile is seen by the next batch, as before.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::model::{Connection, DispatchError, Event, Subscription};
use crate::repo::RunbookHandle;
use crate::routing::CompiledMapping;

type Shared<T> = Result<Arc<T>, DispatchError>;

/// An event as its dispatches use it: parsed (for the mapping) and as the JSON text the
/// guest gets, serialized once per batch rather than once per dispatch.
#[derive(Debug)]
pub(crate) struct BatchEvent {
    pub event: Event,
    pub payload_text: String,
}

impl From<Event> for BatchEvent {
    fn from(event: Event) -> Self {
        let payload_text = event.payload.to_string();
        BatchEvent {
            event,
            payload_text,
        }
    }
}

/// A per-batch memo of one kind of lookup.
#[derive(Debug)]
struct Memo<K, V>(Mutex<HashMap<K, Shared<V>>>);

impl<K: Eq + Hash, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash + Clone, V> Memo<K, V> {
    /// The memoized value of `key`, or `load`'s (then remembered). Concurrent misses may
    /// both load; the lock is never held across the load.
    async fn get_or<F>(&self, key: K, load: F) -> Shared<V>
    where
        F: Future<Output = Result<V, DispatchError>>,
    {
        if let Some(found) = self.lock().get(&key) {
            return found.clone();
        }
        let loaded = load.await.map(Arc::new);
        self.lock().insert(key, loaded.clone());
        loaded
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Shared<V>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The lookups of one batch; keys are `(org, id or name)`.
#[derive(Debug, Default)]
pub(crate) struct BatchCache {
    subscriptions: Memo<(String, String), Subscription>,
    events: Memo<(String, String), BatchEvent>,
    connections: Memo<(String, String), Connection>,
    runbooks: Memo<(String, String, String), RunbookHandle>,
    /// By (org, subscription id, runbook commit): the mapping with pre-matched params.
    mappings: Memo<(String, String, String), CompiledMapping>,
}

impl BatchCache {
    pub(crate) async fn subscription<F>(&self, org: &str, id: &str, load: F) -> Shared<Subscription>
    where
        F: Future<Output = Result<Subscription, DispatchError>>,
    {
        let key = (org.to_string(), id.to_string());
        self.subscriptions.get_or(key, load).await
    }

    pub(crate) async fn event<F>(&self, org: &str, id: &str, load: F) -> Shared<BatchEvent>
    where
        F: Future<Output = Result<Event, DispatchError>>,
    {
        let load = async { load.await.map(BatchEvent::from) };
        self.events
            .get_or((org.to_string(), id.to_string()), load)
            .await
    }

    pub(crate) async fn connection<F>(&self, org: &str, name: &str, load: F) -> Shared<Connection>
    where
        F: Future<Output = Result<Connection, DispatchError>>,
    {
        let key = (org.to_string(), name.to_string());
        self.connections.get_or(key, load).await
    }

    pub(crate) async fn runbook<F>(
        &self,
        org: &str,
        repository: &str,
        file: &str,
        load: F,
    ) -> Shared<RunbookHandle>
    where
        F: Future<Output = Result<RunbookHandle, DispatchError>>,
    {
        let key = (org.to_string(), repository.to_string(), file.to_string());
        self.runbooks.get_or(key, load).await
    }

    pub(crate) async fn mapping<F>(
        &self,
        org: &str,
        subscription_id: &str,
        commit: &str,
        load: F,
    ) -> Shared<CompiledMapping>
    where
        F: Future<Output = Result<CompiledMapping, DispatchError>>,
    {
        let key = (
            org.to_string(),
            subscription_id.to_string(),
            commit.to_string(),
        );
        self.mappings.get_or(key, load).await
    }
}
