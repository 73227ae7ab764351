//! Flux's `GitRepository` + `Kustomization` as an app definition.
//!
//! A file holding Flux `Kustomization`s (`kustomize.toolkit.fluxcd.io/v1`)
//! and the `GitRepository`s (`source.toolkit.fluxcd.io/v1`) their
//! `sourceRef`s name is read as one [`Application`] per Kustomization
//! (`app::parse_all`; the CLI picks one with `--name`):
//! - the repository's `url` and `ref` (`commit`, `name`, `semver` as a
//!   semver revision, `tag`, `branch`, in Flux's order of precedence) are
//!   the source; `path` is the app path;
//! - `prune` is `automated.prune`; drift is always healed (Flux re-applies
//!   at every interval);
//! - `targetNamespace`, `namePrefix`, `nameSuffix`, `images`, `patches`,
//!   `components` and `commonMetadata` become the kustomize renderer's
//!   `overrides`, the way kustomize-controller writes them into the
//!   kustomization it builds (`commonMetadata` labels without selectors,
//!   its annotations overriding); a path without a kustomization is built
//!   from the manifests found below it, as Flux generates one;
//! - `targetNamespace` is also the destination namespace (`default`
//!   without it);
//! - `postBuild.substitute`: Flux's variable substitution, done by the host
//!   on every rendered object ([`substitute`]);
//! - `wait: true` waits for every object to be healthy after applying
//!   (as `sluice sync --wait`; not on a `dir:` target, which has no
//!   health); `force: false` and `retryInterval` are accepted. For
//!   `sluice serve` (kept in [`FluxExtras`]; a single `sluice sync` warns
//!   that it does not act on them): `interval` is the app's poll interval,
//!   `timeout` the deadline of its waits (the CLI's `--timeout` applies to
//!   `sync`), `dependsOn` holds the app until its dependencies are Synced
//!   and Healthy, `healthChecks` objects count towards its health, and
//!   `suspend: true` pauses it;
//! - the GitRepository's `verify` (`mode` and `secretRef`) is the same
//!   signature check as an Application's `spec.source.verify`, with the
//!   trusted keys in a Secret of the GitRepository's namespace
//!   ([`FluxExtras::verify`]; read by `sluice serve` from its cluster, by
//!   a single sync from the destination, see `engine::flux_keys`);
//! - `postBuild.substituteFrom`: the ConfigMaps and Secrets are read from
//!   the destination cluster, in the Kustomization's namespace, by the
//!   caller once connected (`engine::substitute_from`); later ones win,
//!   `substitute` wins over all, newlines are removed from values;
//! - `decryption` (no SOPS yet), `kubeConfig` (no cluster secrets yet),
//!   `serviceAccountName` (no impersonation), `force: true` and sources
//!   other than `GitRepository` are refused, naming the
//!   field. Unknown fields are errors naming them.

