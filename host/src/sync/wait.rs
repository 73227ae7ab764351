//! Waiting for objects to be Healthy: between waves, for hooks, and for
//! `sluice sync --wait` / `sluice wait`.
//!
//! Two halves:
//! - [`wait_healthy`] consumes a stream of live-object updates and decides:
//!   every object Healthy, one of them failed for good (a Job or a Pod that
//!   failed), or the deadline passed, listing every object that is not
//!   Healthy with its health message. It reacts to each update as it comes:
//!   no polling, no fixed delay between waves.
//! - The updates come from the target ([`Target::watch`]): watching
//!   belongs to the target, so this module never talks to an API server.
//!   [`wait_for`] joins the two. A target that cannot watch makes
//!   [`wait_for`] fail at once with the target's reason; nothing is ever
//!   skipped silently.

use crate::health::{Health, HealthStatus, assess};
use crate::object::{Object, ObjectId};
use crate::target::{Target, WatchError};
use futures::stream::{Stream, StreamExt as _};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One update: the live state of an object (`None`: it does not exist).
pub type Update = crate::target::LiveUpdate;

/// The error returned by [`wait_healthy`] and the update sources.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed with objects not Healthy.
    #[error("timed out after {}s waiting for {}", timeout.as_secs(), list(pending))]
    Timeout {
        /// How long we waited.
        timeout: Duration,
        /// Every object that is not Healthy, with its health.
        pending: Vec<(ObjectId, Health)>,
    },
    /// An object failed for good (a failed Job or Pod).
    #[error("{id} failed: {health}")]
    Failed {
        /// The object.
        id: Box<ObjectId>,
        /// Its health.
        health: Health,
    },
    /// The target reports no further changes and objects are not Healthy.
    #[error(
        "{} will not become Healthy: the target does not change objects by itself",
        list(pending)
    )]
    Unchanging {
        /// Every object that is not Healthy, with its health.
        pending: Vec<(ObjectId, Health)>,
    },
    /// The objects could not be watched (the target cannot watch, or an
    /// object's kind could not be resolved or watched).
    #[error(transparent)]
    Watch(#[from] WatchError),
}

impl WaitError {
    /// The objects this error is about, with their health when known.
    pub fn blocking(&self) -> Vec<(ObjectId, Option<Health>)> {
        match self {
            WaitError::Timeout { pending, .. } | WaitError::Unchanging { pending } => pending
                .iter()
                .map(|(i, h)| (i.clone(), Some(h.clone())))
                .collect(),
            WaitError::Failed { id, health } => vec![((**id).clone(), Some(health.clone()))],
            WaitError::Watch(WatchError::Object { id, .. }) => vec![((**id).clone(), None)],
            WaitError::Watch(WatchError::Unsupported { .. }) => Vec::new(),
        }
    }
}

fn list(pending: &[(ObjectId, Health)]) -> String {
    pending
        .iter()
        .map(|(id, h)| format!("{id} ({h})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `health` of `live` is a failure nothing will fix: a Job that
/// failed, or a Pod in phase Failed. Other Degraded objects (a crash-looping
/// Pod, a Deployment past its deadline) may recover; they are waited for
/// until the deadline.
pub fn is_final_failure(live: &Value, health: &Health) -> bool {
    if health.status != HealthStatus::Degraded {
        return false;
    }
    match live.get("kind").and_then(Value::as_str) {
        Some("Job") => true,
        Some("Pod") => live.pointer("/status/phase").and_then(Value::as_str) == Some("Failed"),
        _ => false,
    }
}

/// Wait until every object of `ids` is Healthy according to `updates`.
///
/// `on_change` is told every health change (for a live display). Returns
/// the final health of each object, in the order of `ids`. Fails as soon
/// as an object fails for good, when `timeout` passes (listing every object
/// that is not Healthy), or when `updates` ends with objects not Healthy.
pub async fn wait_healthy<S>(
    ids: &[ObjectId],
    updates: S,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
) -> Result<Vec<(ObjectId, Health)>, WaitError>
where
    S: Stream<Item = Update>,
{
    let mut health: HashMap<&ObjectId, Health> = ids
        .iter()
        .map(|id| {
            (
                id,
                Health::new(HealthStatus::Unknown, "waiting for the first watch event"),
            )
        })
        .collect();
    let pending = |health: &HashMap<&ObjectId, Health>| -> Vec<(ObjectId, Health)> {
        ids.iter()
            .filter_map(|id| {
                let h = &health[id];
                (!h.is_healthy()).then(|| (id.clone(), h.clone()))
            })
            .collect()
    };
    let done = |health: &HashMap<&ObjectId, Health>| -> Vec<(ObjectId, Health)> {
        ids.iter()
            .map(|id| (id.clone(), health[id].clone()))
            .collect()
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut updates = std::pin::pin!(updates);
    loop {
        let next = tokio::time::timeout_at(deadline, updates.next()).await;
        let (id, live) = match next {
            Err(_elapsed) => {
                return Err(WaitError::Timeout {
                    timeout,
                    pending: pending(&health),
                });
            }
            Ok(None) => {
                return Err(WaitError::Unchanging {
                    pending: pending(&health),
                });
            }
            Ok(Some(update)) => update?,
        };
        let Some(slot) = health.get_mut(&id) else {
            continue;
        };
        let h = match &live {
            Some(v) => assess(v),
            None => Health::missing(),
        };
        if let Some(v) = &live
            && is_final_failure(v, &h)
        {
            on_change(&id, &h);
            return Err(WaitError::Failed {
                id: Box::new(id),
                health: h,
            });
        }
        if *slot != h {
            on_change(&id, &h);
            *slot = h;
        }
        if health.values().all(Health::is_healthy) {
            return Ok(done(&health));
        }
    }
}

/// Wait until every object of `objects` (namespaces defaulted) is Healthy,
/// watching them through `target`; see [`wait_healthy`]. Fails at once
/// when the target cannot watch.
pub async fn wait_for<T: Target>(
    target: &T,
    objects: &[Object],
    timeout: Duration,
    on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
) -> Result<Vec<(ObjectId, Health)>, WaitError> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<ObjectId> = objects.iter().map(|o| o.id.clone()).collect();
    let updates = target.watch(objects).await?;
    wait_healthy(&ids, updates, timeout, on_change).await
}

/// How long is left until `deadline` (zero when passed).
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
