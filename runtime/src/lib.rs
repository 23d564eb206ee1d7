//! The runbox runtime: the process-wide engine, the compiled-component cache, loading and
//! running runbook components, and the `runbox` command line.
//!
//! A gateway embeds this crate; `runbox` (the binary) is a thin wrapper over [`cli`].

pub mod agent;
pub mod api;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod component;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod hooks;
pub mod manual_run;
pub mod metrics;
pub mod model;
mod org_capabilities;
pub mod repo;
pub mod routing;
pub mod runtime;
mod serde_duration;
pub mod server;
mod standby;
pub mod store;

pub use auth::{AuthError, Caller, NewToken, Role};
pub use cache::{ArtifactCache, CacheOutcome, CacheStats};
pub use catalog::{Catalog, CatalogEntry, Category, FieldSpec, FieldType, PayloadError};
pub use component::{ComponentSummary, LoadedComponent};
pub use dispatch::{ErrorClass, RoutingServiceError};
pub use engine::{Aftercare, Allocator, Engine, EngineSettings};
pub use error::{RepoError, RuntimeError, StoreError};
pub use hooks::{HookRun, HookSettings, HookTicket, SessionInfo};
pub use repo::{RepoConfig, RepoKey, RepoSettings, Repositories, RunbookHandle, Snapshot};
pub use routing::{
    CompiledMapping, CompiledPath, ParamError, ParamErrorCode, ParameterMapping, PreviewResult,
    RenderErrors, RoutingError,
};
pub use runbox_host_api as host;
pub use runtime::{PublishReceipt, Runtime, RuntimeBuilder, SubscriptionView};