use super::argo::{Kustomize, KustomizePatch, KustomizeSelector};
use super::{Application, Automated, Destination, Metadata, Source, Spec, SyncPolicy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The Flux API groups whose objects make an app definition.
pub const GROUPS: &[&str] = &["kustomize.toolkit.fluxcd.io", "source.toolkit.fluxcd.io"];

/// Object metadata as Flux objects carry it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    /// Name.
    pub name: String,
    /// Namespace (`flux-system` in Flux's bootstrap).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A `GitRepository`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GitRepository {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: ObjectMeta,
    spec: GitRepositorySpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GitRepositorySpec {
    url: String,
    #[serde(default, rename = "ref")]
    git_ref: Option<GitRef>,
    #[serde(default)]
    secret_ref: Option<NameRef>,
    // Accepted; a single sync has no use for it.
    #[serde(default)]
    #[allow(dead_code)]
    interval: Option<String>,
    // Accepted; a single sync has no use for it.
    #[serde(default)]
    #[allow(dead_code)]
    timeout: Option<String>,
    #[serde(default)]
    ignore: Option<String>,
    #[serde(default)]
    suspend: bool,
    /// Fetch submodules (the same field as in a sluice Application).
    #[serde(default)]
    recurse_submodules: bool,
    /// Require signatures, with the trusted keys in a Secret.
    #[serde(default)]
    verify: Option<GitVerify>,
}

/// `GitRepository.spec.verify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GitVerify {
    /// `HEAD` (also `head`, Flux v1beta2's spelling, which v1 still
    /// accepts), `Tag` or `TagAndHEAD`; `HEAD` when absent.
    #[serde(default)]
    mode: crate::app::VerifyMode,
    /// The Secret holding the trusted public keys, one per data entry.
    secret_ref: NameRef,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitRef {
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    semver: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    commit: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRef {
    name: String,
}

/// A `Kustomization`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Kustomization {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: ObjectMeta,
    spec: KustomizationSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KustomizationSpec {
    source_ref: SourceRef,
    #[serde(default)]
    path: Option<String>,
    prune: bool,
    /// How often `sluice serve` checks the source (its poll interval for
    /// this app).
    #[serde(default)]
    interval: Option<String>,
    // Accepted; the service retries at its refresh interval.
    #[serde(default)]
    #[allow(dead_code)]
    retry_interval: Option<String>,
    /// The deadline of one sync's waits in `sluice serve` (the CLI's
    /// `--timeout` applies to `sluice sync`).
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    target_namespace: Option<String>,
    #[serde(default)]
    name_prefix: Option<String>,
    #[serde(default)]
    name_suffix: Option<String>,
    #[serde(default)]
    images: Vec<FluxImage>,
    #[serde(default)]
    patches: Vec<FluxPatch>,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    common_metadata: Option<CommonMetadata>,
    #[serde(default)]
    post_build: Option<PostBuildSpec>,
    #[serde(default)]
    depends_on: Vec<DependsOn>,
    #[serde(default)]
    health_checks: Vec<HealthCheck>,
    #[serde(default)]
    wait: bool,
    #[serde(default)]
    suspend: bool,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    decryption: Option<Value>,
    #[serde(default)]
    kube_config: Option<Value>,
    #[serde(default)]
    service_account_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DependsOn {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SourceRef {
    #[serde(default)]
    #[allow(dead_code)]
    api_version: Option<String>,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FluxImage {
    name: String,
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FluxPatch {
    patch: String,
    #[serde(default)]
    target: Option<KustomizeSelector>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonMetadata {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PostBuildSpec {
    #[serde(default)]
    substitute: BTreeMap<String, String>,
    #[serde(default)]
    substitute_from: Vec<SubstituteFrom>,
}

/// `postBuild.substituteFrom[]`: a ConfigMap or Secret in the
/// Kustomization's namespace whose data keys are variables.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstituteFrom {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// A missing one is skipped instead of failing the render.
    #[serde(default)]
    pub optional: bool,
}

/// One of a Kustomization's `healthChecks`: an object whose health counts
/// towards the app's, whether or not the app applies it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheck {
    /// `apiVersion` of the object.
    pub api_version: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace (the Kustomization's when unset, for a namespaced
    /// kind).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// What a Flux Kustomization adds to its [`Application`] that the
/// Application model has no field for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FluxExtras {
    /// `postBuild.substitute` (newlines removed, as Flux does).
    pub substitute: BTreeMap<String, String>,
    /// `postBuild.substituteFrom`, read from the destination cluster.
    pub substitute_from: Vec<SubstituteFrom>,
    /// The Kustomization's namespace, where `substituteFrom` objects are.
    pub namespace: String,
    /// `wait: true`: wait for every applied object to be healthy.
    pub wait: bool,
    /// `dependsOn`: the Kustomizations (`namespace/name`) this one waits
    /// for, for a service that syncs several.
    pub depends_on: Vec<String>,
    /// `suspend: true` on the Kustomization or its GitRepository: the
    /// service compares but does not apply (like a paused app).
    pub suspend: bool,
    /// `interval`: how often the service polls this app's source.
    pub interval: Option<std::time::Duration>,
    /// `timeout`: the deadline of one sync's waits in the service.
    pub timeout: Option<std::time::Duration>,
    /// `healthChecks`: objects whose health counts towards the app's in
    /// the service.
    pub health_checks: Vec<HealthCheck>,
    /// The GitRepository's `secretRef` (namespace, name): its credentials,
    /// read from the cluster by the service.
    pub secret_ref: Option<(String, String)>,
    /// The GitRepository's `verify`: which signatures are required, with
    /// the trusted keys in a Secret of the GitRepository's namespace.
    pub verify: Option<FluxVerify>,
    /// What sluice accepts but does not act on, to tell the user.
    pub warnings: Vec<String>,
}

/// `GitRepository.spec.verify`: the same checks as an Application's
/// `spec.source.verify`, with the keys in a Secret instead of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxVerify {
    /// What must be signed.
    pub mode: crate::app::VerifyMode,
    /// The Secret's namespace (the GitRepository's).
    pub namespace: String,
    /// The Secret's name (`verify.secretRef.name`).
    pub secret: String,
}

/// A Kustomization's duration field, in Go's form (`5m0s`, `1h`).
fn duration(
    app: &str,
    field: &str,
    value: Option<&str>,
) -> Result<Option<std::time::Duration>, String> {
    value
        .map(|v| {
            crate::parse_duration(v).map_err(|e| format!("Kustomization {app}: spec.{field}: {e}"))
        })
        .transpose()
}

/// Whether `docs` (a file's YAML documents) are Flux objects.
pub fn is_flux(docs: &[Value]) -> bool {
    docs.iter().any(|d| {
        d.get("apiVersion")
            .and_then(Value::as_str)
            .and_then(|a| a.split_once('/'))
            .is_some_and(|(g, _)| GROUPS.contains(&g))
    })
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value, what: &str) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{what}: {e}"))
}

/// Read the Flux objects of one file as Applications, one per
/// Kustomization.
pub fn to_applications(docs: &[Value]) -> Result<Vec<Application>, String> {
    let mut repos = Vec::new();
    let mut kustomizations = Vec::new();
    for d in docs {
        let kind = d.get("kind").and_then(Value::as_str).unwrap_or_default();
        let api = d
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = d
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let what = format!("{kind} {name}");
        match (api, kind) {
            ("source.toolkit.fluxcd.io/v1", "GitRepository") => {
                repos.push(typed::<GitRepository>(d, &what)?)
            }
            ("kustomize.toolkit.fluxcd.io/v1", "Kustomization") => {
                kustomizations.push(typed::<Kustomization>(d, &what)?)
            }
            _ => {
                return Err(format!(
                    "{api} {what}: not read by sluice; a Flux app file holds kustomize.toolkit.fluxcd.io/v1 Kustomizations and the source.toolkit.fluxcd.io/v1 GitRepositories they use"
                ));
            }
        }
    }
    if kustomizations.is_empty() {
        return Err("no Flux Kustomization in this file".into());
    }
    kustomizations.iter().map(|k| convert(k, &repos)).collect()
}

/// One Kustomization (and the GitRepository it names, from `repos`) as
/// an Application.
fn convert(k: &Kustomization, repos: &[GitRepository]) -> Result<Application, String> {
    let s = &k.spec;
    let at = format!("Kustomization {}", k.metadata.name);
    let refuse = |field: &str, why: &str| Err(format!("{at}: spec.{field}: {why}"));
    if s.decryption.is_some() {
        return refuse(
            "decryption",
            "not supported yet (sluice has no SOPS decryption); decrypt in CI or keep this Kustomization in Flux",
        );
    }
    if s.kube_config.is_some() {
        return refuse(
            "kubeConfig",
            "not supported yet; sluice syncs to the kubeconfig context you give it (--dest-context)",
        );
    }
    if s.service_account_name.is_some() {
        return refuse(
            "serviceAccountName",
            "not supported: sluice applies as the kubeconfig's user and does not impersonate",
        );
    }
    if s.force {
        return refuse(
            "force",
            "true is not supported: sluice only applies with server-side apply and never deletes and recreates an object",
        );
    }
    let post = s.post_build.clone();
    for f in post.iter().flat_map(|p| &p.substitute_from) {
        if f.kind != "ConfigMap" && f.kind != "Secret" {
            return refuse(
                "postBuild.substituteFrom",
                &format!(
                    "kind {:?} of {} must be ConfigMap or Secret",
                    f.kind, f.name
                ),
            );
        }
    }
    if s.source_ref.kind != "GitRepository" {
        return refuse(
            "sourceRef.kind",
            &format!(
                "{} is not supported; sluice reads GitRepository sources",
                s.source_ref.kind
            ),
        );
    }
    let ns = s
        .source_ref
        .namespace
        .clone()
        .or_else(|| k.metadata.namespace.clone());
    let repo = repos
        .iter()
        .find(|r| r.metadata.name == s.source_ref.name && r.metadata.namespace == ns)
        .ok_or_else(|| {
            format!(
                "{at}: spec.sourceRef names GitRepository {}{}, which is not in this file; put it next to the Kustomization",
                ns.as_deref().map(|n| format!("{n}/")).unwrap_or_default(),
                s.source_ref.name
            )
        })?;
    let r = repo.spec.git_ref.clone().unwrap_or_default();
    // Flux's precedence: commit, name, semver, tag, branch (master when
    // none). A semver range is sluice's semver revision; a bare version is
    // made an exact constraint.
    let semver = r.semver.clone().map(|v| {
        let v = v.trim().to_string();
        if v.contains(['<', '>', '=', '~', '^', '*', ' ', ',']) || v.ends_with(".x") {
            v
        } else {
            format!("={v}")
        }
    });
    let revision = r
        .commit
        .clone()
        .or(r.name.clone())
        .or(semver)
        .or(r.tag.clone())
        .or(r.branch.clone())
        .or(Some("master".into()));
    let mut warnings = Vec::new();
    let app = &k.metadata.name;
    if repo.spec.secret_ref.is_some() {
        warnings.push(format!(
            "app {app}: GitRepository {}: spec.secretRef {} is read by sluice serve from its cluster; a single sluice sync does not read Secrets: give the credentials with --git-credentials",
            repo.metadata.name,
            repo.spec.secret_ref.as_ref().map(|r| r.name.as_str()).unwrap_or_default()
        ));
    }
    let secret_ref = repo.spec.secret_ref.as_ref().map(|r| {
        let ns = repo
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        (ns, r.name.clone())
    });
    let verify = repo.spec.verify.as_ref().map(|v| FluxVerify {
        mode: v.mode,
        namespace: repo
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        secret: v.secret_ref.name.clone(),
    });
    if repo.spec.ignore.is_some() {
        warnings.push(format!(
            "app {app}: GitRepository {}: spec.ignore has no effect (sluice reads only the files the renderer asks for)",
            repo.metadata.name
        ));
    }
    for (on, field) in [
        (!s.depends_on.is_empty(), "dependsOn"),
        (!s.health_checks.is_empty(), "healthChecks"),
        (s.suspend || repo.spec.suspend, "suspend"),
    ] {
        if on {
            warnings.push(format!(
                "app {app}: spec.{field} is accepted but a single sluice sync does not act on it (sluice serve does)"
            ));
        }
    }
    let images = s
        .images
        .iter()
        .map(|i| {
            let target = i.new_name.clone().unwrap_or_else(|| i.name.clone());
            let mut text = if i.new_name.is_some() {
                format!("{}={target}", i.name)
            } else {
                target
            };
            if let Some(d) = &i.digest {
                text.push('@');
                text.push_str(d);
            } else if let Some(t) = &i.new_tag {
                text.push(':');
                text.push_str(t);
            }
            text
        })
        .collect();
    let meta = s.common_metadata.clone();
    let kustomize = Kustomize {
        name_prefix: s.name_prefix.clone(),
        name_suffix: s.name_suffix.clone(),
        namespace: s.target_namespace.clone(),
        images,
        patches: s
            .patches
            .iter()
            .map(|p| KustomizePatch {
                patch: Some(p.patch.clone()),
                target: p.target.clone(),
                ..KustomizePatch::default()
            })
            .collect(),
        components: s.components.clone(),
        common_labels: meta.as_ref().map(|m| m.labels.clone()).unwrap_or_default(),
        label_without_selector: true,
        force_common_labels: true,
        common_annotations: meta.map(|m| m.annotations).unwrap_or_default(),
        force_common_annotations: true,
        generate: true,
        ..Kustomize::default()
    };
    let path = s.path.clone().unwrap_or_default();
    let path = path.trim_start_matches("./").to_string();
    Ok(Application {
        api_version: "sluice.dev/v1alpha1".into(),
        kind: "Application".into(),
        metadata: Metadata {
            name: k.metadata.name.clone(),
            namespace: k.metadata.namespace.clone(),
            labels: k.metadata.labels.clone(),
            annotations: k.metadata.annotations.clone(),
            ..Metadata::default()
        },
        spec: Spec {
            source: Source {
                repo_url: repo.spec.url.clone(),
                target_revision: revision,
                path,
                kustomize: Some(kustomize),
                recurse_submodules: repo.spec.recurse_submodules,
                ..Source::default()
            },
            destination: Destination {
                namespace: s.target_namespace.clone(),
                ..Destination::default()
            },
            sync_policy: SyncPolicy {
                automated: Some(Automated {
                    prune: s.prune,
                    self_heal: true,
                    ..Automated::default()
                }),
                ..SyncPolicy::default()
            },
            ..Spec::default()
        },
        flux: Some(FluxExtras {
            substitute: post
                .as_ref()
                .map(|p| {
                    p.substitute
                        .iter()
                        .map(|(k, v)| (k.clone(), v.replace('\n', "")))
                        .collect()
                })
                .unwrap_or_default(),
            substitute_from: post.map(|p| p.substitute_from).unwrap_or_default(),
            namespace: k
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            wait: s.wait,
            depends_on: s
                .depends_on
                .iter()
                .map(|d| {
                    let ns = d
                        .namespace
                        .clone()
                        .or_else(|| k.metadata.namespace.clone())
                        .unwrap_or_else(|| "default".into());
                    format!("{ns}/{}", d.name)
                })
                .collect(),
            suspend: s.suspend || repo.spec.suspend,
            interval: duration(app, "interval", s.interval.as_deref())?,
            timeout: duration(app, "timeout", s.timeout.as_deref())?,
            health_checks: s.health_checks.clone(),
            secret_ref,
            verify,
            warnings,
        }),
    })
}

/// The order in which to sync `apps` so each comes after the
/// Kustomizations its `dependsOn` names (Flux waits for them to be Ready):
/// indices into `apps`, dependencies first, otherwise in file order. A
/// dependency missing from `apps`, or a cycle, is an error naming it.
pub fn dependency_order(apps: &[Application]) -> Result<Vec<usize>, String> {
    let key = |a: &Application| {
        let ns = a
            .flux
            .as_ref()
            .map(|f| f.namespace.clone())
            .unwrap_or_else(|| "default".into());
        format!("{ns}/{}", a.metadata.name)
    };
    let keys: Vec<String> = apps.iter().map(key).collect();
    let deps = |i: usize| -> Vec<String> {
        apps[i]
            .flux
            .as_ref()
            .map(|f| f.depends_on.clone())
            .unwrap_or_default()
    };
    for i in 0..apps.len() {
        for d in deps(i) {
            if !keys.contains(&d) {
                return Err(format!(
                    "Kustomization {} depends on {d}, which is not among the apps given",
                    keys[i]
                ));
            }
        }
    }
    // 0: not visited, 1: on the path, 2: done.
    fn visit(
        i: usize,
        keys: &[String],
        deps: &dyn Fn(usize) -> Vec<String>,
        state: &mut [u8],
        path: &mut Vec<String>,
        out: &mut Vec<usize>,
    ) -> Result<(), String> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                path.push(keys[i].clone());
                return Err(format!("dependsOn cycle: {}", path.join(" -> ")));
            }
            _ => {}
        }
        state[i] = 1;
        path.push(keys[i].clone());
        for d in deps(i) {
            if let Some(j) = keys.iter().position(|k| *k == d) {
                visit(j, keys, deps, state, path, out)?;
            }
        }
        path.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    let mut state = vec![0u8; apps.len()];
    let mut out = Vec::with_capacity(apps.len());
    for i in 0..apps.len() {
        visit(i, &keys, &deps, &mut state, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// The annotation (or label) that turns substitution off for one object.
pub const SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The error of [`substitute`].
#[derive(Debug, thiserror::Error)]
pub enum SubstituteError {
    /// A variable name Flux refuses.
    #[error(
        "postBuild.substitute: variable name {name:?} is invalid, it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
    )]
    BadName {
        /// The name.
        name: String,
    },
    /// An expression outside the supported syntax.
    #[error(
        "{object}: ${{{expr}}} is not supported (sluice substitutes $var, ${{var}}, ${{var:=default}}, ${{var:-default}}, ${{var=default}}, ${{var-default}}; write $$ for a literal $, or annotate the object {SUBSTITUTE}: disabled)"
    )]
    Unsupported {
        /// The object.
        object: String,
        /// The expression inside `${}`.
        expr: String,
    },
    /// The object is not valid YAML after substitution.
    #[error("{object}: not valid YAML after variable substitution: {message}")]
    Yaml {
        /// The object.
        object: String,
        /// The parser's message.
        message: String,
    },
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f == '_' || f.is_ascii_alphabetic())
        && c.all(|x| x == '_' || x.is_ascii_alphanumeric())
}

fn expand(
    text: &str,
    vars: &BTreeMap<String, String>,
    object: &str,
) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str("${");
                rest = inner;
                continue;
            };
            let expr = &inner[..end];
            let n = expr
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(n);
            if !valid_name(name) {
                return Err(SubstituteError::Unsupported {
                    object: object.into(),
                    expr: expr.into(),
                });
            }
            let value = vars.get(name);
            let got = match op {
                "" => value.cloned().unwrap_or_default(),
                _ if op.starts_with(":=") || op.starts_with(":-") => value
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| op[2..].to_string()),
                _ if op.starts_with('=') || op.starts_with('-') => {
                    value.cloned().unwrap_or_else(|| op[1..].to_string())
                }
                _ => {
                    return Err(SubstituteError::Unsupported {
                        object: object.into(),
                        expr: expr.into(),
                    });
                }
            };
            out.push_str(&got);
            rest = &inner[end + 1..];
        } else {
            let n = after
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(after.len());
            let name = &after[..n];
            if valid_name(name) {
                out.push_str(vars.get(name).map(String::as_str).unwrap_or_default());
                rest = &after[n..];
            } else {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Flux's `postBuild.substitute` on one rendered object, as
/// kustomize-controller does it: nothing when there are no variables or
/// the object is labelled or annotated
/// `kustomize.toolkit.fluxcd.io/substitute: disabled`; otherwise the
/// object is written as YAML, `$var`, `${var}` and the default forms are
/// replaced (an unknown variable becomes empty, `$$` a literal `$`), and
/// the YAML is read back, so `replicas: ${REPLICAS}` becomes a number.
pub fn substitute(
    value: &Value,
    vars: &BTreeMap<String, String>,
    object: &str,
) -> Result<Option<Value>, SubstituteError> {
    if vars.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = vars.keys().find(|k| !valid_name(k)) {
        return Err(SubstituteError::BadName { name: bad.clone() });
    }
    for m in ["labels", "annotations"] {
        if value
            .pointer(&format!("/metadata/{m}"))
            .and_then(|l| l.get(SUBSTITUTE))
            .and_then(Value::as_str)
            == Some("disabled")
        {
            return Ok(None);
        }
    }
    let yaml = serde_norway::to_string(value).map_err(|e| SubstituteError::Yaml {
        object: object.into(),
        message: e.to_string(),
    })?;
    let out = expand(&yaml, vars, object)?;
    let v: Value = serde_norway::from_str(&out).map_err(|e| SubstituteError::Yaml {
        object: object.into(),
        message: e.to_string(),
    })?;
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn substitution_follows_flux() {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo"},
            "spec": {"replicas": "${REPLICAS}", "template": {"spec": {"containers": [{"name": "c",
                "image": "ghcr.io/stefanprodan/podinfo:${TAG:=6.5.0}",
                "env": [{"name": "A", "value": "${ENV:-dev}-$CLUSTER-$${KEEP}-${MISSING}"}]}]}}}});
        let got = substitute(
            &v,
            &vars(&[("REPLICAS", "3"), ("CLUSTER", "eu"), ("ENV", "")]),
            "d",
        )
        .expect("ok")
        .expect("substituted");
        assert_eq!(got["spec"]["replicas"], 3);
        let c = &got["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "ghcr.io/stefanprodan/podinfo:6.5.0");
        assert_eq!(c["env"][0]["value"], "dev-eu-${KEEP}-");
        // No variables: nothing is substituted, as in Flux.
        assert!(substitute(&v, &BTreeMap::new(), "d").expect("ok").is_none());
        // The opt-out.
        let mut off = v.clone();
        off["metadata"]["annotations"] = json!({SUBSTITUTE: "disabled"});
        assert!(
            substitute(&off, &vars(&[("REPLICAS", "3")]), "d")
                .expect("ok")
                .is_none()
        );
        // Unsupported forms and bad names are named.
        let e = substitute(&json!({"a": "${X^^}"}), &vars(&[("X", "x")]), "cm/x").expect_err("bad");
        assert!(
            e.to_string().contains("cm/x: ${X^^} is not supported"),
            "{e}"
        );
        let e = substitute(&v, &vars(&[("1X", "x")]), "d").expect_err("bad");
        assert!(
            e.to_string().contains("variable name \"1X\" is invalid"),
            "{e}"
        );
    }

    /// Flux's podinfo example: a GitRepository and a Kustomization.
    pub(crate) const PODINFO: &str = "---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m0s
  url: https://github.com/stefanprodan/podinfo
  ref:
    branch: master
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 30m0s
  path: ./kustomize
  prune: true
  retryInterval: 2m0s
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: default
  timeout: 3m0s
  wait: true
  postBuild:
    substitute:
      cluster_env: prod
";

    #[test]
    fn podinfo_reads_as_an_application() {
        let app = crate::app::parse(PODINFO, "podinfo.yaml").expect("parses");
        assert_eq!(app.metadata.name, "podinfo");
        assert_eq!(
            app.spec.source.repo_url,
            "https://github.com/stefanprodan/podinfo"
        );
        assert_eq!(app.spec.source.target_revision.as_deref(), Some("master"));
        assert_eq!(app.spec.source.path, "kustomize");
        assert_eq!(app.spec.destination.namespace.as_deref(), Some("default"));
        assert!(app.prune());
        for (semver, want) in [
            ("6.5.x", "6.5.x"),
            (">=6.0.0 <7.0.0", ">=6.0.0 <7.0.0"),
            ("6.5.0", "=6.5.0"),
        ] {
            let pinned = crate::app::parse(
                &PODINFO.replace(
                    "    branch: master\n",
                    &format!("    branch: master\n    semver: \"{semver}\"\n"),
                ),
                "p.yaml",
            )
            .expect("semver");
            assert_eq!(pinned.spec.source.target_revision.as_deref(), Some(want));
        }
        let f = app.flux.as_ref().expect("flux");
        assert_eq!(f.substitute, vars(&[("cluster_env", "prod")]));
        let c = app
            .spec
            .source
            .render_config(&crate::app::argo::BuildEnv::default())
            .expect("config");
        assert_eq!(c.renderer.as_deref(), Some("kustomize"));
        assert_eq!(c.structured["overrides"]["namespace"], "default");
        assert_eq!(c.structured["overrides"]["generate"], true);
    }

    #[test]
    fn git_repository_verify_takes_fluxs_modes_and_a_secret_in_its_namespace() {
        use crate::app::VerifyMode;
        let with = |verify: &str| {
            crate::app::parse(
                &PODINFO.replace(
                    "    branch: master\n",
                    &format!("    branch: master\n  verify: {verify}\n"),
                ),
                "v.yaml",
            )
        };
        for (mode, want) in [
            ("mode: HEAD, ", VerifyMode::Head),
            ("mode: head, ", VerifyMode::Head),
            ("", VerifyMode::Head),
            ("mode: Tag, ", VerifyMode::Tag),
            ("mode: TagAndHEAD, ", VerifyMode::TagAndHead),
        ] {
            let app = with(&format!("{{{mode}secretRef: {{name: pgp-public-keys}}}}"))
                .unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(
                app.flux.and_then(|f| f.verify),
                Some(FluxVerify {
                    mode: want,
                    namespace: "flux-system".into(),
                    secret: "pgp-public-keys".into(),
                }),
                "{mode}"
            );
            // The sluice form stays unset: the keys are not in a file.
            assert!(app.spec.source.verify.is_none());
        }
        let e = with("{mode: HEAD}").expect_err("no secretRef");
        assert!(e.to_string().contains("secretRef"), "{e}");
        let e = with("{mode: Commit, secretRef: {name: k}}").expect_err("bad mode");
        assert!(e.to_string().contains("Commit"), "{e}");
        let none = crate::app::parse(PODINFO, "p.yaml").expect("parses");
        assert_eq!(none.flux.and_then(|f| f.verify), None);
    }

    #[test]
    fn flux_fields_sluice_cannot_honour_are_refused_by_name() {
        let refused = |yaml: &str| {
            crate::app::parse(yaml, "f.yaml")
                .expect_err("refused")
                .to_string()
        };
        let sops = PODINFO.replace(
            "  wait: true\n",
            "  wait: true\n  decryption: {provider: sops}\n",
        );
        assert!(
            refused(&sops).contains("f.yaml: not a valid Application: Kustomization podinfo: spec.decryption: not supported yet (sluice has no SOPS decryption)"),
            "{}",
            refused(&sops)
        );
        let from = PODINFO.replace(
            "      cluster_env: prod\n",
            "      cluster_env: prod\n    substituteFrom: [{kind: Bucket, name: vars}]\n",
        );
        assert!(
            refused(&from).contains(
                "spec.postBuild.substituteFrom: kind \"Bucket\" of vars must be ConfigMap or Secret"
            ),
            "{}",
            refused(&from)
        );
        let typo = PODINFO.replace("  prune: true\n", "  prune: true\n  prunne: true\n");
        assert!(
            refused(&typo).contains("unknown field `prunne`"),
            "{}",
            refused(&typo)
        );
        let other = PODINFO.replace(
            "    name: podinfo\n  targetNamespace",
            "    name: other\n  targetNamespace",
        );
        assert!(
            refused(&other).contains(
                "spec.sourceRef names GitRepository flux-system/other, which is not in this file"
            ),
            "{}",
            refused(&other)
        );
        let two = format!(
            "{PODINFO}---\n{}",
            PODINFO
                .split("---\n")
                .nth(2)
                .expect("kustomization")
                .replace(
                    "  name: podinfo\n  namespace",
                    "  name: frontend\n  namespace"
                )
                .replace(
                    "  prune: true\n",
                    "  prune: true\n  dependsOn: [{name: podinfo}]\n"
                )
        );
        assert!(
            refused(&two).contains("f.yaml holds 2 apps (podinfo, frontend); name one with --name"),
            "{}",
            refused(&two)
        );
        let apps = crate::app::parse_all(&two, "f.yaml").expect("both");
        assert_eq!(apps.len(), 2);
        let front = &apps[1];
        assert_eq!(front.metadata.name, "frontend");
        assert_eq!(
            front.flux.as_ref().map(|f| f.depends_on.clone()),
            Some(vec!["flux-system/podinfo".to_string()])
        );
        // The dependency first, whatever the file order.
        let reversed = vec![apps[1].clone(), apps[0].clone()];
        assert_eq!(dependency_order(&reversed), Ok(vec![1, 0]));
        let mut cyclic = reversed.clone();
        if let Some(f) = cyclic[1].flux.as_mut() {
            f.depends_on = vec!["flux-system/frontend".into()];
        }
        assert_eq!(
            dependency_order(&cyclic),
            Err("dependsOn cycle: flux-system/frontend -> flux-system/podinfo -> flux-system/frontend".into())
        );
        assert!(
            dependency_order(&reversed[..1])
                .expect_err("missing")
                .contains("flux-system/frontend depends on flux-system/podinfo, which is not among the apps given")
        );
        let picked = crate::app::select(apps, Some("frontend"), "f.yaml").expect("picked");
        assert_eq!(picked.metadata.name, "frontend");
    }
}
