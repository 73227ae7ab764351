//! The Application spec: what to render and where to sync it.
//!
//! `sluice.dev/v1alpha1` and Argo CD's `argoproj.io/v1alpha1` are both
//! accepted, for the subset of fields sluice supports; any other field is an
//! error that names it, never silently ignored. What each Argo CD field
//! becomes is in [`argo`]; a file of Flux `GitRepository` and
//! `Kustomization` objects is read as one Application per Kustomization
//! ([`flux`], [`parse_all`]).
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

pub mod argo;
pub mod flux;

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
    /// What a Flux Kustomization adds (set when the file held Flux
    /// objects; never read from an Application).
    #[serde(skip)]
    pub flux: Option<flux::FluxExtras>,
}

/// The Application's metadata.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Argo CD project (accepted, not used).
    #[serde(default)]
    pub project: Option<String>,
    /// The source (required unless `sources` gives it).
    #[serde(default)]
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
    // Argo CD fields (see `argo.rs`).
    /// Argo CD multi-source: [`parse`] copies the first source with a path
    /// to `source`; the others with a path are rendered too
    /// ([`Application::extra_sources`]); those with only a `ref` render
    /// nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Fields diff does not compare and sync does not send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<argo::IgnoreDifferences>,
    /// Argo CD's informational entries (kept, not used).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<argo::Info>,
    /// Argo CD's history length (kept; sluice's history store has its own
    /// limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    /// The Targets (by `metadata.name`, loaded with `--targets DIR`) the
    /// app's objects may go to: an object of a kind one of them declares
    /// goes to it; everything else to the destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

/// `spec.source`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
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
    // Argo CD source types (see `argo.rs`).
    /// Plain YAML directory options (the yaml renderer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<argo::Directory>,
    /// Kustomize options (the kustomize renderer's `overrides`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<argo::Kustomize>,
    /// A renderer plugin and its parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<argo::Plugin>,
    /// Helm options: refused (Helm is not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<serde_json::Value>,
    /// A Helm chart name: refused (Helm is not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// Multi-source: the name other sources' value files use for this one.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
    /// Multi-source: the source's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
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
    /// Labels and annotations of the namespace `CreateNamespace=true`
    /// creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_namespace_metadata: Option<argo::ManagedNamespaceMetadata>,
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
    /// Argo CD's switch for automated sync (`false` turns it off while
    /// keeping the block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The `syncOptions` sluice knows, and what it does with each value:
