//! Host bindings generated from `wit/plugin.wit` (world `renderer`).
//!
//! Exports are called `async` (every call runs under a deadline, see the
//! module docs of [`super`]); the `tree` methods are `async` host functions
//! so that a tree that blocks does not hold the call past its deadline.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "renderer",
    imports: {
        "sluice:plugin/source": async,
    },
    exports: { default: async },
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
