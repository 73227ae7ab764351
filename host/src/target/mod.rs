//! Targets: where desired objects are applied.
//!
//! The sync engine talks to a [`Target`]: discover what kinds exist, get
//! live objects, list the members of an app's inventory, apply (for real or
//! as a dry-run that returns what the object would become), delete, and
//! wait for a CustomResourceDefinition to be Established. Two
//! implementations:
//! - [`kube::KubeTarget`]: a Kubernetes API server, server-side apply with
//!   field manager `sluice`;
//! - [`dir::DirTarget`]: a directory standing for a cluster, one YAML file
//!   per object at `<namespace or _cluster>/<group>_<kind>_<name>.yaml`
//!   (`core` for the core group), so everything runs without a cluster.

pub mod applyset;
pub mod destination;
pub mod dir;
pub mod kube;

use crate::object::Object;
use applyset::GroupKind;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// Field manager for server-side apply.
pub const FIELD_MANAGER: &str = "sluice";

/// Whether a kind lives in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Namespaced.
    Namespaced,
    /// Cluster-scoped.
    Cluster,
}

/// How to apply one object.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Ask the target what the object would become, write nothing.
    pub dry_run: bool,
    /// Take over fields owned by another field manager.
    pub force: bool,
}

/// Why one object could not be read, applied or deleted. The sync engine
/// reports it on that object's row and carries on with the others.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObjectError {
    /// The target refused the object (admission, validation, immutable
    /// field, conflict with another field manager); the message is the
    /// target's own.
    #[error("{message}")]
    Rejected {
        /// HTTP-like status code (409 conflict, 422 invalid, ...).
        code: u16,
        /// The target's message.
        message: String,
    },
    /// The target could not be reached or answered garbage.
    #[error("{0}")]
    Transport(String),
}

impl ObjectError {
    /// Whether this is a conflict with another field manager.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ObjectError::Rejected { code: 409, .. })
    }
}

/// The error returned by target operations that concern the whole target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The kubeconfig could not be loaded or has no such context.
    #[error("cannot load the Kubernetes client configuration{}: {message}; check --kubeconfig / KUBECONFIG and --dest-context", context.as_ref().map(|c| format!(" (context {c})")).unwrap_or_default())]
    Config {
        /// The context asked for.
        context: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// API discovery failed.
    #[error("API discovery on {server} failed: {message}; is the API server reachable?")]
    Discovery {
        /// The server.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// Listing the inventory failed.
    #[error("cannot list the members of ApplySet {id} ({kind}) on {target}: {message}")]
    List {
        /// The target.
        target: String,
        /// The ApplySet id.
        id: String,
        /// The group-kind being listed.
        kind: String,
        /// What went wrong.
        message: String,
    },
    /// A `dir` target's directory could not be used.
    #[error("cannot use directory {path} as a target: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A place desired objects are applied to.
#[allow(
    async_fn_in_trait,
    reason = "used through generics in one task; no Send bound is needed"
)]
pub trait Target {
    /// A short description for messages: `cluster https://…`, `dir /tmp/c`.
    fn describe(&self) -> String;
    /// Refresh what kinds the target knows (Kubernetes API discovery).
    async fn discover(&self) -> Result<(), TargetError>;
    /// The scope of `kind` in `api_version`, when the target knows it.
    fn scope(&self, api_version: &str, kind: &str) -> Option<Scope>;
    /// The live object with `obj`'s identity, if any.
    async fn get(&self, obj: &Object) -> Result<Option<Value>, ObjectError>;
    /// The live objects of `kinds` labelled as members of ApplySet `id`.
    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
    ) -> Result<Vec<Value>, TargetError>;
    /// Apply `obj`; returns the object as the target has it afterwards (or
    /// would have it, for a dry-run).
    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError>;
    /// Delete `obj` (not finding it is not an error).
    async fn delete(&self, obj: &Object) -> Result<(), ObjectError>;
    /// Wait until CustomResourceDefinition `name` is Established.
    async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ObjectError>;
}

/// Cluster-scoped built-in kinds, for targets without discovery.
pub const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("networking.k8s.io", "IngressClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
];

/// The scope of a built-in kind by the static table: cluster-scoped when
/// listed in [`CLUSTER_SCOPED`], namespaced otherwise.
pub fn builtin_scope(group: &str, kind: &str) -> Scope {
    if CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && *k == kind)
    {
        Scope::Cluster
    } else {
        Scope::Namespaced
    }
}
