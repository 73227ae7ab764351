//! Golden test cases for renderer plugins (`sluice plugin test`).
//!
//! A case is a directory:
//!
//! ```text
//! CASE/
//!   input/              the repository root the renderer sees
//!   context.yaml        optional: path, appName, namespace, revision, repoURL
//!   params.yaml         optional: a mapping of parameter name to value
//!   params.json         optional: the structured parameters (params-json)
//!   expected.yaml       the objects the render must return, in order, or
//!   expected-error.txt  text the render's error must contain
//! ```
//!
//! When there is no `input/`, the case directory itself is the repository
//! root, and an `entry` file (the app path) and a `params` file
//! (`name=value` lines) are read as well: that is the layout of the
//! built-in plugins' corpora (`plugins/kustomize/tests/cases`), so they run
//! through the same command.
//!
//! Each case is rendered by [`Renderers::render`], the path `sluice render`
//! and `sluice sync` take: same sandbox, same limits, same object checks.
//! Objects are compared as values (key order and YAML quoting do not
//! matter, document order does); a mismatch is shown as a unified diff of
//! both sides written the way `sluice render` writes YAML. An expected error
//! is a substring of the actual error text (the error, its causes, and the
//! renderer's diagnostics, one per line), so it survives unrelated wording
//! around it. [`bless`] rewrites the expectation from the actual result.

use super::{RenderError, RenderSpec, RendererRef, Renderers};
use crate::plugin::{PluginError, Severity};
use crate::source::{DirTree, Tree};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file holding the expected objects.
pub const EXPECTED: &str = "expected.yaml";
/// The file holding the expected error text.
pub const EXPECTED_ERROR: &str = "expected-error.txt";

/// Why a case could not be read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A file or directory could not be read or written.
    #[error("{}: cannot {action}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("read", "write", "remove", "list").
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A case file is not what it should be.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A YAML file does not parse, or has fields a case file cannot have.
    #[error("{}: not a valid case file", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_norway::Error,
    },
    /// A cases directory holds no case.
    #[error(
        "{}: no test cases here; a case is a directory with an input/ directory and an expected.yaml or expected-error.txt",
        path.display()
    )]
    NoCases {
        /// The directory.
        path: PathBuf,
    },
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> CaseError {
    let path = path.to_path_buf();
    move |source| CaseError::Io {
        path,
        action,
        source,
    }
}

/// `context.yaml`: who and where the render is for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContextFile {
    path: Option<String>,
    app_name: Option<String>,
    namespace: Option<String>,
    revision: Option<String>,
    #[serde(rename = "repoURL")]
    repo_url: Option<String>,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// These objects, in this order.
    Objects(Vec<Value>),
    /// An error whose text contains this.
    Error(String),
    /// Nothing written yet (run with `--bless`).
    Missing,
}

/// One loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's directory name.
    pub name: String,
    /// The case directory.
    pub dir: PathBuf,
    /// The repository root the renderer sees.
    pub root: PathBuf,
    /// Application name, directory, parameters and context for the render.
    pub spec: RenderSpec,
    /// What the render must produce.
    pub expected: Expectation,
}

/// What a render produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Actual {
    /// The objects.
    Objects(Vec<Value>),
    /// The full error text: the error, its causes, the diagnostics.
    Error(String),
}

/// The case directories under `dir` (sorted): every subdirectory, or `dir`
/// itself when it is one case (has `input/` or an expectation file).
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, CaseError> {
    if is_case(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir, "list"))? {
        let path = entry.map_err(io(dir, "list"))?.path();
        if path.is_dir() {
            out.push(path);
        }
    }
    if out.is_empty() {
        return Err(CaseError::NoCases {
            path: dir.to_path_buf(),
        });
    }
    out.sort();
    Ok(out)
}

fn is_case(dir: &Path) -> bool {
    dir.join("input").is_dir() || dir.join(EXPECTED).is_file() || dir.join(EXPECTED_ERROR).is_file()
}

fn read_opt(path: &Path) -> Result<Option<String>, CaseError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, "read")(e)),
    }
}

/// A scalar parameter value as text (`true`, `3`, `x`); `None` otherwise.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn parse_params_yaml(path: &Path, text: &str) -> Result<Vec<(String, String)>, CaseError> {
    let value: Value = serde_norway::from_str(text).map_err(|source| CaseError::Yaml {
        path: path.to_path_buf(),
        source,
    })?;
    let map = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        _ => {
            return Err(CaseError::Invalid {
                path: path.to_path_buf(),
                message: "must be a mapping of parameter name to value, e.g. `replicas: 3`".into(),
            });
        }
    };
    map.into_iter()
        .map(|(k, v)| {
            scalar_text(&v)
                .map(|v| (k.clone(), v))
                .ok_or_else(|| CaseError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "parameter {k:?} is not a scalar; put structured parameters in params.json"
                    ),
                })
        })
        .collect()
}

