//! Rendering: pick the renderer for an app, call it in the sandbox, and turn
//! what it returns into checked [`Object`]s.
//!
//! The one entry is [`Renderers::render`]. Renderers are the built-in
//! plugins (by name), a plugin file (by path, with an optional required
//! sha256), or a remote plugin pinned by digest (`oci://…@sha256:…`, or an
//! `https://` URL with its sha256; see [`crate::plugin::remote`]). With no
//! renderer named, the first built-in whose `detect` patterns match a file
//! in the app directory is used.

pub mod cases;
pub mod readset;

use crate::object::{self, Object, ObjectError};
use crate::plugin::remote::{self, RemoteError, RemoteRef};
use crate::plugin::{self, Diagnostic, Plugin, PluginError, Runtime, builtin};
use crate::source::Tree;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Built-ins in the order auto-detection tries them (most specific first).
const DETECT_ORDER: &[&str] = &["kustomize", "terraform-plan", "yaml"];

/// Which renderer to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RendererRef {
    /// Detect from the app's files.
    Auto,
    /// A built-in plugin by name.
    Builtin(String),
    /// A plugin file, optionally pinned by sha256.
    File {
        /// Path of the `.wasm` component.
        path: PathBuf,
        /// Required hex sha256, if any.
        sha256: Option<String>,
    },
    /// A remote plugin: `oci://…@sha256:…` or an `https://` URL, checked
    /// (pinned, well-formed) when it is resolved, so that the error names
    /// the app.
    Remote {
        /// The reference as written.
        reference: String,
        /// The sha256 given beside it (required for `https://`; for
        /// `oci://`, the component's own digest, checked too).
        sha256: Option<String>,
    },
}

impl RendererRef {
    /// Parse `--renderer`: a remote reference (`oci://`, `https://`), a
    /// path (contains `/` or ends in `.wasm`) or a built-in name.
    pub fn parse(s: &str, sha256: Option<String>) -> Self {
        if remote::is_remote(s) {
            RendererRef::Remote {
                reference: s.to_string(),
                sha256,
            }
        } else if s.contains('/') || s.ends_with(".wasm") {
            RendererRef::File {
                path: PathBuf::from(s),
                sha256,
            }
        } else {
            RendererRef::Builtin(s.to_string())
        }
    }
}

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderSpec {
    /// The application's name (for messages and the plugin's context).
    pub app: String,
    /// The app's directory inside the tree.
    pub path: String,
    /// The renderer.
    pub renderer: RendererRef,
    /// `name=value` parameters, in order.
    pub params: Vec<(String, String)>,
    /// Structured parameters as JSON text.
    pub params_json: Option<String>,
    /// Destination namespace, for the plugin's context.
    pub namespace: String,
    /// Source revision (commit id), for the plugin's context.
    pub revision: String,
    /// Source URL, for the plugin's context.
    pub repo_url: String,
}

/// A successful render.
#[derive(Debug)]
pub struct Rendered {
    /// The objects, checked: each has an identity, no two share one.
    pub objects: Vec<Object>,
    /// Warnings and information from the renderer.
    pub results: Vec<Diagnostic>,
    /// The renderer used, `name@version`.
    pub renderer: String,
}

/// The error returned by [`Renderers::render`]. Every variant names the app.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The plugin misbehaved or could not be loaded.
    #[error("app {app}")]
    Plugin {
        /// The app.
        app: String,
        /// What went wrong in the plugin runtime.
        #[source]
        source: PluginError,
    },
    /// The renderer rejected the input.
    #[error("app {app}: renderer {renderer} failed: {message}")]
    Failed {
        /// The app.
        app: String,
        /// The renderer.
        renderer: String,
        /// Its message.
        message: String,
        /// Its diagnostics.
        results: Vec<Diagnostic>,
    },
    /// The renderer returned something that is not a valid object.
    #[error("app {app}: renderer {renderer} returned a bad object")]
    BadObject {
        /// The app.
        app: String,
        /// The renderer.
        renderer: String,
        /// What is wrong.
        #[source]
        source: ObjectError,
    },
    /// Flux's post-build variable substitution failed on an object.
    #[error(
        "app {app}: postBuild variable substitution failed: {message}; fix the object or the Kustomization's postBuild.substitute"
    )]
    Substitute {
        /// The app.
        app: String,
        /// What went wrong, naming the object.
        message: String,
    },
    /// No built-in renderer is called that.
    #[error(
        "app {app}: no built-in renderer is called {name:?} (see `sluice plugin list`), and it is not a path to a .wasm file"
    )]
    UnknownRenderer {
        /// The app.
        app: String,
        /// The name given.
        name: String,
    },
    /// Nothing in the app directory says which renderer to use.
    #[error(
        "app {app}: cannot tell which renderer to use for {path:?}: no kustomization, Terraform plan (*.tfplan.json), YAML or JSON files there; name one with --renderer"
    )]
    NoRenderer {
        /// The app.
        app: String,
        /// The app path.
        path: String,
    },
    /// A remote renderer could not be fetched or verified.
    #[error("app {app}: cannot get its renderer")]
    Remote {
        /// The app.
        app: String,
        /// Why (names the reference and what to do).
        #[source]
        source: Box<RemoteError>,
    },
    /// The plugin file could not be read.
    #[error("app {app}: cannot read plugin file {}", path.display())]
    ReadPlugin {
        /// The app.
        app: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    /// The renderer's own diagnostics, when it reported any.
    pub fn results(&self) -> &[Diagnostic] {
        match self {
            RenderError::Failed { results, .. } => results,
            _ => &[],
        }
    }
}

