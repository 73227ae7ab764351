//! Flux `dependsOn`: a Kustomization is applied only once the ones it
//! depends on are Ready.
//!
//! Flux calls a Kustomization Ready when its last apply succeeded and its
//! objects are healthy; here, when the app it stands for is Synced and
//! Healthy. An operation on an app with an unready dependency does
//! nothing but say so (condition `DependencyNotReady`, naming the
//! dependency and where it stands); every status change of an app wakes
//! the apps waiting on it, so the wait costs no polling and `--once`
//! works through a chain in order. A dependency that is not an app of the
//! service is reported the same way (Flux: "dependency not found").

use super::queue::{Request, Trigger};
use super::service::Service;
use super::status::{AppStatus, SyncStatus};
use crate::app::Application;

/// The condition an app waiting on a dependency carries.
pub const CONDITION: &str = "DependencyNotReady";

/// `namespace/name` of an app, as `dependsOn` refers to it.
fn key(name: &str, app: &Application) -> String {
    let ns = app
        .flux
        .as_ref()
        .map(|f| f.namespace.clone())
        .unwrap_or_else(|| "default".into());
    format!("{ns}/{name}")
}

fn ready(s: &AppStatus) -> bool {
    s.sync == SyncStatus::Synced && s.health == "Healthy"
}

/// Why `app` (called `name`) must wait, if one of its dependencies is not
/// Ready.
pub fn unready(svc: &Service, name: &str, app: &Application) -> Option<String> {
    let deps = app.flux.as_ref().map(|f| f.depends_on.as_slice())?;
    if deps.is_empty() {
        return None;
    }
    let apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
    for dep in deps {
        let found = apps
            .iter()
            .find(|(n, e)| e.app.as_ref().is_ok_and(|a| key(n, a) == *dep));
        let why = match found {
            None => format!("dependency {dep} is not an app of this service"),
            Some((_, e)) if !ready(&e.status) => format!(
                "dependency {dep} is not ready (sync {:?}, health {})",
                e.status.sync,
                if e.status.health.is_empty() {
                    "Unknown"
                } else {
                    e.status.health.as_str()
                }
            ),
            Some(_) => continue,
        };
        return Some(format!(
            "app {name}: {why}; it is applied once {dep} is Synced and Healthy"
        ));
    }
    None
}

/// `name`'s status changed: queue the apps waiting on it.
pub fn wake(svc: &Service, name: &str) {
    let waiting: Vec<String> = {
        let apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        let Some(me) = apps
            .get(name)
            .and_then(|e| e.app.as_ref().ok().map(|a| key(name, a)))
        else {
            return;
        };
        apps.iter()
            .filter(|(_, e)| e.status.conditions.iter().any(|c| c.kind == CONDITION))
            .filter(|(_, e)| {
                e.app
                    .as_ref()
                    .is_ok_and(|a| a.flux.as_ref().is_some_and(|f| f.depends_on.contains(&me)))
            })
            .map(|(n, _)| n.clone())
            .collect()
    };
    for n in waiting {
        svc.inner.queue.push(&n, Request::new(Trigger::AppChanged));
    }
}
