//! The sync engine: apply an app's desired objects to a [`Target`] in
//! order, record the inventory, prune what is no longer desired.
//!
//! [`run`] is the one entry. It discovers the target, defaults namespaces,
//! reads the app's ApplySet inventory, then applies the objects group by
//! group (Namespaces, CRDs — waiting until Established —, then Argo CD's
//! kind order), each group concurrently up to [`SyncOptions::concurrency`].
//! Each object is compared first and written only when it differs, so a
//! sync with nothing to do sends no writes. The live side comes from one
//! listing per kind (the inventory); an object whose desired values are all
//! live and that would lose no field it applied before is decided locally
//! ([`crate::diff::local`]); only the rest get a server-side dry-run. A failed object is reported on its [`Row`] and the others carry
//! on. Pruning walks the groups backwards and honours the opt-out
//! annotations and the empty-render guard. With `dry_run`, nothing is
//! written and the rows say what would happen (this is what `sluice diff`
//! uses).
//!
//! **Ownership.** An app touches only its own objects. A desired object
//! that exists live but is not a member of this app's ApplySet (labelled
//! `applyset.kubernetes.io/part-of` with another id, or not labelled at
//! all: created by `kubectl`, by a controller, or applied by a sluice that
//! did not label its objects) is not applied: its row fails with an error
//! naming the owner (the other app, from its ApplySet parent, else the id)
//! and saying to pass `--adopt` ([`SyncOptions::adopt`]) to take it over.
//! Argo CD's tracking annotation is not proof of ownership. Adoption
//! relabels the object, so the former owner stops seeing it as a member
//! (it is never pruned by it, and that app's next sync refuses it in turn).
//! There is a short window between reading an object and applying it in
//! which someone else could create it; server-side apply offers no
//! "create only" precondition to close it.
//!
//! **Prune** deletes only members of this app's ApplySet (a label selector
//! on its id), only of the group-kinds and in the namespaces its parent
//! records, each with a UID precondition: an object deleted and created
//! again by someone else since it was listed is left alone (a `Skipped`
//! row).
//!
//! **Forget.** An object annotated [`FORGET_ANNOTATION`]` = "true"` is
//! not applied: when it is a live member, it is taken out of the app's
//! inventory and left in place ([`crate::target::Target::release`]), so it
//! is never pruned and no longer compared (Terraform's `removed` block
//! with `destroy = false`; the Terraform-plan renderer marks `forget`
//! resources so). A dry-run shows it `OutOfSync` with the action
//! `forgotten`; when it is not (or no longer) a member, its row is
//! `Skipped`.
//!
//! **Waits** are never skipped: a sync that has to wait (more than one
//! phase or wave, hooks, `--wait`) on a target that cannot watch is
//! refused with [`SyncError::CannotWait`] before anything is written.
//!
//! **Errors.** `Err` from [`run`] means nothing was written. Once something
//! has been, every problem is a row: when the inventory Secret cannot be
//! written after objects were applied, the report lists them and adds a
//! failed row for the Secret, and nothing is pruned.
//!
//! [`Target`]: crate::target::Target

mod apply;
pub mod hooks;
mod order;
pub mod plan;
pub mod wait;
pub mod waves;

pub use apply::run;

/// Annotation that asks the sync to stop managing an object without
/// deleting it (value `"true"`); see the module documentation.
pub const FORGET_ANNOTATION: &str = "sluice.dev/forget";

