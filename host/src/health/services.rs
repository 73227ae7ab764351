//! Health rules for the other built-in kinds: PersistentVolumeClaim,
//! Service, Ingress, APIService, CustomResourceDefinition, Namespace and
//! HorizontalPodAutoscaler.

use super::{Condition, Health, HealthStatus, condition, conditions, string};
use serde_json::Value;

/// PersistentVolumeClaim: Bound = Healthy, Pending = Progressing, Lost =
/// Degraded.
pub(super) fn pvc(obj: &Value) -> Health {
    match string(obj, "/status/phase") {
        "Bound" => Health::healthy(""),
        "Pending" | "" => Health::progressing("waiting for the claim to be bound"),
        "Lost" => Health::degraded("the claim lost its volume"),
        other => Health::new(HealthStatus::Unknown, format!("claim phase {other:?}")),
    }
}

/// Whether `status.loadBalancer.ingress` has an entry.
fn has_lb_ingress(obj: &Value) -> bool {
    obj.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// Service: a LoadBalancer is Progressing until it has an ingress address;
/// other types are Healthy.
pub(super) fn service(obj: &Value) -> Health {
    if string(obj, "/spec/type") == "LoadBalancer" && !has_lb_ingress(obj) {
        Health::progressing("waiting for the load balancer to get an address")
    } else {
        Health::healthy("")
    }
}

/// Ingress: Progressing until the controller publishes an address.
pub(super) fn ingress(obj: &Value) -> Health {
    if has_lb_ingress(obj) {
        Health::healthy("")
    } else {
        Health::progressing("waiting for the ingress controller to publish an address")
    }
}

/// APIService: the `Available` condition.
pub(super) fn apiservice(obj: &Value) -> Health {
    let status = obj.get("status").unwrap_or(&Value::Null);
    match condition(status, "Available") {
        Some(c) if c.is_true() => Health::healthy(c.message),
        Some(c) => Health::progressing(c.describe("not available")),
        None => Health::progressing("waiting to be processed"),
    }
}

/// CustomResourceDefinition: Established = Healthy; names not accepted or
/// a non-structural schema = Degraded; terminating or still installing =
/// Progressing.
pub(super) fn crd(obj: &Value) -> Health {
    let status = obj.get("status").unwrap_or(&Value::Null);
    let all: Vec<(&str, Condition<'_>)> = conditions(status).collect();
    if all.is_empty() {
        return Health::progressing("status conditions not found");
    }
    let get = |t: &str| all.iter().find(|(k, _)| *k == t).map(|(_, c)| *c);
    if let Some(c) = get("Terminating").filter(Condition::is_true) {
        return Health::progressing(format!("CRD is being terminated: {}", c.message));
    }
    if let Some(c) = get("NamesAccepted").filter(|c| c.status == "False") {
        return Health::degraded(format!("CRD names have not been accepted: {}", c.message));
    }
    match get("Established") {
        Some(c) if c.is_true() => {}
        // The apiserver says Installing for a moment after creation.
        Some(c) if c.reason == "Installing" || c.status == "Unknown" => {
            return Health::progressing(format!("CRD is not established yet: {}", c.message));
        }
        Some(c) => return Health::degraded(format!("CRD is not established: {}", c.message)),
        None => return Health::progressing("CRD is not established yet"),
    }
    if let Some(c) = get("NonStructuralSchema").filter(Condition::is_true) {
        return Health::degraded(format!("schema violations found: {}", c.message));
    }
    Health::healthy("CRD is established")
}

/// Namespace: Active = Healthy, Terminating = Progressing.
pub(super) fn namespace(obj: &Value) -> Health {
    match string(obj, "/status/phase") {
        "Active" | "" => Health::healthy(""),
        "Terminating" => Health::progressing("namespace is terminating"),
        other => Health::new(HealthStatus::Unknown, format!("namespace phase {other:?}")),
    }
}

/// HorizontalPodAutoscaler: conditions as gitops-engine reads them (for
/// `autoscaling/v1`, from the `autoscaling.alpha.kubernetes.io/conditions`
/// annotation).
pub(super) fn hpa(obj: &Value) -> Health {
    const DEGRADED: &[(&str, &str)] = &[
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "InvalidSelector"),
    ];
    const HEALTHY: &[(&str, &str)] = &[
        ("AbleToScale", "SucceededRescale"),
        ("ScalingLimited", "DesiredWithinRange"),
        ("ScalingLimited", "TooFewReplicas"),
        ("ScalingLimited", "TooManyReplicas"),
    ];
    let from_annotation;
    let status = match obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("autoscaling.alpha.kubernetes.io/conditions"))
        .and_then(Value::as_str)
    {
        Some(text) if string(obj, "/apiVersion") == "autoscaling/v1" => {
            match serde_json::from_str::<Value>(text) {
                Ok(list) => {
                    from_annotation = serde_json::json!({ "conditions": list });
                    &from_annotation
                }
                Err(e) => {
                    return Health::new(
                        HealthStatus::Unknown,
                        format!("cannot read the conditions annotation: {e}"),
                    );
                }
            }
        }
        _ => obj.get("status").unwrap_or(&Value::Null),
    };
    for (t, c) in conditions(status) {
        if DEGRADED.contains(&(t, c.reason)) {
            return Health::degraded(c.message);
        }
        if HEALTHY.contains(&(t, c.reason)) {
            return Health::healthy(c.message);
        }
    }
    Health::progressing("waiting to autoscale")
}
