//! Deciding locally that a server-side apply would change nothing.
//!
//! A compare normally asks the API server what the desired object would
//! become (a server-side dry-run apply, one request per object) and
//! compares that with the live object. For an app in sync that is a round
//! trip per object to learn that nothing changes. [`apply_is_noop`]
//! answers the common case from the live object alone, and answers `false`
//! ("ask the server") whenever it cannot be sure:
//!
//! 1. **Every value sent is already there.** Each field of the desired
//!    object is present in the live one with an equal value; maps may have
//!    more keys live (defaults, other managers' fields); lists must have the
//!    same length and match element by element (an element may have more
//!    keys live). Anything else — a reordered, longer or shorter list, a
//!    `null`, `1` against `1.0`, a quantity the server rewrites (`1000m`
//!    against `1`) — falls back to the server.
//! 2. **Nothing would be removed.** Server-side apply removes fields the
//!    manager applied last time and no longer sends. So every field in the
//!    manager's own `Apply` entry of `managedFields` (same apiVersion, no
//!    subresource) must still be in the desired object: `f:` names a map
//!    key, `k:` a list element by its key fields, `v:` a set value, `i:` an
//!    index. An entry that is missing, for another version, or that holds
//!    anything not understood falls back to the server.
//!
//! Together these mean the apply would leave every value as it is and
//! remove nothing, which is what the dry-run compare would conclude; the
//! only thing that could still differ is a mutating admission webhook
//! rewriting an unchanged object, which sluice, like Argo CD's own
//! comparison, does not run on a no-op.

use serde_json::{Map, Value};

/// Whether server-side applying `desired` as field manager `manager`
/// would leave `live` unchanged, decided without asking the server. `false`
/// means "not sure": ask the server (a dry-run apply).
///
/// ```
/// use serde_json::json;
/// use sluice::diff::local::apply_is_noop;
///
/// let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
/// let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "a", "uid": "1", "managedFields": [{"manager": "sluice", "operation": "Apply",
///         "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:k": {}}}}]},
///     "data": {"k": "v"}});
/// assert!(apply_is_noop(&desired, &live, "sluice"));
/// live["data"]["k"] = json!("changed");
/// assert!(!apply_is_noop(&desired, &live, "sluice"));
/// ```
pub fn apply_is_noop(desired: &Value, live: &Value, manager: &str) -> bool {
    let Some(owned) = own_fields(live, manager, desired.get("apiVersion")) else {
        return false;
    };
    let (Some(d), Some(l)) = (desired.as_object(), live.as_object()) else {
        return false;
    };
    // apiVersion and kind identify the object; the live one is read at the
    // desired version (see sync::apply), so compare only the body.
    let body = |m: &Map<String, Value>| {
        m.iter()
            .filter(|(k, _)| k.as_str() != "apiVersion" && k.as_str() != "kind")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<_, _>>()
    };
    contained(&Value::Object(body(d)), &Value::Object(body(l))) && still_sent(owned, desired)
}

/// The `fieldsV1` of `manager`'s `Apply` entry at `api_version`, if there
/// is exactly one such entry on the main resource.
fn own_fields<'a>(
    live: &'a Value,
    manager: &str,
    api_version: Option<&Value>,
) -> Option<&'a Value> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let mut own = entries.iter().filter(|e| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && e.get("subresource")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
    });
    let entry = own.next()?;
    if own.next().is_some()
        || entry.get("apiVersion") != api_version
        || entry.get("fieldsType").and_then(Value::as_str) != Some("FieldsV1")
    {
        return None;
    }
    entry.get("fieldsV1")
}

/// Whether every value in `desired` is in `live` (rule 1 of the module
/// documentation).
fn contained(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, dv)| l.get(k).is_some_and(|lv| contained(dv, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| contained(dv, lv))
        }
        (Value::Null, _) => false,
        (d, l) => d == l,
    }
}

/// Whether every field in the `fieldsV1` set `owned` is still in
/// `desired` (rule 2 of the module documentation).
fn still_sent(owned: &Value, desired: &Value) -> bool {
    let Some(owned) = owned.as_object() else {
        return false;
    };
    owned.iter().all(|(path, sub)| {
        if path == "." {
            return true;
        }
        let child = if let Some(name) = path.strip_prefix("f:") {
            desired.as_object().and_then(|m| m.get(name))
        } else if let Some(key) = path.strip_prefix("k:") {
            keyed_element(desired, key)
        } else if let Some(v) = path.strip_prefix("v:") {
            let Ok(v) = serde_json::from_str::<Value>(v) else {
                return false;
            };
            desired.as_array().and_then(|a| a.iter().find(|e| **e == v))
        } else if let Some(i) = path.strip_prefix("i:") {
            let Ok(i) = i.parse::<usize>() else {
                return false;
            };
            desired.as_array().and_then(|a| a.get(i))
        } else {
            None
        };
        match child {
            Some(Value::Null) | None => false,
            Some(c) => still_sent(sub, c),
        }
    })
}

