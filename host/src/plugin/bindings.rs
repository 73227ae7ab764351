//! Host bindings generated from `wit/plugin.wit` (world `renderer`).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "renderer",
    with: {
        "sluice:plugin/source.tree": super::sandbox::TreeHandle,
    },
});

pub use self::sluice::plugin::log::Level;
pub use self::sluice::plugin::renderer_types::{Origin, Param, RenderedObject};
pub use self::sluice::plugin::source::{Entry, EntryKind, TreeError};
pub use self::sluice::plugin::types::{
    Context, Diagnostic, FileRef, ParamSpec, ResourceRef, Severity,
};
