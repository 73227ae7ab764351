//! Repository URLs: parsing every kind sluice accepts, normalising them into
//! one cache key, and printing them without secrets.

use std::path::{Path, PathBuf};

/// Why a repository URL was refused. The text never repeats the URL's
/// password (the URL itself is named by the caller, password removed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum UrlError {
    /// Nothing was given.
    #[error("the repository URL is empty")]
    Empty,
    /// A scheme sluice cannot fetch from.
    #[error(
        "unsupported URL scheme `{0}`; use https://, http://, git://, ssh://, file:// or a path"
    )]
    UnsupportedScheme(String),
    /// A network URL without a host.
    #[error("{0} URL has no host")]
    NoHost(String),
    /// A scp-like URL missing its host or path.
    #[error("scp-like URL needs a host and a path (user@host:path)")]
    ScpLike,
    /// A relative path could not be made absolute.
    #[error("cannot resolve a relative path against the working directory")]
    RelativePath(#[source] std::sync::Arc<std::io::Error>),
}

/// How sluice reaches a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// `https://`.
    Https,
    /// `http://`.
    Http,
    /// `git://`, the Git daemon protocol.
    Git,
    /// `ssh://` or scp-like `user@host:path`.
    Ssh,
    /// `file://` or a plain local path.
    File,
}

