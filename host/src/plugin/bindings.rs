//! Host bindings generated from the plugin contract, in every version the
//! host accepts.
//!
//! - `sluice:plugin@0.3.0` (`wit/plugin.wit`), what the SDK builds today,
//!   generated at this module's root: the types the rest of the host uses.
//! - `sluice:plugin@0.2.0` (`wit/v0.2.0/plugin.wit`, frozen), generated in
//!   [`v0_2`]. Its renderer world is the same as 0.3.0's (0.3.0 only added
//!   the `target` world), so its types are the 0.3.0 ones (bindgen's
//!   `with`); only its imports are its own, delegating to the 0.3.0 ones.
//! - `sluice:plugin@0.1.0` (`wit/v0.1.0/plugin.wit`, frozen), generated in
//!   [`v0_1`], so components built before 0.2.0 keep working.
//!
//! Both versions' imports are added to the one linker (the component model
//! treats 0.1 and 0.2 as different interfaces, so they do not clash); the
//! 0.1 host functions delegate to the 0.2 ones. [`AnyRendererPre`] picks the
//! version a component was built for from the version of `sluice:plugin/source`
//! it imports (every renderer imports it: `render` takes a tree), calls it,
//! and converts a 0.1 answer into the 0.2 types (no sensitive paths).
//!
//! Exports are called `async` (every call runs under a deadline, see the
//! module docs of [`super`]); the `tree` methods are `async` host functions
//! so that a tree that blocks does not hold the call past its deadline.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "renderer",
    with: {
        "sluice:plugin/source.tree": super::sandbox::TreeHandle,
    },
    imports: {
        "sluice:plugin/source": async,
    },
    exports: { default: async },
});

pub use self::sluice::plugin::log::Level;
pub use self::sluice::plugin::renderer_types::{Origin, Param, RenderedObject};
pub use self::sluice::plugin::source::{Entry, EntryKind, TreeError};
pub use self::sluice::plugin::types::{
    Context, Diagnostic, FileRef, ParamSpec, ResourceRef, Severity,
};

use super::sandbox::{State, TreeHandle};
use wasmtime::Store;
use wasmtime::component::{InstancePre, Resource};

/// The frozen 0.2.0 contract: same types as 0.3.0, its own imports.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2.0",
        world: "renderer",
        with: {
            "sluice:plugin/source.tree": super::super::sandbox::TreeHandle,
            "sluice:plugin/types": super::sluice::plugin::types,
            "sluice:plugin/renderer-types": super::sluice::plugin::renderer_types,
        },
        imports: {
            "sluice:plugin/source": async,
        },
        exports: { default: async },
    });
}

/// The frozen 0.1.0 contract.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "renderer",
        with: {
            "sluice:plugin/source.tree": super::super::sandbox::TreeHandle,
        },
        imports: {
            "sluice:plugin/source": async,
        },
        exports: { default: async },
    });
}

use v0_1::sluice::plugin as old;

/// The import that tells a 0.1.0 component.
const SOURCE_0_1: &str = "sluice:plugin/source@0.1.0";
/// The import that tells a 0.2.0 component.
const SOURCE_0_2: &str = "sluice:plugin/source@0.2.0";

/// A linked renderer of either contract version.
pub enum AnyRendererPre {
    /// Built against 0.3.0.
    V0_3(RendererPre<State>),
    /// Built against 0.2.0.
    V0_2(v0_2::RendererPre<State>),
    /// Built against 0.1.0.
    V0_1(v0_1::RendererPre<State>),
}

impl AnyRendererPre {
    /// Check the exports of `pre` against the version it was built for.
    pub fn new(pre: InstancePre<State>) -> wasmtime::Result<Self> {
        let engine = pre.engine().clone();
        let imports = |version: &str| {
            pre.component()
                .component_type()
                .imports(&engine)
                .any(|(name, _)| name == version)
        };
        Ok(if imports(SOURCE_0_1) {
            AnyRendererPre::V0_1(v0_1::RendererPre::new(pre)?)
        } else if imports(SOURCE_0_2) {
            AnyRendererPre::V0_2(v0_2::RendererPre::new(pre)?)
        } else {
            AnyRendererPre::V0_3(RendererPre::new(pre)?)
        })
    }

