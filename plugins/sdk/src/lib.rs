//! Guest-side helpers for writing sluice renderer plugins in Rust.
//!
//! A renderer is a type implementing [`Renderer`] plus one
//! [`export_renderer!`] line. Build it with
//! `cargo build --release --target wasm32-wasip2` and hand the `.wasm` file to
//! `sluice render --renderer ./plugin.wasm`.
//!
//! ```ignore
//! use sluice_plugin_sdk::{Renderer, SourceTree, RenderRequest, RenderOutput, RenderError, PluginInfo};
//!
//! struct Hello;
//!
//! impl Renderer for Hello {
//!     fn describe() -> PluginInfo {
//!         sluice_plugin_sdk::info("hello", "0.1.0", "one ConfigMap per app")
//!     }
//!     fn render(_tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
//!         let cm = serde_json::json!({
//!             "apiVersion": "v1", "kind": "ConfigMap",
//!             "metadata": {"name": req.context.app_name},
//!         });
//!         Ok(RenderOutput { objects: vec![sluice_plugin_sdk::object(&cm, None)], results: vec![] })
//!     }
//! }
//!
//! sluice_plugin_sdk::export_renderer!(Hello);
//! ```
//!
//! The plugin logic only sees the source through the [`SourceTree`] trait, so
//! it can be unit-tested natively against a directory with
//! [`testing::DirTree`].

pub mod diag;
pub mod params;
pub mod path;
pub mod testing;
pub mod yaml;

/// The bindings generated from `wit/plugin.wit` (world `renderer`,
/// `sluice:plugin@0.2.0`).
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "renderer",
        path: "../../wit",
        default_bindings_module: "sluice_plugin_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_renderer_world",
    });
}

pub use bindings::sluice::plugin::log::Level;
pub use bindings::sluice::plugin::renderer_types::{
    Origin, Param, RenderError, RenderOutput, RenderRequest, RenderedObject,
};
pub use bindings::sluice::plugin::source::{Entry, EntryKind, TreeError};
pub use bindings::sluice::plugin::types::{
    Context, Diagnostic, FileRef, ParamSpec, PluginInfo, ResourceRef, Severity,
};

/// Read access to the source tree, as the host's `tree` resource offers it.
///
/// Implemented for the host resource (inside Wasm) and for
/// [`testing::DirTree`] (native tests).
pub trait SourceTree {
    /// The whole content of the file at `path` (repository-relative).
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError>;
    /// The entries of the directory at `path`, sorted by name.
    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError>;
    /// What is at `path`.
    fn stat(&self, path: &str) -> Result<Entry, TreeError>;
}

impl SourceTree for bindings::sluice::plugin::source::Tree {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        bindings::sluice::plugin::source::Tree::read(self, path)
    }
    fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError> {
        bindings::sluice::plugin::source::Tree::list(self, path)
    }
    fn stat(&self, path: &str) -> Result<Entry, TreeError> {
        bindings::sluice::plugin::source::Tree::stat(self, path)
    }
}

/// A renderer plugin: implement this and call [`export_renderer!`].
pub trait Renderer {
    /// Name, version, parameters and detection patterns.
    fn describe() -> PluginInfo;
    /// Render `request.path` of `tree` into objects.
    fn render(tree: &dyn SourceTree, request: &RenderRequest) -> Result<RenderOutput, RenderError>;
}

/// A [`PluginInfo`] with no parameters and no detection patterns; fill in the
/// rest with struct update syntax.
pub fn info(name: &str, version: &str, description: &str) -> PluginInfo {
    PluginInfo {
        name: name.to_string(),
        version: version.to_string(),
        description: description.to_string(),
        params: Vec::new(),
        detect: Vec::new(),
    }
}

/// A [`RenderedObject`] from a JSON value and an optional origin.
pub fn object(value: &serde_json::Value, origin: Option<Origin>) -> RenderedObject {
    RenderedObject {
        json: value.to_string(),
        origin,
        sensitive_paths: Vec::new(),
    }
}

/// A [`RenderedObject`] whose values at `sensitive_paths` (JSON pointers,
/// e.g. `/data/password`) are secret: the host applies them but never
/// prints them.
pub fn sensitive_object(
    value: &serde_json::Value,
    origin: Option<Origin>,
    sensitive_paths: Vec<String>,
) -> RenderedObject {
    RenderedObject {
        json: value.to_string(),
        origin,
        sensitive_paths,
    }
}

/// Write a message to the host's log (a no-op outside Wasm).
pub fn log(level: Level, message: &str) {
    #[cfg(target_family = "wasm")]
    bindings::sluice::plugin::log::log(level, message);
    #[cfg(not(target_family = "wasm"))]
    let _ = (level, message);
}

/// A human sentence for a [`TreeError`] (its `Display` is the generated,
/// debug-like one).
pub fn tree_error_message(e: &TreeError) -> String {
    match e {
        TreeError::NotFound(p) => format!("{p}: no such file or directory"),
        TreeError::OutsideRoot(p) => format!("{p}: path leaves the repository root"),
        TreeError::IsDirectory(p) => format!("{p}: is a directory"),
        TreeError::NotDirectory(p) => format!("{p}: is not a directory"),
        TreeError::Unsupported(m) => format!("unsupported: {m}"),
        TreeError::TooLarge(p) => format!("{p}: file too large"),
        TreeError::Io(m) => m.clone(),
    }
}

/// Glue called by [`export_renderer!`]; not for direct use.
#[doc(hidden)]
pub mod glue {
    use super::*;

    pub fn render<R: Renderer>(
        tree: &bindings::sluice::plugin::source::Tree,
        request: RenderRequest,
    ) -> Result<RenderOutput, RenderError> {
        R::render(tree, &request)
    }
}

/// Export a [`Renderer`] implementation as the plugin's `renderer` world.
#[macro_export]
macro_rules! export_renderer {
    ($ty:ty) => {
        #[doc(hidden)]
        struct __SluiceRendererExport;

        impl $crate::bindings::Guest for __SluiceRendererExport {
            fn describe() -> $crate::PluginInfo {
                <$ty as $crate::Renderer>::describe()
            }
            fn render(
                tree: &$crate::bindings::sluice::plugin::source::Tree,
                request: $crate::RenderRequest,
            ) -> ::core::result::Result<$crate::RenderOutput, $crate::RenderError> {
                $crate::glue::render::<$ty>(tree, request)
            }
        }

        $crate::bindings::__export_renderer_world!(__SluiceRendererExport with_types_in $crate::bindings);
    };
}
