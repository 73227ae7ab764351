//! Argo CD cluster Secrets: clusters declared as Secrets labelled
//! `argocd.argoproj.io/secret-type: cluster`, as Argo CD users already
//! have them.
//!
//! A Secret's `data` holds `name` (what `destination.name` refers to),
//! `server` (what `destination.server` refers to) and `config`, a JSON
//! document in Argo CD's `ClusterConfig` shape:
//!
//! ```json
//! {"bearerToken": "…", "username": "…", "password": "…",
//!  "tlsClientConfig": {"insecure": false, "serverName": "…",
//!                      "caData": "<base64 PEM>", "certData": "…", "keyData": "…"},
//!  "proxyUrl": "…"}
//! ```
//!
//! [`parse`] turns one into a kubeconfig held in memory (one cluster, one
//! user, one context), so kube-rs makes the connection exactly as it does
//! for a kubeconfig file; nothing is written to disk. `execProviderConfig`
//! and `awsAuthConfig` (credentials from a command or from AWS) are
//! refused by name rather than ignored: a Secret using them would connect
//! without its credentials. A Secret's `namespaces` / `clusterResources`
//! (Argo CD's namespace-scoped clusters) are not honoured yet and are
//! refused the same way, so no app is synced with more reach than the
//! Secret meant to give.

use base64::Engine as _;
use kube::config::Kubeconfig;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// The label that marks a Secret as a cluster (Argo CD's).
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// A cluster read from a Secret.
#[derive(Clone)]
pub struct SecretCluster {
    /// `namespace/name` of the Secret, for messages.
    pub secret: String,
    /// The cluster's name (`data.name`; the Secret's name when unset).
    pub name: String,
    /// The API server URL (`data.server`).
    pub server: String,
    /// The client configuration, as a kubeconfig.
    pub kubeconfig: Arc<Kubeconfig>,
    /// A digest of the Secret's data: a changed Secret gets a new
    /// connection.
    pub digest: String,
}

impl std::fmt::Debug for SecretCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the kubeconfig: it holds the credentials.
        f.debug_struct("SecretCluster")
            .field("secret", &self.secret)
            .field("name", &self.name)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Why a cluster Secret cannot be used. Messages name the Secret and never
