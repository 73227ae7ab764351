//! Field specs: which field of which kinds a transformer touches, the
//! walker that visits those fields, and the transformer configuration
//! (kustomize's built-in specs plus `configurations:` files).

use crate::error::{Error, Result};
use crate::resource::Gvk;
use serde_json::{Map, Value};

/// A field in objects of selected kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The kinds it applies to (empty parts match anything).
    pub gvk: Gvk,
    /// Path segments (`[]` markers removed, `\/` unescaped).
    pub path: Vec<String>,
    /// Create missing maps along the path.
    pub create: bool,
}

impl FieldSpec {
    /// Parse a kustomize path such as `spec/template/metadata/labels`.
    pub fn new(gvk: Gvk, path: &str, create: bool) -> Self {
        FieldSpec {
            gvk,
            path: split_path(path),
            create,
        }
    }

    /// A field spec from its YAML form (`{path, kind, group, version, create}`).
    pub fn from_value(v: &Value) -> Result<Self> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let path = s("path");
        if path.is_empty() {
            return Err(Error::msg(format!("field spec without a path: {v}")));
        }
        let gvk = Gvk {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
        };
        Ok(FieldSpec::new(
            gvk,
            &path,
            v.get("create").and_then(Value::as_bool).unwrap_or(false),
        ))
    }

    /// Visit the field in `obj` when `gvk` is selected, calling `f` on it
    /// (on `Null` for a missing last field when `create` is set; a field
    /// left `Null` by `f` is removed again).
    pub fn apply(
        &self,
        gvk: &Gvk,
        obj: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<()>,
    ) -> Result<()> {
        if !gvk.selected_by(&self.gvk) {
            return Ok(());
        }
        walk(obj, &self.path, self.create, f)
    }
}

