//! `sluice render` and `sluice plugin list`, run as a user runs them.

use crate::common::{git_repo, repo_root, sluice, text};
use std::process::Command;

#[test]
fn renders_the_guestbook_example_as_yaml_and_json() {
    let out = sluice(&["render", "examples/guestbook"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert_eq!(yaml.matches("\n---\n").count(), 5, "{yaml}");
    assert!(
        yaml.starts_with("apiVersion: v1\nkind: ConfigMap\n"),
        "config.json sorts first: {yaml}"
    );

    let out = sluice(&["render", "examples/guestbook", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json array");
    let names: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "ConfigMap/frontend-config",
            "Deployment/frontend",
            "Service/frontend",
            "Namespace/guestbook",
            "Deployment/redis-leader",
            "Service/redis-leader"
        ]
    );
}

#[test]
fn the_same_through_path_and_explicit_renderer() {
    let a = sluice(&["render", "examples/guestbook"]);
    let b = sluice(&[
        "render",
        "examples",
        "--path",
        "guestbook",
        "--renderer",
        "yaml",
    ]);
    assert_eq!(b.status.code(), Some(0), "stderr: {}", text(&b.stderr));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn a_render_error_exits_1_and_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: v1\nkind: [ConfigMap\n",
    )
    .expect("write");
    let out = sluice(&["render", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("renderer yaml@0.1.0 failed: bad.yaml: YAML syntax error at line"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_usage_exits_2() {
    let out = sluice(&["render", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sluice(&["render", "examples/guestbook", "-p", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_renderer_and_unknown_parameter_exit_1() {
    let out = sluice(&["render", "examples/guestbook", "--renderer", "helm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no built-in renderer is called \"helm\""),
        "{}",
        text(&out.stderr)
    );
    let out = sluice(&["render", "examples/guestbook", "-p", "recursive=true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown parameter \"recursive\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_list_shows_builtins_with_sha256() {
    let out = sluice(&["plugin", "list", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let yaml = v
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["name"] == "yaml")
        .expect("yaml plugin listed");
    assert_eq!(yaml["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(yaml["version"], "0.1.0");
    let table = text(&sluice(&["plugin", "list"]).stdout);
    assert!(table.starts_with("NAME"), "{table}");
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["render", "--help"],
        &["plugin", "list", "--help"],
    ] {
        let out = sluice(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

/// Parse a multi-document YAML stream into JSON values (empty documents
/// dropped), for semantic comparison.
fn yaml_stream(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The kustomize example renders exactly as `kubectl kustomize` does. The
/// golden file is produced by kubectl: refresh it with
/// `BLESS=1 cargo test -p sluice --test e2e kustomize_example`.
#[test]
fn kustomize_example_matches_kubectl_kustomize() {
    let golden = repo_root().join("tests/e2e/golden/kustomize-prod.yaml");
    if std::env::var_os("BLESS").is_some() {
        let out = Command::new("kubectl")
            .args(["kustomize", "examples/kustomize/overlays/prod"])
            .current_dir(repo_root())
            .output()
            .expect("kubectl");
        assert!(out.status.success());
        std::fs::write(&golden, &out.stdout).expect("write golden");
    }
    let out = sluice(&["render", "examples/kustomize", "--path", "overlays/prod"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let expected = std::fs::read_to_string(&golden).expect("golden file");
    assert_eq!(yaml_stream(&text(&out.stdout)), yaml_stream(&expected));
}

/// `sluice render --repo` reads the app straight from a Git repository's
/// objects (here a `file://` URL of a repository made on the spot).
#[test]
fn renders_from_a_git_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = git_repo(
        &dir.path().join("repo"),
        &[(
            "apps/web/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\n",
        )],
        &[],
    );
    let cache = dir.path().join("cache");
    let out = sluice(&[
        "render",
        "--repo",
        &url,
        "--revision",
        "main",
        "--path",
        "apps/web",
        "--git-cache-dir",
        cache.to_str().expect("utf-8"),
        "--allow-local-repo",
        dir.path().to_str().expect("utf-8"),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["metadata"]["name"], "from-git");
    let out = sluice(&[
        "render",
        "--repo",
        &url,
        "--revision",
        "nope",
        "--git-cache-dir",
        cache.to_str().expect("utf-8"),
        "--allow-local-repo",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}

/// `sluice sync --repo` and an Application whose repoURL is a Git URL both
/// read the app from Git (here `file://`) and apply it to a `dir` target.
#[test]
fn syncs_from_a_git_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = git_repo(
        &dir.path().join("repo"),
        &[(
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: synced-from-git}\n",
        )],
        &["v1.0.0"],
    );
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: from-git}}\nspec:\n  source: {{repoURL: \"{url}\", targetRevision: \"^1\", path: app}}\n  destination: {{namespace: demo}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n"
        ),
    )
    .expect("write app");
    let cluster = dir.path().join("cluster");
    let target = format!("dir:{}", cluster.display());
    let out = sluice(&["sync", app.to_str().expect("utf-8"), "--target", &target]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        cluster
            .join("demo/core_ConfigMap_synced-from-git.yaml")
            .exists(),
        "{}",
        text(&out.stdout)
    );
    let out = sluice(&["diff", app.to_str().expect("utf-8"), "--target", &target]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "in sync after the sync: {}",
        text(&out.stdout)
    );
    let out = sluice(&[
        "sync",
        "--repo",
        &url,
        "--revision",
        "nope",
        "--path",
        "app",
        "--allow-local-repo",
        dir.path().to_str().expect("utf-8"),
        "--target",
        &target,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}
