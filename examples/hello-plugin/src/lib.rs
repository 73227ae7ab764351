//! A custom sluice renderer: one ConfigMap per file in the app directory,
//! holding the file's size. The whole plugin is a `Renderer` impl and one
//! `export_renderer!` line.

use sluice_plugin_sdk::{
    PluginInfo, RenderError, RenderOutput, RenderRequest, Renderer, SourceTree, diag, params::spec,
    path,
};

struct Hello;

impl Renderer for Hello {
    fn describe() -> PluginInfo {
        PluginInfo {
            params: vec![spec(
                "prefix",
                "prefix for the ConfigMap names",
                Some("file-"),
            )],
            ..sluice_plugin_sdk::info("hello", "0.1.0", "one ConfigMap per file, holding its size")
        }
    }

    fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
        let params = sluice_plugin_sdk::params::Params::check(req, &Self::describe().params)?;
        let prefix = params.get("prefix").unwrap_or("file-");
        let files = path::walk(tree, &req.path, false)
            .map_err(|e| diag::fail(sluice_plugin_sdk::tree_error_message(&e), None))?;
        let mut objects = Vec::new();
        for file in files {
            let size = tree
                .stat(&file)
                .map_err(|e| diag::fail(sluice_plugin_sdk::tree_error_message(&e), None))?
                .size;
            let base = file.rsplit('/').next().unwrap_or(&file);
            let name: String = format!("{prefix}{base}")
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let cm = serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": req.context.app_name}},
                "data": {"file": file, "size": size.to_string()},
            });
            objects.push(sluice_plugin_sdk::object(&cm, None));
        }
        Ok(RenderOutput {
            objects,
            results: vec![],
        })
    }
}

sluice_plugin_sdk::export_renderer!(Hello);
