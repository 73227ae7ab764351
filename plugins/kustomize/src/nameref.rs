//! Name references: after prefixes, suffixes and hash suffixes renamed
//! objects, every field that refers to one of them by its earlier name is
//! updated (kustomize's `nameReference` configuration), choosing the
//! referent the way kustomize does: by an earlier name, then by namespace,
//! then by equal prefixes and suffixes.

use crate::error::{Error, Result};
use crate::fieldspec::Config;
use crate::fieldspec::walk;
use crate::resource::{Gvk, Resource, ns_eq};
use serde_json::Value;

/// What the referrer looks like, for the sieves.
struct Referrer {
    gvk: Gvk,
    namespace: String,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    role_ref_kind: Option<String>,
}

/// A candidate's current id and history, copied out so the referrer can be
/// changed while looking at the others.
struct Cand {
    gvk: Gvk,
    name: String,
    namespace: String,
    prev: Vec<(String, String)>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn select<'a>(
    old: &str,
    cands: &[&'a Cand],
    who: &Referrer,
    is_role_ref: bool,
) -> Result<Option<&'a Cand>> {
    let mut c: Vec<&Cand> = cands
        .iter()
        .copied()
        .filter(|c| c.prev.iter().any(|(n, _)| n == old))
        .collect();
    if is_role_ref && let Some(k) = &who.role_ref_kind {
        c.retain(|x| &x.gvk.kind == k);
    }
    if !who.gvk.is_cluster_scoped() {
        c.retain(|x| {
            x.gvk.is_cluster_scoped()
                || x.gvk.kind == "ServiceAccount"
                || ns_eq(&who.namespace, &x.namespace)
        });
    }
    if c.len() == 1 {
        return Ok(Some(c[0]));
    }
    let same = |a: &[String], b: &[String]| {
        let mut a = a.to_vec();
        let mut b = b.to_vec();
        a.sort();
        b.sort();
        a == b
    };
    let narrowed: Vec<&Cand> = c
        .iter()
        .copied()
        .filter(|x| same(&x.prefixes, &who.prefixes) && same(&x.suffixes, &who.suffixes))
        .collect();
    if narrowed.len() == 1 {
        return Ok(Some(narrowed[0]));
    }
    if c.is_empty() {
        return Ok(None);
    }
    if c.iter().all(|x| x.name == c[0].name) {
        return Ok(Some(c[0]));
    }
    let ids: Vec<String> = c
        .iter()
        .map(|x| crate::resource::id_text(&x.gvk, &x.name, &x.namespace))
        .collect();
    Err(Error::msg(format!(
        "found multiple possible referrals: {}",
        ids.join(", ")
    )))
}

fn set_value(v: &mut Value, cands: &[&Cand], who: &Referrer, is_role_ref: bool) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(r) = select(s, cands, who, is_role_ref)? {
                *s = r.name.clone();
            }
        }
        Value::Array(items) => {
            for i in items {
                set_value(i, cands, who, is_role_ref)?;
            }
        }
        Value::Object(m) => {
            let Some(old) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
                return Ok(());
            };
            let ns = m
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let subset: Vec<&Cand> = match &ns {
                Some(ns) => {
                    let by_orig: Vec<&Cand> = cands
                        .iter()
                        .copied()
                        .filter(|c| c.prev.first().is_some_and(|(_, o)| ns_eq(o, ns)))
                        .collect();
                    if by_orig.is_empty() {
                        cands
                            .iter()
                            .copied()
                            .filter(|c| ns_eq(&c.namespace, ns))
                            .collect()
                    } else {
                        by_orig
                    }
                }
                None => cands.to_vec(),
            };
            if let Some(r) = select(&old, &subset, who, is_role_ref)? {
                if r.name == old && r.namespace.is_empty() {
                    return Ok(());
                }
                m.insert("name".into(), Value::String(r.name.clone()));
                if !r.namespace.is_empty() {
                    m.insert("namespace".into(), Value::String(r.namespace.clone()));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// kustomize refuses a RoleBinding whose ServiceAccount subject has a
/// `namespace:` key without a string value (it cannot tell which
/// ServiceAccount is meant).
fn check_subjects(rs: &[Resource]) -> Result<()> {
    for r in rs.iter().filter(|r| r.kind() == "RoleBinding") {
        let subjects = r.obj.get("subjects").and_then(Value::as_array);
        for s in subjects.into_iter().flatten() {
            let is_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
            if is_sa && s.get("namespace").is_some_and(|n| !n.is_string()) {
                return Err(Error::msg(format!(
                    "Invalid Input: namespace is blank for resource \"{}\"; give the ServiceAccount subject a namespace or remove the key",
                    r.id_text()
                )));
            }
        }
    }
    Ok(())
}

/// Fix every name reference in `rs`.
pub fn fix(rs: &mut [Resource], config: &Config) -> Result<()> {
    check_subjects(rs)?;
    let cands: Vec<Cand> = rs
        .iter()
        .map(|r| Cand {
            gvk: r.gvk(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            prev: r.prev.clone(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    // The candidates of each referent kind, computed once (not per
    // referrer); kinds none of whose objects was renamed need no fix-up.
    let pools: Vec<Vec<&Cand>> = config
        .name_reference
        .iter()
        .map(|(referent, _)| {
            let pool: Vec<&Cand> = cands
                .iter()
                .filter(|c| c.gvk.selected_by(referent))
                .collect();
            if pool.iter().all(|c| c.prev.is_empty()) {
                Vec::new()
            } else {
                pool
            }
        })
        .collect();
    for r in rs.iter_mut() {
        let who = Referrer {
            gvk: r.gvk(),
            namespace: r.namespace().to_string(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            role_ref_kind: r
                .obj
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        for ((_, specs), pool) in config.name_reference.iter().zip(&pools) {
            if pool.is_empty() {
                continue;
            }
            for fs in specs.iter().filter(|fs| who.gvk.selected_by(&fs.gvk)) {
                let is_role_ref = fs.path == ["roleRef", "name"];
                walk(&mut r.obj, &fs.path, false, &mut |v| {
                    set_value(v, pool, &who, is_role_ref)
                })?;
            }
        }
    }
    Ok(())
}
