//! Existing Argo CD Applications and Flux Kustomizations synced unchanged,
//! against the real API server: `source.kustomize`, `source.directory`,
//! `source.plugin` and multi-source rendered as Argo CD renders them,
//! `managedNamespaceMetadata`, `PrunePropagationPolicy`, and
//! `ignoreDifferences` honoured by diff and by sync (a second field manager
//! that owns an ignored field is not fought); Flux's podinfo with
//! post-build substitution (defaults, the opt-out, `substituteFrom` from
//! the cluster), a generated kustomization, `wait`, and the `ssa`
//! annotation.

use crate::common::{cm, deploy, git_repo, objs, text};
use serde_json::{Value, json};
use sluice::app::argo::IgnoreDifferences;
use sluice::diff::ignore::Ignore;
use sluice::sync::{Action, NoProgress, Report, RowStatus, SyncOptions, run};
use sluice::target::kube::KubeTarget;
use sluice_testkit::cluster::TestCluster;
use std::path::Path;
use std::process::{Command, Output};

fn sluice_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("SLUICE_ALLOW_LOCAL_REPO")
        .output()
        .expect("run sluice")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The guestbook of Argo CD's example apps, as a kustomize app.
const GUESTBOOK_UI: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: guestbook-ui
  template:
    metadata:
      labels:
        app: guestbook-ui
    spec:
      containers:
      - image: gcr.io/heptio-images/ks-guestbook-demo:0.1
        name: guestbook-ui
        ports:
        - containerPort: 80
";

const GUESTBOOK_SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: guestbook-ui
spec:
  ports:
  - port: 80
    targetPort: 80
  selector:
    app: guestbook-ui
";

fn get(c: &TestCluster, ns: &str, what: &str) -> Value {
    let out = c.kubectl_ok(&["get", "-n", ns, what, "-o", "json"]);
    serde_json::from_str(&out).expect("json")
}