/// honoured, what sluice always does anyway, or refused (with why).
const SYNC_OPTIONS: &[(&str, &str)] = &[
    ("CreateNamespace", "true|false"),
    // What sluice always does: prune after every wave has been applied
    // (and never after a failure).
    ("PruneLast", "true|false"),
    ("PrunePropagationPolicy", "foreground|background|orphan"),
    // What sluice always does: compare first, apply only what differs.
    ("ApplyOutOfSyncOnly", "true|false"),
    // Always server-side apply.
    ("ServerSideApply", "true"),
    // Always: ignored fields are never sent.
    ("RespectIgnoreDifferences", "true|false"),
    // Always: kinds not served yet are assumed missing in a dry-run.
    ("SkipDryRunOnMissingResource", "true|false"),
    // Always: another app's objects are refused (see --adopt).
    ("FailOnSharedResource", "true|false"),
    // Accepted: sluice applies with the server's default field validation
    // (unknown fields dropped with a warning) either way.
    ("Validate", "true|false"),
    ("ClientSideApplyMigration", "true|false"),
    ("Replace", "false"),
    ("Force", "false"),
];
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
    /// The rendering sources of a multi-source Application after the
    /// first (which is `spec.source`): each is rendered as its own source
    /// and their objects are synced together. Sources with only a `ref`
    /// render nothing and are left out.
    pub fn extra_sources(&self) -> Vec<&Source> {
        self.spec
            .sources
            .iter()
            .filter(|s| s.renders())
            .skip(1)
            .collect()
    }

    /// Whether `syncOptions` contains `name=true`.
    pub fn sync_option(&self, name: &str) -> bool {
        self.sync_option_value(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The value of `syncOptions` entry `name=value` (the last one given).
    pub fn sync_option_value(&self, name: &str) -> Option<&str> {
        self.spec
            .sync_policy
            .sync_options
            .iter()
            .filter_map(|o| o.split_once('='))
            .filter(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim())
            .next_back()
    }

    /// Things sluice accepts but does not do, to tell the user once per
    /// load: an Argo CD `project` other than `default` (Argo CD's default
    /// project restricts nothing) has restrictions sluice does not
    /// enforce; a Flux Kustomization's fields a single sync does not act
    /// on.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(p) = self.spec.project.as_deref().filter(|p| *p != "default") {
            w.push(format!(
                "app {}: spec.project {p:?} is kept but its restrictions (source repos, destinations, kinds) are not enforced by sluice",
                self.metadata.name
            ));
        }
        if let Some(f) = &self.flux {
            w.extend(f.warnings.iter().cloned());
        }
        if self
            .spec
            .source
            .kustomize
            .as_ref()
            .is_some_and(|k| k.version.is_some())
        {
            w.push(format!(
                "app {}: spec.source.kustomize.version has no effect: sluice builds with its built-in kustomize v5",
                self.metadata.name
            ));
        }
        w
    }

    /// Check the Argo CD fields: refused ones, the multi-source rule and
    /// the sync options; moves the one rendering source of `sources` to
    /// `source`.
    fn check_argo(&mut self) -> Result<(), String> {
        let spec = &mut self.spec;
        if !spec.sources.is_empty() {
            if !spec.source.repo_url.is_empty() {
                return Err("spec.source and spec.sources are both set; give one of them".into());
            }
            for (i, s) in spec.sources.iter().enumerate() {
                s.check(&format!("spec.sources[{i}]"))?;
            }
            let Some(first) = spec.sources.iter().find(|s| s.renders()) else {
                return Err(
                    "spec.sources: no source renders objects (each has only a ref and no path)"
                        .into(),
                );
            };
            spec.source = first.clone();
        } else {
            spec.source.check("spec.source")?;
        }
        if spec.source.repo_url.is_empty() {
            return Err("spec.source.repoURL is missing".into());
        }
        if spec.source.plugin.is_some() && spec.renderer.is_some() {
            return Err(
                "spec.source.plugin and spec.renderer are both set; name the renderer in one of them"
                    .into(),
            );
        }
        for o in &spec.sync_policy.sync_options {
            let Some((k, v)) = o.split_once('=') else {
                return Err(format!(
                    "spec.syncPolicy.syncOptions: {o:?} is not Name=value"
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            let Some((_, allowed)) = SYNC_OPTIONS.iter().find(|(n, _)| *n == k) else {
                let known: Vec<&str> = SYNC_OPTIONS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "spec.syncPolicy.syncOptions: {k} is not supported by sluice (it knows {})",
                    known.join(", ")
                ));
            };
            if !allowed.split('|').any(|a| a.eq_ignore_ascii_case(v)) {
                let why = match k {
                    "ServerSideApply" => " (sluice always uses server-side apply)",
                    "Replace" | "Force" => {
                        " (sluice only applies with server-side apply; it never replaces or deletes and recreates an object)"
                    }
                    _ => "",
                };
                return Err(format!(
                    "spec.syncPolicy.syncOptions: {k}={v} is not supported; use {k}={allowed}{why}"
                ));
            }
        }
        for (i, d) in spec.ignore_differences.iter().enumerate() {
            crate::diff::ignore::Rule::from_argo(d)
                .map_err(|e| format!("spec.ignoreDifferences[{i}]: {e}"))?;
        }
        Ok(())
    }

    /// `CreateNamespace=true`.
    pub fn create_namespace(&self) -> bool {
        self.sync_option("CreateNamespace")
    }

    /// `syncPolicy.automated`, unless Argo CD's `enabled: false` turns
    /// it off.
    pub fn automated(&self) -> Option<&Automated> {
        self.spec
            .sync_policy
            .automated
            .as_ref()
            .filter(|a| a.enabled != Some(false))
    }

    /// `automated.prune`.
    pub fn prune(&self) -> bool {
        self.automated().is_some_and(|a| a.prune)
    }

    /// `automated.allowEmpty`.
    pub fn allow_empty(&self) -> bool {
        self.automated().is_some_and(|a| a.allow_empty)
    }
}

