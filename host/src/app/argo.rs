//! Argo CD's Application fields beyond sluice's own, and what each becomes.
//!
//! An existing `argoproj.io/v1alpha1` Application is read as it is:
//! - `source.directory` → the `yaml` renderer: `recurse`, `include`,
//!   `exclude` become its parameters of those names. Argo CD matches a
//!   glob against the path relative to the app directory with `*`
//!   crossing `/`; the yaml renderer matches a glob without `/` against
//!   the file name too, and its `*` stays within one directory (use `**`).
//!   A non-empty `jsonnet` (or `disableExtensionFilter: true`) is refused:
//!   sluice has no Jsonnet renderer yet.
//! - `source.kustomize` → the `kustomize` renderer's `overrides` parameter:
//!   the edits Argo CD makes to the top-level kustomization with
//!   `kustomize edit`, made by the renderer on the parsed file. Images
//!   are written `[old=]new[:tag|@digest]` as for `kustomize edit set
//!   image`; `${ARGOCD_APP_NAME}`-style variables in images and
//!   `commonLabels` (and in `commonAnnotations` with
//!   `commonAnnotationsEnvsubst`) are replaced first, as Argo CD does.
//!   `version`, `kubeVersion` and `apiVersions` are accepted and have no
//!   effect (one kustomize is built in; the Helm inflation they feed is
//!   refused by the renderer).
//! - `source.plugin` → the renderer of that name (built-in, or a `.wasm`
//!   path); each `env` entry becomes parameter `ARGOCD_ENV_<name>` (the
//!   name an Argo CD config-management plugin reads), each `parameters`
//!   entry parameter `<name>` (an `array` repeats it; a `map` goes in the
//!   structured parameters under its name).
//! - `source.helm` and `source.chart` are refused: Helm is not supported
//!   yet, and a chart is never rendered as plain YAML.
//! - `sources`: sources with only a `ref` (Argo CD's value-file sources)
//!   render nothing (Helm value files are their only use); every other
//!   source is rendered with its own fields, and the objects of all are
//!   synced as one app (the first is `spec.source`; see
//!   [`super::Application::extra_sources`]).
//! - `ignoreDifferences` → [`crate::diff::ignore`] rules, honoured by diff
//!   and by sync.
//! - `info`, `revisionHistoryLimit`: kept. `project` is kept, but its
//!   restrictions are not enforced: [`super::Application::warnings`] says so.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `spec.source.directory`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Directory {
    /// Descend into sub-directories.
    #[serde(default)]
    pub recurse: bool,
    /// A glob of files to take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// A glob of files to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// Jsonnet options: refused when set (no Jsonnet renderer yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<Jsonnet>,
    /// Read files of any extension: refused when `true`.
    #[serde(default)]
    pub disable_extension_filter: bool,
}

/// `spec.source.directory.jsonnet`: accepted only empty (Argo CD writes
/// `jsonnet: {}` for plain directories).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Jsonnet {
    /// External variables.
    #[serde(default)]
    pub ext_vars: Vec<Value>,
    /// Top-level arguments.
    #[serde(default)]
    pub tlas: Vec<Value>,
    /// Library paths.
    #[serde(default)]
    pub libs: Vec<String>,
}

impl Jsonnet {
    fn is_empty(&self) -> bool {
        self.ext_vars.is_empty() && self.tlas.is_empty() && self.libs.is_empty()
    }
}

/// `spec.source.kustomize`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kustomize {
    /// Prefix added to every name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Suffix added to every name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// Image overrides, `[old=]new[:tag|@digest]`.
    #[serde(default)]
    pub images: Vec<String>,
    /// Labels added to every object (and selector).
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Argo CD's kustomize version choice (one is built in: no effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Annotations added to every object.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Override labels the kustomization already sets.
    #[serde(default)]
    pub force_common_labels: bool,
    /// Override annotations the kustomization already sets.
    #[serde(default)]
    pub force_common_annotations: bool,
    /// The namespace of every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Replace `${ARGOCD_APP_*}` variables in annotation values.
    #[serde(default)]
    pub common_annotations_envsubst: bool,
    /// Replica counts by workload name.
    #[serde(default)]
    pub replicas: Vec<KustomizeReplica>,
    /// Patches appended to the kustomization's.
    #[serde(default)]
    pub patches: Vec<KustomizePatch>,
    /// Components appended to the kustomization's.
    #[serde(default)]
    pub components: Vec<String>,
    /// Leave out components whose directory does not exist.
    #[serde(default)]
    pub ignore_missing_components: bool,
    /// Add `commonLabels` without touching selectors.
    #[serde(default)]
    pub label_without_selector: bool,
    /// Passed to Helm charts inflated by kustomize (no effect in sluice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// Passed to Helm charts inflated by kustomize (no effect in sluice).
    #[serde(default)]
    pub api_versions: Vec<String>,
    /// With `labelWithoutSelector`, label pod templates too.
    #[serde(default)]
    pub label_include_templates: bool,
    /// Build a directory without a kustomization from the manifests below
    /// it (Flux's behaviour; not an Argo CD field).
    #[serde(skip)]
    pub generate: bool,
}

