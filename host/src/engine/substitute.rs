//! Flux's post-build variable substitution over rendered objects
//! (`postBuild.substitute` and `substituteFrom`; the syntax is in
//! [`crate::app::flux::substitute`]).
//!
//! Inline variables need nothing but the render, so [`super::App::render`]
//! substitutes them itself. Variables from ConfigMaps and Secrets live in
//! the destination cluster, which a render does not touch: when an app has
//! `substituteFrom`, `App::render` leaves the objects as rendered and the
//! caller, once connected to the target, calls [`substitute_from`], which
//! reads them and substitutes everything in one pass, as Flux does.

use super::EngineError;
use crate::app::flux::{self, SubstituteFrom};
use crate::object::{self, Object};
use crate::target::Target;
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An app's post-build variables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Substitution {
    /// The app.
    pub app: String,
    /// `postBuild.substitute`.
    pub vars: BTreeMap<String, String>,
    /// `postBuild.substituteFrom`.
    pub from: Vec<SubstituteFrom>,
    /// Where the `from` objects are.
    pub namespace: String,
}

impl Substitution {
    /// Substitute `vars` into every object of `objects`; the error names
    /// the object.
    pub fn apply(
        &self,
        objects: &mut [Object],
        vars: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        for (n, o) in objects.iter_mut().enumerate() {
            let label = format!("{} {}", o.id.kind, o.id.name);
            let new = flux::substitute(&o.value, vars, &label).map_err(|e| e.to_string())?;
            if let Some(v) = new {
                let mut obj =
                    object::from_value(v, o.origin.clone(), n).map_err(|e| e.to_string())?;
                obj.sensitive_paths = std::mem::take(&mut o.sensitive_paths);
                *o = obj;
            }
        }
        object::check_unique(objects).map_err(|e| e.to_string())
    }
}

/// Read the `substituteFrom` ConfigMaps and Secrets of `s` from `target`
/// (later ones win, `substitute` wins over all, newlines removed, as Flux
/// does), then substitute into `objects`. A missing object fails unless
/// it is `optional`.
pub async fn substitute_from<T: Target>(
    target: &T,
    s: &Substitution,
    objects: &mut [Object],
) -> Result<(), EngineError> {
    let mut vars = BTreeMap::new();
    if !s.from.is_empty() {
        // The target resolves kinds through discovery.
        target
            .discover()
            .await
            .map_err(|e| EngineError::SubstituteFrom {
                app: s.app.clone(),
                what: format!("objects in namespace {}", s.namespace),
                message: e.to_string(),
            })?;
    }
    for f in &s.from {
        let what = format!("{}/{} in namespace {}", f.kind, f.name, s.namespace);
        let err = |message: String| EngineError::SubstituteFrom {
            app: s.app.clone(),
            what: what.clone(),
            message,
        };
        let probe = object::from_value(
            json!({"apiVersion": "v1", "kind": f.kind, "metadata": {"name": f.name, "namespace": s.namespace}}),
            None,
            0,
        )
        .map_err(|e| err(e.to_string()))?;
        let live = target.get(&probe).await.map_err(|e| err(e.to_string()))?;
        let Some(live) = live else {
            if f.optional {
                continue;
            }
            return Err(err(
                "not found; create it, or mark the reference optional: true".into(),
            ));
        };
        let data = live
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in data {
            let text = v.as_str().unwrap_or_default();
            let value = if f.kind == "Secret" {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| err(format!("data key {k} is not base64: {e}")))?;
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                text.to_string()
            };
            vars.insert(k, value.replace('\n', ""));
        }
    }
    vars.extend(s.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    s.apply(objects, &vars)
        .map_err(|message| EngineError::Substitute {
            app: s.app.clone(),
            message,
        })
}