/// The non-empty YAML documents of `yaml`, if there is more than one or
/// any is a Flux object (a Flux app file); `None` for one plain document.
fn flux_docs(yaml: &str) -> Option<Vec<serde_json::Value>> {
    let mut docs = Vec::new();
    for d in serde_norway::Deserializer::from_str(yaml) {
        match serde_json::Value::deserialize(d) {
            Ok(serde_json::Value::Null) => {}
            Ok(v) => docs.push(v),
            // Let the one-document parser report it.
            Err(_) => return None,
        }
    }
    flux::is_flux(&docs).then_some(docs)
}

/// Parse an Application from YAML; `file` names it in errors. A file of
/// Flux objects (a `Kustomization` and its `GitRepository`) is read as the
/// Application it stands for (see [`flux`]).
pub fn parse(yaml: &str, file: &str) -> Result<Application, AppError> {
    select(parse_all(yaml, file)?, None, file)
}

/// Every app a file defines: its Application, or one per Flux
/// Kustomization.
pub fn parse_all(yaml: &str, file: &str) -> Result<Vec<Application>, AppError> {
    let invalid = |message| AppError::Invalid {
        file: file.to_string(),
        message,
    };
    if let Some(docs) = flux_docs(yaml) {
        let mut apps = flux::to_applications(&docs).map_err(invalid)?;
        for app in &mut apps {
            app.check_argo().map_err(invalid)?;
        }
        return Ok(apps);
    }
    Ok(vec![parse_one(yaml, file)?])
}

/// The app of `apps` called `name`; without a name, the only one.
pub fn select(
    apps: Vec<Application>,
    name: Option<&str>,
    file: &str,
) -> Result<Application, AppError> {
    let names: Vec<String> = apps.iter().map(|a| a.metadata.name.clone()).collect();
    let mut apps = apps;
    match (apps.len(), name) {
        (1, _) => Ok(apps.remove(0)),
        (_, Some(n)) if names.iter().any(|x| x == n) => {
            let i = names.iter().position(|x| x == n).unwrap_or(0);
            Ok(apps.remove(i))
        }
        (_, n) => Err(AppError::Invalid {
            file: file.to_string(),
            message: format!(
                "{file} holds {} apps ({}); name one with --name{}",
                names.len(),
                names.join(", "),
                n.map(|n| format!(" ({n:?} is not one of them)"))
                    .unwrap_or_default()
            ),
        }),
    }
}

/// Parse one Application document.
fn parse_one(yaml: &str, file: &str) -> Result<Application, AppError> {
    let mut app: Application = serde_norway::from_str(yaml).map_err(|e| AppError::Invalid {
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
    app.check_argo().map_err(|message| AppError::Invalid {
        file: file.to_string(),
        message,
    })?;
    Ok(app)
}

/// Read and parse an Application file.
pub fn load(path: &std::path::Path) -> Result<Application, AppError> {
    load_named(path, None)
}

/// Read an app file; in a file defining several apps (Flux
/// Kustomizations), the one called `name`.
pub fn load_named(path: &std::path::Path, name: Option<&str>) -> Result<Application, AppError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AppError::Read {
        file: file.clone(),
        source,
    })?;
    select(parse_all(&text, &file)?, name, &file)
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
        let bad = SLUICE.replace("path: k8s", "tagPrefix: x, path: k8s");
        let e = parse(&bad, "a.yaml").expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `tagPrefix`"), "{e}");
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

    /// Argo CD's guestbook Application, with the fields issue 16 lists.
    const ARGO: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: kustomize-guestbook
    kustomize:
      namePrefix: prod-
      images: [gcr.io/heptio-images/ks-guestbook-demo:0.2]
      commonLabels: {env: prod}
      replicas: [{name: guestbook-ui, count: "3"}]
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
    jqPathExpressions: ['.spec.template.spec.initContainers[] | select(.name == "istio-init")']
    managedFieldsManagers: [kube-controller-manager]
  info: [{name: owner, value: team-a}]
  revisionHistoryLimit: 5
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, PruneLast=true, ServerSideApply=true, RespectIgnoreDifferences=true, PrunePropagationPolicy=foreground]
    managedNamespaceMetadata: {labels: {team: a}}
    retry: {limit: 2}
