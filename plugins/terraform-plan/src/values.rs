//! Unknown and sensitive values: marking them in a planned value, and
//! finding them again after conversion.
//!
//! A plan says which parts of a resource's after-state are unknown
//! (`after_unknown`) or sensitive (`after_sensitive`) with trees of the same
//! shape as the value, holding `true` where the mark applies. Converting a
//! typed resource renames and reshapes the value, so those trees cannot be
//! applied to the converted object directly. Instead the marks are put *into*
//! the value as marker strings before conversion, and looked for in the
//! converted object afterwards: wherever a marker ends up is where the
//! unknown or sensitive value lives in the object. Markers start with a
//! control character no plan value contains.

use serde_json::{Map, Value};

/// Prefix of an unknown-value marker; the Terraform path follows.
const UNKNOWN: &str = "\u{1}sluice-unknown:";
/// Prefix of a sensitive-value marker.
const SENSITIVE: &str = "\u{1}sluice-sensitive:";

/// `value` with every place `marks` holds `true` replaced by a marker
/// string (`prefix` + the path of the place, as a JSON list). Places absent from
/// `value` (unknown values have no after-value) are created.
fn mark(value: &mut Value, marks: &Value, prefix: &str, path: &mut Vec<String>) {
    match marks {
        Value::Bool(true) => {
            let encoded = serde_json::to_string(path).unwrap_or_default();
            *value = Value::String(format!("{prefix}{encoded}"));
        }
        Value::Object(m) => {
            if !value.is_object() {
                if !value.is_null() || !has_mark(marks) {
                    return;
                }
                *value = Value::Object(Map::new());
            }
            let Some(obj) = value.as_object_mut() else {
                return;
            };
            for (k, sub) in m {
                if matches!(sub, Value::Bool(false) | Value::Null) {
                    continue;
                }
                // Descend where the value has the key; create it only when
                // something below is marked (unknown values are absent).
                let here = match obj.get_mut(k) {
                    Some(v) => v,
                    None if has_mark(sub) => obj.entry(k.clone()).or_insert(Value::Null),
                    None => continue,
                };
                path.push(k.clone());
                mark(here, sub, prefix, path);
                path.pop();
            }
        }
        Value::Array(items) => {
            if !value.is_array() {
                if !value.is_null() || !has_mark(marks) {
                    return;
                }
                *value = Value::Array(Vec::new());
            }
            let Some(arr) = value.as_array_mut() else {
                return;
            };
            for (i, sub) in items.iter().enumerate() {
                if matches!(sub, Value::Bool(false) | Value::Null)
                    || (i >= arr.len() && !has_mark(sub))
                {
                    continue;
                }
                while arr.len() <= i {
                    arr.push(Value::Null);
                }
                path.push(i.to_string());
                mark(&mut arr[i], sub, prefix, path);
                path.pop();
            }
        }
        _ => {}
    }
}

fn has_mark(marks: &Value) -> bool {
    match marks {
        Value::Bool(b) => *b,
        Value::Object(m) => m.values().any(has_mark),
        Value::Array(a) => a.iter().any(has_mark),
        _ => false,
    }
}

/// A Terraform-style attribute path: `spec[0].replicas`, `data["k"]`.
pub fn tf_path(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() {
            out.push_str(&format!("[{p}]"));
        } else if p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !p.is_empty() {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(p);
        } else {
            out.push_str(&format!("[{p:?}]"));
        }
    }
    out
}

/// Put unknown markers into `after` where `after_unknown` says so.
pub fn mark_unknown(after: &mut Value, after_unknown: Option<&Value>) {
    if let Some(m) = after_unknown {
        mark(after, m, UNKNOWN, &mut Vec::new());
    }
}

/// Put sensitive markers into `after` where `after_sensitive` says so.
pub fn mark_sensitive(after: &mut Value, after_sensitive: Option<&Value>) {
    if let Some(m) = after_sensitive {
        mark(after, m, SENSITIVE, &mut Vec::new());
    }
}

/// Whether `after_sensitive` marks anything.
pub fn any_sensitive(after_sensitive: Option<&Value>) -> bool {
    after_sensitive.is_some_and(has_mark)
}

/// Escape one JSON-pointer token (RFC 6901).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// One unknown value found in a converted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// JSON pointer in the converted object.
    pub pointer: String,
    /// The last key of the pointer (the field's name in the object).
    pub key: String,
    /// The attribute path in the plan's value, one step per item.
    pub path: Vec<String>,
}

impl Unknown {
    /// The attribute path as Terraform writes it: `spec[0].replicas`.
    pub fn tf_path(&self) -> String {
        tf_path(&self.path)
    }
}

/// Every unknown marker in `v`, in document order.
pub fn find_unknown(v: &Value) -> Vec<Unknown> {
    let mut out = Vec::new();
    find(v, &mut String::new(), "", &mut |pointer, key, s| {
        if let Some(encoded) = s.strip_prefix(UNKNOWN) {
            out.push(Unknown {
                pointer: pointer.to_string(),
                key: key.to_string(),
                path: serde_json::from_str(encoded).unwrap_or_default(),
            });
        }
    });
    out
}

/// The JSON pointers of every sensitive marker in `v`.
pub fn find_sensitive(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    find(v, &mut String::new(), "", &mut |pointer, _, s| {
        if s.starts_with(SENSITIVE) {
            out.push(pointer.to_string());
        }
    });
    out
}

fn find(v: &Value, pointer: &mut String, key: &str, f: &mut dyn FnMut(&str, &str, &str)) {
    match v {
        Value::String(s) if s.starts_with('\u{1}') => f(pointer, key, s),
        Value::Object(m) => {
            for (k, sub) in m {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(k));
                find(sub, pointer, k, f);
                pointer.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, sub) in a.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                find(sub, pointer, key, f);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// Remove the value at `pointer` (an object member or an array item).
pub fn remove(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_follow_the_value_through_a_rename() {
        let mut after = json!({"spec": [{"replicas": "1", "name": "x"}], "data": {"a/b": "s"}});
        mark_unknown(&mut after, Some(&json!({"spec": [{"uid": true}]})));
        mark_sensitive(&mut after, Some(&json!({"data": {"a/b": true}})));
        let moved = json!({"spec": after["spec"][0].clone(), "data": after["data"].clone()});
        let u = find_unknown(&moved);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].pointer, "/spec/uid");
        assert_eq!(u[0].tf_path(), "spec[0].uid");
        assert_eq!(find_sensitive(&moved), ["/data/a~1b"]);
        let mut m = moved.clone();
        remove(&mut m, "/spec/uid");
        assert!(find_unknown(&m).is_empty());
    }

    #[test]
    fn tf_paths_quote_odd_keys() {
        assert_eq!(
            tf_path(&["data".into(), "a.b".into(), "0".into()]),
            "data[\"a.b\"][0]"
        );
    }
}
