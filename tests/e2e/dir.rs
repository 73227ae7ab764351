//! Sync and diff against the `dir` target: the library driven directly,
//! and `sluice sync` / `sluice diff` run as a user runs them.

use crate::common::{cm, deploy, objs, sluice, text};
use serde_json::{Value, json};
use sluice::sync::{Action, NoProgress, Report, RowStatus, SyncError, SyncOptions, run};
use sluice::target::applyset::{PART_OF_LABEL, Parent};
use sluice::target::dir::DirTarget;
use std::path::Path;

fn opts(ns: &str) -> SyncOptions {
    let mut o = SyncOptions::new("demo", ns);
    o.create_namespace = true;
    o
}

async fn sync(t: &DirTarget, values: Vec<Value>, o: &SyncOptions) -> Result<Report, SyncError> {
    run(t, objs(values), o, &NoProgress).await
}

fn status_of(r: &Report, name: &str) -> RowStatus {
    r.rows
        .iter()
        .find(|row| row.name == name)
        .map(|row| row.status)
        .unwrap_or_else(|| panic!("no row {name}: {r:#?}"))
}

fn read(t: &DirTarget, rel: &str) -> Value {
    let text = std::fs::read_to_string(t.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_norway::from_str(&text).expect("yaml")
}

#[tokio::test]
async fn create_update_noop_and_prune() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let o = opts("shop");
    let r = sync(
        &t,
        vec![
            cm("a", json!({"k": "1"})),
            cm("b", json!({})),
            deploy("web", "web", "nginx:1"),
        ],
        &o,
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    assert!(
        r.rows.iter().all(|row| row.action == Action::Created),
        "{r:#?}"
    );
    assert_eq!(r.rows[0].kind, "Namespace", "namespace first");
    let a = read(&t, "shop/core_ConfigMap_a.yaml");
    let id = Parent::for_app("demo", "shop").id;
    assert_eq!(a["metadata"]["labels"][PART_OF_LABEL], id.as_str());
    let parent = read(&t, "shop/core_Secret_sluice-applyset-demo.yaml");
    assert_eq!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap,Deployment.apps"
    );
    assert!(t.root().join("shop/apps_Deployment_web.yaml").exists());

    // No-op: every object unchanged, no file rewritten.
    let before = std::fs::metadata(t.root().join("shop/core_ConfigMap_a.yaml"))
        .and_then(|m| m.modified())
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = sync(
        &t,
        vec![
            cm("a", json!({"k": "1"})),
            cm("b", json!({})),
            deploy("web", "web", "nginx:1"),
        ],
        &o,
    )
    .await
    .expect("sync");
    assert!(r.in_sync(), "{r:#?}");
    assert!(
        r.rows
            .iter()
            .all(|row| row.status == RowStatus::Synced && row.action == Action::Unchanged),
        "{r:#?}"
    );
    let after = std::fs::metadata(t.root().join("shop/core_ConfigMap_a.yaml"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after);

    // Update one, drop one: without --prune it stays, Extraneous.
    let r = sync(
        &t,
        vec![cm("a", json!({"k": "2"})), deploy("web", "web", "nginx:1")],
        &o,
    )
    .await
    .expect("sync");
    assert_eq!(
        r.rows.iter().find(|x| x.name == "a").map(|x| x.action),
        Some(Action::Configured)
    );
    assert_eq!(status_of(&r, "b"), RowStatus::Extraneous);
    assert!(!r.in_sync());
    assert_eq!(read(&t, "shop/core_ConfigMap_a.yaml")["data"]["k"], "2");
    assert!(t.root().join("shop/core_ConfigMap_b.yaml").exists());

    // Dry-run prune says so and deletes nothing; prune deletes.
    let mut p = o.clone();
    p.prune = true;
    p.dry_run = true;
    let r = sync(
        &t,
        vec![cm("a", json!({"k": "2"})), deploy("web", "web", "nginx:1")],
        &p,
    )
    .await
    .expect("sync");
    assert_eq!(
        r.rows
            .iter()
            .find(|x| x.name == "b")
            .map(|x| x.message.as_str()),
        Some("would prune")
    );
    assert!(t.root().join("shop/core_ConfigMap_b.yaml").exists());
    p.dry_run = false;
    let r = sync(
        &t,
        vec![cm("a", json!({"k": "2"})), deploy("web", "web", "nginx:1")],
        &p,
    )
    .await
    .expect("sync");
    assert_eq!(status_of(&r, "b"), RowStatus::Pruned);
    assert!(!t.root().join("shop/core_ConfigMap_b.yaml").exists());

    // Drift made by hand is reported, then overwritten.
    std::fs::write(
        t.root().join("shop/core_ConfigMap_a.yaml"),
        serde_norway::to_string(&{
            let mut v = read(&t, "shop/core_ConfigMap_a.yaml");
            v["data"]["k"] = json!("hand-edited");
            v
        })
        .expect("yaml"),
    )
    .expect("write");
    let mut d = o.clone();
    d.dry_run = true;
    let r = sync(
        &t,
        vec![cm("a", json!({"k": "2"})), deploy("web", "web", "nginx:1")],
        &d,
    )
    .await
    .expect("diff");
    assert_eq!(status_of(&r, "a"), RowStatus::OutOfSync);
    let text = sluice::diff::unified(
        "ConfigMap/a",
        r.rows[1].live.as_ref(),
        r.rows[1].desired.as_ref(),
        false,
    );
    assert!(text.contains("-  k: hand-edited\n+  k: '2'\n"), "{text}");
}

#[tokio::test]
async fn prune_guards_and_opt_outs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let mut o = opts("guard");
    let mut keep = cm("keep", json!({}));
    keep["metadata"]["annotations"] = json!({"argocd.argoproj.io/sync-options": "Prune=false"});
    let mut flux = cm("flux", json!({}));
    flux["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"});
    sync(&t, vec![cm("a", json!({})), keep, flux], &o)
        .await
        .expect("sync");

    o.prune = true;
    let err = sync(&t, vec![], &o)
        .await
        .expect_err("empty render refused");
    assert!(
        matches!(err, SyncError::EmptyRender { members: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-empty"), "{err}");
    assert!(t.root().join("guard/core_ConfigMap_a.yaml").exists());

    o.allow_empty = true;
    let r = sync(&t, vec![], &o).await.expect("allowed");
    assert_eq!(status_of(&r, "a"), RowStatus::Pruned);
    assert_eq!(status_of(&r, "keep"), RowStatus::Extraneous);
    assert_eq!(status_of(&r, "flux"), RowStatus::Extraneous);
    assert!(!t.root().join("guard/core_ConfigMap_a.yaml").exists());
    assert!(t.root().join("guard/core_ConfigMap_keep.yaml").exists());
    assert!(t.root().join("guard/core_ConfigMap_flux.yaml").exists());
}

#[tokio::test]
async fn a_per_object_replace_is_refused_on_its_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let mut replace = cm("replace", json!({}));
    replace["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/sync-options": "ServerSideApply=true, Replace=true"});
    let r = sync(&t, vec![cm("a", json!({})), replace], &opts("repl"))
        .await
        .expect("sync");
    assert_eq!(status_of(&r, "a"), RowStatus::Synced);
    assert_eq!(status_of(&r, "replace"), RowStatus::SyncFailed);
    let row = r
        .rows
        .iter()
        .find(|x| x.id().name == "replace")
        .expect("row");
    assert!(
        row.message.contains("argocd.argoproj.io/sync-options: Replace=true is not supported: sluice only applies with server-side apply"),
        "{}",
        row.message
    );
    assert!(!t.root().join("repl/core_ConfigMap_replace.yaml").exists());
}

