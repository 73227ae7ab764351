//! The `dir` target: a directory standing for a cluster.
//!
//! Each object is one YAML file, `<namespace or _cluster>/<group>_<kind>_<name>.yaml`
//! (`core` for the core group), so a newcomer can run a full sync without a
//! cluster and read the result with `ls` and `cat`. It behaves like a small
//! API server where it matters for sync: namespaced objects need their
//! Namespace (`default` and `kube-system` always exist), names must be valid
//! DNS subdomains, a workload's `spec.selector` is immutable, and the same
//! ApplySet inventory and prune rules apply. There are no field managers and
//! no defaulting: applying replaces the file.

use super::applyset::{GroupKind, PART_OF_LABEL};
use super::{ApplyOptions, ObjectError, Scope, Target, TargetError, builtin_scope};
use crate::object::{Object, ObjectId};
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

    /// The file an object lives in.
    pub fn path_of(&self, id: &ObjectId) -> PathBuf {
        let group = if id.group.is_empty() {
            "core"
        } else {
            &id.group
        };
        let dir = id.namespace.as_deref().unwrap_or("_cluster");
        self.root
            .join(dir)
            .join(format!("{group}_{}_{}.yaml", id.kind, id.name))
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
                .exists()
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
        Self::read(&self.path_of(&obj.id))
    }

    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
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
            let member = v
                .pointer("/metadata/labels")
                .and_then(|l| l.get(PART_OF_LABEL))
                .and_then(Value::as_str)
                == Some(id);
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
            if member && kinds.contains(&gk) {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError> {
        let path = self.path_of(&obj.id);
        let old = Self::read(&path)?;
        self.validate(obj, old.as_ref())?;
        let mut value = obj.value.clone();
        if let (Some(ns), Some(meta)) = (
            &obj.id.namespace,
            value.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("namespace".into(), Value::String(ns.clone()));
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

    async fn delete(&self, obj: &Object) -> Result<(), ObjectError> {
        let path = self.path_of(&obj.id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("delete", &path, e)),
        }
        if obj.id.kind == "Namespace" && obj.id.group.is_empty() {
            let dir = self.root.join(&obj.id.name);
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir).map_err(|e| io("delete", &dir, e))?;
            }
        }
        Ok(())
    }

    async fn wait_established(&self, _name: &str, _timeout: Duration) -> Result<(), ObjectError> {
        Ok(())
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
        assert_eq!(t.path_of(&id), PathBuf::from("/c/p/core_ConfigMap_x.yaml"));
        let id = ObjectId {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "r".into(),
        };
        assert_eq!(
            t.path_of(&id),
            PathBuf::from("/c/_cluster/rbac.authorization.k8s.io_ClusterRole_r.yaml")
        );
    }
}
