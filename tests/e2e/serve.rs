//! `sluice serve` against the real API server and the real Git servers:
//! the service runs in-process (its counters are read directly), and the
//! binary for `--once` and restarts.

use crate::common::{sluice, text};
use serde_json::{Value, json};
use sluice::engine::Settings;
use sluice::plugin::{Limits, Runtime};
use sluice::render::Renderers;
use sluice::serve::queue::{Request, Trigger};
use sluice::serve::status::{AppStatus, SyncStatus};
use sluice::serve::webhook::{Provider, Secrets};
use sluice::serve::{Config, Service};
use sluice::source::Options;
use sluice_testkit::cluster::TestCluster;
use sluice_testkit::git::{Fixture, HttpMode, server};
use std::time::{Duration, Instant};

struct Env {
    _tmp: tempfile::TempDir,
    apps: std::path::PathBuf,
    state: std::path::PathBuf,
    cache: std::path::PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let apps = tmp.path().join("apps");
    let state = tmp.path().join("state");
    let cache = tmp.path().join("git-cache");
    std::fs::create_dir_all(&apps).expect("mkdir");
    Env {
        apps,
        state,
        cache,
        _tmp: tmp,
    }
}

fn config(env: &Env, refresh: Duration) -> Config {
    service_config(&env.apps, &env.state, &env.cache, refresh)
}

/// A service configuration for tests: apps from `apps`, the shared test
/// cluster, GitHub webhook secret `s3cret`, 4 workers.
pub(crate) fn service_config(
    apps: &std::path::Path,
    state: &std::path::Path,
    cache: &std::path::Path,
    refresh: Duration,
) -> Config {
    let cluster = TestCluster::shared();
    let git = Options {
        cache_dir: cache.to_path_buf(),
        ..Options::default()
    };
    let mut settings = Settings::new(git).expect("settings");
    settings.kubeconfig = Some(cluster.kubeconfig.clone());
    Config {
        apps_dir: Some(apps.to_path_buf()),
        state_dir: state.to_path_buf(),
        refresh_interval: refresh,
        workers: 4,
        cluster_concurrency: 4,
        webhook_secrets: Secrets::new([(Provider::GitHub, "s3cret".to_string())]),
        max_webhook_body: 1 << 20,
        apps_scan_interval: Duration::from_millis(200),
        sync_timeout: Duration::from_secs(60),
        object_concurrency: 8,
        in_cluster_apps: None,
        namespace: None,
        targets_dir: None,
        in_cluster_targets: None,
        target_poll_interval: Duration::from_secs(60),
        settings,
    }
}

pub(crate) fn renderers() -> Renderers {
    let runtime =
        Runtime::new(Limits::default(), sluice::plugin::builtin_cache_dir()).expect("runtime");
    Renderers::new(runtime)
}

fn app_file(name: &str, repo: &str, path: &str, ns: &str, policy: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  source: {{repoURL: \"{repo}\", targetRevision: main, path: {path}}}\n  destination: {{namespace: {ns}}}\n  syncPolicy: {policy}\n"
    )
}

pub(crate) fn cm_yaml(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: \"{value}\"}}\n"
    )
}

