//! The `dir` target: a directory standing for a cluster.
//!
//! Each object is one YAML file, `<namespace or _cluster>/<group>_<kind>_<name>.yaml`
//! (`core` for the core group), so a newcomer can run a full sync without a
//! cluster and read the result with `ls` and `cat`. It behaves like a small
//! API server where it matters for sync: namespaced objects need their
//! Namespace (`default` and `kube-system` always exist), names must be valid
//! DNS subdomains, a workload's `spec.selector` is immutable, and the same
//! ApplySet inventory and prune rules apply. There are no field managers and
//! no defaulting: applying replaces the file. Like an API server, it gives
//! each object a `metadata.uid` when it is created and keeps it on update,
//! so deletes can carry the same UID precondition as on a cluster.
//!
//! **Paths.** Every path is built by [`DirTarget::path_of`], which checks
//! the identity first, for reads and deletes as well as applies: the
//! namespace must be a DNS label (so `/etc`, `..` or `a/b` cannot leave the
//! root), and the group, kind and name must be single, non-empty path
//! components (no separator, no NUL, not `.` or `..`). Apply checks names
//! more strictly still, as an API server would.
//!
//! **No watch.** Objects in a directory never change by themselves: nothing
//! would ever become Healthy, run a hook or finish a wave. The dir target
//! says it cannot watch, and the sync engine refuses a sync that would
//! have to wait rather than skip the waits.

use super::applyset::{GroupKind, ID_LABEL, PART_OF_LABEL, label};
use super::{
    ApplyOptions, Deleted, LiveUpdate, ObjectError, Scope, Target, TargetError, WatchError,
    builtin_scope, uid_of,
};
use crate::object::{Object, ObjectId};
use futures::stream::BoxStream;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Namespaces that exist without a Namespace file, like in a fresh cluster.
const BUILTIN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// A directory standing for a cluster.
#[derive(Debug, Clone)]
pub struct DirTarget {
    root: PathBuf,
}

fn invalid(message: String) -> ObjectError {
    ObjectError::Rejected { code: 422, message }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ObjectError {
    ObjectError::Transport(format!("cannot {what} {}: {e}", path.display()))
}

/// Whether `s` is a DNS-1123 subdomain (what Kubernetes requires of most
/// names); this also keeps names from leaving the directory.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Whether `s` is safe as a file name part (group or kind).
fn is_safe_part(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && s != "."
        && s != ".."
}

/// Whether `s` is a DNS-1123 label (what namespaces must be).
fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns_subdomain(s)
}

