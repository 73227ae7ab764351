//! The ApplySet inventory (KEP-3659): a parent Secret per app, members
//! labelled with the parent's id, so `kubectl` understands what sluice
//! manages (`kubectl get cm -l applyset.kubernetes.io/part-of=<id>`).
//!
//! The parent records the member group-kinds
//! (`applyset.kubernetes.io/contains-group-kinds`) and the namespaces other
//! than its own that members live in
//! (`applyset.kubernetes.io/additional-namespaces`). Prune looks only there:
//! a member is listed by a label selector on the ApplySet id, only for the
//! kinds and in the namespaces the parent records (plus those of the
//! current desired objects, which the parent records before any of them is
//! applied). A parent written by an older sluice has no
//! `additional-namespaces`: its members outside the parent's namespace are
//! then not pruned until a sync records their namespace again (strict: we
//! never widen the search past what the parent says).
//!
//! Ownership ([`owner`]): a live object is this app's when it carries
//! `applyset.kubernetes.io/part-of=<our id>`. Anything else (another
//! ApplySet's member, an object created by `kubectl`, an object carrying
//! only Argo CD's tracking annotation, or one applied by sluice without the
//! label) belongs to someone else, and the sync engine refuses to touch it
//! unless asked to adopt it.

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
/// Annotation on the parent: namespaces other than the parent's own that
/// hold members, comma-separated.
pub const ADDITIONAL_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// Label on every hook object sluice creates: the id of the ApplySet of the
/// app that ran it (sluice's own, not part of KEP-3659). Hook clean-up only
/// ever deletes objects carrying its own app's id here.
pub const HOOK_OF_LABEL: &str = "sluice.dev/hook-of";
/// The name prefix of sluice's parent Secrets (`sluice-applyset-<app>`).
pub const PARENT_PREFIX: &str = "sluice-applyset-";

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
        let name = format!("{PARENT_PREFIX}{app}");
        let id = id(&name, namespace, "Secret", "");
        Parent {
            name,
            namespace: namespace.to_string(),
            id,
        }
    }

    /// The parent object listing `kinds`, and the member `namespaces`
    /// (its own namespace is left out of `additional-namespaces`, and the
    /// annotation is left off when no other namespace remains).
    pub fn object(&self, kinds: &BTreeSet<GroupKind>, namespaces: &BTreeSet<String>) -> Value {
        let list: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        let mut v = json!({
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
        });
        let others: Vec<&str> = namespaces
            .iter()
            .map(String::as_str)
            .filter(|n| *n != self.namespace)
            .collect();
        if !others.is_empty() {
            v["metadata"]["annotations"][ADDITIONAL_NAMESPACES] = Value::String(others.join(","));
        }
        v
    }
}

/// The namespaces a live `parent` says members live in: its own, plus its
/// `additional-namespaces`.
pub fn namespaces(parent: &Value) -> BTreeSet<String> {
    let own = parent
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    parent
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ADDITIONAL_NAMESPACES))
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .chain(own)
        .collect()
}

/// The value of label `key` on `value`.
pub fn label<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Who a live object belongs to, seen from ApplySet `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A member of ApplySet `id`.
    Ours,
    /// A member of another ApplySet, with that ApplySet's id.
    Other(String),
    /// No ApplySet label: created outside sluice (kubectl, a controller,
    /// another tool). `by_sluice` when sluice's field manager has fields in
    /// it all the same (applied by sluice without the label, or taken over
    /// from such an object).
    Unmanaged {
        /// Whether field manager `sluice` owns fields of it.
        by_sluice: bool,
    },
}

/// Who `live` belongs to, seen from ApplySet `id`. Only the
/// `applyset.kubernetes.io/part-of` label counts: Argo CD's tracking
/// annotation or label is not proof of ownership.
pub fn owner(live: &Value, id: &str) -> Owner {
    match label(live, PART_OF_LABEL) {
        Some(l) if l == id => Owner::Ours,
        Some(other) if !other.is_empty() => Owner::Other(other.to_string()),
        _ => Owner::Unmanaged {
            by_sluice: live
                .pointer("/metadata/managedFields")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|f| f["manager"] == super::FIELD_MANAGER)),
        },
    }
}

/// How to name the owner of ApplySet `id` in a message, from its parent
/// (when it was found): `app shop (ApplySet parent Secret prod/sluice-applyset-shop)`.
pub fn describe_owner(id: &str, parent: Option<&Value>) -> String {
    let Some(p) = parent else {
        return format!("ApplySet {id} (its parent object was not found)");
    };
    let name = p
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let kind = p.get("kind").and_then(Value::as_str).unwrap_or("object");
    let at = match p.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    match name.strip_prefix(PARENT_PREFIX) {
        Some(app) if kind == "Secret" => format!("app {app} (ApplySet parent Secret {at})"),
        _ => format!("the ApplySet whose parent is {kind} {at} (id {id})"),
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
        let p = Parent::for_app("web", "prod").object(&kinds, &BTreeSet::new());
        assert_eq!(
            p["metadata"]["annotations"][CONTAINS_GROUP_KINDS],
            "ConfigMap,Deployment.apps,Ingress.networking.k8s.io"
        );
        assert_eq!(group_kinds(&p), kinds);
        assert!(
            p["metadata"]["annotations"]
                .get(ADDITIONAL_NAMESPACES)
                .is_none()
        );
    }

    #[test]
    fn namespaces_round_trip_without_the_parents_own() {
        let ns: BTreeSet<String> = ["prod", "edge", "batch"].map(String::from).into();
        let p = Parent::for_app("web", "prod").object(&BTreeSet::new(), &ns);
        assert_eq!(
            p["metadata"]["annotations"][ADDITIONAL_NAMESPACES],
            "batch,edge"
        );
        assert_eq!(namespaces(&p), ns);
    }

    #[test]
    fn only_the_part_of_label_makes_an_object_ours() {
        let ours = Parent::for_app("web", "prod").id;
        let with = |meta: Value| json!({"kind": "ConfigMap", "metadata": meta});
        assert_eq!(
            owner(&with(json!({"labels": {PART_OF_LABEL: ours}})), &ours),
            Owner::Ours
        );
        assert_eq!(
            owner(
                &with(json!({"labels": {PART_OF_LABEL: "applyset-x-v1"}})),
                &ours
            ),
            Owner::Other("applyset-x-v1".into())
        );
        // Argo CD's tracking annotation is not ownership.
        let argo = with(json!({
            "annotations": {"argocd.argoproj.io/tracking-id": "web:/ConfigMap:prod/a"},
            "managedFields": [{"manager": "kubectl-client-side-apply"}]}));
        assert_eq!(owner(&argo, &ours), Owner::Unmanaged { by_sluice: false });
        let old = with(json!({"managedFields": [{"manager": "sluice"}]}));
        assert_eq!(owner(&old, &ours), Owner::Unmanaged { by_sluice: true });
    }

    #[test]
    fn owners_are_named_by_their_parent() {
        let p = json!({"kind": "Secret",
            "metadata": {"name": "sluice-applyset-shop", "namespace": "prod"}});
        assert_eq!(
            describe_owner("applyset-a-v1", Some(&p)),
            "app shop (ApplySet parent Secret prod/sluice-applyset-shop)"
        );
        assert_eq!(
            describe_owner("applyset-a-v1", None),
            "ApplySet applyset-a-v1 (its parent object was not found)"
        );
    }
}
