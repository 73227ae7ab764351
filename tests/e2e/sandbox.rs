//! Hostile plugins: each misbehaviour is refused with a clear error, and a
//! normal render right after it still succeeds in the same process.

use crate::common::text;
use sluice::plugin::{Limits, PluginError, Runtime};
use sluice::render::{RenderError, RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(3);
const HOSTILE: &str = env!("SLUICE_TEST_PLUGIN_HOSTILE");

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
        // A FIFO: opening it to read blocks until someone writes.
        let mkfifo = std::process::Command::new("mkfifo")
            .arg(repo.path().join("fifo"))
            .status()
            .expect("run mkfifo");
        assert!(mkfifo.success(), "mkfifo failed");
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

fn spec(plugin: &Path, mode: &str, arg: &str, revision: &str) -> RenderSpec {
    RenderSpec {
        app: "hostile".into(),
        path: String::new(),
        renderer: RendererRef::File {
            path: plugin.to_path_buf(),
            sha256: None,
        },
        params: vec![("mode".into(), mode.into()), ("arg".into(), arg.into())],
        params_json: None,
        namespace: String::new(),
        revision: revision.into(),
        repo_url: String::new(),
    }
}

fn hostile(mode: &str, arg: &str) -> Result<sluice::render::Rendered, RenderError> {
    hostile_at(mode, arg, "")
}

fn hostile_at(
    mode: &str,
    arg: &str,
    revision: &str,
) -> Result<sluice::render::Rendered, RenderError> {
    let f = fixture();
    f.renderers.render(
        f.tree.clone(),
        &spec(Path::new(HOSTILE), mode, arg, revision),
    )
}

/// The plugin error of a failed render, and how long the render took.
fn plugin_error(
    run: impl FnOnce() -> Result<sluice::render::Rendered, RenderError>,
) -> (PluginError, String, Duration) {
    let start = Instant::now();
    let r = run();
    let took = start.elapsed();
    match r {
        Err(e @ RenderError::Plugin { .. }) => {
            let msg = sluice::error_chain(&e);
            let RenderError::Plugin { source, .. } = e else {
                unreachable!()
            };
            (source, msg, took)
        }
        other => panic!("expected the plugin to be stopped, got {other:?}"),
    }
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
    let msg = sluice::error_chain(&hostile("loop", "").expect_err("times out"));
    assert!(msg.contains("timed out after 3s"), "{msg}");
    still_works();
}

#[test]
fn sleeping_past_the_limit_times_out_at_once() {
    // A 40 s `std::thread::sleep` (a WASI clock wait) under a 3 s limit:
    // the virtual clock's wait would end past the limit, so the call ends
    // with the timeout error as soon as the guest blocks, not after 40 s.
    let (err, msg, took) = plugin_error(|| hostile("sleep", "40"));
    assert!(
        matches!(err, PluginError::Timeout { limit, .. } if limit == TIMEOUT),
        "{err:?}"
    );
    assert_eq!(
        msg,
        "app hostile: plugin sluice_plugin_test_hostile: timed out after 3s (raise the limit with --plugin-timeout)"
    );
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    still_works();
}

#[test]
fn sleeping_within_the_limit_is_virtual_and_succeeds() {
    let start = Instant::now();
    let out = hostile("sleep", "2").expect("a 2 s sleep under a 3 s limit is fine");
    assert_eq!(out.objects[0].id.name, "slept-2");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the sleep is virtual: {:?}",
        start.elapsed()
    );
}

/// A tree whose read of `hang` blocks until the test opens the gate, like a
/// file on a network file system whose server is gone. It keeps the
/// default `may_hang`, so the host reads it off the plugin's thread.
struct HangingTree {
    inner: Arc<dyn Tree>,
    gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Tree for HangingTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, sluice::source::TreeError> {
        if path == "hang" {
            let (open, cv) = &*self.gate;
            let mut g = open.lock().expect("gate");
            while !*g {
                g = cv.wait(g).expect("gate");
            }
        }
        self.inner.read(path)
    }
    fn list(&self, path: &str) -> Result<Vec<sluice::source::Entry>, sluice::source::TreeError> {
        self.inner.list(path)
    }
    fn stat(&self, path: &str) -> Result<sluice::source::Entry, sluice::source::TreeError> {
        self.inner.stat(path)
    }
    fn describe(&self) -> String {
        "a hanging tree".into()
    }
}