/// A parsed repository URL. The password of a URL with userinfo is split
/// off at once and is only reachable through [`RepoUrl::embedded_password`];
/// every printed form leaves it out.
#[derive(Clone)]
pub struct RepoUrl {
    kind: UrlKind,
    /// What gix connects to: no password in it.
    connect: String,
    /// The normalised form: lowercase scheme and host, no userinfo, no
    /// default port, no trailing `/` or `.git`.
    normalized: String,
    /// The URL as the user wrote it, password replaced by `***`.
    display: String,
    username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl std::fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl RepoUrl {
    /// Parse `raw`. A plain path is made absolute against the current
    /// directory. The error text is safe to print: it never repeats a
    /// password.
    pub fn parse(raw: &str) -> Result<RepoUrl, UrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UrlError::Empty);
        }
        if let Some((scheme, rest)) = raw.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            let kind = match scheme.as_str() {
                "https" => UrlKind::Https,
                "http" => UrlKind::Http,
                "git" => UrlKind::Git,
                "ssh" | "git+ssh" | "ssh+git" => UrlKind::Ssh,
                "file" => return Self::local(Path::new(rest), raw),
                other => return Err(UrlError::UnsupportedScheme(other.to_string())),
            };
            return Self::network(kind, &scheme, rest);
        }
        if let Some((user_host, path)) = scp_like(raw) {
            let (user, host) = match user_host.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, user_host),
            };
            if host.is_empty() || path.is_empty() {
                return Err(UrlError::ScpLike);
            }
            let user_part = user.map(|u| format!("{u}@")).unwrap_or_default();
            let connect = format!("{user_part}{host}:{path}");
            let norm_path = trim_repo_path(path.trim_start_matches("~/"));
            return Ok(RepoUrl {
                kind: UrlKind::Ssh,
                normalized: format!(
                    "ssh://{}/{}",
                    host.to_ascii_lowercase(),
                    norm_path.trim_start_matches('/')
                ),
                display: connect.clone(),
                connect,
                username: user.map(str::to_string),
                password: None,
            });
        }
        Self::local(Path::new(raw), raw)
    }

    fn network(kind: UrlKind, scheme: &str, rest: &str) -> Result<RepoUrl, UrlError> {
        let (userinfo, after) = match split_userinfo(rest) {
            Some((u, a)) => (Some(u), a),
            None => (None, rest),
        };
        let (hostport, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, "/"),
        };
        if hostport.is_empty() {
            return Err(UrlError::NoHost(scheme.to_string()));
        }
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((name, pass)) => (Some(percent_decode(name)), Some(percent_decode(pass))),
                None => (Some(percent_decode(u)), None),
            },
            None => (None, None),
        };
        let host_lower = hostport.to_ascii_lowercase();
        let default_port = match kind {
            UrlKind::Https => ":443",
            UrlKind::Http => ":80",
            UrlKind::Git => ":9418",
            UrlKind::Ssh => ":22",
            UrlKind::File => "",
        };
        let norm_host = host_lower.strip_suffix(default_port).unwrap_or(&host_lower);
        let norm_scheme = if kind == UrlKind::Ssh { "ssh" } else { scheme };
        let user_part = |with_pass: bool| match (&userinfo, &username) {
            (Some(raw_user), Some(_)) => {
                let name = raw_user.split(':').next().unwrap_or_default();
                // A user name with characters that would end it early is
                // shown percent-encoded.
                let name = name.replace('/', "%2F").replace('@', "%40");
                if with_pass && password.is_some() {
                    format!("{name}:***@")
                } else {
                    format!("{name}@")
                }
            }
            _ => String::new(),
        };
        let connect_scheme = if kind == UrlKind::Ssh { "ssh" } else { scheme };
        Ok(RepoUrl {
            kind,
            connect: format!("{connect_scheme}://{}{hostport}{path}", user_part(false)),
            normalized: format!(
                "{norm_scheme}://{norm_host}/{}",
                trim_repo_path(path).trim_start_matches('/')
            ),
            display: format!("{scheme}://{}{hostport}{path}", user_part(true)),
            username,
            password,
        })
    }

    fn local(path: &Path, raw: &str) -> Result<RepoUrl, UrlError> {
        let abs: PathBuf = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| UrlError::RelativePath(std::sync::Arc::new(e)))?
                .join(path)
        };
        let abs = abs.canonicalize().unwrap_or(abs);
        let shown = abs.display().to_string();
        Ok(RepoUrl {
            kind: UrlKind::File,
            connect: format!("file://{shown}"),
            normalized: format!("file://{}", trim_repo_path(&shown)),
            display: raw.to_string(),
            username: None,
            password: None,
        })
    }

    /// The URL kind.
    pub fn kind(&self) -> UrlKind {
        self.kind
    }

    /// The URL handed to Git: never contains a password.
    pub fn connect_url(&self) -> &str {
        &self.connect
    }

    /// The normalised form, used for the cache key and credential matching.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The user name written in the URL, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password written in the URL, if any (never printed).
    pub fn embedded_password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The normalised `scheme://host[:port]` and the path segments, for
    /// matching credential prefixes on whole segments.
    pub fn authority_and_segments(&self) -> (&str, Vec<&str>) {
        let n = self.normalized.as_str();
        let after_scheme = n.find("://").map_or(0, |i| i + 3);
        let (authority, path) = match n[after_scheme..].find('/') {
            Some(i) => n.split_at(after_scheme + i),
            None => (n, ""),
        };
        (
            authority,
            path.split('/').filter(|s| !s.is_empty()).collect(),
        )
    }
}

/// Split `user[:password]@` off the front of what follows `scheme://`.
///
/// A password may hold `/`, `?`, `#` and `@` unencoded, so the authority
/// cannot simply end at the first `/`. The userinfo ends at the first `@`
/// that is followed by a host (`name`, `name:port` or `[v6]:port`) and then
/// `/` or the end; text before it that contains a `/` counts as userinfo
/// only when it has a `user:` part whose password does not look like a port
/// (so `host:8080/org/@x` stays a path with an `@` in it).
fn split_userinfo(rest: &str) -> Option<(&str, &str)> {
    for (i, _) in rest.match_indices('@') {
        let (before, after) = (&rest[..i], &rest[i + 1..]);
        let host_end = after.find('/').unwrap_or(after.len());
        if !is_host_port(&after[..host_end]) {
            continue;
        }
        if let Some(slash) = before.find('/') {
            let Some(colon) = before[..slash].find(':') else {
                continue;
            };
            let pass_head = &before[colon + 1..slash];
            if !pass_head.is_empty() && pass_head.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
        }
        return Some((before, after));
    }
    None
}

