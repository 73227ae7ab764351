//! The on-disk cache: one bare repository per normalised URL, under
//! `<cache>/<sha256 of the normalised URL>`, with two lock files beside it.
//!
//! **Privacy.** The cache root is per user: `$XDG_CACHE_HOME/sluice/git`
//! (or `~/.cache/sluice/git`), or `SLUICE_GIT_CACHE_DIR`. There is no
//! fallback under a shared directory such as `/tmp`: without a home or
//! cache directory, [`prepare_root`] refuses and says to set
//! `SLUICE_GIT_CACHE_DIR`. The root is created `0700`, and an existing one
//! owned by another user or writable by group or others is refused, since
//! whoever can write there can plant objects sluice would render.
//!
//! **Size cap.** After each resolve, least recently used repositories
//! are deleted until the cache is under
//! [`Options::max_cache_size`](super::Options::max_cache_size)
//! (`--git-cache-size`); "used" is when a resolve last took the fetch
//! lock, whose file every resolve writes. A repository is deleted only if
//! both its locks can be taken without waiting, so one being fetched, or
//! whose tree a render is reading, is never evicted (the cache may then
//! stay over the cap until it is free).
//!
//! **Locks.** Both are `flock`-style locks ([`std::fs::File::lock`]); such a
//! lock belongs to the open file handle, so it excludes other threads of
//! this process (each opens its own handle) as well as other processes, and
//! is released on drop, also when the process dies.
//! - `<key>.lock`, exclusive: held for a whole resolve-and-fetch, so one
//!   fetch at a time writes a repository. Waiting for it is bounded
//!   ([`lock`]); the error names the lock file and the process id the
//!   holder wrote into it.
//! - `<key>.readers`, shared: every tree served from the repository holds
//!   it for its lifetime ([`ReadGuard`]). Fetching only adds objects, so it
//!   does not need it; deleting a corrupt repository ([`wipe`]) takes it
//!   exclusively, so files never vanish under a render that is reading
//!   them (which would make its objects vanish, and a prune delete them).

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No per-user cache directory is known.
    #[error(
        "no per-user cache directory (neither XDG_CACHE_HOME nor HOME is set); set SLUICE_GIT_CACHE_DIR to a private directory"
    )]
    NoCacheDir,
    /// The cache root is owned by someone else or writable by others.
    #[error(
        "{path} is {problem}; sluice refuses a Git cache other users can write to: use a private directory (chmod 700, owned by you) or set SLUICE_GIT_CACHE_DIR"
    )]
    Insecure {
        /// The cache root.
        path: PathBuf,
        /// What is wrong, such as `writable by group or others (mode 777)`.
        problem: String,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done (`create`, `lock`, `delete`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another fetch or render held a lock longer than the wait limit.
    #[error(
        "lock file {lock_file} is held by {holder} (waited {waited:?}); retry later, or raise the wait limit (SLUICE_GIT_LOCK_TIMEOUT)"
    )]
    LockTimeout {
        /// The lock file.
        lock_file: PathBuf,
        /// Who holds it, as far as known (`process 1234`, or readers).
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The repository could not be created or opened.
    #[error("cannot {action} the cached repository")]
    Repository {
        /// `create` or `open`.
        action: &'static str,
        /// What gix said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> CacheError + 'p {
    move |source| CacheError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The default cache root: `<user cache dir>/sluice/git`, or an empty path
/// when the user has no cache directory ([`prepare_root`] then refuses).
pub fn default_root() -> PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("sluice").join("git"))
        .unwrap_or_default()
}

