//! Strategic merge patch as kustomize v5 applies it (kyaml's merge): maps
//! merge, `null` deletes, `$patch: delete` / `replace` directives, lists
//! with a merge key in the built-in Kubernetes types merge element-wise
//! (patch elements first, in patch order, then the remaining ones), every
//! other list (and every list of unknown kinds) is replaced.

use super::schema::{Schema, Strategy};
use serde_json::{Map, Value};

/// Where in a known type a value sits; decides the list strategies below it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Other,
    Root(Kind),
    Meta,
    Workload,
    CronJob,
    JobTemplate,
    PodTemplate,
    PodSpec,
    Container,
    ServiceSpec,
    /// A node of a custom OpenAPI schema.
    Node(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Pod,
    Workload,
    CronJob,
    PodTemplate,
    Service,
    ServiceAccount,
    Webhook,
    Other,
}

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum List<'a> {
    Replace,
    Key(&'a str),
    Set,
}

fn kind_of(kind: &str) -> Kind {
    match kind {
        "Pod" => Kind::Pod,
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => Kind::Workload,
        "CronJob" => Kind::CronJob,
        "PodTemplate" => Kind::PodTemplate,
        "Service" => Kind::Service,
        "ServiceAccount" => Kind::ServiceAccount,
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => Kind::Webhook,
        _ => Kind::Other,
    }
}

/// The type of `field` under `ty` (for a list, its elements' type) and how
/// the field merges if it is a list.
fn child<'a>(ty: Ty, field: &str, sc: Option<&'a Schema>) -> (Ty, List<'a>) {
    use List::*;
    if let (Ty::Node(id), Some(s)) = (ty, sc) {
        let (node, strategy) = s.child(id, field);
        let elem = node.map(|n| s.items(n).unwrap_or(n));
        let list = match strategy {
            Strategy::Replace => Replace,
            Strategy::Key(k) => Key(k.as_str()),
            Strategy::Set => Set,
        };
        return (elem.map_or(Ty::Other, Ty::Node), list);
    }
    match (ty, field) {
        (Ty::Root(_), "metadata")
        | (Ty::PodTemplate, "metadata")
        | (Ty::JobTemplate, "metadata") => (Ty::Meta, Replace),
        (Ty::Meta, "finalizers") => (Ty::Other, Set),
        (Ty::Meta, "ownerReferences") => (Ty::Other, Key("uid")),
        (Ty::Root(Kind::Pod), "spec") => (Ty::PodSpec, Replace),
        (Ty::Root(Kind::Workload), "spec") | (Ty::JobTemplate, "spec") => (Ty::Workload, Replace),
        (Ty::Root(Kind::CronJob), "spec") => (Ty::CronJob, Replace),
        (Ty::CronJob, "jobTemplate") => (Ty::JobTemplate, Replace),
        (Ty::Root(Kind::PodTemplate), "template") | (Ty::Workload, "template") => {
            (Ty::PodTemplate, Replace)
        }
        (Ty::Root(Kind::Service), "spec") => (Ty::ServiceSpec, Replace),
        (Ty::ServiceSpec, "ports") => (Ty::Other, Key("port")),
        (Ty::Root(Kind::ServiceAccount), "secrets") => (Ty::Other, Key("name")),
        (Ty::Root(Kind::Webhook), "webhooks") => (Ty::Other, Key("name")),
        (Ty::PodTemplate, "spec") => (Ty::PodSpec, Replace),
        (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            (Ty::Container, Key("name"))
        }
        (Ty::PodSpec, "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates") => {
            (Ty::Other, Key("name"))
        }
        (Ty::PodSpec, "hostAliases") => (Ty::Other, Key("ip")),
        (Ty::PodSpec, "topologySpreadConstraints") => (Ty::Other, Key("topologyKey")),
        (Ty::Container, "ports") => (Ty::Other, Key("containerPort")),
        (Ty::Container, "env") => (Ty::Other, Key("name")),
        (Ty::Container, "volumeMounts") => (Ty::Other, Key("mountPath")),
        (Ty::Container, "volumeDevices") => (Ty::Other, Key("devicePath")),
        (Ty::Container, "resizePolicy") => (Ty::Other, Key("resourceName")),
        _ => (Ty::Other, Replace),
    }
}

/// Apply `patch` to `target` (both whole objects). The patch's own
/// `apiVersion`/`kind`/`metadata.name` are merged like any field, as
/// kustomize does; callers reset identity fields they must keep.
pub fn apply(target: &mut Value, patch: &Value, schema: Option<&Schema>) {
    let s = |k: &str| target.get(k).and_then(Value::as_str).unwrap_or_default();
    let gvk = crate::resource::Gvk::new(s("apiVersion"), s("kind"));
    // A custom schema replaces kustomize's built-in one: kinds it does
    // not describe have no merge keys (their lists are replaced).
    let ty = match schema.map(|sc| sc.root(&gvk)) {
        Some(Some(id)) => Ty::Node(id),
        Some(None) => Ty::Other,
        None => Ty::Root(kind_of(&gvk.kind)),
    };
    if let Some(p) = patch.as_object() {
        if directive(p) == Some("delete") {
            *target = Value::Null;
            return;
        }
        merge_value(target, patch, ty, List::Replace, schema);
    }
}

