//! The Kubernetes target: server-side apply through kube-rs.
//!
//! One [`kube::Client`] (one connection pool) per target; API discovery
//! (aggregated discovery, two requests) cached for the target's life and
//! refreshed after CustomResourceDefinitions are established.
//!
//! Watching ([`Target::watch`]) runs one list-then-watch per resource and
//! namespace, driven by the explicit [`State`] machine: it relists on
//! `410 Gone`, resumes from the last resourceVersion when the server closes
//! the watch, and retries after a transport error. Each watch is narrowed
//! as far as the API allows: by a field selector on the name when it
//! follows one object (a hook Job, a CRD), and by a label selector on the
//! ApplySet (`applyset.kubernetes.io/part-of`) or hook
//! (`sluice.dev/hook-of`) label when every object it follows carries the
//! same one. Waiting for a CRD to be Established is such a watch too, not
//! a polling loop. (Discovery has no watch: after a CRD is Established the
//! sync engine refreshes discovery until the new kinds appear.)
//!
//! Deletes use background propagation and, when the caller passes a UID,
//! a UID precondition: the server refuses (409) to delete an object that
//! was replaced since it was read, and we report [`Deleted::Replaced`].

use super::applyset::{GroupKind, HOOK_OF_LABEL, ID_LABEL, PART_OF_LABEL, label};
use super::{
    ApplyOptions, Deleted, FIELD_MANAGER, LiveUpdate, ObjectError, Propagation, Scope, Target,
    TargetError, WatchError,
};
use crate::object::{Object, ObjectId};
use futures::stream::{self, BoxStream, StreamExt as _};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope as KubeScope, pinned_kind};
use kube::{Client, Config};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;

/// A Kubernetes API server.
pub struct KubeTarget {
    client: Client,
    server: String,
    discovery: RwLock<Option<Discovery>>,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

fn config_error(context: Option<&str>, e: impl std::fmt::Display) -> TargetError {
    TargetError::Config {
        context: context.map(str::to_string),
        message: e.to_string(),
    }
}

fn object_error(e: kube::Error) -> ObjectError {
    match e {
        kube::Error::Api(status) => ObjectError::Rejected {
            code: status.code,
            message: status.message.clone(),
        },
        other => ObjectError::Transport(other.to_string()),
    }
}

impl KubeTarget {
    /// Connect using `kubeconfig` (or `KUBECONFIG` / `~/.kube/config` /
    /// in-cluster configuration when `None`) and `context` (the current
    /// context when `None`).
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<KubeTarget, TargetError> {
        // Several rustls providers are linked (kube's ring, gix's); pick
        // ring for the process once. An error only means one is set already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let opts = KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = match (kubeconfig, context) {
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| config_error(context, format!("{}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kc, &opts)
                    .await
                    .map_err(|e| config_error(context, e))?
            }
            (None, Some(_)) => Config::from_kubeconfig(&opts)
                .await
                .map_err(|e| config_error(context, e))?,
            (None, None) => Config::infer()
                .await
                .map_err(|e| config_error(context, e))?,
        };
        Self::from_config(config, context)
    }

