//! Targets: where desired objects are applied.
//!
//! The sync engine talks to a [`Target`]: discover what kinds exist, get
//! live objects, list the members of an app's inventory, find the parent of
//! an ApplySet, apply (for real or as a dry-run that returns what the object
//! would become), delete (with a UID precondition), wait for a
//! CustomResourceDefinition to be Established, and watch objects. Two
//! implementations:
//! - [`kube::KubeTarget`]: a Kubernetes API server, server-side apply with
//!   field manager `sluice`;
//! - [`dir::DirTarget`]: a directory standing for a cluster, one YAML file
//!   per object at `<namespace or _cluster>/<group>_<kind>_<name>.yaml`
//!   (`core` for the core group), so everything runs without a cluster.
//!
//! Systems other than Kubernetes are reached through target plugins
//! ([`plugin`]: the `Target` declarations), which [`routed::Routed`]
//! combines with one of the two above, per object.
//!
//! **Watching belongs to the target.** Waiting (between waves, for hooks,
//! for `--wait` and `sluice wait`) consumes the stream of live-object
//! updates that [`Target::watch`] returns; the sync engine never talks to
//! an API server itself. A target that cannot watch says so in
//! [`Target::can_watch`], and the engine refuses, before applying anything,
//! a sync that would have to wait on it, rather than skipping the waits.
//!
//! **Deletes carry a UID precondition.** Prune and hook clean-up pass the
//! UID of the object they decided to delete; when the object has been
//! deleted and recreated by someone else in between, the target leaves the
//! new one alone and answers [`Deleted::Replaced`].

pub mod applyset;
pub mod catalog;
pub mod cluster_secret;
pub mod destination;
pub mod dir;
pub mod kube;
pub mod plugin;
pub mod routed;

use crate::object::{Object, ObjectId};
use applyset::GroupKind;
use futures::stream::BoxStream;
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

/// What [`Target::delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The object was deleted (or its deletion started).
    Deleted,
    /// There was no such object.
    NotFound,
    /// The object with that name has another UID than the precondition:
    /// it was replaced since it was read, and was left alone.
    Replaced,
}

/// One update from [`Target::watch`]: an object's identity and its live
/// state (`None`: it does not exist).
pub type LiveUpdate = Result<(ObjectId, Option<Value>), WatchError>;

/// Why objects cannot be watched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WatchError {
    /// The target has no way to watch objects.
    #[error("{target} cannot watch objects: {why}")]
    Unsupported {
        /// The target, described.
        target: String,
        /// Why, and what to do instead.
        why: String,
    },
    /// One object's kind could not be resolved or watched.
    #[error("cannot watch {id}: {message}")]
    Object {
        /// The object.
        id: Box<ObjectId>,
        /// What went wrong.
        message: String,
    },
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
    #[error("cannot use directory {path} as a target")]
    Dir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// How a delete treats the objects the deleted one owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete now; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Delete dependents first (the object stays, with a
    /// `foregroundDeletion` finalizer, until they are gone).
    Foreground,
    /// Leave dependents in place.
    Orphan,
}

impl Propagation {
    /// Parse Argo CD's `PrunePropagationPolicy` value.
    pub fn parse(s: &str) -> Option<Propagation> {
        match s.to_ascii_lowercase().as_str() {
            "background" => Some(Propagation::Background),
            "foreground" => Some(Propagation::Foreground),
            "orphan" => Some(Propagation::Orphan),
            _ => None,
        }
    }
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
    /// The live objects of `kinds` labelled as members of ApplySet `id`
    /// (a label selector on `applyset.kubernetes.io/part-of`): for
    /// namespaced kinds only in `namespaces`, cluster-scoped kinds anywhere.
    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
        namespaces: &BTreeSet<String>,
    ) -> Result<Vec<Value>, TargetError>;
    /// The parent of ApplySet `id`: the object labelled
    /// `applyset.kubernetes.io/id=<id>` (sluice's parents are Secrets), if
    /// the target has one and lets us see it.
    async fn find_parent(&self, id: &str) -> Result<Option<Value>, TargetError>;
    /// Apply `obj`; returns the object as the target has it afterwards (or
    /// would have it, for a dry-run).
    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError>;
    /// Delete `obj`; with `uid`, only if the live object still has that
    /// UID (a precondition checked by the target, so an object recreated by
    /// someone else in between is never deleted).
    async fn delete(&self, obj: &Object, uid: Option<&str>) -> Result<Deleted, ObjectError>;
    /// [`Target::delete`] with a propagation policy for what `obj` owns
    /// (Kubernetes' `propagationPolicy`, Argo CD's
    /// `PrunePropagationPolicy`); targets without owner references ignore
    /// it.
    async fn delete_propagating(
        &self,
        obj: &Object,
        uid: Option<&str>,
        policy: Propagation,
    ) -> Result<Deleted, ObjectError> {
        let _ = policy;
        self.delete(obj, uid).await
    }
    /// Stop managing `obj` without deleting it: take it out of ApplySet
    /// `applyset_id` (Kubernetes and `dir`: drop its
    /// `applyset.kubernetes.io/part-of` label; target plugins: drop it from
    /// the host-kept inventory). Only a member of that ApplySet is touched;
    /// returns whether it was one.
    async fn release(&self, obj: &Object, applyset_id: &str) -> Result<bool, ObjectError>;
    /// Whether the target writes objects like `obj` in batches (all
    /// calls in flight at once go in one request): then the sync keeps a
    /// whole group of them in flight instead of [`SyncOptions::concurrency`].
    ///
    /// [`SyncOptions::concurrency`]: crate::sync::SyncOptions::concurrency
    fn batches(&self, obj: &Object) -> bool {
        let _ = obj;
        false
    }
    /// For a kind the target handles itself (not Kubernetes'), its place
    /// in the order the target declares its kinds: objects of earlier kinds
    /// are applied first and pruned last.
    fn kind_order(&self, obj: &Object) -> Option<usize> {
        let _ = obj;
        None
    }
    /// Wait until CustomResourceDefinition `name` is Established.
    async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ObjectError>;
    /// Whether [`Target::watch`] works on this target.
    fn can_watch(&self) -> bool;
    /// Watch `objects` (namespaces defaulted): first the current state of
    /// each, then every change, until the stream is dropped.
    async fn watch(&self, objects: &[Object])
    -> Result<BoxStream<'static, LiveUpdate>, WatchError>;
}

/// The UID of a live object, if it has one.
pub fn uid_of(live: &Value) -> Option<&str> {
    live.pointer("/metadata/uid").and_then(Value::as_str)
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