/// The renderers available to this process, loaded on first use.
pub struct Renderers {
    runtime: Runtime,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
}

impl Renderers {
    /// Renderers running on `runtime`.
    pub fn new(runtime: Runtime) -> Self {
        Renderers {
            runtime,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn cached(
        &self,
        key: &str,
        load: impl FnOnce() -> Result<Plugin, PluginError>,
    ) -> Result<Arc<Plugin>, PluginError> {
        if let Some(p) = self.loaded.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(p);
        }
        let p = Arc::new(load()?);
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(key.to_string(), p.clone());
        }
        Ok(p)
    }

    /// The built-in plugin `name`, loaded.
    pub fn builtin(&self, name: &str) -> Option<Result<Arc<Plugin>, PluginError>> {
        let b = builtin::get(name)?;
        Some(self.cached(&format!("builtin:{name}"), || self.runtime.load_builtin(b)))
    }

    fn resolve(&self, tree: &dyn Tree, spec: &RenderSpec) -> Result<Arc<Plugin>, RenderError> {
        let app = || spec.app.clone();
        let plugin_err = |source| RenderError::Plugin { app: app(), source };
        match &spec.renderer {
            RendererRef::Builtin(name) => self
                .builtin(name)
                .ok_or_else(|| RenderError::UnknownRenderer {
                    app: app(),
                    name: name.clone(),
                })?
                .map_err(plugin_err),
            RendererRef::File { path, sha256 } => {
                let key = format!(
                    "file:{}:{}",
                    path.display(),
                    sha256.as_deref().unwrap_or("")
                );
                let bytes = std::fs::read(path).map_err(|source| RenderError::ReadPlugin {
                    app: app(),
                    path: path.clone(),
                    source,
                })?;
                let name = path
                    .file_stem()
                    .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
                self.cached(&key, || self.runtime.load(&name, &bytes, sha256.as_deref()))
                    .map_err(plugin_err)
            }
            RendererRef::Remote { reference, sha256 } => {
                let remote_err = |source| RenderError::Remote {
                    app: app(),
                    source: Box::new(source),
                };
                let r = RemoteRef::parse(reference, sha256.as_deref()).map_err(remote_err)?;
                let key = format!("remote:{}:{}", r.display(), sha256.as_deref().unwrap_or(""));
                if let Some(p) = self.loaded.lock().ok().and_then(|m| m.get(&key).cloned()) {
                    return Ok(p);
                }
                let fetched =
                    remote::fetch(&r, self.runtime.remote_cache().as_ref()).map_err(remote_err)?;
                // `load` hashes the bytes once more before compiling them.
                self.cached(&key, || {
                    self.runtime
                        .load(&fetched.name, &fetched.wasm, Some(&fetched.sha256))
                })
                .map_err(plugin_err)
            }
            RendererRef::Auto => {
                let names: Vec<String> = tree.list(&spec.path).map_or_else(
                    |_| Vec::new(),
                    |entries| entries.into_iter().map(|e| e.name).collect(),
                );
                for candidate in DETECT_ORDER {
                    let Some(plugin) = self.builtin(candidate) else {
                        continue;
                    };
                    let plugin = plugin.map_err(plugin_err)?;
                    if detects(&plugin.info().detect, &names) {
                        return Ok(plugin);
                    }
                }
                Err(RenderError::NoRenderer {
                    app: app(),
                    path: spec.path.clone(),
                })
            }
        }
    }

