//! Waves, hooks, health and waiting against a real kube-apiserver. No
//! controllers run there, so each test starts a small fake controller that
//! plays the Job and Deployment controllers: it writes `status` through the
//! status subresource (a Job named `fail-*` fails, other Jobs complete, a
//! Deployment named `stuck*` never becomes available) and records when it
//! first saw each object.

use crate::common::objs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sluice::sync::{NoProgress, Report, RowStatus, SyncOptions, run};
use sluice::target::kube::KubeTarget;
use sluice_testkit::cluster::TestCluster;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ann(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
            .collect(),
    )
}

fn job(meta: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "m", "image": "migrate:v1"}]}}}})
}

fn deploy(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "web:v1"}]}}}})
}

/// When the fake controller first saw each object (`Kind/name`), and when
/// it made each one Healthy (`healthy:Kind/name`).
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// Play the Job and Deployment controllers in `ns` until dropped.
fn controller(client: kube::Client, ns: &str) -> (tokio::task::JoinHandle<()>, Seen) {
    let seen: Seen = Arc::default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let deploys: Api<Deployment> = Api::namespaced(client, ns);
    let s = seen.clone();
    let task = tokio::spawn(async move {
        let pp = PatchParams::default();
        loop {
            let now = Instant::now();
            if let Ok(list) = jobs.list(&ListParams::default()).await {
                for j in list.items {
                    let name = j.metadata.name.clone().unwrap_or_default();
                    s.lock()
                        .expect("lock")
                        .entry(format!("Job/{name}"))
                        .or_insert(now);
                    if j.status
                        .as_ref()
                        .and_then(|st| st.conditions.as_ref())
                        .is_some()
                    {
                        continue;
                    }
                    let t = "2026-11-27T10:00:00Z";
                    let status = if name.starts_with("fail-") {
                        json!({"status": {"startTime": t, "failed": 1, "active": 0,
                            "conditions": [
                                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t},
                                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t}]}})
                    } else {
                        json!({"status": {"startTime": t, "completionTime": t, "succeeded": 1, "active": 0,
                            "conditions": [
                                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastTransitionTime": t},
                                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastTransitionTime": t}]}})
                    };
                    // Let the migration "run" for a moment.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match jobs.patch_status(&name, &pp, &Patch::Merge(&status)).await {
                        Ok(_) => {
                            s.lock()
                                .expect("lock")
                                .insert(format!("healthy:Job/{name}"), Instant::now());
                        }
                        Err(e) => eprintln!("fake controller: job {name}: {e}"),
                    }
                }
            }
            // Taken again here: the Job pass above may have slept, and an
            // object listed now was created after the Job pass started.
            let now = Instant::now();
            if let Ok(list) = deploys.list(&ListParams::default()).await {
                for d in list.items {
                    let name = d.metadata.name.clone().unwrap_or_default();
                    s.lock()
                        .expect("lock")
                        .entry(format!("Deployment/{name}"))
                        .or_insert(now);
                    let generation = d.metadata.generation.unwrap_or(1);
                    let observed = d.status.as_ref().and_then(|st| st.observed_generation);
                    if name.starts_with("stuck") || observed == Some(generation) {
                        continue;
                    }
                    let status = json!({"status": {"observedGeneration": generation, "replicas": 1,
                        "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
                    if let Err(e) = deploys
                        .patch_status(&name, &pp, &Patch::Merge(&status))
                        .await
                    {
                        eprintln!("fake controller: deployment {name}: {e}");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (task, seen)
}

async fn setup(prefix: &str) -> (KubeTarget, &'static TestCluster, String) {
    let cluster = TestCluster::shared();
    let t = KubeTarget::connect(Some(&cluster.kubeconfig), None)
        .await
        .expect("connect");
    let ns = cluster.namespace(prefix);
    (t, cluster, ns)
}

async fn sync(
    t: &KubeTarget,
    app: &str,
    ns: &str,
    values: Vec<Value>,
    timeout: Duration,
) -> Report {
    let mut o = SyncOptions::new(app, ns);
    o.wait = true;
    o.timeout = timeout;
    run(t, objs(values), &o, &NoProgress)
        .await
        .expect("sync runs")
}

fn row<'a>(r: &'a Report, kind: &str, prefix: &str) -> &'a sluice::sync::Row {
    r.rows
        .iter()
        .find(|x| x.kind == kind && x.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no row {kind}/{prefix}*: {r:#?}"))
}

fn exists(c: &TestCluster, ns: &str, what: &str) -> bool {
    let out = c.kubectl_ok(&["get", "-n", ns, what, "--ignore-not-found", "-o", "name"]);
    !out.trim().is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_completes_before_the_deployment_is_applied() {
    let (t, _c, ns) = setup("waves-migrate").await;
    let (task, seen) = controller(t.client().clone(), &ns);
    let wave_minus_one = ann(&[("argocd.argoproj.io/sync-wave", "-1")]);
    let presync = ann(&[
        ("argocd.argoproj.io/hook", "PreSync"),
        ("argocd.argoproj.io/hook-delete-policy", "HookSucceeded"),
    ]);
    let r = sync(
        &t,
        "migrate",
        &ns,
        vec![
            deploy("web", json!({})),
            job(json!({"name": "migrate-wave", "annotations": wave_minus_one})),
            job(json!({"generateName": "migrate-hook-", "annotations": presync})),
        ],
        Duration::from_secs(60),
    )
    .await;
    task.abort();
    assert_eq!(r.failed(), 0, "{r:#?}");
    let hook = row(&r, "Job", "migrate-hook-");
    assert_eq!(hook.hook.as_deref(), Some("PreSync"));
    assert_ne!(hook.name, "migrate-hook-", "generateName resolved");
    assert_eq!(
        row(&r, "Deployment", "web").health.as_deref(),
        Some("Healthy")
    );
    assert!(r.summary().contains("health Healthy"), "{}", r.summary());
    let seen = seen.lock().expect("lock").clone();
    // The Deployment appeared only after both migrations had completed
    // (each takes the fake controller at least 200 ms).
    let web = seen["Deployment/web"];
    let wave = seen["Job/migrate-wave"];
    assert!(web > wave + Duration::from_millis(150), "{seen:?}");
    // Reported, not asserted: from the last object of wave -1 becoming
    // Healthy to the first object of wave 0 existing (an upper bound: the
    // fake controller lists every 20 ms).
    let healthy = seen["healthy:Job/migrate-wave"];
    println!(
        "wave latency: {:.1} ms from Job/migrate-wave Healthy to Deployment/web seen",
        web.saturating_duration_since(healthy).as_secs_f64() * 1e3
    );
    // HookSucceeded: the hook Job is gone; the wave Job is a member and stays.
    assert!(!exists(_c, &ns, &format!("job/{}", hook.name)));
    assert!(exists(_c, &ns, "job/migrate-wave"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migration_stops_the_sync_and_runs_syncfail() {
    let (t, c, ns) = setup("waves-fail").await;
    let (task, _) = controller(t.client().clone(), &ns);
    let r = sync(
        &t,
        "fail",
        &ns,
        vec![
            deploy("web", json!({})),
            job(json!({"generateName": "fail-migrate-",
                "annotations": ann(&[("argocd.argoproj.io/hook", "PreSync"),
                    ("argocd.argoproj.io/hook-delete-policy", "HookFailed")])})),
            job(json!({"name": "notify-failure",
                "annotations": ann(&[("argocd.argoproj.io/hook", "SyncFail")])})),
        ],
        Duration::from_secs(60),
    )
    .await;
    task.abort();
    let hook = row(&r, "Job", "fail-migrate-");
    assert_eq!(hook.status, RowStatus::SyncFailed, "{r:#?}");
    assert!(
        hook.message.contains("BackoffLimitExceeded"),
        "{}",
        hook.message
    );
    let web = row(&r, "Deployment", "web");
    assert_eq!(web.status, RowStatus::SyncFailed);
    assert!(
        web.message
            .contains("not applied: sync stopped in PreSync wave 0"),
        "{}",
        web.message
    );
    assert!(
        !exists(c, &ns, "deployment/web"),
        "the Deployment must never be applied"
    );
    assert_eq!(
        row(&r, "Job", "notify-failure").hook.as_deref(),
        Some("SyncFail")
    );
    assert!(exists(c, &ns, "job/notify-failure"), "SyncFail hook ran");
    // HookFailed: the failed hook Job was deleted.
    assert!(!exists(c, &ns, &format!("job/{}", hook.name)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_custom_resource_and_workload_in_three_negative_and_positive_waves() {
    let (t, c, ns) = setup("waves-crd").await;
    let (task, seen) = controller(t.client().clone(), &ns);
    let group = format!("{ns}.example.com");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}"), "annotations": ann(&[("sluice.dev/sync-wave", "-2")])},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let cr = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
        "metadata": {"name": "w", "annotations": ann(&[("argocd.argoproj.io/sync-wave", "-1")])},
        "spec": {"size": 3}});
    let r = sync(
        &t,
        "crd",
        &ns,
        vec![
            deploy("web", ann(&[("sluice.dev/sync-wave", "1")])),
            cr,
            crd,
        ],
        Duration::from_secs(60),
    )
    .await;
    task.abort();
    assert_eq!(r.failed(), 0, "{r:#?}");
    let order: Vec<&str> = r.rows.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(order, ["CustomResourceDefinition", "Widget", "Deployment"]);
    assert!(
        r.rows
            .iter()
            .all(|x| x.health.as_deref() == Some("Healthy")),
        "{r:#?}"
    );
    assert!(exists(c, &ns, &format!("widgets.{group}/w")));
    assert!(seen.lock().expect("lock").contains_key("Deployment/web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_hook_creation_recreates_a_named_hook() {
    let (t, c, ns) = setup("waves-bhc").await;
    let (task, _) = controller(t.client().clone(), &ns);
    let want = || {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}),
            job(
                json!({"name": "seed", "annotations": ann(&[("argocd.argoproj.io/hook", "PostSync")])}),
            ),
        ]
    };
    let uid = || {
        c.kubectl_ok(&[
            "get",
            "-n",
            &ns,
            "job/seed",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
    };
    let r = sync(&t, "bhc", &ns, want(), Duration::from_secs(60)).await;
    assert_eq!(r.failed(), 0, "{r:#?}");
    assert_eq!(row(&r, "Job", "seed").hook.as_deref(), Some("PostSync"));
    let first = uid();
    let r = sync(&t, "bhc", &ns, want(), Duration::from_secs(60)).await;
    task.abort();
    assert_eq!(r.failed(), 0, "{r:#?}");
    // BeforeHookCreation (the default): deleted and created again.
    assert_ne!(first, uid());
    // Hooks are not ApplySet members.
    let labels = c.kubectl_ok(&[
        "get",
        "-n",
        &ns,
        "job/seed",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(
        !labels.contains("applyset.kubernetes.io/part-of"),
        "{labels}"
    );
    assert!(labels.contains("sluice.dev/hook-of"), "{labels}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_names_the_object_that_blocked() {
    let (t, _c, ns) = setup("waves-timeout").await;
    let (task, _) = controller(t.client().clone(), &ns);
    let started = Instant::now();
    let r = sync(
        &t,
        "timeout",
        &ns,
        vec![
            deploy("stuck", json!({})),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "after", "annotations": ann(&[("sluice.dev/sync-wave", "1")])}}),
        ],
        Duration::from_secs(3),
    )
    .await;
    task.abort();
    assert!(started.elapsed() < Duration::from_secs(20));
    let stuck = row(&r, "Deployment", "stuck");
    assert_eq!(stuck.health.as_deref(), Some("Progressing"), "{r:#?}");
    let after = row(&r, "ConfigMap", "after");
    assert_eq!(after.status, RowStatus::SyncFailed);
    assert!(
        after.message.contains("timed out after")
            && after
                .message
                .contains(&format!("apps/Deployment/{ns}/stuck (Progressing")),
        "{}",
        after.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_wait_names_what_is_not_healthy_then_succeeds() {
    let (t, c, ns) = setup("waves-cli").await;
    let repo = tempfile::tempdir().expect("tempdir");
    let yaml = serde_json::to_string(&deploy("stuck-web", json!({}))).expect("json");
    std::fs::write(repo.path().join("web.yaml"), yaml).expect("write");
    // Synced without waiting; no controller yet.
    let o = SyncOptions::new("cli", &ns);
    let r = run(
        &t,
        objs(vec![deploy("stuck-web", json!({}))]),
        &o,
        &NoProgress,
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    let wait = |timeout: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "wait",
                "--name",
                "cli",
                "--dest-namespace",
                &ns,
                "--timeout",
                timeout,
            ])
            .arg("--repo")
            .arg(repo.path())
            .arg("--allow-local-repo")
            .arg(repo.path())
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .output()
            .expect("sluice runs")
    };
    let out = wait("2s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("timed out after")
            && stderr.contains(&format!("apps/Deployment/{ns}/stuck-web (Progressing")),
        "{stderr}"
    );
    // Play the controller for it: now it is Healthy.
    c.kubectl_ok(&[
        "patch", "-n", &ns, "deployment/stuck-web", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1}}"#,
    ]);
    let out = wait("30s");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Deployment\t") && stdout.contains("Healthy"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_never_replaces_an_object_that_is_not_its_own() {
    let (t, c, ns) = setup("waves-clash").await;
    let (task, _) = controller(t.client().clone(), &ns);
    let uid = |name: &str| {
        c.kubectl_ok(&[
            "get",
            "-n",
            &ns,
            &format!("job/{name}"),
            "-o",
            "jsonpath={.metadata.uid}",
        ])
    };
    let app = |cfg: &str, hook: &str| {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": cfg}}),
            job(
                json!({"name": hook, "annotations": ann(&[("argocd.argoproj.io/hook", "PostSync")])}),
            ),
        ]
    };
    // A user's Job with the hook's name (BeforeHookCreation, the default,
    // would delete it if it were the app's).
    c.kubectl_ok(&["create", "job", "seed", "--image=busybox", "-n", &ns]);
    let users = uid("seed");
    let r = sync(
        &t,
        "clash",
        &ns,
        app("clash-cfg", "seed"),
        Duration::from_secs(60),
    )
    .await;
    let hook = row(&r, "Job", "seed");
    assert_eq!(hook.status, RowStatus::SyncFailed, "{r:#?}");
    assert!(
        hook.message.contains(&format!(
            "batch/Job/{ns}/seed exists and was not created by sluice as a hook of app clash"
        )) && hook.message.contains("it was left alone"),
        "{}",
        hook.message
    );
    assert_eq!(uid("seed"), users, "the user's Job is untouched");
    let labels = c.kubectl_ok(&[
        "get",
        "-n",
        &ns,
        "job/seed",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("sluice.dev/hook-of"), "{labels}");

    // Another app's hook is not this app's either.
    let r = sync(
        &t,
        "first",
        &ns,
        app("first-cfg", "shared-hook"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(r.failed(), 0, "{r:#?}");
    let firsts = uid("shared-hook");
    let r = sync(
        &t,
        "second",
        &ns,
        app("second-cfg", "shared-hook"),
        Duration::from_secs(60),
    )
    .await;
    let hook = row(&r, "Job", "shared-hook");
    assert_eq!(hook.status, RowStatus::SyncFailed, "{r:#?}");
    assert!(
        hook.message
            .contains("was not created by sluice as a hook of app second"),
        "{}",
        hook.message
    );
    assert_eq!(uid("shared-hook"), firsts);
    // Its own app recreates it (BeforeHookCreation).
    let r = sync(
        &t,
        "first",
        &ns,
        app("first-cfg", "shared-hook"),
        Duration::from_secs(60),
    )
    .await;
    task.abort();
    assert_eq!(r.failed(), 0, "{r:#?}");
    assert_ne!(uid("shared-hook"), firsts);
}