/// Whether `s` can be one component of a file name: not empty, no path
/// separator or NUL, not `.` or `..`.
fn is_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// A fresh UID, in the API server's UUID form (random, not a real UUIDv4).
fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    let hex = format!("{:016x}{:016x}", word(), word());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl DirTarget {
    /// A target writing under `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<DirTarget, TargetError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| TargetError::Dir {
            path: root.display().to_string(),
            source,
        })?;
        Ok(DirTarget { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file an object lives in; refused (422) when the identity could
    /// name a path outside the root or is not one this target can hold.
    pub fn path_of(&self, id: &ObjectId) -> Result<PathBuf, ObjectError> {
        let group = if id.group.is_empty() {
            "core"
        } else {
            &id.group
        };
        let dir = match id.namespace.as_deref() {
            Some(ns) if is_dns_label(ns) => ns,
            Some(ns) => {
                return Err(invalid(format!(
                    "{} {:?}: metadata.namespace: Invalid value: {ns:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                    id.kind, id.name
                )));
            }
            None => "_cluster",
        };
        for (what, part) in [("group", group), ("kind", &id.kind), ("name", &id.name)] {
            if !is_component(part) || (what != "name" && !is_safe_part(part)) {
                return Err(invalid(format!(
                    "{} {:?}: invalid {what} {part:?} for the dir target (it must be one path component)",
                    id.kind, id.name
                )));
            }
        }
        Ok(self
            .root
            .join(dir)
            .join(format!("{group}_{}_{}.yaml", id.kind, id.name)))
    }

    fn read(path: &Path) -> Result<Option<Value>, ObjectError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_norway::from_str(&text).map(Some).map_err(|e| {
                ObjectError::Transport(format!("{} is not valid YAML: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", path, e)),
        }
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        BUILTIN_NAMESPACES.contains(&ns)
            || self
                .path_of(&ObjectId {
                    group: String::new(),
                    kind: "Namespace".into(),
                    namespace: None,
                    name: ns.into(),
                })
                .is_ok_and(|p| p.exists())
    }

    /// Check `obj` the way an API server would, against the live `old`.
    fn validate(&self, obj: &Object, old: Option<&Value>) -> Result<(), ObjectError> {
        let id = &obj.id;
        if !is_dns_subdomain(&id.name) {
            return Err(invalid(format!(
                "{} {:?} is invalid: metadata.name: Invalid value: {:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
                id.kind, id.name, id.name
            )));
        }
        if !is_safe_part(&id.group) || !is_safe_part(&id.kind) {
            return Err(invalid(format!(
                "invalid group {:?} or kind {:?}",
                id.group, id.kind
            )));
        }
        if let Some(ns) = &id.namespace {
            if !is_dns_subdomain(ns) {
                return Err(invalid(format!(
                    "metadata.namespace: Invalid value: {ns:?}"
                )));
            }
            if !self.namespace_exists(ns) {
                return Err(ObjectError::Rejected {
                    code: 404,
                    message: format!("namespaces \"{ns}\" not found"),
                });
            }
        }
        let workload = id.group == "apps"
            && ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].contains(&id.kind.as_str());
        if let (true, Some(old)) = (workload, old) {
            let (a, b) = (
                old.pointer("/spec/selector"),
                obj.value.pointer("/spec/selector"),
            );
            if a.is_some() && a != b {
                return Err(invalid(format!(
                    "{}.apps {:?} is invalid: spec.selector: Invalid value: field is immutable",
                    id.kind, id.name
                )));
            }
        }
        Ok(())
    }

    fn all_files(&self) -> Result<Vec<PathBuf>, std::io::Error> {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(&self.root)? {
            let dir = dir?.path();
            if !dir.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&dir)? {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "yaml") {
                    out.push(f);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl Target for DirTarget {
    fn describe(&self) -> String {
        format!("dir {}", self.root.display())
    }

    async fn discover(&self) -> Result<(), TargetError> {
        Ok(())
    }

    fn scope(&self, api_version: &str, kind: &str) -> Option<Scope> {
        Some(builtin_scope(crate::object::group_of(api_version), kind))
    }

    async fn get(&self, obj: &Object) -> Result<Option<Value>, ObjectError> {
        Self::read(&self.path_of(&obj.id)?)
    }

    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
        namespaces: &BTreeSet<String>,
    ) -> Result<Vec<Value>, TargetError> {
        let dir_err = |source| TargetError::Dir {
            path: self.root.display().to_string(),
            source,
        };
        let mut out = Vec::new();
        for path in self.all_files().map_err(dir_err)? {
            let Ok(Some(v)) = Self::read(&path) else {
                continue;
            };
            let member = label(&v, PART_OF_LABEL) == Some(id);
            let gk = GroupKind {
                group: crate::object::group_of(
                    v.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
                )
                .to_string(),
                kind: v
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            };
            // Cluster-scoped objects (under `_cluster/`) have no namespace.
            let in_namespace = v
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none_or(|ns| namespaces.contains(ns));
            if member && in_namespace && kinds.contains(&gk) {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn find_parent(&self, id: &str) -> Result<Option<Value>, TargetError> {
        let dir_err = |source| TargetError::Dir {
            path: self.root.display().to_string(),
            source,
        };
        for path in self.all_files().map_err(dir_err)? {
            if let Ok(Some(v)) = Self::read(&path)
                && label(&v, ID_LABEL) == Some(id)
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError> {
        let path = self.path_of(&obj.id)?;
        let old = Self::read(&path)?;
        self.validate(obj, old.as_ref())?;
        let mut value = obj.value.clone();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            if let Some(ns) = &obj.id.namespace {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            // The UID is the target's: kept from the live object, or new.
            let uid = old
                .as_ref()
                .and_then(uid_of)
                .map_or_else(new_uid, str::to_string);
            meta.insert("uid".into(), Value::String(uid));
        }
        if !opts.dry_run {
            let text = serde_norway::to_string(&value).map_err(|e| {
                ObjectError::Transport(format!("cannot write {} as YAML: {e}", obj.id))
            })?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            let tmp = path.with_extension("yaml.tmp");
            std::fs::write(&tmp, text).map_err(|e| io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io("write", &path, e))?;
        }
        Ok(value)
    }

    async fn release(&self, obj: &Object, applyset_id: &str) -> Result<bool, ObjectError> {
        let path = self.path_of(&obj.id)?;
        let Some(mut live) = Self::read(&path)? else {
            return Ok(false);
        };
        if label(&live, PART_OF_LABEL) != Some(applyset_id) {
            return Ok(false);
        }
        if let Some(labels) = live
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove(PART_OF_LABEL);
            if labels.is_empty()
                && let Some(meta) = live.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("labels");
            }
        }
        let text = serde_norway::to_string(&live)
            .map_err(|e| ObjectError::Transport(format!("cannot write {} as YAML: {e}", obj.id)))?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).map_err(|e| io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("write", &path, e))?;
        Ok(true)
    }

    async fn delete(&self, obj: &Object, uid: Option<&str>) -> Result<Deleted, ObjectError> {
        let path = self.path_of(&obj.id)?;
        let is_namespace = obj.id.kind == "Namespace" && obj.id.group.is_empty();
        // A Namespace's objects live in the directory of its name, which
        // must then be a DNS label (path_of checked only a name component).
        if is_namespace && !is_dns_label(&obj.id.name) {
            return Err(invalid(format!(
                "Namespace {:?} is invalid: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                obj.id.name
            )));
        }
        if let Some(uid) = uid {
            match Self::read(&path)? {
                None => return Ok(Deleted::NotFound),
                Some(live) if uid_of(&live) != Some(uid) => return Ok(Deleted::Replaced),
                Some(_) => {}
            }
        }
        let deleted = match std::fs::remove_file(&path) {
            Ok(()) => Deleted::Deleted,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Deleted::NotFound,
            Err(e) => return Err(io("delete", &path, e)),
        };
        if is_namespace {
            let dir = self.root.join(&obj.id.name);
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir).map_err(|e| io("delete", &dir, e))?;
            }
        }
        Ok(deleted)
    }

    async fn wait_established(&self, _name: &str, _timeout: Duration) -> Result<(), ObjectError> {
        Ok(())
    }

    fn can_watch(&self) -> bool {
        false
    }

    async fn watch(
        &self,
        _objects: &[Object],
    ) -> Result<BoxStream<'static, LiveUpdate>, WatchError> {
        Err(WatchError::Unsupported {
            target: self.describe(),
            why: "the dir target cannot watch: objects in a directory never change by themselves, so nothing there becomes Healthy, runs a hook or finishes a wave; sync to a Kubernetes cluster to wait".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(is_dns_subdomain("web-1.example"));
        for bad in ["", "Web", "a/b", "..", "a..b", "-a", "a_b"] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
        assert!(!is_safe_part("..") && !is_safe_part("a/b") && is_safe_part("apps"));
    }

    #[test]
    fn layout() {
        let t = DirTarget {
            root: PathBuf::from("/c"),
        };
        let id = ObjectId {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: Some("p".into()),
            name: "x".into(),
        };
        assert_eq!(
            t.path_of(&id).expect("valid"),
            PathBuf::from("/c/p/core_ConfigMap_x.yaml")
        );
        let id = ObjectId {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "r".into(),
        };
        assert_eq!(
            t.path_of(&id).expect("valid"),
            PathBuf::from("/c/_cluster/rbac.authorization.k8s.io_ClusterRole_r.yaml")
        );
    }

    fn cm(namespace: Option<&str>, name: &str) -> Object {
        let mut v = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "placeholder"}});
        if let Some(ns) = namespace {
            v["metadata"]["namespace"] = ns.into();
        }
        let mut o = crate::object::from_value(v, None, 0).expect("valid");
        // Set the identity directly: it may be one no parser would accept.
        o.id.name = name.to_string();
        o.value["metadata"]["name"] = name.into();
        o.id.namespace = namespace.map(str::to_string);
        o
    }

    #[test]
    fn ids_cannot_leave_the_root() {
        let t = DirTarget {
            root: PathBuf::from("/c"),
        };
        for ns in ["/etc", "..", "a/b", "../x", ".", "", "_cluster", "A"] {
            let err = t.path_of(&cm(Some(ns), "x").id).expect_err(ns);
            assert!(
                err.to_string()
                    .contains("metadata.namespace: Invalid value"),
                "{ns}: {err}"
            );
        }
        for name in ["..", ".", "", "a/b", "../../etc/passwd", "a\\b", "a\0b"] {
            let err = t.path_of(&cm(Some("p"), name).id).expect_err(name);
            assert!(
                err.to_string().contains("it must be one path component"),
                "{name:?}: {err}"
            );
        }
        let mut o = cm(None, "x");
        o.id.kind = "../Secret".into();
        assert!(t.path_of(&o.id).is_err());
        // RBAC-style names are fine to read; apply checks names itself.
        assert!(t.path_of(&cm(Some("p"), "system:admin").id).is_ok());
    }

    #[tokio::test]
    async fn get_and_delete_refuse_bad_ids_and_touch_nothing_outside() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("cluster");
        let t = DirTarget::new(&root).expect("dir");
        // A file next to the root that a `..` id would name.
        let outside = tmp.path().join("core_ConfigMap_x.yaml");
        std::fs::write(&outside, "kind: ConfigMap\n").expect("write");
        let bad = cm(Some(".."), "x");
        assert!(t.get(&bad).await.is_err());
        assert!(t.delete(&bad, None).await.is_err());
        assert!(outside.exists());
        let abs = cm(Some(tmp.path().to_str().expect("utf-8")), "x");
        assert!(t.get(&abs).await.is_err());
        assert!(t.delete(&abs, None).await.is_err());
        assert!(outside.exists());
        // A Namespace named `..` would remove the root's parent.
        let mut ns = cm(None, "..");
        ns.id.kind = "Namespace".into();
        assert!(t.delete(&ns, None).await.is_err());
        assert!(outside.exists() && root.exists());
    }

    #[tokio::test]
    async fn deletes_check_the_uid() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = DirTarget::new(tmp.path()).expect("dir");
        let o = cm(Some("default"), "x");
        let real = ApplyOptions {
            dry_run: false,
            force: true,
        };
        let first = t.apply(&o, real).await.expect("apply");
        let uid = uid_of(&first).expect("a uid").to_string();
        // An update keeps the UID.
        let again = t.apply(&o, real).await.expect("apply");
        assert_eq!(uid_of(&again), Some(uid.as_str()));
        // Deleted and recreated by someone else: a new UID, left alone.
        assert_eq!(t.delete(&o, None).await.expect("delete"), Deleted::Deleted);
        t.apply(&o, real).await.expect("apply");
        assert_eq!(
            t.delete(&o, Some(&uid)).await.expect("delete"),
            Deleted::Replaced
        );
        assert!(t.get(&o).await.expect("get").is_some());
        let live = t.get(&o).await.expect("get").expect("live");
        let now = uid_of(&live).expect("uid").to_string();
        assert_eq!(
            t.delete(&o, Some(&now)).await.expect("delete"),
            Deleted::Deleted
        );
        assert_eq!(
            t.delete(&o, Some(&now)).await.expect("delete"),
            Deleted::NotFound
        );
    }

    #[tokio::test]
    async fn the_dir_target_cannot_watch() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = DirTarget::new(tmp.path()).expect("dir");
        assert!(!t.can_watch());
        let err = t.watch(&[cm(Some("p"), "x")]).await.err().expect("refused");
        assert!(
            err.to_string().contains("the dir target cannot watch"),
            "{err}"
        );
    }
}
