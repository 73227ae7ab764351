//! Push webhooks: check who sent one, and say which apps it concerns.
//!
//! [`verify`] takes the request's headers and body and the configured
//! [`Secrets`], finds the provider from its event header, checks the
//! signature (or token) in constant time and parses the push into a
//! [`Push`]. Nothing is triggered by a request that fails any check: the
//! HTTP layer answers 401 and moves on. [`Push::concerns`] then tells for
//! one app (repo URL and target revision) whether it should refresh.
//!
//! | provider | event header | proof |
//! |---|---|---|
//! | GitHub | `X-GitHub-Event` | `X-Hub-Signature-256: sha256=<hmac>` |
//! | GitLab | `X-Gitlab-Event` | `X-Gitlab-Token: <secret>` |
//! | Gitea | `X-Gitea-Event` | `X-Gitea-Signature: <hmac>` |
//! | Gogs | `X-Gogs-Event` | `X-Gogs-Signature: <hmac>` |
//! | Bitbucket Server | `X-Event-Key` | `X-Hub-Signature: sha256=<hmac>` |
//! | generic | `X-Sluice-Signature-256` | `sha256=<hmac>` of the body |
//!
//! `<hmac>` is the hex HMAC-SHA256 of the raw body under the provider's
//! secret. Gitea also sends GitHub's headers, so it is recognised first.
//! The generic form's body is `{"repository": URL, "ref": "refs/heads/main"
//! or "main", "commit": SHA}` (commit optional), for any CI system that can
//! sign a request.
//!
//! URLs are compared by host and path (lowercase, without scheme, port,
//! user, trailing `/` or `.git`), so an app on `git@host:org/repo` is
//! refreshed by a push whose payload names `https://host/org/repo.git`. Two
//! servers on one host with the same path would both refresh: harmless, a
//! refresh that finds nothing new changes nothing.

use crate::source::git::url::{RepoUrl, UrlKind};
use ring::hmac;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The largest webhook body accepted by default (GitHub caps its payloads
/// at 25 MB; pushes are far smaller).
pub const DEFAULT_MAX_BODY: usize = 10 << 20;

/// Who sent a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub and GitHub Enterprise.
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea (and Forgejo).
    Gitea,
    /// Gogs.
    Gogs,
    /// Bitbucket Server / Data Center.
    #[serde(alias = "bitbucket-server")]
    BitbucketServer,
    /// sluice's own signed form.
    Generic,
}

impl Provider {
    /// The name used in the secrets file, metrics and messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Gitea => "gitea",
            Provider::Gogs => "gogs",
            Provider::BitbucketServer => "bitbucketserver",
            Provider::Generic => "generic",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The error returned by [`verify`] and [`Secrets::load`].
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No header says which provider sent the request.
    #[error(
        "webhook: cannot tell the sender (no X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Gogs-Event, X-Event-Key or X-Sluice-Signature-256 header)"
    )]
    UnknownProvider,
    /// The secrets file has no secret for this provider, so nothing it
    /// sends can be trusted.
    #[error(
        "webhook from {0}: no secret is configured for {0}; add one to the --webhook-secrets file"
    )]
    NoSecret(Provider),
    /// The signature or token header is missing.
    #[error("webhook from {provider}: the {header} header is missing; set the webhook's secret")]
    MissingSignature {
        /// The provider.
        provider: Provider,
        /// The header that should carry the proof.
        header: &'static str,
    },
    /// The signature or token does not match any configured secret.
    #[error(
        "webhook from {0}: the signature does not match the configured secret; check the secret on both sides"
    )]
    BadSignature(Provider),
    /// The body is over the size limit.
    #[error("webhook: body of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A signed body that is not the JSON the provider sends.
    #[error("webhook from {provider}: malformed payload: {message}")]
    Malformed {
        /// The provider.
        provider: Provider,
        /// What is wrong.
        message: String,
    },
    /// The secrets file cannot be read or parsed.
    #[error(
        "webhook secrets file {file}: {message}; expected YAML like `github: SECRET` (a secret or a list per provider: github, gitlab, gitea, gogs, bitbucketserver, generic)"
    )]
    SecretsFile {
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
}

