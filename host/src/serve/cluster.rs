//! One connection, one discovery cache and one concurrency limit per
//! cluster, shared by every app synced to it.
//!
//! `sync::run` discovers the target's kinds at the start of every sync,
//! and again after it established CustomResourceDefinitions. A thousand
//! apps on one cluster would discover a thousand times per refresh; a
//! [`SyncView`] (one per sync) answers the first discovery of a sync from
//! the cluster's cache when it is younger than [`DISCOVERY_TTL`], and
//! passes every later one (the ones after a CRD) to the server.

use crate::object::Object;
use crate::target::applyset::GroupKind;
use crate::target::destination::Cluster as Dest;
use crate::target::kube::KubeTarget;
use crate::target::{
    ApplyOptions, Deleted, LiveUpdate, ObjectError, Scope, Target, TargetError, WatchError,
};
use futures::stream::BoxStream;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a discovery answers the first discovery of later syncs.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(30);

/// Which cluster: the kubeconfig and the context.
pub type ClusterKey = (Option<PathBuf>, Option<String>);

/// A connected cluster.
pub struct Cluster {
    /// The connection.
    pub kube: KubeTarget,
    /// The key it was connected by.
    pub key: ClusterKey,
    discovered: Mutex<Option<Instant>>,
    /// Syncs on this cluster at once (`--cluster-concurrency`).
    pub limit: Semaphore,
    /// Whether the watches on this cluster are working (false from a watch
    /// error until the next event): refreshes may rely on them only then.
    pub watch_ok: AtomicBool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({})", self.kube.server())
    }
}

impl Cluster {
    /// Refresh discovery when older than `ttl` (or never done).
    pub async fn discover_within(&self, ttl: Duration) -> Result<(), TargetError> {
        let fresh = self
            .discovered
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|at| at.elapsed() < ttl);
        if fresh {
            return Ok(());
        }
        self.kube.discover().await?;
        if let Ok(mut g) = self.discovered.lock() {
            *g = Some(Instant::now());
        }
        Ok(())
    }

    /// A view for one sync.
    pub fn view(&self) -> SyncView<'_> {
        SyncView {
            cluster: self,
            first: AtomicBool::new(true),
        }
    }
}

/// Every connected cluster, by kubeconfig and context.
#[derive(Debug)]
pub struct Clusters {
    map: tokio::sync::Mutex<HashMap<ClusterKey, Arc<Cluster>>>,
    per_cluster: usize,
}

impl Clusters {
    /// No clusters yet; each will allow `per_cluster` syncs at once.
    pub fn new(per_cluster: usize) -> Clusters {
        Clusters {
            map: tokio::sync::Mutex::new(HashMap::new()),
            per_cluster: per_cluster.max(1),
        }
    }

    /// The cluster `dest` names, connected on first use. A failed
    /// connection is not kept, so the next call tries again.
    pub async fn get(&self, dest: &Dest) -> Result<Arc<Cluster>, TargetError> {
        let key = (dest.kubeconfig.clone(), dest.context.clone());
        let mut map = self.map.lock().await;
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let kube = match &dest.inline {
            Some(i) => KubeTarget::connect_inline((*i.kubeconfig).clone(), &i.label).await?,
            None => {
                KubeTarget::connect(dest.kubeconfig.as_deref(), dest.context.as_deref()).await?
            }
        };
        let c = Arc::new(Cluster {
            kube,
            key: key.clone(),
            discovered: Mutex::new(None),
            limit: Semaphore::new(self.per_cluster),
            watch_ok: AtomicBool::new(true),
        });
        map.insert(key, c.clone());
        Ok(c)
    }

    /// Every cluster connected so far.
    pub async fn all(&self) -> Vec<Arc<Cluster>> {
        self.map.lock().await.values().cloned().collect()
    }
}

/// A cluster as one sync sees it: the first discovery may come from the
/// cluster's cache, every later one goes to the server.
pub struct SyncView<'a> {
    cluster: &'a Cluster,
    first: AtomicBool,
}

impl Target for SyncView<'_> {
    fn describe(&self) -> String {
        self.cluster.kube.describe()
    }
    async fn discover(&self) -> Result<(), TargetError> {
        if self.first.swap(false, Ordering::Relaxed) {
            self.cluster.discover_within(DISCOVERY_TTL).await
        } else {
            self.cluster.discover_within(Duration::ZERO).await
        }
    }
    fn scope(&self, api_version: &str, kind: &str) -> Option<Scope> {
        self.cluster.kube.scope(api_version, kind)
    }
    async fn get(&self, obj: &Object) -> Result<Option<Value>, ObjectError> {
        self.cluster.kube.get(obj).await
    }
    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
        namespaces: &BTreeSet<String>,
    ) -> Result<Vec<Value>, TargetError> {
        self.cluster.kube.list_members(id, kinds, namespaces).await
    }
    async fn find_parent(&self, id: &str) -> Result<Option<Value>, TargetError> {
        self.cluster.kube.find_parent(id).await
    }
    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError> {
        self.cluster.kube.apply(obj, opts).await
    }
    async fn delete(&self, obj: &Object, uid: Option<&str>) -> Result<Deleted, ObjectError> {
        self.cluster.kube.delete(obj, uid).await
    }
    async fn release(&self, obj: &Object, applyset_id: &str) -> Result<bool, ObjectError> {
        self.cluster.kube.release(obj, applyset_id).await
    }
    async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ObjectError> {
        self.cluster.kube.wait_established(name, timeout).await
    }
    fn can_watch(&self) -> bool {
        self.cluster.kube.can_watch()
    }
    async fn watch(
        &self,
        objects: &[Object],
    ) -> Result<BoxStream<'static, LiveUpdate>, WatchError> {
        self.cluster.kube.watch(objects).await
    }
}
