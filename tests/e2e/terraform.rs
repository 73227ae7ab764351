//! The terraform-plan renderer end to end: `sluice render`, `diff` and
//! `sync` of apps whose path holds a plan made by real OpenTofu
//! (tests/terraform/fixtures), against the real API server; the oracle
//! (OpenTofu applies a plan, sluice syncs its twin, the live objects are
//! compared); and the 0.1.0 contract still served.

use crate::common::{sluice, text};
use serde_json::Value;
use sluice::plugin::{Limits, Runtime};
use sluice::render::{RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use sluice_testkit::cluster::TestCluster;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// The sensitive value of the typed fixture (a sensitive variable, in a
/// ConfigMap and a Secret), and its base64 form as the Secret carries it.
const TYPED_SECRET: &str = "s3cr3t-typed-PW";
const TYPED_SECRET_B64: &str = "czNjcjN0LXR5cGVkLVBX";

fn fixture(name: &str) -> PathBuf {
    crate::common::repo_root()
        .join("tests/terraform/fixtures")
        .join(name)
}

/// A temporary app directory holding the fixture `name` as `app.tfplan.json`.
fn app_with(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture(name), dir.path().join("app.tfplan.json")).expect("copy plan");
    dir
}

fn run(args: &[&str], kubeconfig: &Path) -> Output {
    // The apps live in temporary directories outside the working
    // directory, which sluice refuses unless they are allowed.
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_ALLOW_LOCAL_REPO", std::env::temp_dir())
        .env("KUBECONFIG", kubeconfig)
        .env("SLUICE_LOG", "debug")
        .output()
        .expect("run sluice")
}

