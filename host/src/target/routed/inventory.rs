//! The host-kept inventory of what an app applied through target plugins.

use super::*;

/// The recorded target objects: key → (target, object).
#[derive(Debug, Default, Clone)]
pub(super) struct Inventory {
    pub(super) members: BTreeMap<String, (String, Value)>,
}

pub(super) fn key(target: &str, id: &ObjectId) -> String {
    format!("{target}/{}/{}/{}", id.group, id.kind, id.name)
}

impl<B: Target> Routed<'_, B> {
    /// The inventory Secret's identity (and an empty one to probe with).
    pub(super) fn inventory_object(&self, inv: &Inventory) -> Result<Object, ObjectError> {
        let members: Vec<Value> = inv
            .members
            .values()
            .map(|(t, o)| json!({"target": t, "object": o}))
            .collect();
        let data = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&members).unwrap_or_default());
        let v = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": format!("{}-targets", self.parent.name),
                "namespace": self.parent.namespace,
                "annotations": {INVENTORY_OF: self.app},
            },
            "type": INVENTORY_TYPE,
            "data": {"members": data},
        });
        object::from_value(v, None, 0).map_err(|e| ObjectError::Transport(e.to_string()))
    }

    pub(super) fn inventory_err(&self, message: impl std::fmt::Display) -> ObjectError {
        ObjectError::Transport(format!(
            "app {}: the target inventory Secret {}/{}-targets: {message}",
            self.app, self.parent.namespace, self.parent.name
        ))
    }

    /// Load the inventory (once per sync).
    pub(super) async fn load<'g>(
        &self,
        guard: &'g mut Option<Inventory>,
    ) -> Result<&'g mut Inventory, ObjectError> {
        if guard.is_none() {
            let probe = self.inventory_object(&Inventory::default())?;
            let live = self
                .base
                .get(&probe)
                .await
                .map_err(|e| self.inventory_err(e))?;
            let mut inv = Inventory::default();
            if let Some(live) = live {
                let text = live
                    .pointer("/data/members")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| self.inventory_err(format!("data.members is not base64: {e}")))?;
                let members: Vec<Value> = if bytes.is_empty() {
                    Vec::new()
                } else {
                    serde_json::from_slice(&bytes)
                        .map_err(|e| self.inventory_err(format!("data.members is not JSON: {e}")))?
                };
                for m in members {
                    let (Some(t), Some(o)) = (m["target"].as_str(), m.get("object")) else {
                        continue;
                    };
                    if let Ok(obj) = object::from_value(o.clone(), None, 0) {
                        inv.members
                            .insert(key(t, &obj.id), (t.to_string(), o.clone()));
                    }
                }
            }
            *guard = Some(inv);
        }
        Ok(guard.as_mut().expect("set above"))
    }

    pub(super) async fn write(&self, inv: &Inventory) -> Result<(), ObjectError> {
        let obj = self.inventory_object(inv)?;
        self.base
            .apply(
                &obj,
                ApplyOptions {
                    dry_run: false,
                    force: true,
                },
            )
            .await
            .map(drop)
            .map_err(|e| {
                self.inventory_err(format!(
                    "{e}; the destination namespace must exist (create it, or set CreateNamespace=true)"
                ))
            })
    }

    /// Record `objects` (applied through `target`) before they are
    /// applied: one Secret write for a whole batch of applies.
    pub(super) async fn record(
        &self,
        target: &str,
        objects: &[&Object],
    ) -> Result<(), ObjectError> {
        let mut guard = self.inventory.lock().await;
        let inv = self.load(&mut guard).await?;
        let new: Vec<(String, Value)> = objects
            .iter()
            .map(|obj| {
                let mut stored = obj.value.clone();
                if let Some(m) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("namespace");
                }
                (key(target, &obj.id), stored)
            })
            .filter(|(k, o)| inv.members.get(k).map(|(_, x)| x) != Some(o))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let before = inv.clone();
        for (k, o) in new {
            inv.members.insert(k, (target.to_string(), o));
        }
        if let Err(e) = self.write(inv).await {
            *inv = before;
            return Err(e);
        }
        Ok(())
    }

    /// Forget `obj` (deleted, or released); whether it was a member.
    pub(super) async fn forget(&self, target: &str, obj: &Object) -> Result<bool, ObjectError> {
        let mut guard = self.inventory.lock().await;
        let inv = self.load(&mut guard).await?;
        if inv.members.remove(&key(target, &obj.id)).is_none() {
            return Ok(false);
        }
        let snapshot = inv.clone();
        self.write(&snapshot).await?;
        Ok(true)
    }
}