use crate::object::{ObjectError, ObjectId};
use crate::target::TargetError;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How to sync one app.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The app's name (names its inventory and every message).
    pub app: String,
    /// The destination namespace (`default` when empty).
    pub namespace: String,
    /// Write nothing; report what would happen.
    pub dry_run: bool,
    /// Delete inventory members that are no longer desired.
    pub prune: bool,
    /// Allow pruning every member when the render returned nothing.
    pub allow_empty: bool,
    /// Take over fields owned by other field managers.
    pub force_conflicts: bool,
    /// Create the destination namespace when missing.
    pub create_namespace: bool,
    /// How many objects of one group are applied at once.
    pub concurrency: usize,
    /// How long to wait for a CRD to be Established.
    pub crd_timeout: Duration,
    /// Take over desired objects that exist but are not members of this
    /// app's ApplySet (`--adopt`): another app's, or created outside
    /// sluice. Without it such objects are refused, each on its row.
    pub adopt: bool,
    /// Wait for the last step to be Healthy too (`--wait`).
    pub wait: bool,
    /// The deadline for all waiting in one sync (`--timeout`).
    pub timeout: Duration,
    /// Told what the sync is waiting for (phase, wave, object and its
    /// health) each time that changes: a live line on a terminal, plain
    /// lines otherwise.
    pub status: StatusSink,
    /// Fields not compared and not sent (the Application's
    /// `ignoreDifferences`).
    pub ignore: crate::diff::ignore::Ignore,
    /// Labels and annotations of the namespace `create_namespace` creates
    /// (`managedNamespaceMetadata`).
    pub namespace_metadata: Option<(Value, Value)>,
    /// How pruned objects' dependents are deleted
    /// (`PrunePropagationPolicy`; background by default).
    pub propagation: crate::target::Propagation,
    /// The operation's hooks across a restart (the service's); none: every
    /// sync runs its hooks afresh.
    pub hooks: hooks::HookLedger,
    /// This run deletes the app's objects because the app itself is being
    /// deleted (cascading deletion): objects annotated
    /// `argocd.argoproj.io/sync-options: Delete=false` stay, `Prune=false`
    /// ones go, as in Argo CD.
    pub deleting_app: bool,
}

/// A function receiving status lines.
type StatusFn = dyn Fn(&str) + Send + Sync;

/// Where "waiting for ..." lines go; by default nowhere.
#[derive(Clone, Default)]
pub struct StatusSink(Option<std::sync::Arc<StatusFn>>);

impl StatusSink {
    /// A sink calling `f` with each line.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        StatusSink(Some(std::sync::Arc::new(f)))
    }

    /// Report one line.
    pub fn show(&self, line: &str) {
        if let Some(f) = &self.0 {
            f(line);
        }
    }
}

impl std::fmt::Debug for StatusSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StatusSink(set)"
        } else {
            "StatusSink(none)"
        })
    }
}

impl SyncOptions {
    /// Options for `app` into `namespace` with the defaults: not a dry-run,
    /// no prune, conflicts forced, 32 objects at once.
    pub fn new(app: &str, namespace: &str) -> SyncOptions {
        SyncOptions {
            app: app.to_string(),
            namespace: namespace.to_string(),
            dry_run: false,
            prune: false,
            allow_empty: false,
            force_conflicts: true,
            create_namespace: false,
            concurrency: 32,
            crd_timeout: Duration::from_secs(60),
            adopt: false,
            wait: false,
            timeout: Duration::from_secs(300),
            status: StatusSink::default(),
            ignore: Default::default(),
            namespace_metadata: None,
            propagation: Default::default(),
            hooks: Default::default(),
            deleting_app: false,
        }
    }
}

/// An object's state after the sync (or, for a dry-run, now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RowStatus {
    /// Live equals desired.
    Synced,
    /// Live differs from desired (dry-run).
    OutOfSync,
    /// Desired but not live (dry-run).
    Missing,
    /// Live member no longer desired, kept.
    Extraneous,
    /// Deleted by prune.
    Pruned,
    /// The target refused it; see the message.
    SyncFailed,
    /// Left alone: `kustomize.toolkit.fluxcd.io/reconcile: disabled`, or
    /// a prune candidate replaced by someone else since it was listed.
    Skipped,
}

impl std::fmt::Display for RowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// What the sync did (or would do) to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Created (or would create).
    Created,
    /// Changed (or would change).
    Configured,
    /// Nothing to do.
    Unchanged,
    /// Deleted (or would delete).
    Pruned,
    /// Taken out of the app's inventory, left in place (or would be).
    Forgotten,
    /// Nothing was done (failed, skipped, kept).
    None,
}

/// One object's result: `GROUP KIND NAMESPACE NAME STATUS MESSAGE`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// State.
    pub status: RowStatus,
    /// What was done.
    pub action: Action,
    /// Detail: the target's message for failures.
    pub message: String,
    /// An extraneous object annotated `IgnoreExtraneous`: not drift.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    /// The live object before the sync, when it differs (for diffs).
    #[serde(skip)]
    pub live: Option<Value>,
    /// The object as it is (would be) after applying, when it differs.
    #[serde(skip)]
    pub desired: Option<Value>,
    /// Its health when it was waited for: `Healthy`, `Progressing`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The hook phase for a hook object: `PreSync`, `Sync`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
}