/// Webhook secrets per provider. Several per provider are allowed, so a
/// secret can be rotated without downtime.
#[derive(Clone, Default)]
pub struct Secrets(BTreeMap<Provider, Vec<String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Secrets {
    /// Secrets from a map (tests, configuration built in code).
    pub fn new(map: impl IntoIterator<Item = (Provider, String)>) -> Secrets {
        let mut s = Secrets::default();
        for (p, v) in map {
            s.0.entry(p).or_default().push(v);
        }
        s
    }

    /// Read a YAML file mapping provider names to a secret or a list.
    pub fn load(path: &Path) -> Result<Secrets, WebhookError> {
        let file = path.display().to_string();
        let bad = |message: String| WebhookError::SecretsFile {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let raw: BTreeMap<Provider, OneOrMany> =
            serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut s = Secrets::default();
        for (p, v) in raw {
            let list = match v {
                OneOrMany::One(x) => vec![x],
                OneOrMany::Many(x) => x,
            };
            if list.iter().any(|x| x.is_empty()) {
                return Err(bad(format!("the secret for {p} is empty")));
            }
            s.0.insert(p, list);
        }
        Ok(s)
    }

    fn of(&self, p: Provider) -> Result<&[String], WebhookError> {
        match self.0.get(&p) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(WebhookError::NoSecret(p)),
        }
    }
}

/// A verified push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Who sent it.
    pub provider: Provider,
    /// Every URL the payload gives for the repository.
    pub urls: Vec<String>,
    /// The pushed refs: `refs/heads/...` or `refs/tags/...`.
    pub refs: Vec<String>,
    /// The new commit, when the payload says.
    pub commit: Option<String>,
    /// The repository's default branch, when the payload says.
    pub default_branch: Option<String>,
}

/// Headers by lowercase name.
pub type Headers = BTreeMap<String, String>;

/// Check a webhook and parse its push. `Ok(None)`: a genuine event that is
/// not a push (a ping, an issue comment), to be answered 200 and ignored.
pub fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &Secrets,
    max_body: usize,
) -> Result<Option<Push>, WebhookError> {
    if body.len() > max_body {
        return Err(WebhookError::TooLarge {
            size: body.len(),
            limit: max_body,
        });
    }
    let h = |name: &str| headers.get(name).map(String::as_str);
    let (provider, event) = if let Some(e) = h("x-gitea-event") {
        (Provider::Gitea, e)
    } else if let Some(e) = h("x-gogs-event") {
        (Provider::Gogs, e)
    } else if let Some(e) = h("x-github-event") {
        (Provider::GitHub, e)
    } else if let Some(e) = h("x-gitlab-event") {
        (Provider::GitLab, e)
    } else if let Some(e) = h("x-event-key") {
        (Provider::BitbucketServer, e)
    } else if h("x-sluice-signature-256").is_some() {
        (Provider::Generic, "push")
    } else {
        return Err(WebhookError::UnknownProvider);
    };
    let secrets = secrets.of(provider)?;
    let (header, prefixed) = match provider {
        Provider::GitHub => ("x-hub-signature-256", true),
        Provider::Gitea => ("x-gitea-signature", false),
        Provider::Gogs => ("x-gogs-signature", false),
        Provider::BitbucketServer => ("x-hub-signature", true),
        Provider::Generic => ("x-sluice-signature-256", true),
        Provider::GitLab => ("x-gitlab-token", false),
    };
    let proof = h(header).ok_or(WebhookError::MissingSignature { provider, header })?;
    let ok = if provider == Provider::GitLab {
        secrets.iter().any(|s| token_ok(s, proof))
    } else {
        let hex_sig = if prefixed {
            proof.strip_prefix("sha256=")
        } else {
            Some(proof)
        };
        match hex_sig.and_then(|s| hex::decode(s.trim()).ok()) {
            Some(sig) => secrets.iter().any(|s| hmac_ok(s, body, &sig)),
            None => false,
        }
    };
    if !ok {
        return Err(WebhookError::BadSignature(provider));
    }
    let is_push = match provider {
        Provider::GitHub | Provider::Gitea | Provider::Gogs => event == "push",
        Provider::GitLab => event == "Push Hook" || event == "Tag Push Hook",
        Provider::BitbucketServer => event == "repo:refs_changed",
        Provider::Generic => true,
    };
    if !is_push {
        return Ok(None);
    }
    let malformed = |message: String| WebhookError::Malformed { provider, message };
    let v: Value = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    parse_push(provider, &v).map(Some).map_err(malformed)
}

/// Whether `sig` is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time (ring's `hmac::verify`).
fn hmac_ok(secret: &str, body: &[u8], sig: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, sig).is_ok()
}

