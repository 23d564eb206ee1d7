//! Fetching a repository into its local bare mirror with libgit2.
//!
//! One bare mirror per configured repository under the data directory: a fetch negotiates
//! with what the mirror already holds, so only new objects cross the network, and nothing
//! is ever checked out. The remote is anonymous (in memory): the URL, and whatever
//! credentials the admin gave, are never written into the mirror's config.
//!
//! Every fetch is bounded three ways, because libgit2 alone does not bound all of them:
//! libgit2's connect and socket timeouts (process-wide options, set once), a deadline
//! checked in every callback libgit2 makes (progress, credentials, certificate), and the
//! caller's outer timeout around the blocking task (see `registry.rs`), which covers an
//! ssh server that stalls between callbacks.

use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, FetchOptions, Oid,
    RemoteCallbacks, Repository,
};

use super::config::Auth;
use super::known_hosts::KnownHosts;
use super::secret::Redactor;
use super::url::{ParsedUrl, Transport};

/// What a fetch found.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The branch followed (the configured one, or `master`/`main`).
    pub branch: String,
    /// Its tip, now present in the mirror.
    pub tip: Oid,
    /// Bytes received by this fetch (0 when nothing changed).
    pub received_bytes: usize,
    pub duration: Duration,
}

/// Why a fetch failed. Messages are already scrubbed of secrets.
#[derive(Debug, Clone)]
pub(crate) enum FetchError {
    /// The deadline passed.
    Timeout(Duration),
    /// None of the branches exists on the remote.
    BranchNotFound {
        branches: Vec<String>,
        available: Vec<String>,
    },
    /// Transport, authentication, certificate or local mirror failure.
    Failed(String),
}

/// Sets libgit2's process-wide connect and socket timeouts, once per process: the values
/// of the first registry built win (they are C globals, not per-fetch options).
pub(crate) fn configure_timeouts(connect: Duration, io: Duration) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: these calls write two C ints in libgit2's global settings without
        // synchronization. The `Once` makes this the only write in the process, and it
        // happens-before every fetch: fetches run only through the repository registry,
        // whose constructor calls this before it can start one. runbox uses libgit2 nowhere
        // else, so no other thread reads these values concurrently with the write.
        #[allow(unsafe_code)]
        unsafe {
            let connect = git2::opts::set_server_connect_timeout_in_milliseconds(millis(connect));
            let io = git2::opts::set_server_timeout_in_milliseconds(millis(io));
            if let Err(err) = connect.and(io) {
                tracing::warn!(error = %err, "cannot set libgit2 timeouts");
            }
        }
    });
}

/// Opens the bare mirror at `dir`, creating it (or re-creating it when it is unreadable:
/// it is only a cache of the remote).
pub(crate) fn open_mirror(dir: &Path) -> Result<Repository, String> {
    match Repository::open_bare(dir) {
        Ok(repo) => return Ok(repo),
        Err(err) if dir.exists() => {
            tracing::warn!(mirror = %dir.display(), error = %err, "mirror unreadable; re-creating it");
            std::fs::remove_dir_all(dir)
                .map_err(|e| format!("cannot remove broken mirror {}: {e}", dir.display()))?;
        }
        Err(_) => {}
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    Repository::init_bare(dir)
        .map_err(|e| format!("cannot create mirror {}: {}", dir.display(), e.message()))
}

/// Inputs of one fetch.
pub(crate) struct FetchRequest<'a> {
    pub url: &'a ParsedUrl,
    pub auth: &'a Auth,
    pub branches: &'a [String],
    pub redactor: &'a Redactor,
    pub deadline: Instant,
    /// Set by the caller when it gave up waiting: the next callback aborts the transfer.
    pub cancel: &'a AtomicBool,
}

