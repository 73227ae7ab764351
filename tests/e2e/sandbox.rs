//! Hostile plugins: each misbehaviour is refused with a clear error, and a
//! normal render right after it still succeeds in the same process.

use sluice::plugin::{Limits, PluginError, Runtime};
use sluice::render::{RenderError, RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(2);

struct Fixture {
    renderers: Renderers,
    tree: Arc<dyn Tree>,
    _repo: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            repo.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .expect("write");
        std::os::unix::fs::symlink("/etc/passwd", repo.path().join("link")).expect("symlink");
        let cache = tempfile::tempdir().expect("tempdir");
        let limits = Limits {
            memory: 64 << 20,
            timeout: TIMEOUT,
            output: 1 << 20,
            ..Limits::default()
        };
        let runtime = Runtime::new(limits, Some(cache.path().to_path_buf())).expect("runtime");
        let tree: Arc<dyn Tree> = Arc::new(DirTree::new(repo.path()).expect("tree"));
        Fixture {
            renderers: Renderers::new(runtime),
            tree,
            _repo: repo,
            _cache: cache,
        }
    })
}

fn hostile(mode: &str, arg: &str) -> Result<sluice::render::Rendered, RenderError> {
    let f = fixture();
    let spec = RenderSpec {
        app: "hostile".into(),
        path: String::new(),
        renderer: RendererRef::File {
            path: env!("SLUICE_TEST_PLUGIN_HOSTILE").into(),
            sha256: None,
        },
        params: vec![("mode".into(), mode.into()), ("arg".into(), arg.into())],
        params_json: None,
        namespace: String::new(),
        revision: String::new(),
        repo_url: String::new(),
    };
    f.renderers.render(f.tree.clone(), &spec)
}

/// After every hostile call, the same process still renders normally.
fn still_works() {
    let out = hostile("ok", "").expect("a normal render succeeds after a hostile one");
    assert_eq!(out.objects.len(), 1);
    assert_eq!(out.objects[0].id.name, "hostile");
}

fn failed_message(r: Result<sluice::render::Rendered, RenderError>) -> String {
    match r {
        Err(RenderError::Failed { message, .. }) => message,
        other => panic!("expected the plugin to report a failure, got {other:?}"),
    }
}

#[test]
fn infinite_loop_times_out_within_the_limit_plus_one_second() {
    let start = Instant::now();
    let r = hostile("loop", "");
    let took = start.elapsed();
    match r {
        Err(RenderError::Plugin {
            source: PluginError::Timeout { plugin, limit },
            ..
        }) => {
            assert_eq!(plugin, "sluice_plugin_test_hostile");
            assert_eq!(limit, TIMEOUT);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    assert!(took >= TIMEOUT, "stopped before the limit: {took:?}");
    let msg = hostile("loop", "").expect_err("times out").to_string();
    assert!(msg.contains("timed out after 2s"), "{msg}");
    still_works();
}

#[test]
fn allocating_past_the_memory_cap_fails_with_out_of_memory() {
    match hostile("alloc", "") {
        Err(RenderError::Plugin {
            source: PluginError::Memory { limit, .. },
            ..
        }) => assert_eq!(limit, 64),
        other => panic!("expected a memory error, got {other:?}"),
    }
    still_works();
}

#[test]
fn output_past_the_cap_is_refused() {
    match hostile("big-output", "2") {
        Err(RenderError::Plugin {
            source: PluginError::OutputTooLarge { size, limit, .. },
            ..
        }) => {
            assert!(size > 2 << 20, "{size}");
            assert_eq!(limit, 1 << 20);
        }
        other => panic!("expected an output error, got {other:?}"),
    }
    still_works();
}

#[test]
fn opening_a_host_file_is_refused() {
    let msg = failed_message(hostile("open-file", "/etc/passwd"));
    assert!(msg.starts_with("open /etc/passwd refused:"), "{msg}");
    assert!(!msg.contains("root:"), "{msg}");
    still_works();
}

#[test]
fn environment_and_arguments_are_empty() {
    assert_eq!(
        failed_message(hostile("env", "")),
        "env: 0 variables, 0 arguments"
    );
    assert_eq!(failed_message(hostile("stdin", "")), "stdin: Ok(0)");
    still_works();
}

#[test]
fn sockets_are_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let msg = failed_message(hostile("socket", &addr));
    assert!(
        msg.starts_with(&format!("connect {addr} refused:")),
        "{msg}"
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the plugin reached the listener: {other:?}"),
    }
    still_works();
}

#[test]
fn tree_paths_leaving_the_root_are_refused() {
    for (path, shown) in [
        ("../../etc/passwd", "../../etc/passwd"),
        ("/etc/passwd", "/etc/passwd"),
        ("link", "link"),
    ] {
        let msg = failed_message(hostile("tree-read", path));
        assert_eq!(
            msg,
            format!("tree read refused: {shown}: path leaves the repository root")
        );
    }
    still_works();
}

#[test]
fn a_panic_is_a_crash_named_after_the_plugin() {
    let err = hostile("panic", "").expect_err("crashes");
    assert!(
        matches!(
            err,
            RenderError::Plugin {
                source: PluginError::Trap { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("app hostile: plugin sluice_plugin_test_hostile: crashed"),
        "{msg}"
    );
    assert!(
        msg.contains("deliberate panic"),
        "stderr should be in the message: {msg}"
    );
    still_works();
}

#[test]
fn malformed_json_is_a_bad_object() {
    let err = hostile("bad-json", "").expect_err("bad json");
    assert!(
        err.to_string()
            .contains("returned a bad object: object 0: not valid JSON"),
        "{err}"
    );
    still_works();
}

#[test]
fn printing_a_lot_is_captured_not_fatal() {
    let out = hostile("print", "2").expect("printing is fine");
    assert_eq!(out.objects[0].id.name, "printed");
    still_works();
}

#[test]
fn wrong_sha256_is_refused() {
    let f = fixture();
    let spec = RenderSpec {
        app: "pinned".into(),
        path: String::new(),
        renderer: RendererRef::File {
            path: env!("SLUICE_TEST_PLUGIN_HOSTILE").into(),
            sha256: Some("00".repeat(32)),
        },
        params: vec![],
        params_json: None,
        namespace: String::new(),
        revision: String::new(),
        repo_url: String::new(),
    };
    let err = f
        .renderers
        .render(f.tree.clone(), &spec)
        .expect_err("digest mismatch");
    assert!(
        err.to_string().contains("was required; refusing to run it"),
        "{err}"
    );
}