/// Create the cache root `0700` if missing, and check that it is a
/// directory owned by this user and not writable by group or others.
pub fn prepare_root(root: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    if root.as_os_str().is_empty() {
        return Err(CacheError::NoCacheDir);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(io("create", root))?;
    let md = std::fs::metadata(root).map_err(io("inspect", root))?;
    let insecure = |problem: String| CacheError::Insecure {
        path: root.to_path_buf(),
        problem,
    };
    if !md.is_dir() {
        return Err(insecure("not a directory".into()));
    }
    let me = rustix::process::geteuid().as_raw();
    if md.uid() != me {
        return Err(insecure(format!(
            "owned by user id {}, not by you ({me})",
            md.uid()
        )));
    }
    if md.mode() & 0o022 != 0 {
        return Err(insecure(format!(
            "writable by group or others (mode {:o})",
            md.mode() & 0o7777
        )));
    }
    Ok(())
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

impl Drop for CacheLock {
    /// Clear the holder's pid before the lock goes (best effort).
    fn drop(&mut self) {
        let _ = self._file.set_len(0);
    }
}

/// Take `file`'s lock (shared or exclusive), polling until `wait` has
/// passed. `Ok(false)` on timeout.
fn lock_within(file: &File, shared: bool, wait: Duration) -> std::io::Result<bool> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let r = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match r {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(false);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

fn open_lock_file(path: &Path) -> Result<File, CacheError> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io("open lock file", path))
}

/// Take the fetch lock of the repository at `dir`, waiting at most `wait`.
/// The holder writes its process id into the file, so a timeout can say who
/// holds it.
pub fn lock(dir: &Path, wait: Duration) -> Result<CacheLock, CacheError> {
    let path = dir.with_extension("lock");
    let mut file = open_lock_file(&path)?;
    if !lock_within(&file, false, wait).map_err(io("lock", &path))? {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        let holder = match pid.trim() {
            "" => "another fetch".to_string(),
            p => format!("process {p}"),
        };
        return Err(CacheError::LockTimeout {
            lock_file: path,
            holder,
            waited: wait,
        });
    }
    // Best effort: the pid is only for messages.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()));
    Ok(CacheLock { _file: file })
}

/// A shared lock on a repository's `.readers` file, held while a tree from
/// it is in use so that [`wipe`] waits for it. Released on drop.
#[derive(Debug)]
pub struct ReadGuard {
    _file: File,
}

/// Take the readers lock of the repository at `dir`, shared. Called with
/// the fetch lock held, and [`wipe`] runs only with the fetch lock held, so
/// this never has to wait long.
pub fn read_guard(dir: &Path, wait: Duration) -> Result<ReadGuard, CacheError> {
    let path = dir.with_extension("readers");
    let file = open_lock_file(&path)?;
    if !lock_within(&file, true, wait).map_err(io("lock", &path))? {
        return Err(CacheError::LockTimeout {
            lock_file: path,
            holder: "a cache clean-up".into(),
            waited: wait,
        });
    }
    Ok(ReadGuard { _file: file })
}

/// Open the bare repository at `dir`, creating it when missing. Opening
/// ignores the user's and system's Git configuration, so nothing on the
/// machine (credential helpers, `insteadOf`, hooks) changes what sluice
/// fetches.
pub fn open_or_init(dir: &Path) -> Result<gix::Repository, CacheError> {
    if !dir.join("HEAD").exists() {
        // Create beside it and rename, so a crash never leaves half a repo.
        let tmp = dir.with_extension(format!("init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        gix::init_bare(&tmp).map_err(|e| CacheError::Repository {
            action: "create",
            source: Box::new(e),
        })?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&tmp, dir).map_err(io("create", dir))?;
    }
    open(dir)
}

/// Open an existing cached repository.
pub fn open(dir: &Path) -> Result<gix::Repository, CacheError> {
    let opts = gix::open::Options::isolated().strict_config(false);
    gix::open_opts(dir, opts).map_err(|e| CacheError::Repository {
        action: "open",
        source: Box::new(e),
    })
}

/// Delete a corrupt cached repository so the next fetch starts afresh.
/// Waits (at most `wait`) until no tree from it is in use. Call with the
/// fetch lock held.
pub fn wipe(dir: &Path, wait: Duration) -> Result<(), CacheError> {
    let path = dir.with_extension("readers");
    let file = open_lock_file(&path)?;
    if !lock_within(&file, false, wait).map_err(io("lock", &path))? {
        return Err(CacheError::LockTimeout {
            lock_file: path,
            holder: "a render still reading this repository".into(),
            waited: wait,
        });
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("delete", dir)(e)),
        _ => Ok(()),
    }
}

/// The bytes under `path` (files only; symlinks not followed).
fn disk_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// One cached repository, as the size cap sees it.
#[derive(Debug, Clone)]
pub struct Cached {
    /// Its directory.
    pub dir: PathBuf,
    /// Bytes on disk.
    pub size: u64,
    /// When a resolve last used it (the fetch lock file's modification
    /// time: every resolve writes it).
    pub last_used: std::time::SystemTime,
}

impl Cached {
    /// Every cached repository under the cache root `root`, least
    /// recently used first.
    pub fn list(root: &Path) -> Vec<Cached> {
        usage(root)
    }
}

