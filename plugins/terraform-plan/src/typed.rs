//! The typed resources of the `hashicorp/kubernetes` provider
//! (`kubernetes_deployment_v1`, ...) turned back into Kubernetes objects.
//!
//! The provider models every object in Terraform's SDK shape: nested
//! structures are *block lists* (`spec = [{...}]`, `container = [{...}]`),
//! field names are snake_case and singular (`container`, `port`, `rule`),
//! maps (`labels`, `data`, `selector` of a Service) are plain objects, and a
//! few fields have their own types (`replicas` and `run_as_user` are
//! strings, file modes are octal strings, Secret `data` is plain text the
//! provider base64-encodes). The conversion is generic over that shape and
//! table-driven for the exceptions:
//!
//! - a block list becomes one object, unless the field is a list in the
//!   Kubernetes API ([`field`]: `container` → `containers`, ...);
//! - an object value is a map attribute: its keys are kept verbatim;
//! - snake_case becomes camelCase, with the API's acronyms (`clusterIP`,
//!   `externalIPs`, `nonResourceURLs`, ...);
//! - empty strings, empty lists and empty maps are unset attributes in the
//!   SDK's state and are dropped; server-set metadata (`uid`,
//!   `resource_version`, `generation`) and Terraform-only attributes
//!   (`wait_for_rollout`, `timeouts`, ...) are dropped;
//! - int-or-string fields (`target_port`, `max_surge`, ...) become numbers
//!   when they hold one.

use base64::Engine as _;
use serde_json::{Map, Value};

/// The Kubernetes API version and kind a typed resource type stands for,
/// or `None` when it is not one this renderer supports.
pub fn kind_of(tf_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match base_name(tf_type)? {
        "namespace" => ("v1", "Namespace"),
        "config_map" => ("v1", "ConfigMap"),
        "secret" => ("v1", "Secret"),
        "service_account" => ("v1", "ServiceAccount"),
        "service" => ("v1", "Service"),
        "persistent_volume_claim" => ("v1", "PersistentVolumeClaim"),
        "deployment" => ("apps/v1", "Deployment"),
        "stateful_set" => ("apps/v1", "StatefulSet"),
        "daemon_set" => ("apps/v1", "DaemonSet"),
        "job" => ("batch/v1", "Job"),
        "cron_job" => ("batch/v1", "CronJob"),
        "ingress" => ("networking.k8s.io/v1", "Ingress"),
        "network_policy" => ("networking.k8s.io/v1", "NetworkPolicy"),
        "role" => ("rbac.authorization.k8s.io/v1", "Role"),
        "role_binding" => ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        "cluster_role" => ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        "cluster_role_binding" => ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        "horizontal_pod_autoscaler" => ("autoscaling/v2", "HorizontalPodAutoscaler"),
        "horizontal_pod_autoscaler_v2" => ("autoscaling/v2", "HorizontalPodAutoscaler"),
        _ => return None,
    })
}

/// `kubernetes_deployment_v1` → `deployment`; the plain and `_v1` names
/// share a schema. `kubernetes_daemonset` is the plain DaemonSet's name.
fn base_name(tf_type: &str) -> Option<&str> {
    let rest = tf_type.strip_prefix("kubernetes_")?;
    let rest = rest.strip_suffix("_v1").unwrap_or(rest);
    Some(if rest == "daemonset" {
        "daemon_set"
    } else {
        rest
    })
}

/// Top-level attributes that are Terraform's, not the object's.
const TERRAFORM_ONLY: &[&str] = &[
    "id",
    "timeouts",
    "status",
    "wait_for_rollout",
    "wait_for_load_balancer",
    "wait_for_completion",
    "wait_for_default_service_account",
    "wait_for_service_account_token",
    "wait_until_bound",
];

/// Metadata the server sets; never part of a desired object.
const SERVER_SET: &[&str] = &["uid", "resource_version", "generation"];

/// Fields the server (or the provider) computes: when the plan does not know
/// them yet, the object simply leaves them out and the server fills them in.
/// Named as they appear in the converted object.
pub const SERVER_COMPUTED: &[&str] = &[
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "nodePort",
    "imagePullPolicy",
    "terminationMessagePolicy",
    "terminationMessagePath",
    "serviceAccountName",
    "schedulerName",
    "dnsPolicy",
    "hostname",
    "nodeName",
    "priority",
    "sessionAffinity",
    "volumeName",
    "storageClassName",
    "volumeMode",
    "defaultSecretName",
    "completions",
    "parallelism",
    "completionMode",
    "podReplacementPolicy",
    "ingressClassName",
    "allocateLoadBalancerNodePorts",
    "publishNotReadyAddresses",
    "generateName",
];