"#;

    #[test]
    fn argo_application_with_kustomize_and_ignore_differences_parses() {
        let app = parse(ARGO, "a.yaml").expect("parses");
        let k = app.spec.source.kustomize.as_ref().expect("kustomize");
        assert_eq!(k.name_prefix.as_deref(), Some("prod-"));
        assert_eq!(
            app.spec.ignore_differences[0].json_pointers,
            ["/spec/replicas"]
        );
        assert_eq!(
            app.sync_option_value("PrunePropagationPolicy"),
            Some("foreground")
        );
        let c = app
            .spec
            .source
            .render_config(&argo::BuildEnv::default())
            .expect("config");
        assert_eq!(c.renderer.as_deref(), Some("kustomize"));
        assert_eq!(
            c.structured["overrides"],
            serde_json::json!({"namePrefix": "prod-",
                "images": [{"name": "gcr.io/heptio-images/ks-guestbook-demo", "newTag": "0.2"}],
                "replicas": [{"name": "guestbook-ui", "count": 3}],
                "commonLabels": {"env": "prod"}, "forceCommonLabels": false,
                "labelWithoutSelector": false, "labelIncludeTemplates": false})
        );
        assert!(app.warnings().is_empty(), "{:?}", app.warnings());
        assert!(app.prune());
        let off = parse(
            &ARGO.replace(
                "automated: {prune: true,",
                "automated: {enabled: false, prune: true,",
            ),
            "a.yaml",
        )
        .expect("parses");
        assert!(off.automated().is_none() && !off.prune());
        let other = parse(
            &ARGO.replace("project: default", "project: payments"),
            "a.yaml",
        )
        .expect("parses");
        assert!(
            other.warnings()[0].contains(
                "spec.project \"payments\" is kept but its restrictions (source repos, destinations, kinds) are not enforced by sluice"
            ),
            "{:?}",
            other.warnings()
        );
    }

    fn refused(yaml: &str) -> String {
        parse(yaml, "a.yaml").expect_err("refused").to_string()
    }

    #[test]
    fn argo_fields_sluice_cannot_honour_are_refused_by_name() {
        let helm = ARGO.replace(
            "    kustomize:\n",
            "    helm: {valueFiles: [values.yaml]}\n    kustomize:\n",
        );
        assert!(
            refused(&helm).contains(
                "a.yaml: not a valid Application: spec.source.helm: Helm is not supported yet"
            ),
            "{}",
            refused(&helm)
        );
        let both = ARGO.replace(
            "    kustomize:\n",
            "    directory: {recurse: true}\n    kustomize:\n",
        );
        assert!(refused(&both).contains("spec.source: directory and kustomize are set together"));
        let dir = |d: &str| {
            ARGO.replace(
                "    kustomize:\n      namePrefix: prod-\n      images: [gcr.io/heptio-images/ks-guestbook-demo:0.2]\n      commonLabels: {env: prod}\n      replicas: [{name: guestbook-ui, count: \"3\"}]\n",
                &format!("    directory: {d}\n"),
            )
        };
        assert!(
            refused(&dir("{jsonnet: {libs: [vendor]}}"))
                .contains("spec.source.directory.jsonnet: Jsonnet is not supported yet")
        );
        // The empty jsonnet block Argo CD's UI writes is fine.
        let app = parse(
            &dir("{recurse: true, jsonnet: {}, include: '*.yaml', exclude: '{secret*,test*}'}"),
            "a.yaml",
        )
        .expect("plain directory");
        let c = app
            .spec
            .source
            .render_config(&argo::BuildEnv::default())
            .expect("config");
        assert_eq!(c.renderer.as_deref(), Some("yaml"));
        assert_eq!(
            c.params,
            [
                ("recurse".to_string(), "true".to_string()),
                ("include".into(), "*.yaml".into()),
                ("exclude".into(), "{secret*,test*}".into())
            ]
        );
        let opt = ARGO.replace("PruneLast=true", "Replace=true");
        assert!(
            refused(&opt).contains("spec.syncPolicy.syncOptions: Replace=true is not supported; use Replace=false (sluice only applies with server-side apply"),
            "{}",
            refused(&opt)
        );
        let opt = ARGO.replace("PruneLast=true", "Turbo=true");
        assert!(refused(&opt).contains("spec.syncPolicy.syncOptions: Turbo is not supported by sluice (it knows CreateNamespace"));
        let jq = ARGO.replace("select(.name == \"istio-init\")", "test(\"x\")");
        assert!(
            refused(&jq).contains("spec.ignoreDifferences[0]: jq path expression"),
            "{}",
            refused(&jq)
        );
        let field = ARGO.replace(
            "revisionHistoryLimit: 5",
            "revisionHistoryLimit: 5\n  sourceHydrator: {}",
        );
        assert!(refused(&field).contains("unknown field `sourceHydrator`"));
        let field = ARGO.replace(
            "namePrefix: prod-",
            "namePrefix: prod-\n      helmCharts: []",
        );
        assert!(refused(&field).contains("unknown field `helmCharts`"));
    }

    #[test]
    fn multi_source_takes_the_one_rendering_source() {
        let multi = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: multi}
