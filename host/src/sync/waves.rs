//! Phases and waves in the sync engine: the glue between [`plan`], the
//! apply loop, [`hooks`] and [`wait`].
//!
//! [`Waves::split`] plans the desired objects and takes the hooks (and
//! `Skip` objects) out of them, so only ApplySet members reach the apply
//! loop. [`Waves::steps`] gives the loop its steps, each as groups of member
//! indices in apply order. After each step the loop calls
//! [`Waves::after_step`]: it runs the step's hooks, then waits until every
//! member of the step is Healthy before the next step starts (and after the
//! last one with `--wait`). A failure stops the sync: later steps are not
//! applied, and [`Waves::fail`] runs the SyncFail hooks.

use super::plan::{self, Phase, Plan, PlanError};
use super::wait::{self, WaitError};
use super::{Action, Row, RowStatus, SyncOptions, hooks, order};
use crate::health::Health;
use crate::object::{Object, ObjectId};
use crate::target::Target;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One step for the apply loop.
#[derive(Debug, Clone)]
pub struct StepGroups {
    /// The phase.
    pub phase: Phase,
    /// The wave.
    pub wave: i64,
    /// Member indices grouped for concurrent apply (kind order).
    pub groups: Vec<Vec<usize>>,
    /// Indices of the step's hooks in [`Waves::hooks`].
    pub hooks: Vec<usize>,
}

/// The planned sync, hooks kept apart from the members.
#[derive(Debug)]
pub struct Waves {
    /// The plan.
    pub plan: Plan,
    /// The hook objects as declared.
    pub hooks: Vec<Object>,
    /// The ApplySet id of the app, which labels its hooks.
    owner: String,
    /// The order of the targets' own kinds.
    kind_order: order::KindOrder,
    started: Instant,
}

/// Why the sync stopped before its last step.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The phase of the step that failed.
    pub phase: Phase,
    /// Its wave.
    pub wave: i64,
    /// What failed, naming the object(s).
    pub reason: String,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sync stopped in {} wave {}: {}",
            self.phase, self.wave, self.reason
        )
    }
}

impl Waves {
    /// Plan `objects` (namespaces defaulted) and split them: the returned
    /// objects are the ApplySet members; hooks stay in [`Waves::hooks`];
    /// `Skip` objects are dropped.
    pub fn split(objects: Vec<Object>) -> Result<(Vec<Object>, Waves), PlanError> {
        let plan = plan::plan(&objects)?;
        let skipped: HashSet<&ObjectId> = plan.skipped.iter().collect();
        let (hooks, members): (Vec<Object>, Vec<Object>) = objects
            .into_iter()
            .filter(|o| !skipped.contains(&o.id))
            .partition(|o| plan.is_hook(&o.id));
        Ok((
            members,
            Waves {
                plan,
                hooks,
                owner: String::new(),
                kind_order: order::KindOrder::new(),
                started: Instant::now(),
            },
        ))
    }

    /// Order the targets' own kinds as their plugins declare them.
    pub fn with_kind_order(mut self, kind_order: order::KindOrder) -> Waves {
        self.kind_order = kind_order;
        self
    }

    /// Set the ApplySet id of the app, which labels (and so owns) the hook
    /// objects this sync creates.
    pub fn with_owner(mut self, applyset_id: &str) -> Waves {
        self.owner = applyset_id.to_string();
        self
    }

    /// Why this sync has to watch objects (more than one step, hooks, or
    /// `wait`), if it has to.
    pub fn needs_watch(&self, wait: bool) -> Option<String> {
        let mut why = Vec::new();
        if self.plan.steps.len() > 1 {
            why.push(format!("{} phase/wave steps", self.plan.steps.len()));
        }
        match self.hooks.len() {
            0 => {}
            1 => why.push("1 hook".to_string()),
            n => why.push(format!("{n} hooks")),
        }
        if wait {
            why.push("--wait".to_string());
        }
        (!why.is_empty()).then(|| why.join(", "))
    }