/// Convert the after-state of typed resource `tf_type` into a Kubernetes
/// object.
pub fn convert(tf_type: &str, after: Value) -> Option<Value> {
    let (api_version, kind) = kind_of(tf_type)?;
    let base = base_name(tf_type)?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(api_version.into()));
    obj.insert("kind".into(), Value::String(kind.into()));
    let attrs = match after {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in attrs {
        if TERRAFORM_ONLY.contains(&k.as_str()) {
            continue;
        }
        match (base, k.as_str()) {
            ("secret", "data") => {
                if let Some(d) = secret_data(v) {
                    merge_into(&mut obj, "data", d);
                }
            }
            ("secret", "binary_data") => {
                if let Some(d) = convert_value("", &k, v) {
                    merge_into(&mut obj, "data", d);
                }
            }
            ("service_account", "secret") => put(&mut obj, "secrets", many("", v)),
            ("service_account", "image_pull_secret") => {
                put(&mut obj, "imagePullSecrets", many("", v))
            }
            _ => {
                let name = attr_name("", &k, &v);
                put(&mut obj, &name, convert_value("", &k, v));
            }
        }
    }
    let mut out = Value::Object(obj);
    if tf_type == "kubernetes_ingress" {
        ingress_v1beta1_to_v1(&mut out);
    }
    if base.starts_with("horizontal_pod_autoscaler") {
        hpa_to_v2(&mut out);
    }
    Some(out)
}

fn put(obj: &mut Map<String, Value>, name: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(name.to_string(), v);
    }
}

fn merge_into(obj: &mut Map<String, Value>, name: &str, v: Value) {
    match (obj.get_mut(name), v) {
        (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
        (_, v) => {
            obj.insert(name.to_string(), v);
        }
    }
}

/// Secret `data` holds plain text in the provider; the API wants base64.
/// Marker strings (unknown or sensitive placeholders) are left alone so
/// they can be found again.
fn secret_data(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) if !m.is_empty() => Some(Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let enc = match v {
                        Value::String(s) if !s.starts_with('\u{1}') => Value::String(
                            base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                        ),
                        other => other,
                    };
                    (k, enc)
                })
                .collect(),
        )),
        Value::String(s) if s.starts_with('\u{1}') => Some(Value::String(s)),
        _ => None,
    }
}

/// Is a block list one object or a list in the Kubernetes API?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    One,
    Many,
}

/// The Kubernetes name and shape of block-list field `key` inside block
/// `parent`.
fn field(parent: &str, key: &str) -> (String, Shape) {
    use Shape::*;
    let (name, shape) = match (parent, key) {
        ("http", "path") => ("paths", Many),
        ("service", "port") | ("backend", "port") => ("port", One),
        ("node_affinity", "required_during_scheduling_ignored_during_execution") => {
            ("requiredDuringSchedulingIgnoredDuringExecution", One)
        }
        (_, "required_during_scheduling_ignored_during_execution") => {
            ("requiredDuringSchedulingIgnoredDuringExecution", Many)
        }
        (_, "preferred_during_scheduling_ignored_during_execution") => {
            ("preferredDuringSchedulingIgnoredDuringExecution", Many)
        }
        (_, "node_selector_term") => ("nodeSelectorTerms", Many),
        (_, "container") => ("containers", Many),
        (_, "init_container") => ("initContainers", Many),
        (_, "port") => ("ports", Many),
        (_, "ports") => ("ports", Many),
        (_, "volume_mount") => ("volumeMounts", Many),
        (_, "volume_device") => ("volumeDevices", Many),
        (_, "volume") => ("volumes", Many),
        (_, "env") => ("env", Many),
        (_, "env_from") => ("envFrom", Many),
        (_, "toleration") => ("tolerations", Many),
        (_, "image_pull_secrets") => ("imagePullSecrets", Many),
        (_, "host_aliases") => ("hostAliases", Many),
        (_, "topology_spread_constraint") => ("topologySpreadConstraints", Many),
        (_, "readiness_gate") => ("readinessGates", Many),
        (_, "rule") => ("rules", Many),
        (_, "subject") => ("subjects", Many),
        (_, "match_expressions") => ("matchExpressions", Many),
        (_, "match_fields") => ("matchFields", Many),
        (_, "items") => ("items", Many),
        (_, "volume_claim_template") => ("volumeClaimTemplates", Many),
        (_, "tls") => ("tls", Many),
        (_, "ingress") => ("ingress", Many),
        (_, "egress") => ("egress", Many),
        (_, "from") => ("from", Many),
        (_, "to") => ("to", Many),
        (_, "http_header") => ("httpHeaders", Many),
        (_, "metric") => ("metrics", Many),
        (_, "policy") => ("policies", Many),
        (_, "option") => ("options", Many),
        (_, "sources") => ("sources", Many),
        (_, "sysctl") => ("sysctls", Many),
        (_, "cluster_role_selectors") => ("clusterRoleSelectors", Many),
        (_, "client_ip") => ("clientIP", One),
        (_, "backend") if parent == "spec" => ("defaultBackend", One),
        _ => return (name(key), One),
    };
    (name.to_string(), shape)
}