#[tokio::test]
async fn crd_then_cr_namespaces_invalid_and_immutable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}});
    let bad = cm("Not_Valid", json!({}));
    let mut o = SyncOptions::new("crd", "nowhere");
    // No CreateNamespace: the inventory cannot be written.
    let err = sync(&t, vec![widget.clone(), crd.clone()], &o)
        .await
        .expect_err("namespace missing");
    assert!(
        err.to_string().contains("namespaces \"nowhere\" not found"),
        "{err}"
    );
    o.create_namespace = true;
    let r = sync(
        &t,
        vec![widget, crd, bad, deploy("web", "web", "nginx:1")],
        &o,
    )
    .await
    .expect("sync");
    let kinds: Vec<&str> = r.rows.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ConfigMap",
            "CustomResourceDefinition",
            "Deployment",
            "Widget"
        ],
        "{r:#?}"
    );
    assert_eq!(status_of(&r, "Not_Valid"), RowStatus::SyncFailed);
    assert!(
        r.rows[1].message.contains("RFC 1123"),
        "{}",
        r.rows[1].message
    );
    assert_eq!(r.failed(), 1);
    assert!(
        t.root()
            .join("_cluster/example.com_Widget_w1.yaml")
            .exists()
    );

    o.prune = true;
    let r = sync(&t, vec![deploy("web", "other", "nginx:2")], &o)
        .await
        .expect("sync");
    assert_eq!(status_of(&r, "web"), RowStatus::SyncFailed);
    assert!(
        r.rows
            .iter()
            .any(|x| x.message.contains("field is immutable")),
        "{r:#?}"
    );
    // The failed object stops the sync (as it always did with a watcher),
    // and so holds the prune back.
    assert!(
        r.rows.iter().any(|x| x.message.contains(
            "not pruned: sync stopped in Sync wave 0: apps/Deployment/nowhere/web failed to apply"
        )),
        "prune held back: {r:#?}"
    );
}

