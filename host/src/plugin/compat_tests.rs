//! Components built against a frozen contract keep working.

use super::{Context, Limits, RenderRequest, Runtime};
use crate::source::{DirTree, Tree};
use std::sync::Arc;

fn request() -> RenderRequest {
    RenderRequest {
        path: String::new(),
        params: vec![],
        params_json: None,
        context: Context {
            app_name: "old".into(),
            destination_namespace: String::new(),
            revision: String::new(),
            repo_url: String::new(),
            cluster_version: String::new(),
            api_versions: vec![],
        },
    }
}

#[test]
fn a_renderer_built_against_0_2_0_renders_with_its_sensitive_paths() {
    let rt = Runtime::new(Limits::default(), None).expect("runtime");
    let wasm = std::fs::read(env!("SLUICE_TEST_PLUGIN_V0_2")).expect("test plugin built");
    let plugin = rt.load("test-v0-2", &wasm, None).expect("loads");
    assert_eq!(plugin.contract(), "0.2.0");
    assert_eq!(plugin.info().name, "test-v0-2");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("name.txt"), "from-0-2\n").expect("write");
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(dir.path()).expect("tree"));
    let out = plugin
        .render(tree, &request())
        .expect("no trap")
        .expect("renders");
    assert_eq!(out.objects.len(), 1);
    assert!(
        out.objects[0].json.contains(r#""name":"from-0-2""#),
        "{}",
        out.objects[0].json
    );
    assert_eq!(
        out.objects[0].sensitive_paths,
        vec!["/data/password".to_string()]
    );

    // Its tree errors come through its own (0.2.0) error type.
    let empty = tempfile::tempdir().expect("tempdir");
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(empty.path()).expect("tree"));
    let err = plugin
        .render(tree, &request())
        .expect("no trap")
        .expect_err("no name.txt");
    assert!(
        err.message
            .contains("cannot read name.txt: TreeError::NotFound"),
        "{}",
        err.message
    );
}

#[test]
fn a_builtin_is_built_against_the_current_contract() {
    let rt = Runtime::new(Limits::default(), None).expect("runtime");
    let yaml = super::builtin::get("yaml").expect("built in");
    assert_eq!(rt.load_builtin(yaml).expect("loads").contract(), "0.3.0");
}
