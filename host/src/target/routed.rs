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

/// An object waiting to be applied, and who waits for the answer.
type Queued = (
    Object,
    tokio::sync::oneshot::Sender<Result<Value, ObjectError>>,
);

/// The answer to one object's read.
type ReadAnswer = Result<Option<Value>, ObjectError>;

/// Concurrent `get`s of one target's objects, read together: each caller
/// queues its object, then takes the runner lock; whoever holds it reads
/// everything queued so far in one plugin `read` call and answers each
/// caller. No timer: a read in flight is what makes the next batch.
#[derive(Default)]
struct Batch {
    queue: std::sync::Mutex<Vec<(Value, tokio::sync::oneshot::Sender<ReadAnswer>)>>,
    runner: tokio::sync::Mutex<()>,
}

/// The recorded target objects: key → (target, object).
#[derive(Debug, Default, Clone)]
struct Inventory {
    members: BTreeMap<String, (String, Value)>,
}

fn key(target: &str, id: &ObjectId) -> String {
    format!("{target}/{}/{}/{}", id.group, id.kind, id.name)
}

/// The engine-facing view: `normalised` with the metadata of `meta_from`
/// (namespace dropped) and the `part-of` label set to `owner`.
fn view(meta_from: &Value, mut normalised: Value, owner: Option<&str>) -> Value {
    let mut meta = meta_from
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
        let labels = m.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            match owner {
                Some(o) => {
                    l.insert(PART_OF_LABEL.into(), Value::String(o.to_string()));
                }
                None => {
                    l.remove(PART_OF_LABEL);
                }
            }
            if l.is_empty() {
                m.remove("labels");
            }
        }
    }
    if let Some(o) = normalised.as_object_mut() {
        o.insert("metadata".into(), meta);
    }
    normalised
}

/// The label an object carries as desired (for dry-run views).
fn desired_owner(v: &Value) -> Option<&str> {
    super::applyset::label(v, PART_OF_LABEL)
}

fn answer_error(target: &str, e: PluginAnswer) -> ObjectError {
    match e {
        PluginAnswer::Invalid(m) => ObjectError::Rejected {
            code: 422,
            message: format!("target {target}: invalid: {m}"),
        },
        PluginAnswer::Rejected(m) => ObjectError::Rejected {
            code: 400,
            message: format!("target {target}: {m}"),
        },
        PluginAnswer::NotOwned(m) => ObjectError::Rejected {
            code: 403,
            message: format!("target {target}: {m}"),
        },
        PluginAnswer::Unavailable(m) => ObjectError::Transport(format!("target {target}: {m}")),
    }
}

