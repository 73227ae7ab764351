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
            other => fail(format!("unknown mode {other}")),
        }
    }
}

sluice_plugin_sdk::export_renderer!(Hostile);