/// Wait until `pred` holds for app `name`'s status.
pub(crate) async fn until(
    svc: &Service,
    name: &str,
    within: Duration,
    pred: impl Fn(&AppStatus) -> bool,
) -> AppStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = svc.status(name)
            && pred(&s)
        {
            return s;
        }
        if start.elapsed() > within {
            panic!(
                "app {name}: condition not met within {within:?}; status now: {}",
                serde_json::to_string_pretty(&svc.status(name)).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kubectl_json(args: &[&str]) -> Option<Value> {
    let out = TestCluster::shared()
        .kubectl()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("kubectl");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("json"))
}

pub(crate) fn cm_value(ns: &str, name: &str) -> Option<String> {
    kubectl_json(&["get", "configmap", "-n", ns, name]).and_then(|v| {
        v.pointer("/data/v")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

async fn wait_for(within: Duration, what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn repo(name: &str, files: &[(&str, &str)]) -> Fixture {
    let f = server().create(name, "true");
    f.commit_files("initial", files);
    f.push();
    f
}

const AUTO: &str = "{automated: {prune: true, selfHeal: true}}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_syncs_new_commits_and_prunes_what_left_git() {
    let ns = TestCluster::shared().namespace("serve-poll");
    let f = repo(
        "serve-poll",
        &[
            ("app/a.yaml", &cm_yaml("a", "1")),
            ("app/b.yaml", &cm_yaml("b", "1")),
        ],
    );
    let e = env();
    let url = server().http_url("serve-poll");
    std::fs::write(
        e.apps.join("web.yaml"),
        app_file("web", &url, "app", &ns, AUTO),
    )
    .expect("write");
    let svc = Service::start(config(&e, Duration::from_millis(500)), renderers(), true)
        .await
        .expect("start");
    let c1 = f.rev("HEAD");
    let s = until(&svc, "web", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && s.revision == c1
    })
    .await;
    assert_eq!(s.health, "Healthy", "{s:?}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));

    // A commit changes a and deletes b: polled, applied, pruned.
    f.git(&["rm", "-q", "app/b.yaml"]);
    let c2 = f.commit_files("change a, drop b", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    f.push();
    until(&svc, "web", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Synced && s.revision == c2
    })
    .await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    assert_eq!(cm_value(&ns, "b"), None, "b was pruned");
    let history = svc.history("web").expect("history");
    let revs: Vec<&str> = history.iter().map(|(_, h)| h.revision.as_str()).collect();
    assert_eq!(
        revs,
        [c1.as_str(), c2.as_str()],
        "one history entry per sync"
    );
}

fn github_push(url: &str, branch: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": format!("refs/heads/{branch}"),
        "after": after,
        "repository": {"clone_url": url, "html_url": url, "default_branch": "main"}
    }))
    .expect("json")
}

fn hmac_sha256(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

async fn serve_http(svc: &Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = sluice::serve::http::router(svc.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_syncs_and_a_bad_or_missing_signature_does_nothing() {
    let ns = TestCluster::shared().namespace("serve-hook");
    let f = repo("serve-hook", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let e = env();
    let url = server().http_url("serve-hook");
    std::fs::write(
        e.apps.join("hook.yaml"),
        app_file("hook", &url, "app", &ns, AUTO),
    )
    .expect("write");
    // No polling to speak of: only the webhook can bring the new commit.
    let svc = Service::start(config(&e, Duration::from_secs(3600)), renderers(), true)
        .await
        .expect("start");
    let c1 = f.rev("HEAD");
    until(&svc, "hook", Duration::from_secs(60), |s| {
        s.revision == c1 && s.sync == SyncStatus::Synced
    })
    .await;
    let base = serve_http(&svc).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );

    let c2 = f.commit_files("a=2", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    f.push();
    let body = github_push(&url, "main", &c2);
    let post = |sig: Option<String>| {
        let mut r = client
            .post(format!("{base}/api/webhook"))
            .header("x-github-event", "push")
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(s) = sig {
            r = r.header("x-hub-signature-256", s);
        }
        r.send()
    };
    let unsigned = post(None).await.expect("post");
    assert_eq!(unsigned.status(), 401);
    let msg = unsigned.text().await.expect("text");
    assert!(
        msg.contains("the x-hub-signature-256 header is missing"),
        "{msg}"
    );
    let bad = post(Some(hmac_sha256("wrong", &body))).await.expect("post");
    assert_eq!(bad.status(), 401);
    assert!(
        bad.text()
            .await
            .expect("text")
            .contains("the signature does not match the configured secret")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("1"),
        "nothing triggered by a bad webhook"
    );

    let t = Instant::now();
    let ok = post(Some(hmac_sha256("s3cret", &body)))
        .await
        .expect("post");
    assert_eq!(ok.status(), 202);
    let v: Value = serde_json::from_str(&ok.text().await.expect("text")).expect("json");
    assert_eq!(v["apps"], json!(["hook"]));
    until(&svc, "hook", Duration::from_secs(30), |s| {
        s.revision == c2 && s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    eprintln!("webhook to synced: {:?}", t.elapsed());
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("\nsluice_webhooks_total 1\n"), "{metrics}");
    assert!(
        metrics.contains("sluice_apps{sync=\"Synced\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("\nsluice_git_cache_bytes "), "{metrics}");

    let big = vec![b' '; (1 << 20) + 10];
    let r = client
        .post(format!("{base}/api/webhook"))
        .header("x-github-event", "push")
        .body(big)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_deletion_are_healed_a_fight_backs_off_and_pause_stops_healing() {
    let cluster = TestCluster::shared();
    let ns = cluster.namespace("serve-heal");
    repo("serve-heal", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let e = env();
    let url = server().http_url("serve-heal");
    std::fs::write(
        e.apps.join("heal.yaml"),
        app_file("heal", &url, "app", &ns, AUTO),
    )
    .expect("write");
    let svc = Service::start(config(&e, Duration::from_secs(3600)), renderers(), true)
        .await
        .expect("start");
    until(&svc, "heal", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && s.health == "Healthy"
    })
    .await;

    // Drift: healed, quickly.
    let t = Instant::now();
    cluster.kubectl_ok(&[
        "patch",
        "configmap",
        "a",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"data":{"v":"drifted"}}"#,
    ]);
    wait_for(Duration::from_secs(10), "drift healed", || {
        cm_value(&ns, "a").as_deref() == Some("1")
    })
    .await;
    let first = t.elapsed();
    // Deletion: recreated.
    cluster.kubectl_ok(&["delete", "configmap", "a", "-n", &ns]);
    wait_for(Duration::from_secs(10), "deletion healed", || {
        cm_value(&ns, "a").as_deref() == Some("1")
    })
    .await;
    eprintln!("first heal after {first:?}");
    assert!(first < Duration::from_secs(5), "heal took {first:?}");

    // Someone keeps fighting: the next heal waits, and the status says so.
    cluster.kubectl_ok(&[
        "patch",
        "configmap",
        "a",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"data":{"v":"again"}}"#,
    ]);
    let s = until(&svc, "heal", Duration::from_secs(10), |s| {
        s.conditions.iter().any(|c| c.kind == "SelfHealBackoff")
    })
    .await;
    let c = s
        .conditions
        .iter()
        .find(|c| c.kind == "SelfHealBackoff")
        .expect("condition");
    assert!(
        c.message
            .contains("times in a row; the next self-heal runs in"),
        "{}",
        c.message
    );
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("again"),
        "backing off, not fixed at once"
    );
    wait_for(Duration::from_secs(15), "healed after the backoff", || {
        cm_value(&ns, "a").as_deref() == Some("1")
    })
    .await;

    // Paused: drift is seen (OutOfSync) but left alone.
    assert!(svc.set_paused("heal", true));
    cluster.kubectl_ok(&[
        "patch",
        "configmap",
        "a",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"data":{"v":"incident"}}"#,
    ]);
    let s = until(&svc, "heal", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::OutOfSync
    })
    .await;
    assert!(
        s.paused && s.conditions.iter().any(|c| c.kind == "Paused"),
        "{s:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("incident"));
    assert!(svc.set_paused("heal", false));
    wait_for(Duration::from_secs(30), "healed after resume", || {
        cm_value(&ns, "a").as_deref() == Some("1")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_commit_is_retried_and_a_newer_commit_supersedes_it() {
    let ns = TestCluster::shared().namespace("serve-retry");
    // A ConfigMap name the API server refuses.
    let f = repo("serve-retry", &[("app/a.yaml", &cm_yaml("Bad_Name", "1"))]);
    let e = env();
    let url = server().http_url("serve-retry");
    let policy = "{automated: {prune: true}, retry: {limit: 2, backoff: {duration: 1s, factor: 2, maxDuration: 10s}}}";
    std::fs::write(
        e.apps.join("retry.yaml"),
        app_file("retry", &url, "app", &ns, policy),
    )
    .expect("write");
    let svc = Service::start(config(&e, Duration::from_secs(3600)), renderers(), true)
        .await
        .expect("start");
    let s = until(&svc, "retry", Duration::from_secs(60), |s| {
        s.conditions
            .iter()
            .any(|c| c.kind == "RetryBackoff" && c.message.contains("gave up"))
    })
    .await;
    let op = s.operation.as_ref().expect("operation");
    assert_eq!(op.phase, sluice::serve::status::Phase::Failed);
    assert!(op.reasons.contains(&"retry".to_string()), "{op:?}");
    let sync_err = s
        .conditions
        .iter()
        .find(|c| c.kind == "SyncError")
        .expect("SyncError");
    assert!(
        sync_err.message.contains("ConfigMap") && sync_err.message.contains("Bad_Name"),
        "{}",
        sync_err.message
    );
    let failures = svc.history("retry").expect("history").len();
    assert_eq!(failures, 3, "the first attempt and two retries");

    // The fix lands: synced at once, by the webhook-less manual refresh.
    f.git(&["rm", "-q", "app/a.yaml"]);
    let c2 = f.commit_files("fix", &[("app/good.yaml", &cm_yaml("good", "1"))]);
    f.push();
    assert!(svc.trigger("retry", Request::new(Trigger::Poll)));
    let s = until(&svc, "retry", Duration::from_secs(30), |s| {
        s.revision == c2 && s.sync == SyncStatus::Synced
    })
    .await;
    assert!(
        !s.conditions
            .iter()
            .any(|c| c.kind == "SyncError" || c.kind == "RetryBackoff"),
        "{s:?}"
    );
    assert_eq!(cm_value(&ns, "good").as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_on_one_repo_share_a_fetch_and_only_the_changed_app_renders() {
    let ns = TestCluster::shared().namespace("serve-mono");
    let f = repo(
        "serve-mono",
        &[
            ("a/cm.yaml", &cm_yaml("a", "1")),
            ("b/cm.yaml", &cm_yaml("b", "1")),
        ],
    );
    let e = env();
    let url = server().http_url("serve-mono");
    std::fs::write(
        e.apps.join("a.yaml"),
        app_file("mono-a", &url, "a", &ns, AUTO),
    )
    .expect("write");
    std::fs::write(
        e.apps.join("b.yaml"),
        app_file("mono-b", &url, "b", &ns, AUTO),
    )
    .expect("write");
    let svc = Service::start(config(&e, Duration::from_secs(3600)), renderers(), true)
        .await
        .expect("start");
    let c1 = f.rev("HEAD");
    for app in ["mono-a", "mono-b"] {
        until(&svc, app, Duration::from_secs(60), |s| {
            s.revision == c1 && s.sync == SyncStatus::Synced
        })
        .await;
    }
    assert_eq!(
        svc.git_counts(),
        (1, 1),
        "one resolution for two apps on one repo"
    );
    assert_eq!(svc.render_counts(), (2, 0));

    let c2 = f.commit_files("b only", &[("b/cm.yaml", &cm_yaml("b", "2"))]);
    f.push();
    assert_eq!(svc.trigger_all(Trigger::Poll), 2);
    for app in ["mono-a", "mono-b"] {
        until(&svc, app, Duration::from_secs(30), |s| {
            s.revision == c2 && s.sync == SyncStatus::Synced
        })
        .await;
    }
    svc.idle().await;
    assert_eq!(svc.git_counts(), (2, 2), "again one resolution for both");
    assert_eq!(svc.render_counts(), (3, 1), "only app b rendered again");
    assert_eq!(cm_value(&ns, "b").as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_app_or_git_server_stalls_nothing_and_never_prunes() {
    let ns = TestCluster::shared().namespace("serve-faults");
    repo("serve-good", &[("app/a.yaml", &cm_yaml("good", "1"))]);
    repo("serve-down", &[("app/a.yaml", &cm_yaml("down", "1"))]);
    let e = env();
    std::fs::write(
        e.apps.join("good.yaml"),
        app_file("good", &server().http_url("serve-good"), "app", &ns, AUTO),
    )
    .expect("write");
    std::fs::write(
        e.apps.join("down.yaml"),
        app_file("down", &server().http_url("serve-down"), "app", &ns, AUTO),
    )
    .expect("write");
    std::fs::write(
        e.apps.join("typo.yaml"),
        app_file("typo", "x", "app", &ns, AUTO).replace("path:", "pth:"),
    )
    .expect("write");
    let svc = Service::start(config(&e, Duration::from_millis(500)), renderers(), true)
        .await
        .expect("start");
    until(&svc, "down", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "down").as_deref(), Some("1"));

    // The Git server fails for one repository: that app goes Unknown with
    // the reason, keeps its objects; the other keeps syncing.
    server().set_http_mode("serve-down", HttpMode::Status(503));
    let s = until(&svc, "down", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Unknown
    })
    .await;
    let c = s
        .conditions
        .iter()
        .find(|c| c.kind == "ComparisonError")
        .expect("condition");
    assert!(
        c.message.contains("503") && c.message.contains("nothing was applied or pruned"),
        "{}",
        c.message
    );
    let t = svc.status("typo").expect("typo app");
    assert!(
        t.conditions
            .iter()
            .any(|c| c.kind == "InvalidSpecError" && c.message.contains("pth")),
        "{t:?}"
    );
    until(&svc, "good", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "down").as_deref(), Some("1"), "never pruned");

    // Back: converges by itself.
    server().set_http_mode("serve-down", HttpMode::Normal);
    until(&svc, "down", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Synced && !s.conditions.iter().any(|c| c.kind == "ComparisonError")
    })
    .await;

    // Removing a file removes the app, not its objects.
    std::fs::remove_file(e.apps.join("good.yaml")).expect("rm");
    wait_for(Duration::from_secs(10), "app removed", || {
        svc.status("good").is_none()
    })
    .await;
    assert_eq!(
        cm_value(&ns, "good").as_deref(),
        Some("1"),
        "objects stay without the finalizer"
    );
}

fn resource_versions(ns: &str) -> Vec<(String, String)> {
    let v = kubectl_json(&["get", "configmaps,secrets", "-n", ns]).expect("list");
    let mut out: Vec<(String, String)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            (
                o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                o.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn serve_once(e: &Env, extra: &[&str]) -> std::process::Output {
    let cluster = TestCluster::shared();
    let mut args = vec![
        "serve".to_string(),
        "--once".into(),
        "--apps".into(),
        e.apps.display().to_string(),
        "--state-dir".into(),
        e.state.display().to_string(),
        "--git-cache-dir".into(),
        e.cache.display().to_string(),
        "--kubeconfig".into(),
        cluster.kubeconfig.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sluice(&refs)
}

#[test]
fn once_reconciles_every_app_and_a_restart_writes_nothing() {
    let ns = TestCluster::shared().namespace("serve-once");
    repo(
        "serve-once",
        &[
            ("app/a.yaml", &cm_yaml("a", "1")),
            ("app/b.yaml", &cm_yaml("b", "1")),
        ],
    );
    let e = env();
    let url = server().http_url("serve-once");
    std::fs::write(
        e.apps.join("once.yaml"),
        app_file("once", &url, "app", &ns, AUTO),
    )
    .expect("write");
    let out = serve_once(&e, &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 of 1 apps Synced"), "{stdout}");
    let before = resource_versions(&ns);
    assert!(before.iter().any(|(n, _)| n == "a"), "{before:?}");

    // Again, as after a restart: in sync, nothing written. Logs as JSON:
    // every line an object, the operation's lines with app, revision and
    // cluster.
    let out = serve_once(&e, &["-o", "json", "--log", "info", "--log-format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["once"]["sync"], "Synced", "{v}");
    let logs: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let op = logs
        .iter()
        .find(|l| {
            l["span"]["name"] == "operation"
                && l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("in sync"))
        })
        .unwrap_or_else(|| panic!("no operation result line: {logs:?}"));
    assert_eq!(op["span"]["app"], "once", "{op}");
    assert_eq!(
        op["span"]["cluster"]
            .as_str()
            .map(|c| c.starts_with("https://127.0.0.1:")),
        Some(true),
        "{op}"
    );
    assert_eq!(
        op["span"]["revision"].as_str().map(str::len),
        Some(40),
        "{op}"
    );
    assert_eq!(
        resource_versions(&ns),
        before,
        "a restart over synced apps writes nothing"
    );

    // An app that cannot sync: exit 1, with the reason.
    std::fs::write(
        e.apps.join("bad.yaml"),
        app_file("bad", &server().http_url("no-such-repo"), "app", &ns, AUTO),
    )
    .expect("write");
    let out = serve_once(&e, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ComparisonError"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_crd_is_accepted_by_the_api_server() {
    let out = sluice(&["crd"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cluster = TestCluster::shared();
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &text(&out.stdout));
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/applications.sluice.dev",
        "--timeout=60s",
    ]);
    let ns = cluster.namespace("serve-crd");
    // A valid Application is accepted, one with an unknown field refused.
    let good = app_file("crd-app", "https://git.example/r.git", "app", &ns, AUTO);
    cluster.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &good);
    let bad = good
        .replace("path: app", "path: app, pth: x")
        .replace("crd-app", "crd-bad");
    let out = cluster
        .kubectl()
        .args(["apply", "-n", &ns, "--validate=strict", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().expect("stdin").write_all(bad.as_bytes())?;
            c.wait_with_output()
        })
        .expect("kubectl");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown field \"spec.source.pth\""),
        "{}",
        text(&out.stderr)
    );
}

/// A TCP proxy to the API server that can be cut and restored, standing
/// for a cluster that goes away and comes back.
struct Proxy {
    port: u16,
    tasks: Option<tokio::task::JoinSet<()>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let upstream = TestCluster::shared()
            .server
            .trim_start_matches("https://")
            .to_string();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mut tasks = tokio::task::JoinSet::new();
        let conns = std::sync::Arc::new(tokio::sync::Mutex::new(tokio::task::JoinSet::new()));
        let held = conns.clone();
        tasks.spawn(async move {
            let _held = held;
            loop {
                let Ok((mut down, _)) = listener.accept().await else {
                    return;
                };
                let up = upstream.clone();
                conns.lock().await.spawn(async move {
                    if let Ok(mut u) = tokio::net::TcpStream::connect(up).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut u).await;
                    }
                });
            }
        });
        Proxy {
            port,
            tasks: Some(tasks),
        }
    }

    /// Close the listener and every connection.
    async fn cut(&mut self) {
        if let Some(mut t) = self.tasks.take() {
            t.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_goes_away_marks_its_apps_unknown_and_they_recover() {
    let cluster = TestCluster::shared();
    let ns = cluster.namespace("serve-down-cluster");
    repo("serve-proxied", &[("app/a.yaml", &cm_yaml("proxied", "1"))]);
    repo("serve-direct", &[("app/a.yaml", &cm_yaml("direct", "1"))]);
    let mut proxy = Proxy::start(0).await;
    let e = env();
    // A second kubeconfig context through the proxy.
    let kc = std::fs::read_to_string(&cluster.kubeconfig).expect("kubeconfig");
    let proxied_kc = e.apps.parent().expect("tmp").join("proxied.kubeconfig");
    std::fs::write(
        &proxied_kc,
        kc.replace(
            &cluster.server,
            &format!("https://127.0.0.1:{}", proxy.port),
        ),
    )
    .expect("write kubeconfig");
    let mut cfg = config(&e, Duration::from_millis(500));
    cfg.settings.kubeconfig = Some(proxied_kc);
    std::fs::write(
        e.apps.join("p.yaml"),
        app_file(
            "proxied",
            &server().http_url("serve-proxied"),
            "app",
            &ns,
            AUTO,
        ),
    )
    .expect("write");
    let svc = Service::start(cfg, renderers(), true).await.expect("start");
    until(&svc, "proxied", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;

    proxy.cut().await;
    let s = until(&svc, "proxied", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Unknown
    })
    .await;
    let c = s
        .conditions
        .iter()
        .find(|c| c.kind == "ComparisonError")
        .expect("condition");
    assert!(c.message.contains("app proxied"), "{}", c.message);
    // Other apps carry on meanwhile (a second service on the real address).
    let e2 = env();
    std::fs::write(
        e2.apps.join("d.yaml"),
        app_file(
            "direct",
            &server().http_url("serve-direct"),
            "app",
            &ns,
            AUTO,
        ),
    )
    .expect("write");
    let other = Service::start(config(&e2, Duration::from_secs(3600)), renderers(), true)
        .await
        .expect("start");
    until(&other, "direct", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;

    // Back on the same address: recovers by itself at the next refresh.
    let _back = Proxy::start(proxy.port).await;
    until(&svc, "proxied", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && !s.conditions.iter().any(|c| c.kind == "ComparisonError")
    })
    .await;
    assert_eq!(
        cm_value(&ns, "proxied").as_deref(),
        Some("1"),
        "never pruned while away"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn spawn_serve(e: &Env, port: u16) -> std::process::Child {
    let cluster = TestCluster::shared();
    std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--apps"])
        .arg(&e.apps)
        .arg("--state-dir")
        .arg(&e.state)
        .arg("--git-cache-dir")
        .arg(&e.cache)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--refresh-interval",
            "1h",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sluice serve")
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let r = reqwest::blocking::get(format!("http://127.0.0.1:{port}{path}")).ok()?;
    let code = r.status().as_u16();
    Some((code, r.text().ok()?))
}

fn wait_status(port: u16, app: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some((200, body)) = http_get(port, &format!("/api/v1/apps/{app}"))
            && let Ok(v) = serde_json::from_str::<Value>(&body)
            && pred(&v)
        {
            return v;
        }
        assert!(start.elapsed() < within, "app {app}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kill_9_mid_sync_then_restart_converges_and_sigterm_exits_cleanly() {
    let ns = TestCluster::shared().namespace("serve-kill");
    let files: Vec<(String, String)> = (0..150)
        .map(|i| (format!("app/cm-{i}.yaml"), cm_yaml(&format!("cm-{i}"), "1")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    repo("serve-kill", &refs);
    let e = env();
    std::fs::write(
        e.apps.join("k.yaml"),
        app_file("kill", &server().http_url("serve-kill"), "app", &ns, AUTO),
    )
    .expect("write");
    let count = || {
        kubectl_json(&[
            "get",
            "configmaps",
            "-n",
            &ns,
            "-l",
            "applyset.kubernetes.io/part-of",
        ])
        .and_then(|v| v["items"].as_array().map(Vec::len))
        .unwrap_or(0)
    };
    let port = free_port();
    let child = spawn_serve(&e, port);
    let start = Instant::now();
    while count() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first objects never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = child;
    child.kill().expect("kill -9");
    let _ = child.wait();
    let after_kill = count();
    eprintln!("killed with {after_kill} of 150 objects applied");

    let port = free_port();
    let child = spawn_serve(&e, port);
    let v = wait_status(port, "kill", Duration::from_secs(90), |v| {
        v["sync"] == "Synced"
    });
    assert_eq!(v["health"], "Healthy", "{v}");
    assert_eq!(count(), 150);
    assert_eq!(http_get(port, "/readyz").map(|r| r.0), Some(200));

    // SIGTERM: stops and exits 0.
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("shutting down"),
        "{}",
        text(&out.stderr)
    );
}

/// Hook Jobs by name: (UID, hook phase).
type HookJobs = std::collections::BTreeMap<String, (String, String)>;

/// The hook Jobs of namespace `ns`.
fn hook_jobs(ns: &str) -> HookJobs {
    kubectl_json(&["get", "jobs", "-n", ns, "-l", "sluice.dev/hook-of"])
        .and_then(|v| v["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|j| {
            let m = &j["metadata"];
            (
                m["name"].as_str().unwrap_or("").to_string(),
                (
                    m["uid"].as_str().unwrap_or("").to_string(),
                    m["annotations"]["argocd.argoproj.io/hook"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                ),
            )
        })
        .collect()
}

/// Mark Job `name` complete, as the Job controller would (none runs here).
fn complete_job(ns: &str, name: &str) {
    set_job_status(ns, name, true);
}

/// Mark Job `name` in `ns` as the Job controller would: complete, or
/// failed.
pub(crate) fn set_job_status(ns: &str, name: &str, ok: bool) {
    let t = "2026-11-30T10:00:00Z";
    let status = if ok {
        json!({"status": {"startTime": t, "completionTime": t, "succeeded": 1, "active": 0,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "done", "lastTransitionTime": t},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "done", "lastTransitionTime": t}]}})
    } else {
        json!({"status": {"startTime": t, "failed": 1, "active": 0,
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": t}]}})
    };
    TestCluster::shared().kubectl_ok(&[
        "patch",
        "job",
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

fn hook_job(prefix: &str, phase: &str, policy: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: {prefix}-\n  annotations:\n    argocd.argoproj.io/hook: {phase}\n    argocd.argoproj.io/hook-delete-policy: {policy}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: c, image: busybox}}]\n"
    )
}

/// A `kill -9` after the PreSync hook succeeded (and was deleted, per
/// HookSucceeded) and while the PostSync hook runs: the restarted service
/// resumes the operation, does not run the PreSync hook again, waits on
/// the PostSync Job it already created instead of creating another, and
/// finishes the sync.
#[test]
fn kill_9_between_hooks_resumes_without_running_a_hook_twice() {
    let ns = TestCluster::shared().namespace("serve-kill-hooks");
    repo(
        "serve-kill-hooks",
        &[
            ("app/cm.yaml", &cm_yaml("cm", "1")),
            (
                "app/pre.yaml",
                &hook_job("migrate", "PreSync", "HookSucceeded"),
            ),
            (
                "app/post.yaml",
                &hook_job("notify", "PostSync", "BeforeHookCreation"),
            ),
        ],
    );
    let e = env();
    std::fs::write(
        e.apps.join("k.yaml"),
        app_file(
            "hooks",
            &server().http_url("serve-kill-hooks"),
            "app",
            &ns,
            AUTO,
        ),
    )
    .expect("write");
    let wait_jobs = |what: &str, pred: &dyn Fn(&HookJobs) -> bool| {
        let start = Instant::now();
        loop {
            let jobs = hook_jobs(&ns);
            if pred(&jobs) {
                return jobs;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{what}; hook Jobs now: {jobs:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let phase_of = |jobs: &HookJobs, phase: &str| {
        jobs.iter()
            .filter(|(_, (_, p))| p == phase)
            .map(|(n, (u, _))| (n.clone(), u.clone()))
            .collect::<Vec<_>>()
    };

    let mut child = spawn_serve(&e, free_port());
    let jobs = wait_jobs("the PreSync Job was never created", &|j| {
        !phase_of(j, "PreSync").is_empty()
    });
    let pre = phase_of(&jobs, "PreSync");
    assert_eq!(pre.len(), 1, "{jobs:?}");
    complete_job(&ns, &pre[0].0);
    let jobs = wait_jobs("the PostSync Job was never created", &|j| {
        !phase_of(j, "PostSync").is_empty()
    });
    let post = phase_of(&jobs, "PostSync");
    assert_eq!(cm_value(&ns, "cm").as_deref(), Some("1"));
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(
        phase_of(&hook_jobs(&ns), "PreSync").is_empty(),
        "the succeeded PreSync Job was deleted (HookSucceeded)"
    );

    let port = free_port();
    let mut child = spawn_serve(&e, port);
    // The restarted service waits on the same PostSync Job: give it time
    // to (wrongly) start the hooks again, then let the Job finish.
    std::thread::sleep(Duration::from_secs(3));
    let jobs = hook_jobs(&ns);
    assert_eq!(
        phase_of(&jobs, "PreSync"),
        Vec::<(String, String)>::new(),
        "the PreSync hook ran again: {jobs:?}"
    );
    assert_eq!(
        phase_of(&jobs, "PostSync"),
        post,
        "the PostSync Job was replaced: {jobs:?}"
    );
    complete_job(&ns, &post[0].0);
    let v = wait_status(port, "hooks", Duration::from_secs(60), |v| {
        v["sync"] == "Synced" && v["operation"]["phase"] == "Succeeded"
    });
    let hooks: Vec<&Value> = v["operation"]["resources"]
        .as_array()
        .map(|r| r.iter().filter(|x| x["hook"].is_string()).collect())
        .unwrap_or_default();
    assert_eq!(hooks.len(), 2, "{v}");
    assert!(
        hooks.iter().any(|h| h["message"]
            .as_str()
            .is_some_and(|m| m.contains("not run again"))),
        "the PreSync row says it was not run again: {v}"
    );
    let jobs = hook_jobs(&ns);
    assert_eq!(phase_of(&jobs, "PostSync"), post, "{jobs:?}");
    assert!(phase_of(&jobs, "PreSync").is_empty(), "{jobs:?}");
    let _ = child.kill();
    let _ = child.wait();
}

fn install_crd() {
    let out = sluice(&["crd"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cluster = TestCluster::shared();
    cluster.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &text(&out.stdout),
    );
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/applications.sluice.dev",
        "--timeout=60s",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_resources_are_synced_their_status_written_and_a_finalizer_cascades() {
    install_crd();
    let cluster = TestCluster::shared();
    let ns = cluster.namespace("serve-incluster");
    let with_option = |name: &str, option: &str| {
        cm_yaml(name, "1").replace(
            &format!("metadata: {{name: {name}}}"),
            &format!("metadata: {{name: {name}, annotations: {{argocd.argoproj.io/sync-options: \"{option}\"}}}}"),
        )
    };
    repo(
        "serve-incluster",
        &[
            ("app/a.yaml", &cm_yaml("from-cr", "1")),
            ("app/keep.yaml", &with_option("keep", "Delete=false")),
            ("app/noprune.yaml", &with_option("noprune", "Prune=false")),
        ],
    );
    let e = env();
    let mut cfg = config(&e, Duration::from_secs(3600));
    cfg.in_cluster_apps = Some(vec![ns.clone()]);
    let svc = Service::start(cfg, renderers(), true).await.expect("start");
    let app = app_file(
        "cr-app",
        &server().http_url("serve-incluster"),
        "app",
        &ns,
        AUTO,
    )
    .replace(
        "metadata: {name: cr-app}",
        "metadata: {name: cr-app, finalizers: [resources-finalizer.argocd.argoproj.io]}",
    );
    cluster.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &app);
    until(&svc, "cr-app", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "from-cr").as_deref(), Some("1"));
    assert_eq!(cm_value(&ns, "keep").as_deref(), Some("1"));
    wait_for(
        Duration::from_secs(10),
        ".status written to the resource",
        || {
            kubectl_json(&["get", "applications.sluice.dev", "-n", &ns, "cr-app"])
                .is_some_and(|v| v.pointer("/status/sync") == Some(&json!("Synced")))
        },
    )
    .await;

    // Deleting the resource deletes its objects (the finalizer), then it goes.
    cluster.kubectl_ok(&[
        "delete",
        "applications.sluice.dev",
        "-n",
        &ns,
        "cr-app",
        "--wait=false",
    ]);
    // As in Argo CD: Delete=false stays, Prune=false (a sync option) goes.
    wait_for(Duration::from_secs(30), "objects deleted", || {
        cm_value(&ns, "from-cr").is_none() && cm_value(&ns, "noprune").is_none()
    })
    .await;
    assert_eq!(
        cm_value(&ns, "keep").as_deref(),
        Some("1"),
        "Delete=false kept"
    );
    wait_for(Duration::from_secs(30), "resource gone", || {
        kubectl_json(&["get", "applications.sluice.dev", "-n", &ns, "cr-app"]).is_none()
    })
    .await;
    assert!(svc.status("cr-app").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_of_apps_syncs_a_wave_of_child_apps_after_the_earlier_one_is_healthy() {
    install_crd();
    let cluster = TestCluster::shared();
    let ns = cluster.namespace("serve-aoa");
    let url = server().http_url("serve-aoa");
    let child = |i: u32| {
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: child-{i}, annotations: {{argocd.argoproj.io/sync-wave: \"{i}\"}}}}\nspec:\n  source: {{repoURL: \"{url}\", targetRevision: main, path: c{i}}}\n  destination: {{namespace: {ns}}}\n  syncPolicy: {{automated: {{prune: true}}}}\n"
        )
    };
    repo(
        "serve-aoa",
        &[
            ("parent/c0.yaml", &child(0)),
            ("parent/c1.yaml", &child(1)),
            ("c0/cm.yaml", &cm_yaml("child-0-cm", "1")),
            ("c1/cm.yaml", &cm_yaml("child-1-cm", "1")),
        ],
    );
    let e = env();
    std::fs::write(
        e.apps.join("parent.yaml"),
        app_file("parent", &url, "parent", &ns, AUTO),
    )
    .expect("write");
    let mut cfg = config(&e, Duration::from_secs(3600));
    cfg.in_cluster_apps = Some(vec![ns.clone()]);
    let svc = Service::start(cfg, renderers(), true).await.expect("start");
    // When child-1 first appears, child-0 must already be Synced and Healthy.
    let start = Instant::now();
    loop {
        if svc.status("child-1").is_some() {
            let c0 = svc.status("child-0").expect("child-0 before child-1");
            assert!(
                c0.sync == SyncStatus::Synced && c0.health == "Healthy",
                "child-1 was applied before child-0 was Healthy: {c0:?}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "child-1 never appeared: {:?}",
            svc.statuses()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = until(&svc, "parent", Duration::from_secs(90), |s| {
        s.sync == SyncStatus::Synced && s.health == "Healthy"
    })
    .await;
    assert_eq!(
        p.operation.as_ref().map(|o| o.counts.created),
        Some(2),
        "{p:?}"
    );
    until(&svc, "child-1", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "child-1-cm").as_deref(), Some("1"));
}

fn b64_file(p: &std::path::Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).expect("read"))
}

/// Argo CD cluster Secrets in the service's namespace are destinations, by
/// name and by server, with the Secret's credentials (client certificate
/// and CA as data, no kubeconfig file); a Secret that cannot be used
/// refuses its apps with the reason; a name that is neither is an error
/// that lists the kubeconfig's contexts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd_cluster_secrets_are_destinations() {
    let cluster = TestCluster::shared();
    let home = cluster.namespace("serve-argocd");
    let ns = cluster.namespace("serve-remote");
    // The same API server under another URL: the kubeconfig knows only
    // https://127.0.0.1:PORT, so https://localhost:PORT is reachable
    // through the Secret alone (its certificate is valid for both).
    let remote = cluster.server.replace("127.0.0.1", "localhost");
    let creds = json!({"tlsClientConfig": {
        "insecure": false,
        "caData": b64_file(&cluster.ca_cert),
        "certData": b64_file(&cluster.client_cert),
        "keyData": b64_file(&cluster.client_key),
    }});
    let secret = |name: &str, cluster_name: &str, server: &str, config: &Value| {
        let text = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": home,
                "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": cluster_name, "server": server, "config": config.to_string()}})
        .to_string();
        cluster.kubectl_stdin(&["apply", "-f", "-"], &text);
    };
    secret("remote-cluster", "remote", &remote, &creds);
    secret(
        "aws-cluster",
        "aws",
        "https://aws.invalid",
        &json!({"awsAuthConfig": {"clusterName": "x"}}),
    );

    let f = repo("serve-argocd", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let url = server().http_url("serve-argocd");
    let e = env();
    let write = |file: &str, name: &str, dest: &str, ns: &str| {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  project: default\n  source: {{repoURL: \"{url}\", targetRevision: main, path: app}}\n  destination: {{{dest}, namespace: {ns}}}\n  syncPolicy: {{automated: {{}}}}\n"
        );
        std::fs::write(e.apps.join(file), text).expect("write");
    };
    // Each app in a namespace of its own: one ConfigMap, two owners otherwise.
    let ns_b = cluster.namespace("serve-remote-b");
    write("by-name.yaml", "by-name", "name: remote", &ns);
    write("aws.yaml", "aws", "name: aws", &ns);
    write("unknown.yaml", "unknown", "name: nowhere", &ns);
    write(
        "by-server.yaml",
        "by-server",
        &format!("server: \"{remote}\""),
        &ns_b,
    );
    // Refreshes every 2 s: an app read before the watch brings its Secret
    // is tried again soon.
    let mut cfg = config(&e, Duration::from_secs(2));
    cfg.namespace = Some(home.clone());
    let svc = Service::start(cfg, renderers(), true).await.expect("start");
    let c1 = f.rev("HEAD");
    for app in ["by-name", "by-server"] {
        until(&svc, app, Duration::from_secs(60), |s| {
            s.sync == SyncStatus::Synced && s.revision == c1
        })
        .await;
    }
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    assert_eq!(cm_value(&ns_b, "a").as_deref(), Some("1"));
    let refused = |app: &str, text: &'static str| {
        let s = svc.status(app).unwrap_or_default();
        s.sync == SyncStatus::Unknown && s.conditions.iter().any(|c| c.message.contains(text))
    };
    let start = Instant::now();
    while !(refused("aws", "is cluster Secret") && refused("unknown", "has no context")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "aws: {:?}\nunknown: {:?}",
            svc.status("aws"),
            svc.status("unknown")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let msg = |app: &str| {
        svc.status(app)
            .map(|s| {
                s.conditions
                    .iter()
                    .map(|c| c.message.clone())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    };
    assert!(
        msg("aws").contains(&format!(
            "destination name \"aws\" is cluster Secret {home}/aws-cluster, which cannot be used: cluster Secret {home}/aws-cluster: config.awsAuthConfig is not supported by sluice yet"
        )),
        "{}",
        msg("aws")
    );
    assert!(
        msg("unknown").contains("the kubeconfig has no context \"nowhere\""),
        "{}",
        msg("unknown")
    );

    // A Secret added while the service runs is picked up by the watch.
    let ns2 = cluster.namespace("serve-late");
    secret("late-cluster", "late", &remote, &creds);
    std::fs::write(
        e.apps.join("late.yaml"),
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: late}}\nspec:\n  project: default\n  source: {{repoURL: \"{url}\", targetRevision: main, path: app}}\n  destination: {{name: late, namespace: {ns2}}}\n  syncPolicy: {{automated: {{}}}}\n"
        ),
    )
    .expect("write");
    until(&svc, "late", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns2, "a").as_deref(), Some("1"));
    svc.shutdown(Duration::from_secs(5)).await;
}

fn flux_kustomization(name: &str, ns: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  interval: 10m\n  path: ./{name}\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  targetNamespace: {ns}\n{extra}"
    )
}

/// One file of Flux Kustomizations is one app each; `dependsOn` holds an
/// app back until its dependency is Synced and Healthy (a Deployment with
/// no controller to roll it out never is); `suspend: true` pauses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_kustomizations_in_one_file_honour_depends_on_and_suspend() {
    let ns = TestCluster::shared().namespace("serve-flux");
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: slow}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: slow}}\n  template:\n    metadata: {labels: {app: slow}}\n    spec: {containers: [{name: c, image: \"nginx:1.27\"}]}\n";
    let f = repo(
        "serve-flux",
        &[
            ("infra/cm.yaml", &cm_yaml("infra", "1")),
            ("apps/cm.yaml", &cm_yaml("apps", "1")),
            ("slow/deploy.yaml", deploy),
            ("blocked/cm.yaml", &cm_yaml("blocked", "1")),
            ("paused/cm.yaml", &cm_yaml("paused", "1")),
            ("checked/cm.yaml", &cm_yaml("checked", "1")),
            ("fast/cm.yaml", &cm_yaml("fast", "1")),
        ],
    );
    let url = server().http_url("serve-flux");
    let mut text = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: flux-system}}\nspec: {{interval: 1m, url: \"{url}\", ref: {{branch: main}}}}\n"
    );
    // Dependents first in the file: the order comes from dependsOn.
    text += &flux_kustomization("apps", &ns, "  dependsOn: [{name: infra}]\n");
    text += &flux_kustomization("infra", &ns, "");
    text += &flux_kustomization("blocked", &ns, "  dependsOn: [{name: slow}]\n");
    text += &flux_kustomization("slow", &ns, "");
    text += &flux_kustomization("paused", &ns, "  suspend: true\n");
    // Its own ConfigMap is healthy; the Deployment it checks is not.
    text += &flux_kustomization(
        "checked",
        &ns,
        &format!(
            "  healthChecks:\n  - {{apiVersion: apps/v1, kind: Deployment, name: slow, namespace: {ns}}}\n"
        ),
    );
    let fast = flux_kustomization("fast", &ns, "").replace("interval: 10m", "interval: 1s");
    text += &fast;
    let e = env();
    std::fs::write(e.apps.join("flux.yaml"), text).expect("write");
    let svc = Service::start(config(&e, Duration::from_secs(600)), renderers(), true)
        .await
        .expect("start");
    for app in ["infra", "apps"] {
        until(&svc, app, Duration::from_secs(60), |s| {
            s.sync == SyncStatus::Synced && s.health == "Healthy"
        })
        .await;
    }
    assert_eq!(cm_value(&ns, "apps").as_deref(), Some("1"));
    let s = until(&svc, "blocked", Duration::from_secs(30), |s| {
        s.conditions.iter().any(|c| c.kind == "DependencyNotReady")
    })
    .await;
    let msg = &s.conditions[0].message;
    assert!(
        msg.contains("app blocked: dependency flux-system/slow is not ready (sync Synced, health Progressing); it is applied once flux-system/slow is Synced and Healthy"),
        "{msg}"
    );
    let s = until(&svc, "paused", Duration::from_secs(30), |s| s.paused).await;
    assert!(
        s.conditions
            .iter()
            .any(|c| c.kind == "Paused" && c.message.contains("spec.suspend: true")),
        "{s:?}"
    );
    // Neither a blocked nor a suspended app applies anything.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cm_value(&ns, "blocked"), None);
    assert_eq!(cm_value(&ns, "paused"), None);
    // healthChecks count towards the app's health (read again until
    // Healthy: the Deployment may not exist at the app's first operation).
    until(&svc, "checked", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Synced && s.health == "Progressing"
    })
    .await;

    // interval: 1s polls that app's source; the others (10m) wait.
    let before = svc.status("infra").map(|s| s.revision).unwrap_or_default();
    let c2 = f.commit_files(
        "both change",
        &[
            ("fast/cm.yaml", &cm_yaml("fast", "2")),
            ("infra/cm.yaml", &cm_yaml("infra", "2")),
        ],
    );
    f.push();
    until(&svc, "fast", Duration::from_secs(30), |s| {
        s.revision == c2 && s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "fast").as_deref(), Some("2"));
    assert_eq!(
        svc.status("infra").map(|s| s.revision).unwrap_or_default(),
        before
    );
    assert_eq!(
        cm_value(&ns, "infra").as_deref(),
        Some("1"),
        "not polled yet"
    );
    svc.shutdown(Duration::from_secs(5)).await;
}

/// Flux's `GitRepository.spec.secretRef`: the service reads the Secret from
/// its cluster and fetches a repository that needs a password with it; a
/// missing Secret is named on the app, which syncs once it exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_secret_ref_gives_the_repository_credentials() {
    use sluice_testkit::git::{PASSWORD, USER};
    let cluster = TestCluster::shared();
    let flux_ns = cluster.namespace("serve-flux-auth");
    let ns = cluster.namespace("serve-flux-auth-target");
    // Repositories named private-* need a password on the HTTP server.
    repo(
        "private-serve-flux",
        &[("app/cm.yaml", &cm_yaml("secret-fed", "1"))],
    );
    let url = server().http_url("private-serve-flux");
    let text = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: {flux_ns}}}\nspec: {{interval: 1m, url: \"{url}\", ref: {{branch: main}}, secretRef: {{name: git-auth}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: authed, namespace: {flux_ns}}}\nspec:\n  interval: 2s\n  path: ./app\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  targetNamespace: {ns}\n"
    );
    let e = env();
    std::fs::write(e.apps.join("flux.yaml"), text).expect("write");
    // interval: 2s, so the app is tried again soon once the Secret exists.
    let mut cfg = config(&e, Duration::from_secs(2));
    // The test Git server speaks plain HTTP on loopback.
    cfg.settings.git.allow_insecure_http_credentials = true;
    let svc = Service::start(cfg, renderers(), true).await.expect("start");
    let s = until(&svc, "authed", Duration::from_secs(30), |s| {
        s.conditions.iter().any(|c| c.kind == "ComparisonError")
    })
    .await;
    let msg = &s.conditions[0].message;
    assert!(
        msg.contains(&format!(
            "app authed: GitRepository secretRef {flux_ns}/git-auth does not exist; create it or remove spec.secretRef"
        )),
        "{msg}"
    );
    assert_eq!(cm_value(&ns, "secret-fed"), None);
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "git-auth", "namespace": flux_ns},
        "stringData": {"username": USER, "password": PASSWORD}});
    cluster.kubectl_stdin(&["apply", "-f", "-"], &secret.to_string());
    until(&svc, "authed", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced
    })
    .await;
    assert_eq!(cm_value(&ns, "secret-fed").as_deref(), Some("1"));
    svc.shutdown(Duration::from_secs(5)).await;
}

/// Flux's `GitRepository.spec.verify`: the service reads the trusted keys
/// from the Secret `verify.secretRef` names (one armored key per entry, as
/// Flux keeps them) on its cluster and checks the commit before anything
/// is rendered: a missing Secret and an unsigned commit are named on the
/// app, a commit signed by a key in the Secret syncs, and one signed by a
/// stranger is refused with nothing applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_verify_takes_the_trusted_keys_from_a_secret() {
    use sluice_testkit::git::Signer;
    let cluster = TestCluster::shared();
    let flux_ns = cluster.namespace("serve-flux-verify");
    let ns = cluster.namespace("serve-flux-verify-target");
    let f = repo(
        "serve-flux-verify",
        &[("app/cm.yaml", &cm_yaml("verified", "1"))],
    );
    let unsigned = f.rev("HEAD");
    let url = server().http_url("serve-flux-verify");
    let text = format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: repo, namespace: {flux_ns}}}\nspec: {{interval: 1m, url: \"{url}\", ref: {{branch: main}}, verify: {{mode: HEAD, secretRef: {{name: pgp-keys}}}}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: verified, namespace: {flux_ns}}}\nspec:\n  interval: 2s\n  path: ./app\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n  targetNamespace: {ns}\n"
    );
    let e = env();
    std::fs::write(e.apps.join("flux.yaml"), text).expect("write");
    let svc = Service::start(config(&e, Duration::from_secs(2)), renderers(), true)
        .await
        .expect("start");
    let error_with = |needle: String| {
        move |s: &AppStatus| {
            s.conditions
                .iter()
                .any(|c| c.kind == "ComparisonError" && c.message.contains(&needle))
        }
    };
    until(
        &svc,
        "verified",
        Duration::from_secs(30),
        error_with(format!(
            "app verified: refusing its source: GitRepository verify.secretRef {flux_ns}/pgp-keys: the Secret does not exist in the home cluster; create it with the trusted public keys"
        )),
    )
    .await;
    assert_eq!(cm_value(&ns, "verified"), None);

    let signing = server().signing();
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "pgp-keys", "namespace": flux_ns},
        "stringData": {"author1.asc": signing.pgp_public}});
    cluster.kubectl_stdin(&["apply", "-f", "-"], &secret.to_string());
    until(
        &svc,
        "verified",
        Duration::from_secs(30),
        error_with(format!(
            "commit {unsigned} is not signed, and spec.source.verify requires a signature"
        )),
    )
    .await;
    assert_eq!(cm_value(&ns, "verified"), None);

    f.commit_signed(
        "signed",
        &[("app/cm.yaml", &cm_yaml("verified", "2"))],
        Signer::Pgp,
    );
    until(&svc, "verified", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && !s.conditions.iter().any(|c| c.kind == "ComparisonError")
    })
    .await;
    assert_eq!(cm_value(&ns, "verified").as_deref(), Some("2"));

    let stranger = f.commit_signed(
        "stranger",
        &[("app/cm.yaml", &cm_yaml("verified", "3"))],
        Signer::PgpStranger,
    );
    until(
        &svc,
        "verified",
        Duration::from_secs(60),
        error_with(format!(
            "commit {stranger} is signed by key OpenPGP {}, which is not in the Secret {flux_ns}/pgp-keys",
            signing.pgp_stranger.to_lowercase()
        )),
    )
    .await;
    assert_eq!(cm_value(&ns, "verified").as_deref(), Some("2"));
    svc.shutdown(Duration::from_secs(5)).await;
}
