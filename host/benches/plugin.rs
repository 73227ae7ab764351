//! Plugin runtime benchmarks (criterion):
//! - `instantiate_render_one`: a fresh instance + render of one object, warm
//!   `InstancePre` (target: under 100 µs median);
//! - `load/cached` vs `load/compile`: loading a plugin from the compiled
//!   cache vs compiling it;
//! - `yaml_10k/wasm` vs `yaml_10k/native`: the yaml plugin on 10,000 objects
//!   (7.8 MB) vs parsing the same files natively in Rust (target: under
//!   1.5x).
//!
//! Run: `cargo bench -p sluice --bench plugin`; the ratios are printed at the
//! end.

use criterion::{Criterion, criterion_group};
use serde::Deserialize;
use sluice::plugin::{Limits, Runtime, builtin};
use sluice::render::{RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec(path: &str) -> RenderSpec {
    RenderSpec {
        app: "bench".into(),
        path: path.into(),
        renderer: RendererRef::Builtin("yaml".into()),
        params: vec![],
        params_json: None,
        namespace: String::new(),
        revision: String::new(),
        repo_url: String::new(),
    }
}

fn big_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = std::fs::create_dir(dir.path().join("one"));
    one.expect("mkdir");
    std::fs::write(
        dir.path().join("one/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: b}\n",
    )
    .expect("write");
    std::fs::create_dir(dir.path().join("big")).expect("mkdir");
    for f in 0..100 {
        let mut text = String::new();
        for o in 0..100 {
            text.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{f}-{o}\n  namespace: ns-{}\n  labels: {{app: app-{f}-{o}, tier: backend, team: platform}}\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {{app: app-{f}-{o}}}\n  template:\n    metadata:\n      labels: {{app: app-{f}-{o}}}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/app-{f}:v1.{o}.0\n        args: [\"--port=8080\", \"--log-level=info\"]\n        ports:\n        - {{containerPort: 8080, name: http}}\n        env:\n        - {{name: MODE, value: production}}\n        - {{name: REGION, value: eu-west-1}}\n        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n          limits: {{cpu: 500m, memory: 256Mi}}\n        readinessProbe:\n          httpGet: {{path: /healthz, port: http}}\n          periodSeconds: 10\n",
                f % 10
            ));
        }
        std::fs::write(dir.path().join(format!("big/f{f:03}.yaml")), text).expect("write");
    }
    dir
}

/// What the plugin does, natively: list, read, parse every document, check
/// it, serialise it to JSON.
fn native_parse(root: &std::path::Path) -> usize {
    let mut names: Vec<_> = std::fs::read_dir(root)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let mut n = 0;
    for p in names {
        let bytes = std::fs::read(&p).expect("read");
        for doc in serde_norway::Deserializer::from_slice(&bytes) {
            let v = serde_json::Value::deserialize(doc).expect("yaml");
            if v.is_null() {
                continue;
            }
            assert!(v.get("apiVersion").is_some() && v.get("kind").is_some());
            let json = v.to_string();
            let back: serde_json::Value = serde_json::from_str(&json).expect("json");
            n += usize::from(back.is_object());
        }
    }
    n
}

fn median(c: &mut Criterion, name: &str, f: &mut dyn FnMut()) -> Duration {
    // Criterion reports its own statistics; this keeps a median for the ratio
    // lines printed at the end.
    let mut samples = Vec::new();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            let took = start.elapsed();
            samples.push(took / u32::try_from(iters.max(1)).unwrap_or(u32::MAX));
            took
        })
    });
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let repo = big_repo();
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime =
        Runtime::new(Limits::default(), Some(cache.path().to_path_buf())).expect("runtime");
    let renderers = Renderers::new(runtime);
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(repo.path()).expect("tree"));
    let mut report = Vec::new();

    // 1. Fresh instance + render of one object, warm InstancePre.
    renderers
        .render(tree.clone(), &spec("one"))
        .expect("warm-up render");
    let one = median(c, "instantiate_render_one", &mut || {
        let out = renderers
            .render(tree.clone(), &spec("one"))
            .expect("render");
        assert_eq!(out.objects.len(), 1);
    });
    report.push(format!(
        "instantiate+render one object: median {one:?} (target < 100µs)"
    ));

    // 2. Cached precompiled load vs compile.
    let yaml = builtin::get("yaml").expect("yaml built-in");
    let cached_rt =
        Runtime::new(Limits::default(), Some(cache.path().to_path_buf())).expect("runtime");
    cached_rt.load_builtin(yaml).expect("fill cache");
    let nocache_rt = Runtime::new(Limits::default(), None).expect("runtime");
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    drop(group);
    let cached = median(c, "load/cached", &mut || {
        cached_rt.load_builtin(yaml).expect("load");
    });
    let compile = median(c, "load/compile", &mut || {
        nocache_rt.load_builtin(yaml).expect("load");
    });
    report.push(format!(
        "load yaml plugin: cached {cached:?}, compile {compile:?}: cached is {:.1}x faster",
        compile.as_secs_f64() / cached.as_secs_f64()
    ));

    // 3. 10,000 objects through the plugin vs natively.
    let wasm = median(c, "yaml_10k/wasm", &mut || {
        let out = renderers
            .render(tree.clone(), &spec("big"))
            .expect("render");
        assert_eq!(out.objects.len(), 10_000);
    });
    let big = repo.path().join("big");
    let native = median(c, "yaml_10k/native", &mut || {
        assert_eq!(native_parse(&big), 10_000);
    });
    let size: u64 = std::fs::read_dir(&big)
        .expect("dir")
        .map(|e| e.expect("e").metadata().expect("md").len())
        .sum();
    report.push(format!(
        "yaml plugin on 10,000 objects ({:.1} MB): wasm {wasm:?}, native {native:?}: overhead {:.2}x (target < 1.5x)",
        size as f64 / 1e6,
        wasm.as_secs_f64() / native.as_secs_f64()
    ));

    println!("\n== sluice plugin benchmark summary");
    for line in report {
        println!("{line}");
    }
}

criterion_group! {
    name = plugin;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = benches
}

fn main() {
    plugin();
    Criterion::default().configure_from_args().final_summary();
}
