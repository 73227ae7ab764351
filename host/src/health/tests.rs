//! Health rules against recorded status documents in `testdata/`.
//!
//! Each fixture is named `<kind>-<status>[-<case>].yaml`; its first line is
//! `# message: <text>`, a substring the health message must contain (empty
//! text: any message).

use super::*;
use std::path::Path;

fn expected_status(word: &str) -> HealthStatus {
    match word {
        "healthy" => HealthStatus::Healthy,
        "progressing" => HealthStatus::Progressing,
        "degraded" => HealthStatus::Degraded,
        "suspended" => HealthStatus::Suspended,
        "missing" => HealthStatus::Missing,
        "unknown" => HealthStatus::Unknown,
        other => panic!("fixture status {other:?} is not a health status"),
    }
}

#[test]
fn recorded_status_documents() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/health/testdata");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut seen: std::collections::BTreeMap<String, Vec<HealthStatus>> = Default::default();
    for path in &entries {
        let file = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let mut parts = file.splitn(3, '-');
        let kind = parts.next().expect("kind").to_string();
        let want = expected_status(parts.next().expect("status in the file name"));
        let text = std::fs::read_to_string(path).expect("readable fixture");
        let message = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# message:"))
            .expect("first line is `# message: ...`")
            .trim();
        let value: Value = serde_norway::from_str(&text).expect("fixture is YAML");
        let got = assess(&value);
        if got.status != want || !got.message.contains(message) {
            failures.push(format!(
                "{file}: want {want} containing {message:?}, got {got}"
            ));
        }
        seen.entry(kind).or_default().push(want);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every built-in kind has a healthy and a progressing document, and
    // a degraded one when the rule can say Degraded.
    for kind in [
        "deployment",
        "statefulset",
        "daemonset",
        "replicaset",
        "pod",
        "job",
        "pvc",
        "service",
        "ingress",
        "apiservice",
        "crd",
        "namespace",
        "hpa",
        "widget",
    ] {
        let s = seen.get(kind).cloned().unwrap_or_default();
        assert!(
            s.contains(&HealthStatus::Healthy),
            "{kind}: no healthy fixture"
        );
        assert!(
            s.contains(&HealthStatus::Progressing),
            "{kind}: no progressing fixture"
        );
    }
    for kind in [
        "deployment",
        "replicaset",
        "pod",
        "job",
        "pvc",
        "crd",
        "hpa",
        "widget",
    ] {
        assert!(
            seen[kind].contains(&HealthStatus::Degraded),
            "{kind}: no degraded fixture"
        );
    }
    assert!(entries.len() >= 40, "{} fixtures", entries.len());
}

#[test]
fn no_status_is_healthy_and_worst_follows_argo_cd() {
    let cm =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert!(assess(&cm).is_healthy());
    let all = [
        Health::healthy(""),
        Health::new(HealthStatus::Suspended, ""),
        Health::progressing(""),
        Health::missing(),
    ];
    assert_eq!(worst(&all), HealthStatus::Missing);
    assert_eq!(worst(&all[..3]), HealthStatus::Progressing);
    assert_eq!(worst(&[]), HealthStatus::Healthy);
    assert_eq!(
        worst(&[
            Health::degraded("x"),
            Health::new(HealthStatus::Unknown, "")
        ]),
        HealthStatus::Unknown
    );
}

#[test]
fn a_fresh_deployment_is_progressing_until_observed() {
    // What the apiserver returns right after a create, with no controller.
    let d = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 1}, "status": {}});
    assert_eq!(assess(&d).status, HealthStatus::Progressing);
}

#[test]
fn hpa_v1_conditions_annotation() {
    let hpa = serde_json::json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {"autoscaling.alpha.kubernetes.io/conditions":
            "[{\"type\":\"AbleToScale\",\"status\":\"True\",\"reason\":\"SucceededRescale\",\"message\":\"the HPA controller was able to update the target scale to 3\"}]"}}});
    let h = assess(&hpa);
    assert_eq!(h.status, HealthStatus::Healthy, "{h}");
    let bad = serde_json::json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "not json"}}});
    assert_eq!(assess(&bad).status, HealthStatus::Unknown);
}

#[test]
fn an_application_is_healthy_when_its_controller_says_synced_and_healthy() {
    use serde_json::json;
    let app = |status: serde_json::Value| json!({"apiVersion": "sluice.dev/v1alpha1", "kind": "Application", "metadata": {"name": "a"}, "status": status});
    assert_eq!(
        assess(&app(json!({"sync": "Synced", "health": "Healthy"}))).status,
        HealthStatus::Healthy
    );
    assert_eq!(
        assess(&app(json!({"sync": "OutOfSync", "health": "Healthy"}))).status,
        HealthStatus::Progressing
    );
    assert_eq!(assess(&app(json!({}))).status, HealthStatus::Progressing);
    assert_eq!(
        assess(&app(json!({"sync": "Synced", "health": "Degraded"}))).status,
        HealthStatus::Degraded
    );
    let argo = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}});
    assert_eq!(assess(&argo).status, HealthStatus::Healthy);
}
