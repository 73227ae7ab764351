//! Flux `GitRepository.spec.verify.secretRef`: the trusted keys of a
//! signature check, held in a Secret rather than in a file.
//!
//! Flux keeps one ASCII-armored public key per data entry of a Secret in
//! the GitRepository's namespace (`author1.asc`, …). [`keyring`] turns the
//! Secret's entries into the same [`Keyring`] a `keysFile` gives, so the
//! check and its errors are the same as for a sluice Application.
//!
//! Who reads the Secret: `sluice serve` from its home cluster (as it reads
//! `spec.secretRef`), and passes the keys in
//! [`AppDef::verify_keys`](super::AppDef::verify_keys). A one-shot
//! `sluice sync` / `diff` / `wait` leaves that field empty, and the engine
//! reads the Secret from the destination it talks to ([`from_destination`]:
//! the kubeconfig's cluster, or a `--target dir:` directory standing for
//! one), before any fetch. A missing Secret, or one without a usable key,
//! refuses the app with the Secret's name and what to do; nothing is
//! rendered, applied or pruned.

use super::{Destination, EngineError};
use crate::app::flux::FluxVerify;
use crate::object;
use crate::source::git::verify::Keyring;
use crate::target::Target;
use base64::Engine as _;
use serde_json::{Value, json};

/// The keys of `v`'s Secret, from its data entries (`None`: the Secret
/// does not exist; `place` says where it was looked for).
pub fn keyring(
    app: &str,
    v: &FluxVerify,
    data: Option<Vec<(String, Vec<u8>)>>,
    place: &str,
) -> Result<Keyring, EngineError> {
    let Some(data) = data else {
        return Err(EngineError::VerifySecret {
            app: app.to_string(),
            namespace: v.namespace.clone(),
            secret: v.secret.clone(),
            message: format!(
                "the Secret does not exist in {place}; create it with the trusted public keys, one per entry (kubectl -n {} create secret generic {} --from-file=author1.asc=KEY.asc), or remove spec.verify",
                v.namespace, v.secret
            ),
        });
    };
    Keyring::from_secret(
        &v.namespace,
        &v.secret,
        data.iter().map(|(k, b)| (k.as_str(), b.as_slice())),
    )
    .map_err(|e| EngineError::Verify {
        app: app.to_string(),
        source: Box::new(e),
    })
}

/// Read `v`'s Secret from `destination` (a cluster, or a directory
/// standing for one) and make its keys a [`Keyring`]. Blocks: it runs the
/// read on a runtime of its own, like the rest of [`super::resolve`].
pub fn from_destination(
    app: &str,
    v: &FluxVerify,
    destination: &Destination,
) -> Result<Keyring, EngineError> {
    let fail = |message: String| EngineError::VerifySecret {
        app: app.to_string(),
        namespace: v.namespace.clone(),
        secret: v.secret.clone(),
        message,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime to read it: {e}")))?;
    let (data, place) = runtime.block_on(async {
        match destination {
            Destination::Dir(dir) => {
                let t = crate::target::dir::DirTarget::new(dir)
                    .map_err(|e| fail(format!("cannot open {}: {e}", dir.display())))?;
                let place = format!("directory {}", dir.display());
                Ok::<_, EngineError>((read(&t, v, &place).await.map_err(fail)?, place))
            }
            Destination::Cluster(c) => {
                let t = match &c.inline {
                    Some(i) => {
                        crate::target::kube::KubeTarget::connect_inline(
                            (*i.kubeconfig).clone(),
                            &i.label,
                        )
                        .await
                    }
                    None => {
                        crate::target::kube::KubeTarget::connect(
                            c.kubeconfig.as_deref(),
                            c.context.as_deref(),
                        )
                        .await
                    }
                }
                .map_err(|e| fail(format!("cannot connect to the cluster to read it: {e}")))?;
                let place = format!("cluster {}", t.server());
                Ok((read(&t, v, &place).await.map_err(fail)?, place))
            }
        }
    })?;
    keyring(app, v, data, &place)
}

/// The Secret's data entries, decoded; `None` when it does not exist.
async fn read<T: Target>(
    target: &T,
    v: &FluxVerify,
    place: &str,
) -> Result<Option<Vec<(String, Vec<u8>)>>, String> {
    let cannot = |e: String| {
        format!(
            "cannot read it from {place}: {e}; check that you may get Secrets in namespace {}",
            v.namespace
        )
    };
    target.discover().await.map_err(|e| cannot(e.to_string()))?;
    let probe = object::from_value(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": v.secret, "namespace": v.namespace}}),
        None,
        0,
    )
    .map_err(|e| cannot(e.to_string()))?;
    let Some(live) = target
        .get(&probe)
        .await
        .map_err(|e| cannot(e.to_string()))?
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (k, val) in live
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(val.as_str().unwrap_or_default())
            .map_err(|e| format!("data entry {k} in {place} is not base64: {e}"))?;
        out.push((k.clone(), bytes));
    }
    // A Secret written with stringData (a directory target keeps it as
    // written) counts too.
    for (k, val) in live
        .get("stringData")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.push((
            k.clone(),
            val.as_str().unwrap_or_default().as_bytes().to_vec(),
        ));
    }
    Ok(Some(out))
}