impl Row {
    /// A row for `id`.
    pub fn new(
        id: &ObjectId,
        status: RowStatus,
        action: Action,
        message: impl Into<String>,
    ) -> Row {
        Row {
            group: id.group.clone(),
            kind: id.kind.clone(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            status,
            action,
            message: message.into(),
            ignored: false,
            live: None,
            desired: None,
            health: None,
            hook: None,
        }
    }

    /// The object's identity.
    pub fn id(&self) -> ObjectId {
        ObjectId {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether this row means the app is not in sync.
    pub fn is_drift(&self) -> bool {
        match self.status {
            RowStatus::Synced | RowStatus::Pruned | RowStatus::Skipped => false,
            RowStatus::Extraneous => !self.ignored,
            RowStatus::OutOfSync | RowStatus::Missing | RowStatus::SyncFailed => true,
        }
    }
}

/// The result of a sync.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The app.
    pub app: String,
    /// The target, described.
    pub target: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// One row per object, in apply order, then pruned objects.
    pub rows: Vec<Row>,
}

impl Report {
    /// How many objects failed.
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status == RowStatus::SyncFailed)
            .count()
    }

    /// Whether live equals desired for every object.
    pub fn in_sync(&self) -> bool {
        !self.rows.iter().any(Row::is_drift)
    }

    /// One line: counts by action, or by status for a dry-run.
    pub fn summary(&self) -> String {
        let n = |f: &dyn Fn(&Row) -> bool| self.rows.iter().filter(|r| f(r)).count();
        let verb = if self.dry_run { "would be " } else { "" };
        format!(
            "app {} on {}: {} objects, {} {verb}created, {} {verb}configured, {} unchanged, {} {verb}pruned, {} failed{}",
            self.app,
            self.target,
            self.rows.len(),
            n(&|r| r.action == Action::Created),
            n(&|r| r.action == Action::Configured),
            n(&|r| r.action == Action::Unchanged),
            n(&|r| r.action == Action::Pruned),
            self.failed(),
            if self.in_sync() {
                "; in sync"
            } else {
                "; out of sync"
            },
        ) + &self
            .health()
            .map(|h| format!("; health {h}"))
            .unwrap_or_default()
    }
}

/// Reports progress of a long sync (a progress bar on a terminal).
pub trait Progress: Sync {
    /// `total` objects are about to be processed.
    fn start(&self, total: u64);
    /// One object is done.
    fn step(&self, row: &Row);
    /// Everything is done.
    fn finish(&self);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn step(&self, _: &Row) {}
    fn finish(&self) {}
}

/// The error returned by [`run`] when the sync cannot proceed at all;
/// per-object failures are rows, not errors.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The target could not be discovered or listed.
    #[error("app {app}")]
    Target {
        /// The app.
        app: String,
        /// What went wrong.
        #[source]
        source: TargetError,
    },
    /// Two desired objects share an identity once namespaces are defaulted.
    #[error("app {app}")]
    Duplicate {
        /// The app.
        app: String,
        /// Which objects.
        #[source]
        source: ObjectError,
    },
    /// A wave or hook annotation is invalid.
    #[error("app {app}")]
    Plan {
        /// The app.
        app: String,
        /// Which object and annotation.
        #[source]
        source: plan::PlanError,
    },
    /// The sync would have to wait (waves, hooks, `--wait`) but the target
    /// cannot watch objects; nothing was written.
    #[error(
        "app {app}: this sync has to wait for objects to be Healthy ({needs}), but {target} cannot watch objects; nothing was applied. Sync to a Kubernetes cluster, or drop the sync-wave and hook annotations and --wait"
    )]
    CannotWait {
        /// The app.
        app: String,
        /// The target, described.
        target: String,
        /// Why it has to wait.
        needs: String,
    },
    /// The render returned nothing and pruning would delete every member.
    #[error(
        "app {app}: the render returned no objects but the app has {members} live objects; refusing to prune them all. Pass --allow-empty (or set syncPolicy.automated.allowEmpty) if that is what you want"
    )]
    EmptyRender {
        /// The app.
        app: String,
        /// How many live members there are.
        members: usize,
    },
    /// The inventory Secret could not be read or written.
    #[error("app {app}: cannot use the inventory Secret {namespace}/{name}: {message}")]
    Inventory {
        /// The app.
        app: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What went wrong, and what to do.
        message: String,
    },
}