/// Whether `token` equals `secret`, in time that does not depend on where
/// they differ: both are MACed under a fresh key and the tags compared with
/// ring's constant-time `hmac::verify`.
fn token_ok(secret: &str, token: &str) -> bool {
    let rng = ring::rand::SystemRandom::new();
    let Ok(key) = hmac::Key::generate(hmac::HMAC_SHA256, &rng) else {
        return false;
    };
    let tag = hmac::sign(&key, secret.as_bytes());
    hmac::verify(&key, token.as_bytes(), tag.as_ref()).is_ok()
}

fn strs<'a>(v: &'a Value, pointers: &[&str]) -> Vec<String> {
    pointers
        .iter()
        .filter_map(|p| v.pointer(p).and_then(Value::as_str))
        .filter(|s: &&'a str| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_push(provider: Provider, v: &Value) -> Result<Push, String> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let (urls, refs, commit, default_branch) = match provider {
        Provider::GitHub | Provider::Gitea | Provider::Gogs => (
            strs(
                v,
                &[
                    "/repository/clone_url",
                    "/repository/html_url",
                    "/repository/ssh_url",
                    "/repository/git_url",
                ],
            ),
            s("/ref").into_iter().collect(),
            s("/after"),
            s("/repository/default_branch"),
        ),
        Provider::GitLab => (
            strs(
                v,
                &[
                    "/project/git_http_url",
                    "/project/git_ssh_url",
                    "/project/web_url",
                    "/repository/git_http_url",
                    "/repository/git_ssh_url",
                    "/repository/homepage",
                ],
            ),
            s("/ref").into_iter().collect(),
            s("/checkout_sha").or_else(|| s("/after")),
            s("/project/default_branch"),
        ),
        Provider::BitbucketServer => {
            let urls = v
                .pointer("/repository/links/clone")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.get("href").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let changes = v.get("changes").and_then(Value::as_array);
            let refs = changes
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.pointer("/ref/id").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let commit = changes
                .and_then(|a| a.first())
                .and_then(|c| c.get("toHash"))
                .and_then(Value::as_str)
                .map(str::to_string);
            (urls, refs, commit, None)
        }
        Provider::Generic => {
            let r = s("/ref").map(|r| {
                if r.starts_with("refs/") {
                    r
                } else {
                    format!("refs/heads/{r}")
                }
            });
            (
                strs(v, &["/repository"]),
                r.into_iter().collect(),
                s("/commit"),
                None,
            )
        }
    };
    if urls.is_empty() {
        return Err("it names no repository URL".into());
    }
    Ok(Push {
        provider,
        urls,
        refs,
        commit,
        default_branch,
    })
}

/// The part of a repository URL webhooks are matched on: lowercase host and
/// path, without scheme, user, port, trailing `/` or `.git` (the source
/// module's normalised form, less scheme and port). `None` for something
/// that is not a remote URL.
pub fn match_key(url: &str) -> Option<String> {
    let parsed = RepoUrl::parse(url).ok()?;
    if parsed.kind() == UrlKind::File {
        return None;
    }
    let (authority, segments) = parsed.authority_and_segments();
    let host_port = authority.split_once("://").map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
        None => host_port.split_once(':').map_or(host_port, |(h, _)| h),
    };
    if host.is_empty() || segments.is_empty() {
        return None;
    }
    Some(format!(
        "{}/{}",
        host.to_ascii_lowercase(),
        segments.join("/").to_ascii_lowercase()
    ))
}

impl Push {
    /// Whether an app on `repo_url` at `revision` should refresh:
    /// the repository matches and the push moved what the revision follows.
    /// - `HEAD` or empty: a push to the default branch (any branch when the
    ///   payload does not say which is default);
    /// - a branch name (or `refs/heads/...`): a push to that branch;
    /// - a tag, or a semver constraint over tags: a tag push;
    /// - a commit id: never (a pinned commit does not move).
    pub fn concerns(&self, repo_url: &str, revision: &str) -> bool {
        let Some(key) = match_key(repo_url) else {
            return false;
        };
        if !self
            .urls
            .iter()
            .any(|u| match_key(u).as_deref() == Some(&key))
        {
            return false;
        }
        let rev = revision.trim();
        let branches: Vec<&str> = self
            .refs
            .iter()
            .filter_map(|r| r.strip_prefix("refs/heads/"))
            .collect();
        let tags: Vec<&str> = self
            .refs
            .iter()
            .filter_map(|r| r.strip_prefix("refs/tags/"))
            .collect();
        if rev.is_empty() || rev == "HEAD" {
            return match &self.default_branch {
                Some(d) => branches.contains(&d.as_str()),
                None => !branches.is_empty(),
            };
        }
        if let Some(b) = rev.strip_prefix("refs/heads/") {
            return branches.contains(&b);
        }
        if let Some(t) = rev.strip_prefix("refs/tags/") {
            return tags.contains(&t);
        }
        if branches.contains(&rev) || tags.contains(&rev) {
            return true;
        }
        let semver_like = rev.chars().any(|c| "^~<>=*".contains(c)) || rev.ends_with(".x");
        semver_like && !tags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        hex::encode(hmac::sign(&key, body).as_ref())
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    const GITHUB_PUSH: &str = r#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567",
        "repository":{"clone_url":"https://github.com/org/infra.git","html_url":"https://github.com/org/infra",
        "ssh_url":"git@github.com:org/infra.git","default_branch":"main"}}"#;

