//! The patch transformers: `patchesStrategicMerge`, `patches` and
//! `patchesJson6902`.

pub mod json6902;
pub mod schema;
pub mod smp;

use crate::error::{Error, Result};
use crate::kustfile::Target;
use crate::resource::{Gvk, Resource, ns_eq};
use crate::select::Selector;
use serde_json::Value;

/// A loaded patch: where it came from and what it is.
pub struct Loaded {
    /// File or kustomization it was declared in (for messages).
    pub source: String,
    /// The parsed patch.
    pub body: Body,
    /// The custom OpenAPI schema in force, if any (`openapi: {path}`).
    pub schema: Option<std::rc::Rc<schema::Schema>>,
}

/// A patch's content.
pub enum Body {
    /// Strategic merge patch documents.
    Smp(Vec<Value>),
    /// JSON 6902 operations.
    Json(Value),
}

/// Parse patch text: a list is JSON 6902, mappings are strategic merge.
/// Strategic merge patches are read as objects, JSON patches as kustomize
/// reads them (YAML 1.1, the last repeated key wins).
pub fn parse(source: &str, text: &[u8]) -> Result<Body> {
    use crate::yaml::{Schema, parse_documents};
    let err = |e: &sluice_plugin_sdk::yaml::ParseError| {
        let m = crate::build::yaml_error(e);
        Error::in_file(
            source,
            m.replacen("YAML syntax error", "patch YAML syntax error", 1),
        )
    };
    let as_config = || -> Result<Option<Value>> {
        let docs: Vec<Value> = parse_documents(text, Schema::Config)
            .map_err(|e| err(&e))?
            .into_iter()
            .flatten()
            .collect();
        Ok(match docs.as_slice() {
            [Value::Array(_)] => docs.into_iter().next(),
            _ => None,
        })
    };
    let docs: Vec<Value> = match parse_documents(text, Schema::Object) {
        Ok(d) => d.into_iter().flatten().collect(),
        Err(e) => {
            return match as_config() {
                Ok(Some(ops)) => Ok(Body::Json(ops)),
                _ => Err(err(&e)),
            };
        }
    };
    match docs.first() {
        Some(Value::Array(_)) if docs.len() == 1 => {
            Ok(Body::Json(as_config()?.unwrap_or_else(|| docs[0].clone())))
        }
        _ => {
            if let Some(bad) = docs.iter().find(|d| !d.is_object()) {
                return Err(Error::in_file(
                    source,
                    format!("patch is neither a mapping nor a list of operations: {bad}"),
                ));
            }
            Ok(Body::Smp(docs))
        }
    }
}

fn gvk_of(v: &Value) -> Gvk {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default();
    Gvk::new(s("/apiVersion"), s("/kind"))
}

/// Apply an SMP to one resource, keeping its identity unless allowed to
/// change; `$patch: delete` at the top removes it (returns false).
fn smp_one(
    r: &mut Resource,
    patch: &Value,
    allow_name: bool,
    allow_kind: bool,
    sc: Option<&schema::Schema>,
) -> bool {
    let (name, ns, api, kind) = (
        r.name().to_string(),
        r.namespace().to_string(),
        r.api_version().to_string(),
        r.kind().to_string(),
    );
    let mut p = patch.clone();
    if let Some(m) = p.as_object_mut() {
        if !allow_kind {
            m.insert("apiVersion".into(), Value::String(api.clone()));
            m.insert("kind".into(), Value::String(kind.clone()));
        }
        if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            if !allow_name {
                md.insert("name".into(), Value::String(name.clone()));
            }
            if ns.is_empty() {
                md.shift_remove("namespace");
            } else {
                md.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }
    smp::apply(&mut r.obj, &p, sc);
    if r.obj.is_null() {
        return false;
    }
    let new_name = r.name().to_string();
    if new_name != name {
        r.metadata_mut().insert("name".into(), Value::String(name));
        r.set_name(&new_name);
    }
    true
}

/// Find the one resource a target-less SMP patch is for: same GVK, and
/// name and namespace equal to any id the resource had.
fn find_by_id(rs: &[Resource], patch: &Value, source: &str) -> Result<usize> {
    let g = gvk_of(patch);
    let name = patch
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ns = patch
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.gvk() == g && r.all_ids().iter().any(|(n, s)| n == name && ns_eq(s, ns)))
        .map(|(i, _)| i)
        .collect();
    let id = crate::resource::id_text(&g, name, ns);
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(Error::msg(format!(
            "{source}: no resource matches strategic merge patch \"{id}\": no matches for Id {id}; failed to find unique target for patch {id}"
        ))),
        _ => Err(Error::msg(format!(
            "{source}: multiple matches for Id {id}; failed to find unique target for patch {id}"
        ))),
    }
}

