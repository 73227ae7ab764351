//! The Kubernetes target: server-side apply through kube-rs.
//!
//! One [`kube::Client`] (one connection pool) per target; API discovery
//! (aggregated discovery, two requests) cached for the target's life and
//! refreshed after CustomResourceDefinitions are established.

use super::applyset::{GroupKind, PART_OF_LABEL};
use super::{ApplyOptions, FIELD_MANAGER, ObjectError, Scope, Target, TargetError};
use crate::object::Object;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope as KubeScope};
use kube::{Client, Config};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::RwLock;
use std::time::{Duration, Instant};

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
        let mut config = match (kubeconfig, context) {
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
    ) -> Result<Vec<Value>, TargetError> {
        let lp = ListParams::default().labels(&format!("{PART_OF_LABEL}={id}"));
        let mut out = Vec::new();
        for gk in kinds {
            // A kind the server no longer serves has no live members.
            let Some((ar, _)) = self.recommended(gk) else {
                continue;
            };
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
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
        Ok(out)
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

    async fn delete(&self, obj: &Object) -> Result<(), ObjectError> {
        let Some(api) = self.api(obj)? else {
            return Ok(());
        };
        match api.delete(&obj.id.name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
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
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let start = Instant::now();
        loop {
            if let Some(crd) = api.get_opt(name).await.map_err(object_error)? {
                let established = crd
                    .data
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    });
                if established {
                    return Ok(());
                }
            }
            if start.elapsed() > timeout {
                return Err(ObjectError::Rejected {
                    code: 504,
                    message: format!(
                        "not Established after {}s; check the CRD's status conditions",
                        timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
