//! Target selection (`target:` of patches, replacements): group, version,
//! kind, name and namespace (anchored regular expressions), label and
//! annotation selectors, matched the way kustomize's `ResMap.Select` does
//! (the original or the current name and namespace may match).

use crate::error::{Error, Result};
use crate::kustfile::Target;
use crate::resource::{Gvk, Resource};
use regex::Regex;
use serde_json::{Map, Value};

/// The resources by name (their original and current names), so that a
/// patch targeting one object by name does not test every object. Build it
/// over a resource list and rebuild it after names change or objects go.
pub struct Index {
    by_name: std::collections::HashMap<String, Vec<usize>>,
}

impl Index {
    /// Index `rs`.
    pub fn new(rs: &[Resource]) -> Self {
        let mut by_name: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::with_capacity(rs.len() * 2);
        for (i, r) in rs.iter().enumerate() {
            let orig = r.prev.first().map_or(r.name(), |(n, _)| n.as_str());
            by_name.entry(orig.to_string()).or_default().push(i);
            if r.name() != orig {
                by_name.entry(r.name().to_string()).or_default().push(i);
            }
        }
        Index { by_name }
    }
}

/// A compiled selector.
pub struct Selector {
    /// The target name when it is a plain name (no regular expression
    /// syntax), looked up in an [`Index`].
    literal_name: Option<String>,
    gvk: Gvk,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Req>,
    annotations: Vec<Req>,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

fn anchored(s: &str) -> Result<Option<Regex>> {
    if s.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{s})$"))
        .map(Some)
        .map_err(|e| Error::msg(format!("bad target regular expression {s:?}: {e}")))
}

/// Parse a Kubernetes label selector (`a=b,c!=d,e in (x,y),!f,g`).
fn parse_reqs(s: &str) -> Result<Vec<Req>> {
    let parts = sluice_plugin_sdk::params::split_outside(s, ',', '(', ')');
    let mut out = Vec::new();
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let set = |rest: &str| -> Vec<String> {
            rest.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        if let Some(k) = p.strip_prefix('!') {
            out.push(Req::NotExists(k.trim().to_string()));
        } else if let Some((k, v)) = p.split_once("!=") {
            out.push(Req::NotIn(k.trim().to_string(), vec![v.trim().to_string()]));
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            out.push(Req::In(k.trim().to_string(), vec![v.trim().to_string()]));
        } else if let Some((k, rest)) = p.split_once(" notin ") {
            out.push(Req::NotIn(k.trim().to_string(), set(rest)));
        } else if let Some((k, rest)) = p.split_once(" in ") {
            out.push(Req::In(k.trim().to_string(), set(rest)));
        } else if p.chars().all(|c| c.is_alphanumeric() || "-_./".contains(c)) {
            out.push(Req::Exists(p.to_string()));
        } else {
            return Err(Error::msg(format!(
                "unable to parse requirement {p:?} of selector {s:?}"
            )));
        }
    }
    Ok(out)
}

fn matches(reqs: &[Req], m: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(crate::kustfile::scalar_string)
    };
    reqs.iter().all(|r| match r {
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
        Req::In(k, vs) => get(k).is_some_and(|v| vs.contains(&v)),
        Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(&v)),
    })
}

impl Selector {
    /// Compile a target.
    pub fn new(t: &Target) -> Result<Self> {
        let literal = !t.name.is_empty()
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        Ok(Selector {
            literal_name: literal.then(|| t.name.clone()),
            gvk: Gvk {
                group: t.group.clone(),
                version: t.version.clone(),
                kind: t.kind.clone(),
            },
            name: anchored(&t.name)?,
            namespace: anchored(&t.namespace)?,
            labels: parse_reqs(&t.label_selector)?,
            annotations: parse_reqs(&t.annotation_selector)?,
        })
    }

    /// Whether `r` is selected.
    pub fn matches(&self, r: &Resource) -> bool {
        let (oname, ons) = r.orig();
        let eff = |s: &str| {
            if s.is_empty() {
                "default".to_string()
            } else {
                s.to_string()
            }
        };
        if let Some(re) = &self.namespace
            && !re.is_match(&eff(&ons))
            && !re.is_match(&eff(r.namespace()))
        {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(&oname)
            && !re.is_match(r.name())
        {
            return false;
        }
        r.gvk().selected_by(&self.gvk)
            && matches(&self.labels, r.meta_map("labels"))
            && matches(&self.annotations, r.meta_map("annotations"))
    }

    /// Indexes of the selected resources, in order, using `index` (built
    /// over `rs`) when the target names one object literally.
    pub fn select_indexed(&self, rs: &[Resource], index: &Index) -> Vec<usize> {
        match self.literal_name.as_deref() {
            Some(name) => index
                .by_name
                .get(name)
                .map(|c| {
                    c.iter()
                        .copied()
                        .filter(|&i| self.matches(&rs[i]))
                        .collect()
                })
                .unwrap_or_default(),
            None => self.select(rs),
        }
    }

    /// Indexes of the selected resources, in order.
    pub fn select(&self, rs: &[Resource]) -> Vec<usize> {
        rs.iter()
            .enumerate()
            .filter(|(_, r)| self.matches(r))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A target selector from a JSON value (replacements' `select`).
pub fn target_from_value(v: &Value) -> Result<Target> {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        // kustomize also accepts the legacy nested `resid` shape; flatten it.
        if let Some(Value::Object(gvk)) = m.remove("gvk") {
            m.extend(gvk);
        }
    }
    serde_json::from_value(v).map_err(|e| Error::msg(format!("invalid selector: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(labels: Value) -> Resource {
        Resource::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-1", "labels": labels}}),
            "f",
            0,
        )
    }

    #[test]
    fn name_regex_is_anchored_and_labels_match() {
        let t = Target {
            kind: "Deployment".into(),
            name: "web-.*".into(),
            label_selector: "app=x,tier in (a, b),!gone".into(),
            ..Default::default()
        };
        let s = Selector::new(&t).expect("compiles");
        assert!(s.matches(&res(json!({"app": "x", "tier": "b"}))));
        assert!(!s.matches(&res(json!({"app": "x", "tier": "c"}))));
        let t = Target {
            name: "web".into(),
            ..Default::default()
        };
        assert!(
            !Selector::new(&t)
                .expect("compiles")
                .matches(&res(json!({})))
        );
    }

    #[test]
    fn index_finds_what_a_scan_finds_by_original_and_current_name() {
        let mut rs = vec![res(json!({})), res(json!({})), res(json!({}))];
        rs[1].set_name("p-web-1");
        rs[2].set_name("web-2");
        let index = Index::new(&rs);
        for name in ["web-1", "p-web-1", "web-2", "nope"] {
            let t = Target {
                kind: "Deployment".into(),
                name: name.into(),
                ..Default::default()
            };
            let s = Selector::new(&t).expect("compiles");
            assert!(s.literal_name.is_some());
            assert_eq!(s.select_indexed(&rs, &index), s.select(&rs), "{name}");
        }
        assert_eq!(
            Selector::new(&Target {
                name: "web-1".into(),
                ..Default::default()
            })
            .expect("compiles")
            .select_indexed(&rs, &index),
            [0, 1, 2],
            "every object was first named web-1"
        );
    }
}
