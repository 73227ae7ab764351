//! The service: apps, triggers and workers tied together.
//!
//! [`Service::start`] loads the apps, starts the workers, the poller, the
//! app-directory scanner and the drift handler, and returns a handle; the
//! HTTP server ([`super::http`]) and the CLI drive it through that handle.
//! Everything an operation does is in [`super::reconcile`].
//!
//! Concurrency: `--workers` operations at once in total, at most
//! `--cluster-concurrency` of them on one cluster, at most one per app
//! (the [`WorkQueue`]). Blocking work (Git, rendering) runs on tokio's
//! blocking pool, so a slow fetch or plugin holds one worker and nothing
//! else.

use super::cluster::{ClusterKey, Clusters};
use super::heal::{Live, Seen};
use super::queue::{Request, Trigger, WorkQueue};
use super::registry::{CASCADE_FINALIZER, Change, Entry, Registry};
use super::status::{AppStatus, HistoryRecord, ResourceDiff, ResourceResult};
use super::store::{Store, StoreError};
use super::webhook::{Push, Secrets};
use crate::app::Application;
use crate::engine::{App, Settings};
use crate::object::ObjectId;
use crate::render::readset::RenderCache;
use crate::render::{Rendered, Renderers};
use crate::source::Memo;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// The annotation that pauses an app (syncs and self-heal stop, refresh
/// goes on): `sluice.dev/paused: "true"`.
pub const PAUSED_ANNOTATION: &str = "sluice.dev/paused";

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory of Application files (`--apps`).
    pub apps_dir: Option<PathBuf>,
    /// Where the status store lives (`--state-dir`).
    pub state_dir: PathBuf,
    /// How often every app's repository is polled (`--refresh-interval`);
    /// each app's timer is jittered by up to a tenth.
    pub refresh_interval: Duration,
    /// Operations at once (`--workers`).
    pub workers: usize,
    /// Operations at once on one cluster (`--cluster-concurrency`).
    pub cluster_concurrency: usize,
    /// Webhook secrets (`--webhook-secrets`).
    pub webhook_secrets: Secrets,
    /// Largest webhook body accepted, bytes.
    pub max_webhook_body: usize,
    /// How often the apps directory is scanned.
    pub apps_scan_interval: Duration,
    /// The deadline for all waiting in one sync (waves, hooks).
    pub sync_timeout: Duration,
    /// Objects applied at once within one sync.
    pub object_concurrency: usize,
    /// Watch Application resources in these namespaces (all when empty);
    /// `None`: only files (`--in-cluster-apps`).
    pub in_cluster_apps: Option<Vec<String>>,
    /// The service's namespace (`--namespace`): Argo CD cluster Secrets
    /// there are destinations (see [`super::secrets`]); `None`: none are.
    pub namespace: Option<String>,
    /// The directory of Target declarations (`--targets`): apps that list
    /// targets in `spec.targets` reach them through their plugins.
    pub targets_dir: Option<PathBuf>,
    /// Also read Target resources (`sluice crd`) in this namespace
    /// (`--in-cluster-targets`); a name declared in both places is an
    /// error on the apps that list it.
    pub in_cluster_targets: Option<String>,
    /// How often the live state of apps with targets is read back for
    /// drift (`--target-poll-interval`): target plugins cannot be watched.
    pub target_poll_interval: Duration,
    /// How the engine resolves sources and clusters.
    pub settings: Settings,
}

/// Retry bookkeeping for an app (Argo CD's `syncPolicy.retry`).
#[derive(Debug, Clone, Default)]
pub(super) struct RetryState {
    /// The commit whose sync failed last; `None` after a success.
    pub failed_revision: Option<String>,
    /// Retries done for that commit.
    pub attempts: u32,
}

/// Self-heal bookkeeping: consecutive heals in a fight.
#[derive(Debug, Clone, Default)]
pub(super) struct HealState {
    /// Heals in a row, each within [`FIGHT_WINDOW`] of the previous.
    pub count: u32,
    /// When the last heal wrote.
    pub last: Option<Instant>,
}

