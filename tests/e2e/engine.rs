//! The one path every command takes (`sluice::engine`): destinations
//! checked before any request, names that keep flag apps apart, Git
//! credentials and SSH settings for every command, no userinfo for
//! plugins, local repositories confined. Against the real API server and
//! Git servers of `sluice_testkit`.

use crate::common::text;
use serde_json::Value;
use sluice::engine::{self, AppDef, Settings};
use sluice::source::Options;
use sluice_testkit::cluster::TestCluster;
use sluice_testkit::git::{PASSWORD, USER, server};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

/// Run `sluice` in `dir` with `env` (and none of the caller's settings
/// that would change the outcome).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.args(args).current_dir(dir);
    for k in [
        "SLUICE_ALLOW_LOCAL_REPO",
        "SLUICE_GIT_CREDENTIALS",
        "SLUICE_GIT_INSECURE_HTTP_CREDENTIALS",
        "KUBECONFIG",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c.output().expect("run sluice")
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

fn cm_yaml(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A kubeconfig with context `real` (the test cluster, current) and
/// context `decoy` (`decoy_url`, where nothing must ever connect).
fn kubeconfig(c: &TestCluster, decoy_url: &str, path: &Path) {
    let p = |p: &Path| p.display().to_string();
    write(
        path,
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster: {{server: \"{}\", certificate-authority: \"{}\"}}\n- name: decoy\n  cluster: {{server: \"{decoy_url}\", certificate-authority: \"{}\"}}\nusers:\n- name: admin\n  user: {{client-certificate: \"{}\", client-key: \"{}\"}}\ncontexts:\n- name: real\n  context: {{cluster: real, user: admin}}\n- name: decoy\n  context: {{cluster: decoy, user: admin}}\ncurrent-context: real\n",
            c.server,
            p(&c.ca_cert),
            p(&c.ca_cert),
            p(&c.client_cert),
            p(&c.client_key)
        ),
    );
}

#[test]
fn a_wrong_destination_server_is_refused_before_any_request_is_sent() {
    let c = TestCluster::shared();
    let ns = c.namespace("engine-dest");
    let decoy = TcpListener::bind("127.0.0.1:0").expect("bind");
    decoy.set_nonblocking(true).expect("nonblocking");
    let decoy_url = format!(
        "https://127.0.0.1:{}",
        decoy.local_addr().expect("addr").port()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let kc = tmp.path().join("kubeconfig");
    kubeconfig(c, &decoy_url, &kc);
    write(&tmp.path().join("repo/cm.yaml"), &cm_yaml("dest-probe"));
    let app = |destination: &str| {
        write(
            &tmp.path().join("app.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: dest}}\nspec:\n  source: {{repoURL: repo}}\n  destination: {{namespace: {ns}, {destination}}}\n"
            ),
        );
    };
    let kc_arg = kc.to_str().expect("utf-8");
    for (destination, context, context_server) in [
        // No name: the current context (real), which is not the decoy.
        (
            format!("server: \"{decoy_url}\""),
            "real",
            c.server.as_str(),
        ),
        (
            format!("name: real, server: \"{decoy_url}\""),
            "real",
            c.server.as_str(),
        ),
        // The context points at the decoy, the server names the real one.
        (
            format!("name: decoy, server: \"{}\"", c.server),
            "decoy",
            decoy_url.as_str(),
        ),
    ] {
        app(&destination);
        for cmd in ["sync", "diff", "wait"] {
            let out = run_in(tmp.path(), &[cmd, "app.yaml", "--kubeconfig", kc_arg], &[]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{destination}: {}", show(&out));
            let server = if context == "decoy" {
                c.server.as_str()
            } else {
                decoy_url.as_str()
            };
            assert!(
                stderr.contains(&format!(
                    "error: app dest: refusing its destination (nothing was sent to any cluster): destination.server is {server} but kubeconfig context \"{context}\" points at {context_server}; refusing to touch a cluster the Application does not name"
                )),
                "{destination}: {stderr}"
            );
        }
    }
    // Nothing reached the decoy, and nothing was created on the cluster.
    match decoy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the decoy API server was contacted: {other:?}"),
    }
    let get = c
        .kubectl()
        .args(["get", "configmap", "dest-probe", "-n", &ns])
        .output()
        .expect("kubectl");
    assert!(!get.status.success(), "dest-probe was created");

    // The same Application with a matching server (and the in-cluster
    // URL, meaning the chosen context) syncs.
    for destination in [
        format!("name: real, server: \"{}/\"", c.server),
        "server: \"https://kubernetes.default.svc\"".to_string(),
    ] {
        app(&destination);
        let out = run_in(
            tmp.path(),
            &["sync", "app.yaml", "--kubeconfig", kc_arg],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{destination}: {}", show(&out));
    }
    c.kubectl_ok(&["get", "configmap", "dest-probe", "-n", &ns]);
}

fn report(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    serde_json::from_slice(&out.stdout).expect("json report")
}

#[test]
fn two_flag_apps_from_different_paths_get_different_applysets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    write(&repo.join("a/cm.yaml"), &cm_yaml("from-a"));
    write(&repo.join("b/cm.yaml"), &cm_yaml("from-b"));
    let sync = |path: &str| {
        report(&run_in(
            &repo,
            &[
                "sync",
                "--repo",
                ".",
                "--path",
                path,
                "--prune",
                "--target",
                "dir:../cluster",
                "-o",
                "json",
            ],
            &[],
        ))
    };
    let a = sync("a");
    let b = sync("b");
    let (name_a, name_b) = (
        a["app"].as_str().expect("app"),
        b["app"].as_str().expect("app"),
    );
    assert!(
        name_a.starts_with("a-") && name_b.starts_with("b-"),
        "{a} {b}"
    );
    assert!(
        b["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["status"] != "Pruned"),
        "b pruned a's objects: {b:#}"
    );
    let cluster = tmp.path().join("cluster/default");
    for f in ["core_ConfigMap_from-a.yaml", "core_ConfigMap_from-b.yaml"] {
        assert!(cluster.join(f).exists(), "{f} missing after both syncs");
    }
    // The name is stable: a again is a no-op on its own inventory.
    let again = sync("a");
    assert_eq!(again["app"], a["app"]);
    assert!(
        again["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["action"] == "unchanged"),
        "{again:#}"
    );
    assert!(cluster.join("core_ConfigMap_from-b.yaml").exists());
}

#[test]
fn git_credentials_and_ssh_settings_apply_to_sync_diff_wait_and_render() {
    let s = server();
    s.create(
        "private-engine",
        &format!(
            "mkdir -p app && printf '{}' > app/cm.yaml && git add -A && git commit -qm one",
            cm_yaml("from-private").replace('\n', "\\n")
        ),
    );
    let url = s.http_url("private-engine");
    let tmp = tempfile::tempdir().expect("tempdir");
    let creds = tmp.path().join("creds.yaml");
    write(
        &creds,
        &format!("- urlPrefix: {url}\n  username: {USER}\n  password: {PASSWORD}\n"),
    );
    let cache = tmp.path().join("cache");
    let env = [
        ("SLUICE_GIT_CREDENTIALS", creds.to_str().expect("utf-8")),
        ("SLUICE_GIT_INSECURE_HTTP_CREDENTIALS", "1"),
        ("SLUICE_GIT_CACHE_DIR", cache.to_str().expect("utf-8")),
    ];
    let app = ["--repo", &url, "--revision", "main", "--path", "app"];
    let with = |cmd: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![cmd];
        args.extend(app);
        args.extend(extra);
        run_in(tmp.path(), &args, env)
    };
    // On the real cluster: `wait` needs a target that can watch.
    let c = TestCluster::shared();
    let ns = c.namespace("engine-creds");
    let kc = c.kubeconfig.to_str().expect("utf-8");
    let target = ["--kubeconfig", kc, "--dest-namespace", &ns];

    // Without credentials the server refuses: the commands below used them.
    let fresh = tmp.path().join("cache-none");
    let out = with(
        "sync",
        &target,
        &[("SLUICE_GIT_CACHE_DIR", fresh.to_str().expect("utf-8"))],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains(&url), "{}", show(&out));

    let out = with("sync", &target, &env);
    assert_eq!(out.status.code(), Some(0), "sync: {}", show(&out));
    c.kubectl_ok(&["get", "configmap", "from-private", "-n", &ns]);
    let out = with("diff", &target, &env);
    assert_eq!(out.status.code(), Some(0), "diff: {}", show(&out));
    let out = with("wait", &[&target[..], &["--timeout", "30s"]].concat(), &env);
    assert_eq!(out.status.code(), Some(0), "wait: {}", show(&out));
    let out = with("render", &[], &env);
    assert_eq!(out.status.code(), Some(0), "render: {}", show(&out));
    assert!(text(&out.stdout).contains("from-private"), "{}", show(&out));
    // The same by flags, on a fresh cache.
    let flags_cache = tmp.path().join("cache-flags");
    let mut flags = vec![
        "--git-credentials",
        creds.to_str().expect("utf-8"),
        "--git-insecure-http-credentials",
        "--git-cache-dir",
        flags_cache.to_str().expect("utf-8"),
    ];
    flags.extend(target);
    let out = with("diff", &flags, &[]);
    assert_eq!(out.status.code(), Some(0), "diff by flags: {}", show(&out));

    // SSH settings (key, known_hosts) by flags for sync too.
    let ssh = s.ssh();
    let ssh_url = s.ssh_url("private-engine");
    let ssh_cache = tmp.path().join("cache-ssh");
    let out = run_in(
        tmp.path(),
        &[
            "sync",
            "--repo",
            &ssh_url,
            "--revision",
            "main",
            "--path",
            "app",
            "--ssh-key",
            ssh.private_key.to_str().expect("utf-8"),
            "--ssh-known-hosts",
            ssh.known_hosts.to_str().expect("utf-8"),
            "--git-cache-dir",
            ssh_cache.to_str().expect("utf-8"),
            "--target",
            "dir:cluster-ssh",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "sync over ssh: {}", show(&out));
    assert!(
        tmp.path()
            .join("cluster-ssh/default/core_ConfigMap_from-private.yaml")
            .exists()
    );
}

#[test]
fn plugins_see_the_repo_url_without_userinfo() {
    let s = server();
    s.create(
        "private-engine-url",
        &format!(
            "mkdir -p app && printf '{}' > app/cm.yaml && git add -A && git commit -qm one",
            cm_yaml("userinfo").replace('\n', "\\n")
        ),
    );
    let url = s.http_url("private-engine-url");
    let embedded = url.replace("http://", &format!("http://{USER}:{PASSWORD}@"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = Settings {
        git: Options {
            cache_dir: tmp.path().join("cache"),
            allow_insecure_http_credentials: true,
            ..Options::default()
        },
        kubeconfig: None,
        allow_local_repos: Vec::new(),
        working_dir: tmp.path().to_path_buf(),
        clusters: None,
    };
    let def = AppDef {
        repo: Some(embedded),
        revision: Some("main".into()),
        path: Some("app".into()),
        target: Some("dir:out".into()),
        ..AppDef::default()
    };
    let app = engine::resolve(&def, &settings).expect("the password in the URL authenticates");
    // RenderSpec is what the plugin's context is made of.
    assert_eq!(app.render.repo_url, url);
    assert_eq!(app.source.url, url);
    assert!(!app.name.contains(USER), "{}", app.name);
    assert!(
        !format!("{app:?}").contains(PASSWORD) && !format!("{app:?}").contains(&format!("{USER}@")),
        "{app:?}"
    );
    let tree = app.source.tree.read("app/cm.yaml").expect("read");
    assert!(String::from_utf8_lossy(&tree).contains("userinfo"));
}

#[test]
fn local_repos_outside_the_app_files_directory_are_refused_unless_allowed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical");
    write(&root.join("outside/app/cm.yaml"), &cm_yaml("outside"));
    write(&root.join("apps/repo/app/cm.yaml"), &cm_yaml("inside"));
    let app = |repo: &str| {
        write(
            &root.join("apps/app.yaml"),
            &format!(
                "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: local}}\nspec:\n  source: {{repoURL: \"{repo}\", path: app}}\n"
            ),
        );
    };
    let sync = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["sync", "apps/app.yaml", "--target", "dir:cluster"];
        args.extend(extra);
        run_in(&root, &args, env)
    };
    let outside = root.join("outside");
    let refused = |out: &Output, repo: &str| {
        assert_eq!(out.status.code(), Some(2), "{repo}: {}", show(out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "error: app local: local repository {repo} resolves to {}, outside {}; a local repoURL must lie inside the Application file's directory (the working directory for --repo); to allow it, pass --allow-local-repo {} or set SLUICE_ALLOW_LOCAL_REPO={}",
                outside.display(),
                root.join("apps").display(),
                outside.display(),
                outside.display()
            )),
            "{repo}: {stderr}"
        );
    };
    app("repo");
    let out = run_in(
        &root,
        &["sync", "apps/app.yaml", "--target", "dir:cluster-inside"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "inside is fine: {}", show(&out));

    for repo in [
        "../outside",
        &outside.display().to_string(),
        "link",
        "file://../outside",
    ] {
        if repo == "link" {
            std::os::unix::fs::symlink(&outside, root.join("apps/link")).expect("symlink");
        }
        app(repo);
        refused(&sync(&[], &[]), repo);
    }
    assert!(
        !root
            .join("cluster/default/core_ConfigMap_outside.yaml")
            .exists(),
        "nothing from outside was synced"
    );
    // Allowed by flag, and by the environment.
    app("../outside");
    let out = sync(&["--allow-local-repo", "outside"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        root.join("cluster/default/core_ConfigMap_outside.yaml")
            .exists()
    );
    let env_value = format!("/nonexistent:{}", outside.display());
    let out = run_in(
        &root,
        &["diff", "apps/app.yaml", "--target", "dir:cluster"],
        &[("SLUICE_ALLOW_LOCAL_REPO", &env_value)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // Flags: confined to the working directory; render's DIR argument
    // names its root, so it is allowed.
    let work = root.join("apps");
    let out = run_in(
        &work,
        &[
            "sync",
            "--repo",
            "../outside",
            "--path",
            "app",
            "--target",
            "dir:c",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("local repository ../outside resolves to"),
        "{}",
        show(&out)
    );
    let out = run_in(
        &work,
        &["render", "--repo", "../outside", "--path", "app"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("--allow-local-repo"),
        "{}",
        show(&out)
    );
    let out = run_in(&work, &["render", "../outside", "--path", "app"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