/// Every cached repository under `root`, least recently used first.
fn usage(root: &Path) -> Vec<Cached> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_repo = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_repo || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = e.path();
        let last_used = std::fs::metadata(dir.with_extension("lock"))
            .or_else(|_| e.metadata())
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        out.push(Cached {
            size: disk_size(&dir),
            dir,
            last_used,
        });
    }
    out.sort_by_key(|c| c.last_used);
    out
}

/// What one pass of the size cap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Bytes cached before.
    pub before: u64,
    /// Bytes cached after.
    pub after: u64,
    /// Repositories deleted, least recently used first, with their sizes.
    pub evicted: Vec<(PathBuf, u64)>,
    /// Repositories over the cap that were in use (a fetch or a tree
    /// holds them) and so were kept.
    pub in_use: usize,
}

/// Delete the repository at `dir` unless it is in use: its fetch lock and
/// its readers lock are both taken without waiting, so neither a fetch nor
/// a tree that is being read can lose its files. `Ok(false)` when in use.
fn try_evict(dir: &Path) -> Result<bool, CacheError> {
    let lock_path = dir.with_extension("lock");
    let fetch = open_lock_file(&lock_path)?;
    if fetch.try_lock().is_err() {
        return Ok(false);
    }
    let readers_path = dir.with_extension("readers");
    let readers = open_lock_file(&readers_path)?;
    if readers.try_lock().is_err() {
        return Ok(false);
    }
    // Rename first, so a crash mid-delete never leaves half a repository
    // under the real name.
    let doomed = dir.with_extension(format!("evict-{}", std::process::id()));
    std::fs::rename(dir, &doomed).map_err(io("evict", dir))?;
    std::fs::remove_dir_all(&doomed).map_err(io("delete", &doomed))?;
    Ok(true)
}

/// Evict least recently used repositories under `root` until the cache
/// holds at most `max` bytes, never one in use.
pub fn trim(root: &Path, max: u64) -> Result<Trimmed, CacheError> {
    let all = usage(root);
    let before: u64 = all.iter().map(|c| c.size).sum();
    let mut t = Trimmed {
        before,
        after: before,
        ..Trimmed::default()
    };
    for c in all {
        if t.after <= max {
            break;
        }
        if try_evict(&c.dir)? {
            t.after -= c.size;
            t.evicted.push((c.dir, c.size));
        } else {
            t.in_use += 1;
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_other_handles_and_times_out_naming_the_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("abc");
        let held = lock(&dir, Duration::from_secs(1)).expect("lock");
        let f = File::options()
            .write(true)
            .open(dir.with_extension("lock"))
            .expect("open");
        assert!(
            f.try_lock().is_err(),
            "a second handle must not get the lock"
        );
        let start = Instant::now();
        let err = lock(&dir, Duration::from_millis(300)).expect_err("held");
        assert!(start.elapsed() < Duration::from_secs(2));
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "lock file {}",
                dir.with_extension("lock").display()
            )) && msg.contains(&format!("held by process {}", std::process::id())),
            "{msg}"
        );
        drop(held);
        assert!(f.try_lock().is_ok());
        drop(f);
        let repo = open_or_init(&dir).expect("init");
        assert!(repo.is_bare());
        assert_eq!(
            repo_dir(d.path(), "x").file_name().map(|n| n.len()),
            Some(64)
        );
    }

    #[test]
    fn wipe_waits_for_readers() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("abc");
        open_or_init(&dir).expect("init");
        let reader = read_guard(&dir, Duration::from_secs(1)).expect("reader");
        let err = wipe(&dir, Duration::from_millis(200)).expect_err("reader holds it");
        assert!(
            err.to_string().contains("still reading this repository"),
            "{err}"
        );
        assert!(dir.join("HEAD").exists(), "nothing deleted under a reader");
        drop(reader);
        wipe(&dir, Duration::from_millis(200)).expect("wipe");
        assert!(!dir.exists());
    }

    #[test]
    fn cache_root_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path().join("a/b/git");
        prepare_root(&root).expect("created");
        let mode = std::fs::metadata(&root).expect("md").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = prepare_root(&root).expect_err("world-writable");
        assert!(
            err.to_string()
                .contains("writable by group or others (mode 777)"),
            "{err}"
        );
        let err = prepare_root(Path::new("")).expect_err("no home");
        assert!(
            err.to_string().contains("set SLUICE_GIT_CACHE_DIR"),
            "{err}"
        );
    }
}
