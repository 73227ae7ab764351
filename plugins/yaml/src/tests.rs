use super::*;
use sluice_plugin_sdk::testing::{DirTree, request};
use std::fs;

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, body) in files {
        let full = dir.path().join(p);
        fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        fs::write(full, body).expect("write");
    }
    dir
}

fn names(out: &RenderOutput) -> Vec<String> {
    out.objects
        .iter()
        .map(|o| {
            let v: Value = serde_json::from_str(&o.json).expect("json");
            v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ";

#[test]
fn multi_document_in_path_order_and_empty_documents_skipped() {
    let d = repo(&[
        ("app/b.yaml", &format!("{CM}b1\n---\n---\n{CM}b2\n")),
        ("app/a.yml", &format!("{CM}a\n")),
        ("app/sub/c.yaml", &format!("{CM}c\n")),
        ("app/README.md", "not yaml"),
    ]);
    let out = render(&DirTree::new(d.path()), &request("app", &[])).expect("renders");
    assert_eq!(names(&out), ["a", "b1", "b2"]);
    assert_eq!(out.objects[2].origin.as_ref().map(|o| o.index), Some(2));
    let out = render(
        &DirTree::new(d.path()),
        &request("app", &[("recurse", "true")]),
    )
    .expect("renders");
    assert_eq!(names(&out), ["a", "b1", "b2", "c"]);
}

#[test]
fn lists_are_flattened_and_json_arrays_accepted() {
    let list = "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: y}}\n";
    let json = r#"[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"}},{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s2"}}]"#;
    let d = repo(&[("l.yaml", list), ("m.json", json)]);
    let out = render(&DirTree::new(d.path()), &request("", &[])).expect("renders");
    assert_eq!(names(&out), ["x", "y", "s1", "s2"]);
}

#[test]
fn non_object_is_an_error_naming_file_and_document() {
    let d = repo(&[("a.yaml", &format!("{CM}ok\n---\nfoo: bar\n"))]);
    let err = render(&DirTree::new(d.path()), &request("", &[])).expect_err("fails");
    assert!(
        err.message
            .contains("a.yaml: document 1 is not a Kubernetes object"),
        "{}",
        err.message
    );
    let f = err.results[0].file.as_ref().expect("file ref");
    assert_eq!((f.path.as_str(), f.index), ("a.yaml", Some(1)));
}

#[test]
fn kustomization_is_skipped_with_a_warning() {
    let d = repo(&[
        ("kustomization.yaml", "resources: [a.yaml]\n"),
        ("a.yaml", &format!("{CM}a\n")),
    ]);
    let out = render(&DirTree::new(d.path()), &request("", &[])).expect("renders");
    assert_eq!(names(&out), ["a"]);
    assert_eq!(out.results.len(), 1);
    assert!(out.results[0].message.contains("kustomization"));
}

#[test]
fn syntax_error_names_line_and_column() {
    let d = repo(&[(
        "bad.yaml",
        "apiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n",
    )]);
    let err = render(&DirTree::new(d.path()), &request("", &[])).expect_err("fails");
    let f = err.results[0].file.as_ref().expect("file ref");
    assert!(f.line.is_some() && f.column.is_some(), "{f:?}");
    assert!(
        err.message
            .starts_with("bad.yaml: YAML syntax error at line"),
        "{}",
        err.message
    );
}

#[test]
fn include_and_exclude_globs() {
    let d = repo(&[
        ("a.yaml", &format!("{CM}a\n")),
        ("b.yaml", &format!("{CM}b\n")),
        ("sub/c.yaml", &format!("{CM}c\n")),
        ("sub/d.yaml", &format!("{CM}d\n")),
    ]);
    let t = DirTree::new(d.path());
    let r = |p: &[(&str, &str)]| names(&render(&t, &request("", p)).expect("renders"));
    assert_eq!(r(&[("recurse", "true"), ("include", "sub/*")]), ["c", "d"]);
    assert_eq!(
        r(&[("recurse", "true"), ("exclude", "{b,d}.yaml")]),
        ["a", "c"]
    );
    assert_eq!(r(&[("include", "a.yaml,b.yaml")]), ["a", "b"]);
}

#[test]
fn unknown_parameter_is_an_error() {
    let d = repo(&[]);
    let err = render(
        &DirTree::new(d.path()),
        &request("", &[("recursive", "true")]),
    )
    .expect_err("fails");
    assert!(
        err.message.contains("unknown parameter \"recursive\""),
        "{}",
        err.message
    );
}

#[test]
fn app_path_outside_root_is_refused() {
    let d = repo(&[]);
    let err = render(&DirTree::new(d.path()), &request("../x", &[])).expect_err("fails");
    assert!(
        err.message.contains("leaves the repository"),
        "{}",
        err.message
    );
}