/// Parse a YAML stream of objects (empty documents skipped).
pub fn parse_stream(path: &Path, text: &str) -> Result<Vec<Value>, CaseError> {
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|source| CaseError::Yaml {
            path: path.to_path_buf(),
            source,
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Load the case in `dir`, to be rendered with `renderer`.
pub fn load(dir: &Path, renderer: &RendererRef) -> Result<Case, CaseError> {
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let input = dir.join("input");
    let (root, corpus_layout) = if input.is_dir() {
        (input, false)
    } else {
        (dir.to_path_buf(), true)
    };
    let ctx_path = dir.join("context.yaml");
    let ctx: ContextFile = match read_opt(&ctx_path)? {
        Some(t) if !t.trim().is_empty() => {
            serde_norway::from_str(&t).map_err(|source| CaseError::Yaml {
                path: ctx_path.clone(),
                source,
            })?
        }
        _ => ContextFile::default(),
    };
    let mut path = ctx.path.unwrap_or_default();
    let mut params = Vec::new();
    if corpus_layout {
        if path.is_empty() {
            path = read_opt(&dir.join("entry"))?
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
        }
        if let Some(t) = read_opt(&dir.join("params"))? {
            params.extend(
                t.lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string())),
            );
        }
    }
    let params_path = dir.join("params.yaml");
    if let Some(t) = read_opt(&params_path)? {
        params.extend(parse_params_yaml(&params_path, &t)?);
    }
    let json_path = dir.join("params.json");
    let params_json = read_opt(&json_path)?;
    if let Some(j) = &params_json {
        serde_json::from_str::<Value>(j).map_err(|e| CaseError::Invalid {
            path: json_path.clone(),
            message: format!("not JSON: {e}"),
        })?;
    }
    let expected_path = dir.join(EXPECTED);
    let error_path = dir.join(EXPECTED_ERROR);
    let expected = match (read_opt(&expected_path)?, read_opt(&error_path)?) {
        (Some(_), Some(_)) => {
            return Err(CaseError::Invalid {
                path: dir.to_path_buf(),
                message: format!("has both {EXPECTED} and {EXPECTED_ERROR}; keep one"),
            });
        }
        (Some(t), None) => Expectation::Objects(parse_stream(&expected_path, &t)?),
        (None, Some(t)) => Expectation::Error(t.trim().to_string()),
        (None, None) => Expectation::Missing,
    };
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        root,
        spec: RenderSpec {
            app: ctx.app_name.unwrap_or_else(|| "app".into()),
            path,
            renderer: renderer.clone(),
            params,
            params_json,
            namespace: ctx.namespace.unwrap_or_default(),
            revision: ctx.revision.unwrap_or_default(),
            repo_url: ctx.repo_url.unwrap_or_default(),
        },
        expected,
    })
}

/// Render `case` through `renderers`, as `sluice render` would. `Err` is
/// returned only when the plugin cannot be used at all (no such file or
/// built-in, not a component, wrong digest): every case would fail the same
/// way, so that is not a case result.
pub fn run(renderers: &Renderers, case: &Case) -> Result<Actual, RenderError> {
    let tree: Arc<dyn Tree> = match DirTree::new(&case.root) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            return Ok(Actual::Error(format!(
                "cannot open the case's input {}: {e}",
                case.root.display()
            )));
        }
    };
    match renderers.render(tree, &case.spec) {
        Ok(r) => Ok(Actual::Objects(
            r.objects.into_iter().map(|o| o.value).collect(),
        )),
        Err(e) if is_setup(&e) => Err(e),
        Err(e) => Ok(Actual::Error(error_text(&e))),
    }
}

/// Load (compile, or take from the compile cache) and instantiate the
/// plugin `case` names, without rendering; [`run`] then reuses it. Lets a
/// caller time loading apart from rendering.
pub fn preload(renderers: &Renderers, case: &Case) -> Result<(), RenderError> {
    let tree = DirTree::new(&case.root).map_err(|e| RenderError::Plugin {
        app: case.spec.app.clone(),
        source: PluginError::Engine(
            format!("cannot open the case's input {}: {e}", case.root.display()).into(),
        ),
    })?;
    renderers.resolve(&tree, &case.spec).map(|_| ())
}

/// Whether `e` says the plugin itself is unusable rather than this render.
fn is_setup(e: &RenderError) -> bool {
    match e {
        RenderError::ReadPlugin { .. } | RenderError::UnknownRenderer { .. } => true,
        RenderError::Plugin { source, .. } => matches!(
            source,
            PluginError::Engine(_)
                | PluginError::Compile { .. }
                | PluginError::Link { .. }
                | PluginError::Digest { .. }
        ),
        _ => false,
    }
}

