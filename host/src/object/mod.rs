//! The desired-object model: an object is JSON plus its identity.
//!
//! Identity is (group, kind, namespace, name); the version is not part of
//! it, so `apps/v1` and `apps/v1beta1` Deployments of the same name are the
//! same object. This module is pure: no I/O.

mod yaml;

pub use yaml::{to_yaml, to_yaml_stream};

use serde_json::Value;
use std::fmt;

/// Who an object is: (group, kind, namespace, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// API group, `""` for the core group.
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects or not yet defaulted.
    pub namespace: Option<String>,
    /// `metadata.name` (or `metadata.generateName` for generated objects).
    pub name: String,
}

impl fmt::Display for ObjectId {
    /// `Kind/name`, `group/Kind/name`, with `namespace/` before the name
    /// when namespaced: `apps/Deployment/prod/web`, `ConfigMap/x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{}/", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)
    }
}

/// Where an object came from in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Repository-relative file path.
    pub file: String,
    /// YAML document index in the file.
    pub index: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file, self.index)
    }
}

/// One desired (or live) object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Its identity.
    pub id: ObjectId,
    /// `apiVersion` as written.
    pub api_version: String,
    /// The whole object.
    pub value: Value,
    /// Where it came from, when known.
    pub origin: Option<Origin>,
    /// JSON pointers (`/data/password`) of secret values, as the renderer
    /// reported them (`sensitive-paths`): applied like any other value, but
    /// never printed ([`Object::masked`], `diff::mask_sensitive`).
    pub sensitive_paths: Vec<String>,
}

/// What a sensitive value is shown as.
pub const MASK: &str = "++++++++";

impl Object {
    /// The object as it may be printed: every value at a sensitive path
    /// replaced by [`MASK`].
    pub fn masked(&self) -> Value {
        let mut v = self.value.clone();
        mask_paths(&mut v, &self.sensitive_paths, MASK);
        v
    }
}

impl Object {
    /// The secret values this object carries, as text that could show up in
    /// a message about it: every string or number at or under a sensitive
    /// path, and for a Secret every `data` value (base64, and decoded when
    /// it is UTF-8) and `stringData` value. Values shorter than
    /// [`SCRUB_MIN_LEN`] are left out (they cannot be told apart from the
    /// words of a message).
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.sensitive_paths {
            if let Some(v) = self.value.pointer(p) {
                leaves(v, &mut out);
            }
        }
        if self.id.kind == "Secret" && self.id.group.is_empty() {
            if let Some(v) = self.value.get("stringData") {
                leaves(v, &mut out);
            }
            if let Some(m) = self.value.get("data").and_then(Value::as_object) {
                for v in m.values().filter_map(Value::as_str) {
                    out.push(v.to_string());
                    use base64::Engine as _;
                    if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(v)
                        && let Ok(t) = String::from_utf8(b)
                    {
                        out.push(t);
                    }
                }
            }
        }
        out.retain(|v| v.chars().count() >= SCRUB_MIN_LEN);
        // Longest first, so a value containing another is replaced whole.
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        out.dedup();
        out
    }

    /// `message` (e.g. an API server's refusal, which may quote the
    /// object) with every one of [`Object::secret_values`] replaced by
    /// [`MASK`], also in its JSON-escaped form.
    pub fn scrub(&self, message: &str) -> String {
        let mut m = message.to_string();
        for v in self.secret_values() {
            let escaped = serde_json::to_string(&v).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != v {
                m = m.replace(escaped, MASK);
            }
            m = m.replace(&v, MASK);
        }
        m
    }
}

/// Secret values shorter than this are not scrubbed from messages.
pub const SCRUB_MIN_LEN: usize = 4;

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Replace the value at each of `paths` (JSON pointers) in `value` with
/// `mask`; pointers that match nothing are ignored.
pub fn mask_paths(value: &mut Value, paths: &[String], mask: &str) {
    for p in paths {
        if let Some(v) = value.pointer_mut(p) {
            *v = Value::String(mask.to_string());
        }
    }
}

/// The error returned by [`parse`] and [`check_unique`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObjectError {
    /// The text is not JSON.
    #[error("{at}: not valid JSON: {message}")]
    NotJson {
        /// Where the object came from.
        at: String,
        /// What the parser said.
        message: String,
    },
    /// A required field is missing or has the wrong type.
    #[error(
        "{at}: {field} is missing or not a string; every object needs apiVersion, kind and metadata.name"
    )]
    MissingField {
        /// Where the object came from.
        at: String,
        /// The field.
        field: &'static str,
    },
    /// Two objects share an identity.
    #[error("{id} is defined twice: at {first} and at {second}; remove one of them")]
    Duplicate {
        /// The shared identity.
        id: Box<ObjectId>,
        /// Where the first is.
        first: String,
        /// Where the second is.
        second: String,
    },
}

fn at(origin: Option<&Origin>, n: usize) -> String {
    match origin {
        Some(o) => o.to_string(),
        None => format!("object {n}"),
    }
}

/// Parse one object from JSON text. `n` numbers it in messages when it has
/// no origin.
pub fn parse(json: &str, origin: Option<Origin>, n: usize) -> Result<Object, ObjectError> {
    let value: Value = serde_json::from_str(json).map_err(|e| ObjectError::NotJson {
        at: at(origin.as_ref(), n),
        message: e.to_string(),
    })?;
    from_value(value, origin, n)
}