fn directive(m: &Map<String, Value>) -> Option<&str> {
    m.get("$patch").and_then(Value::as_str)
}

/// A patch value as stored when nothing is there to merge into: directives
/// resolved against nothing.
fn fresh(p: &Value, ty: Ty, sc: Option<&Schema>) -> Option<Value> {
    match p {
        Value::Object(m) => {
            match directive(m) {
                Some("delete") => return None,
                Some("replace") => {
                    let mut m = m.clone();
                    m.remove("$patch");
                    return Some(Value::Object(m));
                }
                _ => {}
            }
            let mut out = Map::new();
            for (k, v) in m {
                let (cty, _) = child(ty, k, sc);
                if v.is_null() {
                    continue;
                }
                if let Some(nv) = fresh(v, cty, sc) {
                    out.insert(k.clone(), nv);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter(|i| !is_directive_item(i))
                .filter_map(|i| fresh(i, ty, sc))
                .collect(),
        )),
        v => Some(v.clone()),
    }
}

fn is_directive_item(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$patch"))
}

fn merge_value(d: &mut Value, p: &Value, ty: Ty, list: List<'_>, sc: Option<&Schema>) {
    match (d, p) {
        (Value::Object(dm), Value::Object(pm)) => {
            match directive(pm) {
                Some("replace") => {
                    let mut m = pm.clone();
                    m.remove("$patch");
                    *dm = m;
                    return;
                }
                Some("delete") => {
                    dm.clear();
                    return;
                }
                _ => {}
            }
            for (k, pv) in pm {
                if k == "$patch" {
                    continue;
                }
                let (cty, clist) = child(ty, k, sc);
                if pv.is_null() {
                    dm.remove(k);
                    continue;
                }
                if let Value::Object(pvm) = pv
                    && directive(pvm) == Some("delete")
                {
                    dm.remove(k);
                    continue;
                }
                match dm.get_mut(k) {
                    Some(dv) if !dv.is_null() => merge_value(dv, pv, cty, clist, sc),
                    _ => {
                        if let Some(nv) = fresh(pv, cty, sc) {
                            dm.insert(k.clone(), nv);
                        }
                    }
                }
            }
        }
        (Value::Array(da), Value::Array(pa)) => merge_list(da, pa, ty, list, sc),
        (d, p) => {
            if let Some(nv) = fresh(p, ty, sc) {
                *d = nv;
            }
        }
    }
}

fn merge_list(d: &mut Vec<Value>, p: &[Value], ty: Ty, list: List<'_>, sc: Option<&Schema>) {
    if p.iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace") && is_directive_item(i))
    {
        *d = p
            .iter()
            .filter(|i| !is_directive_item(i))
            .filter_map(|i| fresh(i, ty, sc))
            .collect();
        return;
    }
    match list {
        List::Replace => {
            *d = p.iter().filter_map(|i| fresh(i, ty, sc)).collect();
        }
        List::Set => {
            let mut out: Vec<Value> = Vec::new();
            for i in p.iter().chain(d.iter()) {
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            *d = out;
        }
        List::Key(key) => {
            let mut used = vec![false; d.len()];
            let mut out = Vec::new();
            for pe in p {
                let pk = pe.get(key);
                let pos = pk.and_then(|k| d.iter().position(|de| de.get(key) == Some(k)));
                let delete = pe.get("$patch").and_then(Value::as_str) == Some("delete");
                if let Some(i) = pos {
                    used[i] = true;
                    if delete {
                        continue;
                    }
                    let mut merged = d[i].clone();
                    merge_value(&mut merged, pe, ty, List::Replace, sc);
                    out.push(merged);
                } else if !delete && let Some(nv) = fresh(pe, ty, sc) {
                    out.push(nv);
                }
            }
            for (i, de) in d.iter().enumerate() {
                if !used[i] {
                    out.push(de.clone());
                }
            }
            *d = out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_patch_first() {
        let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n"}, {"name": "a", "image": "a2"}]}}}});
        apply(&mut d, &p, None);
        let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(names, ["new", "a", "b"]);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][1]["image"],
            "a2"
        );
    }

    #[test]
    fn delete_and_replace_directives() {
        let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}, "x": {"a": 1, "b": 2}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}, "x": {"$patch": "replace", "c": 3}}});
        apply(&mut d, &p, None);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b"}])
        );
        assert_eq!(d["spec"]["x"], json!({"c": 3}));
    }

    #[test]
    fn unknown_lists_are_replaced_and_null_deletes() {
        let mut d = json!({"kind": "Foo", "spec": {"items": [{"name": "a"}], "gone": 1}});
        apply(
            &mut d,
            &json!({"spec": {"items": [{"name": "b"}], "gone": null}}),
            None,
        );
        assert_eq!(d["spec"], json!({"items": [{"name": "b"}]}));
    }
}
