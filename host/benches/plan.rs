//! Sync plan benchmark (criterion): `sync::plan::plan` for 10,000 objects
//! in 50 waves (a mix of kinds, custom resources with their CRDs, some
//! hooks), and `prune_order` for the same objects. Target: plan under
//! 20 ms median.
//!
//! Run: `cargo bench -p sluice --bench plan`; the medians are printed at
//! the end.

use criterion::{Criterion, criterion_group};
use serde_json::json;
use sluice::object::{Object, from_value};
use sluice::sync::plan::{plan, prune_order};
use std::time::{Duration, Instant};

const KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("networking.k8s.io/v1", "Ingress"),
    ("example.com/v1", "Widget"),
];

/// 10,000 objects over 10 namespaces and 50 waves (-10..40); every 100th
/// a PreSync hook Job; one CRD for the custom resources.
fn objects() -> Vec<Object> {
    let mut out = Vec::with_capacity(10_000);
    out.push(
        from_value(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com",
                    "annotations": {"sluice.dev/sync-wave": "-10"}},
                "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}}),
            None,
            0,
        )
        .expect("valid"),
    );
    for i in 1..10_000usize {
        let (api, kind) = KINDS[i % KINDS.len()];
        let mut annotations = json!({
            "argocd.argoproj.io/sync-wave": ((i * 7919) % 50) as i64 - 10,
            "team": "platform",
        });
        let (api, kind) = if i % 100 == 0 {
            annotations["argocd.argoproj.io/hook"] = json!("PreSync");
            annotations["argocd.argoproj.io/hook-delete-policy"] = json!("HookSucceeded");
            ("batch/v1", "Job")
        } else {
            (api, kind)
        };
        let v = json!({
            "apiVersion": api, "kind": kind,
            "metadata": {"name": format!("obj-{i:05}"), "namespace": format!("ns-{}", i % 10),
                "labels": {"app": format!("app-{}", i % 97)}, "annotations": annotations},
            "spec": {"replicas": 3},
        });
        out.push(from_value(v, None, i).expect("valid"));
    }
    // Rendered order is not sorted.
    out.reverse();
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn benches(c: &mut Criterion) {
    let objs = objects();
    let p = plan(&objs).expect("plan");
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| s.phase == sluice::sync::plan::Phase::Sync)
            .count(),
        50
    );
    let mut g = c.benchmark_group("plan");
    g.sample_size(30);
    g.bench_function("10k_objects_50_waves", |b| {
        b.iter(|| plan(std::hint::black_box(&objs)).expect("plan"))
    });
    g.bench_function("prune_order_10k", |b| {
        b.iter(|| prune_order(std::hint::black_box(&objs)).expect("prune"))
    });
    g.finish();
}

criterion_group!(plan_benches, benches);

fn main() {
    plan_benches();
    Criterion::default().configure_from_args().final_summary();
    // Our own medians, printed plainly against the target.
    let objs = objects();
    let time = |f: &dyn Fn()| {
        let runs: Vec<Duration> = (0..31)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        median(runs)
    };
    let plan_median = time(&|| {
        plan(&objs).expect("plan");
    });
    let prune_median = time(&|| {
        prune_order(&objs).expect("prune");
    });
    println!(
        "plan: 10,000 objects in 50 waves: median {:.2} ms (target < 20 ms: {})",
        plan_median.as_secs_f64() * 1e3,
        if plan_median < Duration::from_millis(20) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "prune_order: 10,000 objects: median {:.2} ms",
        prune_median.as_secs_f64() * 1e3
    );
}
