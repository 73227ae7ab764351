//! An app's status as the service sees it: sync status, health, revision,
//! the last operation and its conditions; and one history entry per sync.
//!
//! The shape follows Argo CD's `Application.status` where it has one
//! (`sync.status`, `health.status`, `operationState.phase`, `conditions`,
//! `history`), so a user who reads Argo CD's status reads this one, and
//! in-cluster Applications can carry it in `.status` unchanged. File apps
//! keep it in the [`Store`](super::store::Store).

use crate::sync::{Report, RowStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

/// Whether live equals desired.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, ToSchema,
)]
pub enum SyncStatus {
    /// Not known yet, or cannot be known (the source, the render or the
    /// cluster failed; see the conditions).
    #[default]
    Unknown,
    /// Every desired object is live as desired, nothing extraneous.
    Synced,
    /// Something differs.
    OutOfSync,
}

/// Where the last operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub enum Phase {
    /// Under way.
    Running,
    /// Ended with every object applied.
    Succeeded,
    /// Ended with objects the cluster refused.
    Failed,
    /// Could not start or was cut short (source, render, cluster, plan).
    Error,
}

/// A condition: something the user should know about the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Condition {
    /// Argo CD's condition types: `ComparisonError`, `SyncError`,
    /// `InvalidSpecError`, and sluice's `SelfHealBackoff`, `Paused`,
    /// `RetryBackoff`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What happened and what to do.
    pub message: String,
}

/// Counts of what the last operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Counts {
    /// Objects in the result.
    pub objects: usize,
    /// Created.
    pub created: usize,
    /// Changed.
    pub configured: usize,
    /// Deleted by prune.
    pub pruned: usize,
    /// Refused by the cluster.
    pub failed: usize,
}

/// One object's result in the last operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ResourceResult {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `Synced`, `OutOfSync`, `Missing`, `Pruned`, `SyncFailed`, ...
    pub status: String,
    /// Health, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The hook phase, for a hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// The cluster's message for a failure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Its sync wave (`argocd.argoproj.io/sync-wave`; 0 when unset).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wave: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// How one drifted object differs, at the last comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ResourceDiff {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `OutOfSync`, `Missing`, `Extraneous`, ...
    pub status: String,
    /// A unified diff of the live object (`---`) against the object as it
    /// would be after applying (`+++`), Secrets' data masked; empty when
    /// there is nothing to show (a failure: see `message`).
    pub diff: String,
    /// The cluster's message, for an object it refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The last operation on an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Where it is.
    pub phase: Phase,
    /// What happened, one line.
    pub message: String,
    /// Why it ran: `poll`, `webhook`, `drift`, `manual`, `appchanged`,
    /// `retry`.
    pub reasons: Vec<String>,
    /// The commit it synced (empty for a local directory).
    pub revision: String,
    /// Whether it wrote (false: a refresh that only compared).
    pub sync: bool,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// When it ended, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Counts by action.
    pub counts: Counts,
    /// Per-object results.
    #[serde(default)]
    pub resources: Vec<ResourceResult>,
}

/// An app's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Sync status.
    pub sync: SyncStatus,
    /// Aggregate health: `Healthy`, `Progressing`, `Degraded`,
    /// `Suspended`, `Missing`, `Unknown`.
    pub health: String,
    /// The commit last compared or synced.
    pub revision: String,
    /// The last operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// What the user should know.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Syncs and self-heal are stopped for this app.
    #[serde(default)]
    pub paused: bool,
    /// Paused by the switch (API, `sluice app pause`), kept across
    /// restarts; the annotation is read from the Application itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused_by_switch: bool,
    /// Automated sync was turned off by a rollback, for the Application
    /// with this digest: kept across restarts, and over as soon as the
    /// Application changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_sync_off_for: Option<String>,
    /// When the status last changed, RFC 3339.
    #[serde(default)]
    pub reconciled_at: String,
}

