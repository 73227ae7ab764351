//! One object in the build, with the history kustomize keeps for it (the
//! names and namespaces it had, the prefixes and suffixes it received) so
//! that name references and patches can find it by any of its ids.

use serde_json::{Map, Value};

/// Group, version and kind of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Gvk {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// Split an `apiVersion` and a kind.
    pub fn new(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    /// Whether this GVK is selected by `sel` (empty fields match anything).
    pub fn selected_by(&self, sel: &Gvk) -> bool {
        (sel.group.is_empty() || sel.group == self.group)
            && (sel.version.is_empty() || sel.version == self.version)
            && (sel.kind.is_empty() || sel.kind == self.kind)
    }

    /// kustomize's text form, used for the legacy sort: `group_version_kind`
    /// with `~G`, `~V`, `~K` standing for empty parts.
    pub fn sort_key(&self) -> String {
        let or = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}_{}_{}",
            or(&self.group, "~G"),
            or(&self.version, "~V"),
            or(&self.kind, "~K")
        )
    }

    /// Whether kustomize treats this kind as cluster-scoped.
    pub fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED.contains(&self.kind.as_str())
    }
}

/// Built-in kinds that have no namespace (kustomize's schema knows these).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "StorageClass",
    "SubjectAccessReview",
    "TokenReview",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// What a generated object does to an existing one of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// A new object (the default); an existing one is an error.
    #[default]
    Create,
    /// Merge data and metadata into the existing object.
    Merge,
    /// Replace the existing object.
    Replace,
}

/// An object plus kustomize's bookkeeping about it.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object itself.
    pub obj: Value,
    /// Earlier (name, namespace) pairs, oldest first (the original first).
    pub prev: Vec<(String, String)>,
    /// Prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// Generated with a content hash suffix still to add.
    pub needs_hash: bool,
    /// How a generated object combines with an existing one.
    pub behavior: Behavior,
    /// The file it came from (for diagnostics and origin).
    pub file: String,
    /// Document index in that file.
    pub index: u32,
    /// For a generated object: the file that configured the generator
    /// (repository-relative) and the generator's `configuredBy` id, for
    /// `buildMetadata: [originAnnotations]`.
    pub generated_by: Option<(String, Value)>,
    /// The transformers that ran over this object, as indexes into the
    /// build's table (`build::Ctx::records`), for
    /// `buildMetadata: [transformerAnnotations]`.
    pub transformations: Vec<u32>,
    /// Legacy `vars` bound to this object where they were declared.
    pub ref_vars: Vec<String>,
}

impl Resource {
    /// A resource loaded from `file`.
    pub fn new(obj: Value, file: &str, index: u32) -> Self {
        Resource {
            obj,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            file: file.to_string(),
            index,
            generated_by: None,
            transformations: Vec::new(),
            ref_vars: Vec::new(),
        }
    }

    fn top_str(&self, key: &str) -> &str {
        self.obj
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn meta_str(&self, key: &str) -> &str {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.meta_str("name")
    }

    /// `metadata.namespace` (empty when unset).
    pub fn namespace(&self) -> &str {
        self.meta_str("namespace")
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.top_str("kind")
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.top_str("apiVersion")
    }

    /// The current GVK.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(self.api_version(), self.kind())
    }

    /// The original (name, namespace).
    pub fn orig(&self) -> (String, String) {
        self.prev
            .first()
            .cloned()
            .unwrap_or_else(|| (self.name().to_string(), self.namespace().to_string()))
    }

    /// Every (name, namespace) this resource has had, current last.
    pub fn all_ids(&self) -> Vec<(String, String)> {
        let mut v = self.prev.clone();
        v.push((self.name().to_string(), self.namespace().to_string()));
        v
    }

    /// The metadata map, created if missing.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let obj = self
            .obj
            .as_object_mut()
            .expect("resources are mappings, checked at load");
        let md = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !md.is_object() {
            *md = Value::Object(Map::new());
        }
        md.as_object_mut().expect("just made an object")
    }

    /// Set the name, remembering the old id.
    pub fn set_name(&mut self, name: &str) {
        if self.name() == name {
            return;
        }
        self.remember();
        self.metadata_mut()
            .insert("name".into(), Value::String(name.to_string()));
    }

    /// Set the namespace, remembering the old id.
    pub fn set_namespace(&mut self, ns: &str) {
        if self.namespace() == ns {
            return;
        }
        self.remember();
        let md = self.metadata_mut();
        if ns.is_empty() {
            // kustomize drops an emptied namespace (a JSON patch `remove`
            // of /metadata/namespace leaves no `namespace: ''` behind).
            md.shift_remove("namespace");
        } else {
            md.insert("namespace".into(), Value::String(ns.to_string()));
        }
    }

    fn remember(&mut self) {
        let id = (self.name().to_string(), self.namespace().to_string());
        self.prev.push(id);
    }

    /// A label or annotation map of `metadata`.
    pub fn meta_map(&self, field: &str) -> Option<&Map<String, Value>> {
        self.obj.get("metadata")?.get(field)?.as_object()
    }

    /// kustomize's id text, e.g. `ConfigMap.v1.[noGrp]/name.ns`, for messages.
    pub fn id_text(&self) -> String {
        id_text(&self.gvk(), self.name(), self.namespace())
    }
}

/// kustomize's id text for messages: `Kind.version.group/name.namespace`.
pub fn id_text(gvk: &Gvk, name: &str, ns: &str) -> String {
    let g = if gvk.group.is_empty() {
        "[noGrp]"
    } else {
        gvk.group.as_str()
    };
    let n = if ns.is_empty() { "[noNs]" } else { ns };
    format!("{}.{}.{}/{}.{}", gvk.kind, gvk.version, g, name, n)
}

/// Namespaces equal the way kustomize compares them (`""` is `default`).
pub fn ns_eq(a: &str, b: &str) -> bool {
    let d = |s: &str| {
        if s.is_empty() {
            "default".to_string()
        } else {
            s.to_string()
        }
    };
    d(a) == d(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gvk_parses_core_and_grouped() {
        assert_eq!(Gvk::new("v1", "Pod").group, "");
        let g = Gvk::new("apps/v1", "Deployment");
        assert_eq!((g.group.as_str(), g.version.as_str()), ("apps", "v1"));
        assert_eq!(g.sort_key(), "apps_v1_Deployment");
    }

    #[test]
    fn renames_are_remembered() {
        let mut r = Resource::new(
            serde_json::json!({"kind": "A", "metadata": {"name": "x"}}),
            "f",
            0,
        );
        r.set_name("p-x");
        r.set_namespace("ns");
        assert_eq!(r.orig(), ("x".to_string(), String::new()));
        assert_eq!(r.all_ids().len(), 3);
    }
}
