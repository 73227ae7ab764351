//! The Application spec: what to render and where to sync it.
//!
//! `sluice.dev/v1alpha1` and Argo CD's `argoproj.io/v1alpha1` are both
//! accepted, for the subset of fields sluice supports; any other field is an
//! error that names it, never silently ignored.
//!
//! ```
//! let app = sluice::app::parse(r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: Application
//! metadata: {name: guestbook, namespace: argocd}
//! spec:
//!   project: default
//!   source: {repoURL: ., path: guestbook}
//!   destination: {namespace: guestbook}
//!   syncPolicy: {syncOptions: [CreateNamespace=true]}
//! "#, "app.yaml").unwrap();
//! assert_eq!(app.metadata.name, "guestbook");
//! assert!(app.create_namespace());
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// API versions accepted for `kind: Application`.
pub const API_VERSIONS: &[&str] = &["sluice.dev/v1alpha1", "argoproj.io/v1alpha1"];

/// The error returned by [`parse`] and [`load`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The file could not be read.
    #[error("cannot read application file {file}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not match the Application spec (an unknown field, a
    /// wrong type, a missing field); the message names the field.
    #[error("{file}: not a valid Application: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What the parser said, naming the field.
        message: String,
    },
    /// `apiVersion` or `kind` is not an Application.
    #[error(
        "{file}: apiVersion {api_version:?} kind {kind:?} is not an Application; use apiVersion sluice.dev/v1alpha1 (or argoproj.io/v1alpha1) and kind Application"
    )]
    NotApplication {
        /// The file.
        file: String,
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
}

/// An Application document.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Application {
    /// `sluice.dev/v1alpha1` or `argoproj.io/v1alpha1`.
    pub api_version: String,
    /// `Application`.
    pub kind: String,
    /// Name (and, for Argo CD files, the namespace the Application lives in).
    pub metadata: Metadata,
    /// What and where.
    pub spec: Spec,
}

/// The Application's metadata.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The app's name: names the inventory and appears in every message.
    pub name: String,
    /// Where an Argo CD Application object lives (ignored by sluice).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels (kept, not used).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations (kept, not used).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Argo CD finalizers (ignored by sluice).
    #[serde(default)]
    pub finalizers: Vec<String>,
}

/// `spec`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Argo CD project (accepted, not used).
    #[serde(default)]
    pub project: Option<String>,
    /// The source.
    pub source: Source,
    /// The renderer; detected from the files when absent.
    #[serde(default)]
    pub renderer: Option<Renderer>,
    /// The destination.
    #[serde(default)]
    pub destination: Destination,
    /// Sync policy.
    #[serde(default)]
    pub sync_policy: SyncPolicy,
}

/// `spec.source`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Source {
    /// A Git URL, or a local directory (relative to the Application file).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag or commit; `HEAD` when absent.
    #[serde(default)]
    pub target_revision: Option<String>,
    /// The app's directory inside the repository.
    #[serde(default)]
    pub path: String,
    /// Require signed commits or tags, checked before anything is rendered
    /// (Flux's `GitRepository.spec.verify`, with a keys file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// Fetch the submodules the commit records (recursively) and show
    /// their files in the tree (Flux's field name). Without it a submodule
    /// is an entry that cannot be read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recurse_submodules: bool,
}

/// `spec.renderer`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Renderer {
    /// A built-in renderer name or a `.wasm` file.
    pub name: String,
    /// Required sha256 of a renderer file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Parameters (strings, or structured values passed as JSON).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// `spec.destination`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// A kubeconfig context name.
    #[serde(default)]
    pub name: Option<String>,
    /// An API server URL (Argo CD's form; `https://kubernetes.default.svc`
    /// means the current context).
    #[serde(default)]
    pub server: Option<String>,
    /// The namespace namespaced objects without one go to.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `spec.syncPolicy`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Automated sync (used by `sluice serve`; `prune` also enables prune
    /// for `sluice sync`).
    #[serde(default)]
    pub automated: Option<Automated>,
    /// `Name=value` options; `CreateNamespace=true` is honoured.
    #[serde(default)]
    pub sync_options: Vec<String>,
    /// Retry a failed sync (Argo CD's form; used by `sluice serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// `spec.syncPolicy.retry`: how often and how fast a failed sync is tried
/// again (Argo CD's `RetryStrategy`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retry {
    /// How many retries after the first attempt; a negative number retries
    /// without end. Argo CD's default when `retry` is given without it: 5.
    #[serde(default)]
    pub limit: Option<i64>,
    /// The delay between attempts.
    #[serde(default)]
    pub backoff: Option<Backoff>,
}

/// `spec.syncPolicy.retry.backoff`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Backoff {
    /// The first delay, a duration such as `5s` or `2m` (Argo CD's default:
    /// `5s`).
    #[serde(default)]
    pub duration: Option<String>,
    /// Each next delay is the previous one times this (default 2).
    #[serde(default)]
    pub factor: Option<i64>,
    /// The longest delay (default `3m`).
    #[serde(default)]
    pub max_duration: Option<String>,
}

/// `spec.syncPolicy.automated`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Automated {
    /// Delete objects no longer desired.
    #[serde(default)]
    pub prune: bool,
    /// Re-apply drifted objects.
    #[serde(default)]
    pub self_heal: bool,
    /// Allow a sync that leaves the app with no objects.
    #[serde(default)]
    pub allow_empty: bool,
}

