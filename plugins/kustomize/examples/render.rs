//! Render a kustomization natively (outside Wasm), for debugging and for
//! timing the plugin logic alone:
//! `cargo run --release --example render -- REPO_ROOT APP_PATH [name=value...]`

use sluice_plugin_sdk::testing::{DirTree, request};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: render REPO_ROOT APP_PATH [name=value...]");
        std::process::exit(2);
    }
    let params: Vec<(&str, &str)> = args[3..].iter().filter_map(|p| p.split_once('=')).collect();
    let t = std::time::Instant::now();
    match sluice_plugin_kustomize::render(&DirTree::new(&args[1]), &request(&args[2], &params)) {
        Ok(out) => {
            let values: Vec<serde_json::Value> = out
                .objects
                .iter()
                .map(|o| serde_json::from_str(&o.json).expect("plugin emits JSON"))
                .collect();
            print!("{}", sluice_plugin_sdk::yaml::to_yaml_stream(&values));
            eprintln!(
                "{} objects in {:.3}s",
                values.len(),
                t.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::exit(1);
        }
    }
}
