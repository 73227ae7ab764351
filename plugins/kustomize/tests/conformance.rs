//! The conformance corpus: every case under `tests/cases/<name>/` is
//! rendered through the plugin and compared semantically (same objects, same
//! order, same values) with `expected.yaml`, which `kubectl kustomize`
//! produced (`tests/regen.sh`), or checked to fail with the substring of
//! `expected-error.txt`.
//!
//! A case directory is the repository root. Optional files: `entry` (the
//! app path to build, default the case root) and `params` (`name=value`
//! lines, the plugin parameters; `regen.sh` maps them to kubectl flags).
//! `known-failures.txt` lists cases that are expected to fail, each with
//! its reason.

use serde_json::Value;
use sluice_plugin_sdk::testing::{DirTree, request};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

struct Case {
    name: String,
    dir: PathBuf,
    entry: String,
    params: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let entry = read("entry")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let params = read("params")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        out.push(Case {
            name: dir
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
            dir,
            entry,
            params,
        });
    }
    out
}

fn known_failures() -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/known-failures.txt"),
    )
    .unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn parse_stream(text: &str) -> Vec<Value> {
    sluice_plugin_sdk::yaml::parse_documents(text.as_bytes())
        .expect("expected.yaml parses")
        .into_iter()
        .flatten()
        .collect()
}

fn render(case: &Case) -> Result<Vec<Value>, String> {
    let params: Vec<(&str, &str)> = case
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out =
        sluice_plugin_kustomize::render(&DirTree::new(&case.dir), &request(&case.entry, &params))
            .map_err(|e| e.message)?;
    Ok(out
        .objects
        .iter()
        .map(|o| serde_json::from_str(&o.json).expect("plugin emits JSON"))
        .collect())
}

fn describe(v: &Value) -> String {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{}/{} {}",
        s("/kind"),
        s("/metadata/namespace"),
        s("/metadata/name")
    )
}

/// Why a rendering differs from the expectation, if it does.
fn compare(case: &Case, got: Result<Vec<Value>, String>) -> Option<String> {
    let expected_error = std::fs::read_to_string(case.dir.join("expected-error.txt")).ok();
    match (expected_error, got) {
        (Some(want), Err(msg)) => (!msg.contains(want.trim()))
            .then(|| format!("error {msg:?} does not contain {:?}", want.trim())),
        (Some(want), Ok(_)) => Some(format!(
            "rendered, but kustomize fails with {:?}",
            want.trim()
        )),
        (None, Err(msg)) => Some(format!("failed: {msg}")),
        (None, Ok(got)) => {
            let Ok(text) = std::fs::read_to_string(case.dir.join("expected.yaml")) else {
                return Some("no expected.yaml nor expected-error.txt (run tests/regen.sh)".into());
            };
            let want = parse_stream(&text);
            if got.len() != want.len() {
                let g: Vec<String> = got.iter().map(describe).collect();
                let w: Vec<String> = want.iter().map(describe).collect();
                return Some(format!(
                    "{} objects, want {}\n  got:  {g:?}\n  want: {w:?}",
                    got.len(),
                    want.len()
                ));
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                if g != w {
                    return Some(format!(
                        "object {i} ({}) differs\n  got:  {}\n  want: {}",
                        describe(w),
                        serde_json::to_string(g).unwrap_or_default(),
                        serde_json::to_string(w).unwrap_or_default()
                    ));
                }
            }
            None
        }
    }
}

#[test]
fn conformance_corpus() {
    let known = known_failures();
    let all = cases();
    let (mut passed, mut failures, mut unexpected) = (0, Vec::new(), Vec::new());
    for case in &all {
        match compare(case, render(case)) {
            None => {
                passed += 1;
                if known.contains(&case.name) {
                    println!(
                        "note: {} is listed in known-failures.txt but passes",
                        case.name
                    );
                }
            }
            Some(why) => {
                if !known.contains(&case.name) {
                    unexpected.push(case.name.clone());
                }
                failures.push(format!("{}: {why}", case.name));
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    println!("kustomize conformance: {passed}/{} passed", all.len());
    assert!(
        unexpected.is_empty(),
        "unexpected conformance failures: {unexpected:?}"
    );
}

fn kubectl_args(case: &Case) -> Vec<String> {
    let mut args = vec![
        "kustomize".to_string(),
        case.dir.join(&case.entry).to_string_lossy().into_owned(),
    ];
    for (k, v) in &case.params {
        args.push(format!("--{k}"));
        args.push(v.clone());
    }
    args
}

#[test]
fn expectations_match_live_kubectl() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        println!("kubectl not on PATH; skipping the live oracle check");
        return;
    }
    let (mut stale, mut oracle, mut plugin) = (Vec::new(), Duration::ZERO, Duration::ZERO);
    let all = cases();
    for case in &all {
        let t = Instant::now();
        let out = Command::new("kubectl")
            .args(kubectl_args(case))
            .output()
            .expect("kubectl runs");
        oracle += t.elapsed();
        let t = Instant::now();
        let _ = render(case);
        plugin += t.elapsed();
        let live: Result<Vec<Value>, String> = if out.status.success() {
            Ok(parse_stream(&String::from_utf8_lossy(&out.stdout)))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        };
        if let Some(why) = compare(case, live) {
            stale.push(format!("{}: {why}", case.name));
        }
    }
    for s in &stale {
        println!("STALE {s}");
    }
    println!(
        "oracle check: {} cases; kubectl kustomize {:.2}s total, plugin (native) {:.3}s total",
        all.len(),
        oracle.as_secs_f64(),
        plugin.as_secs_f64()
    );
    assert!(
        stale.is_empty(),
        "expected files out of date with kubectl: {stale:?}"
    );
}