fn is_host_port(s: &str) -> bool {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        && port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// `user@host:path` (not a Windows drive, not a path with `/` before `:`).
fn scp_like(raw: &str) -> Option<(&str, &str)> {
    let colon = raw.find(':')?;
    let slash = raw.find('/').unwrap_or(usize::MAX);
    if colon < slash && colon > 1 {
        Some((&raw[..colon], &raw[colon + 1..]))
    } else {
        None
    }
}

fn trim_repo_path(path: &str) -> String {
    let p = path.trim_end_matches('/');
    let p = p.strip_suffix(".git").unwrap_or(p);
    p.trim_end_matches('/').to_string()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_normalises_to_one_key() {
        let a = RepoUrl::parse("https://GitHub.com:443/org/Repo.git/").expect("parse");
        let b = RepoUrl::parse("https://github.com/org/Repo").expect("parse");
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.kind(), UrlKind::Https);
        let scp = RepoUrl::parse("git@github.com:org/repo.git").expect("parse");
        let ssh = RepoUrl::parse("ssh://git@github.com/org/repo").expect("parse");
        assert_eq!(scp.kind(), UrlKind::Ssh);
        assert_eq!(scp.normalized(), ssh.normalized());
        assert_eq!(scp.connect_url(), "git@github.com:org/repo.git");
        assert_eq!(
            RepoUrl::parse("git://h:9418/r.git")
                .expect("parse")
                .normalized(),
            "git://h/r"
        );
        let f = RepoUrl::parse("file:///srv/repo.git").expect("parse");
        assert_eq!(
            (f.kind(), f.normalized()),
            (UrlKind::File, "file:///srv/repo")
        );
        assert_eq!(
            RepoUrl::parse("/srv/repo").expect("parse").normalized(),
            "file:///srv/repo"
        );
        assert!(RepoUrl::parse("ftp://x/y").is_err());
    }

    #[test]
    fn passwords_never_print() {
        let u = RepoUrl::parse("https://bob:s%40cret@host/r.git").expect("parse");
        assert_eq!(u.embedded_password(), Some("s@cret"));
        assert_eq!(u.username(), Some("bob"));
        for shown in [
            u.to_string(),
            format!("{u:?}"),
            u.connect_url().to_string(),
            u.normalized().to_string(),
        ] {
            assert!(!shown.contains("cret"), "{shown}");
        }
        assert_eq!(u.to_string(), "https://bob:***@host/r.git");
    }

    #[test]
    fn passwords_with_url_delimiters_parse() {
        for pass in ["pa/ss", "p?ss", "p#ss", "p@ss", "a/b?c#d@e", "x:y/1"] {
            let raw = format!("https://bob:{pass}@git.example:8443/org/repo.git");
            let u = RepoUrl::parse(&raw).unwrap_or_else(|e| panic!("{pass}: {e}"));
            assert_eq!(u.embedded_password(), Some(pass), "{raw}");
            assert_eq!(u.username(), Some("bob"), "{raw}");
            assert_eq!(u.normalized(), "https://git.example:8443/org/repo", "{raw}");
            assert_eq!(u.connect_url(), "https://bob@git.example:8443/org/repo.git");
            for shown in [u.to_string(), format!("{u:?}"), u.connect_url().to_string()] {
                assert!(!shown.contains(pass), "{shown}");
            }
        }
        // An `@` in the path is not userinfo.
        let u = RepoUrl::parse("https://host:8080/org/@scope/repo").expect("parse");
        assert_eq!(u.embedded_password(), None);
        assert_eq!(u.normalized(), "https://host:8080/org/@scope/repo");
        let u = RepoUrl::parse("https://host/org/@x").expect("parse");
        assert_eq!(
            (u.username(), u.normalized()),
            (None, "https://host/org/@x")
        );
    }

    #[test]
    fn segments_split_on_slashes() {
        let u = RepoUrl::parse("https://Git.Example:443/org/repo.git").expect("parse");
        assert_eq!(
            u.authority_and_segments(),
            ("https://git.example", vec!["org", "repo"])
        );
    }
}
