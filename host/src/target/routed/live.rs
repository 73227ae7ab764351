//! Views: how target objects look to the sync engine, and polling them.

use super::*;

/// The engine-facing view: `normalised` with the metadata of `meta_from`
/// (namespace dropped) and the `part-of` label set to `owner`.
pub(super) fn view(meta_from: &Value, mut normalised: Value, owner: Option<&str>) -> Value {
    let mut meta = meta_from
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
        let labels = m.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            match owner {
                Some(o) => {
                    l.insert(PART_OF_LABEL.into(), Value::String(o.to_string()));
                }
                None => {
                    l.remove(PART_OF_LABEL);
                }
            }
            if l.is_empty() {
                m.remove("labels");
            }
        }
    }
    if let Some(o) = normalised.as_object_mut() {
        o.insert("metadata".into(), meta);
    }
    normalised
}

/// The label an object carries as desired (for dry-run views).
pub(super) fn desired_owner(v: &Value) -> Option<&str> {
    crate::target::applyset::label(v, PART_OF_LABEL)
}

pub(super) fn answer_error(target: &str, e: PluginAnswer) -> ObjectError {
    match e {
        PluginAnswer::Invalid(m) => ObjectError::Rejected {
            code: 422,
            message: format!("target {target}: invalid: {m}"),
        },
        PluginAnswer::Rejected(m) => ObjectError::Rejected {
            code: 400,
            message: format!("target {target}: {m}"),
        },
        PluginAnswer::NotOwned(m) => ObjectError::Rejected {
            code: 403,
            message: format!("target {target}: {m}"),
        },
        PluginAnswer::Unavailable(m) => ObjectError::Transport(format!("target {target}: {m}")),
    }
}

pub(super) fn plugin_error(target: &str, e: &crate::plugin::PluginError) -> ObjectError {
    ObjectError::Transport(format!("target {target}: {}", crate::error_chain(e)))
}

/// The call context of target `t` for `app` with ownership mark `owner`.
pub(super) fn ctx_for(t: &PluginTarget, app: &str, owner: &str) -> CallContext {
    CallContext {
        target: t.name().to_string(),
        params: t.settings.clone(),
        origins: t
            .plugin
            .outbound()
            .origins
            .iter()
            .map(ToString::to_string)
            .collect(),
        app: app.to_string(),
        owner: owner.to_string(),
    }
}

/// `read` then `normalise` of `objects` through `t`: each as a view, with
/// the JSON `read` returned.
pub(super) async fn read_views(
    t: &PluginTarget,
    ctx: &CallContext,
    objects: &[Value],
) -> Result<Vec<Option<(Value, String)>>, ObjectError> {
    let name = t.name();
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    let lives: Vec<Option<LiveObject>> = t
        .plugin
        .read(ctx, texts)
        .await
        .map_err(|e| plugin_error(name, &e))?
        .map_err(|e| answer_error(name, e))?;
    if lives.len() != objects.len() {
        return Err(ObjectError::Transport(format!(
            "target {name}: read answered {} objects for {}",
            lives.len(),
            objects.len()
        )));
    }
    let present: Vec<String> = lives.iter().flatten().map(|l| l.json.clone()).collect();
    let normalised = if present.is_empty() {
        Vec::new()
    } else {
        t.plugin
            .normalise(ctx, present)
            .await
            .map_err(|e| plugin_error(name, &e))?
            .map_err(|e| answer_error(name, e))?
    };
    let mut normalised = normalised.into_iter();
    let mut out = Vec::with_capacity(objects.len());
    for (obj, live) in objects.iter().zip(lives) {
        let Some(live) = live else {
            out.push(None);
            continue;
        };
        let n = normalised.next().ok_or_else(|| {
            ObjectError::Transport(format!("target {name}: normalise answered too few objects"))
        })?;
        let n: Value = serde_json::from_str(&n).map_err(|e| {
            ObjectError::Transport(format!(
                "target {name}: normalise answered invalid JSON: {e}"
            ))
        })?;
        out.push(Some((view(obj, n, live.owner.as_deref()), live.json)));
    }
    Ok(out)
}

