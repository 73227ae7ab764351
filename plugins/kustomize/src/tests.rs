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