// --- Git source trust: signature verification (issue 17) ---

/// `spec.source.verify`: which signatures a Git revision must carry, and
/// the keys trusted to make them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Verify {
    /// What must be signed; `HEAD` when absent.
    #[serde(default)]
    pub mode: VerifyMode,
    /// A file of trusted keys, relative to the Application file:
    /// ASCII-armored OpenPGP public keys and/or SSH `allowed_signers` lines.
    pub keys_file: String,
}

/// `spec.source.verify.mode` (Flux's values).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum VerifyMode {
    /// The commit the revision resolves to must be signed.
    #[default]
    #[serde(rename = "HEAD", alias = "head")]
    Head,
    /// The revision must be an annotated tag, and the tag must be signed.
    Tag,
    /// Both the tag and its commit must be signed.
    #[serde(rename = "TagAndHEAD")]
    TagAndHead,
}

impl Application {
    /// Whether `syncOptions` contains `name=true`.
    pub fn sync_option(&self, name: &str) -> bool {
        self.spec.sync_policy.sync_options.iter().any(|o| {
            o.split_once('=')
                .is_some_and(|(k, v)| k.trim() == name && v.trim().eq_ignore_ascii_case("true"))
        })
    }

    /// `CreateNamespace=true`.
    pub fn create_namespace(&self) -> bool {
        self.sync_option("CreateNamespace")
    }

    /// `automated.prune`.
    pub fn prune(&self) -> bool {
        self.spec
            .sync_policy
            .automated
            .as_ref()
            .is_some_and(|a| a.prune)
    }

    /// `automated.allowEmpty`.
    pub fn allow_empty(&self) -> bool {
        self.spec
            .sync_policy
            .automated
            .as_ref()
            .is_some_and(|a| a.allow_empty)
    }
}

/// Parse an Application from YAML; `file` names it in errors.
pub fn parse(yaml: &str, file: &str) -> Result<Application, AppError> {
    let app: Application = serde_norway::from_str(yaml).map_err(|e| AppError::Invalid {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    if !API_VERSIONS.contains(&app.api_version.as_str()) || app.kind != "Application" {
        return Err(AppError::NotApplication {
            file: file.to_string(),
            api_version: app.api_version,
            kind: app.kind,
        });
    }
    if app.metadata.name.is_empty() {
        return Err(AppError::Invalid {
            file: file.to_string(),
            message: "metadata.name is empty".into(),
        });
    }
    Ok(app)
}

/// Read and parse an Application file.
pub fn load(path: &std::path::Path) -> Result<Application, AppError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLUICE: &str = r#"
apiVersion: sluice.dev/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  source: {repoURL: https://git.example/infra.git, targetRevision: main, path: k8s/overlays/prod}
  renderer: {name: kustomize, params: {}}
  destination: {name: prod-eu, namespace: production}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
"#;

    #[test]
    fn design_example_parses() {
        let app = parse(SLUICE, "a.yaml").expect("parses");
        assert_eq!(app.spec.source.path, "k8s/overlays/prod");
        assert_eq!(app.spec.destination.name.as_deref(), Some("prod-eu"));
        assert!(app.create_namespace() && app.prune() && !app.allow_empty());
    }

    #[test]
    fn unknown_field_is_named() {
        let bad = SLUICE.replace("selfHeal: true", "selfHeal: true, selfHeel: true");
        let e = parse(&bad, "a.yaml").expect_err("unknown field");
        assert!(e.to_string().contains("selfHeel"), "{e}");
        let bad = SLUICE.replace("path: k8s", "chart: x, path: k8s");
        let e = parse(&bad, "a.yaml").expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `chart`"), "{e}");
    }

    #[test]
    fn verify_takes_fluxs_modes_and_a_keys_file() {
        let with = |v: &str| {
            SLUICE.replace(
                "path: k8s/overlays/prod}",
                &format!("path: k8s, verify: {v}}}"),
            )
        };
        let app = parse(&with("{mode: TagAndHEAD, keysFile: keys.asc}"), "a.yaml").expect("parses");
        let v = app.spec.source.verify.expect("verify");
        assert_eq!(
            (v.mode, v.keys_file.as_str()),
            (VerifyMode::TagAndHead, "keys.asc")
        );
        let app = parse(&with("{keysFile: k}"), "a.yaml").expect("parses");
        assert_eq!(
            app.spec.source.verify.map(|v| v.mode),
            Some(VerifyMode::Head)
        );
        let e = parse(&with("{mode: Head, keysFile: k}"), "a.yaml").expect_err("bad mode");
        assert!(e.to_string().contains("unknown variant `Head`"), "{e}");
        let e = parse(
            &with("{mode: HEAD, secretRef: {name: x}, keysFile: k}"),
            "a.yaml",
        )
        .expect_err("Flux's secretRef");
        assert!(e.to_string().contains("unknown field `secretRef`"), "{e}");
    }

    #[test]
    fn other_kinds_refused() {
        let e = parse(
            &SLUICE.replace("kind: Application", "kind: AppProject"),
            "a.yaml",
        )
        .expect_err("kind");
        assert!(e.to_string().contains("is not an Application"), "{e}");
    }
}
