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
//!
//! **An interrupted sync does not run its hooks twice.** With a
//! [`HookLedger`] (the service keeps one per operation, durably), each hook
//! object is annotated [`SYNC_ID_ANNOTATION`] with the operation's id and a
//! `generateName` hook gets a name derived from that id instead of a random
//! one. When the operation is resumed after a crash, a hook that already
//! succeeded (recorded in the ledger before its delete policy ran) is not
//! run again, and a hook object of the same operation that is still live
//! (running or finished) is waited on instead of being deleted and created
//! anew.

use super::plan::{DeletePolicy, Hook, Phase};
use super::wait::{self, WaitError};
use crate::health::{Health, HealthStatus};
use crate::object::{self, Object, ObjectId};
use crate::target::applyset::label;
use crate::target::{ApplyOptions, Deleted, Target, uid_of};
use serde_json::Value;
use std::time::Duration;

pub use crate::target::applyset::HOOK_OF_LABEL;

/// The annotation carrying the id of the operation that created a hook.
pub const SYNC_ID_ANNOTATION: &str = "sluice.dev/sync-id";

type RecordFn = dyn Fn(&str) + Send + Sync;

/// What an operation knows of its own hooks across a restart: its id, the
/// hooks that already succeeded, and where to record the next ones.
#[derive(Clone, Default)]
pub struct HookLedger(Option<std::sync::Arc<Ledger>>);

struct Ledger {
    sync_id: String,
    done: std::collections::HashSet<String>,
    record: Box<RecordFn>,
}

impl std::fmt::Debug for HookLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(l) => write!(f, "HookLedger({}, {} done)", l.sync_id, l.done.len()),
            None => f.write_str("HookLedger(none)"),
        }
    }
}

impl HookLedger {
    /// A ledger for operation `sync_id` in which the hooks keyed `done`
    /// (see [`HookLedger::key`]) already succeeded; `record` is called
    /// with a hook's key when it succeeds, before its delete policy runs,
    /// and must store it durably before returning.
    pub fn new(
        sync_id: impl Into<String>,
        done: impl IntoIterator<Item = String>,
        record: impl Fn(&str) + Send + Sync + 'static,
    ) -> HookLedger {
        HookLedger(Some(std::sync::Arc::new(Ledger {
            sync_id: sync_id.into(),
            done: done.into_iter().collect(),
            record: Box::new(record),
        })))
    }

    /// The key of hook `declared` in `phase`: `PreSync/batch/Job/ns/name`.
    pub fn key(phase: Phase, declared: &ObjectId) -> String {
        format!("{}/{declared}", phase.as_str())
    }

    fn sync_id(&self) -> Option<&str> {
        self.0.as_ref().map(|l| l.sync_id.as_str())
    }

    fn is_done(&self, key: &str) -> bool {
        self.0.as_ref().is_some_and(|l| l.done.contains(key))
    }

    fn record(&self, key: &str) {
        if let Some(l) = &self.0 {
            (l.record)(key);
        }
    }
}

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
    /// It succeeded earlier in this operation, before a restart, and was
    /// not run again (see [`HookLedger`]).
    pub before_restart: bool,
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

/// The alphabet of the API server's `generateName` suffixes (no vowels,
/// no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A suffix like the API server's `generateName` one: 5 characters from
/// its alphabet.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    suffix_of(h.finish())
}

/// The suffix of a `generateName` hook in operation `sync_id`: the same
/// for every attempt of that operation, different between operations.
fn derived_suffix(sync_id: &str, key: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let d = Sha256::digest(format!("{sync_id}\0{key}"));
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    suffix_of(u64::from_le_bytes(b))
}

fn suffix_of(mut n: u64) -> String {
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
/// ApplySet id is `owner`: its `generateName` resolved to a fresh name
/// (with `sync`, the operation id and the hook's ledger key, one derived
/// from both, annotated [`SYNC_ID_ANNOTATION`]), labelled
/// [`HOOK_OF_LABEL`]`=owner`.
pub fn instance(obj: &Object, owner: &str, sync: Option<(&str, &str)>) -> Object {
    let mut value = obj.value.clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        if !is_named(obj)
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            let suffix = match sync {
                Some((id, key)) => derived_suffix(id, key),
                None => random_suffix(),
            };
            let name = format!("{prefix}{suffix}");
            meta.insert("name".into(), Value::String(name));
        }
        meta.remove("generateName");
        if let Some((id, _)) = sync {
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(SYNC_ID_ANNOTATION.into(), Value::String(id.to_string()));
            }
        }
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
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument distinct"
)]
pub async fn run<T: Target>(
    target: &T,
    app: &str,
    owner: &str,
    phase: Phase,
    hooks: &[(&Object, &Hook)],
    timeout: Duration,
    ledger: &HookLedger,
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
        let key = HookLedger::key(phase, &obj.id);
        let inst = instance(obj, owner, ledger.sync_id().map(|id| (id, key.as_str())));
        if ledger.is_done(&key) {
            runs.push(HookRun {
                declared: obj.id.clone(),
                created: inst.id.clone(),
                phase,
                health: Health::healthy(
                    "succeeded in this operation before sluice restarted; not run again",
                ),
                deleted: false,
                before_restart: true,
            });
            continue;
        }
        let fail = |message: String| HookRun {
            declared: obj.id.clone(),
            created: inst.id.clone(),
            phase,
            health: Health::degraded(message),
            deleted: false,
            before_restart: false,
        };
        if is_named(obj) || ledger.sync_id().is_some() {
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
                let same_operation = ledger.sync_id().is_some()
                    && live
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(SYNC_ID_ANNOTATION))
                        .and_then(Value::as_str)
                        == ledger.sync_id();
                if same_operation {
                    // Created by this operation before a restart: wait for
                    // it rather than run it again.
                    let uid = uid_of(&live).map(str::to_string);
                    created.push((inst, uid));
                    declared.push((obj, hook));
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
            // The server's refusal may quote the hook's secret values.
            Err(e) => runs.push(fail(
                inst.scrub(&format!("cannot create hook {}: {e}", obj.id)),
            )),
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
        if finished_ok {
            // Before the delete policy: once recorded, a restart does not
            // run it again even though the object is gone.
            ledger.record(&HookLedger::key(phase, &obj.id));
        }
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
            before_restart: false,
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
        let a = instance(&hook, "applyset-shop-v1", None);
        let b = instance(&hook, "applyset-shop-v1", None);
        assert!(a.id.name.starts_with("migrate-") && a.id.name.len() == "migrate-".len() + 5);
        assert_ne!(a.id.name, b.id.name);
        assert!(a.value["metadata"].get("annotations").is_none());
        // Within one operation the name is the same every time, and
        // another operation gets another one.
        let key = HookLedger::key(Phase::PreSync, &hook.id);
        let c = instance(&hook, "applyset-shop-v1", Some(("op1", &key)));
        let d = instance(&hook, "applyset-shop-v1", Some(("op1", &key)));
        let e = instance(&hook, "applyset-shop-v1", Some(("op2", &key)));
        assert_eq!(c.id.name, d.id.name);
        assert_ne!(c.id.name, e.id.name);
        assert!(c.id.name.starts_with("migrate-") && c.id.name.len() == "migrate-".len() + 5);
        assert_eq!(
            c.value["metadata"]["annotations"][SYNC_ID_ANNOTATION],
            "op1"
        );
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
        let a = instance(&hook, "applyset-shop-v1", None);
        assert_eq!(a.id, hook.id);
        assert_eq!(a.value["metadata"]["labels"]["a"], "b");
    }
}
