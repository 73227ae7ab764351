//! The default name of an app given by flags.
//!
//! An app's name names its inventory (the ApplySet parent), so two apps
//! with one name in one namespace prune each other's objects. An app given
//! by flags (`--repo`, `--path`) without `--name` is therefore named after
//! what it syncs: `<last segment>-<hash>`, where the segment is the last
//! component of the app path (or of the repository when the path is the
//! root) and the hash is the first 10 hex digits of the SHA-256 of the
//! normalised repository (a Git URL without userinfo, lowercase host, no
//! default port or `.git`; or a local directory's canonical path) and the
//! normalised app path. The same repo and path always give the same name;
//! different ones give different names. The result is a DNS label (at
//! most 63 characters of `a-z`, `0-9` and `-`), so it is valid wherever an
//! object name is.
//!
//! Requiring `--name` for `--prune` was the other option; a derived name
//! keeps one-off commands short and makes `diff` and `wait` (which never
//! prune) agree with `sync` on which inventory they look at.

use sha2::{Digest as _, Sha256};

/// Longest segment kept, so that `-` and the hash still fit in 63.
const MAX_SEGMENT: usize = 52;

/// The default app name for `repo_key` (a normalised repository) and
/// `path` (a normalised app path).
pub fn default_name(repo_key: &str, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(repo_key.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    let hash = hex::encode(h.finalize());
    let last = |s: &str| {
        s.trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let raw = if path.is_empty() {
        last(repo_key.trim_end_matches(".git"))
    } else {
        last(path)
    };
    let mut seg = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            seg.push(c);
        } else if !seg.ends_with('-') {
            seg.push('-');
        }
    }
    let seg: String = seg.trim_matches('-').chars().take(MAX_SEGMENT).collect();
    let seg = seg.trim_end_matches('-');
    let seg = if seg.is_empty() { "app" } else { seg };
    format!("{seg}-{}", &hash[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_label(s: &str) -> bool {
        s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    }

    #[test]
    fn stable_distinct_and_dns_safe() {
        let a = default_name("https://git.example/infra", "apps/web");
        assert_eq!(a, default_name("https://git.example/infra", "apps/web"));
        assert!(a.starts_with("web-") && a.len() == "web-".len() + 10, "{a}");
        assert_ne!(a, default_name("https://git.example/infra", "apps/api"));
        assert_ne!(a, default_name("https://git.example/other", "apps/web"));
        assert_ne!(a, default_name("https://git.example/infra", "other/web"));
        for (repo, path) in [
            ("file:///srv/My Repo.git", ""),
            ("ssh://h/x", "Ünïcode/__/..."),
            ("/", ""),
            ("https://h/r", &"long-".repeat(40)),
        ] {
            let n = default_name(repo, path);
            assert!(is_dns_label(&n), "{repo} {path}: {n}");
        }
        assert!(default_name("file:///srv/My Repo.git", "").starts_with("my-repo-"));
        assert!(default_name("/", "").starts_with("app-"));
    }
}