/// A replica count: a number, or a string holding one (Argo CD's
/// `intstr`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string that must hold a number.
    String(String),
}

/// `spec.source.kustomize.replicas[]`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KustomizeReplica {
    /// The workload's name.
    pub name: String,
    /// Its replica count.
    pub count: IntOrString,
}

/// `spec.source.kustomize.patches[]` (kustomize's patch form).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizePatch {
    /// A patch file, relative to the kustomization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An inline patch (strategic merge or JSON 6902).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Which objects it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
    /// Patch options (`allowNameChange`, `allowKindChange`).
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// A patch target.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizeSelector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Annotation selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
}

/// `spec.source.plugin`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    /// The renderer: a built-in name or a `.wasm` path; detected when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Variables, passed as parameters `ARGOCD_ENV_<name>`.
    #[serde(default)]
    pub env: Vec<EnvEntry>,
    /// Parameters.
    #[serde(default)]
    pub parameters: Vec<PluginParameter>,
}

/// `spec.source.plugin.env[]`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvEntry {
    /// Name, without the `ARGOCD_ENV_` prefix.
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// `spec.source.plugin.parameters[]`: one of `string`, `array`, `map`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginParameter {
    /// Name.
    pub name: String,
    /// A string value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// A list value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
    /// A map value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
}

/// `spec.ignoreDifferences[]`: fields of matching objects that diff does
/// not compare and sync does not send.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IgnoreDifferences {
    /// API group (empty: the core group).
    #[serde(default)]
    pub group: String,
    /// Kind (`*` for any).
    pub kind: String,
    /// Object name (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Object namespace (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// RFC 6901 pointers.
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// jq path expressions (the subset [`crate::diff::ignore`] documents).
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    /// Field managers whose fields are ignored.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// `spec.info[]`: shown by Argo CD's UI; kept.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Info {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// `spec.syncPolicy.managedNamespaceMetadata`: labels and annotations
/// for the namespace `CreateNamespace=true` creates.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedNamespaceMetadata {
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Argo CD's build environment: the variables `${...}` in
/// `source.kustomize` may name.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// `ARGOCD_APP_NAME`.
    pub app_name: String,
    /// `ARGOCD_APP_NAMESPACE` (the destination namespace).
    pub namespace: String,
    /// `ARGOCD_APP_PROJECT_NAME`.
    pub project: String,
    /// `ARGOCD_APP_REVISION` (the commit).
    pub revision: String,
    /// `ARGOCD_APP_SOURCE_PATH`.
    pub path: String,
    /// `ARGOCD_APP_SOURCE_REPO_URL`.
    pub repo_url: String,
    /// `ARGOCD_APP_SOURCE_TARGET_REVISION`.
    pub target_revision: String,
}

impl BuildEnv {
    fn get(&self, name: &str) -> String {
        let short = |n: usize| self.revision.chars().take(n).collect::<String>();
        match name {
            "ARGOCD_APP_NAME" => self.app_name.clone(),
            "ARGOCD_APP_NAMESPACE" => self.namespace.clone(),
            "ARGOCD_APP_PROJECT_NAME" => self.project.clone(),
            "ARGOCD_APP_REVISION" => self.revision.clone(),
            "ARGOCD_APP_REVISION_SHORT" => short(7),
            "ARGOCD_APP_REVISION_SHORT_8" => short(8),
            "ARGOCD_APP_SOURCE_PATH" => self.path.clone(),
            "ARGOCD_APP_SOURCE_REPO_URL" => self.repo_url.clone(),
            "ARGOCD_APP_SOURCE_TARGET_REVISION" => self.target_revision.clone(),
            _ => String::new(),
        }
    }