#[test]
fn an_argo_cd_kustomize_application_syncs_unchanged() {
    let c = TestCluster::shared();
    let ns = format!("{}-gb", c.namespace("argo"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = git_repo(
        &tmp.path().join("apps"),
        &[
            (
                "kustomize-guestbook/guestbook-ui-deployment.yaml",
                GUESTBOOK_UI,
            ),
            ("kustomize-guestbook/guestbook-ui-svc.yaml", GUESTBOOK_SVC),
            (
                "kustomize-guestbook/kustomization.yaml",
                "namePrefix: kustomize-\nresources:\n- guestbook-ui-deployment.yaml\n- guestbook-ui-svc.yaml\n",
            ),
            (
                "plain/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top}\n",
            ),
            (
                "plain/sub/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\n",
            ),
            (
                "plain/sub/skip.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: skipped}\n",
            ),
        ],
        &[],
    );
    let app = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: {url}
    targetRevision: HEAD
    path: kustomize-guestbook
    kustomize:
      namePrefix: prod-
      images:
      - gcr.io/heptio-images/ks-guestbook-demo:0.2
      commonLabels:
        env: prod
      commonAnnotations:
        revision: ${{ARGOCD_APP_REVISION_SHORT}}
      commonAnnotationsEnvsubst: true
      replicas:
      - name: guestbook-ui
        count: 3
  destination:
    server: https://kubernetes.default.svc
    namespace: {ns}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers:
    - /spec/replicas
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
    - PruneLast=true
    managedNamespaceMetadata:
      labels:
        team: storefront
"#
    );
    std::fs::write(tmp.path().join("app.yaml"), &app).expect("write");
    let kc = c.kubeconfig.to_str().expect("utf-8");
    let out = sluice_in(tmp.path(), &["sync", "app.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // Argo CD's edits (`kustomize edit`): the Application's prefix
    // replaces the file's, the image tag, the label (selectors too), the
    // replicas, the annotation substituted.
    let d = get(c, &ns, "deployment/prod-guestbook-ui");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "gcr.io/heptio-images/ks-guestbook-demo:0.2"
    );
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    assert_eq!(d["spec"]["selector"]["matchLabels"]["env"], "prod");
    let commit = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(tmp.path().join("apps"))
        .output()
        .expect("git");
    assert_eq!(
        d["metadata"]["annotations"]["revision"],
        text(&commit.stdout).trim()
    );
    let s = get(c, &ns, "service/prod-guestbook-ui");
    assert_eq!(s["spec"]["selector"]["env"], "prod");
    let n: Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "ns", &ns, "-o", "json"])).expect("json");
    assert_eq!(n["metadata"]["labels"]["team"], "storefront");

    // In sync afterwards, also once an autoscaler has scaled it (the
    // replicas are ignored).
    let out = sluice_in(tmp.path(), &["diff", "app.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    c.kubectl_ok(&[
        "scale",
        "deployment/prod-guestbook-ui",
        "-n",
        &ns,
        "--replicas=5",
    ]);
    let out = sluice_in(tmp.path(), &["diff", "app.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = sluice_in(tmp.path(), &["sync", "app.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        get(c, &ns, "deployment/prod-guestbook-ui")["spec"]["replicas"],
        5
    );

    // A directory Application: recurse with an exclude glob.
    let dir_app = app
        .replace("name: guestbook\n", "name: plain\n")
        .replace("path: kustomize-guestbook", "path: plain")
        .replace(
            "    kustomize:\n      namePrefix: prod-\n      images:\n      - gcr.io/heptio-images/ks-guestbook-demo:0.2\n      commonLabels:\n        env: prod\n      commonAnnotations:\n        revision: ${ARGOCD_APP_REVISION_SHORT}\n      commonAnnotationsEnvsubst: true\n      replicas:\n      - name: guestbook-ui\n        count: 3\n",
            "    directory:\n      recurse: true\n      exclude: '**/skip.yaml'\n      jsonnet: {}\n",
        );
    assert!(dir_app.contains("directory:"), "{dir_app}");
    std::fs::write(tmp.path().join("plain.yaml"), &dir_app).expect("write");
    let out = sluice_in(tmp.path(), &["sync", "plain.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let names = c.kubectl_ok(&[
        "get",
        "cm",
        "-n",
        &ns,
        "-o",
        "name",
        "-l",
        "applyset.kubernetes.io/part-of",
    ]);
    assert_eq!(names.trim(), "configmap/nested\nconfigmap/top", "{names}");

    // Multi-source: both rendering sources' objects, synced as one app;
    // a ref-only source renders nothing.
    let multi = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: multi
spec:
  project: default
  sources:
  - repoURL: {url}
    targetRevision: HEAD
    ref: values
  - repoURL: {url}
    targetRevision: HEAD
    path: kustomize-guestbook
    kustomize:
      namePrefix: multi-
  - repoURL: {url}
    targetRevision: HEAD
    path: plain
    directory:
      exclude: '*.json'
  destination:
    server: https://kubernetes.default.svc
    namespace: {ns}-m
  syncPolicy:
    syncOptions: [CreateNamespace=true]
"#
    );
    std::fs::write(tmp.path().join("multi.yaml"), multi).expect("write");
    let ns = format!("{ns}-m");
    let out = sluice_in(tmp.path(), &["sync", "multi.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    get(c, &ns, "deployment/multi-guestbook-ui");
    let top = get(c, &ns, "configmap/top");
    let parts = top["metadata"]["labels"]["applyset.kubernetes.io/part-of"].clone();
    assert_eq!(
        get(c, &ns, "deployment/multi-guestbook-ui")["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        parts
    );

    // Helm is refused, naming the field, before anything is sent.
    let helm = app.replace(
        "    kustomize:\n",
        "    helm:\n      releaseName: gb\n    kustomize:\n",
    );
    std::fs::write(tmp.path().join("helm.yaml"), helm).expect("write");
    let out = sluice_in(tmp.path(), &["sync", "helm.yaml", "--kubeconfig", kc]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(
            "helm.yaml: not a valid Application: spec.source.helm: Helm is not supported yet"
        ),
        "{}",
        show(&out)
    );
}

async fn target() -> (KubeTarget, &'static TestCluster) {
    let cluster = TestCluster::shared();
    let t = KubeTarget::connect(Some(&cluster.kubeconfig), None)
        .await
        .expect("connect");
    (t, cluster)
}

async fn sync(t: &KubeTarget, ns: &str, values: Vec<Value>, ignore: &Ignore, dry: bool) -> Report {
    let mut o = SyncOptions::new("ignore", ns);
    o.ignore = ignore.clone();
    o.dry_run = dry;
    let r = run(t, objs(values), &o, &NoProgress).await.expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    r
}

fn row<'a>(r: &'a Report, name: &str) -> &'a sluice::sync::Row {
    r.rows
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {r:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_fields_owned_by_another_manager_are_not_fought() {
    let (t, c) = target().await;
    let ns = c.namespace("argo-ignore");
    let ignore = Ignore::from_argo(&[
        IgnoreDifferences {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: vec!["/spec/replicas".into()],
            ..Default::default()
        },
        IgnoreDifferences {
            kind: "ConfigMap".into(),
            name: Some("settings".into()),
            managed_fields_managers: vec!["injector".into()],
            ..Default::default()
        },
    ])
    .expect("rules");
    let mut web = deploy("web", "web", "nginx:1");
    web["spec"]["replicas"] = json!(2);
    let want = || {
        vec![
            web.clone(),
            cm("settings", json!({"mode": "a", "level": "1"})),
        ]
    };
    let r = sync(&t, &ns, want(), &ignore, false).await;
    assert!(r.rows.iter().all(|x| x.action == Action::Created), "{r:#?}");
    // A new object is created whole.
    assert_eq!(get(c, &ns, "deploy/web")["spec"]["replicas"], 2);

    // A second field manager takes the ignored fields: an autoscaler
    // scales the Deployment, an injector force-applies one ConfigMap key.
    c.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        &ns,
        "--field-manager",
        "autoscaler",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
    ]);
    let injected = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(
        injected.path(),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{mode: b}}\n"),
    )
    .expect("write");
    c.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "injector",
        "-f",
        injected.path().to_str().expect("utf-8"),
    ]);

    // Diff: in sync. Sync: nothing written, their values stay.
    let rv = |what: &str| get(c, &ns, what)["metadata"]["resourceVersion"].clone();
    let before = (rv("deploy/web"), rv("cm/settings"));
    let d = sync(&t, &ns, want(), &ignore, true).await;
    for name in ["web", "settings"] {
        assert_eq!(row(&d, name).status, RowStatus::Synced, "{d:#?}");
    }
    let s = sync(&t, &ns, want(), &ignore, false).await;
    for name in ["web", "settings"] {
        assert_eq!(row(&s, name).action, Action::Unchanged, "{s:#?}");
    }
    assert_eq!(
        (rv("deploy/web"), rv("cm/settings")),
        before,
        "nothing written"
    );
    assert_eq!(get(c, &ns, "deploy/web")["spec"]["replicas"], 5);
    assert_eq!(
        get(c, &ns, "cm/settings")["data"],
        json!({"mode": "b", "level": "1"})
    );

    // A change to a field that is not ignored still syncs, and still
    // leaves the ignored ones alone.
    let mut newer = want();
    newer[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    newer[1]["data"]["level"] = json!("2");
    let s = sync(&t, &ns, newer.clone(), &ignore, false).await;
    assert_eq!(row(&s, "web").action, Action::Configured, "{s:#?}");
    let d = get(c, &ns, "deploy/web");
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(
        get(c, &ns, "cm/settings")["data"],
        json!({"mode": "b", "level": "2"})
    );

    // Without the rules sluice takes the fields back: the test can fail.
    let none = Ignore::default();
    let d = sync(&t, &ns, newer.clone(), &none, true).await;
    assert_eq!(row(&d, "web").status, RowStatus::OutOfSync, "{d:#?}");
    sync(&t, &ns, newer, &none, false).await;
    assert_eq!(get(c, &ns, "deploy/web")["spec"]["replicas"], 2);
    assert_eq!(get(c, &ns, "cm/settings")["data"]["mode"], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_propagation_policy_reaches_the_api_server() {
    let (t, c) = target().await;
    let ns = c.namespace("argo-propagation");
    let both = || vec![cm("keep", json!({})), cm("old", json!({}))];
    let mut o = SyncOptions::new("propagation", &ns);
    run(&t, objs(both()), &o, &NoProgress).await.expect("sync");
    o.prune = true;
    o.propagation = sluice::target::Propagation::Foreground;
    let r = run(&t, objs(vec![cm("keep", json!({}))]), &o, &NoProgress)
        .await
        .expect("prune");
    assert_eq!(row(&r, "old").status, RowStatus::Pruned, "{r:#?}");
    // No garbage collector runs here: a foreground delete leaves the
    // object waiting on its finalizer, which shows the policy was sent.
    let old = get(c, &ns, "cm/old");
    assert_eq!(
        old["metadata"]["finalizers"],
        json!(["foregroundDeletion"]),
        "{old:#}"
    );
    assert!(old["metadata"]["deletionTimestamp"].is_string());
    c.kubectl_ok(&[
        "patch",
        "cm",
        "old",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
}

/// Flux's podinfo, trimmed: a Deployment and Service through kustomize,
/// with post-build variables.
const PODINFO_DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: ${REPLICAS:=2}
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.5.0
        env:
        - name: PODINFO_UI_MESSAGE
          value: \"hello from ${cluster_env}\"
";

#[test]
fn a_flux_kustomization_syncs_unchanged_with_substitution() {
    let c = TestCluster::shared();
    let ns = c.namespace("flux");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = podinfo_repo(tmp.path());
    let flux = podinfo_flux(&url, &ns, "flux-system");
    std::fs::write(tmp.path().join("podinfo.yaml"), &flux).expect("write");
    let kc = c.kubeconfig.to_str().expect("utf-8");
    let out = sluice_in(tmp.path(), &["sync", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    podinfo_checks(c, &ns, tmp.path(), &flux);

    // A file with two Kustomizations: --name picks one.
    let second = flux
        .split("---\n")
        .nth(2)
        .expect("kustomization")
        .replace("  name: podinfo\n  namespace", "  name: other\n  namespace");
    let both = format!(
        "{}---\n{second}",
        flux.replace(
            "      cluster_env: prod\n",
            "      cluster_env: prod\n      REPLICAS: \"3\"\n"
        )
    );
    std::fs::write(tmp.path().join("podinfo.yaml"), both).expect("write");
    let out = sluice_in(tmp.path(), &["diff", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("holds 2 apps (podinfo, other); name one with --name"),
        "{}",
        show(&out)
    );
    let out = sluice_in(
        tmp.path(),
        &[
            "diff",
            "podinfo.yaml",
            "--name",
            "podinfo",
            "--kubeconfig",
            kc,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn flux_substitute_from_reads_config_maps_and_secrets_from_the_cluster() {
    let c = TestCluster::shared();
    let ns = c.namespace("flux-from");
    let vars_ns = c.namespace("flux-vars");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = podinfo_repo(tmp.path());
    let flux = podinfo_flux(&url, &ns, &vars_ns).replace(
        "    substitute:\n      cluster_env: prod\n",
        "    substituteFrom:\n    - kind: ConfigMap\n      name: cluster-vars\n    - kind: Secret\n      name: cluster-secret-vars\n    - kind: Secret\n      name: not-there\n      optional: true\n",
    );
    assert!(flux.contains("substituteFrom"), "{flux}");
    std::fs::write(tmp.path().join("podinfo.yaml"), &flux).expect("write");
    let kc = c.kubeconfig.to_str().expect("utf-8");

    // Missing and not optional: refused, nothing applied.
    let out = sluice_in(tmp.path(), &["sync", "podinfo.yaml", "--kubeconfig", kc]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "app podinfo: postBuild.substituteFrom ConfigMap/cluster-vars in namespace {vars_ns}: not found; create it, or mark the reference optional: true; nothing was applied"
        )),
        "{}",
        show(&out)
    );
    let none = c.kubectl_ok(&["get", "deploy", "-n", &ns, "-o", "name"]);
    assert!(none.trim().is_empty(), "{none}");

    // Later sources win: the Secret's cluster_env over the ConfigMap's.
    c.kubectl_ok(&[
        "create",
        "configmap",
        "cluster-vars",
        "-n",
        &vars_ns,
        "--from-literal=cluster_env=staging",
        "--from-literal=REPLICAS=4",
    ]);
    c.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "cluster-secret-vars",
        "-n",
        &vars_ns,
        "--from-literal=cluster_env=from-secret",
    ]);
    let out = sluice_in(tmp.path(), &["sync", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let d = get(c, &ns, "deployment/podinfo");
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "hello from from-secret"
    );
    let out = sluice_in(tmp.path(), &["diff", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

fn podinfo_repo(dir: &Path) -> String {
    git_repo(
        &dir.join("podinfo"),
        &[
            ("kustomize/deployment.yaml", PODINFO_DEPLOY),
            (
                "kustomize/service.yaml",
                "apiVersion: v1\nkind: Service\nmetadata: {name: podinfo}\nspec:\n  selector: {app: podinfo}\n  ports: [{name: http, port: 9898}]\n",
            ),
            (
                "kustomize/script.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: {run.sh: \"echo ${cluster_env}\"}\n",
            ),
            (
                "kustomize/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml, service.yaml, script.yaml]\n",
            ),
        ],
        &[],
    )
}

fn podinfo_flux(url: &str, ns: &str, flux_ns: &str) -> String {
    format!(
        "---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: {flux_ns}
spec:
  interval: 5m0s
  url: {url}
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: {flux_ns}
spec:
  interval: 30m0s
  path: ./kustomize
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
  targetNamespace: {ns}
  timeout: 3m0s
  commonMetadata:
    labels:
      team: podinfo
  images:
  - name: ghcr.io/stefanprodan/podinfo
    newTag: 6.5.1
  postBuild:
    substitute:
      cluster_env: prod
"
    )
}

fn podinfo_checks(c: &TestCluster, ns: &str, tmp: &Path, flux: &str) {
    let kc = c.kubeconfig.to_str().expect("utf-8");
    let d = get(c, ns, "deployment/podinfo");
    // The default of ${REPLICAS:=2}, read back as a number.
    assert_eq!(d["spec"]["replicas"], 2);
    let ct = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(ct["env"][0]["value"], "hello from prod");
    assert_eq!(ct["image"], "ghcr.io/stefanprodan/podinfo:6.5.1");
    // commonMetadata labels the object, never its selector.
    assert_eq!(d["metadata"]["labels"]["team"], "podinfo");
    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        json!({"app": "podinfo"})
    );
    // The opt-out keeps the text as written.
    let s = get(c, ns, "configmap/script");
    assert_eq!(s["data"]["run.sh"], "echo ${cluster_env}");

    let out = sluice_in(tmp, &["diff", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // A variable given wins over the default.
    std::fs::write(
        tmp.join("podinfo.yaml"),
        flux.replace(
            "      cluster_env: prod\n",
            "      cluster_env: prod\n      REPLICAS: \"3\"\n",
        ),
    )
    .expect("write");
    let out = sluice_in(tmp, &["sync", "podinfo.yaml", "--kubeconfig", kc]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(get(c, ns, "deployment/podinfo")["spec"]["replicas"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_ssa_annotation_if_not_present_and_ignore() {
    let (t, c) = target().await;
    let ns = c.namespace("flux-ssa");
    let annotated = |name: &str, policy: &str, k: &str| {
        let mut v = cm(name, json!({"k": k}));
        v["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": policy});
        v
    };
    let o = SyncOptions::new("ssa", &ns);
    let r = run(
        &t,
        objs(vec![
            annotated("once", "IfNotPresent", "1"),
            annotated("never", "Ignore", "1"),
        ]),
        &o,
        &NoProgress,
    )
    .await
    .expect("sync");
    assert_eq!(row(&r, "once").action, Action::Created, "{r:#?}");
    assert_eq!(row(&r, "never").status, RowStatus::Skipped, "{r:#?}");
    let r = run(
        &t,
        objs(vec![
            annotated("once", "IfNotPresent", "2"),
            annotated("bad", "Sometimes", "1"),
        ]),
        &o,
        &NoProgress,
    )
    .await
    .expect("sync");
    assert_eq!(row(&r, "once").status, RowStatus::Skipped, "{r:#?}");
    assert_eq!(get(c, &ns, "cm/once")["data"]["k"], "1");
    assert!(
        row(&r, "bad").message.contains(
            "kustomize.toolkit.fluxcd.io/ssa: \"Sometimes\" is not one of Override, Merge, IfNotPresent, Ignore"
        ),
        "{r:#?}"
    );
    let none = c.kubectl_ok(&["get", "cm", "-n", &ns, "-o", "name"]);
    assert!(!none.contains("configmap/never"), "{none}");
}

/// `source.plugin` names a sluice renderer; its `parameters` become the
/// renderer's parameters and `env` entries `ARGOCD_ENV_<name>` ones.
#[test]
fn an_argo_cd_plugin_source_runs_the_named_renderer_with_its_parameters() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = git_repo(
        &tmp.path().join("apps"),
        &[
            (
                "cms/a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            ),
            (
                "cms/deep/b.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            ),
            (
                "cms/deep/c-test.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
        ],
        &[],
    );
    let app = |plugin: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: cms}}\nspec:\n  project: default\n  source:\n    repoURL: {url}\n    path: cms\n    plugin:\n{plugin}  destination: {{namespace: web}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n"
        )
    };
    std::fs::write(
        tmp.path().join("cms.yaml"),
        app("      name: yaml\n      parameters:\n      - {name: recurse, string: \"true\"}\n      - {name: exclude, array: ['*-test.yaml']}\n"),
    )
    .expect("write");
    let out = sluice_in(tmp.path(), &["sync", "cms.yaml", "--target", "dir:out"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut files: Vec<String> = std::fs::read_dir(tmp.path().join("out/web"))
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("core_ConfigMap"))
        .collect();
    files.sort();
    assert_eq!(files, ["core_ConfigMap_a.yaml", "core_ConfigMap_b.yaml"]);
    // The yaml renderer takes no env: the name it is given is Argo CD's.
    std::fs::write(
        tmp.path().join("cms.yaml"),
        app("      name: yaml\n      env: [{name: FOO, value: bar}]\n"),
    )
    .expect("write");
    let out = sluice_in(tmp.path(), &["sync", "cms.yaml", "--target", "dir:out"]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(
            "unknown parameter \"ARGOCD_ENV_FOO\"; this plugin accepts: recurse, include, exclude"
        ),
        "{}",
        show(&out)
    );
}

/// A Flux path without a kustomization is built from the manifests below
/// it; `wait: true` waits for them to be healthy.
#[test]
fn a_flux_kustomization_without_kustomization_file_waits_when_asked() {
    let c = TestCluster::shared();
    let ns = c.namespace("flux-wait");
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = git_repo(
        &tmp.path().join("infra"),
        &[
            (
                "apps/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n",
            ),
            (
                "apps/more/cm.yml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n",
            ),
            ("apps/notes.md", "not a manifest"),
        ],
        &[],
    );
    let flux = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: infra, namespace: flux-system}}\nspec: {{interval: 1m, url: {url}, ref: {{branch: main}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: apps, namespace: flux-system}}\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  wait: true\n  sourceRef: {{kind: GitRepository, name: infra}}\n  targetNamespace: {ns}\n"
    );
    std::fs::write(tmp.path().join("apps.yaml"), flux).expect("write");
    let kc = c.kubeconfig.to_str().expect("utf-8");
    let out = sluice_in(
        tmp.path(),
        &["sync", "apps.yaml", "--kubeconfig", kc, "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["one", "two"], "{report:#}");
    // Waited for: each row carries its health.
    assert!(rows.iter().all(|r| r["health"] == "Healthy"), "{report:#}");
    // A plain sync of a sluice app does not wait (no health on its rows).
    std::fs::write(
        tmp.path().join("plain.yaml"),
        format!("apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: plain}}\nspec:\n  source: {{repoURL: {url}, path: apps/more}}\n  destination: {{namespace: {ns}}}\n"),
    )
    .expect("write");
    let out = sluice_in(
        tmp.path(),
        &[
            "sync",
            "plain.yaml",
            "--kubeconfig",
            kc,
            "-o",
            "json",
            "--adopt",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["health"].is_null()),
        "{report:#}"
    );
}
