//! A local directory standing for a repository.
//!
//! Paths are resolved with `canonicalize`, so the kernel follows symlinks
//! (and bounds their targets by `PATH_MAX`, the same 4 KiB
//! [`MAX_LINK_TARGET`] Git trees use); the result must lie inside the
//! root. `.git` is hidden at any depth, also when reached through a
//! symlink. A symlink leaving the root makes a listing fail naming it,
//! as in a Git tree, instead of being left out.

use super::{
    Entry, EntryKind, MAX_FILE_SIZE, MAX_LINK_TARGET, Tree, TreeError, is_git_dir, normalize,
};
use std::path::{Path, PathBuf};

/// A [`Tree`] over a directory on disk. Symlinks are followed only while
/// they stay inside the root; `.git` is never served.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
    /// The root and every mount below it are on local file systems.
    local: bool,
}

impl DirTree {
    /// A tree rooted at `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, TreeError> {
        let root = root.as_ref();
        let canon = root
            .canonicalize()
            .map_err(|e| TreeError::Io(format!("{}: {e}", root.display())))?;
        if !canon.is_dir() {
            return Err(TreeError::NotDirectory(root.display().to_string()));
        }
        let local = super::local::on_local_disk(&canon);
        Ok(DirTree { root: canon, local })
    }

    /// The directory this tree serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolve `path` to a real path inside the root, following symlinks
    /// only while they stay inside.
    fn resolve(&self, path: &str) -> Result<(String, PathBuf), TreeError> {
        let norm = normalize(path).ok_or_else(|| TreeError::OutsideRoot(path.to_string()))?;
        if norm.split('/').any(is_git_dir) {
            return Err(TreeError::NotFound(norm));
        }
        let joined = if norm.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&norm)
        };
        let real = match joined.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink that points outside is still an escape.
                if std::fs::symlink_metadata(&joined).is_ok_and(|m| m.len() > MAX_LINK_TARGET) {
                    return Err(TreeError::Io(format!(
                        "{norm}: symlink target longer than {MAX_LINK_TARGET} bytes"
                    )));
                }
                if let Ok(target) = std::fs::read_link(&joined) {
                    let abs = joined.parent().map(|p| p.join(&target)).unwrap_or(target);
                    if !lexically_inside(&abs, &self.root) {
                        return Err(TreeError::OutsideRoot(norm));
                    }
                }
                return Err(TreeError::NotFound(norm));
            }
            Err(e) => return Err(TreeError::Io(format!("{norm}: {e}"))),
        };
        let Ok(inside) = real.strip_prefix(&self.root) else {
            return Err(TreeError::OutsideRoot(norm));
        };
        // A symlink into `.git` is hidden like `.git` itself.
        if inside
            .components()
            .any(|c| is_git_dir(&c.as_os_str().to_string_lossy()))
        {
            return Err(TreeError::NotFound(norm));
        }
        Ok((norm, real))
    }
}

fn lexically_inside(p: &Path, root: &Path) -> bool {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out.starts_with(root)
}

fn entry_of(name: String, md: &std::fs::Metadata) -> Entry {
    let dir = md.is_dir();
    Entry {
        name,
        kind: if dir {
            EntryKind::Directory
        } else {
            EntryKind::File
        },
        size: if dir { 0 } else { md.len() },
    }
}

impl Tree for DirTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let (norm, real) = self.resolve(path)?;
        let md = std::fs::metadata(&real).map_err(|e| TreeError::Io(format!("{norm}: {e}")))?;
        if md.is_dir() {
            return Err(TreeError::IsDirectory(norm));
        }
        if !md.is_file() {
            return Err(not_a_file(norm));
        }
        if md.len() > MAX_FILE_SIZE {
            return Err(TreeError::TooLarge(norm, MAX_FILE_SIZE));
        }
        read_regular(&real).map_err(|e| match e {
            Some(e) => TreeError::Io(format!("{norm}: {e}")),
            None => not_a_file(norm),
        })
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError> {
        let (norm, real) = self.resolve(path)?;
        if !real.is_dir() {
            return Err(TreeError::NotDirectory(norm));
        }
        let rd = std::fs::read_dir(&real).map_err(|e| TreeError::Io(format!("{norm}: {e}")))?;
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| TreeError::Io(format!("{norm}: {e}")))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if is_git_dir(&name) {
                continue;
            }
            let child = if norm.is_empty() {
                name.clone()
            } else {
                format!("{norm}/{name}")
            };
            // A symlink out of the root fails the listing, naming it: left
            // out, its objects would vanish from the render. One that
            // dangles inside (or leads into `.git`) has nothing to list.
            let real_child = match self.resolve(&child) {
                Ok((_, r)) => r,
                Err(TreeError::NotFound(_)) => continue,
                Err(TreeError::OutsideRoot(_)) => return Err(TreeError::OutsideRoot(child)),
                Err(e) => return Err(e),
            };
            let md = match std::fs::metadata(&real_child) {
                Ok(md) => md,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(TreeError::Io(format!("{child}: {e}"))),
            };
            out.push(entry_of(name, &md));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Entry, TreeError> {
        let (norm, real) = self.resolve(path)?;
        let md = std::fs::metadata(&real).map_err(|e| TreeError::Io(format!("{norm}: {e}")))?;
        let name = norm.rsplit('/').next().unwrap_or_default().to_string();
        Ok(entry_of(name, &md))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn may_hang(&self) -> bool {
        !self.local
    }
}

