//! Content-addressed on-disk cache of compiled components.
//!
//! Compiling a component costs tens of milliseconds; loading a compiled artifact costs well
//! under one. Entries are keyed by the sha256 of the wasm and live under a directory named
//! after the engine's compatibility hash, so an artifact is only ever offered to an engine
//! that could have produced it. Each entry carries a checksum of its payload: a truncated,
//! corrupt or foreign file is recompiled and replaced, never handed to wasmtime.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::error::{Result, RuntimeError};

/// Magic bytes opening every cache entry (format version 1).
const MAGIC: &[u8; 8] = b"RBXCWSM1";
/// Magic + crc32 of the payload + payload length.
const HEADER_LEN: usize = 8 + 4 + 8;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Loaded from a compiled artifact on disk.
    Hit {
        #[serde(
            rename = "load_ms",
            serialize_with = "crate::serde_duration::millis::serialize"
        )]
        load: Duration,
    },
    /// Compiled now (and stored when the cache is enabled).
    Compiled {
        #[serde(
            rename = "compile_ms",
            serialize_with = "crate::serde_duration::millis::serialize"
        )]
        compile: Duration,
    },
}

/// Counters of the cache, for tests ("no recompilation after restart") and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub compiles: u64,
    /// Entries found but refused (corrupt, truncated, foreign) and recompiled.
    pub rejected: u64,
    /// Entries that could not be written (the run still goes on).
    pub write_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    compiles: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
}

/// The compiled-artifact cache. Cheap to clone; clones share counters.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    /// `None` disables persistence (compile every time).
    root: Option<PathBuf>,
    /// `<root>/<engine compatibility hash>`, set by [`ArtifactCache::for_engine`].
    dir: Option<PathBuf>,
    counters: Arc<Counters>,
}

impl ArtifactCache {
    /// A cache persisted under `root` (created when needed).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        ArtifactCache {
            root: Some(root.into()),
            dir: None,
            counters: Arc::default(),
        }
    }

    /// No persistence: every load compiles.
    pub fn disabled() -> Self {
        ArtifactCache {
            root: None,
            dir: None,
            counters: Arc::default(),
        }
    }

    /// Binds the cache to an engine's compatibility hash.
    pub(crate) fn for_engine(mut self, engine: &wasmtime::Engine) -> Result<Self> {
        if let Some(root) = &self.root {
            let mut hasher = Sha256Hasher::default();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            let dir = root.join(hasher.hex16());
            fs::create_dir_all(&dir)
                .map_err(|e| RuntimeError::io("create cache directory", &dir, e))?;
            self.dir = Some(dir);
        }
        Ok(self)
    }

    /// The directory entries of this engine go to, when persistence is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            compiles: c.compiles.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
        }
    }

    /// Returns the compiled component for `wasm` (whose sha256 is `sha256`), from disk when a
    /// valid entry exists, else by compiling (and storing) it. Blocking: call it off the
    /// async executor.
    pub fn load_or_compile(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<(Component, CacheOutcome), wasmtime::Error> {
        let entry = self
            .dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}.cwasm")));
        if let Some(path) = &entry {
            let started = Instant::now();
            match self.read_entry(engine, path) {
                Ok(Some(component)) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((
                        component,
                        CacheOutcome::Hit {
                            load: started.elapsed(),
                        },
                    ));
                }
                Ok(None) => {}
                Err(reason) => {
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(entry = %path.display(), %reason, "compiled artifact refused; recompiling");
                }
            }
        }
        let started = Instant::now();
        let component = Component::new(engine, wasm)?;
        let compile = started.elapsed();
        self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = &entry
            && let Err(err) = component
                .serialize()
                .map_err(|e| e.to_string())
                .and_then(|bytes| write_entry(path, &bytes))
        {
            self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %path.display(), error = %err, "cannot store compiled artifact");
        }
        Ok((component, CacheOutcome::Compiled { compile }))
    }

    /// `Ok(None)`: no entry. `Err`: an entry exists but cannot be trusted.
    fn read_entry(
        &self,
        engine: &wasmtime::Engine,
        path: &Path,
    ) -> std::result::Result<Option<Component>, String> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("unreadable: {e}")),
        };
        let payload = verify_entry(&bytes)?;
        // SAFETY: `Component::deserialize` requires bytes produced by `Component::serialize`
        // of a compatible engine. The entry was written by `write_entry` from `serialize`
        // output, lives under this engine's compatibility-hash directory, and its checksum
        // and length were verified just above, so a torn or corrupted file never gets here;
        // wasmtime additionally checks its own header (version, engine settings).
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, payload) };
        component
            .map(Some)
            .map_err(|e| format!("wasmtime refused it: {e}"))
    }
}

/// Checks magic, length and checksum; returns the payload.
fn verify_entry(bytes: &[u8]) -> std::result::Result<&[u8], String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a runbox cache entry (bad magic)".into());
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len_bytes);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!(
            "truncated: header says {len} bytes, file has {}",
            payload.len()
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    Ok(payload)
}

/// Writes an entry atomically: a unique temp file in the same directory, fsync, rename.
fn write_entry(path: &Path, payload: &[u8]) -> std::result::Result<(), String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or("entry path has no parent")?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        file.write_all(&(payload.len() as u64).to_le_bytes())?;
        file.write_all(payload)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| e.to_string())
}

/// sha256 of some bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `Hasher` over sha256, so the engine compatibility hash is stable across processes
/// (std's `DefaultHasher` makes no such promise).
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

impl Sha256Hasher {
    fn hex16(&self) -> String {
        format!("{:016x}", self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_rejects_bad_magic_truncation_and_bitflips() {
        assert!(verify_entry(b"short").unwrap_err().contains("bad magic"));
        let mut entry = Vec::new();
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&crc32fast::hash(b"payload").to_le_bytes());
        entry.extend_from_slice(&7u64.to_le_bytes());
        entry.extend_from_slice(b"payload");
        assert_eq!(verify_entry(&entry).unwrap(), b"payload");

        let truncated = &entry[..entry.len() - 1];
        assert!(verify_entry(truncated).unwrap_err().contains("truncated"));

        let mut flipped = entry.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(verify_entry(&flipped).unwrap_err().contains("checksum"));
    }

    #[test]
    fn write_entry_is_readable_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.cwasm");
        write_entry(&path, b"compiled").unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(verify_entry(&bytes).unwrap(), b"compiled");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("abc.cwasm")]);
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
