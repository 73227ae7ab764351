//! The on-disk cache of compiled plugins.
//!
//! A plugin is compiled once per (plugin sha256, engine compatibility hash)
//! and stored as `<cache>/plugins/<sha256>-<compat>.cwasm`, written to a temp
//! file and renamed into place, so readers never see a half-written file.

use super::PluginError;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled plugins live, for one engine configuration.
pub struct Cache {
    dir: PathBuf,
    compat: String,
}

impl Cache {
    /// A cache under `dir` for artifacts of `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Cache {
            dir,
            compat: format!("{:016x}", h.finish()),
        }
    }

    /// The default cache directory: `$XDG_CACHE_HOME/sluice` or similar.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("SLUICE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("sluice")))
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join("plugins")
            .join(format!("{sha256}-{}.cwasm", self.compat))
    }

    /// Load the compiled form of the plugin with digest `sha256`, compiling
    /// and storing it first if it is not cached (or the cached file is
    /// unusable). Returns the component and whether it came from the cache.
    pub fn load(
        &self,
        engine: &Engine,
        name: &str,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<(Component, bool), PluginError> {
        let path = self.path(sha256);
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(plugin = name, path = %path.display(), error = %e,
                    "cached compiled plugin unusable; recompiling"),
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile {
                plugin: name.to_string(),
                source: e.into(),
            })?;
        if let Err(e) = write_atomic(&path, &compiled) {
            tracing::warn!(plugin = name, path = %path.display(), error = %e,
                "cannot write the compiled-plugin cache; continuing without it");
        }
        // Deserialize what we just produced rather than compiling twice.
        let component = deserialize_bytes(engine, &compiled).map_err(|e| PluginError::Compile {
            plugin: name.to_string(),
            source: e.into(),
        })?;
        Ok((component, false))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Load a compiled component from the cache.
///
/// Safety: `Component::deserialize*` trusts its input to be what
/// `Engine::precompile_component` produced for a compatible engine. The file
/// is one sluice itself wrote, atomically, into the user's own cache
/// directory, under a name keyed by the engine's compatibility hash; wasmtime
/// additionally checks the header's version and configuration. Anyone able
/// to write that directory can already replace the sluice binary's inputs.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: see the function's documentation.
    unsafe { Component::deserialize_file(engine, path) }
}

/// See [`deserialize`]; the bytes come straight from `precompile_component`.
#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` was produced by `engine.precompile_component` just now.
    unsafe { Component::deserialize(engine, bytes) }
}
