//! Health rules for workloads: Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Pod, Job, CronJob. Modelled on gitops-engine's
//! `health_*.go`, which borrow kubectl's `rollout status`.

use super::{Health, HealthStatus, condition, conditions, int, name, string};
use serde_json::Value;

/// `status.observedGeneration` is behind `metadata.generation` (missing
/// counts as 0).
fn not_observed(obj: &Value) -> bool {
    let generation = int(obj, "/metadata/generation").unwrap_or(0);
    let observed = int(obj, "/status/observedGeneration").unwrap_or(0);
    observed < generation
}

/// An integer in `status`, 0 when absent (Kubernetes omits zero counts).
fn count(obj: &Value, field: &str) -> i64 {
    obj.get("status")
        .and_then(|s| s.get(field))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Deployment: paused = Suspended; the `Progressing` condition with reason
/// `ProgressDeadlineExceeded` = Degraded; then updated, old and available
/// replicas like `kubectl rollout status`.
pub(super) fn deployment(obj: &Value) -> Health {
    let n = name(obj);
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Health::new(
            HealthStatus::Suspended,
            format!("Deployment {n:?} is paused"),
        );
    }
    if not_observed(obj) {
        return Health::progressing(
            "waiting for rollout to finish: the controller has not observed the latest generation",
        );
    }
    let status = obj.get("status").unwrap_or(&Value::Null);
    if condition(status, "Progressing").is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return Health::degraded(format!("Deployment {n:?} exceeded its progress deadline"));
    }
    let (updated, replicas, available) = (
        count(obj, "updatedReplicas"),
        count(obj, "replicas"),
        count(obj, "availableReplicas"),
    );
    if let Some(want) = int(obj, "/spec/replicas")
        && updated < want
    {
        return Health::progressing(format!(
            "waiting for rollout to finish: {updated} out of {want} new replicas have been updated"
        ));
    }
    if replicas > updated {
        return Health::progressing(format!(
            "waiting for rollout to finish: {} old replicas are pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "waiting for rollout to finish: {available} of {updated} updated replicas are available"
        ));
    }
    Health::healthy("")
}

/// StatefulSet: observed generation, ready replicas, partitioned rolling
/// update, then current against update revision.
pub(super) fn statefulset(obj: &Value) -> Health {
    if int(obj, "/status/observedGeneration").unwrap_or(0) == 0 || not_observed(obj) {
        return Health::progressing("waiting for statefulset spec update to be observed");
    }
    let ready = count(obj, "readyReplicas");
    let updated = count(obj, "updatedReplicas");
    let want = int(obj, "/spec/replicas");
    if let Some(want) = want
        && ready < want
    {
        return Health::progressing(format!("waiting for {} pods to be ready", want - ready));
    }
    let strategy = string(obj, "/spec/updateStrategy/type");
    if strategy == "OnDelete" {
        return Health::healthy(format!("statefulset has {ready} ready pods"));
    }
    // A partitioned rollout (partition > 0) is done once the pods above
    // the partition are updated; the revisions stay different on purpose.
    if let (Some(want), Some(partition)) = (
        want,
        int(obj, "/spec/updateStrategy/rollingUpdate/partition").filter(|p| *p > 0),
    ) {
        if updated < want - partition {
            return Health::progressing(format!(
                "waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated",
                want - partition
            ));
        }
        return Health::healthy(format!(
            "partitioned roll out complete: {updated} new pods have been updated"
        ));
    }
    let update_rev = string(obj, "/status/updateRevision");
    if update_rev != string(obj, "/status/currentRevision") {
        return Health::progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}"
        ));
    }
    Health::healthy(format!(
        "statefulset rolling update complete {} pods at revision {update_rev}",
        count(obj, "currentReplicas")
    ))
}