    /// Connect with a client configuration held in memory (an Argo CD
    /// cluster Secret's, see [`super::cluster_secret`]); `label` names it
    /// in errors.
    pub async fn connect_inline(
        kubeconfig: Kubeconfig,
        label: &str,
    ) -> Result<KubeTarget, TargetError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| config_error(Some(label), e))?;
        Self::from_config(config, Some(label))
    }

    fn from_config(mut config: Config, context: Option<&str>) -> Result<KubeTarget, TargetError> {
        config.read_timeout = Some(Duration::from_secs(60));
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| config_error(context, e))?;
        Ok(KubeTarget {
            client,
            server,
            discovery: RwLock::new(None),
        })
    }

    /// The client, for callers that need more than the trait.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The API resource serving `kind` in `api_version` and its scope, from
    /// the discovery cached by the last [`Target::discover`]; `None` when
    /// the server does not serve it (or before the first discovery).
    pub fn api_resource(&self, api_version: &str, kind: &str) -> Option<(ApiResource, Scope)> {
        self.resolve(api_version, kind).map(|(ar, caps)| {
            let scope = match caps.scope {
                KubeScope::Namespaced => Scope::Namespaced,
                KubeScope::Cluster => Scope::Cluster,
            };
            (ar, scope)
        })
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Option<(ApiResource, ApiCapabilities)> {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let guard = self.discovery.read().ok()?;
        guard.as_ref()?.resolve_gvk(&gvk)
    }

    fn recommended(&self, gk: &GroupKind) -> Option<(ApiResource, ApiCapabilities)> {
        let guard = self.discovery.read().ok()?;
        guard.as_ref()?.get(&gk.group)?.recommended_kind(&gk.kind)
    }

    fn api(&self, obj: &Object) -> Result<Option<Api<DynamicObject>>, ObjectError> {
        let Some((ar, caps)) = self.resolve(&obj.api_version, &obj.id.kind) else {
            return Ok(None);
        };
        Ok(Some(match caps.scope {
            KubeScope::Namespaced => {
                let ns = obj.id.namespace.as_deref().ok_or_else(|| ObjectError::Rejected {
                    code: 400,
                    message: "namespaced object has no namespace; set metadata.namespace or the destination namespace".into(),
                })?;
                Api::namespaced_with(self.client.clone(), ns, &ar)
            }
            KubeScope::Cluster => Api::all_with(self.client.clone(), &ar),
        }))
    }

    fn unknown_kind(obj: &Object) -> ObjectError {
        ObjectError::Rejected {
            code: 404,
            message: format!(
                "the server does not serve kind {} in {}; install its CustomResourceDefinition or fix apiVersion",
                obj.id.kind, obj.api_version
            ),
        }
    }
}

fn to_value(o: DynamicObject) -> Result<Value, ObjectError> {
    serde_json::to_value(o)
        .map_err(|e| ObjectError::Transport(format!("cannot encode the server's answer: {e}")))
}

impl Target for KubeTarget {
    fn describe(&self) -> String {
        format!("cluster {}", self.server)
    }

    async fn discover(&self) -> Result<(), TargetError> {
        let d = Discovery::new(self.client.clone())
            .run_aggregated()
            .await
            .map_err(|e| TargetError::Discovery {
                server: self.server.clone(),
                message: e.to_string(),
            })?;
        if let Ok(mut g) = self.discovery.write() {
            *g = Some(d);
        }
        Ok(())
    }

    fn scope(&self, api_version: &str, kind: &str) -> Option<Scope> {
        self.resolve(api_version, kind)
            .map(|(_, caps)| match caps.scope {
                KubeScope::Namespaced => Scope::Namespaced,
                KubeScope::Cluster => Scope::Cluster,
            })
    }

    async fn get(&self, obj: &Object) -> Result<Option<Value>, ObjectError> {
        let Some(api) = self.api(obj)? else {
            return Ok(None);
        };
        match api.get_opt(&obj.id.name).await.map_err(object_error)? {
            Some(o) => Ok(Some(to_value(o)?)),
            None => Ok(None),
        }
    }

