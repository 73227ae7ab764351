//! Batching: concurrent reads, dry-run normalisations and applies of one
//! target, each handed to the plugin in one call.

use super::live::{answer_error, plugin_error};
use super::*;

/// An object waiting to be applied, and who waits for the answer.
pub(super) type Queued = (
    Object,
    tokio::sync::oneshot::Sender<Result<Value, ObjectError>>,
);

/// The answer to one object's read.
pub(super) type ReadAnswer = Result<Option<Value>, ObjectError>;

/// Concurrent `get`s of one target's objects, read together: each caller
/// queues its object, then takes the runner lock; whoever holds it reads
/// everything queued so far in one plugin `read` call and answers each
/// caller. No timer: a read in flight is what makes the next batch.
#[derive(Default)]
pub(super) struct Batch {
    queue: std::sync::Mutex<Vec<(Value, tokio::sync::oneshot::Sender<ReadAnswer>)>>,
    runner: tokio::sync::Mutex<()>,
}

impl<B: Target> Routed<'_, B> {
    /// Apply `obj` through `t`: queued, then applied with every object
    /// queued meanwhile in one plugin `apply` call, under the target's
    /// write lock (one write call at a time per target).
    pub(super) async fn apply_batched(
        &self,
        t: &PluginTarget,
        obj: &Object,
    ) -> Result<Value, ObjectError> {
        let i = self.index(t);
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = self.applies[i].lock() {
            q.push((obj.clone(), tx));
        }
        {
            let _write = self.writes[i].lock().await;
            let items = self.applies[i]
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let answers = self.apply_now(t, &items).await;
                for ((_, tx), a) in items.into_iter().zip(answers) {
                    let _ = tx.send(a);
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(ObjectError::Transport(format!(
                "target {}: the apply of {} was dropped",
                t.name(),
                obj.id
            )))
        })
    }

    /// One plugin `apply` call for `items`, then one `normalise` call for
    /// what came back; an answer (view or error) per item.
    pub(super) async fn apply_now(
        &self,
        t: &PluginTarget,
        items: &[Queued],
    ) -> Vec<Result<Value, ObjectError>> {
        let name = t.name();
        let ctx = self.ctx(t);
        // Write-ahead: recorded before the plugin applies anything.
        let objects: Vec<&Object> = items.iter().map(|(o, _)| o).collect();
        if let Err(e) = self.record(name, &objects).await {
            return items.iter().map(|_| Err(e.clone())).collect();
        }
        let requests = items
            .iter()
            .map(|(o, _)| ApplyRequest {
                object: o.value.to_string(),
                last: self.last_read(t, o),
            })
            .collect();
        let answers = match t.plugin.apply(&ctx, requests).await {
            Ok(a) => a,
            Err(e) => {
                let e = plugin_error(name, &e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let lives: Vec<String> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|l| l.json.clone()))
            .collect();
        let normalised = match t.plugin.normalise(&ctx, lives).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                let e = answer_error(name, e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
            Err(e) => {
                let e = plugin_error(name, &e);
                return items.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let mut normalised = normalised.into_iter();
        items
            .iter()
            .zip(answers)
            .map(|((o, _), a)| {
                let live = a.map_err(|e| answer_error(name, e))?;
                let n: Value = normalised
                    .next()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Value::Null);
                Ok(view(&o.value, n, live.owner.as_deref()))
            })
            .collect()
    }

    /// The comparable form of desired `obj` (what a dry-run apply answers),
    /// batched like reads.
    pub(super) async fn normalise_batched(
        &self,
        t: &PluginTarget,
        obj: &Object,
    ) -> Result<Value, ObjectError> {
        let batch = &self.normalising[self.index(t)];
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = batch.queue.lock() {
            q.push((obj.value.clone(), tx));
        }
        {
            let _run = batch.runner.lock().await;
            let items = batch
                .queue
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let name = t.name();
                let texts = items.iter().map(|(v, _)| v.to_string()).collect();
                let answer = t
                    .plugin
                    .normalise(&self.ctx(t), texts)
                    .await
                    .map_err(|e| plugin_error(name, &e))
                    .and_then(|a| a.map_err(|e| answer_error(name, e)))
                    .and_then(|n| {
                        if n.len() == items.len() {
                            Ok(n)
                        } else {
                            Err(ObjectError::Transport(format!(
                                "target {name}: normalise answered {} objects for {}",
                                n.len(),
                                items.len()
                            )))
                        }
                    });
                match answer {
                    Ok(n) => {
                        for ((_, tx), text) in items.into_iter().zip(n) {
                            let v = serde_json::from_str(&text).map(Some).map_err(|e| {
                                ObjectError::Transport(format!(
                                    "target {name}: normalise answered invalid JSON: {e}"
                                ))
                            });
                            let _ = tx.send(v);
                        }
                    }
                    Err(e) => {
                        for (_, tx) in items {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
        match rx.await {
            Ok(Ok(Some(v))) => Ok(v),
            Ok(Ok(None)) => Err(ObjectError::Transport(format!(
                "target {}: normalise answered nothing for {}",
                t.name(),
                obj.id
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ObjectError::Transport(format!(
                "target {}: the normalise of {} was dropped",
                t.name(),
                obj.id
            ))),
        }
    }

    /// Read `obj` through `t`, batched with the other reads in flight.
    pub(super) async fn read_batched(&self, t: &PluginTarget, obj: &Object) -> ReadAnswer {
        let batch = &self.batches[self.index(t)];
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut q) = batch.queue.lock() {
            q.push((obj.value.clone(), tx));
        }
        {
            let _run = batch.runner.lock().await;
            let items = batch
                .queue
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            if !items.is_empty() {
                let values: Vec<Value> = items.iter().map(|(v, _)| v.clone()).collect();
                match self.read_views(t, &values).await {
                    Ok(views) => {
                        for ((_, tx), v) in items.into_iter().zip(views) {
                            let _ = tx.send(Ok(v));
                        }
                    }
                    Err(e) => {
                        for (_, tx) in items {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(ObjectError::Transport(format!(
                "target {}: the read of {} was dropped",
                t.name(),
                obj.id
            )))
        })
    }
}
