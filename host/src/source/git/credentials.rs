//! Credentials per URL prefix, like Argo CD's credential templates: the
//! entry with the longest prefix of the repository URL wins.
//!
//! A prefix matches on URL structure, not on characters: the scheme, host
//! and port must be equal (after normalisation: lowercase host, default
//! port dropped, `git@host:path` = `ssh://host/path`), and the prefix's
//! path must be a prefix of the URL's path *in whole segments*. So
//! `https://git.example/org` matches `https://git.example/org/app.git` but
//! neither `https://git.example/org2/app` nor `https://git.example.evil/`,
//! and `https://git.example` does not match `http://git.example` or
//! `https://git.example:8443`. An empty prefix matches every URL.
//!
//! A credentials file is a YAML or JSON list:
//!
//! ```yaml
//! - urlPrefix: https://git.example/team-a/
//!   username: deploy
//!   password: s3cret          # HTTP basic
//! - urlPrefix: https://git.example/
//!   token: ghp_xxx            # HTTP bearer token
//! - urlPrefix: ssh://git@git.example/
//!   sshPrivateKeyPath: /etc/sluice/id_ed25519
//! - urlPrefix: https://git.corp.example/
//!   caFile: /etc/sluice/corp-ca.pem   # or caData: a PEM string
//! - urlPrefix: https://lab.example/
//!   insecure: true            # no TLS certificate check for this prefix
//! ```
//!
//! An entry may carry only TLS settings (`caData`, `caFile`, `insecure`)
//! and no credentials.
//!
//! Its path comes from `SLUICE_GIT_CREDENTIALS` (or the caller). The
//! environment adds one more entry: `SLUICE_GIT_USERNAME` with
//! `SLUICE_GIT_PASSWORD` or `SLUICE_GIT_TOKEN`, for URLs starting with
//! `SLUICE_GIT_URL_PREFIX` (every URL when unset). Secrets are held in
//! [`Secret`], whose `Debug` prints `***`.

use super::url::{RepoUrl, UrlError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why credentials could not be loaded. Never contains a secret: parse
/// errors give a line number, not the text around it.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("credentials file {path}: cannot read it")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a list of credential templates.
    #[error(
        "credentials file {path}: not a list of {{urlPrefix, username, password|token, sshPrivateKeyPath, caData|caFile, insecure}}{}",
        line.map(|l| format!(" (error at line {l})")).unwrap_or_default()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where the first error is, when known.
        line: Option<usize>,
    },
    /// A template's `urlPrefix` is not a URL sluice understands.
    #[error("credentials file {path}: entry {index}: urlPrefix is not a repository URL")]
    Prefix {
        /// The file.
        path: PathBuf,
        /// The entry, counting from 1.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: UrlError,
    },
}

/// A secret string; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; only for handing to the transport.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// One credential template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialEntry {
    /// URLs starting with this prefix use this entry (`""` matches all).
    #[serde(default)]
    pub url_prefix: String,
    /// HTTP user name (basic auth).
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP password (basic auth).
    #[serde(default)]
    pub password: Option<Secret>,
    /// HTTP bearer token, sent as `Authorization: Bearer`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// SSH private key file for `ssh://` and scp-like URLs.
    #[serde(default)]
    pub ssh_private_key_path: Option<PathBuf>,
    /// PEM CA certificates trusted for `https://` URLs under this prefix,
    /// in addition to the system roots and `SLUICE_GIT_CA_FILE`.
    #[serde(default)]
    pub ca_data: Option<String>,
    /// A PEM file of CA certificates, like [`ca_data`](Self::ca_data).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server's TLS certificate for URLs under this
    /// prefix. Never implied: only this switch turns verification off.
    #[serde(default)]
    pub insecure: bool,
}

/// All configured credential templates.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    entries: Vec<CredentialEntry>,
}

impl Credentials {
    /// No credentials.
    pub fn none() -> Self {
        Credentials::default()
    }

