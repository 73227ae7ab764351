//! `replacements` (copy a field of one object into fields of others) and
//! the legacy `vars` (`$(NAME)` substitution in configured fields).

use crate::error::{Error, Result};
use crate::fieldspec::FieldSpec;
use crate::resource::Resource;
use crate::select::{Selector, target_from_value};
use serde_json::{Map, Value};

/// One segment of a replacement field path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Match(String, String),
    Index(usize),
    All,
}

/// Split `a.b.[k=v].[x.y].c` (dots inside brackets do not split).
fn parse_path(fp: &str) -> Vec<Seg> {
    let parts = sluice_plugin_sdk::params::split_outside(fp, '.', '[', ']');
    let mut out = Vec::new();
    for p in parts.into_iter().filter(|p| !p.is_empty()) {
        // `ports[0]` style (vars) as well as `[k=v]` segments.
        let (head, bracket) = match p.find('[') {
            Some(0) => (String::new(), Some(p.clone())),
            Some(i) => (p[..i].to_string(), Some(p[i..].to_string())),
            None => (p.clone(), None),
        };
        if !head.is_empty() {
            out.push(if head == "*" {
                Seg::All
            } else {
                Seg::Key(head)
            });
        }
        if let Some(b) = bracket {
            let inner = b.trim_start_matches('[').trim_end_matches(']');
            if let Some((k, v)) = inner.split_once('=') {
                out.push(Seg::Match(k.to_string(), v.to_string()));
            } else if let Ok(i) = inner.parse() {
                out.push(Seg::Index(i));
            } else {
                out.push(Seg::Key(inner.to_string()));
            }
        }
    }
    out
}

fn get<'a>(v: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v);
    };
    let next = match (first, v) {
        (Seg::Key(k), Value::Object(m)) => m.get(k)?,
        // `containers.0.image`: a numeric segment indexes a list.
        (Seg::Key(k), Value::Array(a)) => a.get(k.parse::<usize>().ok()?)?,
        (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
        (Seg::Match(k, val), Value::Array(a)) => a
            .iter()
            .find(|e| e.get(k).and_then(crate::kustfile::scalar_string).as_deref() == Some(val))?,
        (Seg::All, Value::Array(a)) => a.first()?,
        _ => return None,
    };
    get(next, rest)
}