    fn steps_of(&self, steps: &[plan::Step], members: &[Object]) -> Vec<StepGroups> {
        let member_index: HashMap<&ObjectId, usize> = members
            .iter()
            .enumerate()
            .map(|(i, o)| (&o.id, i))
            .collect();
        let hook_index: HashMap<&ObjectId, usize> = self
            .hooks
            .iter()
            .enumerate()
            .map(|(i, o)| (&o.id, i))
            .collect();
        steps
            .iter()
            .map(|s| {
                let idx: Vec<usize> = s
                    .objects
                    .iter()
                    .filter_map(|id| member_index.get(id).copied())
                    .collect();
                let subset: Vec<Object> = idx.iter().map(|&i| members[i].clone()).collect();
                StepGroups {
                    phase: s.phase,
                    wave: s.wave,
                    groups: order::groups_in(&subset, &self.kind_order)
                        .into_iter()
                        .map(|g| g.into_iter().map(|j| idx[j]).collect())
                        .collect(),
                    hooks: s
                        .objects
                        .iter()
                        .filter_map(|id| hook_index.get(id).copied())
                        .collect(),
                }
            })
            .collect()
    }

    /// The steps of the sync, for `members` as returned by
    /// [`Waves::split`] (indices into it).
    pub fn steps(&self, members: &[Object]) -> Vec<StepGroups> {
        self.steps_of(&self.plan.steps, members)
    }

    /// Groups of `extraneous` indices in prune order: highest wave first,
    /// each wave in reverse kind order ([`plan::prune_order`]). An object
    /// with an invalid wave annotation falls back to reverse kind order
    /// alone, so a bad annotation never blocks a prune.
    pub fn prune_groups(extraneous: &[Object], kind_order: &order::KindOrder) -> Vec<Vec<usize>> {
        let index: HashMap<&ObjectId, usize> = extraneous
            .iter()
            .enumerate()
            .map(|(i, o)| (&o.id, i))
            .collect();
        let Ok(steps) = plan::prune_order(extraneous) else {
            return order::groups_in(extraneous, kind_order)
                .into_iter()
                .rev()
                .collect();
        };
        let mut out = Vec::new();
        let mut placed: HashSet<usize> = HashSet::new();
        for s in &steps {
            let idx: Vec<usize> = s
                .objects
                .iter()
                .filter_map(|id| index.get(id).copied())
                .collect();
            let subset: Vec<Object> = idx.iter().map(|&i| extraneous[i].clone()).collect();
            for g in order::groups_in(&subset, kind_order).into_iter().rev() {
                let g: Vec<usize> = g.into_iter().map(|j| idx[j]).collect();
                placed.extend(&g);
                out.push(g);
            }
        }
        // Objects prune_order leaves out (annotated as hooks) still go.
        let rest: Vec<usize> = (0..extraneous.len())
            .filter(|i| !placed.contains(i))
            .collect();
        if !rest.is_empty() {
            out.push(rest);
        }
        out
    }

