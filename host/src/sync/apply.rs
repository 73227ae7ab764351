//! The apply loop: compare, apply what differs, record the inventory,
//! prune. See the module documentation of [`crate::sync`].

use super::waves::Waves;
use super::{Action, Progress, Report, Row, RowStatus, SyncError, SyncOptions};
use crate::diff::{self, Status};
use crate::object::{self, Object, ObjectId};
use crate::target::applyset::{self, GroupKind, Owner, PART_OF_LABEL, Parent};
use crate::target::{ApplyOptions, Deleted, ObjectError, Scope, Target, uid_of};
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Argo CD's per-object sync options annotation.
const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// Argo CD's per-object compare options annotation.
const COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
/// Flux's prune opt-out.
const FLUX_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Flux's reconcile opt-out.
const FLUX_RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
/// Flux's apply policy: `Override` and `Merge` (server-side apply, which
/// never removes other managers' fields: what sluice always does),
/// `IfNotPresent` (create, never update), `Ignore` (never apply).
const FLUX_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn has_option(v: &Value, key: &str, option: &str) -> bool {
    annotation(v, key).is_some_and(|s| s.split(',').any(|o| o.trim() == option))
}

fn gk(id: &ObjectId) -> GroupKind {
    GroupKind {
        group: id.group.clone(),
        kind: id.kind.clone(),
    }
}

/// The (group, kind) → scope of custom resources defined by CRDs in `objects`.
fn app_crds(objects: &[Object]) -> HashMap<(String, String), Scope> {
    objects
        .iter()
        .filter(|o| o.id.kind == "CustomResourceDefinition" && o.id.group == "apiextensions.k8s.io")
        .filter_map(|o| {
            let group = o.value.pointer("/spec/group")?.as_str()?.to_string();
            let kind = o.value.pointer("/spec/names/kind")?.as_str()?.to_string();
            let scope = match o.value.pointer("/spec/scope").and_then(Value::as_str) {
                Some("Cluster") => Scope::Cluster,
                _ => Scope::Namespaced,
            };
            Some(((group, kind), scope))
        })
        .collect()
}

fn set_namespace(o: &mut Object, ns: Option<&str>) {
    o.id.namespace = ns.map(str::to_string);
    if let Some(meta) = o.value.get_mut("metadata").and_then(Value::as_object_mut) {
        match ns {
            Some(ns) => meta.insert("namespace".into(), Value::String(ns.to_string())),
            None => meta.remove("namespace"),
        };
    }
}

fn failed(id: &ObjectId, e: &ObjectError, force: bool) -> Row {
    let mut message = e.to_string();
    if e.is_conflict() && !force {
        message.push_str(" (another field manager owns these fields; sync without --no-force-conflicts to take them over)");
    }
    Row::new(id, RowStatus::SyncFailed, Action::None, message)
}

/// This app's claim on live objects: its ApplySet id, whether to adopt
/// objects that are not its own, and the names of other owners found so
/// far (one parent lookup per foreign ApplySet).
struct Ownership<'a> {
    app: &'a str,
    id: &'a str,
    adopt: bool,
    names: Mutex<HashMap<String, String>>,
}

/// What to do with a live object that is not in this app's inventory.
enum Verdict {
    /// It is a member after all (labelled, but of a kind the parent did
    /// not list yet).
    Ours,
    /// Take it over (`--adopt`); from whom.
    Adopt(String),
    /// Leave it alone; why, and what to do.
    Refuse(String),
}

