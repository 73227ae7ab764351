//! Guest-side helpers for writing sluice target plugins in Rust.
//!
//! A target plugin applies objects of the kinds it declares to one system
//! (see `wit/target.wit`). It is a type implementing [`Target`] plus one
//! [`export_target!`] line; it talks to its system with [`http::send`],
//! which goes out through `wasi:http` and only to the origins the Target
//! declaration allows (the host adds the credentials).
//!
//! ```ignore
//! use sluice_target_sdk::*;
//!
//! struct Flags;
//!
//! impl Target for Flags {
//!     fn describe() -> TargetInfo { /* name, kinds, params */ }
//!     fn read(ctx: &CallContext, objects: Vec<String>) -> Result<Vec<Option<LiveObject>>, TargetError> { /* GET */ }
//!     fn normalise(ctx: &CallContext, objects: Vec<String>) -> Result<Vec<String>, TargetError> { Ok(objects) }
//!     fn apply(ctx: &CallContext, objects: Vec<ApplyRequest>) -> Vec<Result<LiveObject, TargetError>> { /* PUT each, marked ctx.owner */ }
//!     fn delete(ctx: &CallContext, object: String) -> Result<Deleted, TargetError> { /* DELETE if marked */ }
//!     fn health(ctx: &CallContext, object: String) -> Result<Health, TargetError> { Ok(healthy()) }
//! }
//!
//! sluice_target_sdk::export_target!(Flags);
//! ```

pub mod http;

/// The bindings generated from `wit/target.wit` (world `target`,
/// `sluice:plugin@0.3.0`).
#[allow(missing_docs)]
#[allow(
    clippy::too_many_arguments,
    reason = "generated glue for the world's exports"
)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "target",
        path: "../../wit",
        default_bindings_module: "sluice_target_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_target_world",
    });
}

pub use bindings::sluice::plugin::log::Level;
pub use bindings::sluice::plugin::target_types::{
    ApplyRequest, CallContext, Deleted, Health, HealthStatus, KindSpec, LastRead, LiveObject,
    Setting, TargetError, TargetInfo,
};
pub use bindings::sluice::plugin::types::ParamSpec;

/// A target plugin: implement this and call [`export_target!`]. Each
/// function is one export of the `target` world (see its documentation
/// there).
pub trait Target {
    /// Name, version, kinds and parameters.
    fn describe() -> TargetInfo;
    /// The live state of `objects`, in order.
    fn read(
        ctx: &CallContext,
        objects: Vec<String>,
    ) -> Result<Vec<Option<LiveObject>>, TargetError>;
    /// The comparable form of each object, in order.
    fn normalise(ctx: &CallContext, objects: Vec<String>) -> Result<Vec<String>, TargetError>;
    /// Create or update objects, marked with `ctx.owner`; one answer per
    /// object, in order. [`apply_each`] does them one by one.
    fn apply(ctx: &CallContext, objects: Vec<ApplyRequest>)
    -> Vec<Result<LiveObject, TargetError>>;
    /// Delete one object if it carries `ctx.owner`'s mark.
    fn delete(ctx: &CallContext, object: String) -> Result<Deleted, TargetError>;
    /// The health of one live object.
    fn health(ctx: &CallContext, object: String) -> Result<Health, TargetError>;
}

/// Apply `objects` one at a time with `f` (for targets that cannot write
/// several objects in one request).
pub fn apply_each(
    objects: Vec<ApplyRequest>,
    mut f: impl FnMut(String, LastRead) -> Result<LiveObject, TargetError>,
) -> Vec<Result<LiveObject, TargetError>> {
    objects.into_iter().map(|r| f(r.object, r.last)).collect()
}

/// The value of parameter `name` in the call's context, if set.
pub fn param<'a>(ctx: &'a CallContext, name: &str) -> Option<&'a str> {
    ctx.params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// A [`ParamSpec`].
pub fn param_spec(name: &str, description: &str, default: Option<&str>) -> ParamSpec {
    ParamSpec {
        name: name.to_string(),
        description: description.to_string(),
        default: default.map(str::to_string),
    }
}

/// A healthy [`Health`].
pub fn healthy() -> Health {
    Health {
        status: HealthStatus::Healthy,
        message: String::new(),
    }
}

/// Write a message to the host's log (a no-op outside Wasm).
pub fn log(level: Level, message: &str) {
    #[cfg(target_family = "wasm")]
    bindings::sluice::plugin::log::log(level, message);
    #[cfg(not(target_family = "wasm"))]
    let _ = (level, message);
}

/// A human sentence for a [`TargetError`].
pub fn error_message(e: &TargetError) -> String {
    match e {
        TargetError::Invalid(m) => format!("invalid: {m}"),
        TargetError::Rejected(m) => format!("rejected: {m}"),
        TargetError::NotOwned(m) => format!("not owned: {m}"),
        TargetError::Unavailable(m) => format!("unavailable: {m}"),
    }
}

/// Export a [`Target`] implementation as the plugin's `target` world.
///
/// Only in Wasm builds: the world's exports are plain core names (`read`,
/// `apply`, ...), which in a native build (the plugin's unit tests) would
/// replace the C library's functions of the same name.
#[macro_export]
macro_rules! export_target {
    ($ty:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
        #[doc(hidden)]
        struct __SluiceTargetExport;

        impl $crate::bindings::Guest for __SluiceTargetExport {
            fn describe() -> $crate::TargetInfo {
                <$ty as $crate::Target>::describe()
            }
            fn read(
                ctx: $crate::CallContext,
                objects: ::std::vec::Vec<::std::string::String>,
            ) -> ::core::result::Result<
                ::std::vec::Vec<::core::option::Option<$crate::LiveObject>>,
                $crate::TargetError,
            > {
                <$ty as $crate::Target>::read(&ctx, objects)
            }
            fn normalise(
                ctx: $crate::CallContext,
                objects: ::std::vec::Vec<::std::string::String>,
            ) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::TargetError>
            {
                <$ty as $crate::Target>::normalise(&ctx, objects)
            }
            fn apply(
                ctx: $crate::CallContext,
                objects: ::std::vec::Vec<$crate::ApplyRequest>,
            ) -> ::std::vec::Vec<::core::result::Result<$crate::LiveObject, $crate::TargetError>> {
                <$ty as $crate::Target>::apply(&ctx, objects)
            }
            fn delete(
                ctx: $crate::CallContext,
                object: ::std::string::String,
            ) -> ::core::result::Result<$crate::Deleted, $crate::TargetError> {
                <$ty as $crate::Target>::delete(&ctx, object)
            }
            fn health(
                ctx: $crate::CallContext,
                object: ::std::string::String,
            ) -> ::core::result::Result<$crate::Health, $crate::TargetError> {
                <$ty as $crate::Target>::health(&ctx, object)
            }
        }

        $crate::bindings::__export_target_world!(__SluiceTargetExport with_types_in $crate::bindings);
        };
    };
}
