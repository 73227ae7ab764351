//! Unit tests of the plan, including the examples of Argo CD's
//! "Sync Phases and Waves" and "Resource Hooks" documentation.

use super::*;
use crate::object::from_value;
use serde_json::json;

fn obj(api: &str, kind: &str, ns: Option<&str>, name: &str, ann: Value) -> Object {
    let mut meta = json!({ "name": name, "annotations": ann });
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    from_value(
        json!({"apiVersion": api, "kind": kind, "metadata": meta}),
        None,
        0,
    )
    .expect("valid object")
}

fn names(step: &Step) -> Vec<String> {
    step.objects
        .iter()
        .map(|id| format!("{}/{}", id.kind, id.name))
        .collect()
}

#[test]
fn kind_rank_is_argo_cd_order() {
    assert_eq!(kind_rank("Namespace"), 0);
    assert_eq!(kind_rank("APIService"), KIND_ORDER.len() - 1);
    assert_eq!(kind_rank("Widget"), KIND_ORDER.len());
    for (i, k) in KIND_ORDER.iter().enumerate() {
        assert_eq!(kind_rank(k), i, "{k}");
    }
    let mut prev = 0;
    for k in [
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "SecretList",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "Role",
        "RoleList",
        "RoleBinding",
        "RoleBindingList",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
        "APIService",
    ] {
        assert!(kind_rank(k) >= prev, "{k}");
        prev = kind_rank(k);
    }
    assert_eq!(prev, 34);
}

#[test]
fn phase_then_wave_then_kind_then_name() {
    let objects = vec![
        obj("apps/v1", "Deployment", Some("p"), "b", json!({})),
        obj("apps/v1", "Deployment", Some("p"), "a", json!({})),
        obj("v1", "Service", Some("p"), "z", json!({})),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "late",
            json!({"argocd.argoproj.io/sync-wave": "2"}),
        ),
        obj(
            "v1",
            "Secret",
            Some("p"),
            "early",
            json!({"sluice.dev/sync-wave": "-5"}),
        ),
        obj("v1", "Namespace", None, "p", json!({})),
    ];
    let plan = plan(&objects).expect("plan");
    let waves: Vec<_> = plan.steps.iter().map(|s| (s.phase, s.wave)).collect();
    assert_eq!(
        waves,
        [(Phase::Sync, -5), (Phase::Sync, 0), (Phase::Sync, 2)]
    );
    assert_eq!(names(&plan.steps[0]), ["Secret/early"]);
    assert_eq!(
        names(&plan.steps[1]),
        ["Namespace/p", "Service/z", "Deployment/a", "Deployment/b"]
    );
    assert_eq!(names(&plan.steps[2]), ["ConfigMap/late"]);
    assert!(plan.hooks.is_empty());
    assert_eq!(plan.members().count(), 6);
}

/// Argo CD docs: a CRD goes before its custom resources, even when the
/// custom resource's kind shares a name with a built-in kind.
#[test]
fn crd_before_its_custom_resources() {
    let crd = |group: &str, kind: &str| {
        from_value(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": format!("{}s.{group}", kind.to_lowercase())},
                "spec": {"group": group, "names": {"kind": kind}}}),
            None,
            0,
        )
        .expect("crd")
    };
    let objects = vec![
        obj("example.com/v1", "Secret", Some("p"), "a", json!({})),
        obj("example.com/v1", "Widget", Some("p"), "w", json!({})),
        obj("apps/v1", "Deployment", Some("p"), "d", json!({})),
        crd("example.com", "Secret"),
        crd("example.com", "Widget"),
        obj("v1", "Secret", Some("p"), "real", json!({})),
    ];
    let plan = plan(&objects).expect("plan");
    assert_eq!(
        names(&plan.steps[0]),
        [
            "Secret/real",
            "CustomResourceDefinition/secrets.example.com",
            "CustomResourceDefinition/widgets.example.com",
            "Deployment/d",
            "Secret/a",
            "Widget/w",
        ]
    );
}

