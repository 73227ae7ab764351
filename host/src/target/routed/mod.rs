//! Routing an app's objects between its destination and its target
//! plugins.
//!
//! [`Routed`] wraps the app's destination (a cluster or a `dir` target)
//! and the target plugins the Application lists in `spec.targets`, and is
//! itself a [`Target`], so the sync engine drives it unchanged: the same
//! plan, waves, ownership checks, diff, prune guards and report. Each
//! object goes, by its `apiVersion` and `kind`, to the listed target that
//! declares that kind, everything else to the destination. Objects of a
//! target are cluster-scoped (no namespace).
//!
//! **How a target object looks to the engine.** What the engine compares
//! and records is a *view*: the plugin's `normalise` of the object (the
//! desired one for a dry-run, the live one from `read`), with the desired
//! object's `metadata` (labels, annotations), and the ApplySet
//! `part-of` label set to the ownership mark the plugin found on the live
//! object. So an unmarked record shows as "not part of app X" (refused
//! without `--adopt`), another app's as belonging to that app, and the
//! engine's ownership rules apply to DNS records as to ConfigMaps.
//!
//! **Inventory.** The objects an app applied through target plugins are
//! recorded by the host in a Secret `<parent>-targets` next to the app's
//! ApplySet parent (in the destination, cluster or directory), written
//! *before* the plugin applies an object (so a crash never leaves an
//! applied object unrecorded; one write per batch of applies) and after
//! one is deleted. `list_members`
//! reads every recorded object back through its plugin (one `read` call
//! per target), so prune works for any system with the engine's guards: a
//! failed render never reaches the engine, an empty one prunes only with
//! allow-empty, and only objects still carrying this app's mark are
//! candidates.
//!
//! **Reads** of one target's objects that the engine makes concurrently
//! are batched into one plugin `read` call (see [`Batch`]), so a plugin can
//! answer many objects with one request.
//!
//! **Writes** to one target are made one at a time (reads are not): many
//! systems, PowerDNS on SQLite among them, fail concurrent changes to one
//! zone or table rather than queue them. The applies the engine makes
//! meanwhile are queued and handed to the plugin in one `apply` call, so
//! it can write them with one request (PowerDNS: one PATCH per zone).
//!
//! **Watching** (waves, `--wait`, health): objects of a target are polled
//! (`read`, `normalise`, `health` every [`Routed::poll_interval`]); their
//! health becomes kstatus conditions on the view (`Reconciling`,
//! `Stalled`). Objects of the destination are watched by it; when it
//! cannot watch (a `dir` target), a wait on them fails as before.

use super::applyset::{GroupKind, PART_OF_LABEL, Parent};
use super::plugin::PluginTarget;
use super::{
    ApplyOptions, Deleted, LiveUpdate, ObjectError, Scope, Target, TargetError, WatchError,
};
use crate::object::{self, Object, ObjectId};
use crate::plugin::target::{
    ApplyRequest, CallContext, HealthStatus, LastRead, LiveObject, TargetError as PluginAnswer,
};
use base64::Engine as _;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// The annotation naming the app on its target inventory Secret.
pub const INVENTORY_OF: &str = "sluice.dev/target-inventory-of";
/// The Secret type of a target inventory.
pub const INVENTORY_TYPE: &str = "sluice.dev/target-inventory";

/// An app's destination plus its target plugins, as one [`Target`].
pub struct Routed<'a, B> {
    base: &'a B,
    targets: Vec<PluginTarget>,
    /// One lock per target: writes (apply, delete) to one target go one at
    /// a time.
    writes: Vec<tokio::sync::Mutex<()>>,
    app: String,
    parent: Parent,
    /// How often target objects are polled while watched.
    pub poll_interval: Duration,
    inventory: tokio::sync::Mutex<Option<Inventory>>,
    /// What `read` returned for each object in this sync (key as in the
    /// inventory; `None`: it did not exist), handed to `apply`.
    last_read: std::sync::Mutex<HashMap<String, Option<String>>>,
    /// One read batch per target (see [`Batch`]).
    batches: Vec<Batch>,
    /// One normalise batch per target (dry-runs), the same way.
    normalising: Vec<Batch>,
    /// One apply queue per target, drained under its write lock.
    applies: Vec<std::sync::Mutex<Vec<Queued>>>,
}

mod batch;
mod inventory;
mod live;

use batch::{Batch, Queued};
use inventory::{Inventory, key};
use live::{answer_error, ctx_for, desired_owner, plugin_error, poll, read_views, view};

