//! sluice: a GitOps sync host with sandboxed WebAssembly renderer plugins.
//!
//! Data flows through one module per stage, each with one public entry:
//! [`source`] (where files come from) → [`plugin`] (the sandboxed Wasm
//! runtime) → [`render`] (pick a renderer, call it, check its output) →
//! [`object`] (the desired-object model).

pub mod app;
pub mod diff;
pub mod engine;
pub mod health;
pub mod object;
pub mod plugin;
pub mod render;
pub mod serve;
pub mod source;
pub mod sync;
pub mod target;
