//! Compiled components cached on disk, keyed by the module's SHA-256 and the engine's
//! compatibility hash, so that a second run loads a module in well under a millisecond instead of
//! compiling it again (tens of milliseconds in release, more in debug builds).
//!
//! A cache entry that cannot be read or deserialised is recompiled and overwritten; a cache
//! directory that cannot be written only costs speed, never correctness.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::LoadError;

/// The on-disk compile cache.
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Cache statistics since the runtime started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Components loaded from disk.
    pub hits: u64,
    /// Components compiled.
    pub misses: u64,
}

impl CompileCache {
    /// A cache in `dir` (created on first write) for `engine`'s compilation settings.
    pub fn new(dir: Option<PathBuf>, engine: &wasmtime::Engine) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn entry_path(&self, wasm: &[u8]) -> Option<PathBuf> {
        let digest = hex::encode(Sha256::digest(wasm));
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// The compiled component for `wasm`, from disk if cached, else compiled and stored.
    pub(super) fn load(
        &self,
        engine: &wasmtime::Engine,
        module: &str,
        wasm: &[u8],
    ) -> Result<Component, LoadError> {
        let path = self.entry_path(wasm);
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (part of its name), into a directory only this tool writes.
            // A truncated or foreign file fails deserialisation's own checks and is recompiled.
            #[allow(unsafe_code, reason = "deserialising our own precompiled artefact")]
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unusable cache entry: {e:#}")
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| LoadError::Compile {
                module: module.to_owned(),
                reason: format!("{e:#}"),
            })?;
        if let Some(path) = &path
            && let Err(e) = write_atomically(path, &compiled)
        {
            tracing::warn!(path = %path.display(), "cannot write the compile cache (continuing without it): {e}");
        }
        // SAFETY: the bytes were produced just now by `precompile_component` of this engine.
        #[allow(unsafe_code, reason = "deserialising bytes this engine just produced")]
        unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| LoadError::Compile {
            module: module.to_owned(),
            reason: format!("{e:#}"),
        })
    }
}

/// Write to a temporary file and rename, so a concurrent run never reads a half-written entry.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