    /// The contract version the component was built for.
    pub fn version(&self) -> &'static str {
        match self {
            AnyRendererPre::V0_3(_) => "0.3.0",
            AnyRendererPre::V0_2(_) => "0.2.0",
            AnyRendererPre::V0_1(_) => "0.1.0",
        }
    }

    /// Instantiate and call `describe`.
    pub async fn describe(&self, store: &mut Store<State>) -> wasmtime::Result<PluginInfo> {
        match self {
            AnyRendererPre::V0_3(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .call_describe(store)
                    .await
            }
            AnyRendererPre::V0_2(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .call_describe(store)
                    .await
            }
            AnyRendererPre::V0_1(pre) => {
                let i = pre
                    .instantiate_async(&mut *store)
                    .await?
                    .call_describe(store)
                    .await?;
                Ok(PluginInfo {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                    params: i
                        .params
                        .into_iter()
                        .map(|p| ParamSpec {
                            name: p.name,
                            description: p.description,
                            default: p.default,
                        })
                        .collect(),
                    detect: i.detect,
                })
            }
        }
    }

    /// Instantiate and call `render`.
    pub async fn render(
        &self,
        store: &mut Store<State>,
        tree: Resource<TreeHandle>,
        request: &RenderRequest,
    ) -> wasmtime::Result<Result<RenderOutput, RenderError>> {
        match self {
            AnyRendererPre::V0_3(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .call_render(store, tree, request)
                    .await
            }
            AnyRendererPre::V0_2(pre) => {
                pre.instantiate_async(&mut *store)
                    .await?
                    .call_render(store, tree, request)
                    .await
            }
            AnyRendererPre::V0_1(pre) => {
                let req = old::renderer_types::RenderRequest {
                    path: request.path.clone(),
                    params: request
                        .params
                        .iter()
                        .map(|p| old::renderer_types::Param {
                            name: p.name.clone(),
                            value: p.value.clone(),
                        })
                        .collect(),
                    params_json: request.params_json.clone(),
                    context: old::types::Context {
                        app_name: request.context.app_name.clone(),
                        destination_namespace: request.context.destination_namespace.clone(),
                        revision: request.context.revision.clone(),
                        repo_url: request.context.repo_url.clone(),
                        cluster_version: request.context.cluster_version.clone(),
                        api_versions: request.context.api_versions.clone(),
                    },
                };
                let out = pre
                    .instantiate_async(&mut *store)
                    .await?
                    .call_render(store, tree, &req)
                    .await?;
                Ok(match out {
                    Ok(o) => Ok(RenderOutput {
                        objects: o
                            .objects
                            .into_iter()
                            .map(|o| RenderedObject {
                                json: o.json,
                                origin: o.origin.map(|g| Origin {
                                    file: g.file,
                                    index: g.index,
                                }),
                                sensitive_paths: Vec::new(),
                            })
                            .collect(),
                        results: o.results.into_iter().map(diagnostic).collect(),
                    }),
                    Err(e) => Err(RenderError {
                        message: e.message,
                        results: e.results.into_iter().map(diagnostic).collect(),
                    }),
                })
            }
        }
    }
}

fn diagnostic(d: old::types::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: match d.severity {
            old::types::Severity::Error => Severity::Error,
            old::types::Severity::Warning => Severity::Warning,
            old::types::Severity::Info => Severity::Info,
        },
        message: d.message,
        resource_ref: d.resource_ref.map(|r| ResourceRef {
            api_version: r.api_version,
            kind: r.kind,
            name: r.name,
            namespace: r.namespace,
        }),
        file: d.file.map(|f| FileRef {
            path: f.path,
            index: f.index,
            line: f.line,
            column: f.column,
        }),
        field: d.field,
    }
}

fn old_tree_error(e: TreeError) -> old::source::TreeError {
    use old::source::TreeError as O;
    match e {
        TreeError::NotFound(s) => O::NotFound(s),
        TreeError::OutsideRoot(s) => O::OutsideRoot(s),
        TreeError::IsDirectory(s) => O::IsDirectory(s),
        TreeError::NotDirectory(s) => O::NotDirectory(s),
        TreeError::Unsupported(s) => O::Unsupported(s),
        TreeError::TooLarge(s) => O::TooLarge(s),
        TreeError::Io(s) => O::Io(s),
    }
}

