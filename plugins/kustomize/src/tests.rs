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

/// A scratch directory holding `files`, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sluice-kz-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (p, body) in files {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            std::fs::write(f, body).expect("write");
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GUESTBOOK: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: guestbook-ui}
spec:
  replicas: 1
  selector: {matchLabels: {app: guestbook-ui}}
  template:
    metadata: {labels: {app: guestbook-ui}}
    spec:
      containers:
      - {name: guestbook-ui, image: gcr.io/heptio-images/ks-guestbook-demo:0.1, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: guestbook-ui}
spec:
  ports: [{port: 80, targetPort: 80}]
  selector: {app: guestbook-ui}
";

fn render_json(dir: &std::path::Path, path: &str, json: Option<&str>) -> Vec<String> {
    let t = sluice_plugin_sdk::testing::DirTree::new(dir);
    let mut req = request(path, &[]);
    req.params_json = json.map(str::to_string);
    let out = render(&t, &req).unwrap_or_else(|e| panic!("{}", e.message));
    out.objects.into_iter().map(|o| o.json).collect()
}

/// Argo CD's `source.kustomize` fields, given as `overrides`, build the
/// same objects as the kustomization with those fields written in (what
/// Argo CD's `kustomize edit` calls produce), and what the fields say.
#[test]
fn overrides_equal_the_fields_written_into_the_top_kustomization() {
    let s = Scratch::new(
        "overrides",
        &[
            ("base/app.yaml", GUESTBOOK),
            (
                "base/kustomization.yaml",
                "resources: [app.yaml]\ncommonLabels: {tier: web}\n",
            ),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {from-component: \"yes\"}\n",
            ),
            (
                "app/kustomization.yaml",
                "resources: [../base]\nimages: [{name: other, newTag: '2'}]\ncommonLabels: {team: a}\n",
            ),
            (
                "edited/kustomization.yaml",
                "resources: [../base]
namePrefix: prod-
nameSuffix: -v2
namespace: shop
images:
- {name: gcr.io/heptio-images/ks-guestbook-demo, newTag: '0.2'}
- {name: other, newTag: '2'}
replicas: [{name: guestbook-ui, count: 3}]
commonLabels: {team: a, env: prod}
commonAnnotations: {owner: ops}
patches:
- target: {kind: Service}
  patch: '[{\"op\": \"add\", \"path\": \"/spec/type\", \"value\": \"NodePort\"}]'
components: [../comp]
",
            ),
        ],
    );
    let overrides = r#"{"overrides": {
        "namePrefix": "prod-", "nameSuffix": "-v2", "namespace": "shop",
        "images": [{"name": "gcr.io/heptio-images/ks-guestbook-demo", "newTag": "0.2"}],
        "replicas": [{"name": "guestbook-ui", "count": 3}],
        "commonLabels": {"env": "prod"}, "commonAnnotations": {"owner": "ops"},
        "patches": [{"target": {"kind": "Service"}, "patch": "[{\"op\": \"add\", \"path\": \"/spec/type\", \"value\": \"NodePort\"}]"}],
        "components": ["../comp"]}}"#;
    // The component lies outside app/: allowed as the edited copy allows it.
    let with = render_json(&s.0, "app", Some(overrides));
    let edited = render_json(&s.0, "edited", None);
    assert_eq!(with, edited);
    let all = with.join("\n");
    for want in [
        r#""name":"prod-guestbook-ui-v2","namespace":"shop""#,
        r#""image":"gcr.io/heptio-images/ks-guestbook-demo:0.2""#,
        r#""replicas":3"#,
        r#""type":"NodePort""#,
        r#""from-component":"yes""#,
        r#""env":"prod""#,
        r#""owner":"ops""#,
    ] {
        assert!(all.contains(want), "{want} missing from {all}");
    }
    // Without overrides the app is untouched.
    let plain = render_json(&s.0, "app", None).join("\n");
    assert!(
        plain.contains(r#""name":"guestbook-ui""#) && !plain.contains("prod-"),
        "{plain}"
    );
}

#[test]
fn an_override_label_the_file_has_needs_force() {
    let s = Scratch::new(
        "force",
        &[
            ("app/app.yaml", GUESTBOOK),
            (
                "app/kustomization.yaml",
                "resources: [app.yaml]\ncommonLabels: {team: a}\n",
            ),
        ],
    );
    let t = sluice_plugin_sdk::testing::DirTree::new(&s.0);
    let mut req = request("app", &[]);
    req.params_json = Some(r#"{"overrides": {"commonLabels": {"team": "b"}}}"#.into());
    let e = render(&t, &req).expect_err("conflict");
    assert!(
        e.message.contains("app/kustomization.yaml: label team is already in the kustomization file; set forceCommonLabels: true to override it"),
        "{}",
        e.message
    );
    req.params_json =
        Some(r#"{"overrides": {"commonLabels": {"team": "b"}, "forceCommonLabels": true}}"#.into());
    let out = render(&t, &req).unwrap_or_else(|e| panic!("{}", e.message));
    assert!(out.objects[0].json.contains(r#""team":"b""#));
    // Missing components are skipped only when asked.
    req.params_json = Some(r#"{"overrides": {"components": ["../nope"]}}"#.into());
    assert!(render(&t, &req).is_err());
    req.params_json = Some(
        r#"{"overrides": {"components": ["../nope"], "ignoreMissingComponents": true}}"#.into(),
    );
    render(&t, &req).unwrap_or_else(|e| panic!("{}", e.message));
    // Unknown keys are named.
    req.params_json = Some(r#"{"overrides": {"namePrefx": "x"}}"#.into());
    let e = render(&t, &req).expect_err("unknown");
    assert!(
        e.message.contains("unknown field `namePrefx`"),
        "{}",
        e.message
    );
}

/// Flux builds a directory without a kustomization from the manifests
/// below it; a sub-directory with its own kustomization is built as one.
#[test]
fn generate_builds_a_directory_without_kustomization_as_flux_does() {
    let s = Scratch::new(
        "generate",
        &[
            (
                "app/a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            ),
            (
                "app/sub/b.yml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            ),
            ("app/sub/notes.txt", "not yaml"),
            (
                "app/kz/c.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
            (
                "app/kz/kustomization.yaml",
                "resources: [c.yaml]\nnamePrefix: k-\n",
            ),
        ],
    );
    let got = render_json(
        &s.0,
        "app",
        Some(r#"{"overrides": {"generate": true, "namespace": "flux"}}"#),
    );
    let names: Vec<String> = got
        .iter()
        .map(|j| {
            let v: serde_json::Value = serde_json::from_str(j).expect("json");
            format!(
                "{}/{}",
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    // kustomize's legacy order: by kind, then by name.
    assert_eq!(names, ["flux/a", "flux/b", "flux/k-c"]);
    // Without generate, a missing kustomization is kustomize's error.
    let t = sluice_plugin_sdk::testing::DirTree::new(&s.0);
    let e = render(&t, &request("app", &[])).expect_err("no kustomization");
    assert!(
        e.message
            .contains("unable to find one of 'kustomization.yaml'"),
        "{}",
        e.message
    );
}
