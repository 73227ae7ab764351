//! Argo CD cluster Secrets in the service's namespace (`--namespace`) as
//! destinations.
//!
//! The service lists the Secrets labelled
//! `argocd.argoproj.io/secret-type=cluster` in its namespace on the home
//! cluster (the kubeconfig's current context, or the cluster it runs in)
//! once before the first app is reconciled, then follows them with a watch.
//! An Application whose `destination.name` is a Secret's `name`, or whose
//! `destination.server` is a Secret's `server`, is synced there with the
//! Secret's credentials; everything else goes to the kubeconfig as before.
//! A changed Secret (rotated token) gets a new connection at the next
//! operation: the connection is keyed by the Secret's digest.
//!
//! A Secret that cannot be used is logged with its name and the reason,
//! and an app that names it is refused with that reason (nothing is sent).

use crate::target::cluster_secret::{self, SECRET_TYPE_LABEL, SecretCluster};
use crate::target::destination::{Cluster, DestinationError, Directory, Inline, same_server};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// One Secret: usable, or why not (with what could be read of it).
#[derive(Debug, Clone)]
enum Entry {
    Ok(SecretCluster),
    Broken {
        secret: String,
        name: Option<String>,
        server: Option<String>,
        message: String,
    },
}

/// The cluster Secrets of one namespace, kept up to date.
#[derive(Debug, Default)]
pub struct ClusterSecrets {
    by_secret: RwLock<BTreeMap<String, Entry>>,
}

fn selector() -> String {
    format!("{SECRET_TYPE_LABEL}=cluster")
}

fn key_of(v: &Value) -> String {
    let f = |k: &str| {
        v.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!("{}/{}", f("namespace"), f("name"))
}

/// The `name` and `server` of a Secret, decoded as far as they can be.
fn names(v: &Value) -> (Option<String>, Option<String>) {
    use base64::Engine as _;
    let get = |k: &str| {
        v.pointer(&format!("/data/{k}"))
            .and_then(Value::as_str)
            .and_then(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
            .map(|s| s.trim().to_string())
    };
    (get("name"), get("server"))
}

impl ClusterSecrets {
    /// Take in one Secret (added or changed).
    pub fn upsert(&self, v: &Value) {
        let key = key_of(v);
        let entry = match cluster_secret::parse(v) {
            Ok(c) => {
                tracing::info!(secret = %key, cluster = %c.name, server = %c.server, "cluster Secret loaded");
                Entry::Ok(c)
            }
            Err(e) => {
                tracing::warn!(secret = %key, error = %e, "cluster Secret cannot be used");
                let (name, server) = names(v);
                Entry::Broken {
                    secret: key.clone(),
                    name,
                    server,
                    message: e.to_string(),
                }
            }
        };
        if let Ok(mut m) = self.by_secret.write() {
            m.insert(key, entry);
        }
    }

    /// Forget one Secret (deleted).
    pub fn remove(&self, v: &Value) {
        if let Ok(mut m) = self.by_secret.write() {
            m.remove(&key_of(v));
        }
    }

    /// Replace everything with `items` (a fresh listing).
    fn replace(&self, items: &[Value]) {
        if let Ok(mut m) = self.by_secret.write() {
            m.clear();
        }
        for v in items {
            self.upsert(v);
        }
    }

    /// List the Secrets of `namespace` once; an error is returned to be
    /// logged (the service runs on without them).
    pub async fn load(&self, client: &kube::Client, namespace: &str) -> Result<usize, kube::Error> {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let list = api.list(&ListParams::default().labels(&selector())).await?;
        let items: Vec<Value> = list
            .items
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect();
        self.replace(&items);
        Ok(items.len())
    }

    /// Follow the Secrets of `namespace` until the process ends.
    pub async fn follow(self: std::sync::Arc<Self>, client: kube::Client, namespace: String) {
        let api: Api<Secret> = Api::namespaced(client, &namespace);
        let mut stream = watcher::watcher(api, watcher::Config::default().labels(&selector()))
            .default_backoff()
            .boxed();
        let mut fresh: Vec<Value> = Vec::new();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Init) => fresh.clear(),
                Ok(Event::InitApply(s)) => fresh.extend(serde_json::to_value(&s).ok()),
                Ok(Event::InitDone) => self.replace(&std::mem::take(&mut fresh)),
                Ok(Event::Apply(s)) => {
                    if let Ok(v) = serde_json::to_value(&s) {
                        self.upsert(&v);
                    }
                }
                Ok(Event::Delete(s)) => {
                    if let Ok(v) = serde_json::to_value(&s) {
                        self.remove(&v);
                    }
                }
                Err(e) => {
                    tracing::warn!(namespace = %namespace, error = %e, "cannot watch cluster Secrets; retrying");
                }
            }
        }
    }
}

