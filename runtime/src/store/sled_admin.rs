//! Flags, connections and subscriptions on sled. Each write is one transaction with its
//! index entries and audit record; durability is added by the `Store` impl.

use super::StoreResult;
use super::keys::{Key, KeyReader};
use super::sled_store::{SledStore, StoredConnection, Tx, TxResult, abort, decode, t};
use crate::error::StoreError;
use crate::model::{
    Connection, ConnectionSpec, IdKind, ObjectKind, Subscription, SubscriptionSpec,
    SubscriptionStatus, Timestamp, new_id,
};

const CONNECTION: &str = "connection";
const SUBSCRIPTION: &str = "subscription";

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn require_name(name: &str) -> StoreResult<()> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "name",
            reason: "must not be empty".into(),
        });
    }
    Ok(())
}

impl SledStore {
    // ---------------------------------------------------------------- flags

    pub(crate) fn feature_flag_now(&self, org: &str, flag: &str) -> StoreResult<bool> {
        Ok(self
            .read::<bool>(t::ORG_FLAGS, &Key::org(org).s(flag).done(), "flag")?
            .unwrap_or(false))
    }

    pub(crate) fn set_feature_flag_now(
        &self,
        org: &str,
        flag: &str,
        on: bool,
        actor: &str,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        self.tx(|tx| {
            let key = Key::org(org).s(flag).done();
            let was = tx.get::<bool>(t::ORG_FLAGS, &key, "flag")?.unwrap_or(false);
            tx.put(t::ORG_FLAGS, key, &on)?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Org,
                org,
                Some(on_off(was)),
                Some(on_off(on)),
                Some(flag.to_string()),
            )
        })
    }

    // ---------------------------------------------------------------- connections

    pub(crate) fn connection_now(&self, org: &str, id: &str) -> StoreResult<Connection> {
        self.read::<StoredConnection>(t::CONNECTIONS, &Key::org(org).s(id).done(), CONNECTION)?
            .map(StoredConnection::into_connection)
            .ok_or_else(|| not_found(CONNECTION, id))
    }

    pub(crate) fn connection_by_name_now(&self, org: &str, name: &str) -> StoreResult<Connection> {
        let id = self
            .tree(t::CONNECTION_NAMES)
            .get(Key::org(org).s(name).done())?;
        let id = id.ok_or_else(|| StoreError::UnknownConnection {
            name: name.to_string(),
        })?;
        self.connection_now(org, &String::from_utf8_lossy(&id))
    }

    pub(crate) fn list_connections_now(&self, org: &str) -> StoreResult<Vec<Connection>> {
        let mut out = Vec::new();
        for entry in self
            .tree(t::CONNECTION_NAMES)
            .scan_prefix(Key::org(org).done())
        {
            let (_, id) = entry?;
            out.push(self.connection_now(org, &String::from_utf8_lossy(&id))?);
        }
        // The name index is ordered by key bytes, and keys are length-prefixed: shorter
        // names first. The trait promises name order.
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(crate) fn create_connection_now(
        &self,
        org: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        require_name(&spec.name)?;
        let now = Timestamp::now();
        let connection = from_spec(new_id(IdKind::Connection), org, spec, now, now);
        let _admin = self.admin_lock();
        self.tx(|tx| {
            let name_key = Key::org(org).s(&connection.name).done();
            if tx.has(t::CONNECTION_NAMES, &name_key)? {
                return abort(StoreError::DuplicateName {
                    kind: CONNECTION,
                    name: connection.name.clone(),
                });
            }
            tx.put_raw(t::CONNECTION_NAMES, name_key, connection.id.as_bytes())?;
            put_connection(tx, &connection)?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Connection,
                &connection.id,
                None,
                Some(&connection.name),
                Some("created".into()),
            )
        })?;
        Ok(connection)
    }

    pub(crate) fn update_connection_now(
        &self,
        org: &str,
        id: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        require_name(&spec.name)?;
        let now = Timestamp::now();
        let _admin = self.admin_lock();
        let old = self.connection_now(org, id)?;
        let updated = from_spec(old.id.clone(), org, spec, old.created_at, now);
        let renamed = old.name != updated.name;
        // Under the admin lock no subscription can start or stop naming the old name.
        let users = if renamed {
            self.subscriptions_using(org, &old.name)?
        } else {
            Vec::new()
        };
        self.tx(|tx| {
            if renamed {
                rename_in_index(
                    tx,
                    t::CONNECTION_NAMES,
                    CONNECTION,
                    org,
                    &old.name,
                    &updated.name,
                    &updated.id,
                )?;
                for sub_id in &users {
                    let key = Key::org(org).s(sub_id).done();
                    if let Some(mut sub) =
                        tx.get::<Subscription>(t::SUBSCRIPTIONS, &key, SUBSCRIPTION)?
                    {
                        sub.connection_name = updated.name.clone();
                        sub.updated_at = now;
                        tx.put(t::SUBSCRIPTIONS, key, &sub)?;
                        tx.audit(
                            org,
                            now,
                            actor,
                            ObjectKind::Subscription,
                            sub_id,
                            None,
                            None,
                            Some(format!(
                                "connection renamed {} -> {}",
                                old.name, updated.name
                            )),
                        )?;
                    }
                }
            }
            put_connection(tx, &updated)?;
            let (from, to) = if renamed {
                (Some(old.name.as_str()), Some(updated.name.as_str()))
            } else {
                (None, None)
            };
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Connection,
                id,
                from,
                to,
                Some("updated".into()),
            )
        })?;
        Ok(updated)
    }

    pub(crate) fn delete_connection_now(
        &self,
        org: &str,
        id: &str,
        actor: &str,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        let _admin = self.admin_lock();
        let old = self.connection_now(org, id)?;
        let users = self.subscriptions_using(org, &old.name)?;
        if !users.is_empty() {
            let names = users
                .iter()
                .filter_map(|sid| self.subscription_now(org, sid).ok().map(|s| s.name))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(StoreError::ConnectionInUse {
                name: old.name,
                subscriptions: names,
            });
        }
        self.tx(|tx| {
            tx.del(t::CONNECTIONS, &Key::org(org).s(id).done())?;
            tx.del(t::CONNECTION_NAMES, &Key::org(org).s(&old.name).done())?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Connection,
                id,
                Some(&old.name),
                None,
                Some("deleted".into()),
            )
        })
    }

    /// Ids of the org's subscriptions that name `connection` (a scan: call under the admin lock).
    fn subscriptions_using(&self, org: &str, connection: &str) -> StoreResult<Vec<String>> {
        let mut out = Vec::new();
        for entry in self
            .tree(t::SUBSCRIPTIONS)
            .scan_prefix(Key::org(org).done())
        {
            let (_, bytes) = entry?;
            let sub: Subscription = decode(&bytes, SUBSCRIPTION)?;
            if sub.connection_name == connection {
                out.push(sub.id);
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- subscriptions

    pub(crate) fn subscription_now(&self, org: &str, id: &str) -> StoreResult<Subscription> {
        self.read(t::SUBSCRIPTIONS, &Key::org(org).s(id).done(), SUBSCRIPTION)?
            .ok_or_else(|| not_found(SUBSCRIPTION, id))
    }

    pub(crate) fn list_subscriptions_now(
        &self,
        org: &str,
        status: Option<SubscriptionStatus>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut out = Vec::new();
        // Ids are time-ordered: a reverse scan is newest first.
        for entry in self
            .tree(t::SUBSCRIPTIONS)
            .scan_prefix(Key::org(org).done())
            .rev()
        {
            let (_, bytes) = entry?;
            let sub: Subscription = decode(&bytes, SUBSCRIPTION)?;
            if status.is_none_or(|s| s == sub.status) {
                out.push(sub);
            }
        }
        Ok(out)
    }

    pub(crate) fn active_subscription_ids_now(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<String>> {
        let prefix = Key::org(org).s(event_type).done();
        let mut out = Vec::new();
        for key in self.tree(t::ACTIVE_BY_EVENT).scan_prefix(&prefix).keys() {
            let key = key?;
            let mut reader = KeyReader::new(&key);
            if let (Some(_), Some(_), Some(id)) = (reader.s(), reader.s(), reader.s()) {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    pub(crate) fn active_subscriptions_now(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<Subscription>> {
        let mut out = Vec::new();
        let prefix = Key::org(org).s(event_type).done();
        for entry in self.tree(t::ACTIVE_BY_EVENT).scan_prefix(&prefix) {
            let (key, _) = entry?;
            let mut reader = KeyReader::new(&key);
            let id = reader.s().and_then(|_| reader.s()).and_then(|_| reader.s());
            let Some(id) = id else { continue };
            match self.subscription_now(org, id) {
                Ok(sub) if sub.status == SubscriptionStatus::Active => out.push(sub),
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub(crate) fn create_subscription_now(
        &self,
        org: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        validate_spec(&spec)?;
        let now = Timestamp::now();
        let sub = Subscription {
            id: new_id(IdKind::Subscription),
            org: org.to_string(),
            name: spec.name,
            description: spec.description,
            event_types: spec.event_types,
            runbook_repository: spec.runbook_repository,
            runbook_file: spec.runbook_file,
            connection_name: spec.connection_name,
            parameter_mapping: spec.parameter_mapping,
            status: spec.status,
            retry_policy: spec.retry_policy,
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
        };
        let _admin = self.admin_lock();
        self.tx(|tx| {
            let name_key = Key::org(org).s(&sub.name).done();
            if tx.has(t::SUBSCRIPTION_NAMES, &name_key)? {
                return abort(StoreError::DuplicateName {
                    kind: SUBSCRIPTION,
                    name: sub.name.clone(),
                });
            }
            require_connection(tx, org, &sub.connection_name)?;
            tx.put_raw(t::SUBSCRIPTION_NAMES, name_key, sub.id.as_bytes())?;
            put_subscription(tx, &sub, None)?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Subscription,
                &sub.id,
                None,
                Some(sub.status.as_str()),
                Some("created".into()),
            )
        })?;
        Ok(sub)
    }

    pub(crate) fn update_subscription_now(
        &self,
        org: &str,
        id: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        validate_spec(&spec)?;
        let now = Timestamp::now();
        let _admin = self.admin_lock();
        let old = self.subscription_now(org, id)?;
        if old.event_types != spec.event_types {
            return Err(StoreError::Invalid {
                field: "event_types",
                reason: "the event type of a subscription cannot change".into(),
            });
        }
        let updated = Subscription {
            name: spec.name,
            description: spec.description,
            runbook_repository: spec.runbook_repository,
            runbook_file: spec.runbook_file,
            connection_name: spec.connection_name,
            parameter_mapping: spec.parameter_mapping,
            retry_policy: spec.retry_policy,
            updated_at: now,
            ..old.clone()
        };
        self.tx(|tx| {
            if updated.name != old.name {
                rename_in_index(
                    tx,
                    t::SUBSCRIPTION_NAMES,
                    SUBSCRIPTION,
                    org,
                    &old.name,
                    &updated.name,
                    &updated.id,
                )?;
            }
            require_connection(tx, org, &updated.connection_name)?;
            put_subscription(tx, &updated, Some(&old))?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Subscription,
                id,
                None,
                None,
                Some("updated".into()),
            )
        })?;
        Ok(updated)
    }

    pub(crate) fn set_subscription_status_now(
        &self,
        org: &str,
        id: &str,
        status: SubscriptionStatus,
        actor: &str,
    ) -> StoreResult<Subscription> {
        let now = Timestamp::now();
        // With the admin lock: an update reads the record outside its transaction.
        let _admin = self.admin_lock();
        self.tx(|tx| {
            let key = Key::org(org).s(id).done();
            let Some(old) = tx.get::<Subscription>(t::SUBSCRIPTIONS, &key, SUBSCRIPTION)? else {
                return abort(not_found(SUBSCRIPTION, id));
            };
            if old.status == status {
                return Ok(old);
            }
            let updated = Subscription {
                status,
                updated_at: now,
                ..old.clone()
            };
            put_subscription(tx, &updated, Some(&old))?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Subscription,
                id,
                Some(old.status.as_str()),
                Some(status.as_str()),
                None,
            )?;
            Ok(updated)
        })
    }

    pub(crate) fn delete_subscription_now(
        &self,
        org: &str,
        id: &str,
        actor: &str,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        let _admin = self.admin_lock();
        let old = self.subscription_now(org, id)?;
        // First the subscription itself: from here on no publish can add a dispatch to it
        // (publish re-reads each subscription inside its transaction).
        self.tx(|tx| {
            tx.del(t::SUBSCRIPTIONS, &Key::org(org).s(id).done())?;
            tx.del(t::SUBSCRIPTION_NAMES, &Key::org(org).s(&old.name).done())?;
            tx.del(
                t::ACTIVE_BY_EVENT,
                &Key::org(org).s(old.event_type()).s(id).done(),
            )?;
            tx.del(t::SUB_LAST_ERROR, &Key::org(org).s(id).done())?;
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Subscription,
                id,
                Some(old.status.as_str()),
                None,
                Some(format!("deleted {}", old.name)),
            )
        })?;
        // Then the history, in bounded transactions (it can be large).
        self.delete_history(org, id)
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn from_spec(
    id: String,
    org: &str,
    spec: ConnectionSpec,
    created_at: Timestamp,
    updated_at: Timestamp,
) -> Connection {
    Connection {
        id,
        org: org.to_string(),
        name: spec.name,
        kind: spec.kind,
        subtype: spec.subtype,
        tags: spec.tags,
        agent_id: spec.agent_id,
        access_mode_exec: spec.access_mode_exec,
        access_mode_connect: spec.access_mode_connect,
        access_mode_runbooks: spec.access_mode_runbooks,
        plugins: spec.plugins,
        secrets: spec.secrets,
        command: spec.command,
        created_at,
        updated_at,
    }
}

fn put_connection(tx: &Tx<'_>, c: &Connection) -> TxResult<()> {
    tx.put(
        t::CONNECTIONS,
        Key::org(&c.org).s(&c.id).done(),
        &StoredConnection::new(c.clone()),
    )
}

/// Moves `id` from `old_name` to `new_name` in a per-org name index, refusing a name
/// already taken (the index is what makes names unique).
fn rename_in_index(
    tx: &Tx<'_>,
    tree: usize,
    kind: &'static str,
    org: &str,
    old_name: &str,
    new_name: &str,
    id: &str,
) -> TxResult<()> {
    let new_key = Key::org(org).s(new_name).done();
    if tx.has(tree, &new_key)? {
        return abort(StoreError::DuplicateName {
            kind,
            name: new_name.to_string(),
        });
    }
    tx.del(tree, &Key::org(org).s(old_name).done())?;
    tx.put_raw(tree, new_key, id.as_bytes())?;
    Ok(())
}

fn require_connection(tx: &Tx<'_>, org: &str, name: &str) -> TxResult<()> {
    if tx.has(t::CONNECTION_NAMES, &Key::org(org).s(name).done())? {
        Ok(())
    } else {
        abort(StoreError::UnknownConnection {
            name: name.to_string(),
        })
    }
}

/// Writes the subscription and keeps the active-by-event index in step with its status.
fn put_subscription(tx: &Tx<'_>, sub: &Subscription, old: Option<&Subscription>) -> TxResult<()> {
    let index_key = Key::org(&sub.org).s(sub.event_type()).s(&sub.id).done();
    let was_active = old.is_some_and(|o| o.status == SubscriptionStatus::Active);
    match (was_active, sub.status == SubscriptionStatus::Active) {
        (false, true) => tx.put_raw(t::ACTIVE_BY_EVENT, index_key, &[])?,
        (true, false) => tx.del(t::ACTIVE_BY_EVENT, &index_key)?,
        _ => {}
    }
    tx.put(t::SUBSCRIPTIONS, Key::org(&sub.org).s(&sub.id).done(), sub)
}

fn validate_spec(spec: &SubscriptionSpec) -> StoreResult<()> {
    require_name(&spec.name)?;
    if spec.event_types.len() != 1 || spec.event_types[0].is_empty() {
        return Err(StoreError::Invalid {
            field: "event_types",
            reason: format!(
                "exactly one event type is required, got {}",
                spec.event_types.len()
            ),
        });
    }
    if spec.connection_name.is_empty() {
        return Err(StoreError::Invalid {
            field: "connection_name",
            reason: "must not be empty".into(),
        });
    }
    Ok(())
}
