//! A plugin that misbehaves on request, for the host's sandbox tests.
//! Parameter `mode` picks the misbehaviour; `ok` renders one ConfigMap.

use sluice_plugin_sdk::{
    PluginInfo, RenderError, RenderOutput, RenderRequest, Renderer, SourceTree, diag, params::spec,
};

struct Hostile;

fn fail(msg: String) -> Result<RenderOutput, RenderError> {
    Err(diag::fail(msg, None))
}

fn one(json: String) -> Result<RenderOutput, RenderError> {
    Ok(RenderOutput {
        objects: vec![sluice_plugin_sdk::RenderedObject {
            json,
            origin: None,
            sensitive_paths: Vec::new(),
        }],
        results: vec![],
    })
}

impl Renderer for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            params: vec![
                spec("mode", "which misbehaviour", Some("ok")),
                spec("arg", "argument for the mode", None),
            ],
            ..sluice_plugin_sdk::info("test-hostile", "0.1.0", "misbehaves for tests")
        }
    }

    fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
        let get = |n: &str| {
            req.params
                .iter()
                .rev()
                .find(|p| p.name == n)
                .map(|p| p.value.clone())
        };
        let mode = get("mode").unwrap_or_else(|| "ok".into());
        let arg = get("arg").unwrap_or_default();
        match mode.as_str() {
            "ok" => one(format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{}"}}}}"#,
                req.context.app_name
            )),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "big-output" => {
                let mb: usize = arg.parse().unwrap_or(2);
                let data = "x".repeat(mb << 20);
                one(format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"x":"{data}"}}}}"#
                ))
            }
            "bad-json" => one("{not json".into()),
            "panic" => panic!("deliberate panic"),
            "open-file" => match std::fs::read_to_string(&arg) {
                Ok(s) => fail(format!("opened {arg}: {} bytes", s.len())),
                Err(e) => fail(format!("open {arg} refused: {e}")),
            },
            "env" => fail(format!(
                "env: {} variables, {} arguments",
                std::env::vars().count(),
                std::env::args().count()
            )),
            "stdin" => {
                let mut s = String::new();
                let n = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s);
                fail(format!("stdin: {n:?}"))
            }
            "socket" => match std::net::TcpStream::connect(arg.as_str()) {
                Ok(_) => fail(format!("connected to {arg}")),
                Err(e) => fail(format!("connect {arg} refused: {e}")),
            },
            "tree-read" => match tree.read(&arg) {
                Ok(b) => fail(format!("read {arg}: {} bytes", b.len())),
                Err(e) => fail(format!(
                    "tree read refused: {}",
                    sluice_plugin_sdk::tree_error_message(&e)
                )),
            },
            "print" => {
                let mb: usize = arg.parse().unwrap_or(1);
                let line = "y".repeat(1023);
                for _ in 0..(mb * 1024) {
                    println!("{line}");
                    eprintln!("{line}");
                }
                one(
                    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"printed"}}"#
                        .into(),
                )
            }
            "sleep" => {
                // Sleep `arg` seconds (a WASI clock wait, `subscribe-duration`
                // then `poll`), then render normally.
                let secs: u64 = arg.parse().unwrap_or(40);
                std::thread::sleep(std::time::Duration::from_secs(secs));
                one(format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"slept-{secs}"}}}}"#
                ))
            }
            "busy-wait" => {
                // Spin on the monotonic clock until `arg` ms have passed.
                let ms: u64 = arg.parse().unwrap_or(100);
                let start = std::time::Instant::now();
                let mut reads: u64 = 0;
                while start.elapsed() < std::time::Duration::from_millis(ms) {
                    reads += 1;
                }
                one(format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"waited"}},"data":{{"reads":"{reads}"}}}}"#
                ))
            }
            "entropy" => {
                // Report what the plugin sees of time and chance.
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
                    .unwrap_or_else(|e| format!("before the epoch: {e}"));
                let start = std::time::Instant::now();
                std::thread::sleep(std::time::Duration::from_secs(2));
                let slept = start.elapsed().as_nanos();
                let mut random = [0u8; 16];
                if let Err(e) = getrandom::fill(&mut random) {
                    return fail(format!("getrandom: {e}"));
                }
                let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
                let hash = std::hash::BuildHasher::hash_one(
                    &std::collections::hash_map::RandomState::new(),
                    "sluice",
                );
                let data = serde_json::json!({
                    "wall": wall, "slept": slept.to_string(),
                    "random": random, "hash": hash.to_string(),
                });
                one(serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": req.context.app_name}, "data": data,
                })
                .to_string())
            }
            "ansi" => {
                // Terminal escape sequences in every channel the host shows.
                let evil = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{9b}0m";
                println!("stdout {evil}");
                eprintln!("stderr {evil}");
                sluice_plugin_sdk::bindings::sluice::plugin::log::log(
                    sluice_plugin_sdk::Level::Warn,
                    &format!("log {evil}"),
                );
                let mut out = one(
                    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ansi"}}"#.into(),
                )?;
                out.results
                    .push(diag::warning(format!("diagnostic {evil}")));
                if arg == "fail" {
                    return fail(format!("failure {evil}"));
                }
                Ok(out)
            }
            other => fail(format!("unknown mode {other}")),
        }
    }
}

sluice_plugin_sdk::export_renderer!(Hostile);
