use super::*;
use sluice_plugin_sdk::testing::request;

#[test]
fn describe_names_the_plugin_and_detection_files() {
    let info = Kustomize::describe();
    assert_eq!(info.name, "kustomize");
    assert_eq!(
        info.detect,
        ["kustomization.yaml", "kustomization.yml", "Kustomization"]
    );
}

#[test]
fn bad_reorder_value_is_refused() {
    let t = sluice_plugin_sdk::testing::DirTree::new("/nonexistent");
    let e = render(&t, &request("", &[("reorder", "alpha")])).expect_err("fails");
    assert!(e.message.contains("reorder"), "{}", e.message);
}

#[test]
fn keys_are_sorted_as_kustomize_writes_them() {
    let mut v = serde_json::json!({"spec": {"b": 1, "a": [{"z": 1, "y": 2}]}, "apiVersion": "v1"});
    sort_keys(&mut v);
    assert_eq!(
        v.to_string(),
        r#"{"apiVersion":"v1","spec":{"a":[{"y":2,"z":1}],"b":1}}"#
    );
}

#[test]
fn origin_paths_are_relative_to_the_built_directory() {
    assert_eq!(relative_to("overlay", "base/svc.yaml"), "../base/svc.yaml");
    assert_eq!(relative_to("a/b", "a/b/c.yaml"), "c.yaml");
    assert_eq!(relative_to("", "x/y.yaml"), "x/y.yaml");
    assert_eq!(relative_to("a/b", "c/d.yaml"), "../../c/d.yaml");
}
