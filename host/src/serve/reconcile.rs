//! One operation on one app: resolve its source, render it (cached by read
//! set), compare it with the cluster and, when the policy says so, sync
//! it; then record the status.
//!
//! When an operation writes:
//! - a manual sync (API, CLI) always does, unless the app is paused;
//! - with `syncPolicy.automated`, an out-of-sync app is synced, except
//!   that a commit whose sync failed is not synced again by polls and
//!   webhooks (as in Argo CD): only `syncPolicy.retry`, a new commit, a
//!   manual sync or self-heal try it again. A new commit always gets a
//!   fresh attempt, even while an older one is backing off.
//! - drift (a managed object changed by someone else, or deleted) is
//!   re-applied with `automated.selfHeal`; otherwise the app only turns
//!   OutOfSync. A drift operation reuses the last source and render (no
//!   Git, no plugin), which keeps the heal fast. When someone keeps
//!   undoing the fix, heals back off: each heal within [`FIGHT_WINDOW`] of
//!   the previous waits 2 s × 3ⁿ (at most 5 min) before it runs, and the
//!   status says so.
//! - a paused app is compared, never written.
//! - a refresh, or a sync asked as a dry run, is a manual request that
//!   forces no write (automated sync still acts on what it finds, except
//!   for a dry run of a pinned revision, which writes nothing); a manual
//!   sync's `prune` overrides the app's; automated sync turned off by a
//!   rollback (`AppEntry::auto_sync_off`) counts as no automated sync.
//!
//! Without writing, the operation is a dry-run comparison (objects decided
//! locally from their listing, a server-side dry-run for the rest), which
//! sends no writes: a service restarted over
//! synced apps changes no resourceVersion.
//!
//! Errors never prune: a source, render or cluster failure leaves the
//! app's objects alone and shows `Unknown` with the reason.

use super::cluster::Cluster;
use super::heal::{Live, Seen, spawn_watch};
use super::queue::{Request, Trigger};
use super::service::{AppEntry, FIGHT_WINDOW, HealState, RetryState, Service};
use super::status::{
    AppStatus, HistoryRecord, Operation, Phase, SyncStatus, diffs, now_rfc3339, results,
};
use crate::app::Application;
use crate::engine::{self, App, AppDef, Destination};
use crate::health::{Health, HealthStatus, assess, worst};
use crate::object::{Object, ObjectId};
use crate::render::Rendered;
use crate::render::readset::Freshness;
use crate::sync::{NoProgress, RowStatus, StatusSink};
use crate::target::Target as _;
use crate::target::applyset::Parent;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest self-heal delay in a fight.
const HEAL_MAX: Duration = Duration::from_secs(300);

/// Argo CD's retry defaults.
const RETRY_LIMIT: i64 = 5;
const RETRY_DURATION: Duration = Duration::from_secs(5);
const RETRY_FACTOR: i64 = 2;
const RETRY_MAX: Duration = Duration::from_secs(180);

struct Snapshot {
    file: Option<std::path::PathBuf>,
    app: Result<Arc<Application>, String>,
    status: AppStatus,
    last: Option<(Arc<App>, Arc<Rendered>)>,
    retry: RetryState,
    heal: HealState,
    paused: bool,
    auto_sync_off: bool,
}

fn snapshot(svc: &Service, name: &str) -> Option<Snapshot> {
    let apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
    let e: &AppEntry = apps.get(name)?;
    Some(Snapshot {
        file: e.file.clone(),
        app: e.app.clone(),
        status: e.status.clone(),
        last: e.last.clone(),
        retry: e.retry.clone(),
        heal: e.heal.clone(),
        paused: e.is_paused(),
        auto_sync_off: e.auto_sync_off,
    })
}

/// Run one operation for `name`. Every log line of it carries the app, the
/// reasons, and (once known) the revision and the cluster.
pub(super) async fn run(svc: &Service, name: &str, req: Request) {
    use tracing::Instrument as _;
    let span = tracing::info_span!(
        "operation",
        app = %name,
        reasons = ?req.reasons,
        revision = tracing::field::Empty,
        cluster = tracing::field::Empty
    );
    operate(svc, name, req, &span)
        .instrument(span.clone())
        .await
}