impl Ownership<'_> {
    /// Name the owner of ApplySet `other` (cached).
    async fn name_of<T: Target>(&self, target: &T, other: &str) -> String {
        if let Some(n) = self.names.lock().ok().and_then(|m| m.get(other).cloned()) {
            return n;
        }
        // Not being allowed to look is no reason to fail: name the id.
        let parent = target.find_parent(other).await.ok().flatten();
        let name = applyset::describe_owner(other, parent.as_ref());
        if let Ok(mut m) = self.names.lock() {
            m.insert(other.to_string(), name.clone());
        }
        name
    }

    async fn check<T: Target>(&self, target: &T, live: &Value) -> Verdict {
        let app = self.app;
        match applyset::owner(live, self.id) {
            Owner::Ours => Verdict::Ours,
            Owner::Other(other) => {
                let who = self.name_of(target, &other).await;
                if self.adopt {
                    Verdict::Adopt(who)
                } else {
                    Verdict::Refuse(format!(
                        "exists and belongs to {who}; sluice does not take over another app's objects: remove it from one of the two apps, or pass --adopt to move it to app {app}"
                    ))
                }
            }
            Owner::Unmanaged { by_sluice } => {
                let how = if by_sluice {
                    "although field manager sluice owns fields of it (applied by a sluice that did not label its objects, or taken over by hand)"
                } else {
                    "(created outside sluice, e.g. with kubectl; an Argo CD tracking annotation does not count)"
                };
                if self.adopt {
                    Verdict::Adopt("outside any ApplySet".into())
                } else {
                    Verdict::Refuse(format!(
                        "exists but is not part of app {app}: it has no {PART_OF_LABEL} label {how}; pass --adopt to take it over"
                    ))
                }
            }
        }
    }
}

/// Compare one object and apply it when it differs. With `ownership`, a
/// live object that is not in the inventory (`member`) is checked first.
async fn one<T: Target>(
    target: &T,
    obj: &Object,
    member: Option<&Value>,
    opts: &SyncOptions,
    assume_missing: bool,
    ownership: Option<&Ownership<'_>>,
) -> Row {
    let id = &obj.id;
    // The inventory lists members at the server's preferred version; an
    // object desired at another version (autoscaling/v1 next to v2) is read
    // at its own, or it would never compare equal.
    let same_version =
        |v: &Value| v.get("apiVersion").and_then(Value::as_str) == Some(obj.api_version.as_str());
    let live = match member {
        Some(v) if same_version(v) => Some(v.clone()),
        None if assume_missing => None,
        _ => match target.get(obj).await {
            Ok(v) => v,
            Err(e) => return failed(id, &e, opts.force_conflicts),
        },
    };
    // Argo CD's per-object replace: sluice only applies with server-side
    // apply (as for the Application-wide option).
    for option in ["Replace=true", "Force=true"] {
        if has_option(&obj.value, SYNC_OPTIONS, option) {
            return Row::new(
                id,
                RowStatus::SyncFailed,
                Action::None,
                format!(
                    "{SYNC_OPTIONS}: {option} is not supported: sluice only applies with server-side apply (it never replaces or deletes and recreates an object); remove the option"
                ),
            );
        }
    }
    if live.as_ref().and_then(|l| annotation(l, FLUX_RECONCILE)) == Some("disabled") {
        return Row::new(
            id,
            RowStatus::Skipped,
            Action::None,
            format!("{FLUX_RECONCILE}: disabled"),
        );
    }
    let policy = annotation(&obj.value, FLUX_SSA)
        .or_else(|| live.as_ref().and_then(|l| annotation(l, FLUX_SSA)));
    match policy {
        None | Some("Override" | "Merge") => {}
        Some("Ignore") => {
            return Row::new(
                id,
                RowStatus::Skipped,
                Action::None,
                format!("{FLUX_SSA}: Ignore"),
            );
        }
        Some("IfNotPresent") if live.is_some() => {
            return Row::new(
                id,
                RowStatus::Skipped,
                Action::None,
                format!("exists; {FLUX_SSA}: IfNotPresent"),
            );
        }
        Some("IfNotPresent") => {}
        Some(other) => {
            return Row::new(
                id,
                RowStatus::SyncFailed,
                Action::None,
                format!(
                    "{FLUX_SSA}: {other:?} is not one of Override, Merge, IfNotPresent, Ignore"
                ),
            );
        }
    }
    let mut adopted = None;
    if let (None, Some(own), Some(l)) = (member, ownership, &live) {
        match own.check(target, l).await {
            Verdict::Ours => {}
            Verdict::Adopt(from) => adopted = Some(from),
            Verdict::Refuse(why) => {
                let mut row = Row::new(id, RowStatus::SyncFailed, Action::None, why);
                row.live = live;
                return row;
            }
        }
    }
    let mut row = compare_and_apply(target, obj, live, opts, assume_missing).await;
    if row.status == RowStatus::SyncFailed {
        // The server's refusal may quote the object's secret values.
        row.message = obj.scrub(&row.message);
    }
    if let Some(from) = adopted
        && row.status != RowStatus::SyncFailed
    {
        let verb = if opts.dry_run {
            "would adopt"
        } else {
            "adopted"
        };
        row.message = format!("{} ({verb} from {from})", row.message);
    }
    row
}

