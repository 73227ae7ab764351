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

/// An error and its causes on one line, `outer: cause: root cause`, the way
/// the CLI prints errors. Every error type in sluice keeps its cause as a
/// `#[source]` and leaves it out of its own message, so each cause appears
/// exactly once here.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod error_chain_tests {
    use super::error_chain;

    #[test]
    fn each_cause_appears_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = crate::render::RenderError::ReadPlugin {
            app: "web".into(),
            path: "p.wasm".into(),
            source: io,
        };
        assert_eq!(
            error_chain(&e),
            "app web: cannot read plugin file p.wasm: no such file"
        );
        let e =
            crate::app::load(std::path::Path::new("/nonexistent/app.yaml")).expect_err("no file");
        let text = error_chain(&e);
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
        assert!(text.starts_with("cannot read application file /nonexistent/app.yaml: "));
    }
}
