//! How an admin configures a runbook repository, and the registry's own settings.
//!
//! Field names follow hoop's settings (`GIT_URL` -> `git_url`, `GIT_SSH_KEYPASS` ->
//! `git_ssh_keypass`, ...) so an existing configuration maps over one to one. Every secret
//! is a [`Secret`] and the URL is a [`GitUrl`]: printing or serializing a config never
//! shows a password, token or key.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::{Redactor, Secret};
use super::url::{ParsedUrl, RepoKey, Transport, parse_url};
use crate::component::DEFAULT_MAX_COMPONENT_BYTES;

/// A repository URL as configured. It may hold credentials (`https://user:token@host/...`),
/// so it prints and serializes with them replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct GitUrl(String);

impl GitUrl {
    /// Wraps a URL or path.
    pub fn new(url: impl Into<String>) -> Self {
        GitUrl(url.into())
    }

    /// The URL as written, credentials included: only for parsing.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any credentials replaced by `***`.
    pub fn redacted(&self) -> String {
        match parse_url(&self.0) {
            Ok(parsed) => parsed.display,
            // Unparseable: still never show what sits before an `@`.
            Err(_) => match self.0.rsplit_once('@') {
                Some((_, rest)) => format!("***@{rest}"),
                None => self.0.clone(),
            },
        }
    }
}

impl fmt::Debug for GitUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for GitUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for GitUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for GitUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(GitUrl)
    }
}

/// One runbook repository of an org.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// https, ssh (`ssh://` or `git@host:o/r.git`), `git://`, `file://` or a local path.
    pub git_url: GitUrl,
    /// Branch to follow. Default: `master`, else `main`.
    #[serde(default)]
    pub branch: Option<String>,
    /// User for https (default `oauth2`, as hoop).
    #[serde(default)]
    pub git_user: Option<String>,
    /// Password or token for https.
    #[serde(default)]
    pub git_password: Option<Secret>,
    /// Private key (PEM/OpenSSH text) for ssh.
    #[serde(default)]
    pub git_ssh_key: Option<Secret>,
    /// User for ssh (default: the one in the URL, else `git`).
    #[serde(default)]
    pub git_ssh_user: Option<String>,
    /// Passphrase of `git_ssh_key`.
    #[serde(default)]
    pub git_ssh_keypass: Option<Secret>,
    /// `known_hosts` lines the ssh server's key must match. Unset: libgit2's own check
    /// (`~/.ssh/known_hosts`).
    #[serde(default)]
    pub git_ssh_known_hosts: Option<String>,
    /// Seconds between refetches. Setting it enables session hooks from this repository
    /// (hoop's `GIT_HOOK_CONFIG_TTL`). Unset: the registry's `default_ttl` applies and the
    /// repository serves runbooks only.
    #[serde(default)]
    pub hook_config_ttl: Option<u64>,
}

impl RepoConfig {
    /// A repository with no credentials, default branch, no hooks.
    pub fn new(git_url: impl Into<String>) -> Self {
        RepoConfig {
            git_url: GitUrl::new(git_url),
            branch: None,
            git_user: None,
            git_password: None,
            git_ssh_key: None,
            git_ssh_user: None,
            git_ssh_keypass: None,
            git_ssh_known_hosts: None,
            hook_config_ttl: None,
        }
    }

    /// Follows `branch`.
    pub fn with_branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }

    /// https user and password (or token).
    pub fn with_password(mut self, user: Option<&str>, password: Secret) -> Self {
        self.git_user = user.map(str::to_string);
        self.git_password = Some(password);
        self
    }

    /// Enables hooks and sets the refetch interval.
    pub fn with_hook_config_ttl(mut self, seconds: u64) -> Self {
        self.hook_config_ttl = Some(seconds);
        self
    }

    /// Checks the config and works out what git needs.
    pub(crate) fn resolve(&self, default_ttl: Duration) -> Result<Resolved, String> {
        let url = parse_url(self.git_url.expose())?;
        if let Some(branch) = &self.branch
            && !git2::Reference::is_valid_name(&format!("refs/heads/{branch}"))
        {
            return Err(format!("{branch:?} is not a valid branch name"));
        }
        if self.git_ssh_key.is_some() && url.transport != Transport::Ssh {
            return Err("git_ssh_key is set but the URL is not an ssh URL".into());
        }
        if self.git_password.is_some()
            && !matches!(url.transport, Transport::Https | Transport::Http)
        {
            return Err("git_password is set but the URL is not an http(s) URL".into());
        }
        if self.hook_config_ttl == Some(0) {
            return Err("hook_config_ttl must be at least 1 second".into());
        }
        let ttl = self
            .hook_config_ttl
            .map(Duration::from_secs)
            .unwrap_or(default_ttl);
        let password = self
            .git_password
            .clone()
            .filter(|p| !p.is_empty())
            .or_else(|| url.url_password.clone());
        let user_is_secret = self.git_user.is_none()
            && url.url_user.is_some()
            && matches!(url.transport, Transport::Https | Transport::Http);
        let auth = Auth {
            user_is_secret,
            user: self
                .git_user
                .clone()
                .or_else(|| url.url_user.clone())
                .unwrap_or_else(|| "oauth2".into()),
            password,
            ssh_user: self
                .git_ssh_user
                .clone()
                .or_else(|| {
                    (url.transport == Transport::Ssh)
                        .then(|| url.url_user.clone())
                        .flatten()
                })
                .unwrap_or_else(|| "git".into()),
            ssh_key: self.git_ssh_key.clone().filter(|k| !k.is_empty()),
            ssh_keypass: self.git_ssh_keypass.clone().filter(|k| !k.is_empty()),
            known_hosts: self.git_ssh_known_hosts.clone(),
        };
        let mut redactor = Redactor::default();
        for secret in [&auth.password, &auth.ssh_key, &auth.ssh_keypass]
            .into_iter()
            .flatten()
        {
            redactor.add(secret.expose());
        }
        if url.transport != Transport::Ssh
            && let Some(user) = &url.url_user
        {
            redactor.add(user);
        }
        let branches = match &self.branch {
            Some(b) => vec![b.clone()],
            None => vec!["master".into(), "main".into()],
        };
        Ok(Resolved {
            key: url.key.clone(),
            url,
            auth,
            branches,
            ttl,
            hooks: self.hook_config_ttl.is_some(),
            redactor,
        })
    }
}