/// The second half of [`one`]: dry-run, compare, apply.
async fn compare_and_apply<T: Target>(
    target: &T,
    obj: &Object,
    live: Option<Value>,
    opts: &SyncOptions,
    assume_missing: bool,
) -> Row {
    let id = &obj.id;
    let real = ApplyOptions {
        dry_run: false,
        force: opts.force_conflicts,
    };
    let dry = ApplyOptions {
        dry_run: true,
        ..real
    };
    if live.is_none() && !opts.dry_run {
        return match target.apply(obj, real).await {
            Ok(_) => Row::new(id, RowStatus::Synced, Action::Created, "created"),
            Err(e) => failed(id, &e, opts.force_conflicts),
        };
    }
    // Ignored fields are not sent over a live object (see diff::ignore).
    let trimmed;
    let obj = match &live {
        Some(l) if !opts.ignore.is_empty() => {
            let mut o = obj.clone();
            opts.ignore
                .for_apply(id, &mut o.value, l, crate::target::FIELD_MANAGER);
            trimmed = o;
            &trimmed
        }
        _ => obj,
    };
    // An object whose every value is already live and that would lose no
    // field needs no dry-run (see diff::local).
    if let Some(l) = &live
        && !assume_missing
        && diff::local::apply_is_noop(&obj.value, l, crate::target::FIELD_MANAGER)
    {
        return Row::new(id, RowStatus::Synced, Action::Unchanged, "unchanged");
    }
    let mut after = if assume_missing {
        obj.value.clone()
    } else {
        match target.apply(obj, dry).await {
            Ok(v) => v,
            Err(e) => return failed(id, &e, opts.force_conflicts),
        }
    };
    let mut live = live;
    if !opts.ignore.is_empty() {
        let owner = live.clone();
        if let Some(l) = live.as_mut() {
            opts.ignore.normalise(id, l, owner.as_ref());
        }
        opts.ignore.normalise(id, &mut after, owner.as_ref());
    }
    let status = diff::compare(live.as_ref(), &after);
    let action = if status == Status::Missing {
        Action::Created
    } else {
        Action::Configured
    };
    let mut row = match (status, opts.dry_run) {
        (Status::Synced, _) => {
            return Row::new(id, RowStatus::Synced, Action::Unchanged, "unchanged");
        }
        (Status::Missing, true) => Row::new(id, RowStatus::Missing, action, "would create"),
        (_, true) => Row::new(id, RowStatus::OutOfSync, action, "would configure"),
        (_, false) => match target.apply(obj, real).await {
            Ok(_) => Row::new(
                id,
                RowStatus::Synced,
                action,
                if action == Action::Created {
                    "created"
                } else {
                    "configured"
                },
            ),
            Err(e) => failed(id, &e, opts.force_conflicts),
        },
    };
    row.live = live;
    row.desired = Some(after);
    diff::mask_sensitive(
        row.live.as_mut(),
        row.desired.as_mut(),
        &obj.sensitive_paths,
    );
    row
}

