//! Hooks: objects annotated `argocd.argoproj.io/hook`, run once per sync in
//! their phase (a database migration Job before the rollout).
//!
//! [`run`] runs the hooks of one step: it honours `BeforeHookCreation` (the
//! default: a named hook's previous object is deleted first), creates each
//! hook (a `generateName` gets a fresh random suffix, as the API server
//! would give it, so every sync creates a new object), waits until each one
//! is Healthy (a Job complete, a Pod succeeded) or failed, then deletes it
//! per `HookSucceeded` / `HookFailed`. Hook objects carry the label
//! [`HOOK_OF_LABEL`] with the id of the app's ApplySet and are never
//! ApplySet members, so prune leaves them alone.
//!
//! **Only this app's hooks are ever deleted or overwritten.** Before a named
//! hook is created, the live object with its name is read: if it exists
//! and does not carry `sluice.dev/hook-of=<this app's ApplySet id>` (a
//! user's Job, another app's hook, a hook made by a sluice that labelled
//! hooks with the app's name), the hook fails with an error naming it and
//! the object is left alone. Every delete (`BeforeHookCreation`,
//! `HookSucceeded`, `HookFailed`) carries the UID of the object sluice read
//! or created, so an object recreated by someone else in between survives.

use super::plan::{DeletePolicy, Hook, Phase};
use super::wait::{self, WaitError};
use crate::health::{Health, HealthStatus};
use crate::object::{self, Object, ObjectId};
use crate::target::applyset::label;
use crate::target::{ApplyOptions, Deleted, Target, uid_of};
use serde_json::Value;
use std::time::Duration;

pub use crate::target::applyset::HOOK_OF_LABEL;

/// What happened to one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRun {
    /// The hook as declared (its name may be a `generateName`).
    pub declared: ObjectId,
    /// The object created for this run.
    pub created: ObjectId,
    /// The phase it ran in.
    pub phase: Phase,
    /// How it ended: Healthy when it succeeded.
    pub health: Health,
    /// Whether it was deleted afterwards (delete policy).
    pub deleted: bool,
}

impl HookRun {
    /// Whether the hook succeeded.
    pub fn succeeded(&self) -> bool {
        self.health.is_healthy()
    }

    /// The HOOK column: `PreSync`, `PostSync`, ...
    pub fn column(&self) -> &'static str {
        self.phase.as_str()
    }
}

/// A suffix like the API server's `generateName` one: 5 characters from
/// its alphabet (no vowels, no look-alikes).
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let mut n = h.finish();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

/// Whether the hook has a fixed `metadata.name` (not only `generateName`).
fn is_named(obj: &Object) -> bool {
    obj.value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
}

/// The object to create for one run of hook `obj` of the app whose
/// ApplySet id is `owner`: its `generateName` resolved to a fresh name,
/// labelled [`HOOK_OF_LABEL`]`=owner`.
pub fn instance(obj: &Object, owner: &str) -> Object {
    let mut value = obj.value.clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        if !is_named(obj)
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            let name = format!("{prefix}{}", random_suffix());
            meta.insert("name".into(), Value::String(name));
        }
        meta.remove("generateName");
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(HOOK_OF_LABEL.into(), Value::String(owner.to_string()));
        }
    }
    match object::from_value(value, obj.origin.clone(), 0) {
        Ok(mut o) => {
            o.id.namespace = obj.id.namespace.clone();
            o.sensitive_paths = obj.sensitive_paths.clone();
            o
        }
        // Cannot happen: the declared hook parsed, and we only set a name.
        Err(_) => obj.clone(),
    }
}

