//! Waiting for objects to be Healthy: between waves, for hooks, and for
//! `sluice sync --wait` / `sluice wait`.
//!
//! Two halves:
//! - [`wait_healthy`] consumes a stream of live-object updates and decides:
//!   every object Healthy, one of them failed for good (a Job or a Pod that
//!   failed), or the deadline passed, listing every object that is not
//!   Healthy with its health message. It reacts to each update as it comes:
//!   no polling, no fixed delay between waves.
//! - Sources of updates: [`kube_updates`] watches the Kubernetes API (one
//!   watch per resource and namespace, driven by the explicit [`State`]
//!   machine, relisting on `410 Gone` and resuming from the last
//!   resourceVersion when the server closes the watch); [`Watcher::Snapshot`]
//!   turns one `get` per object into updates for targets whose objects
//!   never change by themselves (the `dir` target).

use crate::health::{Health, HealthStatus, assess};
use crate::object::{Object, ObjectId};
use crate::target::Target;
use futures::stream::{self, BoxStream, LocalBoxStream, Stream, StreamExt as _};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::discovery::{ApiResource, Scope as KubeScope, pinned_kind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One update: the live state of an object (`None`: it does not exist).
pub type Update = Result<(ObjectId, Option<Value>), WaitError>;

/// The error returned by [`wait_healthy`] and the update sources.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed with objects not Healthy.
    #[error("timed out after {}s waiting for {}", timeout.as_secs(), list(pending))]
    Timeout {
        /// How long we waited.
        timeout: Duration,
        /// Every object that is not Healthy, with its health.
        pending: Vec<(ObjectId, Health)>,
    },
    /// An object failed for good (a failed Job or Pod).
    #[error("{id} failed: {health}")]
    Failed {
        /// The object.
        id: Box<ObjectId>,
        /// Its health.
        health: Health,
    },
    /// The target reports no further changes and objects are not Healthy.
    #[error(
        "{} will not become Healthy: the target does not change objects by itself",
        list(pending)
    )]
    Unchanging {
        /// Every object that is not Healthy, with its health.
        pending: Vec<(ObjectId, Health)>,
    },
    /// An object's kind could not be resolved or watched.
    #[error("cannot watch {id}: {message}")]
    Watch {
        /// The object.
        id: Box<ObjectId>,
        /// What went wrong.
        message: String,
    },
}

impl WaitError {
    /// The objects this error is about, with their health when known.
    pub fn blocking(&self) -> Vec<(ObjectId, Option<Health>)> {
        match self {
            WaitError::Timeout { pending, .. } | WaitError::Unchanging { pending } => pending
                .iter()
                .map(|(i, h)| (i.clone(), Some(h.clone())))
                .collect(),
            WaitError::Failed { id, health } => vec![((**id).clone(), Some(health.clone()))],
            WaitError::Watch { id, .. } => vec![((**id).clone(), None)],
        }
    }
}

