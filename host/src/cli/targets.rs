//! `--targets DIR`: the Target declarations an app's `spec.targets` names,
//! loaded for `sync` and `diff`.

use sluice::engine::Destination;
use sluice::plugin::Runtime;
use sluice::target::catalog;
use sluice::target::kube::KubeTarget;
use sluice::target::plugin::PluginTarget;
use std::path::Path;

/// Load the Targets `listed` (an app's `spec.targets`) from `dir`; a
/// `credentials.secretRef` is read from the `destination` cluster. `Err` is
/// a sentence naming the app and what to do.
pub fn load_for_app(
    dir: Option<&Path>,
    listed: &[String],
    app: &str,
    rt: &Runtime,
    destination: &Destination,
) -> Result<Vec<PluginTarget>, String> {
    let mut decls = catalog::declarations(dir, listed, app)?;
    if catalog::needs_secrets(&decls)
        && let Destination::Cluster(c) = destination
    {
        let runtime = super::sync::runtime().map_err(|e| format!("app {app}: {e:#}"))?;
        runtime.block_on(async {
            let k = KubeTarget::connect(c.kubeconfig.as_deref(), c.context.as_deref())
                .await
                .map_err(|e| format!("app {app}: {}", sluice::error_chain(&e)))?;
            catalog::read_secrets(k.client(), &mut decls)
                .await
                .map_err(|e| format!("app {app}: {e}"))
        })?;
    }
    catalog::load(&decls, rt, app)
}