impl<'a, B: Target> Routed<'a, B> {
    /// Route `app`'s objects (destination namespace `namespace`) between
    /// `base` and `targets` (the targets the app lists, checked with
    /// [`check_disjoint`]; a kind two of them declare goes to the first).
    pub fn new(base: &'a B, targets: Vec<PluginTarget>, app: &str, namespace: &str) -> Self {
        let ns = if namespace.is_empty() {
            "default"
        } else {
            namespace
        };
        Routed {
            base,
            writes: targets
                .iter()
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            batches: targets.iter().map(|_| Batch::default()).collect(),
            normalising: targets.iter().map(|_| Batch::default()).collect(),
            applies: targets
                .iter()
                .map(|_| std::sync::Mutex::new(Vec::new()))
                .collect(),
            targets,
            app: app.to_string(),
            parent: Parent::for_app(app, ns),
            poll_interval: Duration::from_secs(2),
            inventory: tokio::sync::Mutex::new(None),
            last_read: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The target that handles `kind` in `api_version`, if any.
    fn route(&self, api_version: &str, kind: &str) -> Option<&PluginTarget> {
        self.targets.iter().find(|t| t.handles(api_version, kind))
    }

    fn route_of(&self, obj: &Object) -> Option<&PluginTarget> {
        self.route(&obj.api_version, &obj.id.kind)
    }

    fn index(&self, t: &PluginTarget) -> usize {
        self.targets
            .iter()
            .position(|x| x.name() == t.name())
            .expect("t is one of self.targets")
    }

    /// The write lock of target `t`.
    fn write_lock(&self, t: &PluginTarget) -> &tokio::sync::Mutex<()> {
        &self.writes[self.index(t)]
    }

    fn routes_gk(&self, gk: &GroupKind) -> bool {
        self.targets.iter().any(|t| {
            t.kinds
                .iter()
                .any(|(av, k)| *k == gk.kind && object::group_of(av) == gk.group)
        })
    }

    fn ctx(&self, t: &PluginTarget) -> CallContext {
        ctx_for(t, &self.app, &self.parent.id)
    }

    /// Read `objects` through `t` and build their views (`None`: not
    /// there), remembering what was read for `apply`.
    async fn read_views(
        &self,
        t: &PluginTarget,
        objects: &[Value],
    ) -> Result<Vec<Option<Value>>, ObjectError> {
        let read = read_views(t, &self.ctx(t), objects).await?;
        if let Ok(mut last) = self.last_read.lock() {
            for (o, r) in objects.iter().zip(&read) {
                if let Ok(obj) = object::from_value(o.clone(), None, 0) {
                    last.insert(
                        key(t.name(), &obj.id),
                        r.as_ref().map(|(_, raw)| raw.clone()),
                    );
                }
            }
        }
        Ok(read.into_iter().map(|r| r.map(|(v, _)| v)).collect())
    }

    /// What `read` returned for `obj` in this sync.
    fn last_read(&self, t: &PluginTarget, obj: &Object) -> LastRead {
        let known = self
            .last_read
            .lock()
            .ok()
            .and_then(|m| m.get(&key(t.name(), &obj.id)).cloned());
        match known {
            None => LastRead::Unknown,
            Some(None) => LastRead::Absent,
            Some(Some(raw)) => LastRead::Present(raw),
        }
    }
}

impl<B: Target> Target for Routed<'_, B> {
    fn describe(&self) -> String {
        let names: Vec<&str> = self.targets.iter().map(PluginTarget::name).collect();
        if names.is_empty() {
            self.base.describe()
        } else {
            format!("{} and targets {}", self.base.describe(), names.join(", "))
        }
    }

    async fn discover(&self) -> Result<(), TargetError> {
        self.base.discover().await
    }

    fn scope(&self, api_version: &str, kind: &str) -> Option<Scope> {
        match self.route(api_version, kind) {
            Some(_) => Some(Scope::Cluster),
            None => self.base.scope(api_version, kind),
        }
    }

    async fn get(&self, obj: &Object) -> Result<Option<Value>, ObjectError> {
        let Some(t) = self.route_of(obj) else {
            return self.base.get(obj).await;
        };
        self.read_batched(t, obj).await
    }

    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
        namespaces: &BTreeSet<String>,
    ) -> Result<Vec<Value>, TargetError> {
        let base_kinds: BTreeSet<GroupKind> = kinds
            .iter()
            .filter(|gk| !self.routes_gk(gk))
            .cloned()
            .collect();
        let mut out = self.base.list_members(id, &base_kinds, namespaces).await?;
        if id != self.parent.id || self.targets.is_empty() {
            return Ok(out);
        }
        let list_err = |kind: &str, e: ObjectError| TargetError::List {
            target: self.describe(),
            id: id.to_string(),
            kind: kind.to_string(),
            message: e.to_string(),
        };
        let members = {
            let mut guard = self.inventory.lock().await;
            self.load(&mut guard)
                .await
                .map_err(|e| list_err("target inventory", e))?
                .members
                .clone()
        };
        for t in &self.targets {
            let objects: Vec<Value> = members
                .values()
                .filter(|(name, _)| name == t.name())
                .map(|(_, o)| o.clone())
                .collect();
            if objects.is_empty() {
                continue;
            }
            let views = self
                .read_views(t, &objects)
                .await
                .map_err(|e| list_err(&format!("objects of target {}", t.name()), e))?;
            out.extend(views.into_iter().flatten());
        }
        Ok(out)
    }