/// include its values.
#[derive(Debug, thiserror::Error)]
pub enum ClusterSecretError {
    /// A field is missing or not valid.
    #[error(
        "cluster Secret {secret}: {message}; fix the Secret (Argo CD's declarative cluster format)"
    )]
    Invalid {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        message: String,
    },
    /// The Secret asks for something sluice does not do yet.
    #[error(
        "cluster Secret {secret}: {what} is not supported by sluice yet; give the cluster a bearerToken or client certificate instead"
    )]
    Unsupported {
        /// `namespace/name`.
        secret: String,
        /// The field.
        what: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ClusterConfig {
    username: Option<String>,
    password: Option<String>,
    bearer_token: Option<String>,
    #[serde(default)]
    tls_client_config: TlsClientConfig,
    proxy_url: Option<String>,
    exec_provider_config: Option<Value>,
    aws_auth_config: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    #[serde(default)]
    insecure: bool,
    server_name: Option<String>,
    ca_data: Option<String>,
    cert_data: Option<String>,
    key_data: Option<String>,
}

/// Read a cluster Secret (as the API returns it: `data` base64-encoded).
pub fn parse(secret: &Value) -> Result<SecretCluster, ClusterSecretError> {
    let meta = secret.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let label = format!("{}/{}", field("namespace"), field("name"));
    let invalid = |message: String| ClusterSecretError::Invalid {
        secret: label.clone(),
        message,
    };
    let data = |key: &str| -> Result<Option<String>, ClusterSecretError> {
        let Some(v) = secret
            .pointer(&format!("/data/{key}"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|e| invalid(format!("data.{key} is not base64: {e}")))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| invalid(format!("data.{key} is not UTF-8 text")))
    };
    let server = data("server")?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("it has no data.server".into()))?;
    let name = data("name")?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| field("name").to_string());
    for what in ["namespaces", "clusterResources"] {
        if data(what)?.is_some_and(|v| !v.trim().is_empty() && v.trim() != "false") {
            return Err(ClusterSecretError::Unsupported {
                secret: label.clone(),
                what: format!("data.{what} (a namespace-scoped cluster)"),
            });
        }
    }
    let config_text = data("config")?.unwrap_or_else(|| "{}".into());
    let config: ClusterConfig = serde_json::from_str(&config_text).map_err(|e| {
        invalid(format!(
            "data.config is not Argo CD's cluster config JSON: {e}"
        ))
    })?;
    for (what, set) in [
        (
            "config.execProviderConfig",
            config.exec_provider_config.is_some(),
        ),
        ("config.awsAuthConfig", config.aws_auth_config.is_some()),
    ] {
        if set {
            return Err(ClusterSecretError::Unsupported {
                secret: label.clone(),
                what: what.into(),
            });
        }
    }
    let tls = &config.tls_client_config;
    let mut cluster = json!({"server": server, "insecure-skip-tls-verify": tls.insecure});
    let mut user = json!({});
    for (in_user, key, value) in [
        (false, "certificate-authority-data", &tls.ca_data),
        (false, "tls-server-name", &tls.server_name),
        (false, "proxy-url", &config.proxy_url),
        (true, "client-certificate-data", &tls.cert_data),
        (true, "client-key-data", &tls.key_data),
        (true, "token", &config.bearer_token),
        (true, "username", &config.username),
        (true, "password", &config.password),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            let obj = if in_user { &mut user } else { &mut cluster };
            obj[key] = Value::String(v.to_string());
        }
    }
    let kc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "cluster", "context": {"cluster": "cluster", "user": "user"}}],
        "current-context": "cluster",
    });
    let kubeconfig: Kubeconfig = serde_json::from_value(kc)
        .map_err(|e| invalid(format!("cannot make a client configuration of it: {e}")))?;
    let mut h = Sha256::new();
    h.update(secret.get("data").map(Value::to_string).unwrap_or_default());
    let digest = hex::encode(&h.finalize()[..6]);
    Ok(SecretCluster {
        secret: label,
        name,
        server,
        kubeconfig: Arc::new(kubeconfig),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "prod-secret", "namespace": "argocd",
                "labels": {SECRET_TYPE_LABEL: "cluster"}},
            "data": data})
    }

    #[test]
    fn token_and_tls_become_a_kubeconfig() {
        let config = r#"{"bearerToken": "tok", "tlsClientConfig": {"insecure": false, "caData": "Q0E=", "serverName": "api.internal"}}"#;
        let c = parse(&secret(json!({
            "name": b64("prod"), "server": b64("https://prod.example:6443"), "config": b64(config)
        })))
        .expect("present");
        assert_eq!(
            (c.name.as_str(), c.server.as_str(), c.secret.as_str()),
            ("prod", "https://prod.example:6443", "argocd/prod-secret")
        );
        let cl = c.kubeconfig.clusters[0].cluster.as_ref().expect("present");
        assert_eq!(cl.server.as_deref(), Some("https://prod.example:6443"));
        assert_eq!(cl.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(cl.tls_server_name.as_deref(), Some("api.internal"));
        let user = c.kubeconfig.auth_infos[0]
            .auth_info
            .as_ref()
            .expect("present");
        assert!(user.token.is_some());
        // Debug output never shows the credentials.
        assert!(!format!("{c:?}").contains("tok"));
    }

    #[test]
    fn the_secret_name_stands_in_for_a_missing_cluster_name() {
        let c = parse(&secret(json!({"server": b64("https://x")}))).expect("present");
        assert_eq!(c.name, "prod-secret");
    }

    #[test]
    fn bad_and_unsupported_secrets_are_refused_by_name() {
        let e = parse(&secret(json!({"name": b64("p")})))
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("cluster Secret argocd/prod-secret: it has no data.server"),
            "{e}"
        );
        let e = parse(&secret(json!({"server": "%%%"})))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("data.server is not base64"), "{e}");
        let e = parse(&secret(
            json!({"server": b64("https://x"), "config": b64("{not json")}),
        ))
        .expect_err("refused")
        .to_string();
        assert!(
            e.contains("data.config is not Argo CD's cluster config JSON"),
            "{e}"
        );
        let e = parse(&secret(json!({"server": b64("https://x"),
            "config": b64(r#"{"execProviderConfig": {"command": "aws"}}"#)})))
        .expect_err("refused")
        .to_string();
        assert!(
            e.contains("config.execProviderConfig is not supported by sluice yet"),
            "{e}"
        );
        let e = parse(&secret(
            json!({"server": b64("https://x"), "namespaces": b64("a,b")}),
        ))
        .expect_err("refused")
        .to_string();
        assert!(
            e.contains("data.namespaces (a namespace-scoped cluster)"),
            "{e}"
        );
    }

    #[test]
    fn a_changed_secret_has_another_digest() {
        let a = parse(&secret(
            json!({"server": b64("https://x"), "config": b64(r#"{"bearerToken":"a"}"#)}),
        ))
        .expect("present");
        let b = parse(&secret(
            json!({"server": b64("https://x"), "config": b64(r#"{"bearerToken":"b"}"#)}),
        ))
        .expect("present");
        assert_ne!(a.digest, b.digest);
    }
}
