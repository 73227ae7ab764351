//! Random bytes as YAML files: the yaml plugin returns objects or a render
//! error, never a trap, a panic or a hang.

use proptest::prelude::*;
use sluice::plugin::{Limits, Runtime};
use sluice::render::{RenderError, RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use std::sync::{Arc, OnceLock};

fn renderers() -> &'static Renderers {
    static R: OnceLock<Renderers> = OnceLock::new();
    R.get_or_init(|| {
        let runtime =
            Runtime::new(Limits::default(), sluice::plugin::builtin_cache_dir()).expect("runtime");
        Renderers::new(runtime)
    })
}

fn yaml_ish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[-a-z:{}\\[\\] \n\"'#&*!|>.0-9]{0,300}".prop_map(String::into_bytes),
        "(apiVersion: v1\nkind: [A-Za-z]{1,8}\nmetadata: \\{name: [a-z]{0,5}\\}\n(---\n)?){1,4}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_yaml_never_traps(bytes in yaml_ish()) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("fuzz.yaml"), &bytes).expect("write");
        let tree: Arc<dyn Tree> = Arc::new(DirTree::new(dir.path()).expect("tree"));
        let spec = RenderSpec {
            app: "fuzz".into(), path: String::new(), renderer: RendererRef::Builtin("yaml".into()),
            params: vec![], params_json: None, namespace: String::new(), revision: String::new(), repo_url: String::new(),
        };
        match renderers().render(tree, &spec) {
            Ok(_) | Err(RenderError::Failed { .. }) | Err(RenderError::BadObject { .. }) => {}
            Err(e) => prop_assert!(false, "the plugin misbehaved on {:?}: {e}", String::from_utf8_lossy(&bytes)),
        }
    }
}
