//! Watching what the service manages: one watch per kind per cluster,
//! shared by every app, narrowed to ApplySet members by a label selector.
//!
//! Each watch feeds two things:
//! - the **live cache** ([`Live`]): the health-relevant part of every
//!   managed object (`spec`, `status`, `metadata.generation`), so an app's
//!   health is assessed without asking the API server, and changes as soon
//!   as its objects do. Data of ConfigMaps and Secrets is not kept.
//! - **drift**: a [`Seen`] event for every change, saying whether someone
//!   other than sluice made it. An object's own writes are told apart by
//!   `managedFields`: the newest entry (status subresource entries left
//!   out, so controllers updating status are not drift) names the manager
//!   that last changed it; a change by [`FIELD_MANAGER`] is sluice's own
//!   apply. A deletion is always reported.
//!
//! Watches are kube-runtime watchers: they relist after a `410 Gone` and
//! back off on errors, so an API server restart ends in a relist, which is
//! reported as [`Seen::Listed`] so the service re-checks every app with
//! objects of that kind (a deletion during the gap sends no event).

use super::cluster::Cluster;
use crate::object::ObjectId;
use crate::target::FIELD_MANAGER;
use crate::target::applyset::PART_OF_LABEL;
use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// What a watch saw.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A managed object was created or changed.
    Changed {
        /// The object.
        id: ObjectId,
        /// The ApplySet it is a member of.
        applyset: String,
        /// Whether someone other than sluice changed it.
        foreign: bool,
    },
    /// A managed object was deleted.
    Deleted {
        /// The object.
        id: ObjectId,
        /// The ApplySet it was a member of.
        applyset: String,
    },
    /// The watch of `(group, kind)` listed every object: at its start, and
    /// afresh after a gap (then changes may have been missed).
    Listed {
        /// API group.
        group: String,
        /// Kind.
        kind: String,
        /// Whether this was the watch's first listing.
        first: bool,
    },
}

/// The health-relevant part of every watched object, per cluster.
#[derive(Debug, Default)]
pub struct Live {
    objects: Mutex<HashMap<ObjectId, Value>>,
}

impl Live {
    /// The object with `id` as last seen, if any.
    pub fn get(&self, id: &ObjectId) -> Option<Value> {
        self.objects.lock().ok()?.get(id).cloned()
    }

    /// How many objects are kept.
    pub fn len(&self) -> usize {
        self.objects.lock().map_or(0, |o| o.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&self, id: ObjectId, v: Value) {
        if let Ok(mut o) = self.objects.lock() {
            o.insert(id, v);
        }
    }

    fn remove(&self, id: &ObjectId) {
        if let Ok(mut o) = self.objects.lock() {
            o.remove(id);
        }
    }
}

fn id_of(v: &Value, group: &str, kind: &str) -> Option<ObjectId> {
    let meta = v.get("metadata")?;
    Some(ObjectId {
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: meta
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: meta.get("name")?.as_str()?.to_string(),
    })
}

/// Whether the newest non-status `managedFields` entry is someone else's.
/// An object without the field (a server that does not track it) counts
/// as foreign, so drift is checked rather than missed.
pub fn changed_by_other(v: &Value) -> bool {
    let Some(entries) = v
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return true;
    };
    let newest = entries
        .iter()
        .filter(|e| e.get("subresource").and_then(Value::as_str) != Some("status"))
        .max_by_key(|e| e.get("time").and_then(Value::as_str).unwrap_or(""));
    match newest {
        Some(e) => {
            let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
            // Ties in time (seconds) between managers: the newest of equal
            // time is unknown, so any other manager at that time counts.
            let time = e.get("time").and_then(Value::as_str).unwrap_or("");
            manager != FIELD_MANAGER
                || entries.iter().any(|o| {
                    o.get("subresource").and_then(Value::as_str) != Some("status")
                        && o.get("time").and_then(Value::as_str).unwrap_or("") == time
                        && o.get("manager").and_then(Value::as_str) != Some(FIELD_MANAGER)
                })
        }
        None => true,
    }
}

