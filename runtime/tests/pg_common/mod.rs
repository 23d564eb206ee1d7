//! A real PostgreSQL for tests: a temporary cluster (`initdb`) on a free loopback port,
//! started with `pg_ctl` and stopped (immediate mode) when the handle drops.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: there the cluster belongs to
//! `nobody` and every server command runs through `runuser -u nobody`. The binaries come
//! from the newest `/usr/lib/postgresql/<N>/bin` (Debian's layout; `.ci/run` installs the
//! `postgresql` package) or else from `PATH`. The server listens on 127.0.0.1 only, with
//! no unix socket, and trusts local connections (a throwaway cluster).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The user owning the cluster when the tests run as root.
const CLUSTER_USER: &str = "nobody";
/// The superuser created by `initdb`.
pub const SUPERUSER: &str = "postgres";

/// A running cluster; dropped: stopped and its directory removed.
pub struct PgCluster {
    /// Kept for its `Drop`; the cluster lives under it.
    _tmp: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_root: bool,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match found.and_then(|p| p.parent().map(Path::to_path_buf)) {
        Some(dir) => dir,
        None => panic!(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH): \
             install the `postgresql` package (.ci/run does)"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn check(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PgCluster {
    /// initdb + start; panics with the server's output when anything fails.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let as_root = is_root();
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if as_root {
            use std::os::unix::fs::PermissionsExt;
            // `nobody` must reach and own the cluster directory.
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            check(
                "chown",
                Command::new("chown")
                    .args([CLUSTER_USER, data.to_str().unwrap()])
                    .output()
                    .unwrap(),
            );
        }
        let mut cluster = PgCluster {
            _tmp: tmp,
            data,
            bin,
            port: 0,
            as_root,
        };
        let data = cluster.data.to_str().unwrap().to_owned();
        check(
            "initdb",
            cluster
                .server_cmd("initdb")
                .args([
                    "-D",
                    &data,
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ])
                .output()
                .unwrap(),
        );
        // A port taken between the probe and the start is retried with another one.
        for attempt in 0..5 {
            cluster.port = free_port();
            let opts = format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
                cluster.port
            );
            let log = format!("{data}/server.log");
            let out = cluster
                .server_cmd("pg_ctl")
                .args([
                    "-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "60", "start",
                ])
                .output()
                .unwrap();
            if out.status.success() {
                return cluster;
            }
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                attempt < 4 && log_text.contains("could not bind"),
                "pg_ctl start failed: {}\n{log_text}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        unreachable!()
    }

    /// A PostgreSQL server binary, as the cluster's owner.
    fn server_cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", CLUSTER_USER, "--"]).arg(path);
            c.current_dir("/");
            c
        } else {
            Command::new(path)
        }
    }

    /// `psql` arguments reaching `db` as `user` (ON_ERROR_STOP, no psqlrc, quiet).
    pub fn psql_args(&self, user: &str, db: &str) -> Vec<String> {
        [
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            user,
            "-d",
            db,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The `psql` client program.
    pub fn psql(&self) -> PathBuf {
        let p = self.bin.join("psql");
        if p.exists() { p } else { PathBuf::from("psql") }
    }

    /// Runs `sql` as the superuser on `db`; returns the unaligned, tuples-only output.
    pub fn query(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.psql())
            .args(self.psql_args(SUPERUSER, db))
            .args(["-A", "-t", "-c", sql])
            .output()
            .unwrap();
        String::from_utf8(check(&format!("psql {sql:?}"), out).stdout)
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Whether `user` can open a session on `db` (a real login attempt).
    pub fn can_connect(&self, user: &str, db: &str) -> Result<(), String> {
        let out = Command::new(self.psql())
            .args(self.psql_args(user, db))
            .args(["-c", "SELECT 1"])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap_or_default().to_owned();
        let _ = self
            .server_cmd("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
