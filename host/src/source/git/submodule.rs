//! Submodules, with `recurseSubmodules: true`: which ones a commit has,
//! and where to fetch them.
//!
//! A submodule counts when `.gitmodules` declares it (`path` and `url`)
//! and the commit's tree has a gitlink at that path; the gitlink names
//! the commit to fetch. Each one is resolved like any source, through
//! the same cache, credentials, TLS trust and limits, and recursively
//! (up to [`MAX_DEPTH`] levels); its tree is then served under its path
//! by the superproject's [`GitTree`](super::GitTree), read lazily.
//!
//! **URLs.** A relative URL (`./x`, `../x`) is taken relative to the
//! superproject's URL the way Git does (each `../` drops one path
//! segment of it), so a submodule next to its superproject follows it
//! to any server or protocol. A submodule whose URL is a local path or
//! `file://` is refused: a repository's `.gitmodules` must not make the
//! host read repositories from its own disk (an Application's own local
//! `repoURL` is confined by the engine; a submodule of it would not be).

use super::url::{RepoUrl, UrlKind};
use gix::ObjectId;
use gix::bstr::ByteSlice;

/// Deepest nesting of submodules followed.
pub const MAX_DEPTH: usize = 8;

/// A submodule of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// Its path in the superproject (normalised).
    pub path: String,
    /// Its URL, relative ones resolved.
    pub url: String,
    /// The commit the superproject records.
    pub commit: ObjectId,
}

/// The submodules of `commit`: declared in its `.gitmodules` and recorded
/// as gitlinks in its tree. `Err` names the submodule and the problem.
pub(crate) fn declared(
    repo: &gix::Repository,
    commit: ObjectId,
    super_url: &str,
) -> Result<Vec<Declared>, (String, String)> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| {
            (
                ".gitmodules".to_string(),
                format!("cannot read commit {commit}: {e}"),
            )
        })?;
    let Ok(Some(entry)) = tree.lookup_entry_by_path(".gitmodules") else {
        return Ok(Vec::new());
    };
    let data = entry
        .object()
        .map(|o| o.data.clone())
        .map_err(|e| (".gitmodules".to_string(), format!("cannot read it: {e}")))?;
    let config = gix::config::File::from_bytes_no_includes(
        &data,
        gix::config::file::Metadata::api(),
        Default::default(),
    )
    .map_err(|e| {
        (
            ".gitmodules".to_string(),
            format!("not a valid .gitmodules file: {e}"),
        )
    })?;
    let mut out = Vec::new();
    let Some(sections) = config.sections_by_name("submodule") else {
        return Ok(out);
    };
    for section in sections {
        let name = section
            .header()
            .subsection_name()
            .map(|n| n.to_str_lossy().into_owned())
            .unwrap_or_default();
        let (Some(path), Some(url)) = (section.value("path"), section.value("url")) else {
            continue;
        };
        let raw_path = path.to_str_lossy().into_owned();
        let path = crate::source::normalize(&raw_path)
            .filter(|p| !p.is_empty() && !p.split('/').any(crate::source::is_git_dir))
            .ok_or_else(|| {
                (
                    raw_path.clone(),
                    format!("submodule {name:?} has a path that leaves the repository"),
                )
            })?;
        let Ok(Some(link)) = tree.lookup_entry_by_path(&path) else {
            continue;
        };
        if !link.mode().is_commit() {
            continue;
        }
        let url =
            resolve_url(super_url, &url.to_str_lossy()).map_err(|reason| (path.clone(), reason))?;
        out.push(Declared {
            path,
            url,
            commit: link.object_id(),
        });
    }
    Ok(out)
}

/// A submodule URL, relative ones taken from the superproject's URL;
/// local and `file://` URLs refused.
pub(crate) fn resolve_url(super_url: &str, url: &str) -> Result<String, String> {
    let url = url.trim();
    let resolved = if url.starts_with("./") || url.starts_with("../") {
        let base = super_url.trim_end_matches('/');
        // The part of the base that relative steps may not remove: the
        // scheme and host (`https://host`), or an scp-like `user@host:`.
        let keep = match base.find("://") {
            Some(i) => base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j),
            None => base.find(':').map_or(0, |i| i + 1),
        };
        let (head, tail) = base.split_at(keep);
        let mut segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
        let mut rest = url;
        loop {
            if let Some(r) = rest.strip_prefix("./") {
                rest = r;
            } else if let Some(r) = rest.strip_prefix("../") {
                if segments.pop().is_none() {
                    return Err(format!("relative URL {url:?} climbs above {super_url:?}"));
                }
                rest = r;
            } else {
                break;
            }
        }
        segments.extend(rest.split('/').filter(|s| !s.is_empty()));
        let sep = if head.ends_with(':') { "" } else { "/" };
        format!("{head}{sep}{}", segments.join("/"))
    } else {
        url.to_string()
    };
    let parsed = RepoUrl::parse(&resolved).map_err(|e| format!("URL {resolved:?}: {e}"))?;
    if matches!(parsed.kind(), UrlKind::File) {
        return Err(format!(
            "URL {resolved:?} is on the local disk; sluice fetches submodules only over the network"
        ));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::resolve_url;

    #[test]
    fn relative_urls_follow_the_superproject_and_local_ones_are_refused() {
        let r = |s: &str, u: &str| resolve_url(s, u);
        assert_eq!(
            r("https://h/org/super.git", "../lib.git").as_deref(),
            Ok("https://h/org/lib.git")
        );
        assert_eq!(
            r("https://h/org/super.git", "./lib.git").as_deref(),
            Ok("https://h/org/super.git/lib.git")
        );
        assert_eq!(
            r("git@h:org/super.git", "../../other/lib").as_deref(),
            Ok("git@h:other/lib")
        );
        assert_eq!(
            r("https://h/super.git", "../x.git").as_deref(),
            Ok("https://h/x.git")
        );
        assert!(r("https://h/super.git", "../../x.git").is_err());
        assert_eq!(
            r("https://h/a.git", "ssh://git@other/b.git").as_deref(),
            Ok("ssh://git@other/b.git")
        );
        let e = r("https://h/a.git", "/etc/secrets").expect_err("local");
        assert!(e.contains("is on the local disk"), "{e}");
        let e = r("https://h/a.git", "file:///srv/repo.git").expect_err("file");
        assert!(e.contains("is on the local disk"), "{e}");
    }
}