fn list(pending: &[(ObjectId, Health)]) -> String {
    pending
        .iter()
        .map(|(id, h)| format!("{id} ({h})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `health` of `live` is a failure nothing will fix: a Job that
/// failed, or a Pod in phase Failed. Other Degraded objects (a crash-looping
/// Pod, a Deployment past its deadline) may recover; they are waited for
/// until the deadline.
pub fn is_final_failure(live: &Value, health: &Health) -> bool {
    if health.status != HealthStatus::Degraded {
        return false;
    }
    match live.get("kind").and_then(Value::as_str) {
        Some("Job") => true,
        Some("Pod") => live.pointer("/status/phase").and_then(Value::as_str) == Some("Failed"),
        _ => false,
    }
}

/// Wait until every object of `ids` is Healthy according to `updates`.
///
/// `on_change` is told every health change (for a live display). Returns
/// the final health of each object, in the order of `ids`. Fails as soon
/// as an object fails for good, when `timeout` passes (listing every object
/// that is not Healthy), or when `updates` ends with objects not Healthy.
pub async fn wait_healthy<S>(
    ids: &[ObjectId],
    updates: S,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
) -> Result<Vec<(ObjectId, Health)>, WaitError>
where
    S: Stream<Item = Update>,
{
    let mut health: HashMap<&ObjectId, Health> = ids
        .iter()
        .map(|id| {
            (
                id,
                Health::new(HealthStatus::Unknown, "waiting for the first watch event"),
            )
        })
        .collect();
    let pending = |health: &HashMap<&ObjectId, Health>| -> Vec<(ObjectId, Health)> {
        ids.iter()
            .filter_map(|id| {
                let h = &health[id];
                (!h.is_healthy()).then(|| (id.clone(), h.clone()))
            })
            .collect()
    };
    let done = |health: &HashMap<&ObjectId, Health>| -> Vec<(ObjectId, Health)> {
        ids.iter()
            .map(|id| (id.clone(), health[id].clone()))
            .collect()
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut updates = std::pin::pin!(updates);
    loop {
        let next = tokio::time::timeout_at(deadline, updates.next()).await;
        let (id, live) = match next {
            Err(_elapsed) => {
                return Err(WaitError::Timeout {
                    timeout,
                    pending: pending(&health),
                });
            }
            Ok(None) => {
                return Err(WaitError::Unchanging {
                    pending: pending(&health),
                });
            }
            Ok(Some(update)) => update?,
        };
        let Some(slot) = health.get_mut(&id) else {
            continue;
        };
        let h = match &live {
            Some(v) => assess(v),
            None => Health::missing(),
        };
        if let Some(v) = &live
            && is_final_failure(v, &h)
        {
            on_change(&id, &h);
            return Err(WaitError::Failed {
                id: Box::new(id),
                health: h,
            });
        }
        if *slot != h {
            on_change(&id, &h);
            *slot = h;
        }
        if health.values().all(Health::is_healthy) {
            return Ok(done(&health));
        }
    }
}

/// The objects of one watch: one resource in one namespace.
struct Group {
    resource: ApiResource,
    namespace: Option<String>,
    /// Names watched, with their identities.
    names: BTreeMap<String, ObjectId>,
}

/// Where one watch is.
///
/// `Listing` reads the current objects (every watched name gets an update,
/// `None` when absent) and remembers the list's resourceVersion;
/// `Watching` follows events from there. When the server closes the watch
/// (its timeout), `Watching` resumes from the last resourceVersion seen;
/// on `410 Gone` it goes back to `Listing`. After a transport error it
/// waits a moment in `Retry` before listing again.
pub enum State {
    /// Read the current state.
    Listing,
    /// Start a watch from this resourceVersion.
    Resume(String),
    /// Following a watch; the last resourceVersion seen.
    Watching(
        String,
        BoxStream<'static, kube::Result<WatchEvent<DynamicObject>>>,
    ),
    /// Wait, then list again.
    Retry,
}

fn value_of(o: DynamicObject, resource: &ApiResource) -> Option<Value> {
    let mut v = serde_json::to_value(o).ok()?;
    // Lists leave apiVersion and kind off their items.
    if let Some(m) = v.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Value::String(resource.api_version.clone()));
        m.entry("kind")
            .or_insert_with(|| Value::String(resource.kind.clone()));
    }
    Some(v)
}

impl Group {
    fn api(&self, client: &Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource),
            None => Api::all_with(client.clone(), &self.resource),
        }
    }

    /// A field selector when one name is watched (a hook Job), so the
    /// watch sees only that object.
    fn fields(&self) -> Option<String> {
        (self.names.len() == 1)
            .then(|| {
                self.names
                    .keys()
                    .next()
                    .map(|n| format!("metadata.name={n}"))
            })
            .flatten()
    }

    fn update(&self, o: DynamicObject, deleted: bool) -> Option<(ObjectId, Option<Value>)> {
        let id = self.names.get(o.metadata.name.as_deref()?)?.clone();
        if deleted {
            return Some((id, None));
        }
        Some((id, value_of(o, &self.resource)))
    }

    /// One step of the state machine: the updates it produced and the
    /// next state.
    async fn step(&self, client: &Client, state: State) -> (Vec<Update>, State) {
        match state {
            State::Listing => {
                let mut lp = ListParams::default();
                if let Some(f) = self.fields() {
                    lp = lp.fields(&f);
                }
                match self.api(client).list(&lp).await {
                    Ok(list) => {
                        let rv = list.metadata.resource_version.clone().unwrap_or_default();
                        let mut seen: HashMap<ObjectId, Option<Value>> = HashMap::new();
                        for o in list.items {
                            if let Some((id, v)) = self.update(o, false) {
                                seen.insert(id, v);
                            }
                        }
                        let out = self
                            .names
                            .values()
                            .map(|id| Ok((id.clone(), seen.remove(id).flatten())))
                            .collect();
                        (out, State::Resume(rv))
                    }
                    Err(e) => (self.transient(&e), State::Retry),
                }
            }
            State::Resume(rv) => {
                let mut wp = WatchParams::default().timeout(290);
                if let Some(f) = self.fields() {
                    wp = wp.fields(&f);
                }
                match self.api(client).watch(&wp, &rv).await {
                    Ok(s) => (Vec::new(), State::Watching(rv, s.boxed())),
                    Err(e) => (self.transient(&e), State::Retry),
                }
            }
            State::Watching(rv, mut events) => match events.next().await {
                None => (Vec::new(), State::Resume(rv)),
                Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o))) => {
                    let rv = o.metadata.resource_version.clone().unwrap_or(rv);
                    let out = self.update(o, false).map(Ok).into_iter().collect();
                    (out, State::Watching(rv, events))
                }
                Some(Ok(WatchEvent::Deleted(o))) => {
                    let rv = o.metadata.resource_version.clone().unwrap_or(rv);
                    let out = self.update(o, true).map(Ok).into_iter().collect();
                    (out, State::Watching(rv, events))
                }
                Some(Ok(WatchEvent::Bookmark(b))) => (
                    Vec::new(),
                    State::Watching(b.metadata.resource_version, events),
                ),
                // 410 Gone: the resourceVersion is too old; read again.
                Some(Ok(WatchEvent::Error(_))) => (Vec::new(), State::Listing),
                Some(Err(e)) => (self.transient(&e), State::Retry),
            },
            State::Retry => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                (Vec::new(), State::Listing)
            }
        }
    }

    /// Transport errors are retried; a refusal (403, 404) is reported.
    fn transient(&self, e: &kube::Error) -> Vec<Update> {
        match e {
            kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404) => self
                .names
                .values()
                .map(|id| {
                    Err(WaitError::Watch {
                        id: Box::new(id.clone()),
                        message: s.message.clone(),
                    })
                })
                .take(1)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn into_stream(self, client: Client) -> BoxStream<'static, Update> {
        stream::unfold(
            (self, client, Some(State::Listing)),
            |(group, client, state)| async move {
                let state = state?;
                let (out, next) = group.step(&client, state).await;
                Some((stream::iter(out), (group, client, Some(next))))
            },
        )
        .flatten()
        .boxed()
    }
}

