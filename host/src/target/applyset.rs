//! The ApplySet inventory (KEP-3659): a parent Secret per app, members
//! labelled with the parent's id, so `kubectl` understands what sluice
//! manages (`kubectl get cm -l applyset.kubernetes.io/part-of=<id>`).

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Label on the parent: the ApplySet id.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on each member: the id of the ApplySet it belongs to.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: the member group-kinds.
pub const CONTAINS_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: the tool that manages the set.
pub const TOOLING: &str = "applyset.kubernetes.io/tooling";

/// A (group, kind) pair; `Display` gives kubectl's `Kind.group` form
/// (`Deployment.apps`, `ConfigMap`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKind {
    /// API group, `""` for core.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl std::fmt::Display for GroupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

impl GroupKind {
    /// Parse `Kind.group` or `Kind`.
    pub fn parse(s: &str) -> Option<GroupKind> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let (kind, group) = s.split_once('.').unwrap_or((s, ""));
        Some(GroupKind {
            group: group.to_string(),
            kind: kind.to_string(),
        })
    }
}

/// The ApplySet id of a parent, as KEP-3659 specifies:
/// `applyset-` + base64url-without-padding(sha256(`name.namespace.kind.group`)) + `-v1`.
///
/// ```
/// let id = sluice::target::applyset::id("app", "prod", "Secret", "");
/// assert!(id.starts_with("applyset-") && id.ends_with("-v1"));
/// ```
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let hash = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
    )
}

/// The parent of one app's ApplySet: a Secret in the destination namespace.
#[derive(Debug, Clone)]
pub struct Parent {
    /// The Secret's name (`sluice-applyset-<app>`).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The ApplySet id.
    pub id: String,
}

impl Parent {
    /// The parent for `app` with inventory in `namespace`.
    pub fn for_app(app: &str, namespace: &str) -> Parent {
        let name = format!("sluice-applyset-{app}");
        let id = id(&name, namespace, "Secret", "");
        Parent {
            name,
            namespace: namespace.to_string(),
            id,
        }
    }

    /// The parent object listing `kinds`.
    pub fn object(&self, kinds: &BTreeSet<GroupKind>) -> Value {
        let list: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {
                    CONTAINS_GROUP_KINDS: list.join(","),
                    TOOLING: concat!("sluice/v", env!("CARGO_PKG_VERSION")),
                },
            },
        })
    }
}

/// The group-kinds a live parent lists.
pub fn group_kinds(parent: &Value) -> BTreeSet<GroupKind> {
    parent
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(CONTAINS_GROUP_KINDS))
        .and_then(Value::as_str)
        .map(|s| s.split(',').filter_map(GroupKind::parse).collect())
        .unwrap_or_default()
}

/// Label `value` (an object) as a member of ApplySet `id`.
pub fn label_member(value: &mut Value, id: &str) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(PART_OF_LABEL.into(), Value::String(id.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_the_kep_formula() {
        // base64url(sha256("sluice-applyset-web.prod.Secret.")), no padding.
        let id = id("sluice-applyset-web", "prod", "Secret", "");
        let hash = Sha256::digest(b"sluice-applyset-web.prod.Secret.");
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash);
        assert_eq!(id, format!("applyset-{enc}-v1"));
        assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
        assert_eq!(Parent::for_app("web", "prod").id, id);
    }

    #[test]
    fn group_kinds_round_trip() {
        let kinds: BTreeSet<GroupKind> =
            ["Deployment.apps", "ConfigMap", "Ingress.networking.k8s.io"]
                .iter()
                .filter_map(|s| GroupKind::parse(s))
                .collect();
        let p = Parent::for_app("web", "prod").object(&kinds);
        assert_eq!(
            p["metadata"]["annotations"][CONTAINS_GROUP_KINDS],
            "ConfigMap,Deployment.apps,Ingress.networking.k8s.io"
        );
        assert_eq!(group_kinds(&p), kinds);
    }
}
