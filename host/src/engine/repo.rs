//! What kind of repository a `repoURL` is, and the form of it a plugin may
//! see.

use crate::source::git::url::{RepoUrl, UrlKind};
use std::path::PathBuf;

/// A `repoURL`, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RepoKind {
    /// A remote Git repository (`https://`, `ssh://`, `user@host:path`, ...).
    Remote,
    /// A Git repository on local disk (`file://PATH`).
    LocalGit(PathBuf),
    /// A plain directory, read as it is.
    Dir(PathBuf),
}

/// Classify `repo`: a scheme URL, an scp-like `[user@]host:path`, or a path.
pub(super) fn classify(repo: &str) -> RepoKind {
    let repo = repo.trim();
    if let Some((scheme, rest)) = repo.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return RepoKind::LocalGit(PathBuf::from(rest));
        }
        return RepoKind::Remote;
    }
    match RepoUrl::parse(repo).map(|u| u.kind()) {
        Ok(UrlKind::Ssh) => RepoKind::Remote,
        _ => RepoKind::Dir(PathBuf::from(repo)),
    }
}

/// `repo` without userinfo: `https://user:pass@host/x` → `https://host/x`,
/// `git@host:x` → `host:x`. This is what plugins see as the repository
/// URL, so a credential written into a `repoURL` never reaches one.
pub fn without_userinfo(repo: &str) -> String {
    let repo = repo.trim();
    if let Some((scheme, rest)) = repo.split_once("://") {
        // The authority ends at the first `/`, `?` or `#`; its userinfo at
        // the last `@` inside it (a percent-encoded password has no `@`).
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return format!("{scheme}://{host}{tail}");
    }
    if let RepoKind::Remote = classify(repo)
        && let Some(colon) = repo.find(':')
    {
        let (user_host, path) = repo.split_at(colon);
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        return format!("{host}{path}");
    }
    repo.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify("https://h/x"), RepoKind::Remote);
        assert_eq!(classify("git@github.com:org/r.git"), RepoKind::Remote);
        assert_eq!(classify("gitserver:/srv/r.git"), RepoKind::Remote);
        assert_eq!(
            classify("FILE:///srv/r.git"),
            RepoKind::LocalGit("/srv/r.git".into())
        );
        assert_eq!(classify("."), RepoKind::Dir(".".into()));
        assert_eq!(classify("./a:b"), RepoKind::Dir("./a:b".into()));
        assert_eq!(classify("/abs/dir"), RepoKind::Dir("/abs/dir".into()));
    }

    #[test]
    fn userinfo_is_removed() {
        for (given, want) in [
            ("https://user:pass@host/x", "https://host/x"),
            (
                "https://user:p%40ss%2F@host:8443/x.git",
                "https://host:8443/x.git",
            ),
            (
                "http://tok@127.0.0.1:9/r?q=a@b",
                "http://127.0.0.1:9/r?q=a@b",
            ),
            ("ssh://git@host/org/r", "ssh://host/org/r"),
            ("git@github.com:org/r.git", "github.com:org/r.git"),
            ("https://host/x@y", "https://host/x@y"),
            ("examples/guestbook", "examples/guestbook"),
            ("file:///srv/r", "file:///srv/r"),
        ] {
            assert_eq!(without_userinfo(given), want, "{given}");
        }
    }
}