/// The digest [`AppStatus::auto_sync_off_for`] names an Application by.
pub fn app_digest(app: &crate::app::Application) -> String {
    use sha2::{Digest as _, Sha256};
    let text = serde_json::to_string(app).unwrap_or_default();
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// One entry of an app's sync history (kept for rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    /// The commit synced.
    pub revision: String,
    /// When the sync started, RFC 3339.
    pub deployed_at: String,
    /// When it ended, RFC 3339.
    pub finished_at: String,
    /// How it ended.
    pub phase: Phase,
    /// Why it ran.
    pub reasons: Vec<String>,
    /// For a rollback: the history entry it rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<u64>,
    /// The repository synced from (a rollback is refused when the app's
    /// source moved since).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    /// The path in the repository.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// What was synced, whole: a [`SyncedSource`] (the Application's
    /// `spec.source`, `spec.sources` and `spec.renderer` with its
    /// parameters), so a rollback renders exactly that again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub source: Option<serde_json::Value>,
}

/// The parts of an Application's spec that say what is rendered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncedSource {
    /// `spec.source`.
    pub source: crate::app::Source,
    /// `spec.sources` (multi-source apps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::app::Source>,
    /// `spec.renderer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<crate::app::Renderer>,
}

impl SyncedSource {
    /// What `app` renders.
    pub fn of(app: &crate::app::Application) -> SyncedSource {
        SyncedSource {
            source: app.spec.source.clone(),
            sources: app.spec.sources.clone(),
            renderer: app.spec.renderer.clone(),
        }
    }

    /// As stored in a [`HistoryRecord`].
    pub fn to_value(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self).ok()
    }

    /// From a [`HistoryRecord`]; `None` for entries written before sources
    /// were recorded.
    pub fn from_record(h: &HistoryRecord) -> Option<SyncedSource> {
        h.source
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
    }

    /// `app` rendering this instead.
    pub fn apply_to(&self, app: &mut crate::app::Application) {
        app.spec.source = self.source.clone();
        app.spec.sources = self.sources.clone();
        app.spec.renderer = self.renderer.clone();
    }
}

impl AppStatus {
    /// Set a condition of `kind` (replacing one of the same kind).
    pub fn set_condition(&mut self, kind: &str, message: impl Into<String>) {
        self.clear_condition(kind);
        self.conditions.push(Condition {
            kind: kind.to_string(),
            message: message.into(),
        });
    }

    /// Remove conditions of `kind`.
    pub fn clear_condition(&mut self, kind: &str) {
        self.conditions.retain(|c| c.kind != kind);
    }
}

/// Counts and per-object results of a report.
pub fn results(report: &Report) -> (Counts, Vec<ResourceResult>) {
    use crate::sync::Action;
    let n = |f: &dyn Fn(&crate::sync::Row) -> bool| report.rows.iter().filter(|r| f(r)).count();
    let counts = Counts {
        objects: report.rows.len(),
        created: n(&|r| r.action == Action::Created),
        configured: n(&|r| r.action == Action::Configured),
        pruned: n(&|r| r.action == Action::Pruned),
        failed: n(&|r| r.status == RowStatus::SyncFailed),
    };
    let resources = report
        .rows
        .iter()
        .map(|r| ResourceResult {
            group: r.group.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            status: r.status.to_string(),
            health: r.health.clone(),
            hook: r.hook.clone(),
            message: r.message.clone(),
            wave: 0,
        })
        .collect();
    (counts, resources)
}

/// The diff of each drifted object of a report.
pub fn diffs(report: &Report) -> Vec<ResourceDiff> {
    report
        .rows
        .iter()
        .filter(|r| r.is_drift())
        .map(|r| ResourceDiff {
            group: r.group.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            status: r.status.to_string(),
            diff: crate::diff::unified(
                &r.id().to_string(),
                r.live.as_ref(),
                r.desired.as_ref(),
                false,
            ),
            message: r.message.clone(),
        })
        .collect()
}

/// Now as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 (UTC, seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_796_040_000)),
            "2026-11-30T12:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn conditions_replace_by_kind() {
        let mut s = AppStatus::default();
        s.set_condition("SyncError", "a");
        s.set_condition("SyncError", "b");
        s.set_condition("Paused", "p");
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(s.conditions[0].message, "b");
        s.clear_condition("SyncError");
        assert_eq!(s.conditions[0].kind, "Paused");
    }
}