#[test]
fn readme_main_command_syncs_the_guestbook_into_a_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = format!("dir:{}", tmp.path().display());
    let out = sluice(&["sync", "examples/guestbook-app.yaml", "--target", &target]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let table = text(&out.stdout);
    assert!(table.starts_with("GROUP  KIND"), "{table}");
    assert!(table.contains("app guestbook on dir"), "{table}");
    for f in [
        "_cluster/core_Namespace_guestbook.yaml",
        "guestbook/apps_Deployment_frontend.yaml",
        "guestbook/core_Service_redis-leader.yaml",
    ] {
        assert!(tmp.path().join(f).exists(), "{f} missing:\n{table}");
    }
    let out = sluice(&["diff", "examples/guestbook-app.yaml", "--target", &target]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "in sync: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = sluice(&[
        "sync",
        "examples/guestbook-app.yaml",
        "--target",
        &target,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["action"] == "unchanged"),
        "{v:#}"
    );
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).expect("write");
}

#[test]
fn diff_masks_secrets_and_exit_codes() {
    let src = tempfile::tempdir().expect("tempdir");
    let dst = tempfile::tempdir().expect("tempdir");
    let target = format!("dir:{}", dst.path().display());
    let repo = src.path().display().to_string();
    let secret = |v: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {v}}}\n"
        )
    };
    write(src.path(), "s.yaml", &secret("first-secret-value"));
    let args = |cmd: &'static str| {
        vec![
            cmd,
            "--repo",
            &repo,
            "--allow-local-repo",
            &repo,
            "--name",
            "sec",
            "--target",
            &target,
        ]
    };
    let out = sluice(&args("diff"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "missing objects: {}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains("first-secret-value"),
        "{}",
        text(&out.stdout)
    );
    let out = sluice(&args("sync"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    write(src.path(), "s.yaml", &secret("second-secret-value"));
    let out = sluice(&args("diff"));
    assert_eq!(out.status.code(), Some(1));
    let d = text(&out.stdout);
    assert!(d.contains("password: +++"), "{d}");
    assert!(!d.contains("secret-value"), "{d}");

    // A failed render never prunes, and exits 2.
    write(src.path(), "s.yaml", "kind: [broken");
    let mut a = args("sync");
    a.push("--prune");
    let out = sluice(&a);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nothing was applied or pruned"),
        "{}",
        text(&out.stderr)
    );
    assert!(dst.path().join("default/core_Secret_creds.yaml").exists());
}

#[tokio::test]
async fn a_sync_that_has_to_wait_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let wave = |name: &str, w: &str| {
        let mut v = cm(name, json!({}));
        v["metadata"]["annotations"] = json!({"sluice.dev/sync-wave": w});
        v
    };
    let mut hook = cm("seed", json!({}));
    hook["metadata"]["annotations"] = json!({"argocd.argoproj.io/hook": "PreSync"});
    let mut waiting = opts("waits");
    waiting.wait = true;
    for (what, values, o, needs) in [
        (
            "two waves",
            vec![wave("a", "0"), wave("b", "1")],
            opts("waits"),
            "2 phase/wave steps",
        ),
        (
            "a hook",
            vec![cm("a", json!({})), hook],
            opts("waits"),
            "2 phase/wave steps, 1 hook",
        ),
        ("--wait", vec![cm("a", json!({}))], waiting, "--wait"),
    ] {
        let err = sync(&t, values, &o).await.expect_err(what);
        let msg = err.to_string();
        assert!(matches!(err, SyncError::CannotWait { .. }), "{what}: {msg}");
        assert!(
            msg.contains(&format!(
                "this sync has to wait for objects to be Healthy ({needs}), but dir {} cannot watch objects; nothing was applied",
                tmp.path().display()
            )),
            "{what}: {msg}"
        );
        let written = std::fs::read_dir(tmp.path()).expect("ls").count();
        assert_eq!(written, 0, "{what}: nothing written");
    }
    // A dry-run waits for nothing; one wave without hooks needs no watch.
    let mut dry = opts("waits");
    dry.dry_run = true;
    sync(&t, vec![wave("a", "0"), wave("b", "1")], &dry)
        .await
        .expect("a diff does not wait");
    let r = sync(&t, vec![wave("a", "3")], &opts("waits"))
        .await
        .expect("one wave");
    assert_eq!(r.failed(), 0, "{r:#?}");

    // `sluice wait` says the same instead of pretending.
    let repo = tempfile::tempdir().expect("tempdir");
    write(
        repo.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    let target = format!("dir:{}", tmp.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "wait",
            "--name",
            "demo",
            "--dest-namespace",
            "waits",
            "--repo",
            ".",
        ])
        .args(["--target", &target, "--timeout", "5s"])
        .current_dir(repo.path())
        .output()
        .expect("sluice runs");
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot watch objects: the dir target cannot watch"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_inventory_write_failure_after_applies_still_reports_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    // The Namespace is applied first; then the inventory Secret cannot be
    // written (its temporary file's name is taken by a directory).
    std::fs::create_dir_all(
        tmp.path()
            .join("inv/core_Secret_sluice-applyset-demo.yaml.tmp"),
    )
    .expect("mkdir");
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inv"}});
    let o = SyncOptions::new("demo", "inv");
    let r = sync(&t, vec![ns, cm("a", json!({}))], &o)
        .await
        .expect("a report, not an error: the Namespace was written");
    let namespace = r.rows.iter().find(|x| x.kind == "Namespace").expect("row");
    assert_eq!(
        (namespace.status, namespace.action),
        (RowStatus::Synced, Action::Created),
        "{r:#?}"
    );
    assert!(tmp.path().join("_cluster/core_Namespace_inv.yaml").exists());
    let secret = r
        .rows
        .iter()
        .find(|x| x.name == "sluice-applyset-demo")
        .expect("an inventory row");
    assert_eq!(secret.status, RowStatus::SyncFailed);
    assert!(
        secret
            .message
            .contains("app demo: cannot use the inventory Secret inv/sluice-applyset-demo"),
        "{}",
        secret.message
    );
    assert_eq!(status_of(&r, "a"), RowStatus::SyncFailed);
    assert!(
        r.rows.iter().any(|x| x.name == "a"
            && x.message.contains(
                "not applied: the inventory Secret inv/sluice-applyset-demo could not be written"
            )),
        "{r:#?}"
    );
    assert!(!tmp.path().join("inv/core_ConfigMap_a.yaml").exists());
}