async fn operate(svc: &Service, name: &str, req: Request, span: &tracing::Span) {
    let Some(snap) = snapshot(svc, name) else {
        return;
    };
    let mut status = snap.status.clone();
    status.paused = snap.paused;
    if snap.paused {
        let suspended = snap
            .app
            .as_ref()
            .is_ok_and(|a| a.flux.as_ref().is_some_and(|f| f.suspend));
        status.set_condition(
            "Paused",
            if suspended {
                "the Kustomization (or its GitRepository) has spec.suspend: true; syncs and self-heal stop until it is set to false"
            } else {
                "syncs and self-heal are paused; resume with the API or remove the sluice.dev/paused annotation"
            },
        );
    } else {
        status.clear_condition("Paused");
    }
    let app = match &snap.app {
        Ok(a) => a.clone(),
        Err(msg) => {
            give_up(
                svc,
                name,
                status,
                "InvalidSpecError",
                format!("{msg}; the app's objects are left as they are until the file is fixed"),
            );
            return;
        }
    };
    status.clear_condition("InvalidSpecError");
    if let Some(why) = super::depends::unready(svc, name, &app) {
        status.set_condition(super::depends::CONDITION, why);
        finish(svc, name, status, None);
        return;
    }
    status.clear_condition(super::depends::CONDITION);
    let reasons = req.reasons.clone();
    let drift_only = reasons.iter().all(|r| *r == Trigger::Drift) && req.revision.is_none();
    let started_at = now_rfc3339();

    // 1. Source and render; a drift reuses the last ones.
    let (resolved, rendered) = match (&snap.last, drift_only) {
        (Some(last), true) => last.clone(),
        _ => match resolve_and_render(svc, name, &snap, &req).await {
            Ok(x) => x,
            Err(msg) => {
                tracing::warn!(app = %name, error = %msg, "comparison failed; nothing was applied or pruned");
                comparison_error(svc, name, status, &msg);
                return;
            }
        },
    };
    let commit = resolved.source.commit.clone();
    span.record("revision", commit.as_str());

    // 2. The cluster.
    let cluster = match &resolved.destination {
        Destination::Cluster(c) => match svc.inner.clusters.get(c).await {
            Ok(k) => k,
            Err(e) => {
                status.sync = SyncStatus::Unknown;
                status.health = HealthStatus::Unknown.as_str().to_string();
                status.set_condition(
                    "ComparisonError",
                    format!(
                        "app {name}: {}; the app is retried at the next refresh",
                        crate::error_chain(&e)
                    ),
                );
                finish(svc, name, status, None);
                return;
            }
        },
        Destination::Dir(p) => {
            give_up(
                svc,
                name,
                status,
                "InvalidSpecError",
                format!(
                    "app {name}: sluice serve syncs to clusters; the directory target {} is for the CLI",
                    p.display()
                ),
            );
            return;
        }
    };
    // Nothing to compare: a refresh whose render is exactly the one last
    // compared (nothing it read changed), of an app that was then Synced
    // with nothing to report, while the watches follow every kind it has
    // (a change to one of its objects would have queued a drift, merged
    // into this request). A refresh storm over a monorepo then costs a
    // ref listing and a read-set replay per app, not a dry-run per object.
    let routine = reasons
        .iter()
        .all(|r| matches!(r, Trigger::Poll | Trigger::Webhook));
    let same_render = snap
        .last
        .as_ref()
        .is_some_and(|(_, r)| Arc::ptr_eq(r, &rendered));
    let interrupted = super::resume::interrupted(svc, name, &commit);
    if routine
        && interrupted.is_none()
        && same_render
        && svc.inner.watch_drift
        && cluster.watch_ok.load(Ordering::Relaxed)
        && snap.status.sync == SyncStatus::Synced
        && snap.status.conditions.is_empty()
        && watched(svc, &cluster, &rendered.objects)
    {
        status.revision = commit.clone();
        {
            let mut apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = apps.get_mut(name) {
                e.last = Some((resolved.clone(), rendered.clone()));
            }
        }
        finish(svc, name, status, None);
        return;
    }
    span.record("cluster", cluster.kube.server());
    let _permit = cluster.limit.acquire().await;

    // What this operation renders: the app's source, or for a rollback
    // the one the history entry recorded.
    let resolved_source = rollback_source(svc, name, req.rollback)
        .unwrap_or_else(|| super::status::SyncedSource::of(&app));

    // 3. Write or only compare.
    // Automated sync, unless the API turned it off (a rollback).
    let automated = app.automated().filter(|_| !snap.auto_sync_off).cloned();
    let self_heal = automated.as_ref().is_some_and(|a| a.self_heal);
    let mut retry = snap.retry.clone();
    if retry.failed_revision.as_deref() != Some(commit.as_str()) {
        retry.attempts = 0;
    }
    // A refresh or a dry-run sync is manual but writes nothing by itself;
    // a dry run of a pinned revision writes nothing at all (automated
    // sync would otherwise apply the pinned commit).
    let manual = reasons.contains(&Trigger::Manual) && !req.dry_run;
    let preview = req.dry_run && req.revision.is_some();
    let heal = reasons.contains(&Trigger::Drift) && self_heal;
    let fresh_commit = retry.failed_revision.as_deref() != Some(commit.as_str());
    let mut write = !snap.paused
        && !preview
        && (interrupted.is_some()
            || manual
            || automated.is_some() && (heal || reasons.contains(&Trigger::Retry) || fresh_commit));
    let mut heal_state = snap.heal.clone();
    let only_heal = write && !manual && drift_only;
    if only_heal {
        if heal_state.last.is_some_and(|t| t.elapsed() > FIGHT_WINDOW) {
            heal_state.count = 0;
        }
        if let Some(wait) = heal_delay(&heal_state) {
            let left = heal_state.last.map_or(Duration::ZERO, |t| {
                (t + wait).saturating_duration_since(Instant::now())
            });
            if !left.is_zero() {
                write = false;
                status.set_condition(
                    "SelfHealBackoff",
                    format!(
                        "app {name}: its objects were changed by someone else {} times in a row; the next self-heal runs in {}s",
                        heal_state.count + 1,
                        left.as_secs().max(1)
                    ),
                );
                later(svc, name, Trigger::Drift, left);
            }
        }
    }

    let mut opts = resolved.sync.clone();
    opts.dry_run = !write;
    if manual && let Some(prune) = req.prune {
        opts.prune = prune;
    }
    opts.concurrency = svc.inner.config.object_concurrency.max(1);
    // Flux's `timeout` bounds this app's waits; the service's otherwise.
    opts.timeout = app
        .flux
        .as_ref()
        .and_then(|f| f.timeout)
        .unwrap_or(svc.inner.config.sync_timeout);
    opts.status = StatusSink::default();
    let view = cluster.view();
    let mut objects = rendered.objects.clone();
    if let Some(s) = resolved.pending_substitution()
        && let Err(e) = engine::substitute_from(&view, s, &mut objects).await
    {
        comparison_error(svc, name, status, &crate::error_chain(&e));
        return;
    }
    // The app's target plugins (spec.targets), from --targets; Secret
    // credentials from the cluster the service runs in.
    let targets = match load_targets(svc, name, &resolved.targets).await {
        Ok(t) => t,
        Err(msg) => {
            comparison_error(svc, name, status, &msg);
            return;
        }
    };
    if write {
        opts.hooks = super::resume::begin(svc, name, &commit, interrupted);
    }
    // Kinds the targets handle: their objects are neither watched nor in
    // the live cache; their health is read from the plugins.
    let target_kinds: BTreeSet<(String, String)> = targets
        .iter()
        .flat_map(|t| t.kinds.iter())
        .map(|(av, k)| (crate::object::group_of(av).to_string(), k.clone()))
        .collect();
    let routed = (!targets.is_empty())
        .then(|| crate::target::routed::Routed::new(&view, targets, &opts.app, &opts.namespace));
    let result = match &routed {
        Some(r) => crate::sync::run(r, objects, &opts, &NoProgress).await,
        None => crate::sync::run(&view, objects, &opts, &NoProgress).await,
    };
    if write {
        super::resume::end(svc, name);
    }

    let mut history = None;
    let mut recorded = None;
    let mut checks = None;
    match result {
        Err(e) => {
            let msg = crate::error_chain(&e);
            tracing::warn!(app = %name, revision = %commit, cluster = %cluster.kube.server(), error = %msg, "operation failed; nothing was applied");
            status.sync = SyncStatus::Unknown;
            status.revision = commit.clone();
            // Nothing was written: the sync could not start.
            status.set_condition("ComparisonError", msg.clone());
            // A cluster that cannot be reached is retried at every refresh
            // until it is back; a deterministic refusal (an invalid plan,
            // an empty render) marks the commit failed like a failed sync.
            let transient = matches!(
                e,
                crate::sync::SyncError::Target { .. } | crate::sync::SyncError::Inventory { .. }
            );
            if write {
                crate::metrics::get()
                    .app_sync
                    .with_label_values(&[name, "Error"])
                    .inc();
                status.operation = Some(Operation {
                    phase: Phase::Error,
                    message: msg,
                    reasons: reason_names(&reasons),
                    revision: commit.clone(),
                    sync: true,
                    started_at: started_at.clone(),
                    finished_at: Some(now_rfc3339()),
                    counts: Default::default(),
                    resources: Vec::new(),
                });
                if !transient {
                    schedule_retry(svc, name, &app, &commit, &mut retry, &mut status);
                }
            }
        }
        Ok(report) => {
            let (counts, resources) = results(&report);
            let mut shown = resources.clone();
            for r in &mut shown {
                r.wave = rendered
                    .objects
                    .iter()
                    .find(|o| o.id.group == r.group && o.id.kind == r.kind && o.id.name == r.name)
                    .and_then(|o| crate::sync::plan::wave(o).ok())
                    .unwrap_or(0);
            }
            recorded = Some((shown, diffs(&report)));
            let wrote = counts.created + counts.configured + counts.pruned > 0;
            let failed = counts.failed > 0;
            tracing::info!(app = %name, revision = %commit, cluster = %cluster.kube.server(), write, wrote, failed, "{}", report.summary());
            status.sync = if report.in_sync() {
                SyncStatus::Synced
            } else {
                SyncStatus::OutOfSync
            };
            status.revision = commit.clone();
            status.clear_condition("ComparisonError");
            let (on_targets, desired): (Vec<ObjectId>, Vec<ObjectId>) = report
                .rows
                .iter()
                .filter(|r| r.hook.is_none())
                .filter(|r| !matches!(r.status, RowStatus::Pruned | RowStatus::Extraneous))
                .map(|r| r.id())
                .partition(|id| target_kinds.contains(&(id.group.clone(), id.kind.clone())));
            register(
                svc,
                name,
                &resolved,
                &cluster,
                &rendered.objects,
                desired.clone(),
            )
            .await;
            status.health = health(svc, &cluster, &rendered.objects, &desired).await;
            checks = check_health(&cluster, &app).await;
            if let Some(r) = &routed
                && !on_targets.is_empty()
            {
                let t = target_health(r, &rendered.objects, &on_targets).await;
                checks = Some(checks.map_or(t, |c| if t.is_worse_than(c) { t } else { c }));
            }
            if let Some(c) = checks {
                if c.is_worse_than(health_status(&status.health)) {
                    status.health = c.as_str().to_string();
                }
                // The checked objects are not watched: look again soon
                // until they are Healthy (Flux retries at its interval).
                if c != HealthStatus::Healthy {
                    later(svc, name, Trigger::AppChanged, CHECKS_RETRY);
                }
            }
            if write && (wrote || failed) {
                let finished = now_rfc3339();
                let phase = if failed {
                    Phase::Failed
                } else {
                    Phase::Succeeded
                };
                status.operation = Some(Operation {
                    phase,
                    message: report.summary(),
                    reasons: reason_names(&reasons),
                    revision: commit.clone(),
                    sync: true,
                    started_at: started_at.clone(),
                    finished_at: Some(finished.clone()),
                    counts,
                    resources,
                });
                history = Some(HistoryRecord {
                    revision: commit.clone(),
                    deployed_at: started_at.clone(),
                    finished_at: finished,
                    phase,
                    reasons: reason_names(&reasons),
                    rollback: req.rollback,
                    repo_url: resolved_source.source.repo_url.clone(),
                    path: resolved_source.source.path.clone(),
                    source: resolved_source.to_value(),
                });
                svc.inner.counters.syncs.fetch_add(1, Ordering::Relaxed);
            }
            if write && failed {
                let first = report
                    .rows
                    .iter()
                    .find(|r| r.status == RowStatus::SyncFailed)
                    .map(|r| format!("{}: {}", r.id(), r.message))
                    .unwrap_or_default();
                status.set_condition(
                    "SyncError",
                    format!(
                        "app {name}: {} objects failed to sync; first: {first}",
                        report.failed()
                    ),
                );
                schedule_retry(svc, name, &app, &commit, &mut retry, &mut status);
            } else if write {
                status.clear_condition("SyncError");
                status.clear_condition("RetryBackoff");
                retry = RetryState::default();
            }
            if only_heal && write && wrote {
                heal_state.count += 1;
                heal_state.last = Some(Instant::now());
                svc.inner.counters.heals.fetch_add(1, Ordering::Relaxed);
                crate::metrics::get()
                    .selfheal
                    .with_label_values(&[name])
                    .inc();
                tracing::info!(app = %name, heals = heal_state.count, "drift healed");
            }
            if heal_state.last.is_none_or(|t| t.elapsed() > FIGHT_WINDOW) {
                status.clear_condition("SelfHealBackoff");
            }
        }
    }
    {
        let mut apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = apps.get_mut(name) {
            e.last = Some((resolved.clone(), rendered.clone()));
            e.retry = retry;
            e.heal = heal_state;
            e.checks_health = checks;
            if let Some((resources, diff)) = recorded {
                e.resources = resources;
                e.diff = diff;
            }
        }
    }
    finish(svc, name, status, history);
}

