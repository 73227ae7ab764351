//! __NAME__: a sluice renderer. One ConfigMap named after the application,
//! holding every file of the app directory.

wit_bindgen::generate!({ world: "renderer", path: "wit" });

// The world's own types (PluginInfo, Tree, RenderRequest, RenderOutput,
// RenderError) are generated at the crate root; the rest live in modules.
use sluice::plugin::renderer_types::RenderedObject;
use sluice::plugin::source::{EntryKind, TreeError};
use sluice::plugin::types::{Diagnostic, ParamSpec, Severity};

struct Plugin;

fn fail(message: String) -> RenderError {
    RenderError {
        results: vec![Diagnostic {
            severity: Severity::Error,
            message: message.clone(),
            resource_ref: None,
            file: None,
            field: None,
        }],
        message,
    }
}

fn tree_error(e: TreeError) -> RenderError {
    fail(match e {
        TreeError::NotFound(p) => format!("{p}: not found"),
        TreeError::OutsideRoot(p) => format!("{p}: outside the repository"),
        TreeError::IsDirectory(p) => format!("{p}: is a directory"),
        TreeError::NotDirectory(p) => format!("{p}: is not a directory"),
        TreeError::Unsupported(p) => format!("{p}: unsupported entry"),
        TreeError::TooLarge(p) => format!("{p}: too large to read"),
        TreeError::Io(m) => m,
    })
}

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "__NAME__".into(),
            version: "0.1.0".into(),
            description: "one ConfigMap holding the app directory's files".into(),
            params: vec![ParamSpec {
                name: "prefix".into(),
                description: "put in front of the ConfigMap's name".into(),
                default: Some(String::new()),
            }],
            detect: vec![],
        }
    }

    fn render(tree: &Tree, request: RenderRequest) -> Result<RenderOutput, RenderError> {
        let mut prefix = String::new();
        for p in &request.params {
            match p.name.as_str() {
                "prefix" => prefix = p.value.clone(),
                other => return Err(fail(format!("unknown parameter {other:?}; this renderer takes 'prefix'"))),
            }
        }
        let mut data = serde_json::Map::new();
        for entry in tree.list(&request.path).map_err(tree_error)? {
            if entry.kind != EntryKind::File {
                continue;
            }
            let path = if request.path.is_empty() {
                entry.name.clone()
            } else {
                format!("{}/{}", request.path, entry.name)
            };
            let bytes = tree.read(&path).map_err(tree_error)?;
            let text = String::from_utf8(bytes).map_err(|_| fail(format!("{path}: not UTF-8 text")))?;
            data.insert(entry.name, text.into());
        }
        let object = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("{prefix}{}", request.context.app_name)},
            "data": data,
        });
        Ok(RenderOutput {
            objects: vec![RenderedObject {
                json: object.to_string(),
                origin: None,
                sensitive_paths: vec![],
            }],
            results: vec![],
        })
    }
}

export!(Plugin);