/// [`parse`] for a renderer's output: an object without `apiVersion` is
/// kept (with an empty one, in the core group), as kustomize passes it
/// through; `sluice render` prints it, and the sync refuses it on its row
/// (no API server accepts one).
pub fn parse_rendered(json: &str, origin: Option<Origin>, n: usize) -> Result<Object, ObjectError> {
    let value: Value = serde_json::from_str(json).map_err(|e| ObjectError::NotJson {
        at: at(origin.as_ref(), n),
        message: e.to_string(),
    })?;
    build(value, origin, n, false)
}

/// Make an object from a JSON value, checking the fields identity needs.
pub fn from_value(value: Value, origin: Option<Origin>, n: usize) -> Result<Object, ObjectError> {
    build(value, origin, n, true)
}

fn build(
    value: Value,
    origin: Option<Origin>,
    n: usize,
    needs_api_version: bool,
) -> Result<Object, ObjectError> {
    let missing = |field| ObjectError::MissingField {
        at: at(origin.as_ref(), n),
        field,
    };
    let s = |p: &str| {
        value
            .pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let api_version = match s("/apiVersion") {
        Some(v) => v.to_string(),
        None if !needs_api_version && value.get("apiVersion").is_none() => String::new(),
        None => return Err(missing("apiVersion")),
    };
    let kind = s("/kind").ok_or_else(|| missing("kind"))?.to_string();
    let name = s("/metadata/name")
        .or_else(|| s("/metadata/generateName"))
        .ok_or_else(|| missing("metadata.name"))?
        .to_string();
    let namespace = s("/metadata/namespace").map(str::to_string);
    let group = group_of(&api_version).to_string();
    Ok(Object {
        id: ObjectId {
            group,
            kind,
            namespace,
            name,
        },
        api_version,
        value,
        origin,
        sensitive_paths: Vec::new(),
    })
}

/// The group of an `apiVersion`: `apps/v1` → `apps`, `v1` → `""`.
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Refuse two objects with the same identity.
pub fn check_unique(objects: &[Object]) -> Result<(), ObjectError> {
    let mut seen: std::collections::HashMap<&ObjectId, usize> = std::collections::HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        if let Some(&j) = seen.get(&o.id) {
            return Err(ObjectError::Duplicate {
                id: Box::new(o.id.clone()),
                first: at(objects[j].origin.as_ref(), j),
                second: at(o.origin.as_ref(), i),
            });
        }
        seen.insert(&o.id, i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_ignores_version() {
        let a = parse(r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w","namespace":"p"}}"#, None, 0)
            .expect("parses");
        let b = parse(r#"{"apiVersion":"apps/v1beta1","kind":"Deployment","metadata":{"name":"w","namespace":"p"}}"#, None, 1)
            .expect("parses");
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.to_string(), "apps/Deployment/p/w");
        let err = check_unique(&[a, b]).expect_err("duplicate");
        assert!(
            err.to_string()
                .contains("apps/Deployment/p/w is defined twice"),
            "{err}"
        );
    }

    #[test]
    fn scrub_hides_secret_values_in_messages() {
        let mut o = from_value(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                   "data": {"pw": "aHVudGVyMg=="}, "stringData": {"token": "tok\"en-9"}}),
            None,
            0,
        )
        .expect("object");
        let cm = from_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                   "data": {"k": "s3cr3t-value", "short": "abc", "open": "visible"}}),
            None,
            0,
        )
        .expect("object");
        let mut cm = cm;
        cm.sensitive_paths = vec!["/data/k".into(), "/data/short".into()];
        assert_eq!(
            cm.scrub("ConfigMap \"c\" is invalid: data.k: Invalid value: \"s3cr3t-value\"; data.open: visible; abc"),
            format!("ConfigMap \"c\" is invalid: data.k: Invalid value: \"{MASK}\"; data.open: visible; abc"),
            "the sensitive value masked, the others and values under 4 characters kept"
        );
        o.sensitive_paths = Vec::new();
        assert_eq!(
            o.scrub(r#"data: aHVudGVyMg== (hunter2); stringData.token: "tok\"en-9" tok"en-9"#),
            format!(r#"data: {MASK} ({MASK}); stringData.token: "{MASK}" {MASK}"#),
            "a Secret's data (base64 and decoded) and stringData, raw and JSON-escaped"
        );
    }

    #[test]
    fn masked_hides_sensitive_paths_only() {
        let mut o = parse(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a/b":"s3cret","plain":"ok"}}"#,
            None,
            0,
        )
        .expect("parses");
        o.sensitive_paths = vec!["/data/a~1b".into(), "/no/such/path".into()];
        let m = o.masked();
        assert_eq!(m["data"]["a/b"], MASK);
        assert_eq!(m["data"]["plain"], "ok");
        assert_eq!(
            o.value["data"]["a/b"], "s3cret",
            "the object keeps its value"
        );
    }

    #[test]
    fn missing_fields_and_bad_json_name_the_origin() {
        let o = Some(Origin {
            file: "a.yaml".into(),
            index: 2,
        });
        let e = parse(
            r#"{"apiVersion":"v1","metadata":{"name":"x"}}"#,
            o.clone(),
            0,
        )
        .expect_err("no kind");
        assert_eq!(
            e.to_string(),
            "a.yaml (document 2): kind is missing or not a string; every object needs apiVersion, kind and metadata.name"
        );
        let e = parse("{not json", o, 0).expect_err("bad json");
        assert!(
            e.to_string()
                .starts_with("a.yaml (document 2): not valid JSON"),
            "{e}"
        );
        assert_eq!(group_of("v1"), "");
        assert_eq!(
            group_of("rbac.authorization.k8s.io/v1"),
            "rbac.authorization.k8s.io"
        );
    }
}
