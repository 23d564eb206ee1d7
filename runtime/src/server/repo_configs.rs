//! Repository configurations per org, as managed by `/runbooks/configurations`.
//!
//! Two sources: the config file (read-only through the API: the file is the source of
//! truth and would bring them back at the next start) and the API (created, updated and
//! deleted at runtime, persisted to `<data_dir>/repositories.json` so they survive a
//! restart). Every change is applied to the live [`Repositories`] registry at once.
//!
//! Secrets are write-only: views list which secrets are set, never their values. The
//! file holds the values (it has to, to fetch after a restart) and is written with mode
//! 0600, atomically (temp file + rename).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::RepoError;
use crate::model::{IdKind, Timestamp, new_id};
use crate::repo::{GitUrl, RefreshReport, RepoConfig, RepoKey, RepoStatus, Repositories, Secret};

/// File name under the data dir.
pub const FILE_NAME: &str = "repositories.json";

/// Where a configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The server's config file (read-only here).
    Config,
    /// Created through the API.
    Api,
}

/// Why a configuration call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RepoConfigError {
    #[error("repository configuration not found")]
    NotFound,
    #[error("org already has the repository \"{0}\"")]
    Duplicate(String),
    #[error("repository configuration {0} comes from the server's config file; change it there")]
    ReadOnly(String),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("cannot save repository configurations: {0}")]
    Persist(String),
}

impl RepoConfigError {
    /// Stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            RepoConfigError::NotFound => "not_found",
            RepoConfigError::Duplicate(_) => "duplicate_repository",
            RepoConfigError::ReadOnly(_) => "read_only",
            RepoConfigError::Repo(e) => e.code(),
            RepoConfigError::Persist(_) => "persist_failed",
        }
    }
}

/// One stored configuration, secrets included (never serialized outside the file).
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    org: String,
    source: Source,
    key: RepoKey,
    config: RepoConfig,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// What the API shows of a configuration: no secret values.
#[derive(Debug, Clone, Serialize)]
pub struct RepoConfigView {
    pub id: String,
    pub org: String,
    pub source: Source,
    /// `host/owner/repo` (the name subscriptions and runs use).
    pub repository: RepoKey,
    /// URL with any credentials replaced by `***`.
    pub git_url: String,
    pub branch: Option<String>,
    pub git_user: Option<String>,
    pub git_ssh_user: Option<String>,
    pub hook_config_ttl: Option<u64>,
    pub has_git_ssh_known_hosts: bool,
    /// Names of the secrets that are set (`git_password`, `git_ssh_key`, `git_ssh_keypass`).
    pub secrets_set: Vec<&'static str>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub status: Option<RepoStatus>,
}

/// The registry of configurations.
#[derive(Debug)]
pub struct RepoConfigs {
    repos: Repositories,
    /// `None`: in memory only (tests, embedders).
    file: Option<PathBuf>,
    entries: Mutex<Vec<Entry>>,
}

