//! The sync plan: which objects are applied in which order. Pure, no I/O.
//!
//! Order is Argo CD's: phase (PreSync, Sync, PostSync), then wave, then the
//! kind order ([`KIND_ORDER`]), then name. Within one step a
//! CustomResourceDefinition goes before the custom resources it defines and a
//! Namespace before what lives in it. SyncFail hooks are kept apart in
//! [`Plan::sync_fail`]: they run only when the sync fails.
//!
//! - **Waves** come from `sluice.dev/sync-wave` or Argo CD's
//!   `argocd.argoproj.io/sync-wave`: an integer, default 0, negatives allowed.
//! - **Hooks** are objects annotated `argocd.argoproj.io/hook` with a comma
//!   list of `PreSync`, `Sync`, `PostSync`, `SyncFail`, or `Skip` (never
//!   applied). Non-hook objects are always in the Sync phase. Hooks are
//!   created per sync and are not ApplySet members; see [`Plan::hooks`].
//! - **Prune** runs after the last wave, in reverse: highest wave first and,
//!   within a wave, the reverse of the apply order ([`prune_order`]).
//!
//! ```
//! use sluice::object::from_value;
//! use sluice::sync::plan::{plan, Phase};
//! let objects = [
//!     serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!         "metadata": {"name": "web", "namespace": "prod"}}),
//!     serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
//!         "metadata": {"generateName": "migrate-", "namespace": "prod",
//!             "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}),
//! ];
//! let objects: Vec<_> = objects.into_iter().enumerate()
//!     .map(|(i, v)| from_value(v, None, i).expect("valid"))
//!     .collect();
//! let plan = plan(&objects).expect("valid annotations");
//! assert_eq!(plan.steps[0].phase, Phase::PreSync);
//! assert_eq!(plan.steps[0].objects[0].name, "migrate-");
//! assert_eq!(plan.steps[1].objects[0].name, "web");
//! ```

use crate::object::{Object, ObjectId};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Annotation giving an object's wave (sluice's own).
pub const WAVE_ANNOTATION: &str = "sluice.dev/sync-wave";
/// Argo CD's wave annotation, honoured as well.
pub const ARGO_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
/// Argo CD's hook annotation: a comma list of phases, or `Skip`.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// Argo CD's hook delete policy annotation: a comma list of policies.
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";

/// Argo CD's kind order; kinds not listed go after all of these.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The position of `kind` in [`KIND_ORDER`]; `KIND_ORDER.len()` for any
/// other kind, so unknown kinds (custom resources) go last.
///
/// ```
/// use sluice::sync::plan::kind_rank;
/// assert!(kind_rank("Namespace") < kind_rank("Deployment"));
/// assert!(kind_rank("APIService") < kind_rank("Certificate"));
/// ```
pub fn kind_rank(kind: &str) -> usize {
    // A `match` (length, then bytes) rather than a scan of KIND_ORDER: this
    // runs for every object. A unit test keeps the two in step.
    match kind {
        "Namespace" => 0,
        "NetworkPolicy" => 1,
        "ResourceQuota" => 2,
        "LimitRange" => 3,
        "PodSecurityPolicy" => 4,
        "PodDisruptionBudget" => 5,
        "ServiceAccount" => 6,
        "Secret" => 7,
        "SecretList" => 8,
        "ConfigMap" => 9,
        "StorageClass" => 10,
        "PersistentVolume" => 11,
        "PersistentVolumeClaim" => 12,
        "CustomResourceDefinition" => 13,
        "ClusterRole" => 14,
        "ClusterRoleList" => 15,
        "ClusterRoleBinding" => 16,
        "ClusterRoleBindingList" => 17,
        "Role" => 18,
        "RoleList" => 19,
        "RoleBinding" => 20,
        "RoleBindingList" => 21,
        "Service" => 22,
        "DaemonSet" => 23,
        "Pod" => 24,
        "ReplicationController" => 25,
        "ReplicaSet" => 26,
        "Deployment" => 27,
        "HorizontalPodAutoscaler" => 28,
        "StatefulSet" => 29,
        "Job" => 30,
        "CronJob" => 31,
        "IngressClass" => 32,
        "Ingress" => 33,
        "APIService" => 34,
        _ => KIND_ORDER.len(),
    }
}