/// Apply target-less strategic merge patches (each finds its own target).
pub fn apply_smp_by_id(
    rs: &mut Vec<Resource>,
    patches: &[Value],
    source: &str,
    sc: Option<&schema::Schema>,
) -> Result<()> {
    for p in patches {
        let i = find_by_id(rs, p, source)?;
        if !smp_one(&mut rs[i], p, false, false, sc) {
            rs.remove(i);
        }
    }
    Ok(())
}

/// Apply one `patches:` entry. `index` (built over `rs`) speeds up
/// targets that name one object; the result says whether any object was
/// renamed or removed, which makes such an index stale.
pub fn apply_patch(
    rs: &mut Vec<Resource>,
    loaded: &Loaded,
    target: Option<&Target>,
    options: &serde_json::Map<String, Value>,
    index: Option<&crate::select::Index>,
) -> Result<bool> {
    let opt = |k: &str| options.get(k).and_then(Value::as_bool).unwrap_or(false);
    let (allow_name, allow_kind) = (opt("allowNameChange"), opt("allowKindChange"));
    let mut changed = false;
    let sc = loaded.schema.as_deref();
    match (&loaded.body, target) {
        (Body::Smp(docs), None) => {
            for p in docs {
                let i = find_by_id(rs, p, &loaded.source)?;
                let before = rs[i].prev.len();
                if !smp_one(&mut rs[i], p, allow_name, allow_kind, sc) {
                    rs.remove(i);
                    changed = true;
                } else if rs[i].prev.len() != before {
                    changed = true;
                }
            }
            Ok(changed)
        }
        (Body::Smp(docs), Some(t)) => {
            let sel = Selector::new(t).map_err(|e| e.context(&loaded.source))?;
            for p in docs {
                let hits = match index.filter(|_| !changed) {
                    Some(ix) => sel.select_indexed(rs, ix),
                    None => sel.select(rs),
                };
                let mut removed = Vec::new();
                for i in hits {
                    let before = rs[i].prev.len();
                    if !smp_one(&mut rs[i], p, allow_name, allow_kind, sc) {
                        removed.push(i);
                    } else if rs[i].prev.len() != before {
                        changed = true;
                    }
                }
                changed |= !removed.is_empty();
                for i in removed.into_iter().rev() {
                    rs.remove(i);
                }
            }
            Ok(changed)
        }
        (Body::Json(_), None) => Err(Error::msg(format!(
            "{}: unable to apply patch: must specify a target for JSON patch {}",
            loaded.source, "ops"
        ))),
        (Body::Json(ops), Some(t)) => {
            let sel = Selector::new(t).map_err(|e| e.context(&loaded.source))?;
            let hits = match index {
                Some(ix) => sel.select_indexed(rs, ix),
                None => sel.select(rs),
            };
            for i in hits {
                let name = rs[i].name().to_string();
                let ns = rs[i].namespace().to_string();
                json6902::apply(&mut rs[i].obj, ops).map_err(|e| {
                    Error::msg(format!(
                        "{}: unable to apply JSON patch to {}: {e}",
                        loaded.source,
                        rs[i].id_text()
                    ))
                })?;
                let (new_name, new_ns) = (rs[i].name().to_string(), rs[i].namespace().to_string());
                if new_name != name || new_ns != ns {
                    let md = rs[i].metadata_mut();
                    md.insert("name".into(), Value::String(name));
                    md.insert("namespace".into(), Value::String(ns.clone()));
                    if ns.is_empty() {
                        md.shift_remove("namespace");
                    }
                    rs[i].set_name(&new_name);
                    rs[i].set_namespace(&new_ns);
                    changed = true;
                }
            }
            Ok(changed)
        }
    }
}
