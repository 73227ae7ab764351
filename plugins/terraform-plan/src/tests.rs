//! Tests on plans made by real OpenTofu and the real kubernetes provider
//! against the test API server (`tests/terraform/fixtures.sh`); none is
//! written by hand. A few tests change one field of a real plan (its
//! format version) or cut it short, in a temporary copy.

use super::*;
use serde_json::{Value, json};
use sluice_plugin_sdk::testing::{DirTree, request};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/terraform/fixtures")
}

/// Render fixture `name` (a file in tests/terraform/fixtures) with `params`.
fn render_fixture(name: &str, params: &[(&str, &str)]) -> Result<RenderOutput, RenderError> {
    let mut p: Vec<(&str, &str)> = vec![("files", name)];
    p.extend_from_slice(params);
    render(&DirTree::new(fixtures()), &request("", &p))
}

fn ok(name: &str, params: &[(&str, &str)]) -> RenderOutput {
    render_fixture(name, params).unwrap_or_else(|e| panic!("{name} renders: {}", e.message))
}

fn err(name: &str, params: &[(&str, &str)]) -> String {
    match render_fixture(name, params) {
        Ok(_) => panic!("{name} should fail"),
        Err(e) => e.message,
    }
}

fn objects(out: &RenderOutput) -> Vec<Value> {
    out.objects
        .iter()
        .map(|o| serde_json::from_str(&o.json).expect("json"))
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {objs:#?}"))
}

fn sensitive(out: &RenderOutput, kind: &str, name: &str) -> Vec<String> {
    out.objects
        .iter()
        .find(|o| {
            let v: Value = serde_json::from_str(&o.json).expect("json");
            v["kind"] == kind && v["metadata"]["name"] == name
        })
        .map(|o| o.sensitive_paths.clone())
        .unwrap_or_default()
}

fn messages(out: &RenderOutput) -> Vec<String> {
    out.results.iter().map(|r| r.message.clone()).collect()
}

#[test]
fn typed_resources_become_the_api_objects() {
    let out = ok("typed.tfplan.json", &[]);
    let objs = objects(&out);
    let mut kinds: Vec<String> = objs
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["apiVersion"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap_or("")
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "apps/v1 DaemonSet",
            "apps/v1 Deployment",
            "apps/v1 StatefulSet",
            "autoscaling/v2 HorizontalPodAutoscaler",
            "batch/v1 CronJob",
            "batch/v1 Job",
            "networking.k8s.io/v1 Ingress",
            "networking.k8s.io/v1 NetworkPolicy",
            "rbac.authorization.k8s.io/v1 ClusterRole",
            "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1 Role",
            "rbac.authorization.k8s.io/v1 RoleBinding",
            "v1 ConfigMap",
            "v1 Namespace",
            "v1 PersistentVolumeClaim",
            "v1 Secret",
            "v1 Service",
            "v1 ServiceAccount",
        ]
    );
    for o in &out.objects {
        assert!(!o.json.contains('\u{1}'), "a marker leaked: {}", o.json);
        assert!(
            !o.json.contains("\"uid\"") && !o.json.contains("resourceVersion"),
            "{}",
            o.json
        );
    }

    let d = find(&objs, "Deployment", "web");
    assert_eq!(d["metadata"]["namespace"], "tf-typed");
    assert_eq!(d["spec"]["replicas"], 2, "a string in the provider");
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"],
        json!({"maxSurge": "25%", "maxUnavailable": 1})
    );
    assert_eq!(
        d["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 8080, "name": "http", "protocol": "TCP"}])
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(
        c["env"][1]["valueFrom"]["secretKeyRef"],
        json!({"key": "password", "name": "db", "optional": false})
    );
    assert_eq!(
        c["envFrom"],
        json!([{"configMapRef": {"name": "settings", "optional": false}}])
    );
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/etc/web");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert!(
        c.get("imagePullPolicy").is_none(),
        "computed and unknown: left to the server"
    );
    assert_eq!(
        pod["volumes"][0]["configMap"],
        json!({"defaultMode": 420, "name": "settings", "optional": false})
    );
    assert_eq!(pod["volumes"][1]["emptyDir"], json!({"sizeLimit": "1Gi"}));
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(pod["hostPID"], false);
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");

    let svc = find(&objs, "Service", "web");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}])
    );
    assert!(
        svc["spec"].get("clusterIP").is_none()
            && svc["spec"].get("allocateLoadBalancerNodePorts").is_none()
    );
    let sts = find(&objs, "StatefulSet", "db");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"],
        json!({"name": "data", "namespace": "default"}),
        "as the provider sends it"
    );
    assert_eq!(
        sts["spec"]["revisionHistoryLimit"], 0,
        "the provider's zero value"
    );
    let settings = find(&objs, "ConfigMap", "settings");
    assert_eq!(settings["immutable"], false);
    let ing = find(&objs, "Ingress", "web");
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0],
        json!({"backend": {"service": {"name": "web", "port": {"number": 80}}}, "path": "/", "pathType": "Prefix"})
    );
    assert_eq!(
        ing["spec"]["tls"],
        json!([{"hosts": ["shop.example.com"], "secretName": "shop-tls"}])
    );
    let cr = find(&objs, "ClusterRole", "tf-typed-metrics");
    assert_eq!(
        cr["rules"][0],
        json!({"nonResourceURLs": ["/metrics"], "verbs": ["get"]})
    );
    assert!(cr["metadata"].get("namespace").is_none());
    let rb = find(&objs, "RoleBinding", "reader");
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );
    assert_eq!(
        rb["subjects"],
        json!([{"kind": "ServiceAccount", "name": "web", "namespace": "tf-typed"}])
    );
    let hpa = find(&objs, "HorizontalPodAutoscaler", "web");
    // Rendered as the v2 the server stores: the v1 CPU target is a metric.
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert!(hpa["spec"].get("targetCPUUtilizationPercentage").is_none());
    assert_eq!(
        hpa["spec"]["metrics"],
        json!([{"resource": {"name": "cpu", "target": {"averageUtilization": 75, "type": "Utilization"}}, "type": "Resource"}])
    );
    let np = find(&objs, "NetworkPolicy", "web");
    assert_eq!(
        np["spec"]["ingress"][0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        np["spec"]["egress"][0]["to"][0]["ipBlock"]["except"],
        json!(["10.1.0.0/16"])
    );
    let cj = find(&objs, "CronJob", "report");
    assert!(
        cj["spec"].get("startingDeadlineSeconds").is_none(),
        "0 is unset in the provider"
    );
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    let sa = find(&objs, "ServiceAccount", "web");
    assert_eq!(sa["imagePullSecrets"], json!([{"name": "registry"}]));
    assert_eq!(sa["automountServiceAccountToken"], false);
    let cm = find(&objs, "ConfigMap", "settings");
    assert_eq!(cm["binaryData"], json!({"blob": "AAEC"}));
    assert_eq!(
        messages(&out).last().map(String::as_str),
        Some(
            "plan: 18 to create, 0 to update, 0 to replace, 0 to delete, 0 to forget, 0 unchanged"
        )
    );
}