/// A sync phase, in the order phases run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Hooks that run before anything is applied (a database migration).
    PreSync,
    /// The objects themselves, and `Sync` hooks.
    Sync,
    /// Hooks that run once every object is applied and Healthy.
    PostSync,
    /// Hooks that run only when the sync failed.
    SyncFail,
}

impl Phase {
    /// Argo CD's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a hook object is deleted (`argocd.argoproj.io/hook-delete-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeletePolicy {
    /// Delete the previous hook object before creating it again (default).
    BeforeHookCreation,
    /// Delete it once it succeeded.
    HookSucceeded,
    /// Delete it once it failed.
    HookFailed,
}

impl DeletePolicy {
    /// Argo CD's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletePolicy::BeforeHookCreation => "BeforeHookCreation",
            DeletePolicy::HookSucceeded => "HookSucceeded",
            DeletePolicy::HookFailed => "HookFailed",
        }
    }
}

impl fmt::Display for DeletePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a hook object runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The phases it runs in (one step per phase); never empty.
    pub phases: Vec<Phase>,
    /// Its delete policies; `[BeforeHookCreation]` when not annotated.
    pub delete_policies: Vec<DeletePolicy>,
    /// Its wave within each phase.
    pub wave: i64,
}

impl Hook {
    /// Whether it carries `policy`.
    pub fn deletes_on(&self, policy: DeletePolicy) -> bool {
        self.delete_policies.contains(&policy)
    }
}

/// One step of a sync: objects of one phase and wave, in apply order. The
/// next step starts only when every object of this one is Healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The phase.
    pub phase: Phase,
    /// The wave.
    pub wave: i64,
    /// The objects (hooks included; see [`Plan::hook`]), in apply order:
    /// kind order, a CRD before its custom resources, a Namespace before
    /// what lives in it, then name.
    pub objects: Vec<ObjectId>,
}

/// What a sync does, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// PreSync, Sync and PostSync steps, in order. Run them one after the
    /// other, waiting for health in between.
    pub steps: Vec<Step>,
    /// SyncFail steps: run only when the sync failed.
    pub sync_fail: Vec<Step>,
    /// Every hook object and how it runs. Hooks are created per sync, are
    /// not ApplySet members and are never pruned.
    pub hooks: BTreeMap<ObjectId, Hook>,
    /// Objects annotated `argocd.argoproj.io/hook: Skip`: never applied.
    pub skipped: Vec<ObjectId>,
    /// Prune steps, run after the last wave: highest wave first, each in
    /// reverse apply order. Empty from [`plan`]; filled by
    /// [`Plan::with_prune`].
    pub prune_order: Vec<Step>,
}

impl Plan {
    /// The hook settings of `id`, when it is a hook.
    pub fn hook(&self, id: &ObjectId) -> Option<&Hook> {
        self.hooks.get(id)
    }

    /// Whether `id` is a hook (created per sync, not an ApplySet member).
    pub fn is_hook(&self, id: &ObjectId) -> bool {
        self.hooks.contains_key(id)
    }

    /// The ApplySet members: every applied object that is not a hook, in
    /// apply order.
    pub fn members(&self) -> impl Iterator<Item = &ObjectId> {
        self.steps
            .iter()
            .flat_map(|s| s.objects.iter())
            .filter(|id| !self.is_hook(id))
    }

    /// Fill [`Plan::prune_order`] from the objects to delete (live ApplySet
    /// members no longer desired, opt-outs already removed).
    pub fn with_prune(mut self, extraneous: &[Object]) -> Result<Plan, PlanError> {
        self.prune_order = prune_order(extraneous)?;
        Ok(self)
    }
}

