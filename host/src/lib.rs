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
pub mod metrics;
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

/// Parse a duration as sluice's flags and Argo CD's fields write them:
/// `500ms`, `30s`, `2m`, `1h`, a bare number of seconds, or a sum such as
/// `1m30s`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty duration; write one like 30s, 2m or 500ms".into());
    }
    let mut total = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(split);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 30s, 2m or 500ms"))?;
        total += match unit {
            "ms" => n / 1000.0,
            "s" | "" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(format!("{s:?}: unknown unit {unit:?}; use ms, s, m or h")),
        };
        rest = next;
    }
    std::time::Duration::try_from_secs_f64(total).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod error_chain_tests {
    use super::error_chain;

    #[test]
    fn durations() {
        use std::time::Duration;
        let p = super::parse_duration;
        assert_eq!(p("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(p("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(p("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(p("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(p("7"), Ok(Duration::from_secs(7)));
        assert!(p("5 parsecs").expect_err("unit").contains("unknown unit"));
        assert!(p("").is_err() && p("m").is_err());
    }

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