    /// Run `step`'s hooks, then wait until its members are Healthy (when
    /// it is not the last step, or `opts.wait` is set), watching them
    /// through the target. Adds the hook rows and the members' health to
    /// `rows`. Does nothing for a dry-run. Members left alone
    /// (`Skipped`) are not waited for.
    pub async fn after_step<T: Target>(
        &self,
        target: &T,
        opts: &SyncOptions,
        members: &[Object],
        step: &StepGroups,
        last: bool,
        rows: &mut Vec<Row>,
    ) -> Result<(), Stopped> {
        if opts.dry_run {
            return Ok(());
        }
        let stop = |reason: String| Stopped {
            phase: step.phase,
            wave: step.wave,
            reason,
        };
        let mut on_change = |id: &ObjectId, h: &Health| {
            tracing::info!(app = %opts.app, phase = %step.phase, wave = step.wave, "{id}: {h}");
            if !h.is_healthy() {
                opts.status.show(&format!(
                    "{} wave {}: waiting for {id}: {h}",
                    step.phase, step.wave
                ));
            }
        };
        let hooks = self
            .run_hooks(target, opts, step.phase, &step.hooks, rows)
            .await;
        if let Some(reason) = hooks {
            return Err(stop(reason));
        }
        let ids: HashSet<&ObjectId> = step
            .groups
            .iter()
            .flatten()
            .map(|&i| &members[i].id)
            .collect();
        let failed: Vec<String> = rows
            .iter()
            .filter(|r| r.status == RowStatus::SyncFailed && ids.contains(&r.id()))
            .map(|r| r.id().to_string())
            .collect();
        if !failed.is_empty() {
            return Err(stop(format!("{} failed to apply", failed.join(", "))));
        }
        if last && !opts.wait {
            return Ok(());
        }
        let skipped: HashSet<ObjectId> = rows
            .iter()
            .filter(|r| r.status == RowStatus::Skipped)
            .map(Row::id)
            .collect();
        let objs: Vec<Object> = step
            .groups
            .iter()
            .flatten()
            .map(|&i| &members[i])
            .filter(|o| !skipped.contains(&o.id))
            .cloned()
            .collect();
        let timeout = opts.timeout.saturating_sub(self.started.elapsed());
        let result = wait::wait_for(target, &objs, timeout, &mut on_change).await;
        let healths: Vec<(ObjectId, Option<Health>)> = match &result {
            Ok(h) => h
                .iter()
                .map(|(i, h)| (i.clone(), Some(h.clone())))
                .collect(),
            Err(e) => e.blocking(),
        };
        for (id, h) in healths {
            if let (Some(h), Some(row)) = (h, rows.iter_mut().find(|r| r.id() == id)) {
                row.health = Some(h.status.to_string());
                if !h.is_healthy() && !h.message.is_empty() {
                    row.message = format!("{}; {}", row.message, h.message);
                }
            }
        }
        if result.is_ok() {
            for row in rows
                .iter_mut()
                .filter(|r| ids.contains(&r.id()) && r.status != RowStatus::Skipped)
            {
                row.health.get_or_insert_with(|| "Healthy".into());
            }
        }
        result.map(|_| ()).map_err(|e| stop(wait_reason(&e)))
    }

    /// Run hooks `which` (indices into [`Waves::hooks`]) of `phase`; adds
    /// their rows. Returns why they failed, if they did.
    async fn run_hooks<T: Target>(
        &self,
        target: &T,
        opts: &SyncOptions,
        phase: Phase,
        which: &[usize],
        rows: &mut Vec<Row>,
    ) -> Option<String> {
        if which.is_empty() {
            return None;
        }
        let list: Vec<(&Object, &plan::Hook)> = which
            .iter()
            .filter_map(|&i| {
                let o = &self.hooks[i];
                self.plan.hook(&o.id).map(|h| (o, h))
            })
            .collect();
        let timeout = opts.timeout.saturating_sub(self.started.elapsed());
        let runs = hooks::run(
            target,
            &opts.app,
            &self.owner,
            phase,
            &list,
            timeout,
            &opts.hooks,
            &mut |id, h| {
                tracing::info!(app = %opts.app, %phase, "hook {id}: {h}");
                if !h.is_healthy() {
                    opts.status
                        .show(&format!("{phase}: waiting for hook {id}: {h}"));
                }
            },
        )
        .await;
        let mut failed = Vec::new();
        for run in &runs {
            let ok = run.succeeded();
            let mut row = Row::new(
                &run.created,
                if ok {
                    RowStatus::Synced
                } else {
                    RowStatus::SyncFailed
                },
                if ok && !run.before_restart {
                    Action::Created
                } else {
                    Action::None
                },
                match (ok, run.deleted) {
                    _ if run.before_restart => run.health.message.clone(),
                    (true, true) => "hook succeeded; deleted (HookSucceeded)".to_string(),
                    (true, false) => "hook succeeded".to_string(),
                    (false, true) => {
                        format!("hook failed: {}; deleted (HookFailed)", run.health.message)
                    }
                    (false, false) => format!("hook failed: {}", run.health.message),
                },
            );
            row.hook = Some(run.column().to_string());
            row.health = Some(run.health.status.to_string());
            rows.push(row);
            if !ok {
                failed.push(format!("hook {} ({})", run.created, run.health));
            }
        }
        (!failed.is_empty()).then(|| failed.join(", "))
    }