impl fmt::Display for Plan {
    /// One line per step, `PHASE WAVE OBJECTS`, hooks marked `(hook)`,
    /// SyncFail steps last, as `sluice sync --dry-run` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<9} {:>5}  OBJECTS", "PHASE", "WAVE")?;
        for s in self.steps.iter().chain(&self.sync_fail) {
            let objects: Vec<String> = s
                .objects
                .iter()
                .map(|id| {
                    if self.is_hook(id) {
                        format!("{id} (hook)")
                    } else {
                        id.to_string()
                    }
                })
                .collect();
            writeln!(
                f,
                "{:<9} {:>5}  {}",
                s.phase.as_str(),
                s.wave,
                objects.join(", ")
            )?;
        }
        for id in &self.skipped {
            writeln!(f, "{:<9} {:>5}  {id}", "Skip", "-")?;
        }
        Ok(())
    }
}

/// The error returned by [`plan`] and [`prune_order`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A wave annotation is not an integer.
    #[error(
        "{id}: annotation {annotation}: {value:?} is not an integer; write a wave such as \"-1\", \"0\" or \"5\""
    )]
    InvalidWave {
        /// The object (boxed: keeps the error small).
        id: Box<ObjectId>,
        /// The annotation.
        annotation: &'static str,
        /// Its value.
        value: String,
    },
    /// Both wave annotations are set, to different waves.
    #[error(
        "{id}: {WAVE_ANNOTATION} is {sluice} but {ARGO_WAVE_ANNOTATION} is {argo}; keep one of them"
    )]
    ConflictingWaves {
        /// The object (boxed: keeps the error small).
        id: Box<ObjectId>,
        /// The wave in `sluice.dev/sync-wave`.
        sluice: i64,
        /// The wave in `argocd.argoproj.io/sync-wave`.
        argo: i64,
    },
    /// A hook annotation names no known phase.
    #[error(
        "{id}: annotation {HOOK_ANNOTATION}: {value:?} is not a hook type; use PreSync, Sync, PostSync, SyncFail or Skip (comma separated)"
    )]
    UnknownHook {
        /// The object (boxed: keeps the error small).
        id: Box<ObjectId>,
        /// The unknown entry.
        value: String,
    },
    /// A hook delete policy is unknown.
    #[error(
        "{id}: annotation {HOOK_DELETE_POLICY_ANNOTATION}: {value:?} is not a delete policy; use HookSucceeded, HookFailed or BeforeHookCreation (comma separated)"
    )]
    UnknownDeletePolicy {
        /// The object (boxed: keeps the error small).
        id: Box<ObjectId>,
        /// The unknown entry.
        value: String,
    },
    /// An annotation is neither a string nor (for waves) an integer.
    #[error("{id}: annotation {annotation} must be a string")]
    NotAString {
        /// The object (boxed: keeps the error small).
        id: Box<ObjectId>,
        /// The annotation.
        annotation: &'static str,
    },
}

/// An object's annotations. Linear scans, not map lookups: metadata and
/// annotations are small, and hashing keys was most of the plan's time.
fn annotations(obj: &Object) -> Option<&serde_json::Map<String, Value>> {
    fn find<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
        v.as_object()?
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }
    find(find(&obj.value, "metadata")?, "annotations")?.as_object()
}

type Annotations<'a> = Option<&'a serde_json::Map<String, Value>>;

fn annotation<'a>(
    obj: &Object,
    anns: Annotations<'a>,
    name: &'static str,
) -> Result<Option<std::borrow::Cow<'a, str>>, PlanError> {
    match anns.and_then(|a| a.iter().find_map(|(k, v)| (k == name).then_some(v))) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(std::borrow::Cow::Borrowed(s.as_str()))),
        // YAML `sync-wave: 5` without quotes: accept, the wave is clear.
        Some(Value::Number(n)) if name.ends_with("sync-wave") => {
            Ok(Some(std::borrow::Cow::Owned(n.to_string())))
        }
        Some(_) => Err(PlanError::NotAString {
            id: Box::new(obj.id.clone()),
            annotation: name,
        }),
    }
}

fn wave_from(
    obj: &Object,
    anns: Annotations<'_>,
    name: &'static str,
) -> Result<Option<i64>, PlanError> {
    annotation(obj, anns, name)?
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| PlanError::InvalidWave {
                id: Box::new(obj.id.clone()),
                annotation: name,
                value: v.into_owned(),
            })
        })
        .transpose()
}