/// DaemonSet: observed generation, updated then available pods.
pub(super) fn daemonset(obj: &Value) -> Health {
    let n = name(obj);
    if int(obj, "/status/observedGeneration").unwrap_or(0) == 0 || not_observed(obj) {
        return Health::progressing(
            "waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let desired = count(obj, "desiredNumberScheduled");
    let updated = count(obj, "updatedNumberScheduled");
    let available = count(obj, "numberAvailable");
    if string(obj, "/spec/updateStrategy/type") == "OnDelete" {
        return Health::healthy(format!(
            "daemon set {updated} out of {desired} new pods have been updated"
        ));
    }
    if updated < desired {
        return Health::progressing(format!(
            "waiting for daemon set {n:?} rollout to finish: {updated} out of {desired} new pods have been updated"
        ));
    }
    if available < desired {
        return Health::progressing(format!(
            "waiting for daemon set {n:?} rollout to finish: {available} of {desired} updated pods are available"
        ));
    }
    Health::healthy("")
}

/// ReplicaSet: `ReplicaFailure` = Degraded, then available replicas.
pub(super) fn replicaset(obj: &Value) -> Health {
    if not_observed(obj) {
        return Health::progressing(
            "waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    let status = obj.get("status").unwrap_or(&Value::Null);
    if let Some(c) = condition(status, "ReplicaFailure").filter(|c| c.is_true()) {
        return Health::degraded(c.describe("replica failure"));
    }
    let available = count(obj, "availableReplicas");
    if let Some(want) = int(obj, "/spec/replicas")
        && available < want
    {
        return Health::progressing(format!(
            "waiting for rollout to finish: {available} out of {want} new replicas are available"
        ));
    }
    Health::healthy("")
}

/// Why a terminated container failed, if it did.
fn terminated_failure(ctr: &Value) -> Option<String> {
    let t = ctr.pointer("/state/terminated")?;
    let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
    let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
    let cname = ctr.get("name").and_then(Value::as_str).unwrap_or("");
    if !s("message").is_empty() {
        Some(s("message").to_string())
    } else if s("reason") == "OOMKilled" {
        Some(format!("container {cname:?} was OOMKilled"))
    } else if code != 0 {
        Some(format!("container {cname:?} failed with exit code {code}"))
    } else {
        None
    }
}

/// Pod: for long-running pods (restart policy Always), a container waiting
/// on `Err*`, `*Error` or `*BackOff` (CrashLoopBackOff, ImagePullBackOff,
/// ErrImagePull) = Degraded; then the phase. A running pod with restart
/// policy OnFailure or Never is Progressing: it is a hook that has not
/// finished.
pub(super) fn pod(obj: &Value) -> Health {
    let status = obj.get("status").unwrap_or(&Value::Null);
    let message = string(obj, "/status/message");
    let restart = match string(obj, "/spec/restartPolicy") {
        "" => "Always",
        r => r,
    };
    let statuses = |field: &str| {
        status
            .get(field)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let containers = statuses("containerStatuses");
    if restart == "Always" {
        let waiting: Vec<String> = containers
            .iter()
            .filter_map(|c| {
                let w = c.pointer("/state/waiting")?;
                let reason = w.get("reason").and_then(Value::as_str).unwrap_or("");
                let bad = reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff");
                bad.then(|| {
                    let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                    match w.get("message").and_then(Value::as_str) {
                        Some(m) if !m.is_empty() => format!("container {cname:?}: {reason}: {m}"),
                        _ => format!("container {cname:?}: {reason}"),
                    }
                })
            })
            .collect();
        if !waiting.is_empty() {
            return Health::degraded(waiting.join(", "));
        }
    }
    match string(obj, "/status/phase") {
        "Pending" => Health::progressing(if message.is_empty() {
            "pod is pending"
        } else {
            message
        }),
        "Succeeded" => Health::healthy(message),
        "Failed" => {
            if !message.is_empty() {
                return Health::degraded(message);
            }
            let all = statuses("initContainerStatuses").iter().chain(containers);
            Health::degraded(
                all.filter_map(terminated_failure)
                    .next()
                    .unwrap_or_else(|| "pod failed".to_string()),
            )
        }
        "Running" if restart == "Always" => {
            if condition(status, "Ready").is_some_and(|c| c.is_true()) {
                Health::healthy(message)
            } else if containers
                .iter()
                .any(|c| c.pointer("/lastState/terminated").is_some())
            {
                Health::degraded(if message.is_empty() {
                    "a container restarted and the pod is not ready"
                } else {
                    message
                })
            } else {
                Health::progressing(if message.is_empty() {
                    "pod is running but not ready"
                } else {
                    message
                })
            }
        }
        "Running" => Health::progressing(if message.is_empty() {
            "pod is running"
        } else {
            message
        }),
        "" => Health::progressing("pod has no phase yet"),
        other => Health::new(HealthStatus::Unknown, format!("pod phase {other:?}")),
    }
}

/// Job: `Failed` = Degraded, `Complete` = Healthy, `Suspended` =
/// Suspended; otherwise Progressing.
pub(super) fn job(obj: &Value) -> Health {
    let status = obj.get("status").unwrap_or(&Value::Null);
    let mut complete = None;
    let mut failed = None;
    let mut suspended = None;
    for (t, c) in conditions(status) {
        if !c.is_true() {
            continue;
        }
        match t {
            "Failed" => failed = Some(c),
            "Complete" | "SuccessCriteriaMet" => complete = Some(c),
            "Suspended" => suspended = Some(c),
            _ => {}
        }
    }
    if let Some(c) = failed {
        return Health::degraded(c.describe("job failed"));
    }
    if let Some(c) = complete {
        return Health::healthy(c.message);
    }
    if suspended.is_some() || obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Health::new(HealthStatus::Suspended, "job is suspended");
    }
    let active = count(obj, "active");
    let succeeded = count(obj, "succeeded");
    let failures = count(obj, "failed");
    Health::progressing(format!(
        "job is running: {active} active, {succeeded} succeeded, {failures} failed"
    ))
}

/// CronJob: suspended = Suspended, otherwise Healthy.
pub(super) fn cronjob(obj: &Value) -> Health {
    if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        Health::new(HealthStatus::Suspended, "CronJob is suspended")
    } else {
        Health::healthy("")
    }
}
