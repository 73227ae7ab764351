//! Sync and diff against a real kube-apiserver (started by
//! `sluice_testkit::cluster`), each test in its own namespaces.

use crate::common::{cm, deploy, objs};
use serde_json::{Value, json};
use sluice::sync::{Action, NoProgress, Report, RowStatus, SyncError, SyncOptions, run};
use sluice::target::applyset::{PART_OF_LABEL, Parent};
use sluice::target::kube::KubeTarget;
use sluice_testkit::cluster::TestCluster;

async fn target() -> (KubeTarget, &'static TestCluster) {
    let cluster = TestCluster::shared();
    let t = KubeTarget::connect(Some(&cluster.kubeconfig), None)
        .await
        .expect("connect");
    (t, cluster)
}

async fn sync(
    t: &KubeTarget,
    app: &str,
    ns: &str,
    values: Vec<Value>,
    f: impl FnOnce(&mut SyncOptions),
) -> Result<Report, SyncError> {
    let mut o = SyncOptions::new(app, ns);
    f(&mut o);
    run(t, objs(values), &o, &NoProgress).await
}

fn row<'a>(r: &'a Report, name: &str) -> &'a sluice::sync::Row {
    r.rows
        .iter()
        .find(|row| row.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {r:#?}"))
}

fn rv(c: &TestCluster, ns: &str, what: &str) -> String {
    c.kubectl_ok(&[
        "get",
        "-n",
        ns,
        what,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_noop_prune_and_kubectl_sees_the_applyset() {
    let (t, c) = target().await;
    let ns = c.namespace("sync-basic");
    let want = || {
        vec![
            cm("a", json!({"k": "1"})),
            cm("b", json!({})),
            deploy("web", "web", "nginx:1"),
        ]
    };
    let r = sync(&t, "basic", &ns, want(), |_| {}).await.expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    assert!(r.rows.iter().all(|x| x.action == Action::Created), "{r:#?}");

    // No-op: all Synced, no writes (resourceVersions unchanged).
    let before = [
        rv(c, &ns, "cm/a"),
        rv(c, &ns, "deploy/web"),
        rv(c, &ns, "secret/sluice-applyset-basic"),
    ];
    let r = sync(&t, "basic", &ns, want(), |_| {}).await.expect("sync");
    assert!(
        r.rows
            .iter()
            .all(|x| x.status == RowStatus::Synced && x.action == Action::Unchanged),
        "{r:#?}"
    );
    let after = [
        rv(c, &ns, "cm/a"),
        rv(c, &ns, "deploy/web"),
        rv(c, &ns, "secret/sluice-applyset-basic"),
    ];
    assert_eq!(before, after, "a no-op sync must not write");

    // kubectl understands the ApplySet.
    let id = Parent::for_app("basic", &ns).id;
    let names = c.kubectl_ok(&[
        "get",
        "cm",
        "-n",
        &ns,
        "-l",
        &format!("{PART_OF_LABEL}={id}"),
        "-o",
        "name",
    ]);
    assert_eq!(names.trim(), "configmap/a\nconfigmap/b");
    let parent = c.kubectl_ok(&[
        "get",
        "secret",
        "-n",
        &ns,
        "-l",
        &format!("applyset.kubernetes.io/id={id}"),
        "-o",
        "json",
    ]);
    let parent: Value = serde_json::from_str(&parent).expect("json");
    assert_eq!(
        parent["items"][0]["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap,Deployment.apps"
    );

    // Update and prune.
    let r = sync(
        &t,
        "basic",
        &ns,
        vec![cm("a", json!({"k": "2"})), deploy("web", "web", "nginx:2")],
        |o| o.prune = true,
    )
    .await
    .expect("sync");
    assert_eq!(row(&r, "a").action, Action::Configured);
    assert_eq!(row(&r, "web").action, Action::Configured);
    assert_eq!(row(&r, "b").status, RowStatus::Pruned);
    assert_eq!(
        c.kubectl_ok(&["get", "cm", "a", "-n", &ns, "-o", "jsonpath={.data.k}"]),
        "2"
    );
    let gone = c
        .kubectl()
        .args(["get", "cm", "b", "-n", &ns])
        .output()
        .expect("kubectl");
    assert!(!gone.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_guards() {
    let (t, c) = target().await;
    let ns = c.namespace("sync-guards");
    let mut keep = cm("keep", json!({}));
    keep["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-options": "Prune=false"});
    let mut flux = cm("flux", json!({}));
    flux["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    sync(
        &t,
        "guards",
        &ns,
        vec![cm("a", json!({})), keep, flux],
        |_| {},
    )
    .await
    .expect("sync");
    let err = sync(&t, "guards", &ns, vec![], |o| o.prune = true)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, SyncError::EmptyRender { members: 3, .. }),
        "{err}"
    );
    c.kubectl_ok(&["get", "cm", "a", "-n", &ns]);
    let r = sync(&t, "guards", &ns, vec![], |o| {
        o.prune = true;
        o.allow_empty = true;
    })
    .await
    .expect("allowed");
    assert_eq!(row(&r, "a").status, RowStatus::Pruned);
    assert_eq!(row(&r, "keep").status, RowStatus::Extraneous);
    assert_eq!(row(&r, "flux").status, RowStatus::Extraneous);
    c.kubectl_ok(&["get", "cm", "keep", "flux", "-n", &ns]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_then_cr_and_namespace_creation() {
    let (t, c) = target().await;
    let suffix = c.namespace("sync-crd-probe");
    let ns = format!("{suffix}-new");
    let group = format!("g{}.example.com", suffix.replace('-', ""));
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {"group": group, "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let widget = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}});
    // Diff first: everything Missing, nothing written.
    let r = sync(&t, "crd", &ns, vec![widget.clone(), crd.clone()], |o| {
        o.create_namespace = true;
        o.dry_run = true;
    })
    .await
    .expect("dry-run");
    assert!(
        r.rows.iter().all(|x| x.status == RowStatus::Missing),
        "{r:#?}"
    );
    let r = sync(&t, "crd", &ns, vec![widget.clone(), crd.clone()], |o| {
        o.create_namespace = true
    })
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    let kinds: Vec<&str> = r.rows.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(kinds, ["Namespace", "CustomResourceDefinition", "Widget"]);
    assert_eq!(
        c.kubectl_ok(&[
            "get",
            &format!("widgets.{group}"),
            "w1",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.size}"
        ]),
        "3"
    );
    let r = sync(&t, "crd", &ns, vec![widget, crd], |o| {
        o.create_namespace = true
    })
    .await
    .expect("sync");
    assert!(r.in_sync(), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_invalid_immutable_and_secret_diff() {
    let (t, c) = target().await;
    let ns = c.namespace("sync-fail");
    // Another field manager owns data.k.
    c.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-n",
            &ns,
            "-f",
            "-",
        ],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {k: theirs}\n",
    );
    let r = sync(
        &t,
        "fail",
        &ns,
        vec![cm("shared", json!({"k": "ours"})), cm("fine", json!({}))],
        |o| o.force_conflicts = false,
    )
    .await
    .expect("sync");
    assert_eq!(row(&r, "shared").status, RowStatus::SyncFailed, "{r:#?}");
    assert!(
        row(&r, "shared").message.contains("conflict"),
        "{}",
        row(&r, "shared").message
    );
    assert_eq!(
        row(&r, "fine").status,
        RowStatus::Synced,
        "independent objects carry on"
    );
    let r = sync(
        &t,
        "fail",
        &ns,
        vec![cm("shared", json!({"k": "ours"})), cm("fine", json!({}))],
        |_| {},
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "forced by default: {r:#?}");

    // Invalid object and an immutable-field change, reported per row.
    sync(
        &t,
        "fail",
        &ns,
        vec![
            cm("shared", json!({"k": "ours"})),
            cm("fine", json!({})),
            deploy("web", "web", "nginx:1"),
        ],
        |_| {},
    )
    .await
    .expect("sync");
    let invalid = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken"}, "spec": {"replicas": 1}});
    let r = sync(
        &t,
        "fail",
        &ns,
        vec![
            cm("shared", json!({"k": "ours"})),
            cm("fine", json!({})),
            deploy("web", "other", "nginx:1"),
            invalid,
        ],
        |_| {},
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 2, "{r:#?}");
    assert!(
        row(&r, "web").message.contains("field is immutable"),
        "{}",
        row(&r, "web").message
    );
    assert!(
        row(&r, "broken").message.contains("Required value"),
        "{}",
        row(&r, "broken").message
    );

    // Secret diff never shows values.
    let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"password": v}});
    sync(&t, "sec", &ns, vec![secret("first-secret-value")], |_| {})
        .await
        .expect("sync");
    let r = sync(&t, "sec", &ns, vec![secret("second-secret-value")], |o| {
        o.dry_run = true
    })
    .await
    .expect("diff");
    let x = row(&r, "creds");
    assert_eq!(x.status, RowStatus::OutOfSync);
    let d = sluice::diff::unified("Secret/creds", x.live.as_ref(), x.desired.as_ref(), false);
    assert!(d.contains("password: +++"), "{d}");
    for leak in ["secret-value", "c2Vjb25k", "Zmlyc3Q"] {
        assert!(!d.contains(leak), "{leak} leaked: {d}");
    }
}

/// Not a test: keeps the shared test cluster up for `bench/kube.sh`.
/// Writes the kubeconfig path to `$SLUICE_HOLD_CLUSTER` and waits until that
/// file is removed.
#[test]
#[ignore = "used by bench/kube.sh"]
fn hold_cluster_for_bench() {
    let Some(out) = std::env::var_os("SLUICE_HOLD_CLUSTER") else {
        return;
    };
    let c = TestCluster::shared();
    std::fs::write(&out, c.kubeconfig.display().to_string()).expect("write kubeconfig path");
    while std::path::Path::new(&out).exists() {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
