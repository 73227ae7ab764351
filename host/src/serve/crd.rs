//! The `sluice.dev` Application CustomResourceDefinition, generated from
//! the Rust types: the spec's schema from [`crate::app::Spec`], the
//! status's from [`AppStatus`]. The schema is made the way kube-derive
//! makes one (OpenAPI 3, subschemas inlined, structural rewrites), so the
//! API server accepts it and validates Applications against the same
//! model `sync` and `serve` parse. `sluice crd` prints it.

use super::status::AppStatus;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator();
    let mut v = generator.into_root_schema_for::<T>().to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("title");
        o.remove("$schema");
    }
    preserve_untyped(&mut v);
    v
}

/// A structural schema gives every field a type. Fields of any JSON value
/// (Helm values, Jsonnet variables, renderer parameters, a replica count
/// that is a number or a string) have none: mark them
/// `x-kubernetes-preserve-unknown-fields`, as the API server requires.
fn preserve_untyped(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = o.get_mut(key) {
            for p in props.values_mut() {
                mark(p);
                preserve_untyped(p);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(p) = o.get_mut(key)
            && p.is_object()
        {
            mark(p);
            preserve_untyped(p);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(list)) = o.get_mut(key) {
            for p in list {
                preserve_untyped(p);
            }
        }
    }
}

fn mark(p: &mut Value) {
    if let Some(o) = p.as_object_mut() {
        if o.contains_key("type") || o.contains_key("x-kubernetes-int-or-string") {
            return;
        }
        // An untyped choice (a number or a string) or any value: kept as
        // given, checked by sluice when it reads the Application.
        o.remove("anyOf");
        o.remove("oneOf");
        o.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
}

/// The `sluice.dev` Target CustomResourceDefinition: a target plugin's
/// declaration as a resource (`sluice serve --in-cluster-targets`), its
/// spec's schema from [`crate::target::plugin::Spec`].
pub fn target_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "targets.sluice.dev"},
        "spec": {
            "group": "sluice.dev",
            "names": {
                "kind": "Target",
                "listKind": "TargetList",
                "plural": "targets",
                "singular": "target",
                "categories": ["sluice"]
            },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "additionalPrinterColumns": [
                    {"name": "Plugin", "type": "string", "jsonPath": ".spec.plugin.name"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A sluice Target: a target plugin, where it may send requests and the credential the host adds.",
                    "required": ["spec"],
                    "properties": {
                        "spec": schema_of::<crate::target::plugin::Spec>()
                    }
                }}
            }]
        }
    })
}

/// The Target resources in `namespace`, as declarations. `Err` names the
/// resource that does not parse, or why the list failed.
pub async fn list_targets(
    client: &kube::Client,
    namespace: &str,
) -> Result<Vec<crate::target::plugin::TargetDecl>, String> {
    let ar = kube::discovery::ApiResource {
        group: "sluice.dev".into(),
        version: "v1alpha1".into(),
        api_version: "sluice.dev/v1alpha1".into(),
        kind: "Target".into(),
        plural: "targets".into(),
    };
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(client.clone(), namespace, &ar);
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| {
            format!(
                "cannot list Target resources in namespace {namespace}: {e}; install the CRD with `sluice crd | kubectl apply -f -`"
            )
        })?;
    let mut out = Vec::new();
    for o in list.items {
        let v = serde_json::to_value(&o).map_err(|e| e.to_string())?;
        out.push(crate::target::plugin::from_resource(&v).map_err(|e| crate::error_chain(&e))?);
    }
    Ok(out)
}

/// The CustomResourceDefinition, as a JSON object.
pub fn application_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "applications.sluice.dev"},
        "spec": {
            "group": "sluice.dev",
            "names": {
                "kind": "Application",
                "listKind": "ApplicationList",
                "plural": "applications",
                "singular": "application",
                "shortNames": ["sapp"],
                "categories": ["sluice"]
            },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Sync", "type": "string", "jsonPath": ".status.sync"},
                    {"name": "Health", "type": "string", "jsonPath": ".status.health"},
                    {"name": "Revision", "type": "string", "jsonPath": ".status.revision", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A sluice Application: what to render from which source, and where to sync it.",
                    "required": ["spec"],
                    "properties": {
                        "spec": schema_of::<crate::app::Spec>(),
                        "status": schema_of::<AppStatus>()
                    }
                }}
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_structural_and_names_the_fields() {
        let crd = application_crd();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["type"], "object");
        let source = &spec["properties"]["source"];
        assert!(source["properties"]["repoURL"].is_object(), "{source}");
        assert!(
            spec["properties"]["syncPolicy"]["properties"]["retry"]["properties"]["backoff"]
                ["properties"]["maxDuration"]
                .is_object()
        );
        // Structural: no references, no `additionalProperties: false`
        // beside properties.
        let text = crd.to_string();
        assert!(!text.contains("$ref"), "{text}");
        assert!(!text.contains("\"additionalProperties\":false"), "{text}");
    }
}
