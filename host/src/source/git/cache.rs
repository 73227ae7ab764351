//! The on-disk cache: one bare repository per normalised URL, under
//! `<cache>/sluice/git/<sha256 of the normalised URL>`, with a lock file
//! beside it.
//!
//! The lock is an exclusive `flock`-style lock on `<key>.lock`
//! ([`std::fs::File::lock`]). Such a lock belongs to the open file handle,
//! so it excludes other threads of this process (each opens its own handle)
//! as well as other processes; one mechanism covers both. It is held for
//! the whole resolve-and-fetch and released on drop, also when the process
//! dies.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The default cache root: `<user cache dir>/sluice/git`.
pub fn default_root() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("sluice")
        .join("git")
}

/// Where the bare repository for `normalized_url` lives under `root`.
pub fn repo_dir(root: &Path, normalized_url: &str) -> PathBuf {
    root.join(hex::encode(Sha256::digest(normalized_url.as_bytes())))
}

/// An exclusive lock on one cached repository; released on drop.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

/// Wait for and take the lock of the repository at `dir`.
pub fn lock(dir: &Path) -> std::io::Result<CacheLock> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))?;
    file.lock()?;
    Ok(CacheLock { _file: file })
}

/// Open the bare repository at `dir`, creating it when missing. Opening
/// ignores the user's and system's Git configuration, so nothing on the
/// machine (credential helpers, `insteadOf`, hooks) changes what sluice
/// fetches.
pub fn open_or_init(dir: &Path) -> Result<gix::Repository, String> {
    if !dir.join("HEAD").exists() {
        // Create beside it and rename, so a crash never leaves half a repo.
        let tmp = dir.with_extension(format!("init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        gix::init_bare(&tmp).map_err(|e| format!("cannot create repository: {e}"))?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&tmp, dir).map_err(|e| format!("cannot create repository: {e}"))?;
    }
    open(dir)
}

/// Open an existing cached repository.
pub fn open(dir: &Path) -> Result<gix::Repository, String> {
    let opts = gix::open::Options::isolated().strict_config(false);
    gix::open_opts(dir, opts).map_err(|e| format!("cannot open repository: {e}"))
}

/// Delete a corrupt cached repository so the next fetch starts afresh.
pub fn wipe(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_other_handles_in_this_process() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("abc");
        let held = lock(&dir).expect("lock");
        let f = File::options()
            .write(true)
            .open(dir.with_extension("lock"))
            .expect("open");
        assert!(
            f.try_lock().is_err(),
            "a second handle must not get the lock"
        );
        drop(held);
        assert!(f.try_lock().is_ok());
        let repo = open_or_init(&dir).expect("init");
        assert!(repo.is_bare());
        assert_eq!(
            repo_dir(d.path(), "x").file_name().map(|n| n.len()),
            Some(64)
        );
    }
}