/// Visit every field at `segs`, creating maps (and list elements matched
/// by `[k=v]`) when `create` is set.
fn visit(
    v: &mut Value,
    segs: &[Seg],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<bool> {
    let Some((first, rest)) = segs.split_first() else {
        f(v)?;
        return Ok(true);
    };
    match first {
        Seg::Key(k) if v.is_array() => match (k.parse::<usize>(), v) {
            (Ok(i), Value::Array(a)) if i < a.len() => visit(&mut a[i], rest, create, f),
            _ => Ok(false),
        },
        Seg::Key(k) => {
            if v.is_null() && create {
                *v = Value::Object(Map::new());
            }
            let Value::Object(m) = v else {
                return Ok(false);
            };
            if !m.contains_key(k) {
                if !create {
                    return Ok(false);
                }
                m.insert(k.clone(), Value::Null);
            }
            visit(m.get_mut(k).expect("inserted above"), rest, create, f)
        }
        Seg::Index(i) => match v {
            Value::Array(a) if *i < a.len() => visit(&mut a[*i], rest, create, f),
            _ => Ok(false),
        },
        Seg::All => {
            let Value::Array(a) = v else { return Ok(false) };
            let mut any = false;
            for e in a {
                any |= visit(e, rest, create, f)?;
            }
            Ok(any)
        }
        Seg::Match(k, val) => {
            if v.is_null() && create {
                *v = Value::Array(Vec::new());
            }
            let Value::Array(a) = v else { return Ok(false) };
            let mut any = false;
            for e in a.iter_mut() {
                if e.get(k).and_then(crate::kustfile::scalar_string).as_deref()
                    == Some(val.as_str())
                {
                    any |= visit(e, rest, create, f)?;
                }
            }
            if !any && create {
                let mut m = Map::new();
                m.insert(k.clone(), Value::String(val.clone()));
                a.push(Value::Object(m));
                let last = a.last_mut().expect("just pushed");
                return visit(last, rest, create, f);
            }
            Ok(any)
        }
    }
}

fn opt_str(o: Option<&Value>, k: &str) -> String {
    o.and_then(|o| o.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn opt_index(o: Option<&Value>) -> i64 {
    o.and_then(|o| o.get("index"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

fn source_value(rs: &[Resource], src: &Value) -> Result<Value> {
    let t = target_from_value(&strip(src, &["fieldPath", "options"]))?;
    let sel = Selector::new(&t)?;
    let hits = sel.select(rs);
    let show = serde_json::to_string(src).unwrap_or_default();
    let r = match hits.len() {
        1 => &rs[hits[0]],
        0 => return Err(Error::msg(format!("nothing selected by {show}"))),
        _ => return Err(Error::msg(format!("multiple matches for selector {show}"))),
    };
    let fp = src
        .get("fieldPath")
        .and_then(Value::as_str)
        .unwrap_or("metadata.name");
    let v = get(&r.obj, &parse_path(fp)).cloned().ok_or_else(|| {
        Error::msg(format!(
            "fieldPath `{fp}` is missing for replacement source {}",
            r.id_text()
        ))
    })?;
    let opts = src.get("options");
    let delim = opt_str(opts, "delimiter");
    if delim.is_empty() {
        return Ok(v);
    }
    let s = crate::kustfile::scalar_string(&v).unwrap_or_default();
    let parts: Vec<&str> = s.split(delim.as_str()).collect();
    let i = opt_index(opts);
    let i = usize::try_from(i)
        .ok()
        .filter(|&i| i < parts.len())
        .ok_or_else(|| Error::msg(format!("options.index {i} is out of bounds for value {s}")))?;
    Ok(Value::String(parts[i].to_string()))
}

fn strip(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.shift_remove(*k);
        }
    }
    v
}

fn rejected(r: &Resource, rejects: &[Selector]) -> bool {
    rejects.iter().any(|s| s.matches(r))
}

/// Apply replacement entries, in order.
pub fn apply(rs: &mut [Resource], entries: &[Value]) -> Result<()> {
    for e in entries {
        let src = e
            .get("source")
            .ok_or_else(|| Error::msg("replacement without a source"))?;
        let value = source_value(rs, src)?;
        for t in e
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let select = t
                .get("select")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let sel = Selector::new(&target_from_value(&select)?)?;
            let rejects = t
                .get("reject")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| target_from_value(r).and_then(|t| Selector::new(&t)))
                .collect::<Result<Vec<_>>>()?;
            let opts = t.get("options");
            let create = opts
                .and_then(|o| o.get("create"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let delim = opt_str(opts, "delimiter");
            let index = opt_index(opts);
            let paths: Vec<String> = t
                .get("fieldPaths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            for r in rs
                .iter_mut()
                .filter(|r| sel.matches(r) && !rejected(r, &rejects))
            {
                for fp in &paths {
                    let id = r.id_text();
                    let found = visit(&mut r.obj, &parse_path(fp), create, &mut |v| {
                        if delim.is_empty() {
                            // A string target keeps its type: scalars are
                            // written as their text.
                            *v = match (&*v, &value) {
                                (Value::String(_), Value::Number(_) | Value::Bool(_)) => {
                                    Value::String(
                                        crate::kustfile::scalar_string(&value).unwrap_or_default(),
                                    )
                                }
                                _ => value.clone(),
                            };
                            return Ok(());
                        }
                        let cur = crate::kustfile::scalar_string(v).unwrap_or_default();
                        let mut parts: Vec<String> =
                            cur.split(delim.as_str()).map(str::to_string).collect();
                        let newv = crate::kustfile::scalar_string(&value).unwrap_or_default();
                        match usize::try_from(index) {
                            Ok(i) if i < parts.len() => parts[i] = newv,
                            Ok(_) => parts.push(newv),
                            Err(_) => parts.insert(0, newv),
                        }
                        *v = Value::String(parts.join(&delim));
                        Ok(())
                    })?;
                    if !found && !create {
                        return Err(Error::msg(format!(
                            "unable to find field \"{fp}\" in replacement target {id}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Bind a legacy var to the one object it names among those of the
/// kustomization that declares it (kustomize's `MergeVars`): by kind, API
/// version and any name the object had, and by namespace when the var gives
/// one. Vars are thus told apart by the base that declares them, even when
/// prefixes or namespaces later make the names differ.
pub fn bind_var(rs: &mut [Resource], v: &Value, file: &str) -> Result<()> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let (name, kind, oname, ns) = (
        s("/name"),
        s("/objref/kind"),
        s("/objref/name"),
        s("/objref/namespace"),
    );
    // objref gives `apiVersion`, or `group` and `version`.
    let api = match (
        s("/objref/apiVersion"),
        s("/objref/group"),
        s("/objref/version"),
    ) {
        ("", "", v) => v.to_string(),
        ("", g, "") => format!("{g}/"),
        ("", g, v) => format!("{g}/{v}"),
        (a, _, _) => a.to_string(),
    };
    let api_ok = |r: &Resource| {
        api.is_empty()
            || r.api_version() == api
            || (api.ends_with('/') && r.api_version().starts_with(api.as_str()))
    };
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.kind() == kind
                && api_ok(r)
                && r.all_ids().iter().any(|(n, rns)| {
                    n == oname && (ns.is_empty() || crate::resource::ns_eq(rns, ns))
                })
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [i] => {
            rs[*i].ref_vars.push(name.to_string());
            Ok(())
        }
        [] => Ok(()),
        _ => Err(Error::in_file(
            file,
            format!(
                "found {} resId matches for var {name} (unable to disambiguate); give objref a namespace",
                hits.len()
            ),
        )),
    }
}

/// Resolve legacy `vars`: read each variable's value from the object it
/// was bound to, then replace `$(NAME)` in the configured fields of every
/// resource.
pub fn resolve_vars(
    rs: &mut [Resource],
    vars: &[(Value, String)],
    specs: &[FieldSpec],
) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for (v, file) in vars {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let fp = v
            .pointer("/fieldref/fieldpath")
            .and_then(Value::as_str)
            .unwrap_or("metadata.name");
        if values.iter().any(|(n, _)| *n == name) {
            return Err(Error::in_file(
                file,
                format!("var '{name}' already encountered"),
            ));
        }
        let Some(r) = rs.iter().find(|r| r.ref_vars.contains(&name)) else {
            return Err(Error::in_file(
                file,
                format!("var '{name}' cannot be mapped to a field in the set of known resources"),
            ));
        };
        let val = get(&r.obj, &parse_path(fp)).cloned().ok_or_else(|| {
            Error::in_file(
                file,
                format!("var '{name}': field {fp} not found in {}", r.id_text()),
            )
        })?;
        if values.iter().any(|(n, _)| *n == name) {
            return Err(Error::in_file(
                file,
                format!("var '{name}' already encountered"),
            ));
        }
        values.push((name, val));
    }
    for r in rs.iter_mut() {
        let gvk = r.gvk();
        for fs in specs {
            fs.apply(&gvk, &mut r.obj, &mut |v| {
                substitute(v, &values);
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn substitute(v: &mut Value, values: &[(String, Value)]) {
    match v {
        Value::String(s) => {
            for (name, val) in values {
                let pat = format!("$({name})");
                if *s == pat {
                    *v = val.clone();
                    return;
                }
                if s.contains(&pat) {
                    *s = s.replace(
                        &pat,
                        &crate::kustfile::scalar_string(val).unwrap_or_default(),
                    );
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, values)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, values)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_selectors() {
        assert_eq!(
            parse_path("spec.containers.[name=a.b].image"),
            vec![
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Match("name".into(), "a.b".into()),
                Seg::Key("image".into())
            ]
        );
        assert_eq!(parse_path("spec.ports[0].port")[2], Seg::Index(0));
    }
}