    /// Replace `$NAME` and `${NAME}` as Argo CD's `Env.Envsubst` does (Go's
    /// `os.Expand`): unknown names become empty, `$$` is `$`.
    pub fn envsubst(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => {
                        out.push_str(&self.get(&inner[..end]));
                        rest = &inner[end + 1..];
                    }
                    None => {
                        // Go drops a `${` without its closing brace.
                        rest = "";
                    }
                }
            } else if let Some(after) = after.strip_prefix('$') {
                out.push('$');
                rest = after;
            } else {
                let n = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                if n == 0 {
                    out.push('$');
                } else {
                    out.push_str(&self.get(&after[..n]));
                }
                rest = &after[n..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// A kustomize image override from Argo CD's `[old=]new[:tag|@digest]`,
/// parsed as `kustomize edit set image` parses its arguments.
pub fn parse_image(arg: &str) -> Value {
    let (name, new) = match arg.split_once('=') {
        Some((old, new)) => (Some(old), new),
        None => (None, arg),
    };
    let (image, tag, digest) = match new.split_once('@') {
        Some((i, d)) => (i, "", d),
        None => match new.rsplit_once(':') {
            Some((i, t))
                if t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
            {
                (i, t, "")
            }
            _ => (new, "", ""),
        },
    };
    let mut m = Map::new();
    match name {
        Some(old) => {
            m.insert("name".into(), json!(old));
            m.insert("newName".into(), json!(image));
        }
        None => {
            m.insert("name".into(), json!(image));
        }
    }
    if !tag.is_empty() {
        m.insert("newTag".into(), json!(tag));
    }
    if !digest.is_empty() {
        m.insert("digest".into(), json!(digest));
    }
    Value::Object(m)
}

impl Kustomize {
    /// The `overrides` parameter of the kustomize renderer; `None` when no
    /// field changes anything. Fails on a replica count that is not a
    /// number.
    pub fn overrides(&self, env: &BuildEnv) -> Result<Option<Value>, String> {
        let mut o = Map::new();
        let mut put = |k: &str, v: Value| {
            o.insert(k.to_string(), v);
        };
        if let Some(p) = self.name_prefix.as_ref().filter(|p| !p.is_empty()) {
            put("namePrefix", json!(p));
        }
        if let Some(s) = self.name_suffix.as_ref().filter(|s| !s.is_empty()) {
            put("nameSuffix", json!(s));
        }
        if let Some(n) = self.namespace.as_ref().filter(|n| !n.is_empty()) {
            put("namespace", json!(n));
        }
        if !self.images.is_empty() {
            let images: Vec<Value> = self
                .images
                .iter()
                .map(|i| parse_image(&env.envsubst(i)))
                .collect();
            put("images", Value::Array(images));
        }
        if !self.replicas.is_empty() {
            let mut rs = Vec::new();
            for r in &self.replicas {
                let count = match &r.count {
                    IntOrString::Int(n) => *n,
                    IntOrString::String(s) => s.trim().parse::<i64>().map_err(|_| {
                        format!(
                            "spec.source.kustomize.replicas: count {s:?} of {} is not a number",
                            r.name
                        )
                    })?,
                };
                rs.push(json!({"name": r.name, "count": count}));
            }
            put("replicas", Value::Array(rs));
        }
        if !self.common_labels.is_empty() {
            let labels: Map<String, Value> = self
                .common_labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(env.envsubst(v))))
                .collect();
            put("commonLabels", Value::Object(labels));
            put("forceCommonLabels", json!(self.force_common_labels));
            put("labelWithoutSelector", json!(self.label_without_selector));
            put("labelIncludeTemplates", json!(self.label_include_templates));
        }
        if !self.common_annotations.is_empty() {
            let ann: Map<String, Value> = self
                .common_annotations
                .iter()
                .map(|(k, v)| {
                    let v = if self.common_annotations_envsubst {
                        env.envsubst(v)
                    } else {
                        v.clone()
                    };
                    (k.clone(), json!(v))
                })
                .collect();
            put("commonAnnotations", Value::Object(ann));
            put(
                "forceCommonAnnotations",
                json!(self.force_common_annotations),
            );
        }
        if !self.patches.is_empty() {
            put(
                "patches",
                serde_json::to_value(&self.patches).unwrap_or_default(),
            );
        }
        if !self.components.is_empty() {
            put("components", json!(self.components));
            put(
                "ignoreMissingComponents",
                json!(self.ignore_missing_components),
            );
        }
        if self.generate {
            put("generate", json!(true));
        }
        Ok((!o.is_empty()).then_some(Value::Object(o)))
    }
}

/// A source's renderer settings from its Argo CD fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderConfig {
    /// The renderer those fields imply (`yaml`, `kustomize`, a plugin's).
    pub renderer: Option<String>,
    /// String parameters.
    pub params: Vec<(String, String)>,
    /// Structured parameters.
    pub structured: Map<String, Value>,
}

