//! [`GitTree`]: a [`Tree`] read lazily from the object database at one
//! commit. Nothing is checked out; each read decodes only the trees on the
//! way to the path and the blob itself. Decoded trees are cached.
//!
//! A `.git` entry (any case) is never served: Git refuses to check one out,
//! and a crafted tree could use it to pass itself off as repository
//! metadata. Symlink targets are read with a cap of
//! [`MAX_LINK_TARGET`](crate::source::MAX_LINK_TARGET) bytes. A symlink
//! that leaves the repository makes listing its directory fail with
//! [`TreeError::OutsideRoot`] naming it, rather than leaving it out: a
//! listing that silently drops files drops their objects from the render,
//! and a prune would delete them. Symlinks that dangle inside the tree
//! have no content and are left out of listings.
//!
//! A submodule is an entry that cannot be read, unless the resolve
//! fetched it (`recurseSubmodules`): then its own tree is served at its
//! path, lazily like the rest, and listings show it as a directory. A
//! symlink inside it cannot leave it.

use super::cache::ReadGuard;
use super::error::Cause;
use crate::source::{
    Entry, EntryKind, MAX_FILE_SIZE, MAX_LINK_TARGET, Tree, TreeError, is_git_dir, normalize,
};
use gix::ObjectId;
use gix::bstr::ByteSlice;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Symlink hops allowed while resolving one path, like Linux's `ELOOP`.
const MAX_LINK_HOPS: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link,
    Submodule,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    kind: Kind,
    id: ObjectId,
}

/// Where a path finally led, symlinks followed.
enum Found {
    Dir(ObjectId),
    File(ObjectId),
    Submodule(String),
    /// Inside an attached submodule: its path, and the path inside it.
    Sub(String, String),
}

/// A read-only view of a Git commit, straight from the object database.
/// Symlinks are followed while they stay inside the repository; ones that
/// leave it give [`TreeError::OutsideRoot`]; submodules give
/// [`TreeError::Unsupported`] naming them.
pub struct GitTree {
    repo: gix::ThreadSafeRepository,
    pool: Mutex<Vec<gix::Repository>>,
    root: ObjectId,
    commit: ObjectId,
    label: String,
    dirs: Mutex<HashMap<ObjectId, Arc<Vec<Node>>>>,
    /// Fetched submodules by path (`recurseSubmodules`), served in place
    /// of their gitlinks.
    subs: HashMap<String, Arc<dyn Tree>>,
    /// Keeps the cache from being deleted while this tree is in use.
    _guard: Option<ReadGuard>,
    /// The object database (and every submodule's) is on a local disk.
    local: bool,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("commit", &self.commit)
            .field("label", &self.label)
            .finish()
    }
}

impl GitTree {
    /// The tree of `commit` in `repo`; `label` names it in messages
    /// (typically `URL@commit`). Fails when the commit or its tree is not in
    /// the object database.
    pub fn new(repo: &gix::Repository, commit: ObjectId, label: String) -> Result<GitTree, Cause> {
        let c = repo
            .find_commit(commit)
            .map_err(|e| Cause(format!("commit {commit}: {e}")))?;
        let root = c
            .tree_id()
            .map_err(|e| Cause(format!("commit {commit}: {e}")))?
            .detach();
        repo.find_tree(root)
            .map_err(|e| Cause(format!("tree {root} of commit {commit}: {e}")))?;
        let local = repo
            .git_dir()
            .canonicalize()
            .is_ok_and(|d| crate::source::local::on_local_disk(&d));
        Ok(GitTree {
            repo: repo.clone().into_sync(),
            pool: Mutex::new(Vec::new()),
            root,
            commit,
            label,
            dirs: Mutex::new(HashMap::new()),
            subs: HashMap::new(),
            _guard: None,
            local,
        })
    }

    /// This tree, keeping the cache's readers lock while it lives.
    pub(crate) fn holding(mut self, guard: ReadGuard) -> GitTree {
        self._guard = Some(guard);
        self
    }

    /// This tree, serving `subs` (submodule path to its tree) where the
    /// commit has gitlinks.
    pub(crate) fn with_submodules(mut self, subs: HashMap<String, Arc<dyn Tree>>) -> GitTree {
        self.local &= subs.values().all(|t| !t.may_hang());
        self.subs = subs;
        self
    }

    /// The commit this tree shows.
    pub fn commit(&self) -> ObjectId {
        self.commit
    }