fn old_entry(e: Entry) -> old::source::Entry {
    old::source::Entry {
        name: e.name,
        kind: match e.kind {
            EntryKind::File => old::source::EntryKind::File,
            EntryKind::Directory => old::source::EntryKind::Directory,
            EntryKind::Submodule => old::source::EntryKind::Submodule,
        },
        size: e.size,
    }
}

// The 0.2 imports, each delegating to its 0.3 twin (same types but for
// the tree's own error and entry).
mod old2 {
    pub use super::v0_2::sluice::plugin::*;
}

fn v2_tree_error(e: TreeError) -> old2::source::TreeError {
    use old2::source::TreeError as O;
    match e {
        TreeError::NotFound(s) => O::NotFound(s),
        TreeError::OutsideRoot(s) => O::OutsideRoot(s),
        TreeError::IsDirectory(s) => O::IsDirectory(s),
        TreeError::NotDirectory(s) => O::NotDirectory(s),
        TreeError::Unsupported(s) => O::Unsupported(s),
        TreeError::TooLarge(s) => O::TooLarge(s),
        TreeError::Io(s) => O::Io(s),
    }
}

fn v2_entry(e: Entry) -> old2::source::Entry {
    old2::source::Entry {
        name: e.name,
        kind: match e.kind {
            EntryKind::File => old2::source::EntryKind::File,
            EntryKind::Directory => old2::source::EntryKind::Directory,
            EntryKind::Submodule => old2::source::EntryKind::Submodule,
        },
        size: e.size,
    }
}

impl old2::source::HostTree for State {
    async fn read(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<Vec<u8>, old2::source::TreeError> {
        sluice::plugin::source::HostTree::read(self, r, path)
            .await
            .map_err(v2_tree_error)
    }
    async fn list(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<Vec<old2::source::Entry>, old2::source::TreeError> {
        sluice::plugin::source::HostTree::list(self, r, path)
            .await
            .map(|v| v.into_iter().map(v2_entry).collect())
            .map_err(v2_tree_error)
    }
    async fn stat(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<old2::source::Entry, old2::source::TreeError> {
        sluice::plugin::source::HostTree::stat(self, r, path)
            .await
            .map(v2_entry)
            .map_err(v2_tree_error)
    }
    async fn drop(&mut self, r: Resource<TreeHandle>) -> wasmtime::Result<()> {
        sluice::plugin::source::HostTree::drop(self, r).await
    }
}
impl old2::source::Host for State {}
impl old2::log::Host for State {
    fn log(&mut self, level: old2::log::Level, message: String) {
        let level = match level {
            old2::log::Level::Debug => Level::Debug,
            old2::log::Level::Info => Level::Info,
            old2::log::Level::Warn => Level::Warn,
            old2::log::Level::Error => Level::Error,
        };
        sluice::plugin::log::Host::log(self, level, message)
    }
}

// The 0.1 imports, each delegating to its 0.3 twin.
impl old::source::HostTree for State {
    async fn read(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<Vec<u8>, old::source::TreeError> {
        sluice::plugin::source::HostTree::read(self, r, path)
            .await
            .map_err(old_tree_error)
    }
    async fn list(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<Vec<old::source::Entry>, old::source::TreeError> {
        sluice::plugin::source::HostTree::list(self, r, path)
            .await
            .map(|v| v.into_iter().map(old_entry).collect())
            .map_err(old_tree_error)
    }
    async fn stat(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<old::source::Entry, old::source::TreeError> {
        sluice::plugin::source::HostTree::stat(self, r, path)
            .await
            .map(old_entry)
            .map_err(old_tree_error)
    }
    async fn drop(&mut self, r: Resource<TreeHandle>) -> wasmtime::Result<()> {
        sluice::plugin::source::HostTree::drop(self, r).await
    }
}
impl old::source::Host for State {}
impl old::types::Host for State {}
impl old::renderer_types::Host for State {}
impl old::log::Host for State {
    fn log(&mut self, level: old::log::Level, message: String) {
        let level = match level {
            old::log::Level::Debug => Level::Debug,
            old::log::Level::Info => Level::Info,
            old::log::Level::Warn => Level::Warn,
            old::log::Level::Error => Level::Error,
        };
        sluice::plugin::log::Host::log(self, level, message)
    }
}