#[test]
fn sensitive_values_are_carried_and_their_paths_reported() {
    let out = ok("typed.tfplan.json", &[]);
    let objs = objects(&out);
    // A sensitive variable in a ConfigMap: the value is there (the apply
    // needs it), and its pointer travels with the object.
    assert_eq!(
        find(&objs, "ConfigMap", "settings")["data"]["db_password"],
        "s3cr3t-typed-PW"
    );
    assert_eq!(
        sensitive(&out, "ConfigMap", "settings"),
        ["/data/db_password"]
    );
    // A Secret: every key, base64-encoded as the API wants.
    let s = find(&objs, "Secret", "db");
    assert_eq!(
        s["data"],
        json!({"password": "czNjcjN0LXR5cGVkLVBX", "username": "YXBw"})
    );
    assert_eq!(
        sensitive(&out, "Secret", "db"),
        ["/data/password", "/data/username"]
    );
    assert!(sensitive(&out, "Deployment", "web").is_empty());

    let m = ok("manifest.tfplan.json", &[]);
    assert_eq!(
        sensitive(&m, "ConfigMap", "manifest-config"),
        ["/data/token"]
    );
}

#[test]
fn plain_names_render_in_the_current_api_versions() {
    let objs = objects(&ok("typed-plain.tfplan.json", &[]));
    assert_eq!(objs.len(), 18);
    assert_eq!(
        find(&objs, "DaemonSet", "plain-agent")["apiVersion"],
        "apps/v1"
    );
    assert_eq!(
        find(&objs, "CronJob", "plain-cron")["apiVersion"],
        "batch/v1"
    );
    // kubernetes_ingress is the v1beta1 schema: rewritten to v1.
    let ing = find(&objs, "Ingress", "plain");
    assert_eq!(ing["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(
        ing["spec"]["defaultBackend"],
        json!({"service": {"name": "plain", "port": {"number": 80}}})
    );
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0],
        json!({"backend": {"service": {"name": "plain", "port": {"name": "http"}}}, "path": "/api", "pathType": "ImplementationSpecific"})
    );
    // A metric block needs autoscaling/v2.
    let hpa = find(&objs, "HorizontalPodAutoscaler", "plain");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"],
        json!({"averageUtilization": 60, "type": "Utilization"})
    );
    assert_eq!(
        find(&objs, "Service", "plain")["spec"]["ports"][0]["targetPort"],
        "http"
    );
}

