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
    // Created outside sluice: adopted explicitly, then the field conflict.
    let r = sync(
        &t,
        "fail",
        &ns,
        vec![cm("shared", json!({"k": "ours"})), cm("fine", json!({}))],
        |o| {
            o.force_conflicts = false;
            o.adopt = true;
        },
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
        |o| o.adopt = true,
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

/// `(uid, part-of label, data.k)` of ConfigMap `name`, or `None`.
fn cm_state(c: &TestCluster, ns: &str, name: &str) -> Option<(String, String, String)> {
    let out = c
        .kubectl()
        .args([
            "get",
            "cm",
            name,
            "-n",
            ns,
            "--ignore-not-found",
            "-o",
            "json",
        ])
        .output()
        .expect("kubectl");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(&text).expect("json");
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Some((
        s("/metadata/uid"),
        s("/metadata/labels/applyset.kubernetes.io~1part-of"),
        s("/data/k"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_in_one_namespace_never_touch_each_other() {
    let (t, c) = target().await;
    let ns = c.namespace("sync-two-apps");
    let left_id = Parent::for_app("left", &ns).id;
    let right_id = Parent::for_app("right", &ns).id;
    let want = |prefix: &str, round: usize, extra: bool| {
        let mut v = vec![
            cm(&format!("{prefix}-1"), json!({"k": format!("{round}")})),
            cm(&format!("{prefix}-2"), json!({"k": "fixed"})),
        ];
        if extra {
            v.push(cm(&format!("{prefix}-3"), json!({"k": "extra"})));
        }
        v
    };
    // Everything about an app's objects a sync of the other could change:
    // existence, UID, owner label, data and resourceVersion.
    let snapshot = |prefix: &str| -> Vec<Option<(String, String, String, String)>> {
        (1..=3)
            .map(|i| {
                let n = format!("{prefix}-{i}");
                cm_state(c, &ns, &n).map(|(u, o, d)| (u, o, d, rv(c, &ns, &format!("cm/{n}"))))
            })
            .collect()
    };
    for round in 0..6 {
        // Each app drops and re-adds its third object every other round,
        // so every sync of one of them prunes or creates something.
        let right_before = snapshot("r");
        let left = sync(&t, "left", &ns, want("l", round, round % 2 == 0), |o| {
            o.prune = true
        })
        .await
        .expect("sync left");
        assert_eq!(left.failed(), 0, "round {round}: {left:#?}");
        assert!(
            left.rows.iter().all(|x| x.name.starts_with("l-")),
            "round {round}: {left:#?}"
        );
        assert_eq!(
            snapshot("r"),
            right_before,
            "round {round}: left touched right"
        );
        let left_before = snapshot("l");
        assert_eq!(left_before[2].is_some(), round % 2 == 0, "round {round}");
        let right = sync(&t, "right", &ns, want("r", round, round % 2 == 1), |o| {
            o.prune = true
        })
        .await
        .expect("sync right");
        assert_eq!(right.failed(), 0, "round {round}: {right:#?}");
        assert!(
            right.rows.iter().all(|x| x.name.starts_with("r-")),
            "round {round}: {right:#?}"
        );
        assert_eq!(
            snapshot("l"),
            left_before,
            "round {round}: right touched left"
        );
        let right_now = snapshot("r");
        assert_eq!(right_now[2].is_some(), round % 2 == 1, "round {round}");
        for (state, owner) in [(&left_before, &left_id), (&right_now, &right_id)] {
            for s in state.iter().flatten() {
                assert_eq!(&s.1, owner, "round {round}");
            }
        }
    }

    // Both want `shared`: the second is refused, names the first, and
    // leaves it as it is.
    let mut l = want("l", 9, false);
    l.push(cm("shared", json!({"k": "left"})));
    sync(&t, "left", &ns, l.clone(), |o| o.prune = true)
        .await
        .expect("sync");
    let (uid, _, _) = cm_state(c, &ns, "shared").expect("created");
    let mut r = want("r", 9, false);
    r.push(cm("shared", json!({"k": "right"})));
    let refused = sync(&t, "right", &ns, r.clone(), |o| o.prune = true)
        .await
        .expect("sync");
    let msg = &row(&refused, "shared").message;
    assert_eq!(row(&refused, "shared").status, RowStatus::SyncFailed);
    assert!(
        msg.contains(&format!(
            "exists and belongs to app left (ApplySet parent Secret {ns}/sluice-applyset-left)"
        )) && msg.contains("pass --adopt to move it to app right"),
        "{msg}"
    );
    assert_eq!(
        cm_state(c, &ns, "shared"),
        Some((uid.clone(), left_id.clone(), "left".into()))
    );
    // Adopted on request: now right's, and left refuses it in turn and
    // never prunes it.
    let adopted = sync(&t, "right", &ns, r, |o| {
        o.prune = true;
        o.adopt = true;
    })
    .await
    .expect("sync");
    assert_eq!(adopted.failed(), 0, "{adopted:#?}");
    assert!(
        row(&adopted, "shared")
            .message
            .contains("adopted from app left"),
        "{adopted:#?}"
    );
    assert_eq!(
        cm_state(c, &ns, "shared"),
        Some((uid.clone(), right_id.clone(), "right".into()))
    );
    let back = sync(&t, "left", &ns, l, |o| o.prune = true)
        .await
        .expect("sync");
    assert!(
        row(&back, "shared")
            .message
            .contains("exists and belongs to app right"),
        "{back:#?}"
    );
    let gone = sync(&t, "left", &ns, want("l", 9, false), |o| o.prune = true)
        .await
        .expect("sync");
    assert!(gone.rows.iter().all(|x| x.name != "shared"), "{gone:#?}");
    assert_eq!(
        cm_state(c, &ns, "shared"),
        Some((uid, right_id, "right".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubectl_object_is_refused_then_adopted_with_the_flag() {
    let (_t, c) = target().await;
    let ns = c.namespace("sync-adopt");
    // Made by hand, carrying Argo CD's tracking annotation: not ours.
    c.kubectl_stdin(
        &["create", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  annotations:\n    argocd.argoproj.io/tracking-id: adopt:/ConfigMap:x/web-config\ndata: {k: by-hand}\n",
    );
    let (uid, _, _) = cm_state(c, &ns, "web-config").expect("created");
    let repo = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        repo.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {k: from-git}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {k: v}\n",
    )
    .expect("write");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "sync",
                "--repo",
                ".",
                "--name",
                "adopt",
                "--dest-namespace",
                &ns,
            ])
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .args(extra)
            .current_dir(repo.path())
            .output()
            .expect("sluice runs");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&["--prune"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "exists but is not part of app adopt: it has no applyset.kubernetes.io/part-of label"
        ) && out.contains("pass --adopt to take it over"),
        "{out}"
    );
    assert_eq!(
        cm_state(c, &ns, "web-config"),
        Some((uid.clone(), String::new(), "by-hand".into())),
        "left alone"
    );
    let (code, out) = run(&["--adopt"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("adopted from outside any ApplySet"), "{out}");
    let id = Parent::for_app("adopt", &ns).id;
    assert_eq!(
        cm_state(c, &ns, "web-config"),
        Some((uid, id, "from-git".into()))
    );
    // Ours from now on: no flag needed.
    let (code, out) = run(&["--prune"]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_stays_in_the_recorded_namespaces_and_checks_the_uid() {
    let (t, c) = target().await;
    let ns = c.namespace("sync-scope");
    let other = c.namespace("sync-scope-other");
    let stray = c.namespace("sync-scope-stray");
    let id = Parent::for_app("scope", &ns).id;
    let mut far = cm("far", json!({}));
    far["metadata"]["namespace"] = json!(other);
    sync(&t, "scope", &ns, vec![cm("near", json!({})), far], |_| {})
        .await
        .expect("sync");
    let parent = c.kubectl_ok(&[
        "get",
        "secret",
        "sluice-applyset-scope",
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.annotations.applyset\\.kubernetes\\.io/additional-namespaces}",
    ]);
    assert_eq!(parent, other);
    // An object labelled as a member in a namespace the parent does not
    // record (a copy, or a forged label) is not the app's to delete.
    c.kubectl_stdin(
        &["create", "-n", &stray, "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forged\n  labels:\n    {PART_OF_LABEL}: {id}\n"
        ),
    );
    let r = sync(&t, "scope", &ns, vec![], |o| {
        o.prune = true;
        o.allow_empty = true;
    })
    .await
    .expect("sync");
    assert_eq!(row(&r, "near").status, RowStatus::Pruned);
    assert_eq!(row(&r, "far").status, RowStatus::Pruned);
    assert!(r.rows.iter().all(|x| x.name != "forged"), "{r:#?}");
    c.kubectl_ok(&["get", "cm", "forged", "-n", &stray]);

    // The UID precondition: an object deleted and created again since it
    // was read is left alone.
    use sluice::target::{Deleted, Target as _, uid_of};
    let obj = &objs(vec![{
        let mut v = cm("again", json!({}));
        v["metadata"]["namespace"] = json!(ns);
        v
    }])[0];
    t.discover().await.expect("discover");
    c.kubectl_ok(&["create", "configmap", "again", "-n", &ns]);
    let first = t.get(obj).await.expect("get").expect("exists");
    let old_uid = uid_of(&first).expect("uid").to_string();
    c.kubectl_ok(&["delete", "configmap", "again", "-n", &ns]);
    c.kubectl_ok(&["create", "configmap", "again", "-n", &ns]);
    assert_eq!(
        t.delete(obj, Some(&old_uid)).await.expect("delete"),
        Deleted::Replaced
    );
    let now = t.get(obj).await.expect("get").expect("still there");
    let new_uid = uid_of(&now).expect("uid").to_string();
    assert_ne!(new_uid, old_uid);
    assert_eq!(
        t.delete(obj, Some(&new_uid)).await.expect("delete"),
        Deleted::Deleted
    );
}

/// Not a test: keeps the shared test cluster up for `bench/kube.sh`.
/// Writes the kubeconfig path to `$SLUICE_HOLD_CLUSTER` and waits until that
/// file is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_at_a_non_preferred_version_resyncs_as_unchanged() {
    // autoscaling/v1 is served next to the preferred autoscaling/v2; the
    // inventory lists members at v2, so the v1 object must be read at v1.
    let (t, c) = target().await;
    let ns = c.namespace("sync-version");
    let hpa = || {
        vec![
            deploy("web", "web", "nginx:1"),
            json!({
                "apiVersion": "autoscaling/v1",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70
                }
            }),
        ]
    };
    sync(&t, "version", &ns, hpa(), |_| {}).await.expect("sync");
    let before = rv(c, &ns, "hpa/web");
    let r = sync(&t, "version", &ns, hpa(), |_| {})
        .await
        .expect("resync");
    assert!(
        r.rows
            .iter()
            .all(|x| x.status == RowStatus::Synced && x.action == Action::Unchanged),
        "a second sync of the same objects changes nothing: {r:#?}"
    );
    assert_eq!(rv(c, &ns, "hpa/web"), before, "no write");
}

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