/// On-disk form (secrets in clear: the file is 0600).
#[derive(Serialize, Deserialize)]
struct Persisted {
    id: String,
    org: String,
    git_url: String,
    branch: Option<String>,
    git_user: Option<String>,
    git_password: Option<String>,
    git_ssh_key: Option<String>,
    git_ssh_user: Option<String>,
    git_ssh_keypass: Option<String>,
    git_ssh_known_hosts: Option<String>,
    hook_config_ttl: Option<u64>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl RepoConfigs {
    /// An in-memory registry over `repos` (nothing persisted).
    pub fn in_memory(repos: Repositories) -> Self {
        RepoConfigs {
            repos,
            file: None,
            entries: Mutex::new(Vec::new()),
        }
    }

    /// A registry persisted in `<data_dir>/repositories.json`; the stored configurations
    /// are added to `repos` now. One that no longer validates is skipped with a warning
    /// (never a reason not to start).
    pub fn open(repos: Repositories, data_dir: &Path) -> Result<Self, RepoConfigError> {
        let file = data_dir.join(FILE_NAME);
        let this = RepoConfigs {
            repos,
            file: Some(file.clone()),
            entries: Mutex::new(Vec::new()),
        };
        let stored: Vec<Persisted> = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RepoConfigError::Persist(format!("{}: {e}", file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(RepoConfigError::Persist(format!("{}: {e}", file.display()))),
        };
        let mut entries = this.lock();
        for p in stored {
            let config = p.to_config();
            match this.repos.add(&p.org, config.clone()) {
                Ok(key) => entries.push(Entry {
                    id: p.id,
                    org: p.org,
                    source: Source::Api,
                    key,
                    config,
                    created_at: p.created_at,
                    updated_at: p.updated_at,
                }),
                Err(e) => {
                    tracing::warn!(id = %p.id, org = %p.org, error = %e, "stored repository configuration skipped")
                }
            }
        }
        drop(entries);
        Ok(this)
    }

    /// Adds a configuration from the config file (read-only through the API).
    pub fn add_from_config(
        &self,
        org: &str,
        config: RepoConfig,
    ) -> Result<RepoKey, RepoConfigError> {
        let key = self.repos.add(org, config.clone())?;
        let mut entries = self.lock();
        entries.retain(|e| !(e.org == org && e.key == key));
        let now = Timestamp::now();
        entries.push(Entry {
            id: config_id(org, &key),
            org: org.to_owned(),
            source: Source::Config,
            key: key.clone(),
            config,
            created_at: now,
            updated_at: now,
        });
        Ok(key)
    }

    /// The org's configurations, in creation order.
    pub fn list(&self, org: &str) -> Vec<RepoConfigView> {
        let entries: Vec<Entry> = self
            .lock()
            .iter()
            .filter(|e| e.org == org)
            .cloned()
            .collect();
        entries.iter().map(|e| self.view(e)).collect()
    }

    pub fn get(&self, org: &str, id: &str) -> Result<RepoConfigView, RepoConfigError> {
        let e = self.find(org, id)?;
        Ok(self.view(&e))
    }

    /// A new configuration; 409-worthy if the org already has that repository.
    pub fn create(&self, org: &str, config: RepoConfig) -> Result<RepoConfigView, RepoConfigError> {
        let key = validate(&config)?;
        let mut entries = self.lock();
        if entries.iter().any(|e| e.org == org && e.key == key)
            || self.repos.repositories(org).contains(&key)
        {
            return Err(RepoConfigError::Duplicate(key.to_string()));
        }
        let now = Timestamp::now();
        let entry = Entry {
            id: api_id(),
            org: org.to_owned(),
            source: Source::Api,
            key,
            config,
            created_at: now,
            updated_at: now,
        };
        entries.push(entry.clone());
        if let Err(e) = self.persist(&entries) {
            entries.pop();
            return Err(e);
        }
        self.repos.add(org, entry.config.clone())?;
        drop(entries);
        Ok(self.view(&entry))
    }

    /// Replaces a configuration. Secrets left out of `config` keep their stored value;
    /// an empty string clears one. The repository (URL) may change if the new one is not
    /// already configured in the org.
    pub fn update(
        &self,
        org: &str,
        id: &str,
        mut config: RepoConfig,
    ) -> Result<RepoConfigView, RepoConfigError> {
        let mut entries = self.lock();
        let i = entries
            .iter()
            .position(|e| e.org == org && e.id == id)
            .ok_or(RepoConfigError::NotFound)?;
        if entries[i].source == Source::Config {
            return Err(RepoConfigError::ReadOnly(id.to_owned()));
        }
        let old = entries[i].clone();
        keep_secret(&mut config.git_password, &old.config.git_password);
        keep_secret(&mut config.git_ssh_key, &old.config.git_ssh_key);
        keep_secret(&mut config.git_ssh_keypass, &old.config.git_ssh_keypass);
        let key = validate(&config)?;
        if key != old.key
            && (entries.iter().any(|e| e.org == org && e.key == key)
                || self.repos.repositories(org).contains(&key))
        {
            return Err(RepoConfigError::Duplicate(key.to_string()));
        }
        entries[i].config = config.clone();
        entries[i].key = key.clone();
        entries[i].updated_at = Timestamp::now();
        if let Err(e) = self.persist(&entries) {
            entries[i] = old;
            return Err(e);
        }
        if key != old.key {
            self.repos.remove(org, old.key.as_str());
        }
        self.repos.add(org, config)?;
        let updated = entries[i].clone();
        drop(entries);
        Ok(self.view(&updated))
    }

    /// Removes a configuration; runs in flight keep their components.
    pub fn delete(&self, org: &str, id: &str) -> Result<(), RepoConfigError> {
        let mut entries = self.lock();
        let i = entries
            .iter()
            .position(|e| e.org == org && e.id == id)
            .ok_or(RepoConfigError::NotFound)?;
        if entries[i].source == Source::Config {
            return Err(RepoConfigError::ReadOnly(id.to_owned()));
        }
        let removed = entries.remove(i);
        if let Err(e) = self.persist(&entries) {
            entries.insert(i, removed);
            return Err(e);
        }
        self.repos.remove(org, removed.key.as_str());
        Ok(())
    }

    /// Fetches the repository now, whatever its TTL.
    pub async fn refresh(&self, org: &str, id: &str) -> Result<RefreshReport, RepoConfigError> {
        let e = self.find(org, id)?;
        Ok(self.repos.refresh(org, e.key.as_str()).await?)
    }

    fn find(&self, org: &str, id: &str) -> Result<Entry, RepoConfigError> {
        self.lock()
            .iter()
            .find(|e| e.org == org && e.id == id)
            .cloned()
            .ok_or(RepoConfigError::NotFound)
    }

    fn view(&self, e: &Entry) -> RepoConfigView {
        let c = &e.config;
        let mut secrets_set = Vec::new();
        for (name, s) in [
            ("git_password", &c.git_password),
            ("git_ssh_key", &c.git_ssh_key),
            ("git_ssh_keypass", &c.git_ssh_keypass),
        ] {
            if s.as_ref().is_some_and(|s| !s.is_empty()) {
                secrets_set.push(name);
            }
        }
        RepoConfigView {
            id: e.id.clone(),
            org: e.org.clone(),
            source: e.source,
            repository: e.key.clone(),
            git_url: c.git_url.redacted(),
            branch: c.branch.clone(),
            git_user: c.git_user.clone(),
            git_ssh_user: c.git_ssh_user.clone(),
            hook_config_ttl: c.hook_config_ttl,
            has_git_ssh_known_hosts: c.git_ssh_known_hosts.is_some(),
            secrets_set,
            created_at: e.created_at,
            updated_at: e.updated_at,
            status: self.repos.status_of(&e.org, e.key.as_str()).ok(),
        }
    }

    fn persist(&self, entries: &[Entry]) -> Result<(), RepoConfigError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let stored: Vec<Persisted> = entries
            .iter()
            .filter(|e| e.source == Source::Api)
            .map(Persisted::from_entry)
            .collect();
        let bytes = serde_json::to_vec_pretty(&stored)
            .map_err(|e| RepoConfigError::Persist(e.to_string()))?;
        write_private(file, &bytes)
            .map_err(|e| RepoConfigError::Persist(format!("{}: {e}", file.display())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Checks the config the way the registry will, without adding it.
fn validate(config: &RepoConfig) -> Result<RepoKey, RepoConfigError> {
    config
        .resolve(std::time::Duration::from_secs(60))
        .map(|r| r.key)
        .map_err(|reason| {
            RepoConfigError::Repo(RepoError::InvalidConfig {
                repository: config.git_url.redacted(),
                reason,
            })
        })
}

/// `None` in an update keeps the stored secret; `Some("")` clears it.
fn keep_secret(new: &mut Option<Secret>, old: &Option<Secret>) {
    match new {
        None => new.clone_from(old),
        Some(s) if s.is_empty() => *new = None,
        Some(_) => {}
    }
}

/// Stable id of a config-file repository: the same across restarts.
fn config_id(org: &str, key: &RepoKey) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{org}\n{key}").as_bytes());
    format!("rcf_{}", hex::encode(&digest[..10]))
}

/// A fresh id for an API-created configuration.
fn api_id() -> String {
    let id = new_id(IdKind::Connection);
    match id.split_once('_') {
        Some((_, rest)) => format!("rcf_{}", rest.to_ascii_lowercase()),
        None => format!("rcf_{id}"),
    }
}

impl Persisted {
    fn from_entry(e: &Entry) -> Self {
        let c = &e.config;
        let secret = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_owned());
        Persisted {
            id: e.id.clone(),
            org: e.org.clone(),
            git_url: c.git_url.expose().to_owned(),
            branch: c.branch.clone(),
            git_user: c.git_user.clone(),
            git_password: secret(&c.git_password),
            git_ssh_key: secret(&c.git_ssh_key),
            git_ssh_user: c.git_ssh_user.clone(),
            git_ssh_keypass: secret(&c.git_ssh_keypass),
            git_ssh_known_hosts: c.git_ssh_known_hosts.clone(),
            hook_config_ttl: c.hook_config_ttl,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }

    fn to_config(&self) -> RepoConfig {
        let mut c = RepoConfig::new(self.git_url.clone());
        c.git_url = GitUrl::new(self.git_url.clone());
        c.branch = self.branch.clone();
        c.git_user = self.git_user.clone();
        c.git_password = self.git_password.clone().map(Secret::new);
        c.git_ssh_key = self.git_ssh_key.clone().map(Secret::new);
        c.git_ssh_user = self.git_ssh_user.clone();
        c.git_ssh_keypass = self.git_ssh_keypass.clone().map(Secret::new);
        c.git_ssh_known_hosts = self.git_ssh_known_hosts.clone();
        c.hook_config_ttl = self.hook_config_ttl;
        c
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