/// A fight is over when nothing drifted for this long.
pub const FIGHT_WINDOW: Duration = Duration::from_secs(120);

/// One app as the service holds it.
pub(super) struct AppEntry {
    /// Its file, for file apps.
    pub file: Option<PathBuf>,
    /// The Application, or why it is invalid.
    pub app: Result<Arc<Application>, String>,
    /// Its status.
    pub status: AppStatus,
    /// The last resolved source and render (reused for drift).
    pub last: Option<(Arc<App>, Arc<Rendered>)>,
    /// The ApplySet id of the last sync and the cluster it is on.
    pub applyset: Option<(ClusterKey, String)>,
    /// The desired objects of the last sync, namespaces defaulted.
    pub desired: Vec<ObjectId>,
    /// Retry state.
    pub retry: RetryState,
    /// Self-heal state.
    pub heal: HealState,
    /// Paused by the API or CLI.
    pub paused: bool,
    /// For an Application resource: its group and namespace.
    pub origin: Option<(String, String)>,
    /// Automated sync turned off through the API (a rollback); cleared
    /// when the Application changes.
    pub auto_sync_off: bool,
    /// The health of the app's Flux `healthChecks` objects at its last
    /// operation (they are not watched).
    pub checks_health: Option<crate::health::HealthStatus>,
    /// The highest API ticket served (see [`Request::ticket`]).
    pub served: u64,
    /// Per-object results of the last comparison or sync.
    pub resources: Vec<ResourceResult>,
    /// The diff of each drifted object at the last comparison.
    pub diff: Vec<ResourceDiff>,
}

impl AppEntry {
    fn new(file: Option<PathBuf>, app: Result<Arc<Application>, String>) -> AppEntry {
        AppEntry {
            file,
            app,
            status: AppStatus::default(),
            last: None,
            applyset: None,
            desired: Vec::new(),
            retry: RetryState::default(),
            heal: HealState::default(),
            paused: false,
            origin: None,
            auto_sync_off: false,
            checks_health: None,
            served: 0,
            resources: Vec::new(),
            diff: Vec::new(),
        }
    }

    /// Take the stored status of an app just loaded, with the switches
    /// it records: a pause, and automated sync turned off by a rollback
    /// (only while the Application is the one it was turned off for).
    fn restore(&mut self, s: AppStatus) {
        self.paused = s.paused_by_switch;
        self.auto_sync_off = match (&self.app, &s.auto_sync_off_for) {
            (Ok(a), Some(d)) => super::status::app_digest(a) == *d,
            _ => false,
        };
        self.status = s;
        if !self.auto_sync_off {
            self.status.auto_sync_off_for = None;
        }
    }

    /// Paused by the switch or by the annotation.
    pub fn is_paused(&self) -> bool {
        self.paused
            || self.app.as_ref().is_ok_and(|a| {
                a.metadata
                    .annotations
                    .get(PAUSED_ANNOTATION)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
                    || a.flux.as_ref().is_some_and(|f| f.suspend)
            })
    }
}

/// Counters for benchmarks, tests and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Operations finished.
    pub operations: AtomicU64,
    /// Operations that wrote to a cluster.
    pub syncs: AtomicU64,
    /// Drift fixed by self-heal.
    pub heals: AtomicU64,
    /// Webhooks accepted.
    pub webhooks: AtomicU64,
}

/// One app as the API shows it (see [`Service::info`]).
#[derive(Debug, Clone)]
pub struct AppInfo {
    /// The app's name.
    pub name: String,
    /// Its Application, or why it is invalid.
    pub app: Result<Arc<Application>, String>,
    /// Its status.
    pub status: AppStatus,
    /// Per-object results of the last comparison or sync, health read
    /// from the live cache (empty in [`Service::infos`]).
    pub resources: Vec<ResourceResult>,
    /// The diff of each drifted object (empty in [`Service::infos`]).
    pub diff: Vec<ResourceDiff>,
    /// Automated sync turned off through the API.
    pub auto_sync_off: bool,
    /// The highest request ticket served.
    pub served: u64,
}

