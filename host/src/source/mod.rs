//! Sources: where an application's files come from.
//!
//! Everything downstream sees a source as a [`Tree`]: a read-only,
//! repository-rooted view with lazy reads. [`DirTree`] serves a local
//! directory; Git sources serve a commit straight from the object database.
//!
//! Both trees follow the same rules, so a plugin cannot tell them apart:
//! `.git` (any case, at any depth) is never listed or read, so a local
//! checkout's `.git/config` and its credentials stay hidden; a symlink
//! that leaves the root is refused, in reads and in listings, naming the
//! link (never silently left out, which would drop its objects from a
//! render and let a prune delete them); symlink targets longer than
//! [`MAX_LINK_TARGET`] are refused.

mod dir;
pub mod git;
mod local;

pub use dir::DirTree;
pub use git::{GitTree, Memo, Options, Resolved, SourceError, SourceSpec, resolve, resolve_with};

/// What an entry in a [`Tree`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (a symlink inside the root shows as its target).
    File,
    /// A directory.
    Directory,
    /// A Git submodule that was not fetched; it cannot be read. (A
    /// fetched one, with `recurseSubmodules`, lists as a directory.)
    Submodule,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Base name, no `/`.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes for files, 0 otherwise.
    pub size: u64,
}

/// The error returned by [`Tree`] operations. Paths are repository-relative.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Nothing exists at the path.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// The path leaves the repository root (`..`, absolute, or a symlink
    /// pointing outside); it was not read.
    #[error("{0}: path leaves the repository root")]
    OutsideRoot(String),
    /// A directory where a file was expected.
    #[error("{0}: is a directory")]
    IsDirectory(String),
    /// A file where a directory was expected.
    #[error("{0}: is not a directory")]
    NotDirectory(String),
    /// An entry sluice cannot serve, such as a submodule.
    #[error("{0}")]
    Unsupported(String),
    /// A file over the read limit.
    #[error("{0}: file too large to read (limit {1} bytes)")]
    TooLarge(String, u64),
    /// Any other failure; the text says what.
    #[error("{0}")]
    Io(String),
}

/// A read-only view of a repository at one revision. Paths are
/// repository-relative and `/`-separated; `""` is the root. Implementations
/// refuse any path that leaves the root, lexically or through a symlink.
pub trait Tree: Send + Sync {
    /// The whole content of the file at `path`.
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError>;
    /// The entries of the directory at `path`, sorted by name.
    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError>;
    /// What is at `path`.
    fn stat(&self, path: &str) -> Result<Entry, TreeError>;
    /// Where the tree comes from, for messages (a directory, or URL@commit).
    fn describe(&self) -> String;
    /// Whether an operation may block for an unbounded time (files on a
    /// network or FUSE file system). The plugin host serves a tree that may
    /// hang from another thread, so that a plugin call blocked in a read
    /// still ends at its deadline; a tree that cannot hang is read on the
    /// call's own thread, which is faster. The default is the safe answer.
    fn may_hang(&self) -> bool {
        true
    }
}

/// Largest file a tree serves, so a plugin cannot make the host read an
/// arbitrarily large blob into memory.
pub const MAX_FILE_SIZE: u64 = 256 << 20;

/// Longest symlink target a tree follows (Linux's `PATH_MAX`).
pub const MAX_LINK_TARGET: u64 = 4096;

/// Whether a path component is `.git`, which trees never serve. Any case:
/// on case-insensitive file systems `.GIT` is the same directory.
pub fn is_git_dir(component: &str) -> bool {
    component.eq_ignore_ascii_case(".git")
}

/// Normalise a repository-relative path: `.` and empty components dropped,
/// `..` resolved. `None` when it is absolute or climbs past the root.
pub fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') || path.starts_with('\\') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_refuses_escapes() {
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("").as_deref(), Some(""));
        assert_eq!(normalize("../../etc/passwd"), None);
        assert_eq!(normalize("a/../../b"), None);
        assert_eq!(normalize("/etc/passwd"), None);
    }
}
