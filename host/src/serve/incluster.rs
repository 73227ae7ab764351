//! Applications as custom resources in the cluster (`--in-cluster-apps`).
//!
//! The service watches `applications` of both groups, `sluice.dev` and
//! Argo CD's `argoproj.io` (`v1alpha1`), in the namespaces given (every
//! namespace when none is), on the kubeconfig's current context. Each
//! resource is read as an Application file would be (the same model, so
//! an unknown field is an error that names it); its status is written
//! back to `.status` of `sluice.dev` Applications (the CRD of
//! `sluice crd`). Argo CD's CRD has a status schema of its own, so an
//! `argoproj.io` Application keeps its status in the service only.
//!
//! Deleting a resource removes its app. With Argo CD's
//! `resources-finalizer.argocd.argoproj.io` finalizer the API server keeps
//! the resource (a `deletionTimestamp` set) until the finalizer is gone:
//! the service deletes the app's objects, then removes the finalizer.
//! A group whose CRD is not installed is retried with backoff and logged.

use super::registry::CASCADE_FINALIZER;
use super::service::Service;
use super::status::AppStatus;
use crate::app::Application;
use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};

/// The two groups of `kind: Application`.
pub const GROUPS: &[&str] = &["sluice.dev", "argoproj.io"];

fn resource(group: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, "v1alpha1", "Application"),
        "applications",
    )
}

/// What the service keeps of a resource: the Application, or why it is
/// not one.
pub fn to_application(v: &Value) -> Result<Application, String> {
    let meta = v.get("metadata").cloned().unwrap_or(Value::Null);
    let mut m = serde_json::Map::new();
    for k in ["name", "namespace", "labels", "annotations", "finalizers"] {
        if let Some(x) = meta.get(k) {
            m.insert(k.to_string(), x.clone());
        }
    }
    let doc = json!({
        "apiVersion": v.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": v.get("kind").cloned().unwrap_or(Value::Null),
        "metadata": m,
        "spec": v.get("spec").cloned().unwrap_or(Value::Null),
    });
    let label = format!(
        "Application {}/{}",
        meta.get("namespace").and_then(Value::as_str).unwrap_or(""),
        meta.get("name").and_then(Value::as_str).unwrap_or("")
    );
    let text = serde_json::to_string(&doc).map_err(|e| format!("{label}: {e}"))?;
    crate::app::parse(&text, &label).map_err(|e| crate::error_chain(&e))
}

/// Watch both groups in `namespaces` (all when empty) until the process
/// ends.
pub fn spawn(svc: &Service, client: kube::Client, namespaces: Vec<String>) {
    for group in GROUPS {
        let scopes: Vec<Option<String>> = if namespaces.is_empty() {
            vec![None]
        } else {
            namespaces.iter().cloned().map(Some).collect()
        };
        for ns in scopes {
            let svc = svc.clone();
            let client = client.clone();
            let group = group.to_string();
            tokio::spawn(async move { watch(svc, client, group, ns).await });
        }
    }
}

async fn watch(svc: Service, client: kube::Client, group: String, ns: Option<String>) {
    let ar = resource(&group);
    let api: Api<DynamicObject> = match &ns {
        Some(n) => Api::namespaced_with(client.clone(), n, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut warned = false;
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                if !warned {
                    tracing::warn!(group = %group, error = %e, "cannot watch Applications (is the CRD installed? `sluice crd | kubectl apply -f -`); retrying");
                    warned = true;
                }
                continue;
            }
        };
        warned = false;
        match ev {
            Event::Apply(o) | Event::InitApply(o) => {
                let Ok(v) = serde_json::to_value(&o) else {
                    continue;
                };
                on_apply(&svc, &client, &group, &v).await;
            }
            Event::Delete(o) => {
                if let Some(name) = o.metadata.name.as_deref() {
                    svc.remove_cluster_app(name, o.metadata.namespace.as_deref().unwrap_or(""));
                }
            }
            Event::Init | Event::InitDone => {}
        }
    }
}

async fn on_apply(svc: &Service, client: &kube::Client, group: &str, v: &Value) {
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let deleting = v.pointer("/metadata/deletionTimestamp").is_some();
    let finalizers: Vec<String> = v
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if deleting {
        if finalizers.iter().any(|f| f == CASCADE_FINALIZER) {
            svc.remove_cluster_app_and_wait(&name, &ns).await;
            let rest: Vec<&String> = finalizers
                .iter()
                .filter(|f| *f != CASCADE_FINALIZER)
                .collect();
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &ns, &resource(group));
            let patch = json!({"metadata": {"finalizers": rest}});
            if let Err(e) = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::error!(app = %name, error = %e, "cannot remove the finalizer after deleting the app's objects");
            }
        }
        return;
    }
    svc.upsert_cluster_app(&name, &ns, group, to_application(v));
}

/// Write `status` to `.status` of the `sluice.dev` Application `name` in
/// `ns` (best effort: a failure is logged, the service's own copy stays).
pub async fn write_status(client: kube::Client, ns: String, name: String, status: AppStatus) {
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &resource("sluice.dev"));
    let patch = json!({"status": status});
    if let Err(e) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(app = %name, namespace = %ns, error = %e, "cannot write the Application's status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_reads_as_its_file_would() {
        let v = json!({"apiVersion": "sluice.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "apps", "uid": "u", "resourceVersion": "7",
                "generation": 2, "managedFields": [], "finalizers": [CASCADE_FINALIZER]},
            "spec": {"source": {"repoURL": "https://git.example/r.git", "path": "web"}},
            "status": {"sync": "Synced"}});
        let a = to_application(&v).expect("parses");
        assert_eq!(a.metadata.name, "web");
        assert_eq!(a.metadata.finalizers, [CASCADE_FINALIZER]);
        let mut bad = v.clone();
        bad["spec"]["source"]["bogus"] = json!("x");
        let e = to_application(&bad).expect_err("unknown field");
        assert!(
            e.contains("Application apps/web") && e.contains("unknown field `bogus`"),
            "{e}"
        );
    }
}
