//! The waiting logic, fed by hand-made update streams.

use super::*;
use futures::stream;
use serde_json::json;

fn id(kind: &str, name: &str) -> ObjectId {
    ObjectId {
        group: if kind == "Job" {
            "batch".into()
        } else {
            "apps".into()
        },
        kind: kind.into(),
        namespace: Some("p".into()),
        name: name.into(),
    }
}

fn deployment(available: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "availableReplicas": available}})
}

fn job(condition: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "status": {"conditions": [{"type": condition, "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})
}

#[tokio::test]
async fn healthy_once_every_object_is() {
    let ids = [id("Deployment", "web"), id("Job", "migrate")];
    let updates = stream::iter(vec![
        Ok((ids[0].clone(), Some(deployment(0)))),
        Ok((ids[1].clone(), Some(job("Complete")))),
        Ok((ids[0].clone(), Some(deployment(1)))),
    ])
    .chain(stream::pending());
    let mut seen = Vec::new();
    let got = wait_healthy(&ids, updates, Duration::from_secs(5), &mut |id, h| {
        seen.push(format!("{} {}", id.name, h.status))
    })
    .await
    .expect("healthy");
    assert!(got.iter().all(|(_, h)| h.is_healthy()));
    assert_eq!(seen, ["web Progressing", "migrate Healthy", "web Healthy"]);
}

#[tokio::test]
async fn a_failed_job_fails_at_once() {
    let ids = [id("Deployment", "web"), id("Job", "migrate")];
    let updates =
        stream::iter(vec![Ok((ids[1].clone(), Some(job("Failed"))))]).chain(stream::pending());
    let e = wait_healthy(&ids, updates, Duration::from_secs(5), &mut |_, _| {})
        .await
        .expect_err("failed");
    let msg = e.to_string();
    assert!(
        msg.contains("batch/Job/p/migrate failed: Degraded: BackoffLimitExceeded"),
        "{msg}"
    );
}

#[tokio::test]
async fn timeout_names_every_blocking_object() {
    let ids = [id("Deployment", "web"), id("Deployment", "api")];
    let updates = stream::iter(vec![
        Ok((ids[0].clone(), Some(deployment(0)))),
        Ok((ids[1].clone(), None)),
    ])
    .chain(stream::pending());
    let started = std::time::Instant::now();
    let e = wait_healthy(&ids, updates, Duration::from_millis(200), &mut |_, _| {})
        .await
        .expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
    let msg = e.to_string();
    assert!(
        msg.contains("apps/Deployment/p/web (Progressing: waiting for rollout to finish: 0 of 1 updated replicas are available)"),
        "{msg}"
    );
    assert!(msg.contains("apps/Deployment/p/api (Missing"), "{msg}");
    assert_eq!(e.blocking().len(), 2);
}

#[tokio::test]
async fn a_snapshot_that_is_not_healthy_says_so_without_waiting() {
    let ids = [id("Deployment", "web")];
    let updates = stream::iter(vec![Ok((ids[0].clone(), Some(deployment(0))))]);
    let e = wait_healthy(&ids, updates, Duration::from_secs(60), &mut |_, _| {})
        .await
        .expect_err("unchanging");
    assert!(matches!(e, WaitError::Unchanging { .. }), "{e}");
}

#[tokio::test]
async fn nothing_to_wait_for() {
    let got = wait_healthy(
        &[],
        stream::pending(),
        Duration::from_secs(1),
        &mut |_, _| {},
    )
    .await
    .expect("empty");
    assert!(got.is_empty());
}