#[tokio::test]
async fn objects_of_another_app_or_made_by_hand_are_refused_then_adopted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let mut a = opts("own");
    a.app = "alpha".into();
    let mut b = opts("own");
    b.app = "beta".into();
    sync(&t, vec![cm("shared", json!({"k": "alpha"}))], &a)
        .await
        .expect("sync");
    let r = sync(&t, vec![cm("shared", json!({"k": "beta"}))], &b)
        .await
        .expect("sync");
    assert_eq!(status_of(&r, "shared"), RowStatus::SyncFailed);
    assert!(
        r.rows.iter().any(|x| x.message.contains(
            "exists and belongs to app alpha (ApplySet parent Secret own/sluice-applyset-alpha)"
        )),
        "{r:#?}"
    );
    assert_eq!(
        read(&t, "own/core_ConfigMap_shared.yaml")["data"]["k"],
        "alpha"
    );
    // Made by hand: refused too, named as such.
    std::fs::write(
        t.root().join("own/core_ConfigMap_manual.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: manual, namespace: own}\ndata: {k: hand}\n",
    )
    .expect("write");
    let r = sync(&t, vec![cm("manual", json!({"k": "beta"}))], &b)
        .await
        .expect("sync");
    assert!(
        r.rows.iter().any(|x| x.message.contains(
            "exists but is not part of app beta: it has no applyset.kubernetes.io/part-of label"
        )),
        "{r:#?}"
    );
    b.adopt = true;
    let r = sync(
        &t,
        vec![
            cm("shared", json!({"k": "beta"})),
            cm("manual", json!({"k": "beta"})),
        ],
        &b,
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");
    let beta = Parent::for_app("beta", "own").id;
    for f in [
        "own/core_ConfigMap_shared.yaml",
        "own/core_ConfigMap_manual.yaml",
    ] {
        let v = read(&t, f);
        assert_eq!(v["metadata"]["labels"][PART_OF_LABEL], beta.as_str(), "{f}");
        assert_eq!(v["data"]["k"], "beta", "{f}");
    }
}

#[tokio::test]
async fn a_forgotten_object_leaves_the_inventory_and_stays() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = DirTarget::new(tmp.path()).expect("dir");
    let mut o = opts("shop");
    o.prune = true;
    let r = sync(
        &t,
        vec![cm("a", json!({"k": "1"})), cm("b", json!({"k": "2"}))],
        &o,
    )
    .await
    .expect("sync");
    assert_eq!(r.failed(), 0, "{r:#?}");

    // b marked forgotten (as the Terraform-plan renderer marks `forget`),
    // with other data: not applied, only released.
    let mut b = cm("b", json!({"k": "changed"}));
    b["metadata"]["annotations"] = json!({"sluice.dev/forget": "true"});
    let mut dry = o.clone();
    dry.dry_run = true;
    let d = sync(&t, vec![cm("a", json!({"k": "1"})), b.clone()], &dry)
        .await
        .expect("diff");
    let row = d.rows.iter().find(|r| r.name == "b").expect("row b");
    assert_eq!(
        (row.status, row.action, row.message.as_str()),
        (
            RowStatus::OutOfSync,
            Action::Forgotten,
            "would stop managing it; it stays in place"
        )
    );
    let r = sync(&t, vec![cm("a", json!({"k": "1"})), b.clone()], &o)
        .await
        .expect("sync");
    let row = r.rows.iter().find(|r| r.name == "b").expect("row b");
    assert_eq!(
        (row.status, row.action),
        (RowStatus::Skipped, Action::Forgotten),
        "{r:#?}"
    );
    assert!(!r.rows.iter().any(|r| r.action == Action::Pruned), "{r:#?}");
    let live = read(&t, "shop/core_ConfigMap_b.yaml");
    assert_eq!(live["data"]["k"], "2", "left as it was");
    assert!(
        live["metadata"]["labels"].get(PART_OF_LABEL).is_none(),
        "{live}"
    );

    // Gone from the app altogether: not pruned, not reported.
    let r = sync(&t, vec![cm("a", json!({"k": "1"}))], &o)
        .await
        .expect("sync");
    assert!(r.rows.iter().all(|r| r.name != "b"), "{r:#?}");
    assert_eq!(read(&t, "shop/core_ConfigMap_b.yaml")["data"]["k"], "2");
    // Still desired as forgotten: a Skipped row, nothing done.
    let r = sync(&t, vec![cm("a", json!({"k": "1"})), b], &o)
        .await
        .expect("sync");
    let row = r.rows.iter().find(|r| r.name == "b").expect("row b");
    assert_eq!(
        (row.status, row.action),
        (RowStatus::Skipped, Action::None),
        "{r:#?}"
    );
    assert!(
        row.message
            .contains("not managed by this app; left as it is"),
        "{}",
        row.message
    );
}