/// The error, its causes and the renderer's diagnostics, one per line.
fn error_text(e: &RenderError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\ncaused by: {s}"));
        source = s.source();
    }
    for d in e.results() {
        let at = d
            .file
            .as_ref()
            .map(|f| match f.line {
                Some(l) => format!("{}:{l}: ", f.path),
                None => format!("{}: ", f.path),
            })
            .unwrap_or_default();
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        text.push_str(&format!("\n{sev}: {at}{}", d.message));
    }
    text
}

fn yaml_text(values: &[Value]) -> String {
    crate::object::to_yaml_stream(values)
}

/// Compare `actual` with what `case` expects: `None` when it matches, else
/// a unified diff (expected → actual) explaining the difference.
pub fn check(case: &Case, actual: &Actual) -> Option<String> {
    let (want, got, header) = match (&case.expected, actual) {
        (Expectation::Objects(w), Actual::Objects(g)) if w == g => return None,
        (Expectation::Error(w), Actual::Error(g)) if g.contains(w.as_str()) => return None,
        (Expectation::Objects(w), Actual::Objects(g)) => {
            (yaml_text(w), yaml_text(g), "objects differ")
        }
        (Expectation::Objects(w), Actual::Error(g)) => (
            yaml_text(w),
            format!("{g}\n"),
            "objects were expected, but the render failed",
        ),
        (Expectation::Error(w), Actual::Objects(g)) => (
            format!("{w}\n"),
            yaml_text(g),
            "an error was expected, but the render succeeded",
        ),
        (Expectation::Error(w), Actual::Error(g)) => (
            format!("{w}\n"),
            format!("{g}\n"),
            "the error does not contain the expected text",
        ),
        (Expectation::Missing, a) => {
            let got = match a {
                Actual::Objects(g) => yaml_text(g),
                Actual::Error(g) => format!("{g}\n"),
            };
            (
                String::new(),
                got,
                "no expected.yaml nor expected-error.txt; run with --bless to write one",
            )
        }
    };
    let (from, to) = match &case.expected {
        Expectation::Error(_) => (EXPECTED_ERROR, "actual"),
        _ => (EXPECTED, "actual"),
    };
    let diff = similar::TextDiff::from_lines(&want, &got)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string();
    Some(format!("{header}\n{diff}"))
}