    #[test]
    fn github_documented_test_vector() {
        // The example from GitHub's "Validating webhook deliveries" page.
        let sig = sign("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            sig,
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn github_push_verified_and_parsed() {
        let secrets = Secrets::new([(Provider::GitHub, "s3cret".to_string())]);
        let sig = format!("sha256={}", sign("s3cret", GITHUB_PUSH.as_bytes()));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let push = verify(&h, GITHUB_PUSH.as_bytes(), &secrets, DEFAULT_MAX_BODY)
            .expect("valid")
            .expect("a push");
        assert_eq!(push.provider, Provider::GitHub);
        assert_eq!(push.refs, ["refs/heads/main"]);
        assert!(push.concerns("https://github.com/org/infra", "main"));
        assert!(push.concerns("git@github.com:org/infra.git", "HEAD"));
        assert!(push.concerns("ssh://git@GitHub.com/org/infra.git/", ""));
        assert!(!push.concerns("https://github.com/org/infra-other", "main"));
        assert!(!push.concerns("https://github.com/org/infra", "develop"));
        assert!(!push.concerns("https://github.com/org/infra", "v1.2.0"));
        assert!(!push.concerns(
            "https://github.com/org/infra",
            "0123456789abcdef0123456789abcdef01234567"
        ));
    }

    #[test]
    fn bad_missing_and_unconfigured_signatures_are_refused() {
        let secrets = Secrets::new([(Provider::GitHub, "s3cret".to_string())]);
        let body = GITHUB_PUSH.as_bytes();
        let wrong = format!("sha256={}", sign("other", body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &wrong)]);
        let e = verify(&h, body, &secrets, DEFAULT_MAX_BODY).expect_err("bad signature");
        assert_eq!(
            e.to_string(),
            "webhook from github: the signature does not match the configured secret; check the secret on both sides"
        );
        let h = headers(&[("X-GitHub-Event", "push")]);
        let e = verify(&h, body, &secrets, DEFAULT_MAX_BODY).expect_err("unsigned");
        assert!(
            e.to_string()
                .contains("the x-hub-signature-256 header is missing"),
            "{e}"
        );
        // A tampered body under a once-valid signature.
        let sig = format!("sha256={}", sign("s3cret", body));
        let h = headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)]);
        let tampered = GITHUB_PUSH.replace("main", "prod");
        assert!(matches!(
            verify(&h, tampered.as_bytes(), &secrets, DEFAULT_MAX_BODY),
            Err(WebhookError::BadSignature(Provider::GitHub))
        ));
        // A provider without a configured secret is never trusted.
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "")]);
        let e = verify(&h, body, &secrets, DEFAULT_MAX_BODY).expect_err("no secret");
        assert!(e.to_string().contains("no secret is configured for gitlab"));
    }

    #[test]
    fn gitlab_token_gitea_gogs_bitbucket_and_generic() {
        let secrets = Secrets::new(
            [
                (Provider::GitLab, "tok"),
                (Provider::Gitea, "gt"),
                (Provider::Gogs, "gg"),
                (Provider::BitbucketServer, "bb"),
                (Provider::Generic, "gen"),
            ]
            .map(|(p, s)| (p, s.to_string())),
        );
        let gl = r#"{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"abc",
            "project":{"git_http_url":"https://gitlab.example/grp/app.git","default_branch":"main"}}"#;
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "tok")]);
        let p = verify(&h, gl.as_bytes(), &secrets, DEFAULT_MAX_BODY)
            .expect("ok")
            .expect("push");
        assert!(p.concerns("https://gitlab.example/grp/app", "HEAD"));
        let h = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "tok2")]);
        assert!(matches!(
            verify(&h, gl.as_bytes(), &secrets, DEFAULT_MAX_BODY),
            Err(WebhookError::BadSignature(Provider::GitLab))
        ));

        // Gitea also sends GitHub's headers; its own secret decides.
        let sig = sign("gt", GITHUB_PUSH.as_bytes());
        let h = headers(&[
            ("X-Gitea-Event", "push"),
            ("X-GitHub-Event", "push"),
            ("X-Gitea-Signature", &sig),
        ]);
        let p = verify(&h, GITHUB_PUSH.as_bytes(), &secrets, DEFAULT_MAX_BODY)
            .expect("ok")
            .expect("push");
        assert_eq!(p.provider, Provider::Gitea);

        let sig = sign("gg", GITHUB_PUSH.as_bytes());
        let h = headers(&[("X-Gogs-Event", "push"), ("X-Gogs-Signature", &sig)]);
        assert!(
            verify(&h, GITHUB_PUSH.as_bytes(), &secrets, DEFAULT_MAX_BODY)
                .expect("ok")
                .is_some()
        );

        let bb = r#"{"eventKey":"repo:refs_changed","repository":{"links":{"clone":[
            {"href":"ssh://git@bitbucket.example:7999/prj/repo.git","name":"ssh"},
            {"href":"https://bitbucket.example/scm/prj/repo.git","name":"http"}]}},
            "changes":[{"ref":{"id":"refs/tags/v1.4.0","displayId":"v1.4.0","type":"TAG"},"toHash":"def"}]}"#;
        let sig = format!("sha256={}", sign("bb", bb.as_bytes()));
        let h = headers(&[
            ("X-Event-Key", "repo:refs_changed"),
            ("X-Hub-Signature", &sig),
        ]);
        let p = verify(&h, bb.as_bytes(), &secrets, DEFAULT_MAX_BODY)
            .expect("ok")
            .expect("push");
        assert!(p.concerns("https://bitbucket.example/scm/prj/repo", ">=1.0.0"));
        assert!(p.concerns("https://bitbucket.example/scm/prj/repo", "v1.4.0"));
        assert!(!p.concerns("https://bitbucket.example/scm/prj/repo", "main"));

        let generic = r#"{"repository":"http://127.0.0.1:4000/infra.git","ref":"main"}"#;
        let sig = format!("sha256={}", sign("gen", generic.as_bytes()));
        let h = headers(&[("X-Sluice-Signature-256", &sig)]);
        let p = verify(&h, generic.as_bytes(), &secrets, DEFAULT_MAX_BODY)
            .expect("ok")
            .expect("push");
        assert!(p.concerns("http://127.0.0.1:4000/infra", "main"));
    }

    #[test]
    fn non_push_events_are_ignored_and_bodies_are_capped() {
        let secrets = Secrets::new([(Provider::GitHub, "s".to_string())]);
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let sig = format!("sha256={}", sign("s", body));
        let h = headers(&[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)]);
        assert_eq!(
            verify(&h, body, &secrets, DEFAULT_MAX_BODY).expect("ok"),
            None
        );
        let e = verify(&h, body, &secrets, 8).expect_err("too large");
        assert!(
            e.to_string().contains("is over the limit of 8 bytes"),
            "{e}"
        );
        let e = verify(&headers(&[]), body, &secrets, DEFAULT_MAX_BODY).expect_err("who?");
        assert!(matches!(e, WebhookError::UnknownProvider));
    }

    #[test]
    fn secrets_file_accepts_lists_and_never_prints_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("secrets.yaml");
        std::fs::write(&f, "github: [old, new]\ngitlab: tok\n").expect("write");
        let s = Secrets::load(&f).expect("load");
        assert_eq!(s.of(Provider::GitHub).expect("github"), ["old", "new"]);
        assert!(!format!("{s:?}").contains("tok"));
        std::fs::write(&f, "githab: x\n").expect("write");
        let e = Secrets::load(&f).expect_err("unknown provider");
        assert!(e.to_string().contains("unknown variant `githab`"), "{e}");
    }

    #[test]
    fn match_key_normalises_url_forms() {
        for u in [
            "https://Git.Example/Org/Repo.git",
            "http://user:pw@git.example:8080/org/repo/",
            "git@git.example:org/repo.git",
            "ssh://git@git.example:2222/org/repo",
        ] {
            assert_eq!(match_key(u).as_deref(), Some("git.example/org/repo"), "{u}");
        }
        assert_eq!(match_key("/local/path"), None);
        assert_eq!(match_key("https://host"), None);
    }
}
