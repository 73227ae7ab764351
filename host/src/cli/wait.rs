//! `sluice wait`: wait until an already-synced app is Healthy.
//!
//! Renders the app like `sync` (nothing is applied), then watches its
//! objects (hooks and `Skip` objects left out) until every one is Healthy
//! or `--timeout` passes. Prints one line per health change, then a table
//! `KIND NAMESPACE NAME HEALTH MESSAGE`; on timeout it names every object
//! that is not Healthy and exits 1.

use super::sync::{AnyTarget, AppArgs, connect, prepare, runtime};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Global};
use sluice::health::Health;
use sluice::object::{Object, ObjectId};
use sluice::sync::wait::{self, WaitError};
use sluice::sync::waves::Waves;
use sluice::target::{Scope, Target};
use std::io::Write as _;
use std::time::Duration;

/// Arguments of `sluice wait`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app and the target.
    #[command(flatten)]
    pub app: AppArgs,
    /// How long to wait: 90s, 5m, 1h.
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    pub timeout: Duration,
}

/// Give namespaced objects without a namespace the destination namespace,
/// as `sync` does.
fn default_namespaces<T: Target>(target: &T, objects: &mut [Object], ns: &str) {
    for o in objects {
        let scope = target
            .scope(&o.api_version, &o.id.kind)
            .unwrap_or(Scope::Namespaced);
        if scope == Scope::Namespaced && o.id.namespace.is_none() {
            o.id.namespace = Some(ns.to_string());
            if let Some(meta) = o.value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.insert("namespace".into(), ns.into());
            }
        } else if scope == Scope::Cluster {
            o.id.namespace = None;
        }
    }
}

async fn wait_on<T: Target>(
    target: &T,
    mut objects: Vec<Object>,
    ns: &str,
    timeout: Duration,
) -> anyhow::Result<Result<Vec<(ObjectId, Health)>, WaitError>> {
    target.discover().await?;
    default_namespaces(target, &mut objects, ns);
    let (members, _) = Waves::split(objects)?;
    let mut on_change = |id: &ObjectId, h: &Health| eprintln!("{id}: {h}");
    Ok(wait::wait_for(target, &members, timeout, &mut on_change).await)
}

/// Run `sluice wait`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    let mut prepared = match prepare(&args.app, global) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let ns = prepared.options.namespace.clone();
    let app = prepared.options.app.clone();
    let destination = prepared.destination.clone();
    let result = runtime()?.block_on(async {
        let target = connect(&destination).await?;
        super::sync::substitute(&target, &mut prepared).await?;
        match &target {
            AnyTarget::Dir(t) => wait_on(t, prepared.objects, &ns, args.timeout).await,
            AnyTarget::Kube(t) => wait_on(t.as_ref(), prepared.objects, &ns, args.timeout).await,
        }
    });
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: app {app}: {e:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let mut out = std::io::stdout().lock();
    match result {
        Ok(healths) => {
            print(&mut out, healths.into_iter().map(|(i, h)| (i, Some(h))))?;
            writeln!(out, "app {app}: Healthy")?;
            Ok(EXIT_OK)
        }
        Err(e) => {
            print(&mut out, e.blocking().into_iter())?;
            eprintln!("error: app {app}: {}", sluice::error_chain(&e));
            Ok(EXIT_FAILED)
        }
    }
}

fn print(
    out: &mut impl std::io::Write,
    rows: impl Iterator<Item = (ObjectId, Option<Health>)>,
) -> std::io::Result<()> {
    writeln!(out, "KIND\tNAMESPACE\tNAME\tHEALTH\tMESSAGE")?;
    for (id, h) in rows {
        let (status, message) = h.map_or((String::from("Unknown"), String::new()), |h| {
            (h.status.to_string(), h.message)
        });
        writeln!(
            out,
            "{}\t{}\t{}\t{status}\t{message}",
            id.kind,
            id.namespace.unwrap_or_default(),
            id.name
        )?;
    }
    Ok(())
}