/// Rewrite the case's expectation from `actual`: `expected.yaml` for
/// objects, `expected-error.txt` (the error's first line) for a failure;
/// the other file is removed.
pub fn bless(case: &Case, actual: &Actual) -> Result<(), CaseError> {
    let (write, text, remove) = match actual {
        Actual::Objects(v) => (EXPECTED, yaml_text(v), EXPECTED_ERROR),
        Actual::Error(e) => (
            EXPECTED_ERROR,
            format!("{}\n", e.lines().next().unwrap_or_default()),
            EXPECTED,
        ),
    };
    let path = case.dir.join(write);
    std::fs::write(&path, text).map_err(io(&path, "write"))?;
    let stale = case.dir.join(remove);
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&stale, "remove")(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Limits, Runtime};

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (p, c) in files {
            let p = dir.join(p);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, c).expect("write");
        }
    }

    fn renderers() -> Renderers {
        Renderers::new(Runtime::new(Limits::default(), None).expect("runtime"))
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

    #[test]
    fn a_matching_case_passes_and_key_order_does_not_matter() {
        let d = tempfile::tempdir().expect("tempdir");
        write(
            d.path(),
            &[
                ("input/app/cm.yaml", CM),
                ("context.yaml", "path: app\nappName: demo\n"),
                (
                    "expected.yaml",
                    "kind: ConfigMap\napiVersion: v1\ndata: {k: v}\nmetadata: {name: a}\n",
                ),
            ],
        );
        let r = renderers();
        let case = load(d.path(), &RendererRef::Builtin("yaml".into())).expect("load");
        assert_eq!(case.spec.path, "app");
        assert_eq!(case.spec.app, "demo");
        let actual = run(&r, &case).expect("plugin loads");
        assert_eq!(check(&case, &actual), None, "{actual:?}");
    }

    #[test]
    fn a_wrong_expectation_fails_with_a_diff_and_bless_fixes_it() {
        let d = tempfile::tempdir().expect("tempdir");
        write(
            d.path(),
            &[
                ("input/cm.yaml", CM),
                ("expected.yaml", CM.replace("k: v", "k: w").as_str()),
            ],
        );
        let r = renderers();
        let renderer = RendererRef::Builtin("yaml".into());
        let case = load(d.path(), &renderer).expect("load");
        let actual = run(&r, &case).expect("plugin loads");
        let diff = check(&case, &actual).expect("mismatch");
        assert!(diff.starts_with("objects differ\n"), "{diff}");
        assert!(diff.contains("--- expected.yaml\n+++ actual\n"), "{diff}");
        assert!(diff.contains("\n-  k: w\n+  k: v\n"), "{diff}");

        bless(&case, &actual).expect("bless");
        let case = load(d.path(), &renderer).expect("reload");
        assert_eq!(check(&case, &run(&r, &case).expect("plugin loads")), None);
    }

    #[test]
    fn expected_errors_match_by_substring_and_bless_writes_the_first_line() {
        let d = tempfile::tempdir().expect("tempdir");
        write(
            d.path(),
            &[
                ("input/bad.yaml", "kind: [ConfigMap\n"),
                (
                    "expected-error.txt",
                    "bad.yaml: YAML syntax error at line\n",
                ),
            ],
        );
        let r = renderers();
        let renderer = RendererRef::Builtin("yaml".into());
        let case = load(d.path(), &renderer).expect("load");
        let actual = run(&r, &case).expect("plugin loads");
        assert_eq!(check(&case, &actual), None, "{actual:?}");

        std::fs::write(d.path().join(EXPECTED_ERROR), "some other failure\n").expect("write");
        let case = load(d.path(), &renderer).expect("load");
        let diff = check(&case, &actual).expect("mismatch");
        assert!(
            diff.starts_with("the error does not contain the expected text\n"),
            "{diff}"
        );
        assert!(diff.contains("-some other failure\n"), "{diff}");

        bless(&case, &actual).expect("bless");
        let written = std::fs::read_to_string(d.path().join(EXPECTED_ERROR)).expect("read");
        assert!(
            written.starts_with("app app: renderer yaml@0.1.0 failed: bad.yaml: YAML syntax error"),
            "{written}"
        );
    }

    #[test]
    fn a_missing_expectation_fails_and_bless_switches_error_to_objects() {
        let d = tempfile::tempdir().expect("tempdir");
        write(d.path(), &[("input/cm.yaml", CM)]);
        let r = renderers();
        let renderer = RendererRef::Builtin("yaml".into());
        let case = load(d.path(), &renderer).expect("load");
        assert_eq!(case.expected, Expectation::Missing);
        let actual = run(&r, &case).expect("plugin loads");
        let diff = check(&case, &actual).expect("missing");
        assert!(diff.contains("run with --bless"), "{diff}");

        std::fs::write(d.path().join(EXPECTED_ERROR), "x").expect("write");
        bless(&case, &actual).expect("bless");
        assert!(!d.path().join(EXPECTED_ERROR).exists());
        assert!(d.path().join(EXPECTED).exists());
    }

    #[test]
    fn bad_case_files_are_named() {
        let d = tempfile::tempdir().expect("tempdir");
        let renderer = RendererRef::Builtin("yaml".into());
        write(d.path(), &[("input/x", ""), ("params.yaml", "a: [1, 2]\n")]);
        let e = load(d.path(), &renderer).expect_err("list param");
        assert!(
            e.to_string()
                .contains("params.yaml: parameter \"a\" is not a scalar; put structured parameters in params.json"),
            "{e}"
        );
        write(
            d.path(),
            &[("params.yaml", "a: 1\n"), ("context.yaml", "nmespace: x\n")],
        );
        let e = load(d.path(), &renderer).expect_err("typo");
        assert!(
            e.to_string()
                .contains("context.yaml: not a valid case file"),
            "{e}"
        );
        let cause = std::error::Error::source(&e).expect("cause").to_string();
        assert!(cause.contains("unknown field `nmespace`"), "{cause}");
        write(
            d.path(),
            &[
                ("context.yaml", ""),
                ("expected.yaml", ""),
                ("expected-error.txt", ""),
            ],
        );
        let e = load(d.path(), &renderer).expect_err("both");
        assert!(
            e.to_string()
                .contains("has both expected.yaml and expected-error.txt; keep one"),
            "{e}"
        );
        let empty = tempfile::tempdir().expect("tempdir");
        let e = discover(empty.path()).expect_err("no cases");
        assert!(e.to_string().contains("no test cases here"), "{e}");
    }

    #[test]
    fn the_corpus_layout_reads_entry_and_params() {
        let d = tempfile::tempdir().expect("tempdir");
        write(
            d.path(),
            &[
                ("entry", "overlay\n"),
                ("params", "a=1\nb = two\n"),
                ("expected.yaml", CM),
            ],
        );
        let case = load(d.path(), &RendererRef::Builtin("yaml".into())).expect("load");
        assert_eq!(case.root, d.path());
        assert_eq!(case.spec.path, "overlay");
        assert_eq!(
            case.spec.params,
            [
                ("a".to_string(), "1".to_string()),
                ("b".into(), "two".into())
            ]
        );
        assert_eq!(
            discover(d.path()).expect("one case"),
            [d.path().to_path_buf()]
        );
    }
}