fn plugin_error(target: &str, e: &crate::plugin::PluginError) -> ObjectError {
    ObjectError::Transport(format!("target {target}: {}", crate::error_chain(e)))
}

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

    /// Apply `obj` through `t`: queued, then applied with every object
    /// queued meanwhile in one plugin `apply` call, under the target's
    /// write lock (one write call at a time per target).
    async fn apply_batched(&self, t: &PluginTarget, obj: &Object) -> Result<Value, ObjectError> {
        let i = self.index(t);
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = self.applies[i].lock() {
            q.push((obj.clone(), tx));
        }
        {
            let _write = self.writes[i].lock().await;
            let items = self.applies[i]
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let answers = self.apply_now(t, &items).await;
                for ((_, tx), a) in items.into_iter().zip(answers) {
                    let _ = tx.send(a);
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(ObjectError::Transport(format!(
                "target {}: the apply of {} was dropped",
                t.name(),
                obj.id
            )))
        })
    }

    /// One plugin `apply` call for `items`, then one `normalise` call for
    /// what came back; an answer (view or error) per item.
    async fn apply_now(
        &self,
        t: &PluginTarget,
        items: &[Queued],
    ) -> Vec<Result<Value, ObjectError>> {
        let name = t.name();
        let ctx = self.ctx(t);
        // Write-ahead: recorded before the plugin applies anything.
        let objects: Vec<&Object> = items.iter().map(|(o, _)| o).collect();
        if let Err(e) = self.record(name, &objects).await {
            return items.iter().map(|_| Err(e.clone())).collect();
        }
        let requests = items
            .iter()
            .map(|(o, _)| ApplyRequest {
                object: o.value.to_string(),
                last: self.last_read(t, o),
            })
            .collect();
        let answers = match t.plugin.apply(&ctx, requests).await {
            Ok(a) => a,
            Err(e) => {
                let e = plugin_error(name, &e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let lives: Vec<String> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|l| l.json.clone()))
            .collect();
        let normalised = match t.plugin.normalise(&ctx, lives).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                let e = answer_error(name, e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
            Err(e) => {
                let e = plugin_error(name, &e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let mut normalised = normalised.into_iter();
        items
            .iter()
            .zip(answers)
            .map(|((o, _), a)| {
                let live = a.map_err(|e| answer_error(name, e))?;
                let n: Value = normalised
                    .next()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Value::Null);
                Ok(view(&o.value, n, live.owner.as_deref()))
            })
            .collect()
    }

    /// The comparable form of desired `obj` (what a dry-run apply answers),
    /// batched like reads.
    async fn normalise_batched(
        &self,
        t: &PluginTarget,
        obj: &Object,
    ) -> Result<Value, ObjectError> {
        let batch = &self.normalising[self.index(t)];
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = batch.queue.lock() {
            q.push((obj.value.clone(), tx));
        }
        {
            let _run = batch.runner.lock().await;
            let items = batch
                .queue
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let name = t.name();
                let texts = items.iter().map(|(v, _)| v.to_string()).collect();
                let answer = t
                    .plugin
                    .normalise(&self.ctx(t), texts)
                    .await
                    .map_err(|e| plugin_error(name, &e))
                    .and_then(|a| a.map_err(|e| answer_error(name, e)))
                    .and_then(|n| {
                        if n.len() == items.len() {
                            Ok(n)
                        } else {
                            Err(ObjectError::Transport(format!(
                                "target {name}: normalise answered {} objects for {}",
                                n.len(),
                                items.len()
                            )))
                        }
                    });
                match answer {
                    Ok(n) => {
                        for ((_, tx), text) in items.into_iter().zip(n) {
                            let v = serde_json::from_str(&text).map(Some).map_err(|e| {
                                ObjectError::Transport(format!(
                                    "target {name}: normalise answered invalid JSON: {e}"
                                ))
                            });
                            let _ = tx.send(v);
                        }
                    }
                    Err(e) => {
                        for (_, tx) in items {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
        match rx.await {
            Ok(Ok(Some(v))) => Ok(v),
            Ok(Ok(None)) => Err(ObjectError::Transport(format!(
                "target {}: normalise answered nothing for {}",
                t.name(),
                obj.id
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ObjectError::Transport(format!(
                "target {}: the normalise of {} was dropped",
                t.name(),
                obj.id
            ))),
        }
    }

    /// Read `obj` through `t`, batched with the other reads in flight.
    async fn read_batched(&self, t: &PluginTarget, obj: &Object) -> ReadAnswer {
        let batch = &self.batches[self.index(t)];
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = batch.queue.lock() {
            q.push((obj.value.clone(), tx));
        }
        {
            let _run = batch.runner.lock().await;
            let items = batch
                .queue
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let values: Vec<Value> = items.iter().map(|(v, _)| v.clone()).collect();
                match self.read_views(t, &values).await {
                    Ok(views) => {
                        for ((_, tx), v) in items.into_iter().zip(views) {
                            let _ = tx.send(Ok(v));
                        }
                    }
                    Err(e) => {
                        for (_, tx) in items {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(ObjectError::Transport(format!(
                "target {}: the read of {} was dropped",
                t.name(),
                obj.id
            )))
        })
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

    /// The inventory Secret's identity (and an empty one to probe with).
    fn inventory_object(&self, inv: &Inventory) -> Result<Object, ObjectError> {
        let members: Vec<Value> = inv
            .members
            .values()
            .map(|(t, o)| json!({"target": t, "object": o}))
            .collect();
        let data = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&members).unwrap_or_default());
        let v = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": format!("{}-targets", self.parent.name),
                "namespace": self.parent.namespace,
                "annotations": {INVENTORY_OF: self.app},
            },
            "type": INVENTORY_TYPE,
            "data": {"members": data},
        });
        object::from_value(v, None, 0).map_err(|e| ObjectError::Transport(e.to_string()))
    }

    fn inventory_err(&self, message: impl std::fmt::Display) -> ObjectError {
        ObjectError::Transport(format!(
            "app {}: the target inventory Secret {}/{}-targets: {message}",
            self.app, self.parent.namespace, self.parent.name
        ))
    }

    /// Load the inventory (once per sync).
    async fn load<'g>(
        &self,
        guard: &'g mut Option<Inventory>,
    ) -> Result<&'g mut Inventory, ObjectError> {
        if guard.is_none() {
            let probe = self.inventory_object(&Inventory::default())?;
            let live = self
                .base
                .get(&probe)
                .await
                .map_err(|e| self.inventory_err(e))?;
            let mut inv = Inventory::default();
            if let Some(live) = live {
                let text = live
                    .pointer("/data/members")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| self.inventory_err(format!("data.members is not base64: {e}")))?;
                let members: Vec<Value> = if bytes.is_empty() {
                    Vec::new()
                } else {
                    serde_json::from_slice(&bytes)
                        .map_err(|e| self.inventory_err(format!("data.members is not JSON: {e}")))?
                };
                for m in members {
                    let (Some(t), Some(o)) = (m["target"].as_str(), m.get("object")) else {
                        continue;
                    };
                    if let Ok(obj) = object::from_value(o.clone(), None, 0) {
                        inv.members
                            .insert(key(t, &obj.id), (t.to_string(), o.clone()));
                    }
                }
            }
            *guard = Some(inv);
        }
        Ok(guard.as_mut().expect("set above"))
    }

    async fn write(&self, inv: &Inventory) -> Result<(), ObjectError> {
        let obj = self.inventory_object(inv)?;
        self.base
            .apply(
                &obj,
                ApplyOptions {
                    dry_run: false,
                    force: true,
                },
            )
            .await
            .map(drop)
            .map_err(|e| {
                self.inventory_err(format!(
                    "{e}; the destination namespace must exist (create it, or set CreateNamespace=true)"
                ))
            })
    }

    /// Record `objects` (applied through `target`) before they are
    /// applied: one Secret write for a whole batch of applies.
    async fn record(&self, target: &str, objects: &[&Object]) -> Result<(), ObjectError> {
        let mut guard = self.inventory.lock().await;
        let inv = self.load(&mut guard).await?;
        let new: Vec<(String, Value)> = objects
            .iter()
            .map(|obj| {
                let mut stored = obj.value.clone();
                if let Some(m) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("namespace");
                }
                (key(target, &obj.id), stored)
            })
            .filter(|(k, o)| inv.members.get(k).map(|(_, x)| x) != Some(o))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let before = inv.clone();
        for (k, o) in new {
            inv.members.insert(k, (target.to_string(), o));
        }
        if let Err(e) = self.write(inv).await {
            *inv = before;
            return Err(e);
        }
        Ok(())
    }

    /// Forget `obj` after it was deleted.
    async fn forget(&self, target: &str, obj: &Object) -> Result<(), ObjectError> {
        let mut guard = self.inventory.lock().await;
        let inv = self.load(&mut guard).await?;
        if inv.members.remove(&key(target, &obj.id)).is_some() {
            let snapshot = inv.clone();
            self.write(&snapshot).await?;
        }
        Ok(())
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

/// The call context of target `t` for `app` with ownership mark `owner`.
fn ctx_for(t: &PluginTarget, app: &str, owner: &str) -> CallContext {
    CallContext {
        target: t.name().to_string(),
        params: t.settings.clone(),
        origins: t
            .plugin
            .outbound()
            .origins
            .iter()
            .map(ToString::to_string)
            .collect(),
        app: app.to_string(),
        owner: owner.to_string(),
    }
}

/// `read` then `normalise` of `objects` through `t`: each as a view, with
/// the JSON `read` returned.
async fn read_views(
    t: &PluginTarget,
    ctx: &CallContext,
    objects: &[Value],
) -> Result<Vec<Option<(Value, String)>>, ObjectError> {
    let name = t.name();
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    let lives: Vec<Option<LiveObject>> = t
        .plugin
        .read(ctx, texts)
        .await
        .map_err(|e| plugin_error(name, &e))?
        .map_err(|e| answer_error(name, e))?;
    if lives.len() != objects.len() {
        return Err(ObjectError::Transport(format!(
            "target {name}: read answered {} objects for {}",
            lives.len(),
            objects.len()
        )));
    }
    let present: Vec<String> = lives.iter().flatten().map(|l| l.json.clone()).collect();
    let normalised = if present.is_empty() {
        Vec::new()
    } else {
        t.plugin
            .normalise(ctx, present)
            .await
            .map_err(|e| plugin_error(name, &e))?
            .map_err(|e| answer_error(name, e))?
    };
    let mut normalised = normalised.into_iter();
    let mut out = Vec::with_capacity(objects.len());
    for (obj, live) in objects.iter().zip(lives) {
        let Some(live) = live else {
            out.push(None);
            continue;
        };
        let n = normalised.next().ok_or_else(|| {
            ObjectError::Transport(format!("target {name}: normalise answered too few objects"))
        })?;
        let n: Value = serde_json::from_str(&n).map_err(|e| {
            ObjectError::Transport(format!(
                "target {name}: normalise answered invalid JSON: {e}"
            ))
        })?;
        out.push(Some((view(obj, n, live.owner.as_deref()), live.json)));
    }
    Ok(out)
}

/// The health of a view as kstatus conditions (none when healthy).
fn with_health(mut v: Value, status: HealthStatus, message: &str) -> Value {
    let cond = match status {
        HealthStatus::Healthy => return v,
        HealthStatus::Progressing => "Reconciling",
        HealthStatus::Degraded => "Stalled",
        HealthStatus::Unknown => return v,
    };
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "status".into(),
            json!({"conditions": [{"type": cond, "status": "True", "message": message}]}),
        );
    }
    v
}

/// Poll `objects` of target `t` every `every`: first their state, then
/// each change.
fn poll(
    t: PluginTarget,
    ctx: CallContext,
    objects: Vec<Object>,
    every: Duration,
) -> BoxStream<'static, LiveUpdate> {
    struct St {
        t: PluginTarget,
        ctx: CallContext,
        objects: Vec<Object>,
        last: HashMap<ObjectId, Option<Value>>,
        first: bool,
        every: Duration,
    }
    let st = St {
        t,
        ctx,
        objects,
        last: HashMap::new(),
        first: true,
        every,
    };
    futures::stream::unfold(st, |mut st| async move {
        if !st.first {
            tokio::time::sleep(st.every).await;
        }
        st.first = false;
        let values: Vec<Value> = st.objects.iter().map(|o| o.value.clone()).collect();
        let mut out = Vec::new();
        match read_views(&st.t, &st.ctx, &values).await {
            Err(e) => {
                // A failed poll is reported once per object and retried.
                for o in &st.objects {
                    out.push(Err(WatchError::Object {
                        id: Box::new(o.id.clone()),
                        message: e.to_string(),
                    }));
                }
                return Some((out, st));
            }
            Ok(views) => {
                for (o, v) in st.objects.iter().zip(views) {
                    let v = match v.map(|(v, _)| v) {
                        Some(v) => {
                            let h = st.t.plugin.health(&st.ctx, v.to_string()).await;
                            match h {
                                Ok(Ok(h)) => Some(with_health(v, h.status, &h.message)),
                                _ => Some(v),
                            }
                        }
                        None => None,
                    };
                    if st.last.get(&o.id) != Some(&v) {
                        st.last.insert(o.id.clone(), v.clone());
                        out.push(Ok((o.id.clone(), v)));
                    }
                }
            }
        }
        Some((out, st))
    })
    .flat_map(futures::stream::iter)
    .boxed()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_carries_the_desired_metadata_and_the_live_mark() {
        let desired = json!({"apiVersion": "dns.sluice.dev/v1alpha1", "kind": "RecordSet",
            "metadata": {"name": "www", "namespace": "prod", "labels": {PART_OF_LABEL: "ours", "team": "a"},
                         "annotations": {"x": "y"}},
            "spec": {"records": ["b", "a"]}});
        let normalised = json!({"apiVersion": "dns.sluice.dev/v1alpha1", "kind": "RecordSet",
            "metadata": {"name": "www"}, "spec": {"records": ["a", "b"]}});
        let ours = view(&desired, normalised.clone(), Some("ours"));
        assert_eq!(ours["metadata"]["labels"][PART_OF_LABEL], "ours");
        assert_eq!(ours["metadata"]["annotations"]["x"], "y");
        assert!(ours["metadata"].get("namespace").is_none());
        assert_eq!(ours["spec"]["records"], json!(["a", "b"]));
        // Unmarked live: no part-of label, so the engine sees it as not
        // this app's.
        let unmarked = view(&desired, normalised.clone(), None);
        assert!(unmarked["metadata"]["labels"].get(PART_OF_LABEL).is_none());
        assert_eq!(unmarked["metadata"]["labels"]["team"], "a");
        let other = view(&desired, normalised, Some("theirs"));
        assert_eq!(other["metadata"]["labels"][PART_OF_LABEL], "theirs");
    }

    #[test]
    fn health_becomes_kstatus_conditions() {
        let v = json!({"spec": {}});
        assert!(
            with_health(v.clone(), HealthStatus::Healthy, "")
                .get("status")
                .is_none()
        );
        let p = with_health(v, HealthStatus::Degraded, "zone broken");
        assert_eq!(p["status"]["conditions"][0]["type"], "Stalled");
        assert_eq!(
            crate::health::assess(&p).status,
            crate::health::HealthStatus::Degraded
        );
    }
}
