//! Repository-relative path helpers (always `/`-separated, never leading `/`).

use crate::{EntryKind, SourceTree, TreeError};

/// Join `rel` onto directory `base` and normalise `.` and `..` lexically.
/// Returns `None` when the result would leave the root.
pub fn join(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    normalize(&format!("{base}/{rel}"))
}

/// Normalise `.`, `..` and empty components; `None` if it leaves the root.
pub fn normalize(path: &str) -> Option<String> {
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

/// The path of `path` relative to directory `base`, if it lies under it.
pub fn strip_dir<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    if base.is_empty() {
        return Some(path);
    }
    path.strip_prefix(base)?.strip_prefix('/')
}

/// The files under `dir`, in path order (byte order of the full path), with
/// sub-directories when `recurse` is set. Submodules are skipped.
pub fn walk(tree: &dyn SourceTree, dir: &str, recurse: bool) -> Result<Vec<String>, TreeError> {
    let mut out = Vec::new();
    walk_into(tree, dir, recurse, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk_into(
    tree: &dyn SourceTree,
    dir: &str,
    recurse: bool,
    out: &mut Vec<String>,
) -> Result<(), TreeError> {
    for e in tree.list(dir)? {
        let p = if dir.is_empty() {
            e.name.clone()
        } else {
            format!("{dir}/{}", e.name)
        };
        match e.kind {
            EntryKind::File => out.push(p),
            EntryKind::Directory if recurse => walk_into(tree, &p, recurse, out)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_resolves_dots_and_refuses_escape() {
        assert_eq!(join("a/b", "../c").as_deref(), Some("a/c"));
        assert_eq!(join("", "./x/./y").as_deref(), Some("x/y"));
        assert_eq!(join("a", "../../etc/passwd"), None);
        assert_eq!(join("a", "/etc/passwd"), None);
    }

    #[test]
    fn strip_dir_only_under_base() {
        assert_eq!(strip_dir("a", "a/b.yaml"), Some("b.yaml"));
        assert_eq!(strip_dir("a", "ab/b.yaml"), None);
        assert_eq!(strip_dir("", "x"), Some("x"));
    }
}