/// The health of a view as kstatus conditions (none when healthy).
pub(super) fn with_health(mut v: Value, status: HealthStatus, message: &str) -> Value {
    let cond = match status {
        HealthStatus::Healthy => return v,
        HealthStatus::Progressing => "Reconciling",
        HealthStatus::Degraded => "Stalled",
        HealthStatus::Unknown => return v,
    };
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "status".into(),
            json!({"conditions": [{"type": cond, "status": "True", "message": message}]}),
        );
    }
    v
}

/// Poll `objects` of target `t` every `every`: first their state, then
/// each change.
pub(super) fn poll(
    t: PluginTarget,
    ctx: CallContext,
    objects: Vec<Object>,
    every: Duration,
) -> BoxStream<'static, LiveUpdate> {
    struct St {
        t: PluginTarget,
        ctx: CallContext,
        objects: Vec<Object>,
        last: HashMap<ObjectId, Option<Value>>,
        first: bool,
        every: Duration,
    }
    let st = St {
        t,
        ctx,
        objects,
        last: HashMap::new(),
        first: true,
        every,
    };
    futures::stream::unfold(st, |mut st| async move {
        if !st.first {
            tokio::time::sleep(st.every).await;
        }
        st.first = false;
        let values: Vec<Value> = st.objects.iter().map(|o| o.value.clone()).collect();
        let mut out = Vec::new();
        match read_views(&st.t, &st.ctx, &values).await {
            Err(e) => {
                // A failed poll is reported once per object and retried.
                for o in &st.objects {
                    out.push(Err(WatchError::Object {
                        id: Box::new(o.id.clone()),
                        message: e.to_string(),
                    }));
                }
                return Some((out, st));
            }
            Ok(views) => {
                for (o, v) in st.objects.iter().zip(views) {
                    let v = match v.map(|(v, _)| v) {
                        Some(v) => {
                            let h = st.t.plugin.health(&st.ctx, v.to_string()).await;
                            match h {
                                Ok(Ok(h)) => Some(with_health(v, h.status, &h.message)),
                                _ => Some(v),
                            }
                        }
                        None => None,
                    };
                    if st.last.get(&o.id) != Some(&v) {
                        st.last.insert(o.id.clone(), v.clone());
                        out.push(Ok((o.id.clone(), v)));
                    }
                }
            }
        }
        Some((out, st))
    })
    .flat_map(futures::stream::iter)
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_carries_the_desired_metadata_and_the_live_mark() {
        let desired = json!({"apiVersion": "dns.sluice.dev/v1alpha1", "kind": "RecordSet",
            "metadata": {"name": "www", "namespace": "prod", "labels": {PART_OF_LABEL: "ours", "team": "a"},
                         "annotations": {"x": "y"}},
            "spec": {"records": ["b", "a"]}});
        let normalised = json!({"apiVersion": "dns.sluice.dev/v1alpha1", "kind": "RecordSet",
            "metadata": {"name": "www"}, "spec": {"records": ["a", "b"]}});
        let ours = view(&desired, normalised.clone(), Some("ours"));
        assert_eq!(ours["metadata"]["labels"][PART_OF_LABEL], "ours");
        assert_eq!(ours["metadata"]["annotations"]["x"], "y");
        assert!(ours["metadata"].get("namespace").is_none());
        assert_eq!(ours["spec"]["records"], json!(["a", "b"]));
        // Unmarked live: no part-of label, so the engine sees it as not
        // this app's.
        let unmarked = view(&desired, normalised.clone(), None);
        assert!(unmarked["metadata"]["labels"].get(PART_OF_LABEL).is_none());
        assert_eq!(unmarked["metadata"]["labels"]["team"], "a");
        let other = view(&desired, normalised, Some("theirs"));
        assert_eq!(other["metadata"]["labels"][PART_OF_LABEL], "theirs");
    }

    #[test]
    fn health_becomes_kstatus_conditions() {
        let v = json!({"spec": {}});
        assert!(
            with_health(v.clone(), HealthStatus::Healthy, "")
                .get("status")
                .is_none()
        );
        let p = with_health(v, HealthStatus::Degraded, "zone broken");
        assert_eq!(p["status"]["conditions"][0]["type"], "Stalled");
        assert_eq!(
            crate::health::assess(&p).status,
            crate::health::HealthStatus::Degraded
        );
    }
}
