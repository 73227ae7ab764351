//! The terraform-plan renderer on a plan of 1,000 resources (500
//! ConfigMaps, 250 Deployments, 250 Services as typed `kubernetes_*`
//! resources; 2.6 MB of plan JSON made by OpenTofu,
//! tests/terraform/fixtures/bench.tfplan.json):
//! - `terraform_plan_1000/plugin`: the plugin call alone (fresh instance,
//!   reading the plan through the tree, converting, returning JSON);
//!   target: under 100 ms;
//! - `terraform_plan_1000/render`: the whole render, with the host parsing
//!   and checking the 1,000 objects it returns.
//!
//! Run: `cargo bench -p sluice --bench terraform`; the figures are printed
//! at the end.

use criterion::{Criterion, criterion_group};
use sluice::plugin::{Context, Limits, Param, RenderRequest, Runtime};
use sluice::render::{RenderSpec, RendererRef, Renderers};
use sluice::source::{DirTree, Tree};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(c: &mut Criterion, name: &str, f: &mut dyn FnMut()) -> Duration {
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

/// This thread's CPU time so far (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn benches(c: &mut Criterion) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/terraform/fixtures");
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime =
        Runtime::new(Limits::default(), Some(cache.path().to_path_buf())).expect("runtime");
    let renderers = Renderers::new(runtime);
    let tree: Arc<dyn Tree> = Arc::new(DirTree::new(&fixtures).expect("tree"));
    let plugin = renderers
        .builtin("terraform-plan")
        .expect("built in")
        .expect("loads");
    let params = vec![("files".to_string(), "bench.tfplan.json".to_string())];
    let request = RenderRequest {
        path: String::new(),
        params: params
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        params_json: None,
        context: Context {
            app_name: "bench".into(),
            destination_namespace: String::new(),
            revision: String::new(),
            repo_url: String::new(),
            cluster_version: String::new(),
            api_versions: Vec::new(),
        },
    };
    let spec = RenderSpec {
        app: "bench".into(),
        path: String::new(),
        renderer: RendererRef::Builtin("terraform-plan".into()),
        params,
        params_json: None,
        namespace: String::new(),
        revision: String::new(),
        repo_url: String::new(),
    };

    let mut plugin_call = || {
        let out = plugin
            .render(tree.clone(), &request)
            .expect("no trap")
            .expect("renders");
        assert_eq!(out.objects.len(), 1000);
    };
    plugin_call();
    let plugin_time = median(c, "terraform_plan_1000/plugin", &mut plugin_call);
    let render_time = median(c, "terraform_plan_1000/render", &mut || {
        let out = renderers.render(tree.clone(), &spec).expect("renders");
        assert_eq!(out.objects.len(), 1000);
    });
    // CPU time of the plugin call on this thread, which a busy machine
    // (other processes on the same cores) inflates less than wall time.
    let mut cpu = Vec::new();
    for _ in 0..20 {
        let start = thread_cpu();
        plugin_call();
        if let (Some(a), Some(b)) = (start, thread_cpu()) {
            cpu.push(b.saturating_sub(a));
        }
    }
    cpu.sort();
    let cpu_median = cpu.get(cpu.len() / 2).copied().unwrap_or_default();
    let size = std::fs::metadata(fixtures.join("bench.tfplan.json"))
        .map(|m| m.len())
        .unwrap_or_default();
    println!("\n== sluice terraform-plan benchmark summary");
    println!(
        "plan of 1,000 resources ({:.1} MB): plugin {plugin_time:?} wall, {cpu_median:?} CPU (target < 100 ms); whole render {render_time:?}",
        size as f64 / 1e6
    );
}

criterion_group! {
    name = terraform;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = benches
}

fn main() {
    terraform();
    Criterion::default().configure_from_args().final_summary();
}