    async fn find_parent(&self, id: &str) -> Result<Option<Value>, TargetError> {
        self.base.find_parent(id).await
    }

    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError> {
        let Some(t) = self.route_of(obj) else {
            return self.base.apply(obj, opts).await;
        };
        if opts.dry_run {
            let n = self.normalise_batched(t, obj).await?;
            return Ok(view(&obj.value, n, desired_owner(&obj.value)));
        }
        self.apply_batched(t, obj).await
    }

    fn kind_order(&self, obj: &Object) -> Option<usize> {
        self.route_of(obj)?
            .order
            .iter()
            .position(|(a, k)| *a == obj.api_version && *k == obj.id.kind)
    }

    fn batches(&self, obj: &Object) -> bool {
        self.route_of(obj).is_some()
    }

    async fn release(&self, obj: &Object, applyset_id: &str) -> Result<bool, ObjectError> {
        let Some(t) = self.route_of(obj) else {
            return self.base.release(obj, applyset_id).await;
        };
        if applyset_id != self.parent.id {
            return Ok(false);
        }
        // The host's inventory is the membership; the plugin's own
        // ownership mark stays on the object (it is the system's record
        // of who wrote it, not of what sluice manages).
        let _write = self.write_lock(t).lock().await;
        self.forget(t.name(), obj).await
    }

    async fn delete(&self, obj: &Object, uid: Option<&str>) -> Result<Deleted, ObjectError> {
        let Some(t) = self.route_of(obj) else {
            return self.base.delete(obj, uid).await;
        };
        let name = t.name();
        let _write = self.write_lock(t).lock().await;
        let answer = t
            .plugin
            .delete(&self.ctx(t), obj.value.to_string())
            .await
            .map_err(|e| plugin_error(name, &e))?;
        let deleted = match answer {
            Ok(crate::plugin::target::Deleted::Deleted) => Deleted::Deleted,
            Ok(crate::plugin::target::Deleted::NotFound) => Deleted::NotFound,
            // No longer carries this app's mark: someone else's now.
            Err(PluginAnswer::NotOwned(_)) => Deleted::Replaced,
            Err(e) => return Err(answer_error(name, e)),
        };
        self.forget(name, obj).await?;
        Ok(deleted)
    }

    async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ObjectError> {
        self.base.wait_established(name, timeout).await
    }

    fn can_watch(&self) -> bool {
        self.base.can_watch() || !self.targets.is_empty()
    }

    async fn watch(
        &self,
        objects: &[Object],
    ) -> Result<BoxStream<'static, LiveUpdate>, WatchError> {
        let mut streams: Vec<BoxStream<'static, LiveUpdate>> = Vec::new();
        let mut base_objects = Vec::new();
        let mut routed: BTreeMap<usize, Vec<Object>> = BTreeMap::new();
        for o in objects {
            match self
                .targets
                .iter()
                .position(|t| t.handles(&o.api_version, &o.id.kind))
            {
                Some(i) => routed.entry(i).or_default().push(o.clone()),
                None => base_objects.push(o.clone()),
            }
        }
        if !base_objects.is_empty() {
            streams.push(self.base.watch(&base_objects).await?);
        }
        for (i, objs) in routed {
            let t = self.targets[i].clone();
            let ctx = self.ctx(&t);
            streams.push(poll(t, ctx, objs, self.poll_interval));
        }
        Ok(futures::stream::select_all(streams).boxed())
    }
}

/// Refuse two of an app's targets declaring the same kind (an object of
/// it could go to either): the message names both and the kind.
pub fn check_disjoint(targets: &[PluginTarget], app: &str) -> Result<(), String> {
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[i + 1..] {
            if let Some((av, k)) = a.kinds.intersection(&b.kinds).next() {
                return Err(format!(
                    "app {app}: targets {} and {} both handle {av} {k}; list only one of them in spec.targets",
                    a.name(),
                    b.name()
                ));
            }
        }
    }
    Ok(())
}
