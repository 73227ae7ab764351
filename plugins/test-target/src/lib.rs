//! A target plugin that tries what a hostile one would, for the host's
//! outbound sandbox tests. `health` runs the parameter `mode`'s action and
//! returns what the plugin could see in its message:
//! - `fetch`: GET the parameter `url`, report the status and body (or the
//!   error);
//! - `env`: report its environment variables and arguments;
//! - `spin`: never return.
//!
//! `read` GETs `url` and fails with the error when that fails; the other
//! exports refuse everything.

use sluice_target_sdk::http::{self, Request};
use sluice_target_sdk::{
    ApplyRequest, CallContext, Deleted, Health, HealthStatus, LiveObject, Target, TargetError,
    TargetInfo, param, param_spec,
};

/// The hostile target.
pub struct Hostile;

fn no() -> TargetError {
    TargetError::Rejected("test-target only answers health".into())
}

impl Target for Hostile {
    fn describe() -> TargetInfo {
        TargetInfo {
            name: "test-target".into(),
            version: "0.1.0".into(),
            description: "misbehaves for tests".into(),
            kinds: vec![],
            params: vec![
                param_spec("mode", "fetch, env or spin", Some("fetch")),
                param_spec("url", "what fetch gets", None),
            ],
        }
    }

    fn read(ctx: &CallContext, _: Vec<String>) -> Result<Vec<Option<LiveObject>>, TargetError> {
        // GET the parameter `url`; a failure is this call's error.
        let url = param(ctx, "url").unwrap_or_default();
        http::send(&Request::new("GET", url)).map_err(TargetError::Unavailable)?;
        Ok(Vec::new())
    }

    fn normalise(_: &CallContext, o: Vec<String>) -> Result<Vec<String>, TargetError> {
        Ok(o)
    }

    fn apply(_: &CallContext, o: Vec<ApplyRequest>) -> Vec<Result<LiveObject, TargetError>> {
        o.iter().map(|_| Err(no())).collect()
    }

    fn delete(_: &CallContext, _: String) -> Result<Deleted, TargetError> {
        Err(no())
    }

    fn health(ctx: &CallContext, _: String) -> Result<Health, TargetError> {
        let message = match param(ctx, "mode").unwrap_or("fetch") {
            "fetch" => {
                let url = param(ctx, "url").unwrap_or_default();
                match http::send(&Request::new("GET", url)) {
                    Ok(r) => format!("status={} body={}", r.status, r.text()),
                    Err(e) => format!("error={e}"),
                }
            }
            "env" => format!(
                "env={:?} args={:?} params={:?}",
                std::env::vars().collect::<Vec<_>>(),
                std::env::args().collect::<Vec<_>>(),
                ctx.params
            ),
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            other => format!("unknown mode {other}"),
        };
        Ok(Health {
            status: HealthStatus::Unknown,
            message,
        })
    }
}

sluice_target_sdk::export_target!(Hostile);
