//! Credentials per URL prefix, like Argo CD's credential templates: the
//! entry with the longest prefix of the repository URL wins.
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
//! ```
//!
//! Its path comes from `SLUICE_GIT_CREDENTIALS` (or the caller). The
//! environment adds one more entry: `SLUICE_GIT_USERNAME` with
//! `SLUICE_GIT_PASSWORD` or `SLUICE_GIT_TOKEN`, for URLs starting with
//! `SLUICE_GIT_URL_PREFIX` (every URL when unset). Secrets are held in
//! [`Secret`], whose `Debug` prints `***`.

use super::url::RepoUrl;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entries: Vec<CredentialEntry> = serde_norway::from_str(&text).map_err(|e| {
            // Locations only: a parse error message could quote a secret.
            let at = e
                .location()
                .map(|l| format!(" at line {}", l.line()))
                .unwrap_or_default();
            format!(
                "{}: not a list of {{urlPrefix, username, password|token, sshPrivateKeyPath}}{at}",
                path.display()
            )
        })?;
        Ok(Credentials { entries })
    }

    /// Templates from `SLUICE_GIT_CREDENTIALS` (a file) and the
    /// `SLUICE_GIT_*` variables; empty when none are set.
    pub fn from_env() -> Result<Self, String> {
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
                ssh_private_key_path: None,
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

    /// The template with the longest prefix of `url` (matched against the
    /// URL as written and its normalised form); the first one on a tie.
    pub fn find(&self, url: &RepoUrl) -> Option<&CredentialEntry> {
        let mut best: Option<&CredentialEntry> = None;
        for e in &self.entries {
            let hit = url.connect_url().starts_with(&e.url_prefix)
                || url.normalized().starts_with(&e.url_prefix);
            if hit && best.is_none_or(|b| e.url_prefix.len() > b.url_prefix.len()) {
                best = Some(e);
            }
        }
        best
    }
}

/// What the transport uses for one repository.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    pub ssh_key: Option<PathBuf>,
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
        assert!(!err.contains("hunter22"), "{err}");
    }
}