/// The delay before the next heal in a fight, `None` for the first.
fn heal_delay(h: &HealState) -> Option<Duration> {
    if h.count == 0 {
        return None;
    }
    let exp = 3u32.saturating_pow(h.count - 1);
    Some((Duration::from_secs(2) * exp).min(HEAL_MAX))
}

fn reason_names(r: &BTreeSet<Trigger>) -> Vec<String> {
    r.iter()
        .map(|t| {
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

/// End an operation that could not compare: sync status Unknown, the
/// reason as `condition`, nothing applied.
fn give_up(svc: &Service, name: &str, mut status: AppStatus, condition: &str, message: String) {
    status.sync = SyncStatus::Unknown;
    status.set_condition(condition, message);
    finish(svc, name, status, None);
}

/// [`give_up`] before anything was applied: a `ComparisonError` saying so.
fn comparison_error(svc: &Service, name: &str, status: AppStatus, msg: &str) {
    give_up(
        svc,
        name,
        status,
        "ComparisonError",
        format!("{msg}; nothing was applied or pruned"),
    );
}

/// Queue `trigger` for `name` after `wait`.
fn later(svc: &Service, name: &str, trigger: Trigger, wait: Duration) {
    let s = svc.clone();
    let n = name.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        s.inner.queue.push(&n, Request::new(trigger));
    });
}

/// After a failed sync of `commit`: note it, and queue a retry when the
/// app's `syncPolicy.retry` allows one more.
fn schedule_retry(
    svc: &Service,
    name: &str,
    app: &Application,
    commit: &str,
    retry: &mut RetryState,
    status: &mut AppStatus,
) {
    retry.failed_revision = Some(commit.to_string());
    let Some(policy) = &app.spec.sync_policy.retry else {
        return;
    };
    let limit = policy.limit.unwrap_or(RETRY_LIMIT);
    if limit >= 0 && i64::from(retry.attempts) >= limit {
        status.set_condition(
            "RetryBackoff",
            format!(
                "app {name}: gave up on {commit} after {} retries; a new commit or a manual sync tries again",
                retry.attempts
            ),
        );
        return;
    }
    let backoff = policy.backoff.clone().unwrap_or_default();
    let base = backoff
        .duration
        .as_deref()
        .and_then(|d| crate::parse_duration(d).ok())
        .unwrap_or(RETRY_DURATION);
    let factor = backoff.factor.unwrap_or(RETRY_FACTOR).max(1);
    let max = backoff
        .max_duration
        .as_deref()
        .and_then(|d| crate::parse_duration(d).ok())
        .unwrap_or(RETRY_MAX);
    let mult = u32::try_from(factor)
        .unwrap_or(u32::MAX)
        .saturating_pow(retry.attempts);
    let wait = base.saturating_mul(mult).min(max);
    retry.attempts += 1;
    status.set_condition(
        "RetryBackoff",
        format!(
            "app {name}: retry {} of {} for {commit} in {}s",
            retry.attempts,
            if limit < 0 {
                "unlimited".to_string()
            } else {
                limit.to_string()
            },
            wait.as_secs_f64()
        ),
    );
    later(svc, name, Trigger::Retry, wait);
}

/// Store and publish `status` (only when it changed, besides the time),
/// with a history entry when the operation synced.
fn finish(svc: &Service, name: &str, mut status: AppStatus, history: Option<HistoryRecord>) {
    let changed = {
        let mut apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = apps.get_mut(name) else {
            return;
        };
        status.reconciled_at = e.status.reconciled_at.clone();
        // The switches may have moved while the operation ran: theirs win.
        status.paused_by_switch = e.status.paused_by_switch;
        status.auto_sync_off_for = e.status.auto_sync_off_for.clone();
        let changed = e.status != status;
        if changed {
            status.reconciled_at = now_rfc3339();
            e.status = status.clone();
        }
        changed
    };
    if let Some(h) = &history {
        let phase = format!("{:?}", h.phase);
        crate::metrics::get()
            .app_sync
            .with_label_values(&[name, &phase])
            .inc();
    }
    if let Some(h) = &history
        && let Err(e) = svc
            .inner
            .store
            .push_history(name, h, super::store::DEFAULT_HISTORY)
    {
        tracing::error!(app = %name, error = %crate::error_chain(&e), "cannot record history");
    }
    if changed {
        if let Err(e) = svc.inner.store.put_status(name, &status) {
            tracing::error!(app = %name, error = %crate::error_chain(&e), "cannot store status");
        }
        write_resource_status(svc, name, &status);
        svc.publish(name, Some(status));
    }
}

/// For a `sluice.dev` Application resource, write the status to it too.
fn write_resource_status(svc: &Service, name: &str, status: &AppStatus) {
    let origin = {
        let apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.get(name).and_then(|e| e.origin.clone())
    };
    let client = svc.inner.incluster.lock().ok().and_then(|c| c.clone());
    if let (Some((group, ns)), Some(client)) = (origin, client)
        && group == "sluice.dev"
    {
        tokio::spawn(super::incluster::write_status(
            client,
            ns,
            name.to_string(),
            status.clone(),
        ));
    }
}

async fn resolve_and_render(
    svc: &Service,
    name: &str,
    snap: &Snapshot,
    req: &Request,
) -> Result<(Arc<App>, Arc<Rendered>), String> {
    let mut app = snap.app.as_ref().map_err(Clone::clone)?.clone();
    if let Some(source) = rollback_source(svc, name, req.rollback) {
        source.apply_to(Arc::make_mut(&mut app));
    }
    let file = snap
        .file
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{name}.yaml")));
    let inner = svc.inner.clone();
    let revision = req.revision.clone();
    let since = req.since;
    // Flux's secretRef: its credentials go first (the Secret is what the
    // GitRepository names).
    let settings = match super::gitsecret::credentials(svc, name, &app).await? {
        Some(entry) => {
            let mut s = inner.config.settings.clone();
            let mut creds = crate::source::git::credentials::Credentials::none();
            creds.push(entry);
            creds.extend(s.git.credentials.clone());
            s.git.credentials = creds;
            Some(s)
        }
        None => None,
    };
    // Flux's verify.secretRef: the trusted keys, from the same cluster.
    let verify_keys = super::gitsecret::verify_keys(svc, name, &app).await?;
    tokio::task::spawn_blocking(move || {
        let def = AppDef {
            file: Some((file, (*app).clone())),
            revision,
            verify_keys,
            ..AppDef::default()
        };
        let interrupt = AtomicBool::new(false);
        let fetch = Instant::now();
        let resolved = engine::resolve_shared(
            &def,
            settings.as_ref().unwrap_or(&inner.config.settings),
            &inner.memo,
            since,
            &interrupt,
        )
        .map_err(|e| crate::error_chain(&e))?;
        let metrics = crate::metrics::get();
        metrics
            .git_fetch
            .with_label_values(&[app.spec.source.repo_url.as_str()])
            .observe(fetch.elapsed().as_secs_f64());
        let render = Instant::now();
        // Multi-source apps and Flux variables render through the engine
        // (not cached by read set yet).
        let (rendered, fresh) = if resolved.extra.is_empty() && resolved.substitution.is_none() {
            inner
                .renderers
                .render_cached(&inner.cache, resolved.source.tree.clone(), &resolved.render)
                .map_err(|e| crate::error_chain(&e))?
        } else {
            let r = resolved
                .render(&inner.renderers)
                .map_err(|e| crate::error_chain(&e))?;
            (Arc::new(r), Freshness::Rendered)
        };
        for r in &rendered.results {
            tracing::info!(app = %resolved.name, diagnostic = ?r, "renderer said");
        }
        if fresh == Freshness::Cached {
            tracing::debug!(app = %resolved.name, "render reused: nothing it read changed");
        } else {
            metrics
                .render
                .with_label_values(&[rendered.renderer.split('@').next().unwrap_or_default()])
                .observe(render.elapsed().as_secs_f64());
        }
        Ok((Arc::new(resolved), rendered))
    })
    .await
    .map_err(|e| format!("app {name}: the operation's task failed: {e}"))?
}

/// The source history entry `id` of `name` recorded, for a rollback.
fn rollback_source(
    svc: &Service,
    name: &str,
    id: Option<u64>,
) -> Option<super::status::SyncedSource> {
    let id = id?;
    let history = svc.history(name).ok()?;
    let (_, entry) = history.into_iter().find(|(i, _)| *i == id)?;
    super::status::SyncedSource::from_record(&entry)
}

/// Note the app's ApplySet and desired objects, and make sure the kinds
/// it uses are watched.
async fn register(
    svc: &Service,
    name: &str,
    resolved: &App,
    cluster: &Arc<Cluster>,
    objects: &[Object],
    desired: Vec<ObjectId>,
) {
    let id = Parent::for_app(name, &resolved.sync.namespace).id;
    if let Ok(mut sets) = svc.inner.applysets.lock() {
        sets.insert(id.clone(), name.to_string());
    }
    {
        let mut apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = apps.get_mut(name) {
            e.applyset = Some((cluster.key.clone(), id));
            e.desired = desired;
        }
    }
    if !svc.inner.watch_drift {
        return;
    }
    let live = live_of(svc, cluster);
    for o in objects {
        let key = (cluster.key.clone(), o.id.group.clone(), o.id.kind.clone());
        let new = svc
            .inner
            .watched
            .lock()
            .map(|mut w| w.insert(key))
            .unwrap_or(false);
        if !new {
            continue;
        }
        match cluster.kube.api_resource(&o.api_version, &o.id.kind) {
            Some((ar, _)) => {
                spawn_watch(cluster.clone(), ar, live.clone(), svc.inner.seen_tx.clone());
            }
            None => {
                // Not served yet (a CRD in the same sync): try next time.
                if let Ok(mut w) = svc.inner.watched.lock() {
                    w.remove(&(cluster.key.clone(), o.id.group.clone(), o.id.kind.clone()));
                }
            }
        }
    }
}

/// Whether every kind of `objects` is watched on `cluster`.
fn watched(svc: &Service, cluster: &Cluster, objects: &[Object]) -> bool {
    let Ok(w) = svc.inner.watched.lock() else {
        return false;
    };
    objects
        .iter()
        .all(|o| w.contains(&(cluster.key.clone(), o.id.group.clone(), o.id.kind.clone())))
}

fn live_of(svc: &Service, cluster: &Cluster) -> Arc<Live> {
    let mut l = svc.inner.live.lock().unwrap_or_else(|p| p.into_inner());
    l.entry(cluster.key.clone()).or_default().clone()
}

/// The app's aggregate health: from the live cache when watching, else
/// by reading each object.
async fn health(
    svc: &Service,
    cluster: &Arc<Cluster>,
    objects: &[Object],
    desired: &[ObjectId],
) -> String {
    let mut all: Vec<Health> = Vec::new();
    if svc.inner.watch_drift {
        // Objects just created reach the live cache through the watch a
        // moment later: wait for them briefly, then read the rest.
        let live = live_of(svc, cluster);
        let deadline = Instant::now() + Duration::from_millis(500);
        while desired.iter().any(|id| live.get(id).is_none()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for id in desired {
            let seen = match live.get(id) {
                Some(v) => Some(v),
                None => match objects.iter().find(|o| {
                    o.id.group == id.group && o.id.kind == id.kind && o.id.name == id.name
                }) {
                    Some(o) => {
                        let mut probe = o.clone();
                        probe.id = id.clone();
                        cluster.kube.get(&probe).await.ok().flatten()
                    }
                    None => None,
                },
            };
            all.push(match seen {
                Some(v) => assess(&v),
                None => Health::new(HealthStatus::Missing, ""),
            });
        }
    } else {
        for o in objects {
            let Some(id) = desired
                .iter()
                .find(|d| d.group == o.id.group && d.kind == o.id.kind && d.name == o.id.name)
            else {
                continue;
            };
            let mut probe = o.clone();
            probe.id = id.clone();
            all.push(match cluster.kube.get(&probe).await {
                Ok(Some(v)) => assess(&v),
                Ok(None) => Health::new(HealthStatus::Missing, ""),
                Err(_) => Health::new(HealthStatus::Unknown, ""),
            });
        }
    }
    if all.is_empty() {
        return HealthStatus::Healthy.as_str().to_string();
    }
    worst(&all).as_str().to_string()
}

/// The Targets app `name` lists, loaded (credentials from Secrets read
/// through the service's home cluster).
async fn load_targets(
    svc: &Service,
    name: &str,
    listed: &[String],
) -> Result<Vec<crate::target::plugin::PluginTarget>, String> {
    use crate::target::catalog;
    if listed.is_empty() {
        return Ok(Vec::new());
    }
    let config = &svc.inner.config;
    let mut decls = match &config.in_cluster_targets {
        None => catalog::declarations(config.targets_dir.as_deref(), listed, name)?,
        Some(ns) => {
            let mut all = match &config.targets_dir {
                Some(d) => crate::target::plugin::load_dir(d)
                    .map_err(|e| format!("app {name}: {}", crate::error_chain(&e)))?,
                None => Vec::new(),
            };
            let client = svc
                .home_client()
                .await
                .map_err(|e| format!("app {name}: {}", crate::error_chain(&e)))?;
            for d in super::crd::list_targets(&client, ns)
                .await
                .map_err(|e| format!("app {name}: {e}"))?
            {
                if let Some(f) = all.iter().find(|f| f.name == d.name) {
                    return Err(format!(
                        "app {name}: Target {} is declared twice, in {} and as resource {}; keep one",
                        d.name,
                        f.file.display(),
                        d.file.display()
                    ));
                }
                all.push(d);
            }
            let from = match &config.targets_dir {
                Some(d) => format!("{} or namespace {ns}", d.display()),
                None => format!("namespace {ns}"),
            };
            catalog::pick(&all, listed, name, &from)?
        }
    };
    if catalog::needs_secrets(&decls) {
        let client = svc
            .home_client()
            .await
            .map_err(|e| format!("app {name}: {}", crate::error_chain(&e)))?;
        catalog::read_secrets(&client, &mut decls)
            .await
            .map_err(|e| format!("app {name}: {e}"))?;
    }
    catalog::load(&decls, svc.inner.renderers.runtime(), name)
}

/// The worst health of the target objects `ids` (of `objects`), as their
/// plugins assess them: the first reading of the routed target's watch
/// (a poll of `read` and `health`), bounded in time.
async fn target_health<B: crate::target::Target>(
    routed: &crate::target::routed::Routed<'_, B>,
    objects: &[Object],
    ids: &[ObjectId],
) -> HealthStatus {
    let watched: Vec<Object> = objects
        .iter()
        .filter(|o| {
            ids.iter()
                .any(|id| id.group == o.id.group && id.kind == o.id.kind && id.name == o.id.name)
        })
        .cloned()
        .collect();
    let Ok(mut stream) = routed.watch(&watched).await else {
        return HealthStatus::Unknown;
    };
    let mut seen: Vec<Health> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < watched.len() {
        use futures::StreamExt as _;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok((_, Some(v))))) => seen.push(assess(&v)),
            Ok(Some(Ok((_, None)))) => seen.push(Health::new(HealthStatus::Missing, "")),
            Ok(Some(Err(_))) | Ok(None) | Err(_) => {
                seen.push(Health::new(HealthStatus::Unknown, ""));
                break;
            }
        }
    }
    if seen.is_empty() {
        HealthStatus::Healthy
    } else {
        worst(&seen)
    }
}