/// Decide about one extraneous member and prune it when allowed.
async fn prune_one<T: Target>(
    target: &T,
    obj: &Object,
    opts: &SyncOptions,
    blocked: Option<&str>,
) -> Row {
    let id = &obj.id;
    let keep = |message: String| {
        let mut r = Row::new(id, RowStatus::Extraneous, Action::None, message);
        r.ignored = has_option(&obj.value, COMPARE_OPTIONS, "IgnoreExtraneous");
        r.live = Some(obj.value.clone());
        r
    };
    // Deleting the app (Argo CD's cascading deletion) keeps what asks for
    // `Delete=false`; a sync keeps what asks for `Prune=false`.
    if opts.deleting_app {
        if has_option(&obj.value, SYNC_OPTIONS, "Delete=false") {
            return keep(format!(
                "not deleted with the app: {SYNC_OPTIONS}: Delete=false"
            ));
        }
    } else if has_option(&obj.value, SYNC_OPTIONS, "Prune=false") {
        return keep(format!("not pruned: {SYNC_OPTIONS}: Prune=false"));
    }
    if annotation(&obj.value, FLUX_PRUNE) == Some("disabled") {
        return keep(format!("not pruned: {FLUX_PRUNE}: disabled"));
    }
    if !opts.prune {
        return keep("no longer desired; sync with --prune to delete it".into());
    }
    if let Some(why) = blocked {
        return keep(format!("not pruned: {why}"));
    }
    if opts.dry_run {
        let mut r = keep("would prune".into());
        r.action = Action::Pruned;
        return r;
    }
    match target
        .delete_propagating(obj, uid_of(&obj.value), opts.propagation)
        .await
    {
        Ok(Deleted::Deleted | Deleted::NotFound) => {
            Row::new(id, RowStatus::Pruned, Action::Pruned, "pruned")
        }
        Ok(Deleted::Replaced) => Row::new(
            id,
            RowStatus::Skipped,
            Action::None,
            "not pruned: it was deleted and created again by someone else since it was listed (another UID); that object is not this app's",
        ),
        Err(e) => failed(id, &e, true),
    }
}

/// Write the inventory parent listing `kinds` and `namespaces`, unless it
/// already does.
async fn write_parent<T: Target>(
    target: &T,
    parent: &Parent,
    (kinds, namespaces): (&BTreeSet<GroupKind>, &BTreeSet<String>),
    live: &mut Option<Value>,
    app: &str,
) -> Result<(), SyncError> {
    let want = parent.object(kinds, namespaces);
    let same = live.as_ref().is_some_and(|l| {
        [
            applyset::CONTAINS_GROUP_KINDS,
            applyset::ADDITIONAL_NAMESPACES,
            applyset::TOOLING,
        ]
        .iter()
        .all(|a| annotation(l, a) == annotation(&want, a))
    });
    if same {
        return Ok(());
    }
    let err = |message: String| SyncError::Inventory {
        app: app.to_string(),
        namespace: parent.namespace.clone(),
        name: parent.name.clone(),
        message,
    };
    let obj = object::from_value(want, None, 0).map_err(|e| err(e.to_string()))?;
    let written = target
        .apply(
            &obj,
            ApplyOptions {
                dry_run: false,
                force: true,
            },
        )
        .await
        .map_err(|e| {
            err(format!(
                "{e}; the destination namespace must exist (create it, or set CreateNamespace=true)"
            ))
        })?;
    *live = Some(written);
    Ok(())
}

/// Whether anything was written so far (a row created, configured or
/// pruned something).
fn wrote(rows: &[Row]) -> bool {
    rows.iter().any(|r| {
        matches!(
            r.action,
            Action::Created | Action::Configured | Action::Pruned
        ) && matches!(r.status, RowStatus::Synced | RowStatus::Pruned)
    })
}

/// The row standing for an inventory write that failed after other
/// objects were written.
fn inventory_row(parent: &Parent, e: &SyncError) -> Row {
    let id = ObjectId {
        group: String::new(),
        kind: "Secret".into(),
        namespace: Some(parent.namespace.clone()),
        name: parent.name.clone(),
    };
    Row::new(
        &id,
        RowStatus::SyncFailed,
        Action::None,
        format!(
            "{e}; the other rows say what was applied or pruned, but the inventory does not record it: fix this and sync again"
        ),
    )
}

/// The namespaces of `objects` (cluster-scoped ones have none).
fn namespaces_of<'a>(objects: impl IntoIterator<Item = &'a Object>) -> BTreeSet<String> {
    objects
        .into_iter()
        .filter_map(|o| o.id.namespace.clone())
        .collect()
}