impl super::Source {
    /// What the Argo CD fields of this source ask of the renderer.
    /// Checked by [`super::parse`] first, so only a bad replica count can
    /// fail here.
    pub fn render_config(&self, env: &BuildEnv) -> Result<RenderConfig, String> {
        let mut c = RenderConfig::default();
        if let Some(d) = &self.directory {
            c.renderer = Some("yaml".into());
            if d.recurse {
                c.params.push(("recurse".into(), "true".into()));
            }
            for (k, v) in [("include", &d.include), ("exclude", &d.exclude)] {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    c.params.push((k.into(), v.clone()));
                }
            }
        }
        if let Some(k) = &self.kustomize {
            c.renderer = Some("kustomize".into());
            if let Some(o) = k.overrides(env)? {
                c.structured.insert("overrides".into(), o);
            }
        }
        if let Some(p) = &self.plugin {
            c.renderer = p.name.clone().filter(|n| !n.is_empty());
            for e in &p.env {
                c.params
                    .push((format!("ARGOCD_ENV_{}", e.name), e.value.clone()));
            }
            for p in &p.parameters {
                if let Some(s) = &p.string {
                    c.params.push((p.name.clone(), s.clone()));
                }
                for s in p.array.iter().flatten() {
                    c.params.push((p.name.clone(), s.clone()));
                }
                if let Some(m) = &p.map {
                    c.structured.insert(p.name.clone(), json!(m));
                }
            }
        }
        Ok(c)
    }

    /// The Argo CD fields sluice refuses, as a message naming the field.
    pub(super) fn check(&self, at: &str) -> Result<(), String> {
        if self.helm.is_some() || self.chart.is_some() {
            let f = if self.helm.is_some() { "helm" } else { "chart" };
            return Err(format!(
                "{at}.{f}: Helm is not supported yet; render the chart to YAML in CI and point the app at that, or keep this app in Argo CD for now"
            ));
        }
        let kinds: Vec<&str> = [
            ("directory", self.directory.is_some()),
            ("kustomize", self.kustomize.is_some()),
            ("plugin", self.plugin.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect();
        if kinds.len() > 1 {
            return Err(format!(
                "{at}: {} are set together; a source has one type (Argo CD refuses this too)",
                kinds.join(" and ")
            ));
        }
        if let Some(d) = &self.directory {
            if d.jsonnet.as_ref().is_some_and(|j| !j.is_empty()) {
                return Err(format!(
                    "{at}.directory.jsonnet: Jsonnet is not supported yet (sluice has no Jsonnet renderer); render it to YAML in CI, or remove the jsonnet block"
                ));
            }
            if d.disable_extension_filter {
                return Err(format!(
                    "{at}.directory.disableExtensionFilter: not supported; the yaml renderer reads .yaml, .yml and .json files only"
                ));
            }
        }
        for p in self.plugin.iter().flat_map(|p| &p.parameters) {
            let n = [p.string.is_some(), p.array.is_some(), p.map.is_some()]
                .iter()
                .filter(|b| **b)
                .count();
            if n > 1 {
                return Err(format!(
                    "{at}.plugin.parameters: {} has more than one of string, array and map",
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// Whether this source renders objects: Argo CD skips a source with a
    /// `ref` and no path (it only lends its files to other sources).
    pub fn renders(&self) -> bool {
        !(self.ref_.is_some() && self.path.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_parse_as_kustomize_edit_set_image() {
        assert_eq!(
            parse_image("nginx=registry.local/nginx:1.25"),
            json!({"name": "nginx", "newName": "registry.local/nginx", "newTag": "1.25"})
        );
        assert_eq!(
            parse_image("quay.io/app:v2"),
            json!({"name": "quay.io/app", "newTag": "v2"})
        );
        assert_eq!(
            parse_image("app@sha256:abc"),
            json!({"name": "app", "digest": "sha256:abc"})
        );
        // A registry port is not a tag.
        assert_eq!(
            parse_image("app=localhost:5000/app"),
            json!({"name": "app", "newName": "localhost:5000/app"})
        );
    }

    #[test]
    fn envsubst_as_go_os_expand() {
        let env = BuildEnv {
            app_name: "guestbook".into(),
            revision: "0123456789abcdef".into(),
            ..BuildEnv::default()
        };
        assert_eq!(
            env.envsubst("app:${ARGOCD_APP_REVISION_SHORT}-$ARGOCD_APP_NAME $$ ${NOPE}x"),
            "app:0123456-guestbook $ x"
        );
    }
}
