//! Helpers shared by the end-to-end test modules.

use serde_json::{Value, json};
use sluice::object::{Object, from_value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (examples are addressed from there).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run the `sluice` binary from the repository root.
pub fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run sluice")
}

/// Process output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Desired objects from JSON values.
pub fn objs(values: Vec<Value>) -> Vec<Object> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| from_value(v, None, i).expect("valid object"))
        .collect()
}

/// A ConfigMap.
pub fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

/// A one-container Deployment selecting `app`.
pub fn deploy(name: &str, app: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

/// A Git repository at `repo` holding `files`, committed on `main` with a
/// fixed date, tagged with `tags`; returns its `file://` URL.
pub fn git_repo(repo: &Path, files: &[(&str, &str)], tags: &[&str]) -> String {
    for (path, body) in files {
        let full = repo.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, body).expect("write");
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(repo)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    for t in tags {
        git(&["tag", t]);
    }
    format!("file://{}", repo.display())
}
