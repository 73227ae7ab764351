//! A renderer built against the frozen `sluice:plugin@0.2.0` contract
//! (`wit/v0.2.0`), without the SDK, for the host's compatibility tests: it
//! reads `<path>/name.txt` through the tree, logs, and renders one ConfigMap
//! named after the file's content (or fails when the file is missing).

#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({ world: "renderer", path: "../../wit/v0.2.0" });
}

use bindings::sluice::plugin::log::{Level, log};
use bindings::sluice::plugin::renderer_types::{
    RenderError, RenderOutput, RenderRequest, RenderedObject,
};
use bindings::sluice::plugin::source::Tree;
use bindings::sluice::plugin::types::{Diagnostic, PluginInfo, Severity};

struct V02;

impl bindings::Guest for V02 {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test-v0-2".into(),
            version: "0.2.0".into(),
            description: "built against sluice:plugin@0.2.0".into(),
            params: Vec::new(),
            detect: Vec::new(),
        }
    }

    fn render(tree: &Tree, request: RenderRequest) -> Result<RenderOutput, RenderError> {
        let file = if request.path.is_empty() {
            "name.txt".to_string()
        } else {
            format!("{}/name.txt", request.path)
        };
        log(Level::Info, &format!("v0.2 plugin reading {file}"));
        let name = tree.read(&file).map_err(|e| RenderError {
            message: format!("cannot read {file}: {e:?}"),
            results: vec![Diagnostic {
                severity: Severity::Error,
                message: format!("{file} is missing"),
                resource_ref: None,
                file: None,
                field: None,
            }],
        })?;
        let name = String::from_utf8_lossy(&name).trim().to_string();
        Ok(RenderOutput {
            objects: vec![RenderedObject {
                json: format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"from":"v0.2","password":"hunter2"}}}}"#
                ),
                origin: None,
                sensitive_paths: vec!["/data/password".into()],
            }],
            results: Vec::new(),
        })
    }
}

bindings::export!(V02 with_types_in bindings);