#[test]
fn blocking_in_a_host_call_times_out_within_the_limit() {
    let f = fixture();
    let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let tree: Arc<dyn Tree> = Arc::new(HangingTree {
        inner: f.tree.clone(),
        gate: gate.clone(),
    });
    assert!(tree.may_hang());
    let (err, msg, took) = plugin_error(|| {
        f.renderers
            .render(tree, &spec(Path::new(HOSTILE), "tree-read", "hang", ""))
    });
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    assert!(
        msg.ends_with("timed out after 3s (raise the limit with --plugin-timeout)"),
        "{msg}"
    );
    assert!(took >= TIMEOUT, "stopped before the limit: {took:?}");
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    // The calling thread is free: it renders again right away.
    still_works();
    // Release the pool thread still blocked in the read.
    let (open, cv) = &*gate;
    *open.lock().expect("gate") = true;
    cv.notify_all();
}

#[test]
fn a_fifo_in_a_local_directory_is_refused_at_once() {
    // Opening a FIFO with no writer would block; the directory tree, read on
    // the plugin's own thread when it is on a local disk, refuses it.
    let start = Instant::now();
    let msg = failed_message(hostile("tree-read", "fifo"));
    assert_eq!(
        msg,
        "tree read refused: unsupported: fifo: not a regular file (a FIFO, socket or device); only files and directories are read"
    );
    assert!(start.elapsed() < TIMEOUT, "took {:?}", start.elapsed());
    still_works();
}

#[test]
fn clocks_and_random_are_fixed_per_app_and_revision() {
    let entropy = |revision: &str| {
        let out = hostile_at("entropy", "", revision).expect("entropy renders");
        out.objects[0].value["data"].clone()
    };
    let start = Instant::now();
    let a = entropy("1111111");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "its 2 s sleep is virtual"
    );
    assert_eq!(a, entropy("1111111"), "two renders of one revision differ");
    assert_eq!(a["wall"], "0.000000000", "the wall clock is Unix time 0");
    let slept: u64 = a["slept"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("slept");
    assert!(
        (2_000_000_000..2_001_000_000).contains(&slept),
        "a 2 s sleep moves the virtual clock by 2 s: {slept}"
    );
    let b = entropy("2222222");
    assert_ne!(
        a["random"], b["random"],
        "another revision gets other random bytes"
    );
    assert_eq!(a["wall"], b["wall"]);
    // A busy-wait on the monotonic clock ends, after as many reads every time.
    let reads = || {
        hostile("busy-wait", "50").expect("busy-wait ends").objects[0].value["data"]["reads"]
            .clone()
    };
    assert_eq!(reads(), reads());
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
    let (err, msg, _) = plugin_error(|| hostile("big-output", "2"));
    assert!(
        matches!(err, PluginError::OutputTooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(
        msg.ends_with("returned more than the output limit of 1048576 bytes (objects, diagnostics and messages together; raise it with --plugin-output)"),
        "{msg}"
    );
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
    let msg = sluice::error_chain(&err);
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
        sluice::error_chain(&err).contains("returned a bad object: object 0: not valid JSON"),
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
        sluice::error_chain(&err).contains("was required; refusing to run it"),
        "{err}"
    );
}

/// WAT `data` string of little-endian u32s.
fn le(words: &[u32]) -> String {
    words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("\\{b:02x}"))
        .collect()
}