/// Sync `desired` (a successful render's objects) to `target`.
///
/// `Err` means nothing was written. Once something has been written,
/// problems are rows of the report: even when the inventory cannot be
/// written afterwards, the report lists what was applied, plus a failed
/// row for the inventory Secret.
pub async fn run<T: Target>(
    target: &T,
    desired: Vec<Object>,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Report, SyncError> {
    let app = opts.app.as_str();
    let target_err = |source| SyncError::Target {
        app: app.to_string(),
        source,
    };
    target.discover().await.map_err(target_err)?;
    let ns = if opts.namespace.is_empty() {
        "default"
    } else {
        opts.namespace.as_str()
    };
    let crds = app_crds(&desired);
    let mut rows = Vec::new();
    let mut objects = Vec::with_capacity(desired.len());
    let mut unserved: HashSet<ObjectId> = HashSet::new();
    for mut o in desired {
        if o.api_version.is_empty() {
            rows.push(Row::new(&o.id, RowStatus::SyncFailed, Action::None, format!(
                "{} {} has no apiVersion; kustomize passes such an object through, but no API server accepts it: add apiVersion to it{}",
                o.id.kind,
                o.id.name,
                o.origin.as_ref().map(|g| format!(" in {}", g.file)).unwrap_or_default()
            )));
            continue;
        }
        let served = target.scope(&o.api_version, &o.id.kind);
        let scope = crds
            .get(&(o.id.group.clone(), o.id.kind.clone()))
            .copied()
            .or(served);
        match scope {
            Some(Scope::Namespaced) => {
                let n = o.id.namespace.clone().unwrap_or_else(|| ns.to_string());
                set_namespace(&mut o, Some(&n));
            }
            Some(Scope::Cluster) => set_namespace(&mut o, None),
            None => {
                rows.push(Row::new(&o.id, RowStatus::SyncFailed, Action::None, format!(
                    "{} {} is not served by {}; install its CustomResourceDefinition first or add it to the app",
                    o.api_version, o.id.kind, target.describe()
                )));
                continue;
            }
        }
        if served.is_none() {
            unserved.insert(o.id.clone());
        }
        objects.push(o);
    }
    object::check_unique(&objects).map_err(|source| SyncError::Duplicate {
        app: app.to_string(),
        source,
    })?;
    // Forgotten objects are released, never applied.
    let (forgotten, objects): (Vec<Object>, Vec<Object>) = objects
        .into_iter()
        .partition(|o| annotation(&o.value, super::FORGET_ANNOTATION) == Some("true"));
    // Phases and waves: hooks and Skip objects leave the member list.
    let (mut objects, waves) = Waves::split(objects).map_err(|source| SyncError::Plan {
        app: app.to_string(),
        source,
    })?;
    // Waits are never skipped: refuse before anything is written.
    if !opts.dry_run
        && let Some(needs) = waves.needs_watch(opts.wait)
        && !target.can_watch()
    {
        return Err(SyncError::CannotWait {
            app: app.to_string(),
            target: target.describe(),
            needs,
        });
    }

    let parent = Parent::for_app(app, ns);
    let kind_order: super::order::KindOrder = objects
        .iter()
        .chain(&forgotten)
        .filter_map(|o| {
            let p = target.kind_order(o)?;
            Some(((o.id.group.clone(), o.id.kind.clone()), p))
        })
        .collect();
    let waves = waves
        .with_owner(&parent.id)
        .with_kind_order(kind_order.clone());
    let inventory_err = |message: String| SyncError::Inventory {
        app: app.to_string(),
        namespace: parent.namespace.clone(),
        name: parent.name.clone(),
        message,
    };
    let parent_probe =
        object::from_value(parent.object(&BTreeSet::new(), &BTreeSet::new()), None, 0)
            .map_err(|e| inventory_err(e.to_string()))?;
    let mut live_parent = target
        .get(&parent_probe)
        .await
        .map_err(|e| inventory_err(e.to_string()))?;
    if let Some(lp) = &live_parent {
        let id = applyset::label(lp, applyset::ID_LABEL);
        if id != Some(parent.id.as_str()) {
            return Err(inventory_err(format!(
                "it exists but is not labelled {}={}; it belongs to something else, rename the app or delete that Secret",
                applyset::ID_LABEL,
                parent.id
            )));
        }
    }
    // Where members may be: what the parent records, plus where the
    // desired objects go (recorded in the parent before any is applied).
    let old_kinds = live_parent
        .as_ref()
        .map(applyset::group_kinds)
        .unwrap_or_default();
    let old_namespaces = live_parent
        .as_ref()
        .map(applyset::namespaces)
        .unwrap_or_default();
    let new_kinds: BTreeSet<GroupKind> = objects.iter().map(|o| gk(&o.id)).collect();
    let mut new_namespaces = namespaces_of(&objects);
    new_namespaces.insert(ns.to_string());
    let all_kinds: BTreeSet<GroupKind> = old_kinds.union(&new_kinds).cloned().collect();
    let all_namespaces: BTreeSet<String> = old_namespaces.union(&new_namespaces).cloned().collect();
    // Forgotten objects are looked for where they are, too.
    let mut list_kinds = all_kinds.clone();
    list_kinds.extend(forgotten.iter().map(|o| gk(&o.id)));
    let mut list_namespaces = all_namespaces.clone();
    list_namespaces.extend(namespaces_of(&forgotten));
    let mut live: HashMap<ObjectId, Value> = HashMap::new();
    for (n, v) in target
        .list_members(&parent.id, &list_kinds, &list_namespaces)
        .await
        .map_err(target_err)?
        .into_iter()
        .enumerate()
    {
        // Only members of this ApplySet, whatever the target's selector did.
        if applyset::label(&v, PART_OF_LABEL) != Some(parent.id.as_str()) {
            continue;
        }
        if let Ok(o) = object::from_value(v, None, n) {
            let kind_ok = list_kinds.contains(&gk(&o.id));
            let ns_ok =
                o.id.namespace
                    .as_ref()
                    .is_none_or(|n| list_namespaces.contains(n));
            if kind_ok && ns_ok {
                live.insert(o.id, o.value);
            }
        }
    }
    if objects.is_empty()
        && forgotten.is_empty()
        && rows.is_empty()
        && !live.is_empty()
        && opts.prune
        && !opts.allow_empty
    {
        return Err(SyncError::EmptyRender {
            app: app.to_string(),
            members: live.len(),
        });
    }
    for o in &mut objects {
        applyset::label_member(&mut o.value, &parent.id);
    }
    let ownership = Ownership {
        app,
        id: &parent.id,
        adopt: opts.adopt,
        names: Mutex::new(HashMap::new()),
    };

    progress.start(objects.len() as u64);
    // Namespaces that a dry-run would create: their objects cannot be
    // dry-run on the server yet.
    let mut missing_ns: HashSet<String> = HashSet::new();
    let declares_ns = objects
        .iter()
        .any(|o| o.id.kind == "Namespace" && o.id.group.is_empty() && o.id.name == ns);
    if opts.create_namespace && !declares_ns {
        let mut v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        if let Some((labels, annotations)) = &opts.namespace_metadata {
            v["metadata"]["labels"] = labels.clone();
            v["metadata"]["annotations"] = annotations.clone();
        }
        let nso = object::from_value(v, None, 0).map_err(|e| inventory_err(e.to_string()))?;
        // Not a member: an existing namespace is used as it is, whoever
        // made it.
        let mut row = one(target, &nso, None, opts, false, None).await;
        if row.status == RowStatus::Missing {
            missing_ns.insert(ns.to_string());
        }
        row.message.push_str(" (CreateNamespace=true)");
        rows.push(row);
    }
    let inventory = (&all_kinds, &all_namespaces);
    let mut parent_written = false;
    // The inventory could not be written after something else was.
    let mut inventory_failed: Option<SyncError> = None;
    let steps = waves.steps(&objects);
    let mut stopped = None;
    'steps: for (si, step) in steps.iter().enumerate() {
        for group in step.groups.iter() {
            let first_kind = group.first().map(|&i| objects[i].id.kind.as_str());
            if !opts.dry_run && !parent_written && first_kind != Some("Namespace") {
                if let Err(e) =
                    write_parent(target, &parent, inventory, &mut live_parent, app).await
                {
                    if !wrote(&rows) {
                        return Err(e);
                    }
                    inventory_failed = Some(e);
                    break 'steps;
                }
                parent_written = true;
            }
            let live = &live;
            let ownership = &ownership;
            // A target that batches gets the whole group at once (one
            // request for all of it), others the sync's concurrency.
            let in_flight = if group.iter().all(|&i| target.batches(&objects[i])) {
                group.len()
            } else {
                opts.concurrency
            };
            let mut done: Vec<(usize, Row)> =
                futures::stream::iter(group.iter().copied().map(|i| {
                    let o = &objects[i];
                    let assume_missing = opts.dry_run
                        && (unserved.contains(&o.id)
                            || o.id
                                .namespace
                                .as_ref()
                                .is_some_and(|n| missing_ns.contains(n)));
                    async move {
                        let row = one(
                            target,
                            o,
                            live.get(&o.id),
                            opts,
                            assume_missing,
                            Some(ownership),
                        )
                        .await;
                        progress.step(&row);
                        (i, row)
                    }
                }))
                .buffer_unordered(in_flight.max(1))
                .collect()
                .await;
            done.sort_by_key(|(i, _)| *i);
            // Kinds served by CRDs established in this group, as
            // (apiVersion, kind), to find in discovery afterwards.
            let mut new_kinds: Vec<(String, String)> = Vec::new();
            let mut established = false;
            for (i, row) in &mut done {
                let o = &objects[*i];
                if o.id.kind == "Namespace" && row.status == RowStatus::Missing {
                    missing_ns.insert(o.id.name.clone());
                }
                if o.id.kind == "CustomResourceDefinition"
                    && !opts.dry_run
                    && row.status == RowStatus::Synced
                {
                    if let Err(e) = target.wait_established(&o.id.name, opts.crd_timeout).await {
                        *row = failed(&o.id, &e, true);
                    }
                    established = true;
                    new_kinds.extend(crd_kinds(&o.value));
                }
            }
            if established {
                // Discovery lags Established by a moment and cannot be
                // watched: refresh until the new kinds show up (bounded),
                // so their objects resolve.
                let deadline =
                    std::time::Instant::now() + opts.crd_timeout.min(Duration::from_secs(10));
                loop {
                    target.discover().await.map_err(target_err)?;
                    let known = new_kinds
                        .iter()
                        .all(|(av, k)| target.scope(av, k).is_some());
                    if known || std::time::Instant::now() > deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            rows.extend(done.into_iter().map(|(_, r)| r));
        }
        let last = si + 1 == steps.len();
        if let Err(stop) = waves
            .after_step(target, opts, &objects, step, last, &mut rows)
            .await
        {
            waves
                .fail(target, opts, &objects, &steps[si + 1..], &stop, &mut rows)
                .await;
            stopped = Some(stop);
            break;
        }
    }
    if !opts.dry_run
        && inventory_failed.is_none()
        && !parent_written
        && (!objects.is_empty() || live_parent.is_some())
        && let Err(e) = write_parent(target, &parent, inventory, &mut live_parent, app).await
    {
        if !wrote(&rows) {
            return Err(e);
        }
        inventory_failed = Some(e);
    }
    if let Some(e) = inventory_failed {
        // What was not applied says so; nothing is pruned.
        let done: HashSet<ObjectId> = rows.iter().map(Row::id).collect();
        rows.push(inventory_row(&parent, &e));
        for o in objects.iter().filter(|o| !done.contains(&o.id)) {
            rows.push(Row::new(
                &o.id,
                RowStatus::SyncFailed,
                Action::None,
                format!(
                    "not applied: the inventory Secret {}/{} could not be written",
                    parent.namespace, parent.name
                ),
            ));
        }
        progress.finish();
        return Ok(Report {
            app: app.to_string(),
            target: target.describe(),
            dry_run: opts.dry_run,
            rows,
        });
    }

    // Forget: out of the inventory, left in place; never pruned.
    for o in &forgotten {
        let member = live.remove(&o.id).is_some();
        rows.push(forget_one(target, o, member, opts.dry_run, &parent.id).await);
    }

    // Prune, in reverse order.
    let desired_ids: HashSet<&ObjectId> = objects.iter().map(|o| &o.id).collect();
    let mut extraneous: Vec<Object> = live
        .iter()
        .filter(|(id, _)| !desired_ids.contains(id))
        .filter_map(|(_, v)| object::from_value(v.clone(), None, 0).ok())
        .collect();
    extraneous.sort_by(|a, b| a.id.cmp(&b.id));
    let failures = rows
        .iter()
        .filter(|r| r.status == RowStatus::SyncFailed)
        .count();
    let blocked = match &stopped {
        Some(stop) => Some(format!("{stop}")),
        None => (failures > 0)
            .then(|| format!("{failures} objects failed to sync; fix them and sync again")),
    };
    let mut kept_kinds = new_kinds.clone();
    let mut kept_namespaces = new_namespaces.clone();
    let mut prune_order = kind_order.clone();
    for o in &extraneous {
        if let Some(p) = target.kind_order(o) {
            prune_order.insert((o.id.group.clone(), o.id.kind.clone()), p);
        }
    }
    for group in Waves::prune_groups(&extraneous, &prune_order) {
        let done: Vec<(usize, Row)> = futures::stream::iter(group.iter().copied().map(|i| {
            let blocked = blocked.as_deref();
            let ext = &extraneous;
            async move { (i, prune_one(target, &ext[i], opts, blocked).await) }
        }))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
        let mut done = done;
        done.sort_by_key(|(i, _)| *i);
        for (i, row) in done {
            if row.status != RowStatus::Pruned {
                kept_kinds.insert(gk(&extraneous[i].id));
                kept_namespaces.extend(extraneous[i].id.namespace.clone());
            }
            rows.push(row);
        }
    }
    if !opts.dry_run
        && live_parent.is_some()
        && let Err(e) = write_parent(
            target,
            &parent,
            (&kept_kinds, &kept_namespaces),
            &mut live_parent,
            app,
        )
        .await
    {
        if !wrote(&rows) {
            return Err(e);
        }
        rows.push(inventory_row(&parent, &e));
    }
    progress.finish();
    Ok(Report {
        app: app.to_string(),
        target: target.describe(),
        dry_run: opts.dry_run,
        rows,
    })
}

/// Release forgotten object `o` from ApplySet `id` (see
/// [`super::FORGET_ANNOTATION`]); `member`: whether it was listed as one.
async fn forget_one<T: Target>(
    target: &T,
    o: &Object,
    member: bool,
    dry_run: bool,
    id: &str,
) -> Row {
    let not_member = |what: &str| {
        Row::new(
            &o.id,
            RowStatus::Skipped,
            Action::None,
            format!("forgotten ({}): {what}", super::FORGET_ANNOTATION),
        )
    };
    if !member {
        return not_member("not managed by this app; left as it is");
    }
    if dry_run {
        return Row::new(
            &o.id,
            RowStatus::OutOfSync,
            Action::Forgotten,
            "would stop managing it; it stays in place",
        );
    }
    match target.release(o, id).await {
        Ok(true) => Row::new(
            &o.id,
            RowStatus::Skipped,
            Action::Forgotten,
            "no longer managed by this app; left in place",
        ),
        Ok(false) => not_member("no longer a member of this app; left as it is"),
        Err(e) => failed(&o.id, &e, false),
    }
}

/// The (apiVersion, kind) pairs a CustomResourceDefinition serves.
fn crd_kinds(crd: &Value) -> Vec<(String, String)> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(kind) = crd.pointer("/spec/names/kind").and_then(Value::as_str) else {
        return Vec::new();
    };
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v["served"] != false)
        .filter_map(|v| v["name"].as_str())
        .map(|v| (format!("{group}/{v}"), kind.to_string()))
        .collect()
}