    /// The sync failed: mark the members of steps after `from` as not
    /// applied, and run the SyncFail hooks.
    pub async fn fail<T: Target>(
        &self,
        target: &T,
        opts: &SyncOptions,
        members: &[Object],
        later: &[StepGroups],
        stopped: &Stopped,
        rows: &mut Vec<Row>,
    ) {
        for step in later {
            for &i in step.groups.iter().flatten() {
                rows.push(Row::new(
                    &members[i].id,
                    RowStatus::SyncFailed,
                    Action::None,
                    format!("not applied: {stopped}"),
                ));
            }
        }
        if opts.dry_run {
            return;
        }
        for step in self.steps_of(&self.plan.sync_fail, members) {
            let _ = self
                .run_hooks(target, opts, Phase::SyncFail, &step.hooks, rows)
                .await;
        }
    }
}

/// What a failed wait means for the user.
fn wait_reason(e: &WaitError) -> String {
    match e {
        WaitError::Timeout { .. } => format!("{e}; raise --timeout or fix the objects"),
        other => other.to_string(),
    }
}

impl super::Report {
    /// The app's health: the worst health of the objects waited for (Argo
    /// CD's order), `None` when nothing was waited for.
    pub fn health(&self) -> Option<&'static str> {
        use crate::health::{HealthStatus, worst};
        let parse = |s: &str| match s {
            "Healthy" => HealthStatus::Healthy,
            "Progressing" => HealthStatus::Progressing,
            "Degraded" => HealthStatus::Degraded,
            "Suspended" => HealthStatus::Suspended,
            "Missing" => HealthStatus::Missing,
            _ => HealthStatus::Unknown,
        };
        let all: Vec<Health> = self
            .rows
            .iter()
            .filter_map(|r| r.health.as_deref())
            .map(|h| Health::new(parse(h), ""))
            .collect();
        (!all.is_empty()).then(|| worst(&all).as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(api: &str, kind: &str, name: &str, wave: &str) -> Object {
        crate::object::from_value(
            json!({"apiVersion": api, "kind": kind,
                "metadata": {"name": name, "annotations": {"sluice.dev/sync-wave": wave}}}),
            None,
            0,
        )
        .expect("valid")
    }

    #[test]
    fn prune_runs_highest_wave_first_then_reverse_kind_order() {
        let ext = vec![
            obj("v1", "Namespace", "ns", "0"),
            obj("v1", "ConfigMap", "cm", "0"),
            obj("apps/v1", "Deployment", "late", "3"),
            obj("v1", "Secret", "bad", "x"),
        ];
        // An invalid wave: reverse kind order alone.
        let fallback = Waves::prune_groups(&ext, &order::KindOrder::new());
        assert_eq!(fallback.first(), Some(&vec![2]));
        let ext = &ext[..3];
        assert_eq!(
            Waves::prune_groups(ext, &order::KindOrder::new()),
            vec![vec![2], vec![1], vec![0]]
        );
    }

    #[test]
    fn split_keeps_hooks_and_skipped_out_of_the_members() {
        let mut hook = obj("batch/v1", "Job", "migrate", "0");
        hook.value["metadata"]["annotations"]["argocd.argoproj.io/hook"] = json!("PreSync");
        let mut skip = obj("v1", "ConfigMap", "skip", "0");
        skip.value["metadata"]["annotations"]["argocd.argoproj.io/hook"] = json!("Skip");
        let (members, waves) =
            Waves::split(vec![obj("v1", "ConfigMap", "cm", "1"), hook, skip]).expect("plan");
        assert_eq!(members.len(), 1);
        assert_eq!(waves.hooks.len(), 1);
        let steps = waves.steps(&members);
        assert_eq!(steps.len(), 2);
        assert_eq!(
            (steps[0].phase, steps[0].hooks.clone()),
            (Phase::PreSync, vec![0])
        );
        assert_eq!((steps[1].wave, steps[1].groups.clone()), (1, vec![vec![0]]));
    }
}