/// A status change, for the event stream.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    /// The app.
    pub app: String,
    /// Its status now (`None`: removed).
    pub status: Option<AppStatus>,
}

pub(super) struct Inner {
    pub config: Config,
    pub renderers: Renderers,
    pub cache: RenderCache,
    pub memo: Memo,
    pub queue: WorkQueue,
    pub store: Store,
    pub clusters: Clusters,
    pub apps: Mutex<BTreeMap<String, AppEntry>>,
    /// ApplySet id → app.
    pub applysets: Mutex<HashMap<String, String>>,
    /// (cluster, group, kind) watched, with the cluster's live cache.
    pub watched: Mutex<HashSet<(ClusterKey, String, String)>>,
    pub live: Mutex<HashMap<ClusterKey, Arc<Live>>>,
    pub seen_tx: mpsc::UnboundedSender<Seen>,
    pub counters: Counters,
    pub events: broadcast::Sender<StatusEvent>,
    pub ready: AtomicBool,
    pub busy: AtomicUsize,
    pub watch_drift: bool,
    /// The client Application resources are read and written with.
    pub incluster: Mutex<Option<kube::Client>>,
    /// The home cluster's client (the kubeconfig's current context),
    /// connected on first use.
    pub home: tokio::sync::Mutex<Option<kube::Client>>,
    /// The last request ticket handed out.
    pub tickets: AtomicU64,
}

/// A running service.
#[derive(Clone)]
pub struct Service {
    pub(super) inner: Arc<Inner>,
}

/// The error returned by [`Service::start`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The state store cannot be opened.
    #[error("cannot open the state store")]
    Store(#[from] StoreError),
    /// The cluster holding Application resources cannot be reached.
    #[error(
        "cannot connect to the home cluster (for --in-cluster-apps or the cluster Secrets of --namespace); check the kubeconfig"
    )]
    Cluster {
        /// What went wrong.
        #[source]
        source: crate::target::TargetError,
    },
    /// The apps directory cannot be read.
    #[error("cannot read the apps directory {}; check --apps", dir.display())]
    AppsDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The Argo CD cluster Secrets of `namespace` on the home cluster, loaded
/// once now (so the first operations see them) and, with `watch`,
/// followed. A listing that fails is logged: apps naming those clusters
/// are refused until the watch has them.
async fn cluster_secrets(
    settings: &Settings,
    namespace: String,
    watch: bool,
) -> Result<Arc<super::secrets::ClusterSecrets>, ServeError> {
    let home = crate::target::kube::KubeTarget::connect(settings.kubeconfig.as_deref(), None)
        .await
        .map_err(|source| ServeError::Cluster { source })?;
    let dir = Arc::new(super::secrets::ClusterSecrets::default());
    match dir.load(home.client(), &namespace).await {
        Ok(n) => tracing::info!(namespace = %namespace, secrets = n, "cluster Secrets listed"),
        Err(e) => {
            tracing::warn!(namespace = %namespace, error = %e, "cannot list cluster Secrets (argocd.argoproj.io/secret-type=cluster); apps naming them fail until they can be read")
        }
    }
    if watch {
        let d = dir.clone();
        let client = home.client().clone();
        tokio::spawn(async move { d.follow(client, namespace).await });
    }
    Ok(dir)
}