#[test]
fn a_manifest_is_the_object() {
    let out = ok("manifest.tfplan.json", &[]);
    let objs = objects(&out);
    assert_eq!(objs.len(), 3);
    let plan: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("manifest.tfplan.json")).expect("read"),
    )
    .expect("json");
    for rc in plan["resource_changes"].as_array().expect("changes") {
        let m = &rc["change"]["after"]["manifest"];
        let name = m["metadata"]["name"].as_str().expect("name");
        assert_eq!(find(&objs, m["kind"].as_str().expect("kind"), name), m);
    }
}

#[test]
fn every_action_of_a_plan() {
    let out = ok("lifecycle.tfplan.json", &[]);
    let objs = objects(&out);
    let mut names: Vec<&str> = objs
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    names.sort();
    // update: change, scale, drifted; no-op: keep; replace: rename (new
    // name); forget: forgotten; delete: drop (absent), and the replaced
    // rename-old is gone.
    assert_eq!(
        names,
        [
            "change",
            "drifted",
            "forgotten",
            "keep",
            "rename-new",
            "scale"
        ]
    );
    assert_eq!(find(&objs, "ConfigMap", "change")["data"]["v"], "2");
    assert_eq!(find(&objs, "Deployment", "scale")["spec"]["replicas"], 3);
    let forgotten = find(&objs, "ConfigMap", "forgotten");
    assert_eq!(forgotten["data"]["v"], "1", "the before-state");
    assert_eq!(
        forgotten["metadata"]["annotations"],
        json!({"sluice.dev/forget": "true"}),
        "marked for the host to forget, no other opt-outs"
    );
    let msgs = messages(&out);
    assert_eq!(
        msgs.iter()
            .filter(|m| m.contains("changed outside Terraform"))
            .collect::<Vec<_>>(),
        [
            "kubernetes_manifest.drifted changed outside Terraform since the last apply (update); the plan was made from the refreshed state"
        ],
        "only a real drift, not the provider's normalisation"
    );
    assert!(
        msgs.contains(
            &"plan: 0 to create, 3 to update, 1 to replace, 1 to delete, 1 to forget, 1 unchanged"
                .to_string()
        ),
        "{msgs:?}"
    );
    assert!(
        out.results
            .iter()
            .all(|r| r.severity == sluice_plugin_sdk::Severity::Info)
    );
}

