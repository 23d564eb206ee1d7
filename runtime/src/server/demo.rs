//! The ready-to-try demo instance (`runbox serve --demo`, and the default when nothing is
//! configured): org `demo` with event routing on, a local git repository holding the
//! example runbooks and the `siem-forward` session hooks, a `custom` connection on the
//! built-in local agent, and an admin token printed once at start.
//!
//! Where the runbooks come from: the runtime crate cannot depend on the guest build (the
//! dependency points the other way), so the demo reads built components from a directory:
//! `demo_runbooks` (`--demo-runbooks DIR`), defaulting to the guest build output beside the
//! binary (`<target>/runbox-guests/wasm32-wasip2/release`, written by
//! `cargo build -p runbox-fixtures`). A directory holding `*.runbook.wasm` files is used as
//! the repository's content as is (paths kept); otherwise the known examples are picked
//! from it by artifact name. The repository is `<data_dir>/demo/runbooks.git` (branch
//! `main`); a start with different files commits them on top, an identical one commits
//! nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature};

use super::repo_configs::RepoConfigs;
use crate::config::ServerConfig;
use crate::error::{RuntimeError, StoreError};
use crate::model::{AccessMode, ConnectionSpec, ConnectionType};
use crate::repo::RepoConfig;
use crate::{Role, RoutingServiceError, Runtime};

/// The demo org.
pub const DEMO_ORG: &str = "demo";
/// The demo's `custom` connection.
pub const DEMO_CONNECTION: &str = "demo-ops";
/// The agent the demo connection is bound to (the built-in local agent).
pub const DEMO_AGENT: &str = "local";
/// Actor recorded for what the demo sets up.
const ACTOR: &str = "runbox-demo";
/// Label of the demo's admin token.
pub const TOKEN_LABEL: &str = "demo-admin";

/// Built example artifacts and the path each gets in the demo repository.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "revoke_ai_agent_access.wasm",
        "runbooks/revoke-ai-agent-access.runbook.wasm",
    ),
    (
        "quarantine_connection.wasm",
        "runbooks/quarantine-connection.runbook.wasm",
    ),
    ("page_oncall.wasm", "runbooks/page-oncall.runbook.wasm"),
    ("notify-plain.wasm", "runbooks/notify-plain.runbook.wasm"),
    // The SIEM forwarder as both session hooks. It needs the org config `siem_url` (and
    // the SIEM's host on the egress allow-list); until then each run is recorded with the
    // hook's own error saying so, which is what the demo shows on `GET /hooks/runs`.
    ("siem_forward.wasm", "hoop-hooks/session-open.runbook.wasm"),
    ("siem_forward.wasm", "hoop-hooks/session-close.runbook.wasm"),
];

/// How often the demo's hook repository may be refetched (hoop's `hook_config_ttl`).
const DEMO_HOOK_TTL_SECS: u64 = 60;

/// What the demo set up, for the start-up banner.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub org: String,
    /// Repository key to use in subscriptions and runs.
    pub repository: String,
    /// Runbook paths in it.
    pub runbooks: Vec<String>,
    pub connection: String,
    /// A new admin token for org `demo`, printed once at start (only its hash is stored).
    pub admin_token: String,
}

/// `<exe>/../../runbox-guests/wasm32-wasip2/release`: where `cargo build -p
/// runbox-fixtures` leaves the examples for a binary in `<target>/<profile>/`.
pub fn default_runbooks_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    Some(target.join("runbox-guests/wasm32-wasip2/release"))
}

/// Sets the demo up (idempotent across restarts with the same data dir).
pub async fn setup(
    runtime: &Runtime,
    configs: &RepoConfigs,
    config: &ServerConfig,
) -> Result<DemoInfo, RuntimeError> {
    let source = config
        .demo_runbooks
        .clone()
        .or_else(default_runbooks_dir)
        .ok_or_else(|| invalid("cannot locate the demo runbooks; pass --demo-runbooks DIR"))?;
    let files = collect(&source)?;
    let repo_dir = config.data_dir.join("demo").join("runbooks.git");
    commit_files(&repo_dir, &files)?;
    let repo_config = RepoConfig::new(format!("file://{}", repo_dir.display()))
        .with_branch("main")
        .with_hook_config_ttl(DEMO_HOOK_TTL_SECS);
    let key = configs
        .add_from_config(DEMO_ORG, repo_config)
        .map_err(|e| invalid(e.to_string()))?;
    runtime
        .set_event_routing(DEMO_ORG, true, ACTOR)
        .await
        .map_err(|e| invalid(format!("demo: cannot enable event routing: {e}")))?;
    ensure_connection(runtime).await?;
    let admin_token = issue_admin_token(runtime).await?;
    Ok(DemoInfo {
        org: DEMO_ORG.to_owned(),
        repository: key.to_string(),
        runbooks: files.keys().cloned().collect(),
        connection: DEMO_CONNECTION.to_owned(),
        admin_token,
    })
}