/// The wave of `obj`: `sluice.dev/sync-wave`, else
/// `argocd.argoproj.io/sync-wave`, else 0. Both set to different waves is
/// an error.
pub fn wave(obj: &Object) -> Result<i64, PlanError> {
    wave_in(obj, annotations(obj))
}

fn wave_in(obj: &Object, anns: Annotations<'_>) -> Result<i64, PlanError> {
    let ours = wave_from(obj, anns, WAVE_ANNOTATION)?;
    let argo = wave_from(obj, anns, ARGO_WAVE_ANNOTATION)?;
    match (ours, argo) {
        (Some(s), Some(a)) if s != a => Err(PlanError::ConflictingWaves {
            id: Box::new(obj.id.clone()),
            sluice: s,
            argo: a,
        }),
        (Some(w), _) | (None, Some(w)) => Ok(w),
        (None, None) => Ok(0),
    }
}

/// What the hook annotation says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookKind {
    /// Not a hook: an ordinary object of the Sync phase.
    None,
    /// `Skip`: never applied.
    Skip,
    /// A hook running in these phases.
    Phases(Vec<Phase>),
}

/// Read `argocd.argoproj.io/hook` of `obj`.
pub fn hook_kind(obj: &Object) -> Result<HookKind, PlanError> {
    hook_kind_in(obj, annotations(obj))
}

fn hook_kind_in(obj: &Object, anns: Annotations<'_>) -> Result<HookKind, PlanError> {
    let Some(value) = annotation(obj, anns, HOOK_ANNOTATION)? else {
        return Ok(HookKind::None);
    };
    let mut phases = Vec::new();
    let mut skip = false;
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let phase = match part {
            "PreSync" => Phase::PreSync,
            "Sync" => Phase::Sync,
            "PostSync" => Phase::PostSync,
            "SyncFail" => Phase::SyncFail,
            "Skip" => {
                skip = true;
                continue;
            }
            other => {
                return Err(PlanError::UnknownHook {
                    id: Box::new(obj.id.clone()),
                    value: other.to_string(),
                });
            }
        };
        if !phases.contains(&phase) {
            phases.push(phase);
        }
    }
    Ok(if skip {
        HookKind::Skip
    } else if phases.is_empty() {
        HookKind::None
    } else {
        phases.sort();
        HookKind::Phases(phases)
    })
}

/// Read `argocd.argoproj.io/hook-delete-policy` of `obj`; the default is
/// `[BeforeHookCreation]`.
pub fn delete_policies(obj: &Object) -> Result<Vec<DeletePolicy>, PlanError> {
    delete_policies_in(obj, annotations(obj))
}