#[test]
fn unknown_values_fail_or_are_omitted() {
    let e = err("unknown.tfplan.json", &[]);
    assert!(
        e.contains("unknown.tfplan.json: kubernetes_config_map_v1.with_unknown: the value of data is known only after apply"),
        "{e}"
    );
    assert!(e.contains("set the parameter unknown=omit"), "{e}");
    let out = ok("unknown.tfplan.json", &[("unknown", "omit")]);
    let objs = objects(&out);
    // A map with an unknown element is unknown as a whole in Terraform.
    let cm = find(&objs, "ConfigMap", "with-unknown");
    assert!(cm.get("data").is_none(), "{cm}");
    assert_eq!(cm["metadata"]["name"], "with-unknown");
    assert!(messages(&out).iter().any(|m| m.contains(
        "1 resource(s) of other providers not rendered; set the parameter resources=all"
    )));
}

#[test]
fn other_providers_as_resource_objects() {
    let counted = ok("other.tfplan.json", &[]);
    assert_eq!(
        objects(&counted).len(),
        1,
        "the ConfigMap; the data source is no object"
    );
    assert!(messages(&counted).iter().any(|m| m == "2 resource(s) of other providers not rendered; set the parameter resources=all to get them as terraform.sluice.dev/v1alpha1 Resource objects"));

    let out = ok("other.tfplan.json", &[("resources", "all")]);
    let objs = objects(&out);
    assert_eq!(objs.len(), 3);
    let res: Vec<&Value> = objs.iter().filter(|o| o["kind"] == "Resource").collect();
    assert_eq!(res.len(), 2);
    let release = res
        .iter()
        .find(|o| o["spec"]["address"] == "terraform_data.release")
        .expect("release");
    assert_eq!(release["apiVersion"], "terraform.sluice.dev/v1alpha1");
    let name = release["metadata"]["name"].as_str().expect("name");
    assert!(
        name.starts_with("terraform-data-release-") && name.len() <= 63,
        "{name}"
    );
    assert_eq!(name, plan::resource_name("terraform_data.release"));
    assert_eq!(release["spec"]["type"], "terraform_data");
    assert_eq!(
        release["spec"]["provider"],
        "terraform.io/builtin/terraform"
    );
    assert_eq!(release["spec"]["action"], "create");
    assert_eq!(
        release["spec"]["plannedValues"]["input"],
        json!({"channel": "stable", "version": "1.4.2"})
    );
    assert_eq!(release["spec"]["unknownPaths"], json!(["id", "output"]));
    // A sensitive input: carried, and its pointer reported.
    let build = out
        .objects
        .iter()
        .find(|o| o.json.contains("\"terraform_data.build\""))
        .expect("build");
    assert!(build.json.contains("other-build-secret-77"));
    assert_eq!(build.sensitive_paths, ["/spec/plannedValues/input"]);
}

#[test]
fn unsupported_kubernetes_types_are_refused_by_name() {
    let e = err("unsupported.tfplan.json", &[]);
    assert!(
        e.contains("kubernetes_limit_range_v1.limits: resource type kubernetes_limit_range_v1 of the kubernetes provider is not supported by this renderer; use kubernetes_manifest for it"),
        "{e}"
    );
}

#[test]
fn partial_errored_and_state_files_are_refused() {
    let e = err("target.tfplan.json", &[]);
    assert!(
        e.contains("target.tfplan.json: the plan is not complete ("),
        "{e}"
    );
    assert!(
        e.contains("kubernetes_config_map_v1.keep") && e.contains("e.g. made with -target"),
        "{e}"
    );

    let e = render_fixture("errored.tfplan.json", &[]).expect_err("errored");
    assert!(
        e.message
            .contains("errored.tfplan.json: the plan errored (`errored: true`)"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("replicas must be positive for a production rollout"),
        "{}",
        e.message
    );
    assert!(e.results.iter().any(|d| d.message == "kubernetes_config_map_v1.guarded: check failed: replicas must be positive for a production rollout"));

    for state in ["lifecycle-state.json", "lifecycle.tfstate"] {
        let e = err(state, &[]);
        assert!(
            e.contains(&format!("{state}: is a Terraform state, not a plan")),
            "{e}"
        );
    }
}

/// A temporary app directory holding `plan.tfplan.json` made from a fixture
/// by `edit`.
fn edited(fixture: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixtures().join(fixture)).expect("read");
    std::fs::write(dir.path().join("plan.tfplan.json"), edit(text)).expect("write");
    dir
}