/// A fresh admin token for org `demo`. The one printed by the previous start is revoked,
/// so exactly one demo admin token works at a time (its text is never stored, so it cannot
/// be shown again).
async fn issue_admin_token(runtime: &Runtime) -> Result<String, RuntimeError> {
    let fail = |e: crate::AuthError| invalid(format!("demo admin token: {e}"));
    for t in runtime.list_tokens(DEMO_ORG).await.map_err(fail)? {
        if t.label == TOKEN_LABEL && t.revoked_at.is_none() {
            runtime
                .revoke_token(DEMO_ORG, &t.id, ACTOR)
                .await
                .map_err(fail)?;
        }
    }
    let token = runtime
        .create_token(DEMO_ORG, Role::Admin, TOKEN_LABEL, ACTOR)
        .await
        .map_err(fail)?;
    Ok(token.secret_text)
}

fn invalid(message: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidConfig(message.into())
}

/// The repository content: path -> bytes.
fn collect(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, RuntimeError> {
    if !dir.is_dir() {
        return Err(invalid(format!(
            "demo runbooks directory {} does not exist; build the examples with \
             `cargo build --release -p runbox-fixtures` or pass --demo-runbooks DIR",
            dir.display()
        )));
    }
    let mut named = BTreeMap::new();
    walk(dir, dir, &mut named)?;
    if !named.is_empty() {
        return Ok(named);
    }
    let mut picked = BTreeMap::new();
    for (artifact, path) in EXAMPLES {
        let file = dir.join(artifact);
        match std::fs::read(&file) {
            Ok(bytes) => {
                picked.insert((*path).to_owned(), bytes);
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "demo: example not found; skipped")
            }
        }
    }
    if picked.is_empty() {
        return Err(invalid(format!(
            "no example runbooks in {} (expected {}); build them with \
             `cargo build --release -p runbox-fixtures` or pass --demo-runbooks DIR",
            dir.display(),
            EXAMPLES
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(picked)
}

/// Every `*.runbook.*` file under `dir` (and `.toml` sidecars), by relative path.
fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), RuntimeError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| RuntimeError::io("read demo runbooks", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| RuntimeError::io("read demo runbooks", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.contains(".runbook.") {
            continue;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let bytes =
            std::fs::read(&path).map_err(|e| RuntimeError::io("read demo runbook", &path, e))?;
        out.insert(rel.to_string_lossy().replace('\\', "/"), bytes);
    }
    Ok(())
}

/// Makes `main` of the bare repository at `dir` hold exactly `files` (a new commit only
/// when the tree changes).
fn commit_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), RuntimeError> {
    let git = |e: git2::Error| invalid(format!("demo repository {}: {e}", dir.display()));
    let repo = match Repository::open_bare(dir) {
        Ok(r) => r,
        Err(_) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| RuntimeError::io("create demo repository", dir, e))?;
            Repository::init_bare(dir).map_err(git)?
        }
    };
    let tree = build_tree(&repo, files, "").map_err(git)?;
    let parent = repo
        .refname_to_id("refs/heads/main")
        .ok()
        .and_then(|id| repo.find_commit(id).ok());
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree) {
        return Ok(());
    }
    let tree = repo.find_tree(tree).map_err(git)?;
    let sig = Signature::now("runbox demo", "demo@runbox.invalid").map_err(git)?;
    let parents: Vec<_> = parent.iter().collect();
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        "demo: example runbooks",
        &tree,
        &parents,
    )
    .map_err(git)?;
    Ok(())
}

/// The tree of every file under `prefix` (paths relative to the repository root).
fn build_tree(
    repo: &Repository,
    files: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
) -> Result<Oid, git2::Error> {
    let mut builder = repo.treebuilder(None)?;
    let mut subdirs = BTreeMap::<String, ()>::new();
    for (path, bytes) in files {
        let Some(rest) = path.strip_prefix(prefix) else {
            continue;
        };
        match rest.split_once('/') {
            None => {
                let blob = repo.blob(bytes)?;
                builder.insert(rest, blob, 0o100644)?;
            }
            Some((dir, _)) => {
                subdirs.insert(dir.to_owned(), ());
            }
        }
    }
    for dir in subdirs.keys() {
        let sub = build_tree(repo, files, &format!("{prefix}{dir}/"))?;
        builder.insert(dir, sub, 0o040000)?;
    }
    builder.write()
}

/// Creates the demo connection unless it exists (an admin may have changed it).
async fn ensure_connection(runtime: &Runtime) -> Result<(), RuntimeError> {
    match runtime.connection_by_name(DEMO_ORG, DEMO_CONNECTION).await {
        Ok(_) => return Ok(()),
        Err(RoutingServiceError::Store(
            StoreError::NotFound { .. } | StoreError::UnknownConnection { .. },
        )) => {}
        Err(e) => return Err(invalid(format!("demo connection: {e}"))),
    }
    let spec = ConnectionSpec {
        name: DEMO_CONNECTION.to_owned(),
        kind: ConnectionType::Custom,
        subtype: "shell".to_owned(),
        tags: vec!["demo".to_owned()],
        agent_id: Some(DEMO_AGENT.to_owned()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".to_owned(), "audit".to_owned()],
        secrets: Default::default(),
        // Echoes what a runbook asks it to run: the demo never executes event data.
        command: vec!["cat".to_owned()],
    };
    runtime
        .create_connection(DEMO_ORG, spec, ACTOR)
        .await
        .map_err(|e| invalid(format!("demo connection: {e}")))?;
    Ok(())
}
