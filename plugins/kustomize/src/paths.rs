//! Path helpers on top of the SDK's: joining relative to a directory and the
//! load restrictor.

/// `dir/rel` without normalising (`dir` may be empty for the root).
pub fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `rel` resolved against `dir`, normalised; `None` if it leaves the
/// repository.
pub fn resolve(dir: &str, rel: &str) -> Option<String> {
    sluice_plugin_sdk::path::join(dir, rel)
}

/// Whether `path` is `dir` or lies below it.
pub fn is_within(dir: &str, path: &str) -> bool {
    dir.is_empty() || path == dir || sluice_plugin_sdk::path::strip_dir(dir, path).is_some()
}

/// Whether a resource entry is a remote reference kustomize would fetch.
pub fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
        || entry.starts_with("git@")
        || entry.starts_with("git::")
}

/// The base name of a path.
pub fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_remote() {
        assert!(is_within("a", "a/b"));
        assert!(!is_within("a", "ab"));
        assert!(is_within("", "x"));
        assert!(is_remote("https://github.com/x/y"));
        assert!(is_remote("github.com/org/repo//dir?ref=v1"));
        assert!(!is_remote("../base"));
    }
}
