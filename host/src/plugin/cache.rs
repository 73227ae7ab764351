//! The on-disk cache of compiled plugins.
//!
//! A plugin is compiled once per (plugin sha256, engine compatibility hash)
//! and stored as `<cache>/plugins/<sha256>-<compat>.bin`, written to a temp
//! file and renamed into place, so readers never see a half-written file.
//!
//! A compiled plugin is native code, and loading one
//! (`Component::deserialize`) is the one `unsafe` operation in sluice:
//! wasmtime trusts those bytes to be what it produced. So the cache trusts
//! nothing because of its name:
//!
//! - **The directory.** `<cache>/plugins` is created with mode 0700, and the
//!   cache is used only while both it and `<cache>` belong to the current
//!   user and are not writable by group or others. Otherwise sluice compiles
//!   in memory, does not read or write the cache, and warns with the `chmod`
//!   that fixes it.
//! - **The file.** Each file starts with a header line holding the sha256 of
//!   the compiled bytes that follow. The whole file is read, the digest of
//!   the bytes is checked, and only those verified bytes (never the file
//!   again) are deserialized. A file that is short, altered or truncated is
//!   compiled anew and replaced; it is never loaded. wasmtime additionally
//!   checks that the bytes were produced by a compatible engine.

use super::PluginError;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every cache file, before the artifact's hex digest.
const MAGIC: &[u8] = b"sluice compiled plugin v1 sha256:";

/// Where compiled plugins live, for one engine configuration.
pub struct Cache {
    dir: PathBuf,
    compat: String,
}

/// Why the cache directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDir {
    /// The directory could not be created or inspected.
    #[error("cannot create or inspect {}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another user owns the directory.
    #[error("{} belongs to user {owner}, not to this user ({me}); use a cache directory of your own (SLUICE_CACHE_DIR)", path.display())]
    Owner {
        /// The directory.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Our uid.
        me: u32,
    },
    /// Group or others may write to the directory.
    #[error("{} is writable by other users (mode {mode:o}); fix it with: chmod go-w {}", path.display(), path.display())]
    Writable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The bytes of a compiled component that are known to come from