    async fn list_members(
        &self,
        id: &str,
        kinds: &BTreeSet<GroupKind>,
        namespaces: &BTreeSet<String>,
    ) -> Result<Vec<Value>, TargetError> {
        let lp = ListParams::default().labels(&format!("{PART_OF_LABEL}={id}"));
        let mut out = Vec::new();
        for gk in kinds {
            // A kind the server no longer serves has no live members.
            let Some((ar, caps)) = self.recommended(gk) else {
                continue;
            };
            let apis: Vec<Api<DynamicObject>> = match caps.scope {
                KubeScope::Cluster => vec![Api::all_with(self.client.clone(), &ar)],
                KubeScope::Namespaced => namespaces
                    .iter()
                    .map(|ns| Api::namespaced_with(self.client.clone(), ns, &ar))
                    .collect(),
            };
            for api in apis {
                let list = api.list(&lp).await.map_err(|e| TargetError::List {
                    target: self.describe(),
                    id: id.to_string(),
                    kind: gk.to_string(),
                    message: e.to_string(),
                })?;
                for mut item in list.items {
                    // Lists leave apiVersion/kind off the items.
                    item.types = Some(kube::api::TypeMeta {
                        api_version: ar.api_version.clone(),
                        kind: ar.kind.clone(),
                    });
                    if let Ok(v) = serde_json::to_value(item) {
                        out.push(v);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn find_parent(&self, id: &str) -> Result<Option<Value>, TargetError> {
        let ar = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Secret".into(),
            plural: "secrets".into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let lp = ListParams::default()
            .labels(&format!("{ID_LABEL}={id}"))
            .limit(1);
        // Metadata only: another app's Secret data is none of our business.
        let list = api
            .list_metadata(&lp)
            .await
            .map_err(|e| TargetError::List {
                target: self.describe(),
                id: id.to_string(),
                kind: "Secret".into(),
                message: e.to_string(),
            })?;
        Ok(list.items.into_iter().next().and_then(|o| {
            let metadata = serde_json::to_value(o.metadata).ok()?;
            Some(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata}))
        }))
    }

    async fn apply(&self, obj: &Object, opts: ApplyOptions) -> Result<Value, ObjectError> {
        let api = self.api(obj)?.ok_or_else(|| Self::unknown_kind(obj))?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        if opts.force {
            pp = pp.force();
        }
        if opts.dry_run {
            pp = pp.dry_run();
        }
        to_value(
            api.patch(&obj.id.name, &pp, &Patch::Apply(&obj.value))
                .await
                .map_err(object_error)?,
        )
    }

    async fn release(&self, obj: &Object, applyset_id: &str) -> Result<bool, ObjectError> {
        let Some(api) = self.api(obj)? else {
            return Ok(false);
        };
        let live = match api.get(&obj.id.name).await {
            Ok(o) => o,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
            Err(e) => return Err(object_error(e)),
        };
        if live
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(PART_OF_LABEL))
            != Some(&applyset_id.to_string())
        {
            return Ok(false);
        }
        // The resourceVersion makes the removal conditional: a member
        // changed (or taken over) since it was read is not touched; the
        // conflict is reported and the next sync looks again.
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": live.metadata.resource_version,
            "labels": {PART_OF_LABEL: null},
        }});
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        match api.patch(&obj.id.name, &pp, &Patch::Merge(&patch)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn delete(&self, obj: &Object, uid: Option<&str>) -> Result<Deleted, ObjectError> {
        self.delete_propagating(obj, uid, Propagation::Background)
            .await
    }

    async fn delete_propagating(
        &self,
        obj: &Object,
        uid: Option<&str>,
        policy: Propagation,
    ) -> Result<Deleted, ObjectError> {
        let Some(api) = self.api(obj)? else {
            return Ok(Deleted::NotFound);
        };
        let mut dp = match policy {
            Propagation::Background => DeleteParams::background(),
            Propagation::Foreground => DeleteParams::foreground(),
            Propagation::Orphan => DeleteParams::orphan(),
        };
        if let Some(uid) = uid {
            dp.preconditions = Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            });
        }
        match api.delete(&obj.id.name, &dp).await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Deleted::NotFound),
            // With a UID precondition, a conflict means the UID differs.
            Err(kube::Error::Api(s)) if s.code == 409 && uid.is_some() => Ok(Deleted::Replaced),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ObjectError> {
        let ar = ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        };
        let id = ObjectId {
            group: ar.group.clone(),
            kind: ar.kind.clone(),
            namespace: None,
            name: name.to_string(),
        };
        let group = Group {
            resource: ar,
            namespace: None,
            names: BTreeMap::from([(name.to_string(), id)]),
            labels: None,
        };
        let mut updates = group.into_stream(self.client.clone());
        let established = |crd: &Value| {
            crd.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                })
        };
        let wait = async {
            while let Some(update) = updates.next().await {
                match update {
                    Ok((_, Some(crd))) if established(&crd) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(ObjectError::Transport(e.to_string())),
                }
            }
            Err(ObjectError::Transport("the watch ended".into()))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(ObjectError::Rejected {
                code: 504,
                message: format!(
                    "not Established after {}s; check the CRD's status conditions",
                    timeout.as_secs()
                ),
            }),
        }
    }

    fn can_watch(&self) -> bool {
        true
    }

    async fn watch(
        &self,
        objects: &[Object],
    ) -> Result<BoxStream<'static, LiveUpdate>, WatchError> {
        let mut resources: HashMap<(String, String), (ApiResource, KubeScope)> = HashMap::new();
        let mut groups: BTreeMap<(String, String, Option<String>), Group> = BTreeMap::new();
        let mut selectors: HashMap<(String, String, Option<String>), Option<String>> =
            HashMap::new();
        for o in objects {
            let key = (o.api_version.clone(), o.id.kind.clone());
            if !resources.contains_key(&key) {
                let found = match self.resolve(&o.api_version, &o.id.kind) {
                    Some((ar, caps)) => (ar, caps.scope),
                    // Not in the cached discovery (a kind defined since):
                    // ask the server for this one kind.
                    None => {
                        let (group, version) = o
                            .api_version
                            .rsplit_once('/')
                            .unwrap_or(("", &o.api_version));
                        let gvk = kube::api::GroupVersionKind::gvk(group, version, &o.id.kind);
                        let (ar, caps) = pinned_kind(&self.client, &gvk).await.map_err(|e| {
                            WatchError::Object {
                                id: Box::new(o.id.clone()),
                                message: format!(
                                    "the server does not serve {} {}: {e}",
                                    o.api_version, o.id.kind
                                ),
                            }
                        })?;
                        (ar, caps.scope)
                    }
                };
                resources.insert(key.clone(), found);
            }
            let (ar, scope) = &resources[&key];
            let namespace = match scope {
                KubeScope::Namespaced => o.id.namespace.clone(),
                KubeScope::Cluster => None,
            };
            let gkey = (key.0, key.1, namespace.clone());
            // The label selector this group can use: the same ApplySet or
            // hook label on every object of it.
            let mine = common_selector(&o.value);
            selectors
                .entry(gkey.clone())
                .and_modify(|s| {
                    if *s != mine {
                        *s = None;
                    }
                })
                .or_insert(mine);
            groups
                .entry(gkey)
                .or_insert_with(|| Group {
                    resource: ar.clone(),
                    namespace,
                    names: BTreeMap::new(),
                    labels: None,
                })
                .names
                .insert(o.id.name.clone(), o.id.clone());
        }
        let client = self.client.clone();
        Ok(
            stream::select_all(groups.into_iter().map(move |(key, mut g)| {
                g.labels = selectors.get(&key).cloned().flatten();
                g.into_stream(client.clone())
            }))
            .boxed(),
        )
    }
}

