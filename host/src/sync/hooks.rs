//! Hooks: objects annotated `argocd.argoproj.io/hook`, run once per sync in
//! their phase (a database migration Job before the rollout).
//!
//! [`run`] runs the hooks of one step: it honours `BeforeHookCreation` (the
//! default: a named hook's previous object is deleted first), creates each
//! hook (a `generateName` gets a fresh random suffix, as the API server
//! would give it, so every sync creates a new object), waits until each one
//! is Healthy (a Job complete, a Pod succeeded) or failed, then deletes it
//! per `HookSucceeded` / `HookFailed`. Hook objects carry the label
//! [`HOOK_OF_LABEL`] with the app's name and are never ApplySet members, so
//! prune leaves them alone.

use super::plan::{DeletePolicy, Hook, Phase};
use super::wait::{WaitError, Watcher};
use crate::health::{Health, HealthStatus};
use crate::object::{self, Object, ObjectId};
use crate::target::{ApplyOptions, Target};
use serde_json::Value;
use std::time::Duration;

/// Label on every hook object sluice creates: the app's name.
pub const HOOK_OF_LABEL: &str = "sluice.dev/hook-of";

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

/// The object to create for one run of hook `obj` of `app`: its
/// `generateName` resolved to a fresh name, labelled [`HOOK_OF_LABEL`].
pub fn instance(obj: &Object, app: &str) -> Object {
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
            labels.insert(HOOK_OF_LABEL.into(), Value::String(app.to_string()));
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

/// Run the hooks of one step of `app` in `phase`: create them, wait for each
/// to succeed or fail (at most `timeout`), apply the delete policies.
/// Returns one [`HookRun`] per hook; the step failed when any did not
/// succeed. `on_change` sees every health change of a hook object.
pub async fn run<T: Target>(
    target: &T,
    watcher: &Watcher,
    app: &str,
    phase: Phase,
    hooks: &[(&Object, &Hook)],
    timeout: Duration,
    on_change: &mut (dyn FnMut(&ObjectId, &Health) + Send),
) -> Vec<HookRun> {
    let mut runs = Vec::with_capacity(hooks.len());
    let mut created: Vec<Object> = Vec::new();
    let mut declared: Vec<(&Object, &Hook)> = Vec::new();
    let apply = ApplyOptions {
        dry_run: false,
        force: true,
    };
    for &(obj, hook) in hooks {
        let inst = instance(obj, app);
        let fail = |message: String| HookRun {
            declared: obj.id.clone(),
            created: inst.id.clone(),
            phase,
            health: Health::degraded(message),
            deleted: false,
        };
        if hook.deletes_on(DeletePolicy::BeforeHookCreation)
            && is_named(obj)
            && let Err(e) = delete_and_confirm(target, &inst).await
        {
            runs.push(fail(format!(
                "cannot delete the previous {} (BeforeHookCreation): {e}",
                obj.id
            )));
            continue;
        }
        match target.apply(&inst, apply).await {
            Ok(_) => {
                created.push(inst);
                declared.push((obj, hook));
            }
            Err(e) => runs.push(fail(format!("cannot create hook {}: {e}", obj.id))),
        }
    }
    let outcome = watcher.wait(target, &created, timeout, on_change).await;
    let health_of = |id: &ObjectId| -> Health {
        match &outcome {
            Ok(_) => Health::healthy("hook succeeded"),
            Err(WaitError::Failed { id: failed, health }) if **failed == *id => health.clone(),
            Err(WaitError::Failed { id: failed, .. }) => Health::new(
                HealthStatus::Progressing,
                format!("not waited for: hook {failed} failed"),
            ),
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
    for (inst, &(obj, hook)) in created.iter().zip(&declared) {
        let health = health_of(&inst.id);
        let finished_ok = health.is_healthy();
        let finished_bad = health.status == HealthStatus::Degraded;
        let delete = (finished_ok && hook.deletes_on(DeletePolicy::HookSucceeded))
            || (finished_bad && hook.deletes_on(DeletePolicy::HookFailed));
        let deleted = delete && target.delete(inst).await.is_ok();
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

/// Delete `obj` and check it is gone (background deletion removes a Job or
/// Pod at once; an object held by a finalizer is reported).
async fn delete_and_confirm<T: Target>(target: &T, obj: &Object) -> Result<(), String> {
    target.delete(obj).await.map_err(|e| e.to_string())?;
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
        let a = instance(&hook, "shop");
        let b = instance(&hook, "shop");
        assert!(a.id.name.starts_with("migrate-") && a.id.name.len() == "migrate-".len() + 5);
        assert_ne!(a.id.name, b.id.name);
        assert_eq!(a.value["metadata"]["labels"][HOOK_OF_LABEL], "shop");
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
        let a = instance(&hook, "shop");
        assert_eq!(a.id, hook.id);
        assert_eq!(a.value["metadata"]["labels"]["a"], "b");
    }
}