/// Fetches the candidate branches into `mirror` and picks the first one the remote has.
pub(crate) fn fetch(mirror: &Repository, req: &FetchRequest<'_>) -> Result<Fetched, FetchError> {
    let started = Instant::now();
    let limit = req.deadline.saturating_duration_since(started);
    if let Some(path) = &req.url.local_path
        && !path.exists()
    {
        return Err(FetchError::Failed(format!(
            "the path {} does not exist",
            path.display()
        )));
    }
    let expired = || Instant::now() >= req.deadline || req.cancel.load(Ordering::Relaxed);
    let mut remote = mirror
        .remote_anonymous(&req.url.fetch_url)
        .map_err(|e| FetchError::Failed(req.redactor.scrub(e.message())))?;

    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0u32;
    let auth = req.auth;
    callbacks.credentials(move |_url, user_from_url, allowed| {
        attempts += 1;
        if expired() {
            return Err(git2::Error::from_str("fetch deadline reached"));
        }
        // libgit2 asks again after a refused credential (and ssh asks for the user name
        // before the key): past three asks the answer is final.
        if attempts > 3 {
            return Err(git2::Error::from_str(
                "authentication failed: the credentials were refused",
            ));
        }
        credentials(auth, user_from_url, allowed)
    });
    let known_hosts = auth.known_hosts.as_deref().map(KnownHosts::parse);
    let port = req.url.port.unwrap_or(22);
    let transport = req.url.transport;
    callbacks.certificate_check(move |cert, host| {
        if expired() {
            return Err(git2::Error::from_str("fetch deadline reached"));
        }
        match (&known_hosts, cert.as_hostkey(), transport) {
            (Some(known), Some(hostkey), Transport::Ssh) => {
                let blob = hostkey.hostkey().ok_or_else(|| {
                    git2::Error::from_str("the ssh server's host key could not be read")
                })?;
                known
                    .check(host, port, blob)
                    .map(|()| CertificateCheckStatus::CertificateOk)
                    .map_err(|reason| git2::Error::from_str(&reason))
            }
            // No known_hosts given (or a TLS certificate): libgit2's own verification.
            _ => Ok(CertificateCheckStatus::CertificatePassthrough),
        }
    });
    callbacks.transfer_progress(|_| !expired());
    callbacks.sideband_progress(|_| !expired());

    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks);
    options.download_tags(AutotagOption::None);
    options.update_fetchhead(false);
    // A forced refspec per candidate: a force-pushed branch replaces the mirror's copy.
    // A candidate the remote lacks simply matches nothing.
    let refspecs: Vec<String> = req
        .branches
        .iter()
        .map(|b| format!("+refs/heads/{b}:refs/heads/{b}"))
        .collect();
    let result = remote.fetch(&refspecs, Some(&mut options), None);
    if let Err(err) = result {
        if Instant::now() >= req.deadline || req.cancel.load(Ordering::Relaxed) {
            return Err(FetchError::Timeout(limit));
        }
        return Err(FetchError::Failed(req.redactor.scrub(&describe(&err))));
    }
    let received_bytes = remote.stats().received_bytes();
    // What the remote advertised during this fetch: the truth about which branches exist
    // now (the mirror may still hold a branch that was deleted upstream).
    let heads: Vec<(String, Oid)> = remote
        .list()
        .map_err(|e| FetchError::Failed(req.redactor.scrub(e.message())))?
        .iter()
        .map(|h| (h.name().to_string(), h.oid()))
        .collect();
    for branch in req.branches {
        let name = format!("refs/heads/{branch}");
        if let Some((_, tip)) = heads.iter().find(|(n, _)| *n == name) {
            // The forced refspec has moved the mirror's ref; make sure the object is here.
            mirror.find_commit(*tip).map_err(|e| {
                FetchError::Failed(format!(
                    "fetched {branch} but its commit is missing: {}",
                    e.message()
                ))
            })?;
            return Ok(Fetched {
                branch: branch.clone(),
                tip: *tip,
                received_bytes,
                duration: started.elapsed(),
            });
        }
    }
    let mut available: Vec<String> = heads
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("refs/heads/").map(str::to_string))
        .collect();
    available.sort();
    available.truncate(20);
    Err(FetchError::BranchNotFound {
        branches: req.branches.to_vec(),
        available,
    })
}

/// The credential libgit2 asked for, from the configured auth.
fn credentials(
    auth: &Auth,
    user_from_url: Option<&str>,
    allowed: CredentialType,
) -> Result<Cred, git2::Error> {
    if allowed.contains(CredentialType::USERNAME) {
        return Cred::username(user_from_url.unwrap_or(&auth.ssh_user));
    }
    if allowed.contains(CredentialType::SSH_KEY) {
        let Some(key) = &auth.ssh_key else {
            return Err(git2::Error::from_str(
                "the server wants an ssh key and none is configured (git_ssh_key)",
            ));
        };
        let user = user_from_url.unwrap_or(&auth.ssh_user);
        return Cred::ssh_key_from_memory(
            user,
            None,
            key.expose(),
            auth.ssh_keypass.as_ref().map(|p| p.expose()),
        )
        .map_err(|e| {
            git2::Error::from_str(&format!(
                "the configured ssh key cannot be used (wrong passphrase or format): {}",
                e.message()
            ))
        });
    }
    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
        let Some(password) = &auth.password else {
            return Err(git2::Error::from_str(
                "the server wants a user and password and none is configured (git_password)",
            ));
        };
        return Cred::userpass_plaintext(&auth.user, password.expose());
    }
    Err(git2::Error::from_str(
        "the server wants a kind of credential runbox does not offer",
    ))
}

/// libgit2's message, with a hint for the common causes.
fn describe(err: &git2::Error) -> String {
    let message = err.message().trim().to_string();
    match err.class() {
        git2::ErrorClass::Http if message.contains("401") || message.contains("auth") => {
            format!("authentication failed: {message}")
        }
        _ => message,
    }
}