/// How soon unhealthy Flux `healthChecks` objects are read again.
const CHECKS_RETRY: Duration = Duration::from_secs(5);

/// The [`HealthStatus`] an app status names.
fn health_status(s: &str) -> HealthStatus {
    [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
    ]
    .into_iter()
    .find(|h| h.as_str() == s)
    .unwrap_or(HealthStatus::Unknown)
}

/// The worst health of a Flux Kustomization's `healthChecks` objects
/// (read now; a missing one is Missing), `None` without any. Flux checks
/// them at each reconciliation; so does the service, at each operation.
async fn check_health(cluster: &Arc<Cluster>, app: &Application) -> Option<HealthStatus> {
    let flux = app.flux.as_ref()?;
    if flux.health_checks.is_empty() {
        return None;
    }
    let mut all = Vec::new();
    for c in &flux.health_checks {
        let ns = c
            .namespace
            .clone()
            .unwrap_or_else(|| flux.namespace.clone());
        let v = serde_json::json!({"apiVersion": c.api_version, "kind": c.kind,
            "metadata": {"name": c.name, "namespace": ns}});
        let h = match crate::object::from_value(v, None, 0) {
            Ok(o) => match cluster.kube.get(&o).await {
                Ok(Some(live)) => assess(&live),
                Ok(None) => Health::new(HealthStatus::Missing, ""),
                Err(_) => Health::new(HealthStatus::Unknown, ""),
            },
            Err(_) => Health::new(HealthStatus::Unknown, ""),
        };
        all.push(h);
    }
    Some(worst(&all))
}

