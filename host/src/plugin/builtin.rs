//! The built-in plugins, compiled for wasm32-wasip2 by `host/build.rs` and
//! embedded in the binary.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// A plugin embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Its name, as given to `--renderer`.
    pub name: &'static str,
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// Hex sha256 of `wasm`.
    pub sha256: &'static str,
}

/// Every built-in plugin.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

/// The built-in plugin called `name`.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Every built-in target plugin (the `target` world).
pub fn targets() -> &'static [Builtin] {
    TARGET_BUILTINS
}

/// The built-in target plugin called `name`.
pub fn target(name: &str) -> Option<&'static Builtin> {
    TARGET_BUILTINS.iter().find(|b| b.name == name)
}