/// The Kubernetes name of attribute `key`: camelCase, with the API's
/// acronyms.
fn name(key: &str) -> String {
    match key {
        "host_ip" => "hostIP",
        "host_ipc" => "hostIPC",
        "host_pid" => "hostPID",
        "pod_ip" => "podIP",
        "cluster_ip" => "clusterIP",
        "cluster_ips" => "clusterIPs",
        "external_ips" => "externalIPs",
        "load_balancer_ip" => "loadBalancerIP",
        "non_resource_urls" => "nonResourceURLs",
        "timezone" => "timeZone",
        "target_cpu_utilization_percentage" => "targetCPUUtilizationPercentage",
        _ => return camel(key),
    }
    .to_string()
}

/// snake_case → camelCase.
fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Fields the API types as int-or-string, which the provider keeps as
/// strings.
const INT_OR_STRING: &[&str] = &[
    "target_port",
    "port",
    "max_surge",
    "max_unavailable",
    "min_available",
];
/// Integer fields the provider keeps as strings.
const STRING_INT: &[&str] = &[
    "replicas",
    "ttl_seconds_after_finished",
    "run_as_user",
    "run_as_group",
    "fs_group",
];
/// References whose `optional` the provider always sends.
const OPTIONAL_REFS: &[&str] = &[
    "config_map_key_ref",
    "secret_key_ref",
    "config_map_ref",
    "secret_ref",
    "config_map",
    "secret",
];
/// File modes, octal strings in the provider, integers in the API.
const OCTAL: &[&str] = &["default_mode", "mode"];
/// Integer fields whose 0 in the provider's state means "not set" (the
/// provider does not send them), while 0 means something in the API.
const ZERO_IS_UNSET: &[&str] = &[
    "starting_deadline_seconds",
    "active_deadline_seconds",
    "host_port",
    "node_port",
];

/// Convert the value of attribute `key` of block `parent`; `None` when it
/// is unset (null, empty string, list or map).
fn convert_value(parent: &str, key: &str, v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if s.starts_with('\u{1}') => Some(Value::String(s)),
        Value::String(s) => {
            let number = if INT_OR_STRING.contains(&key) || STRING_INT.contains(&key) {
                s.parse::<i64>().ok()
            } else if OCTAL.contains(&key) {
                i64::from_str_radix(&s, 8).ok()
            } else {
                None
            };
            Some(number.map_or(Value::String(s), Value::from))
        }
        Value::Number(n) if n.as_i64() == Some(0) && ZERO_IS_UNSET.contains(&key) => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if items.iter().any(Value::is_object) => match field(parent, key).1 {
            Shape::Many => many(key, Value::Array(items)),
            Shape::One => items
                .into_iter()
                .find(Value::is_object)
                .map(|b| Value::Object(block(key, b))),
        },
        Value::Object(m) if m.is_empty() => None,
        other => Some(other),
    }
}