/// A watch saw something: refresh the app's health, and queue a drift
/// operation when someone else changed or deleted one of its objects.
pub(super) fn on_seen(svc: &Service, seen: Seen) {
    let apps_of = |pred: &dyn Fn(&AppEntry) -> bool| -> Vec<String> {
        let apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter()
            .filter(|(_, e)| pred(e))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let (names, drift) = match &seen {
        Seen::Changed { id, applyset, .. } | Seen::Deleted { id, applyset } => {
            let app = svc
                .inner
                .applysets
                .lock()
                .ok()
                .and_then(|s| s.get(applyset).cloned());
            let Some(app) = app else { return };
            // A deletion is always someone else's (prune removes objects
            // from the desired set first).
            let foreign = !matches!(seen, Seen::Changed { foreign: false, .. });
            // An app not compared yet since the start counts every member.
            let desired = apps_of(&|e| e.last.is_none() || e.desired.contains(id));
            (vec![app.clone()], foreign && desired.contains(&app))
        }
        Seen::Listed { group, kind, first } => (
            apps_of(&|e| {
                e.desired
                    .iter()
                    .any(|d| &d.group == group && &d.kind == kind)
            }),
            !first,
        ),
    };
    for name in names {
        refresh_health(svc, &name);
        if drift {
            svc.inner.queue.push(&name, Request::new(Trigger::Drift));
        }
    }
}

fn refresh_health(svc: &Service, name: &str) {
    let status = {
        let mut apps = svc.inner.apps.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = apps.get_mut(name) else { return };
        let Some((key, _)) = &e.applyset else { return };
        let live = {
            let l = svc.inner.live.lock().unwrap_or_else(|p| p.into_inner());
            l.get(key).cloned()
        };
        let Some(live) = live else { return };
        let mut all: Vec<Health> = e
            .desired
            .iter()
            .map(|id| match live.get(id) {
                Some(v) => assess(&v),
                None => Health::new(HealthStatus::Missing, ""),
            })
            .collect();
        all.extend(e.checks_health.map(|c| Health::new(c, "")));
        let h = if all.is_empty() {
            HealthStatus::Healthy
        } else {
            worst(&all)
        };
        if e.status.health == h.as_str() {
            return;
        }
        e.status.health = h.as_str().to_string();
        e.status.reconciled_at = now_rfc3339();
        e.status.clone()
    };
    if let Err(e) = svc.inner.store.put_status(name, &status) {
        tracing::error!(app = %name, error = %crate::error_chain(&e), "cannot store status");
    }
    write_resource_status(svc, name, &status);
    svc.publish(name, Some(status));
}

/// Delete every object of a removed app that asked for cascading deletion
/// (Argo CD's `resources-finalizer.argocd.argoproj.io`).
pub(super) async fn cascade_delete(svc: &Service, name: &str, e: AppEntry) {
    let Some((app, _)) = &e.last else {
        tracing::warn!(app = %name, "cascading deletion asked, but this service never synced the app; its objects are left in place");
        return;
    };
    let Destination::Cluster(dest) = &app.destination else {
        return;
    };
    let cluster = match svc.inner.clusters.get(dest).await {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(app = %name, error = %crate::error_chain(&err), "cascading deletion: cannot reach the cluster; objects left in place");
            return;
        }
    };
    let _permit = cluster.limit.acquire().await;
    let mut opts = app.sync.clone();
    opts.prune = true;
    opts.allow_empty = true;
    opts.dry_run = false;
    opts.deleting_app = true;
    let view = cluster.view();
    match crate::sync::run(&view, Vec::new(), &opts, &NoProgress).await {
        Ok(r) => tracing::info!(app = %name, "cascading deletion: {}", r.summary()),
        Err(err) => {
            tracing::error!(app = %name, error = %crate::error_chain(&err), "cascading deletion failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heal_backoff_is_2s_times_3_capped_at_5m() {
        let h = |count| heal_delay(&HealState { count, last: None });
        assert_eq!(h(0), None);
        assert_eq!(h(1), Some(Duration::from_secs(2)));
        assert_eq!(h(2), Some(Duration::from_secs(6)));
        assert_eq!(h(3), Some(Duration::from_secs(18)));
        assert_eq!(h(6), Some(Duration::from_secs(300)));
        assert_eq!(h(40), Some(Duration::from_secs(300)));
    }
}
