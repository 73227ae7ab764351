//! The Target declarations an app's `spec.targets` names, loaded from a
//! directory (`--targets DIR` of `sync`, `diff` and `serve`).
//!
//! Three steps, so the asynchronous one can run where a cluster client is
//! at hand: [`declarations`] reads and picks the app's declarations,
//! [`read_secrets`] fetches the credentials of those with
//! `credentials.secretRef` from a cluster, [`load`] loads their plugins.
//! [`load_for_app`] does the first and last for callers without Secrets.

use super::plugin::{PluginTarget, SecretRef, SecretValue, TargetDecl, load_dir};
use crate::plugin::Runtime;
use k8s_openapi::api::core::v1::Secret;
use std::path::Path;

/// The declarations of the Targets `listed` (an app's `spec.targets`)
/// from `dir`. `Err` is a sentence naming the app and what to do.
pub fn declarations(
    dir: Option<&Path>,
    listed: &[String],
    app: &str,
) -> Result<Vec<TargetDecl>, String> {
    if listed.is_empty() {
        return Ok(Vec::new());
    }
    let Some(dir) = dir else {
        return Err(format!(
            "app {app} lists targets {} in spec.targets; pass --targets DIR, a directory with their Target declarations",
            listed.join(", ")
        ));
    };
    let decls = load_dir(dir).map_err(|e| crate::error_chain(&e))?;
    pick(&decls, listed, app, &dir.display().to_string())
}

/// The declarations of the Targets `listed` among `decls` (read from
/// `from`, for messages).
pub fn pick(
    decls: &[TargetDecl],
    listed: &[String],
    app: &str,
    from: &str,
) -> Result<Vec<TargetDecl>, String> {
    let mut out = Vec::new();
    for name in listed {
        let Some(decl) = decls.iter().find(|d| &d.name == name) else {
            let known: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "app {app}: spec.targets names {name}, but {from} has no Target named {name} (it has: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        out.push(decl.clone());
    }
    Ok(out)
}

/// Whether any of `decls` takes its credential from a Kubernetes Secret.
pub fn needs_secrets(decls: &[TargetDecl]) -> bool {
    decls.iter().any(|d| d.secret_ref().is_some())
}

/// Read the `credentials.secretRef` of each of `decls` through `client`
/// (the cluster sluice runs against) and keep the value in the
/// declaration, for [`load`]. `Err` names the Target, the Secret and what
/// to do.
pub async fn read_secrets(client: &kube::Client, decls: &mut [TargetDecl]) -> Result<(), String> {
    for d in decls.iter_mut() {
        let Some(r) = d.secret_ref().cloned() else {
            continue;
        };
        let SecretRef {
            name,
            key,
            namespace,
        } = &r;
        let ns = namespace.as_deref().unwrap_or("default");
        let what = format!(
            "Target {} ({}): credentials.secretRef: Secret {ns}/{name}",
            d.name,
            d.file.display()
        );
        let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), ns);
        let secret = match api.get_opt(name).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(format!(
                    "{what} does not exist; create it (kubectl -n {ns} create secret generic {name} --from-literal={key}=...)"
                ));
            }
            Err(e) => return Err(format!("{what} cannot be read: {e}")),
        };
        let bytes = secret
            .data
            .as_ref()
            .and_then(|m| m.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|m| m.get(key))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| format!("{what} has no key {key}; add it or fix secretRef.key"))?;
        let value =
            String::from_utf8(bytes).map_err(|_| format!("{what}: key {key} is not UTF-8 text"))?;
        d.secret = Some(SecretValue::new(value));
    }
    Ok(())
}

/// Load the plugins of `decls` (an app's Targets); their kinds must not
/// overlap.
pub fn load(decls: &[TargetDecl], rt: &Runtime, app: &str) -> Result<Vec<PluginTarget>, String> {
    let mut out = Vec::new();
    for decl in decls {
        out.push(PluginTarget::load(rt, decl).map_err(|e| crate::error_chain(&e))?);
    }
    super::routed::check_disjoint(&out, app)?;
    Ok(out)
}

/// Load the Targets `listed` (an app's `spec.targets`) from `dir`. `Err`
/// is a sentence naming the app and what to do.
pub fn load_for_app(
    dir: Option<&Path>,
    listed: &[String],
    app: &str,
    rt: &Runtime,
) -> Result<Vec<PluginTarget>, String> {
    load(&declarations(dir, listed, app)?, rt, app)
}