/// A renderer component made from a hand-written core module (`body` adds
/// its own memories, data and the `render` function) by wit-component,
/// written to a file. `describe()` returns the record at address 256;
/// `cabi_realloc` is a bump allocator from 4096.
fn component(name: &str, body: &str) -> PathBuf {
    let wat = format!(
        r#"(module
  (global $heap (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "describe") (result i32) (i32.const 256))
  {body}
)"#
    );
    let mut module = wat::parse_str(&wat).expect("valid WAT");
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_path(crate::common::repo_root().join("wit"))
        .expect("wit/");
    let world = resolve
        .select_world(&[pkg], Some("renderer"))
        .expect("renderer world");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed");
    let bytes = wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("encode");
    let dir = std::env::temp_dir().join(format!("sluice-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).expect("write");
    path
}

/// `describe()` data: name at 0, version "0.1.0" at 16, description at 32,
/// and the record at 256 with `detect` given as (pointer, count).
fn describe_data(name: &str, detect: (u32, u32)) -> String {
    let n = u32::try_from(name.len()).expect("short");
    format!(
        r#"(data (i32.const 0) "{name}") (data (i32.const 16) "0.1.0") (data (i32.const 32) "test")
  (data (i32.const 256) "{}")"#,
        le(&[0, n, 16, 5, 32, 4, 0, 0, detect.0, detect.1])
    )
}

#[test]
fn several_memories_share_one_cap() {
    // Three memories; `render` grows each by 30 MiB. Each stays under the
    // 64 MiB cap, their sum does not: the third growth is refused and the
    // guest traps on it.
    let json = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"multi"}}"#;
    let body = format!(
        r#"(memory (export "memory") 2) (memory $m1 1) (memory $m2 1)
  {}
  (data (i32.const 64) "{}")
  (data (i32.const 320) "{}")
  (data (i32.const 352) "{}")
  (func (export "render") (param i32) (result i32)
    (if (i32.eq (memory.grow $m1 (i32.const 480)) (i32.const -1)) (then unreachable))
    (if (i32.eq (memory.grow $m2 (i32.const 480)) (i32.const -1)) (then unreachable))
    (if (i32.eq (memory.grow 0 (i32.const 480)) (i32.const -1)) (then unreachable))
    (i32.const 352))"#,
        describe_data("multi-memory", (0, 0)),
        json.replace('"', "\\\""),
        // rendered-object: json (64, len), origin: none
        le(&[64, u32::try_from(json.len()).expect("short"), 0, 0, 0, 0]),
        // result: ok, objects (320, 1), results (0, 0)
        le(&[0, 320, 1, 0, 0]),
    );
    let plugin = component("multi-memory", &body);
    let f = fixture();
    let start = Instant::now();
    let r = f
        .renderers
        .render(f.tree.clone(), &spec(&plugin, "", "", ""));
    let (err, msg, _) = plugin_error(|| r);
    assert!(
        matches!(err, PluginError::Memory { limit: 64, .. }),
        "{err:?}"
    );
    assert_eq!(
        msg,
        "app hostile: plugin multi-memory: exceeded its memory limit of 64 MiB (all its memories and tables together; raise it with --plugin-memory)"
    );
    assert!(start.elapsed() < TIMEOUT, "{:?}", start.elapsed());
    still_works();
}

#[test]
fn a_huge_describe_is_stopped_while_it_is_copied() {
    // `detect` lists 64 strings that all point at the same 1 MiB: 64 MiB
    // to copy out of a guest of about 1 MiB, against a 1 MiB output cap.
    let entries: Vec<u32> = (0..64).flat_map(|_| [65536, 1 << 20]).collect();
    let body = format!(
        r#"(memory (export "memory") 17)
  {}
  (data (i32.const 1024) "{}")
  (func (export "render") (param i32) (result i32) unreachable)"#,
        describe_data("huge-describe", (1024, 64)),
        le(&entries),
    );
    let plugin = component("huge-describe", &body);
    let f = fixture();
    let start = Instant::now();
    let r = f
        .renderers
        .render(f.tree.clone(), &spec(&plugin, "", "", ""));
    let (err, msg, _) = plugin_error(|| r);
    assert!(
        matches!(err, PluginError::OutputTooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(
        msg,
        "app hostile: plugin huge-describe: returned more than the output limit of 1048576 bytes (objects, diagnostics and messages together; raise it with --plugin-output)"
    );
    assert!(start.elapsed() < TIMEOUT, "{:?}", start.elapsed());
    still_works();
}

#[test]
fn terminal_control_characters_from_a_plugin_are_printed_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |arg: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "render",
                "--renderer",
                HOSTILE,
                "-p",
                "mode=ansi",
                "--log",
                "info",
            ])
            .arg(dir.path())
            .arg("-p")
            .arg(format!("arg={arg}"))
            // sluice's own log lines are not coloured then: any escape
            // left in the output came from the plugin.
            .env("NO_COLOR", "1")
            .output()
            .expect("run sluice")
    };
    let escaped = r"\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u{9b}0m";
    let out = run("");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{9b}'),
        "raw escapes: {stderr:?}"
    );
    for line in [
        format!("warning: diagnostic {escaped}"),
        format!("stdout {escaped}"),
        format!("stderr {escaped}"),
        format!("warn: log {escaped}"),
    ] {
        assert!(stderr.contains(&line), "{line:?} missing from {stderr:?}");
    }
    let out = run("fail");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains('\u{1b}'), "raw escapes: {stderr:?}");
    assert!(stderr.contains(&format!("failure {escaped}")), "{stderr:?}");
}