fn not_a_file(norm: String) -> TreeError {
    TreeError::Unsupported(format!(
        "{norm}: not a regular file (a FIFO, socket or device); only files and directories are read"
    ))
}

/// Read a regular file without ever blocking in `open`: opened
/// non-blocking (a FIFO swapped in after the check opens at once), then
/// checked again. `None`: it is not a regular file.
fn read_regular(path: &Path) -> Result<Vec<u8>, Option<std::io::Error>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let nonblock = rustix::fs::OFlags::NONBLOCK.bits();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(nonblock).unwrap_or(0))
        .open(path)?;
    let md = f.metadata()?;
    if !md.is_file() {
        return Err(None);
    }
    if md.len() > MAX_FILE_SIZE {
        return Err(Some(std::io::Error::other(format!(
            "file too large to read (limit {MAX_FILE_SIZE} bytes)"
        ))));
    }
    let mut out = Vec::with_capacity(usize::try_from(md.len()).unwrap_or(0));
    f.by_ref().take(MAX_FILE_SIZE).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().expect("tempdir");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .expect("mkfifo");
        let t = DirTree::new(d.path()).expect("tree");
        // With no writer, opening the FIFO for reading would block forever.
        assert_eq!(
            t.read("fifo").expect_err("a fifo").to_string(),
            "fifo: not a regular file (a FIFO, socket or device); only files and directories are read"
        );
        // Opened non-blocking, a FIFO swapped in after the check is refused too.
        assert!(matches!(read_regular(&d.path().join("fifo")), Err(None)));
    }

    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "s").expect("write");
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("app")).expect("mkdir");
        std::fs::write(d.path().join("app/a.yaml"), "a").expect("write");
        std::os::unix::fs::symlink("a.yaml", d.path().join("app/in.yaml")).expect("link");
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("app/out.yaml"))
            .expect("link");
        std::os::unix::fs::symlink("../../nowhere", d.path().join("app/dangling")).expect("link");
        let t = DirTree::new(d.path()).expect("tree");
        assert_eq!(t.read("app/in.yaml").expect("read"), b"a");
        assert_eq!(
            t.read("app/out.yaml"),
            Err(TreeError::OutsideRoot("app/out.yaml".into()))
        );
        assert_eq!(
            t.read("app/dangling"),
            Err(TreeError::OutsideRoot("app/dangling".into()))
        );
        assert_eq!(t.read("../x"), Err(TreeError::OutsideRoot("../x".into())));
        assert_eq!(
            t.read("/etc/passwd"),
            Err(TreeError::OutsideRoot("/etc/passwd".into()))
        );
        // Listing refuses the escaping link, naming it; one that dangles
        // inside the root is left out.
        assert_eq!(
            t.list("app"),
            Err(TreeError::OutsideRoot("app/out.yaml".into()))
        );
        std::fs::remove_file(d.path().join("app/out.yaml")).expect("rm");
        // A dangling link pointing outside is an escape too.
        assert_eq!(
            t.list("app"),
            Err(TreeError::OutsideRoot("app/dangling".into()))
        );
        std::fs::remove_file(d.path().join("app/dangling")).expect("rm");
        std::os::unix::fs::symlink("nothing-here", d.path().join("app/inside-dangling"))
            .expect("link");
        let names: Vec<_> = t
            .list("app")
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a.yaml", "in.yaml"]);
        assert_eq!(t.read("app"), Err(TreeError::IsDirectory("app".into())));
        assert_eq!(
            t.read("app/none"),
            Err(TreeError::NotFound("app/none".into()))
        );
    }

    #[test]
    fn git_metadata_is_hidden_at_any_depth_and_through_links() {
        let d = tempfile::tempdir().expect("tempdir");
        for dir in [".git", "app/.git", "app/.GIT"] {
            std::fs::create_dir_all(d.path().join(dir)).expect("mkdir");
            std::fs::write(d.path().join(dir).join("config"), "password=hunter2").expect("write");
        }
        std::fs::write(d.path().join("app/a.yaml"), "a").expect("write");
        std::os::unix::fs::symlink("../.git/config", d.path().join("app/cfg.yaml")).expect("link");
        std::os::unix::fs::symlink(".git", d.path().join("gitdir")).expect("link");
        let t = DirTree::new(d.path()).expect("tree");
        for p in [
            ".git/config",
            "app/.git/config",
            "app/.GIT/config",
            "app/cfg.yaml",
            "gitdir/config",
            "app/../.git",
        ] {
            let err = t.read(p).expect_err(p);
            assert!(matches!(err, TreeError::NotFound(_)), "{p}: {err}");
            assert!(t.stat(p).is_err(), "{p}");
        }
        assert!(t.list(".git").is_err());
        let names = |dir: &str| -> Vec<String> {
            t.list(dir)
                .expect("list")
                .into_iter()
                .map(|e| e.name)
                .collect()
        };
        assert_eq!(names(""), ["app"]);
        assert_eq!(names("app"), ["a.yaml"]);
    }

    #[test]
    fn an_escaping_link_in_a_subdirectory_fails_the_listing() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("cm.yaml"), "kind: ConfigMap").expect("write");
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("app/base")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), d.path().join("app/base/shared")).expect("link");
        let t = DirTree::new(d.path()).expect("tree");
        let err = t.list("app/base").expect_err("escaping link");
        assert_eq!(err, TreeError::OutsideRoot("app/base/shared".into()));
        assert_eq!(
            err.to_string(),
            "app/base/shared: path leaves the repository root"
        );
        assert!(t.list("app").is_ok(), "the parent lists fine");
    }
}
