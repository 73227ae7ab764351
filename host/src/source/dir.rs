//! A local directory standing for a repository.

use super::{Entry, EntryKind, MAX_FILE_SIZE, Tree, TreeError, normalize};
use std::path::{Path, PathBuf};

/// A [`Tree`] over a directory on disk. Symlinks are followed only while
/// they stay inside the root.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
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
        Ok(DirTree { root: canon })
    }

    /// The directory this tree serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolve `path` to a real path inside the root, following symlinks
    /// only while they stay inside.
    fn resolve(&self, path: &str) -> Result<(String, PathBuf), TreeError> {
        let norm = normalize(path).ok_or_else(|| TreeError::OutsideRoot(path.to_string()))?;
        let joined = if norm.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&norm)
        };
        let real = match joined.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink that points outside is still an escape.
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
        if !real.starts_with(&self.root) {
            return Err(TreeError::OutsideRoot(norm));
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
        if md.len() > MAX_FILE_SIZE {
            return Err(TreeError::TooLarge(norm, MAX_FILE_SIZE));
        }
        std::fs::read(&real).map_err(|e| TreeError::Io(format!("{norm}: {e}")))
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
            if norm.is_empty() && name == ".git" {
                continue;
            }
            let child = if norm.is_empty() {
                name.clone()
            } else {
                format!("{norm}/{name}")
            };
            // Entries that escape through a symlink are left out of listings;
            // reading them by name gives OutsideRoot.
            let Ok((_, real_child)) = self.resolve(&child) else {
                continue;
            };
            let Ok(md) = std::fs::metadata(&real_child) else {
                continue;
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