/// A block list as a list of objects.
fn many(key: &str, v: Value) -> Option<Value> {
    let Value::Array(items) = v else {
        return None;
    };
    let items: Vec<Value> = items
        .into_iter()
        .filter(Value::is_object)
        .map(|b| Value::Object(block(key, b)))
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// One block's attributes, converted.
fn block(key: &str, b: Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(m) = b else {
        return out;
    };
    for (k, v) in m {
        if key == "metadata" && SERVER_SET.contains(&k.as_str()) {
            continue;
        }
        let name = attr_name(key, &k, &v);
        put(&mut out, &name, convert_value(key, &k, v));
    }
    if OPTIONAL_REFS.contains(&key) {
        // The provider always sends `optional`, false unless set.
        out.entry("optional").or_insert(Value::Bool(false));
    }
    if key == "spec"
        && out.get("type").and_then(Value::as_str) != Some("LoadBalancer")
        && out.contains_key("ports")
    {
        // A Service's allocateLoadBalancerNodePorts is only valid for
        // LoadBalancer Services; the provider sends it only for those.
        out.remove("allocateLoadBalancerNodePorts");
    }
    out
}

/// The Kubernetes name of attribute `k` (value `v`) of block `parent`:
/// block lists are renamed by [`field`], other attributes by [`name`].
fn attr_name(parent: &str, k: &str, v: &Value) -> String {
    match v {
        Value::Array(items) if items.iter().any(Value::is_object) => field(parent, k).0,
        _ => name(k),
    }
}

/// What the provider sends although the plan leaves it unset or unknown
/// (computed attributes it fills with Go's zero value), so that the object
/// sluice applies is the one `terraform apply` would. Applied to the
/// converted object of `tf_type` once unknown values are gone.
pub fn provider_defaults(tf_type: &str, obj: &mut Value) {
    let Some(base) = base_name(tf_type) else {
        return;
    };
    let mut default = |pointer: &str, key: &str, v: Value| {
        if let Some(m) = obj.pointer_mut(pointer).and_then(Value::as_object_mut) {
            m.entry(key).or_insert(v);
        }
    };
    match base {
        "config_map" => default("", "immutable", Value::Bool(false)),
        "stateful_set" => default("/spec", "revisionHistoryLimit", Value::from(0)),
        "cron_job" => default(
            "/spec/jobTemplate/spec",
            "manualSelector",
            Value::Bool(false),
        ),
        _ => {}
    }
}

/// Every HorizontalPodAutoscaler is rendered as `autoscaling/v2`, the
/// version the API server stores and serves by default: the v1 field
/// `targetCPUUtilizationPercentage` becomes the equivalent CPU
/// utilization metric. (A v1 object reads back as v2 with that metric, so
/// rendering v1 would show a difference that is none.)
fn hpa_to_v2(obj: &mut Value) {
    obj["apiVersion"] = Value::String("autoscaling/v2".into());
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage") {
        let metric = serde_json::json!({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
        });
        match spec.get_mut("metrics").and_then(Value::as_array_mut) {
            Some(m) => m.push(metric),
            None => {
                spec.insert("metrics".into(), Value::Array(vec![metric]));
            }
        }
    }
}

/// The plain `kubernetes_ingress` is the `networking.k8s.io/v1beta1`
/// schema (`service_name`/`service_port` backends); rewrite it into the v1
/// shape the API serves today.
fn ingress_v1beta1_to_v1(obj: &mut Value) {
    fn backend(b: &mut Value) {
        let Some(m) = b.as_object_mut() else { return };
        let name = m.remove("serviceName");
        let port = m.remove("servicePort");
        if let Some(name) = name {
            let port = match port {
                Some(Value::String(s)) => match s.parse::<i64>() {
                    Ok(n) => serde_json::json!({"number": n}),
                    Err(_) => serde_json::json!({"name": s}),
                },
                Some(Value::Number(n)) => serde_json::json!({"number": n}),
                _ => Value::Null,
            };
            let mut svc = Map::new();
            svc.insert("name".into(), name);
            if !port.is_null() {
                svc.insert("port".into(), port);
            }
            m.insert("service".into(), Value::Object(svc));
        }
    }
    if let Some(b) = obj.pointer_mut("/spec/defaultBackend") {
        backend(b);
    }
    if let Some(rules) = obj.pointer_mut("/spec/rules").and_then(Value::as_array_mut) {
        for r in rules {
            if let Some(paths) = r.pointer_mut("/http/paths").and_then(Value::as_array_mut) {
                for p in paths {
                    if let Some(b) = p.get_mut("backend") {
                        backend(b);
                    }
                    if let Some(m) = p.as_object_mut() {
                        m.entry("pathType")
                            .or_insert_with(|| Value::String("ImplementationSpecific".into()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes() {
        assert_eq!(
            camel("termination_grace_period_seconds"),
            "terminationGracePeriodSeconds"
        );
        assert_eq!(
            field("spec", "container"),
            ("containers".into(), Shape::Many)
        );
        assert_eq!(field("service", "port"), ("port".into(), Shape::One));
        assert_eq!(attr_name("spec", "cluster_ip", &Value::Null), "clusterIP");
        assert_eq!(attr_name("http_get", "port", &Value::from("8080")), "port");
        assert_eq!(attr_name("spec", "port", &serde_json::json!([{}])), "ports");
        assert_eq!(
            kind_of("kubernetes_daemonset"),
            Some(("apps/v1", "DaemonSet"))
        );
        assert_eq!(
            kind_of("kubernetes_daemon_set_v1"),
            Some(("apps/v1", "DaemonSet"))
        );
        assert_eq!(kind_of("kubernetes_pod_v1"), None);
        assert_eq!(
            convert_value("", "default_mode", Value::String("0644".into())),
            Some(Value::from(420))
        );
    }
}