spec:
  project: default
  destination: {namespace: web}
  sources:
  - {repoURL: 'https://git.example/values.git', targetRevision: main, ref: values}
  - repoURL: https://git.example/app.git
    path: deploy
    directory: {recurse: true}
"#;
        let app = parse(multi, "m.yaml").expect("parses");
        assert_eq!(app.spec.source.repo_url, "https://git.example/app.git");
        assert_eq!(app.spec.source.path, "deploy");
        assert!(app.extra_sources().is_empty());
        let two = parse(&multi.replace("ref: values}", "path: other}"), "m.yaml").expect("two");
        assert_eq!(two.spec.source.path, "other");
        let extra: Vec<&str> = two
            .extra_sources()
            .iter()
            .map(|s| s.path.as_str())
            .collect();
        assert_eq!(extra, ["deploy"]);
        let helm = multi.replace("ref: values}", "ref: values, chart: redis}");
        assert!(refused(&helm).contains("spec.sources[0].chart: Helm is not supported yet"));
        let none = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: none}
spec: {destination: {namespace: web}}
"#;
        assert!(refused(none).contains("spec.source.repoURL is missing"));
    }

    #[test]
    fn plugin_env_and_parameters_become_params() {
        let app = parse(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: p}
spec:
  source:
    repoURL: .
    path: app
    plugin:
      name: envsubst.wasm
      env: [{name: FOO, value: bar}]
      parameters:
      - {name: image-tag, string: v1}
      - {name: files, array: [a.yaml, b.yaml]}
      - {name: labels, map: {team: a}}
"#,
            "p.yaml",
        )
        .expect("parses");
        let c = app
            .spec
            .source
            .render_config(&argo::BuildEnv::default())
            .expect("config");
        assert_eq!(c.renderer.as_deref(), Some("envsubst.wasm"));
        let p: Vec<(&str, &str)> = c
            .params
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            p,
            [
                ("ARGOCD_ENV_FOO", "bar"),
                ("image-tag", "v1"),
                ("files", "a.yaml"),
                ("files", "b.yaml")
            ]
        );
        assert_eq!(c.structured["labels"], serde_json::json!({"team": "a"}));
    }
}
