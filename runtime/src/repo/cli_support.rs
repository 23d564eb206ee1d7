//! What the `runbox` command line needs from repositories: `runbox repo list <url-or-path>
//! [--branch B]` and `runbox run --repo <url> --file <path>`.
//!
//! The CLI is a one-shot process, so these functions build a registry of one repository
//! (org `cli`) over a data directory that persists between invocations: the mirror is
//! fetched incrementally and compiled components come from the cache, so the second
//! `repo list` of a large repository is fast too. Credentials come from hoop's variable
//! names (`GIT_USER`, `GIT_PASSWORD`, `GIT_SSH_KEY`, ...), never from flags that would land
//! in shell history.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config::{RepoConfig, RepoSettings};
use super::secret::Secret;
use super::snapshot::{FileListing, FileRole, SnapshotListing};
use super::{RepoListing, Repositories, RunbookHandle};
use crate::engine::Engine;
use crate::error::Result;

/// The org name the CLI registers its one repository under.
pub const CLI_ORG: &str = "cli";

/// Default data directory of the CLI: `$XDG_CACHE_HOME/runbox` or `~/.cache/runbox`
/// (mirrors then live in `.../runbox/repos`, beside the compiled cache).
pub fn default_cli_data_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("runbox")
}

/// A repository config from a URL, an optional branch and hoop's environment variables
/// (`GIT_USER`, `GIT_PASSWORD`, `GIT_SSH_KEY`, `GIT_SSH_USER`, `GIT_SSH_KEYPASS`,
/// `GIT_SSH_KNOWN_HOSTS`), read through `env` so callers and tests choose the source.
/// Variables that do not fit the URL's transport are ignored.
pub fn cli_repo_config(
    url: &str,
    branch: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> RepoConfig {
    let mut config = RepoConfig::new(url);
    config.branch = branch.map(str::to_string);
    let ssh = super::url::parse_url(url)
        .map(|p| p.transport == super::url::Transport::Ssh)
        .unwrap_or(false);
    let http = super::url::parse_url(url)
        .map(|p| {
            matches!(
                p.transport,
                super::url::Transport::Https | super::url::Transport::Http
            )
        })
        .unwrap_or(false);
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if http {
        config.git_user = set("GIT_USER");
        config.git_password = set("GIT_PASSWORD").map(Secret::new);
    }
    if ssh {
        config.git_ssh_key = set("GIT_SSH_KEY").map(Secret::new);
        config.git_ssh_user = set("GIT_SSH_USER");
        config.git_ssh_keypass = set("GIT_SSH_KEYPASS").map(Secret::new);
        config.git_ssh_known_hosts = set("GIT_SSH_KNOWN_HOSTS");
    }
    config
}

/// A one-repository registry for the CLI.
async fn registry(
    engine: Engine,
    data_dir: &Path,
    config: RepoConfig,
) -> Result<(Repositories, String)> {
    let repos = Repositories::new(engine, RepoSettings::new(data_dir))?;
    let key = repos.add(CLI_ORG, config)?;
    Ok((repos, key.to_string()))
}

/// `runbox repo list`: fetches the repository and loads every runbook. A commit whose
/// files all fail is still listed (with the errors); an unreachable repository or an
/// unknown branch is an error.
pub async fn list_for_cli(
    engine: Engine,
    data_dir: &Path,
    config: RepoConfig,
) -> Result<RepoListing> {
    let (repos, key) = registry(engine, data_dir, config).await?;
    // Always fetch: the user asked for the repository as it is now.
    let refreshed = repos.refresh(CLI_ORG, &key).await;
    match repos.list(CLI_ORG, &key).await {
        Ok(listing) => Ok(listing),
        Err(err) => Err(refreshed.err().unwrap_or(err).into()),
    }
}

/// `runbox run --repo <url> --file <path>`: the runbook to run and the commit it came from.
pub async fn runbook_for_cli(
    engine: Engine,
    data_dir: &Path,
    config: RepoConfig,
    file: &str,
) -> Result<RunbookHandle> {
    let (repos, key) = registry(engine, data_dir, config).await?;
    repos.refresh(CLI_ORG, &key).await?;
    Ok(repos.get(CLI_ORG, &key, file).await?)
}

impl RepoListing {
    /// Whether any file of the served (or refused) commit failed to load, or the last
    /// refresh failed: the CLI exits non-zero then.
    pub fn has_errors(&self) -> bool {
        self.status.last_error.is_some()
            || self.snapshot.as_ref().is_some_and(|s| s.failed > 0)
            || self.rejected.is_some()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The listing as the terminal shows it: commit, then each file with its params or
    /// its error.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let status = &self.status;
        let _ = writeln!(out, "repository {} ({})", status.repository, status.url);
        if let Some(error) = &status.last_error {
            let _ = writeln!(out, "error      {}", error.message);
        }
        if let Some(snapshot) = &self.snapshot {
            human_snapshot(&mut out, snapshot);
        }
        if let Some(rejected) = &self.rejected {
            let _ = writeln!(out);
            let _ = writeln!(out, "refused commit (not served):");
            human_snapshot(&mut out, rejected);
        }
        out
    }
}

fn human_snapshot(out: &mut String, s: &SnapshotListing) {
    let _ = writeln!(out, "branch     {}", s.branch);
    let _ = writeln!(
        out,
        "commit     {}  {}  {}",
        s.commit.sha, s.commit.time, s.commit.author
    );
    if let Some(subject) = s.commit.message.lines().next() {
        let _ = writeln!(out, "           {subject}");
    }
    let _ = writeln!(out, "runbooks   {} loaded, {} failed", s.loaded, s.failed);
    for file in &s.files {
        let _ = writeln!(out);
        human_file(out, file);
    }
}

fn human_file(out: &mut String, file: &FileListing) {
    let role = match file.role {
        FileRole::Runbook => "runbook",
        FileRole::SessionOpenHook => "session-open hook",
        FileRole::SessionCloseHook => "session-close hook",
    };
    let kind = file
        .kind
        .map(|k| format!(", {}", k.as_str()))
        .unwrap_or_default();
    let _ = writeln!(out, "{}  ({role}{kind}, {} bytes)", file.path, file.size);
    if let Some(error) = &file.error {
        let _ = writeln!(out, "  ERROR {error}");
        return;
    }
    let Some(info) = &file.info else {
        let _ = writeln!(
            out,
            "  (no metadata: plain command without a .toml sidecar)"
        );
        return;
    };
    if !info.description.is_empty() {
        let _ = writeln!(out, "  {}", info.description);
    }
    let mut params = info.params.clone();
    params.sort_by_key(|p| p.order);
    if params.is_empty() {
        let _ = writeln!(out, "  params: none");
    }
    for p in params {
        let required = if p.required { "required" } else { "optional" };
        let default = p
            .default
            .as_deref()
            .map(|d| format!(", default {d}"))
            .unwrap_or_default();
        let options = if p.options.is_empty() {
            String::new()
        } else {
            format!(", one of [{}]", p.options.join(", "))
        };
        let about = p
            .description
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  param {} ({}, {required}{default}{options}){about}",
            p.name,
            p.kind.as_str()
        );
    }
}