/// `Engine::precompile_component`: produced just now, or read back from a
/// cache file whose recorded digest they match.
struct Verified<'a>(&'a [u8]);

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

    /// The default cache directory: `$SLUICE_CACHE_DIR`, else the user's
    /// cache directory + `sluice`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("SLUICE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("sluice")))
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn plugins_dir(&self) -> PathBuf {
        self.dir.join("plugins")
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.plugins_dir()
            .join(format!("{sha256}-{}.bin", self.compat))
    }

    /// Create the cache directory (0700) if needed and check that nobody
    /// else can write to it.
    fn prepare(&self) -> Result<PathBuf, UnsafeDir> {
        let dir = self.plugins_dir();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| UnsafeDir::Io { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        for d in [&self.dir, &dir] {
            check_private(d).map_err(io(d))??;
        }
        Ok(dir)
    }

    /// Load the compiled form of the plugin with digest `sha256`, compiling
    /// and storing it first if it is not cached or the cached file fails its
    /// check. Returns the component and whether it came from the cache.
    pub fn load(
        &self,
        engine: &Engine,
        name: &str,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<(Component, bool), PluginError> {
        let usable = match self.prepare() {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(plugin = name, error = %e,
                    "refusing to use the compiled-plugin cache; compiling in memory");
                false
            }
        };
        let path = self.path(sha256);
        if usable {
            match read_verified(&path) {
                Ok(Some(bytes)) => match deserialize(engine, Verified(&bytes)) {
                    Ok(c) => return Ok((c, true)),
                    Err(e) => tracing::warn!(plugin = name, path = %path.display(), error = %e,
                        "cached compiled plugin is for another engine; recompiling"),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(plugin = name, path = %path.display(), error = %e,
                    "cached compiled plugin failed its check; recompiling"),
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Compile {
                plugin: name.to_string(),
                source: e.into(),
            })?;
        if usable && let Err(e) = write_atomic(&path, &compiled) {
            tracing::warn!(plugin = name, path = %path.display(), error = %e,
                "cannot write the compiled-plugin cache; continuing without it");
        }
        // Deserialize what we just produced rather than compiling twice.
        let component =
            deserialize(engine, Verified(&compiled)).map_err(|e| PluginError::Compile {
                plugin: name.to_string(),
                source: e.into(),
            })?;
        Ok((component, false))
    }
}

/// `Ok(Err(..))` when `dir` is another user's or writable by group/others.
fn check_private(dir: &Path) -> std::io::Result<Result<(), UnsafeDir>> {
    let md = std::fs::metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    if md.uid() != me {
        return Ok(Err(UnsafeDir::Owner {
            path: dir.to_path_buf(),
            owner: md.uid(),
            me,
        }));
    }
    let mode = md.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Ok(Err(UnsafeDir::Writable {
            path: dir.to_path_buf(),
            mode,
        }));
    }
    Ok(Ok(()))
}

/// The artifact stored at `path`, if there is a file and its digest
/// matches; `Ok(None)` when there is no file; `Err` when it fails the check.
fn read_verified(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let header_len = MAGIC.len() + 64 + 1;
    if bytes.len() < header_len || !bytes.starts_with(MAGIC) || bytes[header_len - 1] != b'\n' {
        return Err(bad("not a sluice cache file (bad header)"));
    }
    let recorded = &bytes[MAGIC.len()..MAGIC.len() + 64];
    let actual = hex::encode(Sha256::digest(&bytes[header_len..]));
    if recorded != actual.as_bytes() {
        return Err(bad(
            "its content does not match its recorded sha256 (corrupted or altered)",
        ));
    }
    bytes.drain(..header_len);
    Ok(Some(bytes))
}

fn write_atomic(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let digest = hex::encode(Sha256::digest(artifact));
    std::io::Write::write_all(&mut tmp, MAGIC)?;
    std::io::Write::write_all(&mut tmp, digest.as_bytes())?;
    std::io::Write::write_all(&mut tmp, b"\n")?;
    std::io::Write::write_all(&mut tmp, artifact)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Turn verified compiled bytes into a component.
///
/// Safety: `Component::deserialize` trusts its input to be what
/// `Engine::precompile_component` produced for a compatible engine. A
/// [`Verified`] holds either bytes `precompile_component` returned in this
/// process, or bytes read from a cache file in a directory only this user
/// can write, whose sha256 matches the digest sluice recorded when it wrote
/// them; wasmtime additionally checks the header's version and engine
/// configuration.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, bytes: Verified<'_>) -> wasmtime::Result<Component> {
    // SAFETY: see the function's documentation.
    unsafe { Component::deserialize(engine, bytes.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(component (core module (func (export "f"))))"#;

    fn setup() -> (tempfile::TempDir, Engine, Cache, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let cache = Cache::new(dir.path().join("c"), &engine);
        let wasm = wat::parse_str(WAT).expect("wat");
        (dir, engine, cache, wasm)
    }

    #[test]
    fn the_cache_directory_is_private_and_artifacts_are_reused() {
        let (_d, engine, cache, wasm) = setup();
        let (_, cached) = cache.load(&engine, "p", "abc", &wasm).expect("load");
        assert!(!cached);
        let mode = std::fs::metadata(cache.plugins_dir())
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let (_, cached) = cache.load(&engine, "p", "abc", &wasm).expect("load");
        assert!(cached, "the second load comes from the cache");
    }

    #[test]
    fn a_corrupted_artifact_is_recompiled_never_loaded() {
        let (_d, engine, cache, wasm) = setup();
        cache.load(&engine, "p", "abc", &wasm).expect("load");
        let path = cache.path("abc");
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let err = read_verified(&path).expect_err("the check fails");
        assert!(
            err.to_string()
                .contains("does not match its recorded sha256"),
            "{err}"
        );
        let (_, cached) = cache.load(&engine, "p", "abc", &wasm).expect("load");
        assert!(!cached, "a corrupted artifact must be recompiled");
        assert!(read_verified(&path).expect("rewritten").is_some());
        // A bare wasmtime artifact without sluice's header is refused too.
        let raw = engine.precompile_component(&wasm).expect("compile");
        std::fs::write(&path, &raw).expect("write");
        let err = read_verified(&path).expect_err("no header");
        assert!(err.to_string().contains("bad header"), "{err}");
        let (_, cached) = cache.load(&engine, "p", "abc", &wasm).expect("load");
        assert!(!cached);
    }

    #[test]
    fn a_world_writable_cache_directory_is_refused() {
        let (_d, engine, cache, wasm) = setup();
        cache.load(&engine, "p", "abc", &wasm).expect("load");
        std::fs::set_permissions(cache.plugins_dir(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let err = cache.prepare().expect_err("refused");
        assert!(
            err.to_string()
                .contains("is writable by other users (mode 777); fix it with: chmod go-w"),
            "{err}"
        );
        // A valid artifact sits there, but it is not loaded from such a
        // directory, and nothing is written into it.
        let before = std::fs::read(cache.path("abc")).expect("read");
        let (_, cached) = cache.load(&engine, "p", "abc", &wasm).expect("load");
        assert!(!cached, "nothing is loaded from a world-writable directory");
        let (_, cached) = cache.load(&engine, "p", "new", &wasm).expect("load");
        assert!(!cached);
        assert!(!cache.path("new").exists(), "nothing is written there");
        assert_eq!(std::fs::read(cache.path("abc")).expect("read"), before);
        // Group-writable is refused as well; 0700 again is fine.
        std::fs::set_permissions(cache.plugins_dir(), std::fs::Permissions::from_mode(0o770))
            .expect("chmod");
        assert!(cache.prepare().is_err());
        std::fs::set_permissions(cache.plugins_dir(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        cache.prepare().expect("private again");
    }
}
