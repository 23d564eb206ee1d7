//! A component ready to run: compiled (or loaded from the cache), linked into an
//! `InstancePre`, and described (its `describe` export, or a `.toml` sidecar for plain
//! commands).

use std::sync::Arc;
use std::time::{Duration, Instant};

use runbox_host_api::{ComponentKind, Limits, Prepared, RunbookInfo};
use serde::Serialize;

use crate::cache::{CacheOutcome, sha256_hex};
use crate::engine::Engine;
use crate::error::{Result, RuntimeError};
use crate::standby::StandbySlot;

/// Largest component accepted by default (64 MiB). Real runbooks are tens to hundreds of KiB.
pub const DEFAULT_MAX_COMPONENT_BYTES: usize = 64 << 20;

/// A loaded component. Cheap to clone; every run instantiates it afresh.
#[derive(Debug, Clone)]
pub struct LoadedComponent {
    inner: Arc<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    name: String,
    sha256: String,
    size: usize,
    prepared: Prepared,
    info: Option<RunbookInfo>,
    cache: CacheOutcome,
    load_time: Duration,
    /// An instance made ahead for the next run through `Engine::run_with_standby`.
    standby: StandbySlot,
}

/// What `inspect` and listings show about a component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSummary {
    pub name: String,
    pub sha256: String,
    pub size: usize,
    pub kind: ComponentKind,
    pub imports: Vec<String>,
    pub info: Option<RunbookInfo>,
    pub cache: CacheOutcome,
    #[serde(
        rename = "load_ms",
        serialize_with = "crate::serde_duration::millis::serialize"
    )]
    pub load_time: Duration,
}

impl LoadedComponent {
    /// The name it was loaded under (a file name or a repository path).
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// sha256 of the wasm bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }
    /// Size of the wasm bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }
    /// Runbook world or plain command.
    pub fn kind(&self) -> ComponentKind {
        self.inner.prepared.kind()
    }
    /// The linked, ready-to-instantiate component.
    pub fn prepared(&self) -> &Prepared {
        &self.inner.prepared
    }
    /// Declared metadata: `describe` for runbooks, the sidecar for commands (if any).
    pub fn info(&self) -> Option<&RunbookInfo> {
        self.inner.info.as_ref()
    }
    /// Whether it came from the compiled cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner.cache
    }
    /// Its standby instance (see `Engine::run_with_standby`).
    pub(crate) fn standby(&self) -> &StandbySlot {
        &self.inner.standby
    }
    /// Whether an instance of it is made ahead for its next run (see
    /// [`Engine::run_with_standby`]).
    pub fn has_standby(&self) -> bool {
        self.inner.standby.is_filled()
    }
    /// Everything about it, for display.
    pub fn summary(&self) -> ComponentSummary {
        ComponentSummary {
            name: self.inner.name.clone(),
            sha256: self.inner.sha256.clone(),
            size: self.inner.size,
            kind: self.kind(),
            imports: self.inner.prepared.imports().to_vec(),
            info: self.inner.info.clone(),
            cache: self.inner.cache,
            load_time: self.inner.load_time,
        }
    }
}

impl Engine {
    /// Loads `wasm` (named `name` in errors): compiled-cache lookup or compile, link, then
    /// metadata — `describe` under [`Limits::describe`] for runbook components, or `sidecar`
    /// (TOML text) for plain commands.
    pub async fn load(
        &self,
        name: &str,
        wasm: Arc<[u8]>,
        sidecar: Option<&str>,
        max_bytes: usize,
    ) -> Result<LoadedComponent> {
        let started = Instant::now();
        let invalid = |reason: String| RuntimeError::InvalidComponent {
            name: name.to_string(),
            reason,
        };
        if wasm.len() > max_bytes {
            return Err(invalid(format!(
                "{} bytes is over the {max_bytes}-byte limit",
                wasm.len()
            )));
        }
        if wasm.get(..4) != Some(b"\0asm") {
            return Err(invalid(
                "not a WebAssembly binary (no \\0asm header)".into(),
            ));
        }
        let sha256 = sha256_hex(&wasm);
        let engine = self.clone();
        let bytes = wasm.clone();
        let hash = sha256.clone();
        // Compilation is CPU-bound for tens of milliseconds: keep it off the executor.
        let compiled = tokio::task::spawn_blocking(move || {
            engine
                .cache()
                .load_or_compile(engine.wasmtime(), &hash, &bytes)
        })
        .await
        .map_err(|e| RuntimeError::Engine(format!("compile task failed: {e}")))?;
        let (component, cache) = compiled.map_err(|e| invalid(describe_compile_error(&e)))?;
        let prepared = self
            .sandbox()
            .prepare(&component)
            .map_err(|f| invalid(f.message))?;
        let info = match prepared.kind() {
            ComponentKind::Runbook => self
                .sandbox()
                .describe(&prepared, &Limits::describe())
                .await
                .map_err(|f| invalid(format!("describe failed ({}): {}", f.code, f.message)))?,
            ComponentKind::Command => match sidecar {
                Some(text) => Some(runbox_host_api::parse_sidecar(text).map_err(|e| {
                    RuntimeError::InvalidSidecar {
                        name: name.to_string(),
                        reason: e.to_string(),
                    }
                })?),
                None => None,
            },
        };
        let loaded = Loaded {
            name: name.to_string(),
            sha256,
            size: wasm.len(),
            prepared,
            info,
            cache,
            load_time: started.elapsed(),
            standby: StandbySlot::default(),
        };
        tracing::debug!(component = name, sha256 = %loaded.sha256, ?cache, "component loaded");
        Ok(LoadedComponent {
            inner: Arc::new(loaded),
        })
    }
}

/// wasmtime's compile errors are multi-line chains; a core module (not a component) is the
/// common author mistake, so say that plainly.
fn describe_compile_error(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    if text.contains("attempted to parse a wasm module with a component parser")
        || text.contains("expected a component")
    {
        "this is a core wasm module, not a component: build with --target wasm32-wasip2".into()
    } else {
        format!("does not compile: {text}")
    }
}