impl Service {
    /// Load the apps and start the workers. With `watch`, also the poller,
    /// the directory scanner and the drift watches (off for `--once`).
    pub async fn start(
        config: Config,
        renderers: Renderers,
        watch: bool,
    ) -> Result<Service, ServeError> {
        let store = Store::open(&config.state_dir)?;
        let mut config = config;
        if let Some(ns) = config.namespace.clone() {
            config.settings.clusters = Some(cluster_secrets(&config.settings, ns, watch).await?);
        }
        let (seen_tx, seen_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            clusters: Clusters::new(config.cluster_concurrency),
            config,
            renderers,
            cache: RenderCache::new(),
            memo: Memo::new(),
            queue: WorkQueue::new(),
            store,
            apps: Mutex::new(BTreeMap::new()),
            applysets: Mutex::new(HashMap::new()),
            watched: Mutex::new(HashSet::new()),
            live: Mutex::new(HashMap::new()),
            seen_tx,
            counters: Counters::default(),
            events: broadcast::channel(1024).0,
            ready: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            watch_drift: watch,
            incluster: Mutex::new(None),
            home: tokio::sync::Mutex::new(None),
            tickets: AtomicU64::new(0),
        });
        let svc = Service { inner };
        let mut registry = svc.inner.config.apps_dir.as_deref().map(Registry::new);
        if let Some(r) = registry.as_mut() {
            let changes = r.scan().map_err(|source| ServeError::AppsDir {
                dir: svc.inner.config.apps_dir.clone().unwrap_or_default(),
                source,
            })?;
            svc.apply_changes(changes);
        }
        for _ in 0..svc.inner.config.workers.max(1) {
            let s = svc.clone();
            tokio::spawn(async move { s.worker().await });
        }
        if watch {
            if let Some(r) = registry {
                let s = svc.clone();
                tokio::spawn(async move { s.scan_loop(r).await });
            }
            let s = svc.clone();
            tokio::spawn(async move { s.poll_loop().await });
            let s = svc.clone();
            tokio::spawn(async move { s.drift_loop(seen_rx).await });
            if let Some(namespaces) = svc.inner.config.in_cluster_apps.clone() {
                let kc = svc.inner.config.settings.kubeconfig.clone();
                let kube = crate::target::kube::KubeTarget::connect(kc.as_deref(), None)
                    .await
                    .map_err(|source| ServeError::Cluster { source })?;
                let client = kube.client().clone();
                if let Ok(mut c) = svc.inner.incluster.lock() {
                    *c = Some(client.clone());
                }
                super::incluster::spawn(&svc, client, namespaces);
            }
        }
        svc.inner.ready.store(true, Ordering::Relaxed);
        Ok(svc)
    }

    /// A client for the home cluster (where Flux Secrets are read),
    /// connected on first use; a failed connection is tried again next time.
    pub async fn home_client(&self) -> Result<kube::Client, crate::target::TargetError> {
        let mut home = self.inner.home.lock().await;
        if let Some(c) = home.as_ref() {
            return Ok(c.clone());
        }
        let kc = self.inner.config.settings.kubeconfig.clone();
        let k = crate::target::kube::KubeTarget::connect(kc.as_deref(), None).await?;
        let c = k.client().clone();
        *home = Some(c.clone());
        Ok(c)
    }

    /// Whether the service has loaded its apps and takes work.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Renders performed and renders skipped (nothing they read changed).
    pub fn render_counts(&self) -> (u64, u64) {
        (self.inner.cache.misses(), self.inner.cache.hits())
    }

    /// Git resolutions performed and shared.
    pub fn git_counts(&self) -> (u64, u64) {
        (self.inner.memo.resolves(), self.inner.memo.shared())
    }

    /// Status changes as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<StatusEvent> {
        self.inner.events.subscribe()
    }

    /// Every app's status, by name.
    pub fn statuses(&self) -> BTreeMap<String, AppStatus> {
        let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter()
            .map(|(k, v)| (k.clone(), v.status.clone()))
            .collect()
    }

    /// One app's status.
    pub fn status(&self, app: &str) -> Option<AppStatus> {
        let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.get(app).map(|e| e.status.clone())
    }

    /// One app's sync history, oldest first.
    pub fn history(&self, app: &str) -> Result<Vec<(u64, HistoryRecord)>, StoreError> {
        Ok(self
            .inner
            .store
            .history::<HistoryRecord>(app)?
            .into_iter()
            .map(|e| (e.id, e.value))
            .collect())
    }

    /// Queue an operation for `app`; `false` when there is no such app or
    /// the service is shutting down.
    pub fn trigger(&self, app: &str, request: Request) -> bool {
        let known = self
            .inner
            .apps
            .lock()
            .map(|a| a.contains_key(app))
            .unwrap_or(false);
        known && self.inner.queue.push(app, request)
    }

    /// Queue every app.
    pub fn trigger_all(&self, reason: Trigger) -> usize {
        let names: Vec<String> = self
            .inner
            .apps
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        let since = Instant::now();
        names
            .iter()
            .filter(|n| {
                let mut r = Request::new(reason);
                r.since = since;
                self.inner.queue.push(n, r)
            })
            .count()
    }

    /// Pause or resume `app` (the API and CLI switch); `false` for an
    /// unknown app. Resuming queues the app.
    pub fn set_paused(&self, app: &str, paused: bool) -> bool {
        let changed = {
            let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            let Some(e) = apps.get_mut(app) else {
                return false;
            };
            e.paused = paused;
            e.status.paused = e.is_paused();
            e.status.paused_by_switch = paused;
            if let Err(err) = self.inner.store.put_status(app, &e.status) {
                tracing::error!(app = %app, error = %crate::error_chain(&err), "cannot store the pause; it is lost at a restart");
            }
            e.status.clone()
        };
        self.publish(app, Some(changed));
        if !paused {
            self.inner.queue.push(app, Request::new(Trigger::Manual));
        }
        true
    }

    /// One app as the API shows it: its Application, status, resources
    /// (health from the live cache) and diff.
    pub fn info(&self, app: &str) -> Option<AppInfo> {
        let (mut info, key) = {
            let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            let e = apps.get(app)?;
            let mut info = summary(app, e);
            info.resources = e.resources.clone();
            info.diff = e.diff.clone();
            (info, e.applyset.as_ref().map(|(k, _)| k.clone()))
        };
        let live = key.and_then(|k| {
            let l = self.inner.live.lock().unwrap_or_else(|p| p.into_inner());
            l.get(&k).cloned()
        });
        if let Some(live) = live {
            for r in info.resources.iter_mut().filter(|r| r.health.is_none()) {
                let id = ObjectId {
                    group: r.group.clone(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                };
                if let Some(v) = live.get(&id) {
                    r.health = Some(crate::health::assess(&v).status.as_str().to_string());
                }
            }
        }
        Some(info)
    }

    /// Every app as the API lists them, by name (without resources and
    /// diffs).
    pub fn infos(&self) -> Vec<AppInfo> {
        let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter().map(|(n, e)| summary(n, e)).collect()
    }

    /// Queue `request` for `app` with a new ticket; returns the ticket
    /// ([`AppInfo::served`] reaches it once an operation that carried the
    /// request ended), or `None` for an unknown app or a service shutting
    /// down.
    pub fn request(&self, app: &str, mut request: Request) -> Option<u64> {
        let ticket = self.inner.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        request.ticket = ticket;
        self.trigger(app, request).then_some(ticket)
    }

    /// Turn automated sync off (`true`) for `app` until its Application
    /// changes (a rollback asks for it), or back on; `false` for an
    /// unknown app.
    pub fn set_auto_sync_off(&self, app: &str, off: bool) -> bool {
        let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        match apps.get_mut(app) {
            Some(e) => {
                e.auto_sync_off = off;
                e.status.auto_sync_off_for = match (&e.app, off) {
                    (Ok(a), true) => Some(super::status::app_digest(a)),
                    _ => None,
                };
                if let Err(err) = self.inner.store.put_status(app, &e.status) {
                    tracing::error!(app = %app, error = %crate::error_chain(&err), "cannot store that automated sync is off; it is on again at a restart");
                }
                true
            }
            None => false,
        }
    }

    /// A verified push: queue the apps it concerns; returns their names.
    pub fn on_push(&self, push: &Push) -> Vec<String> {
        self.inner.counters.webhooks.fetch_add(1, Ordering::Relaxed);
        let names: Vec<String> = {
            let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            apps.iter()
                .filter_map(|(name, e)| {
                    let a = e.app.as_ref().ok()?;
                    let rev = a.spec.source.target_revision.as_deref().unwrap_or("HEAD");
                    push.concerns(&a.spec.source.repo_url, rev)
                        .then(|| name.clone())
                })
                .collect()
        };
        let since = Instant::now();
        for n in &names {
            let mut r = Request::new(Trigger::Webhook);
            r.since = since;
            self.inner.queue.push(n, r);
        }
        names
    }

    /// Wait until nothing is queued or in flight.
    pub async fn idle(&self) {
        loop {
            if self.inner.queue.queued_len() == 0 && self.inner.busy.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stop taking work and wait up to `grace` for operations in flight;
    /// `false` when some were still running (they are cut when the process
    /// exits; every acknowledged status is already stored).
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.ready.store(false, Ordering::Relaxed);
        self.inner.queue.close();
        let deadline = Instant::now() + grace;
        while self.inner.busy.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    pub(super) fn publish(&self, app: &str, status: Option<AppStatus>) {
        if status.is_some() {
            super::depends::wake(self, app);
        }
        let _ = self.inner.events.send(StatusEvent {
            app: app.to_string(),
            status,
        });
    }

    /// An Application resource was created or changed.
    pub(super) fn upsert_cluster_app(
        &self,
        name: &str,
        namespace: &str,
        group: &str,
        app: Result<Application, String>,
    ) {
        let origin = Some((group.to_string(), namespace.to_string()));
        let queue = {
            let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            match apps.get_mut(name) {
                Some(e) if e.origin != origin => {
                    tracing::error!(app = %name, namespace, group, "an app of this name exists already (a file or another resource); this Application is ignored until the name is unique");
                    false
                }
                Some(e) => {
                    let same = match (&e.app, &app) {
                        (Ok(a), Ok(b)) => {
                            serde_json::to_value(a.as_ref()).ok() == serde_json::to_value(b).ok()
                        }
                        (Err(a), Err(b)) => a == b,
                        _ => false,
                    };
                    e.app = app.map(Arc::new);
                    if !same {
                        e.auto_sync_off = false;
                        e.status.auto_sync_off_for = None;
                    }
                    !same
                }
                None => {
                    let app = app.map(Arc::new);
                    self.register_applyset(name, &app);
                    let mut e = AppEntry::new(None, app);
                    e.origin = origin;
                    if let Ok(Some(s)) = self.inner.store.status::<AppStatus>(name) {
                        e.restore(s);
                    }
                    apps.insert(name.to_string(), e);
                    true
                }
            }
        };
        if queue {
            self.inner
                .queue
                .push(name, Request::new(Trigger::AppChanged));
        }
    }

    fn take_cluster_app(&self, name: &str, namespace: &str) -> Option<AppEntry> {
        let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        let ours = apps
            .get(name)
            .is_some_and(|e| e.origin.as_ref().is_some_and(|(_, ns)| ns == namespace));
        if ours { apps.remove(name) } else { None }
    }

    /// An Application resource was deleted.
    pub(super) fn remove_cluster_app(&self, name: &str, namespace: &str) {
        if let Some(e) = self.take_cluster_app(name, namespace) {
            self.remove_app(name.to_string(), e);
        }
    }

    /// An Application resource with the cascade finalizer is being
    /// deleted: delete its objects, then return.
    pub(super) async fn remove_cluster_app_and_wait(&self, name: &str, namespace: &str) {
        if let Some(e) = self.take_cluster_app(name, namespace) {
            self.inner.queue.forget(name);
            self.inner.cache.forget(name);
            let _ = self.inner.store.remove(name);
            self.publish(name, None);
            super::reconcile::cascade_delete(self, name, e).await;
        }
    }

    /// Note the ApplySet id an app's objects carry, before its first
    /// operation, so a change to them is seen from the start.
    fn register_applyset(&self, name: &str, app: &Result<Arc<Application>, String>) {
        if let Ok(a) = app {
            let ns = a
                .spec
                .destination
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into());
            let id = crate::target::applyset::Parent::for_app(name, &ns).id;
            if let Ok(mut sets) = self.inner.applysets.lock() {
                sets.insert(id, name.to_string());
            }
        }
    }

    /// Apply a scan's changes to the app table and queue what changed.
    fn apply_changes(&self, changes: Vec<Change>) {
        let mut queue = Vec::new();
        let mut removed = Vec::new();
        {
            let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            for c in changes {
                match c {
                    Change::Upsert(path, f) => {
                        let app = match f.entry {
                            Entry::App(a) => Ok(Arc::new(*a)),
                            Entry::Invalid(m) => Err(m),
                        };
                        // A file that now names another app: the old app goes.
                        let old_name = apps
                            .iter()
                            .find(|(n, e)| e.file.as_ref() == Some(&path) && **n != f.name)
                            .map(|(n, _)| n.clone());
                        if let Some(old) = old_name
                            && let Some(e) = apps.remove(&old)
                        {
                            removed.push((old, e));
                        }
                        match apps.get_mut(&f.name) {
                            Some(e) => {
                                e.file = Some(path);
                                e.app = app;
                                e.auto_sync_off = false;
                                e.status.auto_sync_off_for = None;
                            }
                            None => {
                                self.register_applyset(&f.name, &app);
                                let mut e = AppEntry::new(Some(path), app);
                                if let Ok(Some(s)) = self.inner.store.status::<AppStatus>(&f.name) {
                                    e.restore(s);
                                }
                                apps.insert(f.name.clone(), e);
                            }
                        }
                        queue.push(f.name);
                    }
                    Change::Removed(path, f) => {
                        if apps
                            .get(&f.name)
                            .is_some_and(|e| e.file.as_ref() == Some(&path))
                            && let Some(e) = apps.remove(&f.name)
                        {
                            removed.push((f.name, e));
                        }
                    }
                }
            }
        }
        for (name, e) in removed {
            self.remove_app(name, e);
        }
        for n in queue {
            self.inner.queue.push(&n, Request::new(Trigger::AppChanged));
        }
    }

    /// An app left: forget it; delete its objects only when its
    /// Application asked for cascading deletion.
    fn remove_app(&self, name: String, e: AppEntry) {
        self.inner.queue.forget(&name);
        self.inner.cache.forget(&name);
        if let Some((_, id)) = &e.applyset
            && let Ok(mut sets) = self.inner.applysets.lock()
        {
            sets.remove(id);
        }
        let _ = self.inner.store.remove(&name);
        self.publish(&name, None);
        let cascade = e
            .app
            .as_ref()
            .is_ok_and(|a| a.metadata.finalizers.iter().any(|f| f == CASCADE_FINALIZER));
        tracing::info!(app = %name, cascade, "app removed");
        if cascade {
            let s = self.clone();
            tokio::spawn(async move { super::reconcile::cascade_delete(&s, &name, e).await });
        }
    }

    async fn worker(&self) {
        while let Some((app, req)) = self.inner.queue.next().await {
            self.inner.busy.fetch_add(1, Ordering::SeqCst);
            let ticket = req.ticket;
            let started = Instant::now();
            super::reconcile::run(self, &app, req).await;
            crate::metrics::get()
                .reconcile
                .observe(started.elapsed().as_secs_f64());
            if ticket > 0 {
                let mut apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(e) = apps.get_mut(&app) {
                    e.served = e.served.max(ticket);
                }
            }
            self.inner
                .counters
                .operations
                .fetch_add(1, Ordering::Relaxed);
            self.inner.queue.done(&app);
            self.inner.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }

    async fn scan_loop(&self, mut registry: Registry) {
        let mut tick = tokio::time::interval(self.inner.config.apps_scan_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match registry.scan() {
                Ok(changes) if !changes.is_empty() => self.apply_changes(changes),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot scan the apps directory; apps unchanged")
                }
            }
        }
    }

    /// Poll each app's source at its interval: Flux's `spec.interval` for
    /// a Kustomization, `--refresh-interval` otherwise, each due time
    /// jittered by up to a tenth (a fleet of services does not poll in
    /// step). Apps due together share one `since`, so their common
    /// repositories are resolved once.
    async fn poll_loop(&self) {
        let global = self.inner.config.refresh_interval;
        let tick = (global / 10).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let target_every = self.inner.config.target_poll_interval;
        let tick =
            tick.min((target_every / 10).clamp(Duration::from_millis(50), Duration::from_secs(5)));
        let mut due_at: HashMap<String, Instant> = HashMap::new();
        let mut target_due_at: HashMap<String, Instant> = HashMap::new();
        loop {
            tokio::time::sleep(tick).await;
            let now = Instant::now();
            let (every, with_targets): (Vec<(String, Duration)>, Vec<String>) = {
                let apps = self.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
                (
                    apps.iter()
                        .map(|(n, e)| (n.clone(), poll_interval(e, global)))
                        .collect(),
                    apps.iter()
                        .filter(|(_, e)| has_targets(e))
                        .map(|(n, _)| n.clone())
                        .collect(),
                )
            };
            due_at.retain(|n, _| every.iter().any(|(m, _)| m == n));
            target_due_at.retain(|n, _| with_targets.contains(n));
            let next = |d: Duration| now + d + d.mul_f64(jitter_fraction() * 0.1);
            let mut due = Vec::new();
            for (name, interval) in every {
                let at = due_at.entry(name.clone()).or_insert_with(|| next(interval));
                if now >= *at {
                    *at = next(interval);
                    due.push(name);
                }
            }
            for n in due {
                let mut r = Request::new(Trigger::Poll);
                r.since = now;
                self.inner.queue.push(&n, r);
            }
            // Target plugins cannot be watched: read their objects back at
            // their own interval, as a drift check (the last render, no Git).
            for name in with_targets {
                let at = target_due_at
                    .entry(name.clone())
                    .or_insert_with(|| next(target_every));
                if now >= *at {
                    *at = next(target_every);
                    self.inner.queue.push(&name, Request::new(Trigger::Drift));
                }
            }
        }
    }

    async fn drift_loop(&self, mut rx: mpsc::UnboundedReceiver<Seen>) {
        while let Some(seen) = rx.recv().await {
            super::reconcile::on_seen(self, seen);
        }
    }
}

fn summary(name: &str, e: &AppEntry) -> AppInfo {
    AppInfo {
        name: name.to_string(),
        app: e.app.clone(),
        status: e.status.clone(),
        resources: Vec::new(),
        diff: Vec::new(),
        auto_sync_off: e.auto_sync_off,
        served: e.served,
    }
}

/// Whether `e`'s last render went (partly) to target plugins.
fn has_targets(e: &AppEntry) -> bool {
    e.last.as_ref().is_some_and(|(a, _)| !a.targets.is_empty())
}

/// How often `e`'s source is polled: Flux's `spec.interval`, or `global`.
fn poll_interval(e: &AppEntry, global: Duration) -> Duration {
    e.app
        .as_ref()
        .ok()
        .and_then(|a| a.flux.as_ref())
        .and_then(|f| f.interval)
        .filter(|d| !d.is_zero())
        .unwrap_or(global)
}

/// A number in [0, 1) that differs between calls.
fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(path: &str) -> Arc<Application> {
        let text = format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: web}}\nspec:\n  source: {{repoURL: https://git.example/r.git, path: {path}}}\n  syncPolicy: {{automated: {{}}}}\n"
        );
        Arc::new(crate::app::parse(&text, "web.yaml").expect("valid"))
    }

    #[test]
    fn switches_survive_a_restart_until_the_application_changes() {
        let stored = AppStatus {
            paused: true,
            paused_by_switch: true,
            auto_sync_off_for: Some(super::super::status::app_digest(&app("a"))),
            ..AppStatus::default()
        };
        let mut same = AppEntry::new(None, Ok(app("a")));
        same.restore(stored.clone());
        assert!(same.paused && same.is_paused());
        assert!(same.auto_sync_off, "the same Application: still off");

        let mut changed = AppEntry::new(None, Ok(app("b")));
        changed.restore(stored);
        assert!(changed.paused, "a pause holds whatever the file says");
        assert!(
            !changed.auto_sync_off,
            "a changed Application: automated sync is back"
        );
        assert_eq!(changed.status.auto_sync_off_for, None);

        // A pause by annotation is not a switch: not kept by restore.
        let mut fresh = AppEntry::new(None, Ok(app("a")));
        fresh.restore(AppStatus {
            paused: true,
            ..AppStatus::default()
        });
        assert!(!fresh.paused);
    }
}