/// Argo CD docs, "Sync Phases and Waves": a PreSync migration Job, the app,
/// and a PostSync notification; waves inside each phase.
#[test]
fn argo_cd_documented_phases_and_hooks() {
    let objects = vec![
        obj("apps/v1", "Deployment", Some("p"), "frontend", json!({})),
        obj(
            "batch/v1",
            "Job",
            Some("p"),
            "schema-migrate-",
            json!({"argocd.argoproj.io/hook": "PreSync",
                   "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
        ),
        obj(
            "batch/v1",
            "Job",
            Some("p"),
            "slack-notify",
            json!({"argocd.argoproj.io/hook": "PostSync"}),
        ),
        obj(
            "batch/v1",
            "Job",
            Some("p"),
            "notify-failure",
            json!({"argocd.argoproj.io/hook": "SyncFail"}),
        ),
        obj(
            "v1",
            "Pod",
            Some("p"),
            "sync-hook",
            json!({"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/sync-wave": "1"}),
        ),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "skipped",
            json!({"argocd.argoproj.io/hook": "Skip"}),
        ),
        obj(
            "batch/v1",
            "Job",
            Some("p"),
            "twice",
            json!({"argocd.argoproj.io/hook": "PreSync, PostSync",
                   "argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed"}),
        ),
    ];
    let plan = plan(&objects).expect("plan");
    let order: Vec<_> = plan
        .steps
        .iter()
        .map(|s| (s.phase, s.wave, names(s)))
        .collect();
    assert_eq!(
        order,
        [
            (
                Phase::PreSync,
                0,
                vec!["Job/schema-migrate-".to_string(), "Job/twice".into()]
            ),
            (Phase::Sync, 0, vec!["Deployment/frontend".to_string()]),
            (Phase::Sync, 1, vec!["Pod/sync-hook".to_string()]),
            (
                Phase::PostSync,
                0,
                vec!["Job/slack-notify".to_string(), "Job/twice".into()]
            ),
        ]
    );
    assert_eq!(plan.sync_fail.len(), 1);
    assert_eq!(names(&plan.sync_fail[0]), ["Job/notify-failure"]);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].name, "skipped");

    let migrate = &objects[1].id;
    let hook = plan.hook(migrate).expect("hook");
    assert_eq!(hook.phases, [Phase::PreSync]);
    assert_eq!(hook.delete_policies, [DeletePolicy::HookSucceeded]);
    let notify = plan.hook(&objects[2].id).expect("hook");
    assert_eq!(notify.delete_policies, [DeletePolicy::BeforeHookCreation]);
    let twice = plan.hook(&objects[6].id).expect("hook");
    assert_eq!(twice.phases, [Phase::PreSync, Phase::PostSync]);
    assert!(twice.deletes_on(DeletePolicy::HookFailed));
    assert!(!twice.deletes_on(DeletePolicy::BeforeHookCreation));

    // Hooks are not ApplySet members; skipped objects are nowhere.
    let members: Vec<_> = plan.members().map(|id| id.name.as_str()).collect();
    assert_eq!(members, ["frontend"]);
}

/// Argo CD docs: "Hooks and resources are assigned to wave zero by default.
/// The wave can be negative, so you can create a wave that runs before all
/// other resources."
#[test]
fn negative_waves_run_first_and_default_is_zero() {
    let objects = vec![
        obj("v1", "ConfigMap", Some("p"), "zero", json!({})),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "minus-ten",
            json!({"sluice.dev/sync-wave": "-10"}),
        ),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "plus-one",
            json!({"sluice.dev/sync-wave": " +1 "}),
        ),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "unquoted",
            json!({"sluice.dev/sync-wave": 3}),
        ),
        obj(
            "v1",
            "ConfigMap",
            Some("p"),
            "both",
            json!({"sluice.dev/sync-wave": "3", "argocd.argoproj.io/sync-wave": "3"}),
        ),
    ];
    let plan = plan(&objects).expect("plan");
    let waves: Vec<_> = plan.steps.iter().map(|s| s.wave).collect();
    assert_eq!(waves, [-10, 0, 1, 3]);
    assert_eq!(
        names(&plan.steps[3]),
        ["ConfigMap/both", "ConfigMap/unquoted"]
    );
}