/// Run the hooks of one step of `app` (ApplySet id `owner`) in `phase`:
/// create them, wait for each to succeed or fail (at most `timeout`),
/// apply the delete policies. Returns one [`HookRun`] per hook; the step
/// failed when any did not succeed. `on_change` sees every health change
/// of a hook object.
pub async fn run<T: Target>(
    target: &T,
    app: &str,
    owner: &str,
    phase: Phase,
    hooks: &[(&Object, &Hook)],
    timeout: Duration,
    on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
) -> Vec<HookRun> {
    let mut runs = Vec::with_capacity(hooks.len());
    // Each created hook with the UID the target gave it.
    let mut created: Vec<(Object, Option<String>)> = Vec::new();
    let mut declared: Vec<(&Object, &Hook)> = Vec::new();
    let apply = ApplyOptions {
        dry_run: false,
        force: true,
    };
    for &(obj, hook) in hooks {
        let inst = instance(obj, owner);
        let fail = |message: String| HookRun {
            declared: obj.id.clone(),
            created: inst.id.clone(),
            phase,
            health: Health::degraded(message),
            deleted: false,
        };
        if is_named(obj) {
            let previous = match target.get(&inst).await {
                Ok(p) => p,
                Err(e) => {
                    runs.push(fail(format!("cannot read {}: {e}", inst.id)));
                    continue;
                }
            };
            if let Some(live) = previous {
                if label(&live, HOOK_OF_LABEL) != Some(owner) {
                    runs.push(fail(format!(
                        "{} exists and was not created by sluice as a hook of app {app} (it has no label {HOOK_OF_LABEL}={owner}); it was left alone. Rename the hook, or delete that object if it is no longer needed",
                        inst.id
                    )));
                    continue;
                }
                if hook.deletes_on(DeletePolicy::BeforeHookCreation)
                    && let Err(e) = delete_and_confirm(target, &inst, uid_of(&live)).await
                {
                    runs.push(fail(format!(
                        "cannot delete the previous {} (BeforeHookCreation): {e}",
                        obj.id
                    )));
                    continue;
                }
            }
        }
        match target.apply(&inst, apply).await {
            Ok(v) => {
                let uid = uid_of(&v).map(str::to_string);
                created.push((inst, uid));
                declared.push((obj, hook));
            }
            Err(e) => runs.push(fail(format!("cannot create hook {}: {e}", obj.id))),
        }
    }
    let objects: Vec<Object> = created.iter().map(|(o, _)| o.clone()).collect();
    let outcome = wait::wait_for(target, &objects, timeout, on_change).await;
    let health_of = |id: &ObjectId| -> Health {
        match &outcome {
            Ok(_) => Health::healthy("hook succeeded"),
            Err(WaitError::Failed { id: failed, health }) if **failed == *id => health.clone(),
            Err(WaitError::Failed { id: failed, .. }) => Health::new(
                HealthStatus::Progressing,
                format!("not waited for: hook {failed} failed"),
            ),
            Err(e @ WaitError::Watch(crate::target::WatchError::Unsupported { .. })) => {
                Health::new(HealthStatus::Unknown, e.to_string())
            }
            Err(e) => e
                .blocking()
                .into_iter()
                .find(|(b, _)| b == id)
                .map(|(_, h)| {
                    let h = h.unwrap_or_else(|| Health::new(HealthStatus::Unknown, ""));
                    let why = match e {
                        WaitError::Timeout { timeout, .. } => {
                            format!("timed out after {}s", timeout.as_secs())
                        }
                        WaitError::Unchanging { .. } => {
                            "the target does not run hooks (it never changes objects by itself)"
                                .to_string()
                        }
                        other => other.to_string(),
                    };
                    let message = if h.message.is_empty() {
                        why
                    } else {
                        format!("{}; {why}", h.message)
                    };
                    Health::new(h.status, message)
                })
                .unwrap_or_else(|| Health::healthy("hook succeeded")),
        }
    };
    for ((inst, uid), &(obj, hook)) in created.iter().zip(&declared) {
        let health = health_of(&inst.id);
        let finished_ok = health.is_healthy();
        let finished_bad = health.status == HealthStatus::Degraded;
        let delete = (finished_ok && hook.deletes_on(DeletePolicy::HookSucceeded))
            || (finished_bad && hook.deletes_on(DeletePolicy::HookFailed));
        // Only the object created above: a UID precondition when the
        // target gave one.
        let deleted = delete
            && matches!(
                target.delete(inst, uid.as_deref()).await,
                Ok(Deleted::Deleted | Deleted::NotFound)
            );
        runs.push(HookRun {
            declared: obj.id.clone(),
            created: inst.id.clone(),
            phase,
            health,
            deleted,
        });
    }
    runs
}

/// Delete `obj` (only if it still has `uid`) and check it is gone
/// (background deletion removes a Job or Pod at once; an object held by a
/// finalizer is reported).
async fn delete_and_confirm<T: Target>(
    target: &T,
    obj: &Object,
    uid: Option<&str>,
) -> Result<(), String> {
    match target.delete(obj, uid).await.map_err(|e| e.to_string())? {
        Deleted::Deleted | Deleted::NotFound => {}
        Deleted::Replaced => {
            return Err(format!(
                "{} was replaced by another object while sluice was deleting it; sync again",
                obj.id
            ));
        }
    }
    match target.get(obj).await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(format!(
            "{} is still terminating (a finalizer holds it); delete it and sync again",
            obj.id
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generate_name_gets_a_fresh_name_and_the_hook_label() {
        let hook = object::from_value(
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"generateName": "migrate-", "namespace": "p"}}),
            None,
            0,
        )
        .expect("valid");
        let a = instance(&hook, "applyset-shop-v1");
        let b = instance(&hook, "applyset-shop-v1");
        assert!(a.id.name.starts_with("migrate-") && a.id.name.len() == "migrate-".len() + 5);
        assert_ne!(a.id.name, b.id.name);
        assert_eq!(
            a.value["metadata"]["labels"][HOOK_OF_LABEL],
            "applyset-shop-v1"
        );
        assert!(a.value["metadata"].get("generateName").is_none());
    }

    #[test]
    fn a_named_hook_keeps_its_name() {
        let hook = object::from_value(
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "migrate", "namespace": "p", "labels": {"a": "b"}}}),
            None,
            0,
        )
        .expect("valid");
        let a = instance(&hook, "applyset-shop-v1");
        assert_eq!(a.id, hook.id);
        assert_eq!(a.value["metadata"]["labels"]["a"], "b");
    }
}
