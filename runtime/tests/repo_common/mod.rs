//! Shared helpers of the `repo_*` tests: real git repositories built with git2, a real
//! `git daemon` on loopback, and an engine over a temp compiled cache.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::{Oid, Repository, Signature};
use runbox::host::{Invocation, RunOutcome, RunRequest, Trigger};
use runbox::repo::{ManualClock, RepoConfig, RepoSettings, Repositories};
use runbox::{ArtifactCache, Engine, EngineSettings, RunbookHandle};

pub const ORG: &str = "acme";

/// Bytes of a built fixture.
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A component with a custom section appended: the same component, different bytes (so a
/// different sha256 and cache entry). Custom sections are valid anywhere in a component.
pub fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0);
    leb(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An empty core wasm module: valid wasm, but not a component.
pub const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";
/// wasm magic followed by garbage.
pub const CORRUPT: &[u8] = b"\0asm\x0d\0\x01\0this is not a component";

/// A bare repository standing in for the org's remote. Each commit lists the complete set
/// of files of its tree, so "delete a file" is "commit without it".
pub struct SourceRepo {
    pub dir: PathBuf,
    repo: Repository,
}

impl SourceRepo {
    pub fn init(dir: &Path) -> SourceRepo {
        let repo = Repository::init_bare(dir).unwrap();
        SourceRepo {
            dir: dir.to_path_buf(),
            repo,
        }
    }

    /// `file://` URL of the repository.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// A commit on `branch` (child of its tip, if any) whose tree is exactly `files`.
    pub fn commit(&self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        let parent = self
            .repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
            .map(|id| self.repo.find_commit(id).unwrap());
        self.write_commit(
            branch,
            files,
            message,
            parent.as_ref().into_iter().collect(),
        )
    }

    /// A commit with no parent that replaces `branch`: what a force-push of rewritten
    /// history leaves on the server.
    pub fn force_push(&self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        self.write_commit(branch, files, message, Vec::new())
    }

    pub fn delete_branch(&self, branch: &str) {
        self.repo
            .find_reference(&format!("refs/heads/{branch}"))
            .unwrap()
            .delete()
            .unwrap();
    }

    fn write_commit(
        &self,
        branch: &str,
        files: &[(&str, &[u8])],
        message: &str,
        parents: Vec<&git2::Commit<'_>>,
    ) -> String {
        let mut blobs = BTreeMap::new();
        for (path, bytes) in files {
            blobs.insert(path.to_string(), self.repo.blob(bytes).unwrap());
        }
        let tree_id = write_tree(&self.repo, &blobs);
        let tree = self.repo.find_tree(tree_id).unwrap();
        let sig = Signature::now("Alex Morgan", "alex.morgan@acme.com").unwrap();
        let refname = format!("refs/heads/{branch}");
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .unwrap();
        self.repo
            .reference(&refname, id, true, "test commit")
            .unwrap();
        id.to_string()
    }
}

/// Writes nested trees for `path -> blob`.
fn write_tree(repo: &Repository, files: &BTreeMap<String, Oid>) -> Oid {
    let mut here = repo.treebuilder(None).unwrap();
    let mut dirs: BTreeMap<String, BTreeMap<String, Oid>> = BTreeMap::new();
    for (path, oid) in files {
        match path.split_once('/') {
            Some((dir, rest)) => {
                dirs.entry(dir.to_string())
                    .or_default()
                    .insert(rest.to_string(), *oid);
            }
            None => {
                here.insert(path, *oid, 0o100644).unwrap();
            }
        }
    }
    for (dir, sub) in dirs {
        let id = write_tree(repo, &sub);
        here.insert(&dir, id, 0o040000).unwrap();
    }
    here.write().unwrap()
}

/// `git daemon` serving `base` on a free loopback port; killed on drop.
pub struct GitDaemon {
    child: Option<Child>,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Debian's git ships the daemon there; elsewhere `git daemon` finds its own.
        let debian = Path::new("/usr/lib/git-core/git-daemon");
        let mut command = if debian.exists() {
            Command::new(debian)
        } else {
            let mut git = Command::new("git");
            git.arg("daemon");
            git
        };
        let child = command
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg(format!("--base-path={}", base.display()))
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        let daemon = GitDaemon {
            child: Some(child),
            port,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "git daemon did not open port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// `git://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the daemon and waits until its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An engine whose compiled cache lives under `cache`.
pub fn engine(cache: &Path) -> Engine {
    let settings = EngineSettings {
        max_instances: 8,
        ..EngineSettings::default()
    };
    Engine::new(&settings, ArtifactCache::at(cache)).unwrap()
}

/// A test world: temp dirs, a manual clock, an engine and a registry.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub engine: Engine,
    pub repos: Repositories,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        Self::over(tmp)
    }

    /// A registry over an existing temp dir (a "restart" keeps the dir).
    pub fn over(tmp: tempfile::TempDir) -> World {
        let clock = Arc::new(ManualClock::new());
        let engine = engine(&tmp.path().join("compiled"));
        let repos = Repositories::with_clock(
            engine.clone(),
            RepoSettings::new(tmp.path().join("data")),
            clock.clone(),
        )
        .unwrap();
        World {
            tmp,
            clock,
            engine,
            repos,
        }
    }

    /// A source repository under the temp dir.
    pub fn source(&self, name: &str) -> SourceRepo {
        SourceRepo::init(&self.tmp.path().join("remotes").join(name))
    }

    /// Adds `url` to the test org with a 60 s TTL and hooks enabled.
    pub fn add(&self, url: &str) -> String {
        self.repos
            .add(ORG, RepoConfig::new(url).with_hook_config_ttl(60))
            .unwrap()
            .to_string()
    }
}

/// Runs a handle once with `params` (JSON object text).
pub async fn run(engine: &Engine, handle: &RunbookHandle, params: &str) -> RunOutcome {
    let invocation = Invocation {
        dispatch_id: "test-dispatch".into(),
        attempt: 1,
        trigger: Trigger::Manual,
        payload: "{}".into(),
        params: params.into(),
        connection: None,
    };
    engine
        .run(handle.prepared(), RunRequest::new(invocation))
        .await
}
