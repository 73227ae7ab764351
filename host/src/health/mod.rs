//! Health of a live object, in Argo CD's words. Pure, no I/O.
//!
//! [`assess`] looks at one live object (its JSON, `status` included) and
//! says whether it is Healthy, Progressing, Degraded, Suspended or Unknown,
//! with a message saying why. Built-in rules, modelled on Argo CD's
//! gitops-engine health checks, cover Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Pod, Job, CronJob, PersistentVolumeClaim, Service, Ingress,
//! APIService, CustomResourceDefinition, Namespace and
//! HorizontalPodAutoscaler. Any other kind is judged by the kstatus rules
//! (observedGeneration against generation, then the `Stalled`,
//! `Reconciling` and `Ready` conditions), and an object without `status` is
//! Healthy. An object that does not exist is [`Health::missing`].
//!
//! ```
//! use sluice::health::{assess, HealthStatus};
//! let job = serde_json::json!({
//!     "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
//!     "status": {"conditions": [{"type": "Complete", "status": "True"}]}
//! });
//! assert_eq!(assess(&job).status, HealthStatus::Healthy);
//! ```

mod services;
mod workloads;

use serde_json::Value;
use std::fmt;

/// How healthy an object is (Argo CD's health statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Doing what it should.
    Healthy,
    /// Not yet healthy, still getting there.
    Progressing,
    /// Failed, or cannot get healthy without a change.
    Degraded,
    /// Paused or suspended on purpose.
    Suspended,
    /// Does not exist.
    Missing,
    /// Its health cannot be told.
    Unknown,
}

impl HealthStatus {
    /// Argo CD's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Missing => "Missing",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Argo CD's order, best to worst: Healthy, Suspended, Progressing,
    /// Missing, Degraded, Unknown. An app's health is its worst object's.
    fn badness(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Suspended => 1,
            HealthStatus::Progressing => 2,
            HealthStatus::Missing => 3,
            HealthStatus::Degraded => 4,
            HealthStatus::Unknown => 5,
        }
    }

    /// Whether `self` is worse than `other` (for an app's overall health).
    pub fn is_worse_than(self, other: HealthStatus) -> bool {
        self.badness() > other.badness()
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health of one object and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The status.
    pub status: HealthStatus,
    /// Why, in a few words; may be empty when Healthy.
    pub message: String,
}

impl Health {
    /// A health with a message.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        Health {
            status,
            message: message.into(),
        }
    }

    /// Healthy, with a message.
    pub fn healthy(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Healthy, message)
    }

    /// Progressing, with a message.
    pub fn progressing(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Progressing, message)
    }

    /// Degraded, with a message.
    pub fn degraded(message: impl Into<String>) -> Health {
        Health::new(HealthStatus::Degraded, message)
    }

    /// The health of an object that does not exist.
    pub fn missing() -> Health {
        Health::new(HealthStatus::Missing, "object does not exist")
    }

    /// Whether it is Healthy.
    pub fn is_healthy(&self) -> bool {
        self.status == HealthStatus::Healthy
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

/// The worst of several healths (an app's health); Healthy when empty.
pub fn worst<'a>(healths: impl IntoIterator<Item = &'a Health>) -> HealthStatus {
    healths
        .into_iter()
        .map(|h| h.status)
        .fold(HealthStatus::Healthy, |a, b| {
            if b.is_worse_than(a) { b } else { a }
        })
}

/// Assess the health of one live object.
pub fn assess(obj: &Value) -> Health {
    let group = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g);
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => workloads::deployment(obj),
        ("apps", "StatefulSet") => workloads::statefulset(obj),
        ("apps" | "extensions", "DaemonSet") => workloads::daemonset(obj),
        ("apps" | "extensions", "ReplicaSet") => workloads::replicaset(obj),
        ("", "Pod") => workloads::pod(obj),
        ("batch", "Job") => workloads::job(obj),
        ("batch", "CronJob") => workloads::cronjob(obj),
        ("", "PersistentVolumeClaim") => services::pvc(obj),
        ("", "Service") => services::service(obj),
        ("networking.k8s.io" | "extensions", "Ingress") => services::ingress(obj),
        ("apiregistration.k8s.io", "APIService") => services::apiservice(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => services::crd(obj),
        ("", "Namespace") => services::namespace(obj),
        ("sluice.dev" | "argoproj.io", "Application") => application(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => services::hpa(obj),
        _ => kstatus(obj),
    }
}