impl Directory for ClusterSecrets {
    fn lookup(
        &self,
        name: Option<&str>,
        server: Option<&str>,
    ) -> Option<Result<Cluster, DestinationError>> {
        let m = self.by_secret.read().ok()?;
        let name = name.map(str::trim).filter(|s| !s.is_empty());
        let server = server.map(str::trim).filter(|s| !s.is_empty());
        let destination = name
            .map(|n| format!("name {n:?}"))
            .or_else(|| server.map(|s| format!("server {s}")))?;
        let hit = m.values().find(|e| {
            let (n, s) = match e {
                Entry::Ok(c) => (Some(c.name.as_str()), Some(c.server.as_str())),
                Entry::Broken { name, server, .. } => (name.as_deref(), server.as_deref()),
            };
            match name {
                Some(want) => n == Some(want),
                None => s.zip(server).is_some_and(|(a, b)| same_server(a, b)),
            }
        })?;
        Some(match hit {
            Entry::Broken {
                secret, message, ..
            } => Err(DestinationError::Secret {
                destination,
                secret: secret.clone(),
                message: message.clone(),
            }),
            Entry::Ok(c) => match server {
                Some(s) if name.is_some() && !same_server(s, &c.server) => {
                    Err(DestinationError::SecretServerMismatch {
                        name: c.name.clone(),
                        secret: c.secret.clone(),
                        secret_server: c.server.clone(),
                        server: s.to_string(),
                    })
                }
                _ => {
                    let label = format!("argocd-cluster:{}@{}", c.secret, c.digest);
                    Ok(Cluster {
                        kubeconfig: None,
                        context: Some(label.clone()),
                        server: Some(c.server.clone()),
                        inline: Some(Inline {
                            label,
                            kubeconfig: c.kubeconfig.clone(),
                        }),
                    })
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn secret(name: &str, data: &[(&str, &str)]) -> Value {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(b(v))))
            .collect();
        json!({"metadata": {"name": name, "namespace": "argocd"}, "data": data})
    }

    #[test]
    fn lookup_by_name_or_server() {
        let d = ClusterSecrets::default();
        d.upsert(&secret(
            "s1",
            &[("name", "prod"), ("server", "https://prod:6443")],
        ));
        let c = d
            .lookup(Some("prod"), None)
            .expect("present")
            .expect("present");
        assert_eq!(c.server.as_deref(), Some("https://prod:6443"));
        assert!(
            c.inline
                .expect("present")
                .label
                .starts_with("argocd-cluster:argocd/s1@")
        );
        assert!(
            d.lookup(None, Some("https://PROD:6443/"))
                .expect("present")
                .is_ok()
        );
        assert!(d.lookup(Some("staging"), None).is_none());
        assert!(d.lookup(None, Some("https://other")).is_none());
        assert!(d.lookup(None, None).is_none());
        let e = d
            .lookup(Some("prod"), Some("https://other"))
            .expect("present")
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("destination.name \"prod\" is cluster Secret argocd/s1 with server https://prod:6443, but destination.server is https://other"),
            "{e}"
        );
        d.remove(&secret("s1", &[]));
        assert!(d.lookup(Some("prod"), None).is_none());
    }

    #[test]
    fn a_broken_secret_refuses_its_apps_with_the_reason() {
        let d = ClusterSecrets::default();
        d.upsert(&secret(
            "s2",
            &[
                ("name", "dev"),
                ("server", "https://dev"),
                ("config", r#"{"awsAuthConfig": {}}"#),
            ],
        ));
        let e = d
            .lookup(Some("dev"), None)
            .expect("present")
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("destination name \"dev\" is cluster Secret argocd/s2, which cannot be used: cluster Secret argocd/s2: config.awsAuthConfig is not supported"),
            "{e}"
        );
    }
}