/// The element of list `desired` that `key` (a JSON object of key fields)
/// names. A key field the element does not set counts as matching (the
/// server defaults key fields such as a port's `protocol`); at least one
/// key field must be set and equal, and the element must be the only one
/// that matches.
fn keyed_element<'a>(desired: &'a Value, key: &str) -> Option<&'a Value> {
    let key: Map<String, Value> = serde_json::from_str(key).ok()?;
    let matches = |e: &&Value| {
        let Some(e) = e.as_object() else {
            return false;
        };
        let mut set = 0;
        for (k, v) in &key {
            match e.get(k) {
                Some(ev) if ev == v => set += 1,
                Some(_) => return false,
                None => {}
            }
        }
        set > 0
    };
    let list = desired.as_array()?;
    let mut found = list.iter().filter(matches);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(body: Value, fields: Value) -> Value {
        let mut v = body;
        v["metadata"]["managedFields"] = json!([
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}},
            {"manager": "sluice", "operation": "Apply", "apiVersion": v["apiVersion"].clone(),
             "fieldsType": "FieldsV1", "fieldsV1": fields}
        ]);
        v["metadata"]["uid"] = json!("u1");
        v["metadata"]["resourceVersion"] = json!("7");
        v
    }

    fn service() -> (Value, Value) {
        let desired = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "n", "labels": {"app": "s"}},
            "spec": {"selector": {"app": "s"}, "ports": [{"port": 80, "targetPort": 8080}]}});
        let live = live(
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s", "namespace": "n", "labels": {"app": "s"}},
                "spec": {"selector": {"app": "s"}, "type": "ClusterIP", "clusterIP": "10.0.0.9",
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
                "status": {"loadBalancer": {}}}),
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:selector": {}, "f:ports": {
                    "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}}}}),
        );
        (desired, live)
    }

    #[test]
    fn defaulted_fields_and_other_managers_do_not_count() {
        let (desired, live) = service();
        assert!(apply_is_noop(&desired, &live, "sluice"));
    }

    #[test]
    fn a_changed_or_added_value_needs_the_server() {
        let (mut desired, live) = service();
        desired["spec"]["ports"][0]["targetPort"] = json!(9090);
        assert!(!apply_is_noop(&desired, &live, "sluice"));
        let (mut desired, live) = service();
        desired["metadata"]["labels"]["new"] = json!("x");
        assert!(!apply_is_noop(&desired, &live, "sluice"));
    }

    #[test]
    fn a_field_no_longer_sent_would_be_removed() {
        let (mut desired, live) = service();
        desired["metadata"]
            .as_object_mut()
            .map(|m| m.remove("labels"));
        // The live label is still there (the value check passes), but the
        // apply would remove it: the server must be asked.
        assert!(!apply_is_noop(&desired, &live, "sluice"));
    }

    #[test]
    fn lists_of_another_length_or_order_need_the_server() {
        let (mut desired, mut live) = service();
        desired["spec"]["ports"] = json!([{"port": 80, "targetPort": 8080}, {"port": 81}]);
        assert!(!apply_is_noop(&desired, &live, "sluice"));
        let (desired, _) = service();
        live["spec"]["ports"] = json!([{"port": 81, "protocol": "TCP"}, {"port": 80, "targetPort": 8080, "protocol": "TCP"}]);
        assert!(!apply_is_noop(&desired, &live, "sluice"));
    }

    #[test]
    fn without_our_apply_entry_the_server_decides() {
        let (desired, mut live) = service();
        live["metadata"]["managedFields"][1]["manager"] = json!("kubectl");
        assert!(!apply_is_noop(&desired, &live, "sluice"));
        let (desired, mut live) = service();
        live["metadata"]["managedFields"][1]["apiVersion"] = json!("v2");
        assert!(!apply_is_noop(&desired, &live, "sluice"));
        let (desired, mut live) = service();
        live["metadata"]["managedFields"][1]["fieldsV1"]["x:odd"] = json!({});
        assert!(!apply_is_noop(&desired, &live, "sluice"));
    }

    #[test]
    fn nulls_and_number_forms_need_the_server() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": null});
        let l = live(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({}),
        );
        assert!(!apply_is_noop(&desired, &l, "sluice"));
        let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1.0}});
        let l = live(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1}}),
            json!({"f:spec": {"f:replicas": {}}}),
        );
        assert!(!apply_is_noop(&desired, &l, "sluice"));
    }

    #[test]
    fn set_values_and_ambiguous_keys() {
        let desired = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "finalizers": ["f1"]}});
        let l = live(
            json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "finalizers": ["f1"]}}),
            json!({"f:metadata": {"f:finalizers": {"v:\"f1\"": {}}}}),
        );
        assert!(apply_is_noop(&desired, &l, "sluice"));
        let l = live(
            json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "finalizers": ["f1"]}}),
            json!({"f:metadata": {"f:finalizers": {"v:\"f2\"": {}}}}),
        );
        assert!(!apply_is_noop(&desired, &l, "sluice"));
        // A key field left to the server's default matches; two elements
        // that both match leave it unsure.
        let list = json!([{"port": 80}, {"port": 80, "protocol": "UDP"}]);
        assert_eq!(
            keyed_element(&list, r#"{"port":80,"protocol":"TCP"}"#),
            Some(&json!({"port": 80}))
        );
        assert!(keyed_element(&list, r#"{"port":80,"protocol":"UDP"}"#).is_none());
        assert!(keyed_element(&json!([{"name": "a"}]), r#"{"name":"b"}"#).is_none());
    }
}