    /// Templates from a YAML or JSON file. The error names the file, never
    /// its contents.
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // Locations only: a parse error message could quote a secret.
        let entries: Vec<CredentialEntry> =
            serde_norway::from_str(&text).map_err(|e| CredentialsError::Parse {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()),
            })?;
        for (i, e) in entries.iter().enumerate() {
            if !e.url_prefix.is_empty() {
                RepoUrl::parse(&e.url_prefix).map_err(|source| CredentialsError::Prefix {
                    path: path.to_path_buf(),
                    index: i + 1,
                    source,
                })?;
            }
        }
        Ok(Credentials { entries })
    }

    /// Templates from `SLUICE_GIT_CREDENTIALS` (a file) and the
    /// `SLUICE_GIT_*` variables; empty when none are set.
    pub fn from_env() -> Result<Self, CredentialsError> {
        let mut creds = match std::env::var_os("SLUICE_GIT_CREDENTIALS") {
            Some(p) if !p.is_empty() => Credentials::from_file(Path::new(&p))?,
            _ => Credentials::none(),
        };
        creds.extend(Credentials::from_env_vars());
        Ok(creds)
    }

    /// The one template the `SLUICE_GIT_USERNAME`, `SLUICE_GIT_PASSWORD`,
    /// `SLUICE_GIT_TOKEN` and `SLUICE_GIT_URL_PREFIX` variables describe.
    pub fn from_env_vars() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let (user, pass, token) = (
            var("SLUICE_GIT_USERNAME"),
            var("SLUICE_GIT_PASSWORD"),
            var("SLUICE_GIT_TOKEN"),
        );
        let mut creds = Credentials::none();
        if user.is_some() || pass.is_some() || token.is_some() {
            creds.push(CredentialEntry {
                url_prefix: var("SLUICE_GIT_URL_PREFIX").unwrap_or_default(),
                username: user,
                password: pass.map(Secret),
                token: token.map(Secret),
                ..CredentialEntry::default()
            });
        }
        creds
    }

    /// Add all of `other`'s templates after these.
    pub fn extend(&mut self, other: Credentials) {
        self.entries.extend(other.entries);
    }

    /// Add a template.
    pub fn push(&mut self, entry: CredentialEntry) {
        self.entries.push(entry);
    }

    /// The template whose prefix matches `url` with the most path segments
    /// (see the module docs for what matches); the first one on a tie. A
    /// prefix that is not a URL matches nothing.
    pub fn find(&self, url: &RepoUrl) -> Option<&CredentialEntry> {
        let (authority, segments) = url.authority_and_segments();
        let mut best: Option<(usize, &CredentialEntry)> = None;
        for e in &self.entries {
            let depth = if e.url_prefix.is_empty() {
                Some(0)
            } else {
                prefix_depth(&e.url_prefix, authority, &segments)
            };
            if let Some(d) = depth
                && best.is_none_or(|(bd, _)| d > bd)
            {
                best = Some((d, e));
            }
        }
        best.map(|(_, e)| e)
    }
}

/// How specific `prefix` is for a URL with this authority and these path
/// segments (`None` when it does not match): 1 for the authority, plus one
/// per path segment.
fn prefix_depth(prefix: &str, authority: &str, segments: &[&str]) -> Option<usize> {
    let p = RepoUrl::parse(prefix).ok()?;
    let (p_authority, p_segments) = p.authority_and_segments();
    (p_authority == authority && segments.starts_with(&p_segments)).then(|| 1 + p_segments.len())
}

/// What the transport uses for one repository.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    pub ssh_key: Option<PathBuf>,
    /// PEM CA certificates from the entry (`caData`).
    pub ca_data: Option<String>,
    /// A PEM CA file from the entry (`caFile`).
    pub ca_file: Option<PathBuf>,
    /// TLS verification off for this URL (`insecure: true`).
    pub insecure: bool,
}

impl Auth {
    /// Credentials for `url`: a password written in the URL wins, then the
    /// best template.
    pub fn for_url(url: &RepoUrl, creds: &Credentials) -> Auth {
        let entry = creds.find(url).cloned().unwrap_or_default();
        let mut auth = Auth {
            username: entry.username,
            password: entry.password,
            token: entry.token,
            ssh_key: entry.ssh_private_key_path,
            ca_data: entry.ca_data,
            ca_file: entry.ca_file,
            insecure: entry.insecure,
        };
        if let Some(p) = url.embedded_password() {
            auth.password = Some(Secret::new(p));
            auth.username = url.username().map(str::to_string).or(auth.username);
        }
        auth
    }

