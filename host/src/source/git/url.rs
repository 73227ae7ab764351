//! Repository URLs: parsing every kind sluice accepts, normalising them into
//! one cache key, and printing them without secrets.

use std::path::{Path, PathBuf};

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
    pub fn parse(raw: &str) -> Result<RepoUrl, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the repository URL is empty".into());
        }
        if let Some((scheme, rest)) = raw.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            let kind = match scheme.as_str() {
                "https" => UrlKind::Https,
                "http" => UrlKind::Http,
                "git" => UrlKind::Git,
                "ssh" | "git+ssh" | "ssh+git" => UrlKind::Ssh,
                "file" => return Self::local(Path::new(rest), raw),
                other => return Err(format!("unsupported URL scheme `{other}`")),
            };
            return Self::network(kind, &scheme, rest);
        }
        if let Some((user_host, path)) = scp_like(raw) {
            let (user, host) = match user_host.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, user_host),
            };
            if host.is_empty() || path.is_empty() {
                return Err("scp-like URL needs a host and a path (user@host:path)".into());
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

    fn network(kind: UrlKind, scheme: &str, rest: &str) -> Result<RepoUrl, String> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return Err(format!("{scheme} URL has no host"));
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

    fn local(path: &Path, raw: &str) -> Result<RepoUrl, String> {
        let abs: PathBuf = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| format!("cannot resolve relative path: {e}"))?
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
}
