//! Plugins in other languages and the author tools: `sluice plugin test`
//! (the built-in corpus, a wrong expectation, `--bless`), the Python Jinja2
//! and JavaScript Handlebars example renderers (built here with their real
//! toolchains, from `scripts/plugin-toolchains.sh`) over the shared golden
//! cases and through `sluice sync --target dir:`, and `sluice plugin new`
//! projects in every language, built and tested as generated.

use crate::common::{repo_root, sluice, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where this test process keeps what it builds.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The tool paths printed by the toolchain script (installing on first use).
fn toolchains() -> &'static Vec<(String, String)> {
    static TOOLS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/plugin-toolchains.sh"))
            .output()
            .expect("run scripts/plugin-toolchains.sh");
        assert!(
            out.status.success(),
            "plugin-toolchains.sh failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Build an example renderer with its build script, once per process.
fn example(name: &'static str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| *n == name) {
        return p.clone();
    }
    toolchains();
    let out = scratch().join(format!("{name}.wasm"));
    let script = match name {
        "jinja" => "examples/jinja-plugin/build.sh",
        "handlebars" => "examples/handlebars-plugin/build.sh",
        _ => unreachable!("no example {name}"),
    };
    run_ok(
        Command::new("bash")
            .arg(repo_root().join(script))
            .arg(&out)
            .current_dir(repo_root()),
        script,
    );
    built.push((name, out.clone()));
    out
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `sluice plugin test` output: the closing `N passed, N failed` line.
fn summary(out: &Output) -> String {
    text(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

#[test]
fn the_kustomize_corpus_passes_through_plugin_test() {
    let dir = repo_root().join("plugins/kustomize/tests/cases");
    let count = std::fs::read_dir(&dir)
        .expect("cases")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    let out = sluice(&[
        "plugin",
        "test",
        "kustomize",
        "plugins/kustomize/tests/cases",
    ]);
    // Every case renders as kubectl does, the object without apiVersion
    // included (the sync refuses that one on its row).
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(summary(&out), format!("{count} passed, 0 failed"));
}

#[test]
fn a_wrong_expectation_fails_with_a_diff_until_blessed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let case = tmp.path().join("guestbook");
    copy_dir(&repo_root().join("examples/guestbook"), &case.join("input"));
    let cases = path_str(tmp.path());

    // No expectation yet: a failure that says how to write one.
    let out = sluice(&["plugin", "test", "yaml", cases]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL guestbook"), "{stdout}");
    assert!(
        stdout.contains("no expected.yaml nor expected-error.txt; run with --bless to write one"),
        "{stdout}"
    );
    assert_eq!(summary(&out), "0 passed, 1 failed");

    let out = sluice(&["plugin", "test", "yaml", cases, "--bless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("blessed");
    assert!(expected.contains("\n  replicas: 2\n"), "{expected}");
    let rendered = sluice(&["render", "examples/guestbook"]);
    assert_eq!(
        expected,
        text(&rendered.stdout),
        "bless writes what render prints"
    );

    let out = sluice(&["plugin", "test", "yaml", cases]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(summary(&out), "1 passed, 0 failed");

    // A wrong expectation: exit 1 and a unified diff of the difference.
    std::fs::write(
        case.join("expected.yaml"),
        expected.replacen("\n  replicas: 2\n", "\n  replicas: 4\n", 1),
    )
    .expect("write");
    let out = sluice(&["plugin", "test", "yaml", cases]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("    objects differ\n    --- expected.yaml\n    +++ actual\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n    -  replicas: 4\n    +  replicas: 2\n"),
        "{stdout}"
    );
    assert_eq!(summary(&out), "0 passed, 1 failed");

    // An expected error that does not come: a failure too.
    std::fs::remove_file(case.join("expected.yaml")).expect("rm");
    std::fs::write(case.join("expected-error.txt"), "YAML syntax error").expect("write");
    let out = sluice(&["plugin", "test", "yaml", cases]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("an error was expected, but the render succeeded"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_unusable_plugin_is_one_clear_error() {
    let out = sluice(&[
        "plugin",
        "test",
        "no-such-plugin.wasm",
        "examples/template-cases",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot read plugin file no-such-plugin.wasm"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "no per-case noise: {}",
        text(&out.stdout)
    );
}

#[test]
fn jinja_and_handlebars_pass_the_same_shared_cases() {
    let shared = repo_root().join("examples/template-cases");
    let count = std::fs::read_dir(&shared)
        .expect("cases")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    for (name, own) in [
        ("jinja", "examples/jinja-plugin/cases"),
        ("handlebars", "examples/handlebars-plugin/cases"),
    ] {
        let wasm = example(name);
        let out = sluice(&["plugin", "test", path_str(&wasm), "examples/template-cases"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(summary(&out), format!("{count} passed, 0 failed"), "{name}");
        let out = sluice(&["plugin", "test", path_str(&wasm), own]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} own cases: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn template_renderers_sync_into_a_directory() {
    for name in ["jinja", "handlebars"] {
        let wasm = example(name);
        let tmp = tempfile::tempdir().expect("tempdir");
        let target = format!("dir:{}", tmp.path().display());
        let args = [
            "sync",
            "--repo",
            "examples/template-cases/basic/input",
            "--path",
            "web",
            "--name",
            "shop",
            "--dest-namespace",
            "default",
            "--renderer",
            path_str(&wasm),
            "--target",
            &target,
        ];
        let out = sluice(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let deploy = std::fs::read_to_string(tmp.path().join("default/apps_Deployment_shop.yaml"))
            .unwrap_or_else(|e| panic!("{name}: deployment file: {e}"));
        assert!(deploy.contains("image: nginx:1.27"), "{name}: {deploy}");
        assert!(deploy.contains("replicas: 2"), "{name}: {deploy}");
        let cm =
            std::fs::read_to_string(tmp.path().join("default/core_ConfigMap_shop-config.yaml"))
                .unwrap_or_else(|e| panic!("{name}: configmap file: {e}"));
        assert!(cm.contains("greeting: Hello, from shop"), "{name}: {cm}");
        assert!(
            tmp.path().join("default/core_Service_shop.yaml").is_file(),
            "{name}"
        );

        // A second sync changes nothing.
        let out = sluice(&args);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(
                "3 objects, 0 created, 0 configured, 3 unchanged, 0 pruned, 0 failed; in sync"
            ),
            "{name}: {stdout}"
        );
    }
}

/// Generate a project, build it with its own build script, and test it
/// with its own golden case, as a new author would.
fn new_project_builds_and_passes(lang: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("proj");
    let name = format!("my-{lang}-renderer");
    let out = sluice(&[
        "plugin",
        "new",
        &name,
        "--lang",
        lang,
        "--dir",
        path_str(&dir),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("./build.sh"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("wit/plugin.wit")).expect("wit"),
        std::fs::read_to_string(repo_root().join("wit/plugin.wit")).expect("repo wit"),
    );

    let mut build = Command::new("bash");
    build.arg(dir.join("build.sh")).current_dir(&dir);
    for (k, v) in toolchains() {
        build.env(k, v);
    }
    if lang == "rust" {
        // The toolchain this repository pins (it has the wasm32-wasip2
        // target), not whatever the temp directory would default to.
        let pinned = std::fs::read_to_string(repo_root().join("rust-toolchain.toml"))
            .expect("rust-toolchain.toml");
        let channel = pinned
            .lines()
            .find_map(|l| l.trim().strip_prefix("channel"))
            .and_then(|v| v.split('"').nth(1))
            .expect("channel in rust-toolchain.toml");
        build.env("RUSTUP_TOOLCHAIN", channel);
        // Shared across runs: the generated crate's dependencies build once.
        let target = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/sluice/plugin-new-rust-target");
        build.env("CARGO_TARGET_DIR", target);
    }
    run_ok(&mut build, &format!("{lang} project build.sh"));
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "{lang}: build.sh wrote no {}",
        wasm.display()
    );

    let out = sluice(&[
        "plugin",
        "test",
        path_str(&wasm),
        path_str(&dir.join("tests")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{lang}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(summary(&out), "1 passed, 0 failed", "{lang}");

    // And it is a real renderer: it sees other input, and rejects bad params.
    let out = sluice(&[
        "render",
        path_str(&dir.join("tests/hello/input")),
        "--path",
        "app",
        "--app",
        "x",
        "--renderer",
        path_str(&wasm),
        "-p",
        "nope=1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{lang}");
    assert!(
        text(&out.stderr).contains("unknown parameter"),
        "{lang}: {}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_new_rust_builds_and_passes_its_test() {
    new_project_builds_and_passes("rust");
}

#[test]
fn plugin_new_js_builds_and_passes_its_test() {
    new_project_builds_and_passes("js");
}

#[test]
fn plugin_new_python_builds_and_passes_its_test() {
    new_project_builds_and_passes("python");
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_dirs() {
    let out = sluice(&["plugin", "new", "My_Plugin", "--lang", "rust"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("plugin name \"My_Plugin\" is not usable"),
        "{}",
        text(&out.stderr)
    );
    let out = sluice(&["plugin", "new", "x", "--lang", "js", "--dir", "examples"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("examples already exists and is not an empty directory"),
        "{}",
        text(&out.stderr)
    );
}