/// What of `v` (an object of `ar`) the live cache keeps: enough to assess
/// health. Objects from a listing carry no `apiVersion` and `kind` (the
/// API server leaves them off list items); they are taken from `ar`, or
/// health would not know what it looks at.
fn slim(v: &Value, ar: &ApiResource) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
    out.insert("kind".into(), Value::String(ar.kind.clone()));
    for k in ["apiVersion", "kind", "spec", "status"] {
        if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
            out.insert(k.to_string(), x.clone());
        }
    }
    let mut meta = Map::new();
    if let Some(m) = v.get("metadata") {
        for k in ["name", "namespace", "generation", "deletionTimestamp"] {
            if let Some(x) = m.get(k) {
                meta.insert(k.to_string(), x.clone());
            }
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    Value::Object(out)
}

/// Watch every ApplySet member of `ar` on `cluster`, feeding `live` and
/// sending what changed to `tx`, until `tx`'s receiver is gone.
pub fn spawn_watch(
    cluster: Arc<Cluster>,
    ar: ApiResource,
    live: Arc<Live>,
    tx: UnboundedSender<Seen>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<DynamicObject> = Api::all_with(cluster.kube.client().clone(), &ar);
        let cfg = watcher::Config::default().labels(PART_OF_LABEL);
        let mut stream = watcher::watcher(api, cfg).default_backoff().boxed();
        let (group, kind) = (ar.group.clone(), ar.kind.clone());
        let mut listed_once = false;
        while let Some(ev) = stream.next().await {
            let ev = match ev {
                Ok(ev) => {
                    cluster
                        .watch_ok
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    ev
                }
                Err(e) => {
                    cluster
                        .watch_ok
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(cluster = %cluster.kube.server(), kind = %kind, error = %e, "watch error; retrying");
                    continue;
                }
            };
            let seen = match ev {
                Event::Init => None,
                Event::InitApply(o) => {
                    // A listing: an object someone else changed last (while
                    // no watch ran) is drift too.
                    let Ok(v) = serde_json::to_value(&o) else {
                        continue;
                    };
                    let Some(id) = id_of(&v, &group, &kind) else {
                        continue;
                    };
                    live.put(id.clone(), slim(&v, &ar));
                    let foreign = changed_by_other(&v);
                    crate::target::applyset::label(&v, PART_OF_LABEL)
                        .filter(|_| foreign)
                        .map(|set| Seen::Changed {
                            id,
                            applyset: set.to_string(),
                            foreign,
                        })
                }
                Event::InitDone => {
                    let first = !listed_once;
                    listed_once = true;
                    Some(Seen::Listed {
                        group: group.clone(),
                        kind: kind.clone(),
                        first,
                    })
                }
                Event::Apply(o) => {
                    let Ok(v) = serde_json::to_value(&o) else {
                        continue;
                    };
                    let Some(id) = id_of(&v, &group, &kind) else {
                        continue;
                    };
                    live.put(id.clone(), slim(&v, &ar));
                    crate::target::applyset::label(&v, PART_OF_LABEL).map(|set| Seen::Changed {
                        id,
                        applyset: set.to_string(),
                        foreign: changed_by_other(&v),
                    })
                }
                Event::Delete(o) => {
                    let Ok(v) = serde_json::to_value(&o) else {
                        continue;
                    };
                    let Some(id) = id_of(&v, &group, &kind) else {
                        continue;
                    };
                    live.remove(&id);
                    crate::target::applyset::label(&v, PART_OF_LABEL).map(|set| Seen::Deleted {
                        id,
                        applyset: set.to_string(),
                    })
                }
            };
            if let Some(s) = seen
                && tx.send(s).is_err()
            {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn own_writes_are_not_drift_and_status_updates_are_ignored() {
        let own = json!({"metadata": {"managedFields": [
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
            {"manager": "sluice", "operation": "Apply", "time": "2026-01-01T00:00:05Z"},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-01-01T00:00:09Z"}
        ]}});
        assert!(!changed_by_other(&own));
        let scaled = json!({"metadata": {"managedFields": [
            {"manager": "sluice", "operation": "Apply", "time": "2026-01-01T00:00:05Z"},
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:07Z"}
        ]}});
        assert!(changed_by_other(&scaled));
        let tie = json!({"metadata": {"managedFields": [
            {"manager": "sluice", "operation": "Apply", "time": "2026-01-01T00:00:05Z"},
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:05Z"}
        ]}});
        assert!(changed_by_other(&tie), "a tie is checked, not missed");
        assert!(changed_by_other(&json!({"metadata": {}})));
    }

    #[test]
    fn the_live_cache_keeps_no_data() {
        let v = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n", "managedFields": [], "annotations": {"a": "b"}},
            "data": {"password": "c2VjcmV0"}});
        let ar = ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
        let s = slim(&v, &ar);
        assert_eq!(
            s,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}})
        );
    }

    #[test]
    fn a_listed_object_is_assessed_as_its_kind() {
        // List items come without apiVersion and kind: a Deployment no
        // controller has rolled out is Progressing, not Healthy.
        let listed = json!({"metadata": {"name": "d", "namespace": "n", "generation": 1},
            "spec": {"replicas": 1}});
        let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let s = slim(&listed, &ar);
        assert_eq!(s["kind"], "Deployment");
        assert_eq!(
            crate::health::assess(&s).status,
            crate::health::HealthStatus::Progressing
        );
    }
}