/// Split a field path on `/`, honouring `\/` escapes and dropping `[]`.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.strip_suffix("[]").map(str::to_string).unwrap_or(s))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Walk `segs` from `v`; sequences met on the way are walked element-wise.
pub fn walk(
    v: &mut Value,
    segs: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<()>,
) -> Result<()> {
    if let Value::Array(items) = v {
        if let Some((first, rest)) = segs.split_first()
            && let Ok(i) = first.parse::<usize>()
        {
            return match items.get_mut(i) {
                Some(item) => walk(item, rest, create, f),
                None => Ok(()),
            };
        }
        for item in items {
            walk(item, segs, create, f)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = segs.split_first() else {
        return f(v);
    };
    let Value::Object(m) = v else { return Ok(()) };
    match m.get_mut(first.as_str()) {
        Some(child) if !child.is_null() || rest.is_empty() => walk(child, rest, create, f),
        _ if create => {
            if rest.is_empty() {
                let mut nv = m.remove(first.as_str()).unwrap_or(Value::Null);
                f(&mut nv)?;
                if !nv.is_null() {
                    m.insert(first.clone(), nv);
                }
                Ok(())
            } else {
                let mut child = Value::Object(Map::new());
                walk(&mut child, rest, create, f)?;
                m.insert(first.clone(), child);
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The field specs every transformer uses, merged over the build.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `namePrefix` / `nameSuffix` fields.
    pub name_prefix: Vec<FieldSpec>,
    /// `commonLabels` fields (labels plus selectors).
    pub common_labels: Vec<FieldSpec>,
    /// Label fields of metadata and templates, without selectors.
    pub template_labels: Vec<FieldSpec>,
    /// Extra fields for every `labels:` entry (the `labels` key of a
    /// configuration), whatever its `includeSelectors`/`includeTemplates`.
    pub labels: Vec<FieldSpec>,
    /// `commonAnnotations` fields.
    pub common_annotations: Vec<FieldSpec>,
    /// `namespace` fields besides `metadata/namespace`.
    pub namespace: Vec<FieldSpec>,
    /// Fields where `$(VAR)` is replaced.
    pub var_reference: Vec<FieldSpec>,
    /// Referent kinds and the fields that refer to them by name.
    pub name_reference: Vec<(Gvk, Vec<FieldSpec>)>,
    /// Extra image fields.
    pub images: Vec<FieldSpec>,
    /// Replica count fields.
    pub replicas: Vec<FieldSpec>,
}

fn add_unique(list: &mut Vec<FieldSpec>, fs: FieldSpec) {
    if !list.contains(&fs) {
        list.push(fs);
    }
}

impl Config {
    /// kustomize's built-in configuration.
    pub fn builtin() -> Self {
        static BUILTIN: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut c = Config::default();
                crate::builtin_specs::load(&mut c);
                c
            })
            .clone()
    }

    /// Merge another configuration in (specs already present are kept once).
    pub fn merge(&mut self, o: &Config) {
        for (mine, theirs) in [
            (&mut self.name_prefix, &o.name_prefix),
            (&mut self.common_labels, &o.common_labels),
            (&mut self.template_labels, &o.template_labels),
            (&mut self.labels, &o.labels),
            (&mut self.common_annotations, &o.common_annotations),
            (&mut self.namespace, &o.namespace),
            (&mut self.var_reference, &o.var_reference),
            (&mut self.images, &o.images),
            (&mut self.replicas, &o.replicas),
        ] {
            for fs in theirs {
                add_unique(mine, fs.clone());
            }
        }
        for (gvk, specs) in &o.name_reference {
            self.add_name_refs(gvk.clone(), specs.clone());
        }
    }

    /// Add referrer fields for a referent kind.
    pub fn add_name_refs(&mut self, gvk: Gvk, specs: Vec<FieldSpec>) {
        match self.name_reference.iter_mut().find(|(g, _)| *g == gvk) {
            Some((_, list)) => specs.into_iter().for_each(|s| add_unique(list, s)),
            None => self.name_reference.push((gvk, specs)),
        }
    }

    /// A configuration from a `configurations:` file.
    pub fn from_value(v: &Value) -> Result<Self> {
        let mut c = Config::default();
        let Some(m) = v.as_object() else {
            return Ok(c);
        };
        let list = |k: &str| -> Result<Vec<FieldSpec>> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(FieldSpec::from_value).collect())
                .unwrap_or_else(|| Ok(Vec::new()))
        };
        for k in m.keys() {
            if ![
                "namePrefix",
                "nameSuffix",
                "commonLabels",
                "labels",
                "commonAnnotations",
                "annotations",
                "namespace",
                "varReference",
                "nameReference",
                "images",
                "replicas",
                "templateLabels",
            ]
            .contains(&k.as_str())
            {
                return Err(Error::msg(format!(
                    "unknown field {k:?} in transformer configuration"
                )));
            }
        }
        c.name_prefix = list("namePrefix")?;
        c.name_prefix.extend(list("nameSuffix")?);
        c.common_labels = list("commonLabels")?;
        c.labels = list("labels")?;
        c.template_labels = list("templateLabels")?;
        c.common_annotations = list("commonAnnotations")?;
        c.common_annotations.extend(list("annotations")?);
        c.namespace = list("namespace")?;
        c.var_reference = list("varReference")?;
        c.images = list("images")?;
        c.replicas = list("replicas")?;
        for nr in m
            .get("nameReference")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let s = |k: &str| {
                nr.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let gvk = Gvk {
                group: s("group"),
                version: s("version"),
                kind: s("kind"),
            };
            let specs = nr
                .get("fieldSpecs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(FieldSpec::from_value)
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default();
            c.add_name_refs(gvk, specs);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_escapes_and_sequences() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            ["metadata", "annotations", "a.io/b"]
        );
        assert_eq!(
            split_path("spec/volumeClaimTemplates[]/metadata"),
            ["spec", "volumeClaimTemplates", "metadata"]
        );
    }

    #[test]
    fn walk_creates_and_visits_sequences() {
        let mut v = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let segs = split_path("spec/containers/name");
        let mut seen = Vec::new();
        walk(&mut v, &segs, false, &mut |x| {
            seen.push(x.as_str().unwrap_or_default().to_string());
            Ok(())
        })
        .expect("walks");
        assert_eq!(seen, ["a", "b"]);
        let segs = split_path("metadata/labels");
        walk(&mut v, &segs, true, &mut |x| {
            *x = json!({"a": "b"});
            Ok(())
        })
        .expect("walks");
        assert_eq!(v["metadata"]["labels"]["a"], "b");
    }
}