/// Credentials as git will be offered them.
#[derive(Clone)]
pub(crate) struct Auth {
    pub user: String,
    /// The https user came from the URL, where it may itself be a token: never shown.
    pub user_is_secret: bool,
    pub password: Option<Secret>,
    pub ssh_user: String,
    pub ssh_key: Option<Secret>,
    pub ssh_keypass: Option<Secret>,
    pub known_hosts: Option<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field(
                "user",
                &if self.user_is_secret {
                    super::secret::REDACTED
                } else {
                    self.user.as_str()
                },
            )
            .field("password", &self.password)
            .field("ssh_user", &self.ssh_user)
            .field("ssh_key", &self.ssh_key)
            .field("ssh_keypass", &self.ssh_keypass)
            .field("known_hosts", &self.known_hosts.as_ref().map(|_| "..."))
            .finish()
    }
}

/// A validated repository config.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub key: RepoKey,
    pub url: ParsedUrl,
    pub auth: Auth,
    /// Branches to try, in order.
    pub branches: Vec<String>,
    pub ttl: Duration,
    /// Whether session hooks are served from this repository.
    pub hooks: bool,
    pub redactor: Redactor,
}

/// Settings of the repository registry (process-wide).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepoSettings {
    /// Mirrors live under `<data_dir>/repos`.
    pub data_dir: PathBuf,
    /// Refetch interval of repositories without `hook_config_ttl`.
    #[serde(with = "crate::serde_duration")]
    pub default_ttl: Duration,
    /// Outer bound on one fetch, whatever the transport does.
    #[serde(with = "crate::serde_duration")]
    pub fetch_timeout: Duration,
    /// libgit2's connect timeout (process-wide: the first registry built sets it).
    #[serde(with = "crate::serde_duration")]
    pub connect_timeout: Duration,
    /// libgit2's read/write timeout on a connected socket (process-wide, as above).
    #[serde(with = "crate::serde_duration")]
    pub io_timeout: Duration,
    /// Largest `.wasm` read from a repository; bigger files are listed with an error
    /// without being read.
    pub max_file_bytes: usize,
    /// Most runbook files loaded from one commit; the rest are listed with an error.
    pub max_runbooks: usize,
    /// Components loaded (compiled or read from the cache) at the same time.
    pub load_concurrency: usize,
}

impl Default for RepoSettings {
    fn default() -> Self {
        RepoSettings {
            data_dir: PathBuf::from("data"),
            default_ttl: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            max_file_bytes: DEFAULT_MAX_COMPONENT_BYTES,
            max_runbooks: 1000,
            load_concurrency: 2,
        }
    }
}

impl RepoSettings {
    /// Settings with mirrors under `data_dir` and defaults otherwise.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        RepoSettings {
            data_dir: data_dir.into(),
            ..RepoSettings::default()
        }
    }

    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("repos.default_ttl", self.default_ttl),
            ("repos.fetch_timeout", self.fetch_timeout),
            ("repos.connect_timeout", self.connect_timeout),
            ("repos.io_timeout", self.io_timeout),
        ];
        for (name, value) in positive {
            if value < Duration::from_millis(1) {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.max_file_bytes == 0 || self.max_runbooks == 0 || self.load_concurrency == 0 {
            return Err(
                "repos.max_file_bytes, repos.max_runbooks and repos.load_concurrency must be positive"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serde_hide_secrets() {
        let mut config = RepoConfig::new("https://bot:urltoken1@git.example.com/o/r.git")
            .with_password(Some("bot"), Secret::new("cfgpass1"));
        config.git_ssh_keypass = Some(Secret::new("keypass1"));
        let shown = format!(
            "{config:?} {} {}",
            config.git_url,
            serde_json::to_string(&config).unwrap_or_default()
        );
        for secret in ["urltoken1", "cfgpass1", "keypass1"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("git.example.com/o/r.git"));
    }

    #[test]
    fn resolve_defaults_and_url_credentials() {
        let resolved =
            RepoConfig::new("https://tok3n-as-user@h.example/o/r").resolve(Duration::from_secs(60));
        let Ok(r) = resolved else {
            panic!("resolve failed");
        };
        assert_eq!(r.branches, ["master", "main"]);
        assert_eq!(r.auth.user, "tok3n-as-user");
        assert!(!r.hooks);
        assert_eq!(r.redactor.scrub("x tok3n-as-user y"), "x *** y");
        assert!(!format!("{r:?}").contains("tok3n"));
    }

    #[test]
    fn resolve_rejects_mismatches() {
        let bad = |c: RepoConfig| c.resolve(Duration::from_secs(1)).err().unwrap_or_default();
        assert!(bad(RepoConfig::new("/tmp/r").with_branch("a..b")).contains("branch"));
        assert!(
            bad(RepoConfig::new("/tmp/r").with_password(None, Secret::new("p"))).contains("http")
        );
        assert!(bad(RepoConfig::new("/tmp/r").with_hook_config_ttl(0)).contains("at least"));
    }
}
