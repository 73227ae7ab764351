//! The Target declarations an app's `spec.targets` names, loaded from a
//! directory (`--targets DIR` of `sync`, `diff` and `serve`).

use super::plugin::{PluginTarget, load_dir};
use crate::plugin::Runtime;
use std::path::Path;

/// Load the Targets `listed` (an app's `spec.targets`) from `dir`. `Err`
/// is a sentence naming the app and what to do.
pub fn load_for_app(
    dir: Option<&Path>,
    listed: &[String],
    app: &str,
    rt: &Runtime,
) -> Result<Vec<PluginTarget>, String> {
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
    let mut out = Vec::new();
    for name in listed {
        let Some(decl) = decls.iter().find(|d| &d.name == name) else {
            let known: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "app {app}: spec.targets names {name}, but {} has no Target named {name} (it has: {})",
                dir.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        out.push(PluginTarget::load(rt, decl).map_err(|e| crate::error_chain(&e))?);
    }
    super::routed::check_disjoint(&out, app)?;
    Ok(out)
}