    fn with_repo<R>(&self, f: impl FnOnce(&gix::Repository) -> R) -> R {
        let repo = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut repo = repo.unwrap_or_else(|| self.repo.to_thread_local());
        repo.object_cache_size_if_unset(4 << 20);
        let out = f(&repo);
        if let Ok(mut p) = self.pool.lock() {
            p.push(repo);
        }
        out
    }

    fn io(&self, what: impl std::fmt::Display) -> TreeError {
        TreeError::Io(format!("{}: {what}", self.label))
    }

    fn dir(&self, id: ObjectId) -> Result<Arc<Vec<Node>>, TreeError> {
        if let Some(d) = self.dirs.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(d);
        }
        let nodes = self.with_repo(|repo| -> Result<Vec<Node>, TreeError> {
            let tree = repo.find_tree(id).map_err(|e| self.io(e))?;
            let decoded = tree.decode().map_err(|e| self.io(e))?;
            Ok(decoded
                .entries
                .iter()
                .filter(|e| !is_git_dir(&e.filename.to_str_lossy()))
                .map(|e| {
                    use gix::object::tree::EntryKind as K;
                    let kind = match e.mode.kind() {
                        K::Tree => Kind::Dir,
                        K::Blob | K::BlobExecutable => Kind::File,
                        K::Link => Kind::Link,
                        K::Commit => Kind::Submodule,
                    };
                    Node {
                        name: e.filename.to_str_lossy().into_owned(),
                        kind,
                        id: e.oid.to_owned(),
                    }
                })
                .collect())
        })?;
        let nodes = Arc::new(nodes);
        if let Ok(mut m) = self.dirs.lock() {
            m.insert(id, nodes.clone());
        }
        Ok(nodes)
    }

    fn blob(&self, id: ObjectId, norm: &str) -> Result<Vec<u8>, TreeError> {
        self.with_repo(|repo| {
            let size = repo.find_header(id).map_err(|e| self.io(e))?.size();
            if size > MAX_FILE_SIZE {
                return Err(TreeError::TooLarge(norm.to_string(), MAX_FILE_SIZE));
            }
            let mut blob = repo
                .find_blob(id)
                .map_err(|e| self.io(format!("{norm}: {e}")))?;
            Ok(blob.take_data())
        })
    }

    fn size(&self, id: ObjectId) -> Result<u64, TreeError> {
        self.with_repo(|repo| {
            repo.find_header(id)
                .map(|h| h.size())
                .map_err(|e| self.io(e))
        })
    }

    /// Follow `path` from the root, resolving symlinks inside the tree.
    fn walk(&self, path: &str) -> Result<(String, Found), TreeError> {
        let norm = normalize(path).ok_or_else(|| TreeError::OutsideRoot(path.to_string()))?;
        let mut queue: Vec<String> = norm
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let (mut cur, mut at): (ObjectId, Vec<String>) = (self.root, Vec::new());
        let mut hops = 0;
        while let Some(c) = queue.pop() {
            let entries = self.dir(cur)?;
            let Some(node) = entries.iter().find(|n| n.name == c) else {
                return Err(TreeError::NotFound(norm));
            };
            match node.kind {
                Kind::Dir => {
                    cur = node.id;
                    at.push(c);
                }
                Kind::File if queue.is_empty() => return Ok((norm, Found::File(node.id))),
                Kind::File => return Err(TreeError::NotDirectory(norm)),
                Kind::Submodule => {
                    at.push(c);
                    let here = at.join("/");
                    if self.subs.contains_key(&here) {
                        let rest: Vec<String> = queue.drain(..).rev().collect();
                        return Ok((norm, Found::Sub(here, rest.join("/"))));
                    }
                    return if queue.is_empty() {
                        Ok((norm, Found::Submodule(at.join("/"))))
                    } else {
                        Err(unsupported_submodule(&at.join("/")))
                    };
                }
                Kind::Link => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(TreeError::Io(format!(
                            "{norm}: too many levels of symbolic links"
                        )));
                    }
                    if self.size(node.id)? > MAX_LINK_TARGET {
                        return Err(TreeError::Io(format!(
                            "{norm}: symlink target longer than {MAX_LINK_TARGET} bytes"
                        )));
                    }
                    let target = self.blob(node.id, &norm)?;
                    let target = String::from_utf8_lossy(&target).into_owned();
                    if target.starts_with('/') {
                        return Err(TreeError::OutsideRoot(norm));
                    }
                    let joined = if at.is_empty() {
                        target
                    } else {
                        format!("{}/{target}", at.join("/"))
                    };
                    let resolved =
                        normalize(&joined).ok_or_else(|| TreeError::OutsideRoot(norm.clone()))?;
                    queue.extend(
                        resolved
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .rev()
                            .map(str::to_string),
                    );
                    (cur, at) = (self.root, Vec::new());
                }
            }
        }
        Ok((norm, Found::Dir(cur)))
    }
}