#[test]
fn bad_annotations_name_the_object() {
    let e = plan(&[obj(
        "v1",
        "ConfigMap",
        Some("p"),
        "x",
        json!({"argocd.argoproj.io/sync-wave": "first"}),
    )])
    .expect_err("not an integer");
    let msg = e.to_string();
    assert!(
        msg.contains("ConfigMap/p/x")
            && msg.contains("\"first\"")
            && msg.contains("argocd.argoproj.io/sync-wave"),
        "{msg}"
    );

    let e = plan(&[obj(
        "v1",
        "ConfigMap",
        Some("p"),
        "x",
        json!({"sluice.dev/sync-wave": "1.5"}),
    )])
    .expect_err("not an integer");
    assert!(matches!(e, PlanError::InvalidWave { .. }), "{e}");

    let e = plan(&[obj(
        "v1",
        "ConfigMap",
        Some("p"),
        "x",
        json!({"sluice.dev/sync-wave": "1", "argocd.argoproj.io/sync-wave": "2"}),
    )])
    .expect_err("conflict");
    assert!(e.to_string().contains("ConfigMap/p/x"), "{e}");

    let e = plan(&[obj(
        "batch/v1",
        "Job",
        Some("p"),
        "j",
        json!({"argocd.argoproj.io/hook": "PreSyn"}),
    )])
    .expect_err("typo");
    assert!(
        e.to_string().contains("batch/Job/p/j") && e.to_string().contains("PreSyn"),
        "{e}"
    );

    let e = plan(&[obj("batch/v1", "Job", Some("p"), "j", json!({"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "Never"}))])
        .expect_err("policy");
    assert!(
        e.to_string().contains("batch/Job/p/j") && e.to_string().contains("Never"),
        "{e}"
    );

    let e = plan(&[obj(
        "batch/v1",
        "Job",
        Some("p"),
        "j",
        json!({"argocd.argoproj.io/hook": ["PreSync"]}),
    )])
    .expect_err("not a string");
    assert!(e.to_string().contains("batch/Job/p/j"), "{e}");
}

#[test]
fn skip_wins_over_phases() {
    let objects = vec![obj(
        "v1",
        "Pod",
        Some("p"),
        "x",
        json!({"argocd.argoproj.io/hook": "PreSync,Skip"}),
    )];
    let plan = plan(&objects).expect("plan");
    assert!(plan.steps.is_empty());
    assert_eq!(plan.skipped.len(), 1);
}

#[test]
fn prune_in_reverse_wave_and_kind_order() {
    let crd = from_value(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}}}),
        None,
        0,
    )
    .expect("crd");
    let extraneous = vec![
        obj("v1", "Namespace", None, "p", json!({})),
        obj(
            "apps/v1",
            "Deployment",
            Some("p"),
            "d",
            json!({"sluice.dev/sync-wave": "1"}),
        ),
        obj("v1", "ConfigMap", Some("p"), "c", json!({})),
        obj("example.com/v1", "Widget", Some("p"), "w", json!({})),
        crd,
        obj(
            "batch/v1",
            "Job",
            Some("p"),
            "hook",
            json!({"argocd.argoproj.io/hook": "PreSync"}),
        ),
        obj(
            "v1",
            "Secret",
            Some("p"),
            "early",
            json!({"sluice.dev/sync-wave": "-1"}),
        ),
    ];
    let plan = plan(&[])
        .expect("empty")
        .with_prune(&extraneous)
        .expect("prune");
    let order: Vec<_> = plan
        .prune_order
        .iter()
        .map(|s| (s.wave, names(s)))
        .collect();
    assert_eq!(
        order,
        [
            (1, vec!["Deployment/d".to_string()]),
            (
                0,
                vec![
                    "Widget/w".to_string(),
                    "CustomResourceDefinition/widgets.example.com".into(),
                    "ConfigMap/c".into(),
                    "Namespace/p".into(),
                ]
            ),
            (-1, vec!["Secret/early".to_string()]),
        ]
    );
}

#[test]
fn plan_is_deterministic_whatever_the_input_order() {
    let mut objects: Vec<Object> = (0..200)
        .map(|i| {
            obj(
                "v1",
                if i % 3 == 0 { "ConfigMap" } else { "Service" },
                Some(&format!("ns{}", i % 4)),
                &format!("o{}", i % 50),
                json!({"sluice.dev/sync-wave": (i % 7).to_string()}),
            )
        })
        .collect();
    let a = plan(&objects).expect("plan");
    objects.reverse();
    let b = plan(&objects).expect("plan");
    assert_eq!(a, b);
}