/// The label selector an object can be watched by: its ApplySet
/// membership, else its hook label.
fn common_selector(value: &Value) -> Option<String> {
    [PART_OF_LABEL, HOOK_OF_LABEL]
        .iter()
        .find_map(|k| label(value, k).map(|v| format!("{k}={v}")))
}

/// The objects of one watch: one resource in one namespace.
struct Group {
    resource: ApiResource,
    namespace: Option<String>,
    /// Names watched, with their identities.
    names: BTreeMap<String, ObjectId>,
    /// A label selector every watched object matches, when there is one.
    labels: Option<String>,
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

    /// A field selector when one name is watched (a hook Job, a CRD), so
    /// the watch sees only that object.
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
    async fn step(&self, client: &Client, state: State) -> (Vec<LiveUpdate>, State) {
        match state {
            State::Listing => {
                let mut lp = ListParams::default();
                if let Some(f) = self.fields() {
                    lp = lp.fields(&f);
                }
                if let Some(l) = &self.labels {
                    lp = lp.labels(l);
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
                if let Some(l) = &self.labels {
                    wp = wp.labels(l);
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

    /// Transport errors are retried; a refusal (401, 403, 404) is reported.
    fn transient(&self, e: &kube::Error) -> Vec<LiveUpdate> {
        match e {
            kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404) => self
                .names
                .values()
                .map(|id| {
                    Err(WatchError::Object {
                        id: Box::new(id.clone()),
                        message: s.message.clone(),
                    })
                })
                .take(1)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn into_stream(self, client: Client) -> BoxStream<'static, LiveUpdate> {
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