fn unsupported_submodule(path: &str) -> TreeError {
    TreeError::Unsupported(format!(
        "{path}: is a Git submodule, which was not fetched; set recurseSubmodules: true in spec.source to fetch submodules (or vendor its files into the repository)"
    ))
}

/// A submodule tree's error, its paths made superproject-relative.
fn in_sub(sub: &str, e: TreeError) -> TreeError {
    let p = |x: String| {
        if x.is_empty() {
            sub.to_string()
        } else {
            format!("{sub}/{x}")
        }
    };
    match e {
        TreeError::NotFound(x) => TreeError::NotFound(p(x)),
        TreeError::OutsideRoot(x) => TreeError::OutsideRoot(p(x)),
        TreeError::IsDirectory(x) => TreeError::IsDirectory(p(x)),
        TreeError::NotDirectory(x) => TreeError::NotDirectory(p(x)),
        TreeError::TooLarge(x, n) => TreeError::TooLarge(p(x), n),
        other => other,
    }
}

fn child_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn base_name(norm: &str) -> String {
    norm.rsplit('/').next().unwrap_or_default().to_string()
}

impl Tree for GitTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        match self.walk(path)? {
            (norm, Found::File(id)) => self.blob(id, &norm),
            (norm, Found::Dir(_)) => Err(TreeError::IsDirectory(norm)),
            (_, Found::Submodule(at)) => Err(unsupported_submodule(&at)),
            (_, Found::Sub(sub, rest)) => self.subs[&sub].read(&rest).map_err(|e| in_sub(&sub, e)),
        }
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError> {
        let (norm, id) = match self.walk(path)? {
            (norm, Found::Dir(id)) => (norm, id),
            (norm, Found::File(_)) => return Err(TreeError::NotDirectory(norm)),
            (_, Found::Submodule(at)) => return Err(unsupported_submodule(&at)),
            (_, Found::Sub(sub, rest)) => {
                return self.subs[&sub].list(&rest).map_err(|e| in_sub(&sub, e));
            }
        };
        let mut out = Vec::new();
        for node in self.dir(id)?.iter() {
            let entry = match node.kind {
                Kind::Dir => Entry {
                    name: node.name.clone(),
                    kind: EntryKind::Directory,
                    size: 0,
                },
                Kind::File => Entry {
                    name: node.name.clone(),
                    kind: EntryKind::File,
                    size: self.size(node.id)?,
                },
                Kind::Submodule => Entry {
                    name: node.name.clone(),
                    kind: if self.subs.contains_key(&child_path(&norm, &node.name)) {
                        EntryKind::Directory
                    } else {
                        EntryKind::Submodule
                    },
                    size: 0,
                },
                Kind::Link => {
                    // A link shows as what it points to. One that leaves the
                    // repository (or loops) fails the listing, naming it;
                    // one that dangles inside has no content to list.
                    let child = if norm.is_empty() {
                        node.name.clone()
                    } else {
                        format!("{norm}/{}", node.name)
                    };
                    match self.stat(&child) {
                        Ok(mut e) => {
                            e.name = node.name.clone();
                            e
                        }
                        Err(TreeError::NotFound(_)) => continue,
                        Err(TreeError::OutsideRoot(_)) => {
                            return Err(TreeError::OutsideRoot(child));
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            out.push(entry);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Entry, TreeError> {
        let (norm, found) = self.walk(path)?;
        let name = base_name(&norm);
        Ok(match found {
            Found::Dir(_) => Entry {
                name,
                kind: EntryKind::Directory,
                size: 0,
            },
            Found::File(id) => Entry {
                name,
                kind: EntryKind::File,
                size: self.size(id)?,
            },
            Found::Submodule(_) => Entry {
                name,
                kind: EntryKind::Submodule,
                size: 0,
            },
            Found::Sub(sub, rest) => {
                let mut e = self.subs[&sub].stat(&rest).map_err(|e| in_sub(&sub, e))?;
                e.name = name;
                e
            }
        })
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn may_hang(&self) -> bool {
        !self.local
    }
}