/// The kstatus rules, for kinds without a built-in rule.
pub fn kstatus(obj: &Value) -> Health {
    let Some(status) = obj.get("status").filter(|s| !s.is_null()) else {
        return Health::healthy("");
    };
    if let Some(h) = generation_lag(obj) {
        return h;
    }
    if let Some(c) = condition(status, "Stalled").filter(|c| c.is_true()) {
        return Health::degraded(c.describe("stalled"));
    }
    if let Some(c) = condition(status, "Reconciling").filter(|c| c.is_true()) {
        return Health::progressing(c.describe("reconciling"));
    }
    match condition(status, "Ready") {
        Some(c) if c.is_true() => Health::healthy(c.message),
        Some(c) => Health::progressing(c.describe("not ready")),
        None => Health::healthy(""),
    }
}

/// An Application (app of apps): the health its controller reports,
/// `status.health` (sluice) or `status.health.status` (Argo CD); Progressing
/// until it reports one, so a wave of child apps waits for them.
fn application(obj: &Value) -> Health {
    let h = obj
        .pointer("/status/health/status")
        .or_else(|| obj.pointer("/status/health"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let sync = obj
        .pointer("/status/sync/status")
        .or_else(|| obj.pointer("/status/sync"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match h {
        "Healthy" if sync == "Synced" => Health::healthy(""),
        "Healthy" => Health::progressing(format!("the app is {sync}, not Synced yet")),
        "Degraded" => Health::degraded("the app is Degraded"),
        "Suspended" => Health::new(HealthStatus::Suspended, "the app is suspended"),
        "Missing" => Health::progressing("the app's objects are Missing"),
        "" => Health::progressing("the app has no status yet"),
        other => Health::progressing(format!("the app is {other}")),
    }
}

/// Progressing when `status.observedGeneration` is behind
/// `metadata.generation` (the controller has not seen the last change).
fn generation_lag(obj: &Value) -> Option<Health> {
    let generation = int(obj, "/metadata/generation")?;
    let observed = int(obj, "/status/observedGeneration")?;
    (observed < generation).then(|| {
        Health::progressing(format!(
            "waiting for the controller to observe generation {generation} (observed {observed})"
        ))
    })
}

/// One entry of `status.conditions`.
#[derive(Debug, Clone, Copy)]
struct Condition<'a> {
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl Condition<'_> {
    fn is_true(&self) -> bool {
        self.status == "True"
    }

    /// `reason: message`, or `fallback` when both are empty.
    fn describe(&self, fallback: &str) -> String {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (true, true) => fallback.to_string(),
            (false, true) => self.reason.to_string(),
            (true, false) => self.message.to_string(),
            (false, false) => format!("{}: {}", self.reason, self.message),
        }
    }
}

/// The condition of type `kind` in `status.conditions`.
fn condition<'a>(status: &'a Value, kind: &str) -> Option<Condition<'a>> {
    conditions(status).find(|(t, _)| *t == kind).map(|(_, c)| c)
}

/// Every condition in `status.conditions`, with its type.
fn conditions(status: &Value) -> impl Iterator<Item = (&str, Condition<'_>)> {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            let t = c.get("type").and_then(Value::as_str)?;
            Some((
                t,
                Condition {
                    status: s("status"),
                    reason: s("reason"),
                    message: s("message"),
                },
            ))
        })
}

/// An integer at a JSON pointer.
fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// A string at a JSON pointer, `""` when absent.
fn string<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The object's `metadata.name`, for messages.
fn name(obj: &Value) -> &str {
    string(obj, "/metadata/name")
}

#[cfg(test)]
mod tests;