fn delete_policies_in(obj: &Object, anns: Annotations<'_>) -> Result<Vec<DeletePolicy>, PlanError> {
    let mut out = Vec::new();
    if let Some(value) = annotation(obj, anns, HOOK_DELETE_POLICY_ANNOTATION)? {
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = match part {
                "BeforeHookCreation" => DeletePolicy::BeforeHookCreation,
                "HookSucceeded" => DeletePolicy::HookSucceeded,
                "HookFailed" => DeletePolicy::HookFailed,
                other => {
                    return Err(PlanError::UnknownDeletePolicy {
                        id: Box::new(obj.id.clone()),
                        value: other.to_string(),
                    });
                }
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    if out.is_empty() {
        out.push(DeletePolicy::BeforeHookCreation);
    }
    Ok(out)
}

/// The group and kind a CRD defines, from `spec.group` and `spec.names.kind`.
fn crd_defines(obj: &Object) -> Option<(&str, &str)> {
    if obj.id.kind != "CustomResourceDefinition" {
        return None;
    }
    let spec = obj.value.get("spec")?;
    Some((
        spec.get("group")?.as_str()?,
        spec.get("names")?.get("kind")?.as_str()?,
    ))
}

/// The rank an object sorts by inside a step: its kind's rank, except that
/// custom resources defined by a CRD of the same set count as unknown kinds,
/// so they follow their CRD whatever their kind is called.
fn rank(id: &ObjectId, custom: &HashSet<(&str, &str)>) -> usize {
    let r = kind_rank(&id.kind);
    // Only a custom kind that shares a built-in kind's name needs the set.
    if r < KIND_ORDER.len() && custom.contains(&(id.group.as_str(), id.kind.as_str())) {
        KIND_ORDER.len()
    } else {
        r
    }
}

/// Group `(phase, wave, index)` entries into sorted steps: by phase, wave,
/// rank, then kind (for kinds of equal rank), name, namespace and group.
fn steps(
    objects: &[Object],
    entries: Vec<(Phase, i64, usize)>,
    custom: &HashSet<(&str, &str)>,
) -> Vec<Step> {
    // Ranks once per object, not once per comparison.
    let mut keyed: Vec<(Phase, i64, usize, &ObjectId)> = entries
        .into_iter()
        .map(|(p, w, i)| (p, w, rank(&objects[i].id, custom), &objects[i].id))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then_with(|| {
            let (x, y) = (a.3, b.3);
            (&x.kind, &x.name, &x.namespace, &x.group).cmp(&(
                &y.kind,
                &y.name,
                &y.namespace,
                &y.group,
            ))
        })
    });
    let mut out: Vec<Step> = Vec::new();
    for (phase, wave, _, id) in keyed {
        match out.last_mut() {
            Some(s) if s.phase == phase && s.wave == wave => s.objects.push(id.clone()),
            _ => out.push(Step {
                phase,
                wave,
                objects: vec![id.clone()],
            }),
        }
    }
    out
}

/// Plan a sync of `desired`: steps by phase, wave and kind order, hooks,
/// skipped objects. Fails on the first object with an invalid wave or hook
/// annotation, naming it.
pub fn plan(desired: &[Object]) -> Result<Plan, PlanError> {
    let custom: HashSet<(&str, &str)> = desired.iter().filter_map(crd_defines).collect();
    let mut entries = Vec::with_capacity(desired.len());
    let mut fail_entries = Vec::new();
    let mut hooks = BTreeMap::new();
    let mut skipped = Vec::new();
    for (i, obj) in desired.iter().enumerate() {
        let anns = annotations(obj);
        let w = wave_in(obj, anns)?;
        match hook_kind_in(obj, anns)? {
            HookKind::None => entries.push((Phase::Sync, w, i)),
            HookKind::Skip => skipped.push(obj.id.clone()),
            HookKind::Phases(phases) => {
                for &p in &phases {
                    if p == Phase::SyncFail {
                        fail_entries.push((p, w, i));
                    } else {
                        entries.push((p, w, i));
                    }
                }
                hooks.insert(
                    obj.id.clone(),
                    Hook {
                        phases,
                        delete_policies: delete_policies_in(obj, anns)?,
                        wave: w,
                    },
                );
            }
        }
    }
    skipped.sort();
    Ok(Plan {
        steps: steps(desired, entries, &custom),
        sync_fail: steps(desired, fail_entries, &custom),
        hooks,
        skipped,
        prune_order: Vec::new(),
    })
}

/// The order to delete `extraneous` objects in: one step per wave, highest
/// wave first, each the reverse of the apply order (custom resources before
/// their CRD, a Namespace last). Hook objects (annotated
/// `argocd.argoproj.io/hook`) are left out: they are never pruned.
pub fn prune_order(extraneous: &[Object]) -> Result<Vec<Step>, PlanError> {
    let mut entries = Vec::with_capacity(extraneous.len());
    for (i, obj) in extraneous.iter().enumerate() {
        let anns = annotations(obj);
        if hook_kind_in(obj, anns)? != HookKind::None {
            continue;
        }
        // Live objects of the app: a bad annotation should not block a
        // prune, but an error names it so the user can fix it.
        entries.push((Phase::Sync, wave_in(obj, anns)?, i));
    }
    let custom: HashSet<(&str, &str)> = extraneous.iter().filter_map(crd_defines).collect();
    let mut out = steps(extraneous, entries, &custom);
    out.reverse();
    for s in &mut out {
        s.objects.reverse();
    }
    Ok(out)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