/// Everything a command printed: stdout, then stderr (logs included).
fn all(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn assert_no_secret(what: &str, out: &str) {
    for s in [TYPED_SECRET, TYPED_SECRET_B64] {
        assert!(
            !out.contains(s),
            "{what} printed a sensitive value ({s}):\n{out}"
        );
    }
}

#[test]
fn render_masks_sensitive_values_unless_asked() {
    let app = app_with("typed.tfplan.json");
    let dir = app.path().display().to_string();
    let out = sluice(&["render", &dir, "--log", "debug"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let yaml = text(&out.stdout);
    assert_no_secret("render", &all(&out));
    assert!(yaml.contains("db_password: ++++++++\n"), "{yaml}");
    assert!(
        yaml.contains("password: ++++++++\n") && yaml.contains("username: ++++++++\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("kind: Deployment"),
        "detected as a plan: {yaml}"
    );
    assert!(
        text(&out.stderr).contains(
            "plan: 18 to create, 0 to update, 0 to replace, 0 to delete, 0 to forget, 0 unchanged"
        ),
        "{}",
        text(&out.stderr)
    );

    let out = sluice(&["render", &dir, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert_no_secret("render -o json", &all(&out));
    let objs: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(objs.len(), 18);

    let out = sluice(&["render", &dir, "-o", "json", "--show-secrets"]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains(TYPED_SECRET) && shown.contains(TYPED_SECRET_B64),
        "{shown}"
    );
}

#[test]
fn refused_plans_fail_the_render_with_the_reason() {
    for (name, why) in [
        ("errored.tfplan.json", "the plan errored (`errored: true`)"),
        ("target.tfplan.json", "the plan is not complete"),
        (
            "unknown.tfplan.json",
            "kubernetes_config_map_v1.with_unknown: the value of data is known only after apply",
        ),
    ] {
        let app = app_with(name);
        let out = sluice(&["render", &app.path().display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", all(&out));
        assert!(
            text(&out.stderr).contains(why),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

/// `sluice sync` of `dir` into the test cluster as app `name`.
fn sync(c: &TestCluster, dir: &Path, name: &str, ns: &str, extra: &[&str]) -> Output {
    let d = dir.display().to_string();
    let mut args = vec!["sync", "--repo", &d, "--name", name, "--dest-namespace", ns];
    args.extend_from_slice(extra);
    run(&args, &c.kubeconfig)
}

fn diff(c: &TestCluster, dir: &Path, name: &str, ns: &str, extra: &[&str]) -> Output {
    let d = dir.display().to_string();
    let mut args = vec!["diff", "--repo", &d, "--name", name, "--dest-namespace", ns];
    args.extend_from_slice(extra);
    run(&args, &c.kubeconfig)
}

#[test]
fn sync_and_diff_a_plan_never_print_its_secrets() {
    let c = TestCluster::shared();
    let app = app_with("typed.tfplan.json");
    let d = diff(c, app.path(), "tf-typed", "tf-typed", &[]);
    assert_eq!(d.status.code(), Some(1), "all missing: {}", all(&d));
    assert_no_secret("diff", &all(&d));
    assert!(
        text(&d.stdout).contains("+  db_password: ++++++++++\n"),
        "{}",
        text(&d.stdout)
    );

    let s = sync(c, app.path(), "tf-typed", "tf-typed", &[]);
    assert_eq!(s.status.code(), Some(0), "{}", all(&s));
    assert_no_secret("sync", &all(&s));
    let j = sync(c, app.path(), "tf-typed", "tf-typed", &["-o", "json"]);
    assert_eq!(j.status.code(), Some(0), "{}", all(&j));
    assert_no_secret("sync -o json", &all(&j));
    let report: Value = serde_json::from_slice(&j.stdout).expect("json");
    assert!(
        report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["action"] == "unchanged"),
        "a second sync changes nothing: {report:#}"
    );

    // The values were applied as planned.
    let pw = c.kubectl_ok(&[
        "get",
        "-n",
        "tf-typed",
        "secret",
        "db",
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(pw, TYPED_SECRET_B64);
    let cm = c.kubectl_ok(&[
        "get",
        "-n",
        "tf-typed",
        "cm",
        "settings",
        "-o",
        "jsonpath={.data.db_password}",
    ]);
    assert_eq!(cm, TYPED_SECRET);

    // A sensitive value changed on the cluster: the diff says so, masked.
    c.kubectl_ok(&[
        "patch",
        "-n",
        "tf-typed",
        "cm",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"db_password":"changed-on-the-cluster-9"}}"#,
    ]);
    let d = diff(c, app.path(), "tf-typed", "tf-typed", &[]);
    assert_eq!(d.status.code(), Some(1), "{}", all(&d));
    let out = all(&d);
    assert_no_secret("diff after a change", &out);
    assert!(!out.contains("changed-on-the-cluster-9"), "{out}");
    assert!(
        out.contains("-  db_password: +++++++++\n") && out.contains("+  db_password: ++++++++++\n"),
        "{out}"
    );
    let dj = diff(c, app.path(), "tf-typed", "tf-typed", &["-o", "json"]);
    assert_no_secret("diff -o json", &all(&dj));
    assert!(!all(&dj).contains("changed-on-the-cluster-9"));
}

#[test]
fn a_refusal_that_quotes_a_sensitive_value_is_masked() {
    // The plan's sensitive label value is not a valid label: the API
    // server refuses the object and quotes the value in its message.
    const LABEL: &str = "Hidden Team Label!";
    let c = TestCluster::shared();
    let ns = "tf-refused";
    c.kubectl_ok(&["create", "namespace", ns]);
    let app = app_with("refused.tfplan.json");
    for extra in [&[][..], &["-o", "json"][..], &["--log", "debug"][..]] {
        let s = sync(c, app.path(), "tf-refused", ns, extra);
        let out = all(&s);
        assert_eq!(s.status.code(), Some(1), "the object fails: {out}");
        assert!(
            out.contains("Invalid value: \\\"++++++++\\\"")
                || out.contains("Invalid value: \"++++++++\""),
            "the server's refusal is shown, its quote of the value masked: {out}"
        );
        assert!(
            !out.contains(LABEL),
            "sync {extra:?} printed the sensitive value:\n{out}"
        );
    }
    let d = diff(c, app.path(), "tf-refused", ns, &[]);
    assert!(!all(&d).contains(LABEL), "{}", all(&d));
}

#[test]
fn every_plan_action_on_the_api_server() {
    let c = TestCluster::shared();
    let ns = "tf-lifecycle";
    c.kubectl_ok(&["create", "namespace", ns]);
    let app = tempfile::tempdir().expect("tempdir");
    let plan = app.path().join("app.tfplan.json");
    let names = || {
        let mut n: Vec<String> = c
            .kubectl_ok(&[
                "get",
                "-n",
                ns,
                "cm,deploy",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        n.sort();
        n
    };

    std::fs::copy(fixture("lifecycle-before.tfplan.json"), &plan).expect("copy");
    let s = sync(c, app.path(), "lifecycle", ns, &["--prune"]);
    assert_eq!(s.status.code(), Some(0), "{}", all(&s));
    assert_eq!(
        names(),
        [
            "change",
            "drifted",
            "drop",
            "forgotten",
            "keep",
            "rename-old",
            "scale"
        ]
    );

    // update, no-op, replace (new name), delete, forget, drift.
    std::fs::copy(fixture("lifecycle.tfplan.json"), &plan).expect("copy");
    let s = sync(c, app.path(), "lifecycle", ns, &["--prune"]);
    assert_eq!(s.status.code(), Some(0), "{}", all(&s));
    assert!(
        all(&s).contains("kubernetes_manifest.drifted changed outside Terraform"),
        "{}",
        all(&s)
    );
    assert_eq!(
        names(),
        [
            "change",
            "drifted",
            "forgotten",
            "keep",
            "rename-new",
            "scale"
        ]
    );
    let v = c.kubectl_ok(&["get", "-n", ns, "cm", "change", "-o", "jsonpath={.data.v}"]);
    assert_eq!(v, "2");
    let r = c.kubectl_ok(&[
        "get",
        "-n",
        ns,
        "deploy",
        "scale",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(r, "3");
    // forget: left running with its data, out of the app's inventory.
    assert!(
        all(&s).contains("no longer managed by this app; left in place"),
        "{}",
        all(&s)
    );
    let f = c.kubectl_ok(&[
        "get",
        "-n",
        ns,
        "cm",
        "forgotten",
        "-o",
        r#"jsonpath={.data.v}/{.metadata.labels.applyset\.kubernetes\.io/part-of}/{.metadata.annotations}"#,
    ]);
    assert_eq!(f, "1//", "kept, no longer labelled a member, not annotated");

    // The next plan no longer mentions `forgotten`: it is not pruned.
    std::fs::copy(fixture("lifecycle-after.tfplan.json"), &plan).expect("copy");
    let s = sync(c, app.path(), "lifecycle", ns, &["--prune"]);
    assert_eq!(s.status.code(), Some(0), "{}", all(&s));
    assert_eq!(
        names(),
        [
            "change",
            "drifted",
            "forgotten",
            "keep",
            "rename-new",
            "scale"
        ]
    );
    let d = diff(c, app.path(), "lifecycle", ns, &[]);
    assert_eq!(
        d.status.code(),
        Some(0),
        "in sync, the forgotten object ignored: {}",
        all(&d)
    );
}

/// Normalise a live object for the oracle: no server-set metadata, no
/// status, no sluice or kubectl bookkeeping, and `ns_from` renamed to
/// `ns_to` everywhere.
fn normalise(v: &Value, ns_from: &str, ns_to: &str) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "managedFields",
                "selfLink",
            ] {
                m.remove(k);
            }
            for k in ["labels", "annotations"] {
                if let Some(map) = m.get_mut(k).and_then(Value::as_object_mut) {
                    map.retain(|key, _| {
                        !key.starts_with("applyset.kubernetes.io/")
                            && !key.starts_with("kubectl.kubernetes.io/")
                            && !key.starts_with("deployment.kubernetes.io/")
                    });
                    if map.is_empty() {
                        m.remove(k);
                    }
                }
            }
        }
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        // Allocated by the server, different for every Service.
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    drop_controller_uids(&mut v);
    if v["kind"] == "Job" {
        // The server copies the template's labels onto a Job that has none;
        // sluice's Job has its ApplySet label, so it gets none.
        if let Some(m) = v.pointer_mut("/metadata").and_then(Value::as_object_mut) {
            m.remove("labels");
        }
    }
    // RBAC rules' lists are sets in the provider (sorted in the plan, in
    // hash order when the provider applies them): compare them as sets.
    if let Some(rules) = v.get_mut("rules").and_then(Value::as_array_mut) {
        for r in rules.iter_mut().filter_map(Value::as_object_mut) {
            for list in r.values_mut().filter_map(Value::as_array_mut) {
                list.sort_by_key(Value::to_string);
            }
        }
    }
    let text = v.to_string().replace(ns_from, ns_to);
    serde_json::from_str(&text).expect("json")
}

/// A Job's selector and labels carry its uid: different for every Job.
fn drop_controller_uids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("controller-uid"));
            m.values_mut().for_each(drop_controller_uids);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_controller_uids),
        _ => {}
    }
}

/// The directory tests/terraform/build.sh prints (OpenTofu, the provider
/// mirror and a tofurc), from `SLUICE_TERRAFORM_BIN`.
fn terraform_tools() -> PathBuf {
    let dir = std::env::var_os("SLUICE_TERRAFORM_BIN")
        .map(PathBuf::from)
        .expect("set SLUICE_TERRAFORM_BIN to the directory tests/terraform/build.sh prints");
    assert!(
        dir.join("tofu").is_file() && dir.join("tofurc").is_file(),
        "SLUICE_TERRAFORM_BIN={} does not hold tofu and tofurc; run tests/terraform/build.sh",
        dir.display()
    );
    dir
}

/// The oracle: OpenTofu applies the typed + manifest configuration into
/// tf-oracle-a, sluice syncs the same configuration's plan for tf-oracle-b,
/// and every object sluice made equals the one OpenTofu made once the
/// namespace and server-set fields are normalised.
#[test]
#[ignore = "needs OpenTofu and the kubernetes provider v3 (the Go module proxy does not serve the provider): \
            SLUICE_TERRAFORM_BIN=$(bash tests/terraform/build.sh | tail -1) cargo test --test e2e -- --ignored terraform::oracle"]
fn oracle_tofu_apply_and_sluice_sync_make_the_same_objects() {
    let c = TestCluster::shared();
    let tools = terraform_tools();
    let work = tempfile::tempdir().expect("tempdir");
    let cfg = crate::common::repo_root().join("tests/terraform/configs");
    std::fs::copy(cfg.join("provider.tf.in"), work.path().join("provider.tf")).expect("copy");
    let main = std::fs::read_to_string(cfg.join("typed/main.tf")).expect("typed")
        + &std::fs::read_to_string(cfg.join("manifest/main.tf")).expect("manifest");
    std::fs::write(work.path().join("main.tf"), main).expect("write");
    let tofu = |args: &[&str]| {
        let out = Command::new(tools.join("tofu"))
            .args(args)
            .current_dir(work.path())
            .env("TF_CLI_CONFIG_FILE", tools.join("tofurc"))
            .env("KUBE_CONFIG_PATH", &c.kubeconfig)
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .expect("run tofu");
        assert!(out.status.success(), "tofu {args:?}:\n{}", all(&out));
    };
    tofu(&["init", "-input=false", "-no-color"]);
    // The configuration does not make every resource depend on the
    // namespace (sluice orders by kind; Terraform only by references), so
    // the namespace goes first.
    let var = "namespace=tf-oracle-a";
    tofu(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "-var",
        var,
        "-target=kubernetes_namespace_v1.ns",
    ]);
    tofu(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "-var",
        var,
    ]);

    let app = app_with("oracle-b.tfplan.json");
    let s = sync(c, app.path(), "oracle", "tf-oracle-b", &[]);
    assert_eq!(s.status.code(), Some(0), "{}", all(&s));

    let rendered = sluice(&[
        "render",
        &app.path().display().to_string(),
        "-o",
        "json",
        "--show-secrets",
    ]);
    let objs: Vec<Value> = serde_json::from_slice(&rendered.stdout).expect("json");
    assert_eq!(objs.len(), 21);
    let mut differ = Vec::new();
    for o in &objs {
        let kind = o["kind"].as_str().expect("kind");
        let name = o["metadata"]["name"].as_str().expect("name");
        let res = format!("{}/{}", kind.to_lowercase(), name);
        let get = |ns: &str, name: &str| {
            let mut args = vec![
                "get".to_string(),
                format!("{}/{}", kind.to_lowercase(), name),
                "-o".into(),
                "json".into(),
            ];
            if o["metadata"].get("namespace").is_some() {
                args.extend(["-n".to_string(), ns.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let v: Value = serde_json::from_str(&c.kubectl_ok(&args)).expect("json");
            v
        };
        let by_sluice = normalise(&get("tf-oracle-b", name), "tf-oracle-b", "tf-oracle-X");
        let by_tofu = normalise(
            &get("tf-oracle-a", &name.replace("tf-oracle-b", "tf-oracle-a")),
            "tf-oracle-a",
            "tf-oracle-X",
        );
        if by_sluice != by_tofu {
            differ.push(format!(
                "{res}:\n  tofu:   {by_tofu}\n  sluice: {by_sluice}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} object(s) differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// A component built against the frozen sluice:plugin@0.1.0 contract still
/// loads, reads the tree and renders (its objects carry no sensitive
/// paths), next to the current (0.3.0) built-ins.
#[test]
fn a_0_1_0_component_still_renders() {
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::write(repo.path().join("name.txt"), "from-old-plugin\n").expect("write");
    let runtime = Runtime::new(Limits::default(), None).expect("runtime");
    let renderers = Renderers::new(runtime);
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(repo.path()).expect("tree"));
    let spec = |renderer: RendererRef| RenderSpec {
        app: "old".into(),
        path: String::new(),
        renderer,
        params: vec![],
        params_json: None,
        namespace: String::new(),
        revision: String::new(),
        repo_url: String::new(),
    };
    let old = RendererRef::File {
        path: env!("SLUICE_TEST_PLUGIN_V0_1").into(),
        sha256: None,
    };
    let r = renderers.render(tree.clone(), &spec(old)).expect("renders");
    assert_eq!(r.renderer, "test-v0-1@0.1.0");
    assert_eq!(r.objects.len(), 1);
    assert_eq!(r.objects[0].value["metadata"]["name"], "from-old-plugin");
    assert!(r.objects[0].sensitive_paths.is_empty());

    // Its render errors come through too.
    let empty = tempfile::tempdir().expect("tempdir");
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(empty.path()).expect("tree"));
    let old = RendererRef::File {
        path: env!("SLUICE_TEST_PLUGIN_V0_1").into(),
        sha256: None,
    };
    let e = renderers.render(tree, &spec(old)).expect_err("no name.txt");
    assert!(e.to_string().contains("cannot read name.txt"), "{e}");
    assert_eq!(e.results().len(), 1);
    assert_eq!(e.results()[0].message, "name.txt is missing");

    // And a current built-in in the same runtime reports sensitive paths.
    let plan = app_with("manifest.tfplan.json");
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(plan.path()).expect("tree"));
    let r = renderers
        .render(tree, &spec(RendererRef::Builtin("terraform-plan".into())))
        .expect("renders");
    let cm = r
        .objects
        .iter()
        .find(|o| o.id.kind == "ConfigMap")
        .expect("cm");
    assert_eq!(cm.sensitive_paths, ["/data/token"]);
    assert_eq!(cm.masked()["data"]["token"], sluice::object::MASK);
}