    /// Every secret, so messages can be scrubbed of them.
    pub fn secrets(&self) -> Vec<String> {
        [&self.password, &self.token]
            .into_iter()
            .flatten()
            .map(|s| s.0.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_secrets_hide() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("c.yaml");
        std::fs::write(
            &f,
            "- urlPrefix: http://h/\n  username: a\n  password: pa55word\n\
             - urlPrefix: http://h/team/\n  username: b\n  token: t0ken\n",
        )
        .expect("write");
        let c = Credentials::from_file(&f).expect("parse");
        let u = RepoUrl::parse("http://h/team/repo.git").expect("url");
        let e = c.find(&u).expect("match");
        assert_eq!(e.username.as_deref(), Some("b"));
        assert!(!format!("{c:?}").contains("pa55word"));
        assert!(!format!("{c:?}").contains("t0ken"));
        let other = RepoUrl::parse("http://other/r").expect("url");
        assert!(c.find(&other).is_none());
        std::fs::write(&f, "- urlPrefix: x\n  passwd: hunter22\n").expect("write");
        let err = Credentials::from_file(&f).expect_err("unknown field");
        assert!(!format!("{err} {err:?}").contains("hunter22"), "{err}");
        assert!(err.to_string().contains("(error at line"), "{err}");
    }

    fn one(prefix: &str) -> Credentials {
        let mut c = Credentials::none();
        c.push(CredentialEntry {
            url_prefix: prefix.into(),
            username: Some("u".into()),
            ..Default::default()
        });
        c
    }

    fn matches(prefix: &str, url: &str) -> bool {
        one(prefix)
            .find(&RepoUrl::parse(url).expect("url"))
            .is_some()
    }

    #[test]
    fn prefixes_match_on_host_port_and_segment_boundaries() {
        assert!(matches(
            "https://git.example",
            "https://git.example/org/r.git"
        ));
        assert!(matches(
            "https://git.example/",
            "https://GIT.example:443/org/r"
        ));
        assert!(!matches(
            "https://git.example",
            "https://git.example.evil/org/r"
        ));
        assert!(!matches(
            "https://git.example",
            "https://git.example:8443/org/r"
        ));
        assert!(!matches("https://git.example", "http://git.example/org/r"));
        assert!(!matches(
            "https://git.example",
            "https://evil/git.example/r"
        ));
        assert!(matches(
            "https://git.example/org",
            "https://git.example/org/r.git"
        ));
        assert!(matches(
            "https://git.example/org/",
            "https://git.example/org/r.git"
        ));
        assert!(!matches(
            "https://git.example/org",
            "https://git.example/org2/r.git"
        ));
        assert!(!matches(
            "https://git.example/org",
            "https://git.example/organisation"
        ));
        assert!(matches(
            "https://git.example/org/r.git",
            "https://git.example/org/r"
        ));
        assert!(matches(
            "git@git.example:org",
            "ssh://git@git.example/org/r.git"
        ));
        assert!(!matches(
            "ssh://git.example/org",
            "https://git.example/org/r"
        ));
        assert!(matches("", "https://anything/at/all"));
        assert!(!matches("not a url ::", "https://git.example/org/r"));
        // The deeper prefix wins whatever the order.
        let mut c = one("https://git.example/");
        c.push(CredentialEntry {
            url_prefix: "https://git.example/org".into(),
            username: Some("deep".into()),
            ..Default::default()
        });
        let u = RepoUrl::parse("https://git.example/org/r").expect("url");
        assert_eq!(c.find(&u).and_then(|e| e.username.as_deref()), Some("deep"));
    }

    #[test]
    fn passwords_with_delimiters_parse_from_a_file_and_never_print() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("c.yaml");
        let pass = "p/a?s#s@w:rd";
        std::fs::write(
            &f,
            format!(
                "- urlPrefix: https://git.example/org\n  username: bob\n  password: \"{pass}\"\n"
            ),
        )
        .expect("write");
        let c = Credentials::from_file(&f).expect("parse");
        let u = RepoUrl::parse("https://git.example/org/r.git").expect("url");
        let auth = Auth::for_url(&u, &c);
        assert_eq!(auth.password.as_ref().map(Secret::expose), Some(pass));
        assert!(!format!("{c:?} {auth:?}").contains("a?s"));
        // Bad YAML right after the password: the error has a line, not text.
        std::fs::write(
            &f,
            format!("- urlPrefix: x\n  password: \"{pass}\"\n  : [\n"),
        )
        .expect("write");
        let err = Credentials::from_file(&f).expect_err("bad yaml");
        assert!(!format!("{err} {err:?}").contains("a?s"), "{err}");
        // In a URL's userinfo, percent-encoded or not.
        for raw in [
            format!("https://bob:{pass}@git.example/org/r.git"),
            "https://bob:p%2Fa%3Fs%23s%40w%3Ard@git.example/org/r.git".to_string(),
        ] {
            let u = RepoUrl::parse(&raw).expect("url");
            let auth = Auth::for_url(&u, &Credentials::none());
            assert_eq!(
                auth.password.as_ref().map(Secret::expose),
                Some(pass),
                "{raw}"
            );
            assert_eq!(auth.username.as_deref(), Some("bob"));
        }
    }
}