/// Watch `objects` (namespaces already defaulted) on a Kubernetes API
/// server: the current state of each first, then every change. One watch
/// per resource and namespace; the stream never ends by itself.
pub async fn kube_updates(
    client: &Client,
    objects: &[Object],
) -> Result<BoxStream<'static, Update>, WaitError> {
    let mut resources: HashMap<(String, String), (ApiResource, KubeScope)> = HashMap::new();
    let mut groups: BTreeMap<(String, String, Option<String>), Group> = BTreeMap::new();
    for o in objects {
        let key = (o.api_version.clone(), o.id.kind.clone());
        if !resources.contains_key(&key) {
            let (group, version) = o
                .api_version
                .rsplit_once('/')
                .unwrap_or(("", &o.api_version));
            let gvk = kube::api::GroupVersionKind::gvk(group, version, &o.id.kind);
            let (ar, caps) = pinned_kind(client, &gvk)
                .await
                .map_err(|e| WaitError::Watch {
                    id: Box::new(o.id.clone()),
                    message: format!(
                        "the server does not serve {} {}: {e}",
                        o.api_version, o.id.kind
                    ),
                })?;
            resources.insert(key.clone(), (ar, caps.scope));
        }
        let (ar, scope) = &resources[&key];
        let namespace = match scope {
            KubeScope::Namespaced => o.id.namespace.clone(),
            KubeScope::Cluster => None,
        };
        groups
            .entry((key.0, key.1, namespace.clone()))
            .or_insert_with(|| Group {
                resource: ar.clone(),
                namespace,
                names: BTreeMap::new(),
            })
            .names
            .insert(o.id.name.clone(), o.id.clone());
    }
    let client = client.clone();
    Ok(stream::select_all(
        groups
            .into_values()
            .map(move |g| g.into_stream(client.clone())),
    )
    .boxed())
}

/// Where updates come from: a Kubernetes watch, or one read per object
/// through the [`Target`] for targets whose objects do not change by
/// themselves (`dir`). The CLI picks it with the target.
#[derive(Clone)]
pub enum Watcher {
    /// Watch the API server of this client.
    Kube(Client),
    /// Read each object once through the target.
    Snapshot,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Watcher::Kube(_) => "Watcher::Kube",
            Watcher::Snapshot => "Watcher::Snapshot",
        })
    }
}

impl Watcher {
    /// Updates for `objects` (namespaces defaulted).
    pub async fn updates<'a, T: Target>(
        &self,
        target: &'a T,
        objects: &'a [Object],
    ) -> Result<LocalBoxStream<'a, Update>, WaitError> {
        match self {
            Watcher::Kube(client) => Ok(kube_updates(client, objects).await?.boxed_local()),
            Watcher::Snapshot => Ok(stream::iter(objects)
                .then(move |o| async move {
                    match target.get(o).await {
                        Ok(live) => Ok((o.id.clone(), live)),
                        Err(e) => Err(WaitError::Watch {
                            id: Box::new(o.id.clone()),
                            message: e.to_string(),
                        }),
                    }
                })
                .boxed_local()),
        }
    }

    /// Wait until every object of `objects` is Healthy; see
    /// [`wait_healthy`].
    pub async fn wait<T: Target>(
        &self,
        target: &T,
        objects: &[Object],
        timeout: Duration,
        on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
    ) -> Result<Vec<(ObjectId, Health)>, WaitError> {
        let ids: Vec<ObjectId> = objects.iter().map(|o| o.id.clone()).collect();
        let updates = self.updates(target, objects).await?;
        wait_healthy(&ids, updates, timeout, on_change).await
    }
}

/// How long is left until `deadline` (zero when passed).
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