#[test]
fn an_object_without_api_version_renders_as_kustomize_gives_it_and_fails_its_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app");
    std::fs::create_dir_all(&app).expect("mkdir");
    write(
        &app,
        "kustomization.yaml",
        "resources: [cm.yaml, ok.yaml]\nnamePrefix: p-\n",
    );
    write(
        &app,
        "cm.yaml",
        "kind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n",
    );
    write(
        &app,
        "ok.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    );
    let app_s = app.display().to_string();
    let allow = tmp.path().display().to_string();
    let r = sluice(&["render", &app_s]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(
        text(&r.stdout).contains("data:\n  k: v\nkind: ConfigMap\nmetadata:\n  name: p-a\n"),
        "printed as kustomize prints it, without apiVersion:\n{}",
        text(&r.stdout)
    );
    let out = tmp.path().join("out");
    let s = sluice(&[
        "sync",
        "--repo",
        &app_s,
        "--allow-local-repo",
        &allow,
        "--target",
        &format!("dir:{}", out.display()),
    ]);
    let stdout = text(&s.stdout);
    assert_eq!(s.status.code(), Some(1), "{stdout}{}", text(&s.stderr));
    assert!(
        stdout.contains("ConfigMap p-a has no apiVersion; kustomize passes such an object through, but no API server accepts it: add apiVersion to it in cm.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 created"),
        "the other object is applied: {stdout}"
    );
}