    /// Render `spec` over `tree`: pick the renderer, call it in a fresh
    /// sandbox, and check every object it returns.
    pub fn render(&self, tree: Arc<dyn Tree>, spec: &RenderSpec) -> Result<Rendered, RenderError> {
        let plugin = self.resolve(tree.as_ref(), spec)?;
        let renderer = format!("{}@{}", plugin.info().name, plugin.info().version);
        let request = plugin::RenderRequest {
            path: spec.path.clone(),
            params: spec
                .params
                .iter()
                .map(|(name, value)| plugin::Param {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            params_json: spec.params_json.clone(),
            context: plugin::Context {
                app_name: spec.app.clone(),
                destination_namespace: spec.namespace.clone(),
                revision: spec.revision.clone(),
                repo_url: spec.repo_url.clone(),
                cluster_version: String::new(),
                api_versions: Vec::new(),
            },
        };
        let output = plugin
            .render(tree, &request)
            .map_err(|source| RenderError::Plugin {
                app: spec.app.clone(),
                source,
            })?
            .map_err(|e| RenderError::Failed {
                app: spec.app.clone(),
                renderer: renderer.clone(),
                message: e.message,
                results: e.results,
            })?;
        let bad = |source| RenderError::BadObject {
            app: spec.app.clone(),
            renderer: renderer.clone(),
            source,
        };
        let objects = output
            .objects
            .iter()
            .enumerate()
            .map(|(n, o)| {
                let origin = o.origin.as_ref().map(|o| object::Origin {
                    file: o.file.clone(),
                    index: o.index,
                });
                let mut obj = object::parse_rendered(&o.json, origin, n)?;
                obj.sensitive_paths = o.sensitive_paths.clone();
                Ok(obj)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        object::check_unique(&objects).map_err(bad)?;
        Ok(Rendered {
            objects,
            results: output.results,
            renderer,
        })
    }
}

/// Whether any of `patterns` (globs over a file name) matches any of `names`.
fn detects(patterns: &[String], names: &[String]) -> bool {
    patterns
        .iter()
        .any(|p| names.iter().any(|n| glob_match(p, n)))
}

/// A minimal glob for detection patterns: `*` matches any run of
/// characters, everything else literally.
fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_match(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_globs() {
        assert!(glob_match("*.yaml", "a.yaml"));
        assert!(!glob_match("*.yaml", "a.yml"));
        assert!(glob_match("kustomization.yaml", "kustomization.yaml"));
        assert!(glob_match("*plan*.json", "tfplan.json"));
        assert!(detects(&["*.json".into()], &["x".into(), "y.json".into()]));
    }

    #[test]
    fn renderer_ref_parsing() {
        assert_eq!(
            RendererRef::parse("yaml", None),
            RendererRef::Builtin("yaml".into())
        );
        assert!(matches!(
            RendererRef::parse("./p.wasm", None),
            RendererRef::File { .. }
        ));
        assert!(matches!(
            RendererRef::parse("oci://127.0.0.1:5000/r:v1", None),
            RendererRef::Remote { .. }
        ));
        assert!(matches!(
            RendererRef::parse("https://h.example/r.wasm", Some("ab".into())),
            RendererRef::Remote {
                sha256: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn an_unpinned_remote_renderer_is_refused_naming_the_app() {
        let renderers = Renderers::new(Runtime::new(plugin::Limits::default(), None).expect("rt"));
        let dir = tempfile::tempdir().expect("tempdir");
        let tree: Arc<dyn Tree> = Arc::new(crate::source::DirTree::new(dir.path()).expect("tree"));
        let spec = RenderSpec {
            app: "shop".into(),
            path: ".".into(),
            renderer: RendererRef::parse("oci://127.0.0.1:1/r:v1", None),
            params: Vec::new(),
            params_json: None,
            namespace: "default".into(),
            revision: String::new(),
            repo_url: String::new(),
        };
        let e = renderers.render(tree, &spec).expect_err("unpinned");
        let chain = crate::error_chain(&e);
        assert!(
            chain.starts_with("app shop: cannot get its renderer: plugin reference oci://127.0.0.1:1/r:v1 is not pinned"),
            "{chain}"
        );
    }
}
