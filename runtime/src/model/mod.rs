//! The data types of event routing, as stored and as shown by the admin API.
//!
//! JSON field names follow hoop's (see `HOOP-COMPAT.md`) so existing clients keep working;
//! fields runbox adds (retry policy, lease, fuel, ...) are extra keys, never renamed ones.

mod audit;
mod connection;
mod dispatch;
mod event;
mod id;
mod subscription;
pub(crate) mod time;

pub use audit::{AuditRecord, NewAuditRecord, ObjectKind};
pub use connection::{AccessMode, Connection, ConnectionSpec, ConnectionType, Secrets};
pub use dispatch::{Dispatch, DispatchError, DispatchStatus, MAX_ERROR_MESSAGE_CHARS};
pub use event::{Event, NewEvent};
pub use id::{IdKind, new_id};
pub use subscription::{RetryPolicy, Subscription, SubscriptionSpec, SubscriptionStatus};
pub use time::Timestamp;

/// The per-org feature flag that turns event routing on (default off).
pub const EVENT_ROUTING_FLAG: &str = "experimental.event_routing";