#[test]
fn format_versions_and_malformed_json() {
    let set_version = |v: &str| {
        let v = v.to_string();
        move |text: String| {
            let mut plan: Value = serde_json::from_str(&text).expect("json");
            plan["format_version"] = Value::String(v);
            plan.to_string()
        }
    };
    for (v, accepted) in [
        ("0.1", true),
        ("1.0", true),
        ("1.9", true),
        ("2.0", false),
        ("0.0", false),
    ] {
        let dir = edited("manifest.tfplan.json", set_version(v));
        let r = render(&DirTree::new(dir.path()), &request("", &[]));
        assert_eq!(r.is_ok(), accepted, "format_version {v}");
    }
    let dir = edited("manifest.tfplan.json", set_version("2.0"));
    let e = render(&DirTree::new(dir.path()), &request("", &[])).expect_err("2.0");
    assert!(e.message.contains("plan.tfplan.json: plan format_version 2.0 is not supported (this renderer reads 0.1 to 1.x)"), "{}", e.message);

    let dir = edited("manifest.tfplan.json", |t| t[..t.len() / 2].to_string());
    let e = render(&DirTree::new(dir.path()), &request("", &[])).expect_err("cut");
    assert!(
        e.message.starts_with("plan.tfplan.json: not valid JSON ("),
        "{}",
        e.message
    );
}

#[test]
fn plan_sha256_pins_the_approved_plan() {
    use sha2::Digest as _;
    let bytes = std::fs::read(fixtures().join("manifest.tfplan.json")).expect("read");
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ok(
        "manifest.tfplan.json",
        &[("plan-sha256", &digest.to_uppercase())],
    );
    let other = "0".repeat(64);
    let e = err("manifest.tfplan.json", &[("plan-sha256", &other)]);
    assert!(
        e.contains(&format!("manifest.tfplan.json: sha256 is {digest}, not the approved {other}; the plan changed since it was approved")),
        "{e}"
    );
}

#[test]
fn detection_parameters_and_missing_plans() {
    let info = TerraformPlan::describe();
    assert_eq!(info.detect, ["*.tfplan.json"]);
    // By default every *.tfplan.json of the directory is read.
    let dir = edited("manifest.tfplan.json", |t| t);
    let out = render(&DirTree::new(dir.path()), &request("", &[])).expect("renders");
    assert_eq!(out.objects.len(), 3);
    assert_eq!(
        out.objects[0].origin.as_ref().map(|o| o.file.as_str()),
        Some("plan.tfplan.json")
    );
    let e = render(
        &DirTree::new(dir.path()),
        &request("", &[("files", "*.plan.json")]),
    )
    .expect_err("none");
    assert!(
        e.message
            .starts_with("no plan file in \".\" matches *.plan.json"),
        "{}",
        e.message
    );
    let e = render(
        &DirTree::new(dir.path()),
        &request("", &[("resources", "some")]),
    )
    .expect_err("bad");
    assert_eq!(
        e.message,
        "parameter resources must be kubernetes or all, not \"some\""
    );
    let e = render(
        &DirTree::new(dir.path()),
        &request("", &[("unknown", "keep")]),
    )
    .expect_err("bad");
    assert_eq!(
        e.message,
        "parameter unknown must be fail or omit, not \"keep\""
    );
}

#[test]
fn a_thousand_resources() {
    let start = std::time::Instant::now();
    let out = ok("bench.tfplan.json", &[]);
    let took = start.elapsed();
    assert_eq!(out.objects.len(), 1000);
    println!("rendered 1,000 resources natively in {took:?}");
}
