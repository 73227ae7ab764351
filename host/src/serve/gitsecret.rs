//! Flux `GitRepository.spec.secretRef`: the repository's credentials, read
//! by the service from a Secret on its home cluster.
//!
//! Flux's keys: `username` + `password` (HTTP basic), `bearerToken`,
//! `ca.crt` (CA certificates for HTTPS). They become a credential entry
//! for exactly that repository URL, ahead of `--git-credentials` (the
//! Secret is what the GitRepository names). SSH keys (`identity`,
//! `known_hosts`) are refused with a message: sluice takes SSH keys as
//! files (`--git-credentials` `sshPrivateKeyPath`). A Secret that is
//! missing or unreadable fails the app's comparison with its name; the
//! values are never logged.
//!
//! Flux `GitRepository.spec.verify.secretRef` too ([`verify_keys`]): the
//! trusted public keys of the signature check, read from the same home
//! cluster and handed to the engine, which checks them exactly as a
//! `keysFile` (see [`crate::engine::flux_keys`]).

use super::service::Service;
use crate::app::Application;
use crate::source::git::credentials::{CredentialEntry, Secret};
use crate::source::git::verify::Keyring;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::api::Api;

/// The credential entry `app`'s GitRepository `secretRef` gives, if it has
/// one; an error names the Secret and what to do.
pub async fn credentials(
    svc: &Service,
    name: &str,
    app: &Application,
) -> Result<Option<CredentialEntry>, String> {
    let Some((ns, secret)) = app.flux.as_ref().and_then(|f| f.secret_ref.clone()) else {
        return Ok(None);
    };
    let client = svc.home_client().await.map_err(|e| {
        format!("app {name}: cannot read GitRepository secretRef {ns}/{secret}: {e}")
    })?;
    let api: Api<KubeSecret> = Api::namespaced(client, &ns);
    let s = api.get_opt(&secret).await.map_err(|e| {
        format!("app {name}: cannot read GitRepository secretRef {ns}/{secret}: {e}; check that sluice may get Secrets in {ns}")
    })?;
    let Some(s) = s else {
        return Err(format!(
            "app {name}: GitRepository secretRef {ns}/{secret} does not exist; create it or remove spec.secretRef"
        ));
    };
    let data = s.data.unwrap_or_default();
    let text = |k: &str| {
        data.get(k)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if data.contains_key("identity") {
        return Err(format!(
            "app {name}: GitRepository secretRef {ns}/{secret} holds an SSH key (identity); sluice serve takes SSH keys as files: list it in --git-credentials (sshPrivateKeyPath) instead"
        ));
    }
    let entry = CredentialEntry {
        url_prefix: app.spec.source.repo_url.clone(),
        username: text("username"),
        password: text("password").map(Secret::new),
        token: text("bearerToken").map(Secret::new),
        ca_data: text("ca.crt").or_else(|| text("caFile")),
        ..CredentialEntry::default()
    };
    if entry.username.is_none() && entry.token.is_none() && entry.ca_data.is_none() {
        return Err(format!(
            "app {name}: GitRepository secretRef {ns}/{secret} has none of username/password, bearerToken, ca.crt"
        ));
    }
    Ok(Some(entry))
}

/// The trusted keys of `app`'s GitRepository `verify.secretRef`, read from
/// the home cluster, if it has one; an error names the Secret and what to
/// do (nothing is fetched, rendered or applied then).
pub async fn verify_keys(
    svc: &Service,
    name: &str,
    app: &Application,
) -> Result<Option<Keyring>, String> {
    let Some(v) = app.flux.as_ref().and_then(|f| f.verify.clone()) else {
        return Ok(None);
    };
    let (ns, secret) = (&v.namespace, &v.secret);
    let cannot = |e: String| {
        format!(
            "app {name}: refusing its source: GitRepository verify.secretRef {ns}/{secret}: cannot read it from the home cluster: {e}; check that sluice may get Secrets in {ns}"
        )
    };
    let client = svc.home_client().await.map_err(|e| cannot(e.to_string()))?;
    let api: Api<KubeSecret> = Api::namespaced(client, ns);
    let s = api
        .get_opt(secret)
        .await
        .map_err(|e| cannot(e.to_string()))?;
    let data = s.map(|s| {
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, b)| (k, b.0))
            .collect()
    });
    crate::engine::flux_keys::keyring(name, &v, data, "the home cluster")
        .map(Some)
        .map_err(|e| crate::error_chain(&e))
}
