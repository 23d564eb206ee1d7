//! Finding runbooks and hooks in a commit's tree.
//!
//! The tree is read straight from the mirror's object database: there is no work tree to
//! keep in sync, and a half-updated checkout can never be observed. A runbook is every
//! blob whose base name contains `.runbook.` and ends in `.wasm` (hoop's rule, narrowed to
//! components), named by its path in the repository; `hoop-hooks/session-open.runbook.wasm`
//! and `hoop-hooks/session-close.runbook.wasm` are the session hooks. A plain command's
//! metadata sits beside it as `<x>.runbook.toml`.

use std::collections::BTreeMap;
use std::sync::Arc;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::snapshot::{CommitInfo, FileRole};
use crate::repo::clock::rfc3339_utc;

/// Path of the session-open hook.
pub const SESSION_OPEN_HOOK: &str = "hoop-hooks/session-open.runbook.wasm";
/// Path of the session-close hook.
pub const SESSION_CLOSE_HOOK: &str = "hoop-hooks/session-close.runbook.wasm";

/// Largest sidecar read (metadata only; a bigger one is an error, not a truncation).
const MAX_SIDECAR_BYTES: usize = 64 << 10;
/// Longest commit message kept.
const MAX_MESSAGE_CHARS: usize = 2000;

/// Limits on what one commit may ask the loader to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiscoverLimits {
    pub max_file_bytes: usize,
    pub max_runbooks: usize,
}

/// A runbook file found in the tree, read (or refused) but not yet loaded.
#[derive(Debug, Clone)]
pub(crate) struct FoundFile {
    pub path: String,
    pub role: FileRole,
    /// git's blob id: equal ids mean equal bytes.
    pub blob: Oid,
    pub size: usize,
    /// The bytes, or why they were not read (too large, over the file count).
    pub content: Result<Arc<[u8]>, String>,
    /// `<x>.runbook.toml` beside it: its text, or why it could not be read.
    pub sidecar: Option<Result<String, String>>,
}

/// Whether a path names a runbook component.
pub fn is_runbook_path(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.contains(".runbook.") && base.ends_with(".wasm")
}

/// The role of a runbook path.
pub(crate) fn role_of(path: &str) -> FileRole {
    match path {
        SESSION_OPEN_HOOK => FileRole::SessionOpenHook,
        SESSION_CLOSE_HOOK => FileRole::SessionCloseHook,
        _ => FileRole::Runbook,
    }
}

/// Author, message and time of a commit.
pub(crate) fn commit_info(repo: &Repository, tip: Oid) -> Result<CommitInfo, String> {
    let commit = repo
        .find_commit(tip)
        .map_err(|e| format!("cannot read commit {tip}: {}", e.message()))?;
    let author = commit.author();
    let name = String::from_utf8_lossy(author.name_bytes()).into_owned();
    let email = String::from_utf8_lossy(author.email_bytes()).into_owned();
    let message: String = String::from_utf8_lossy(commit.message_bytes())
        .trim()
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    let time = commit.time().seconds();
    Ok(CommitInfo {
        sha: tip.to_string(),
        author: format!("{name} <{email}>"),
        message,
        time: rfc3339_utc(time),
        unix_time: time,
    })
}

/// Walks the commit's tree and reads every runbook (with its sidecar), within `limits`.
pub(crate) fn discover(
    repo: &Repository,
    tip: Oid,
    limits: DiscoverLimits,
) -> Result<Vec<FoundFile>, String> {
    let tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(|e| format!("cannot read the tree of {tip}: {}", e.message()))?;
    // Every regular blob by path: runbooks, and the .toml files that may be sidecars.
    let mut blobs: BTreeMap<String, Oid> = BTreeMap::new();
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        // Symlinks (0o120000) and submodules are not files of this repository.
        let regular = matches!(entry.filemode(), 0o100644 | 0o100755);
        if entry.kind() == Some(ObjectType::Blob)
            && regular
            && let Ok(name) = entry.name()
            && (is_runbook_path(name) || name.ends_with(".toml"))
        {
            blobs.insert(format!("{root}{name}"), entry.id());
        }
        TreeWalkResult::Ok
    })
    .map_err(|e| format!("cannot walk the tree of {tip}: {}", e.message()))?;

    let odb = repo
        .odb()
        .map_err(|e| format!("cannot open the object database: {}", e.message()))?;
    let mut found = Vec::new();
    for (path, blob) in blobs.iter().filter(|(p, _)| is_runbook_path(p)) {
        // The size comes from the object header, so a huge blob is refused unread.
        let size = odb
            .read_header(*blob)
            .map(|(size, _)| size)
            .map_err(|e| format!("cannot read {path}: {}", e.message()))?;
        let content = if found.len() >= limits.max_runbooks {
            Err(format!(
                "not loaded: the repository has more than {} runbooks",
                limits.max_runbooks
            ))
        } else if size > limits.max_file_bytes {
            Err(format!(
                "{size} bytes is over the {}-byte limit",
                limits.max_file_bytes
            ))
        } else {
            read_blob(repo, *blob).map(Arc::from)
        };
        let sidecar_path = format!("{}.toml", path.trim_end_matches(".wasm"));
        let sidecar = blobs
            .get(&sidecar_path)
            .map(|oid| read_sidecar(repo, &odb, *oid, &sidecar_path));
        found.push(FoundFile {
            path: path.clone(),
            role: role_of(path),
            blob: *blob,
            size,
            content,
            sidecar,
        });
    }
    Ok(found)
}

fn read_blob(repo: &Repository, oid: Oid) -> Result<Vec<u8>, String> {
    repo.find_blob(oid)
        .map(|b| b.content().to_vec())
        .map_err(|e| format!("cannot read blob {oid}: {}", e.message()))
}

fn read_sidecar(
    repo: &Repository,
    odb: &git2::Odb<'_>,
    oid: Oid,
    path: &str,
) -> Result<String, String> {
    let size = odb
        .read_header(oid)
        .map(|(size, _)| size)
        .map_err(|e| format!("cannot read {path}: {}", e.message()))?;
    if size > MAX_SIDECAR_BYTES {
        return Err(format!(
            "{path}: {size} bytes is over the {MAX_SIDECAR_BYTES}-byte sidecar limit"
        ));
    }
    String::from_utf8(read_blob(repo, oid)?).map_err(|_| format!("{path} is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_names() {
        assert!(is_runbook_path("ops/revoke.runbook.wasm"));
        assert!(is_runbook_path("x.runbook.v2.wasm"));
        assert!(is_runbook_path("hoop-hooks/session-open.runbook.wasm"));
        assert!(!is_runbook_path("ops/revoke.wasm"));
        assert!(!is_runbook_path("ops.runbook.d/x.wasm"));
        assert!(!is_runbook_path("ops/x.runbook.toml"));
        assert_eq!(role_of(SESSION_OPEN_HOOK), FileRole::SessionOpenHook);
        assert_eq!(role_of("hoop-hooks/other.runbook.wasm"), FileRole::Runbook);
    }
}
