//! Desired vs live: normalisation, per-object status, and the human diff.
//!
//! This module is pure (no I/O). The target produces the two sides — for
//! Kubernetes, the live object and the result of a server-side dry-run
//! apply of the desired object — and this module decides whether they
//! differ once the fields the server owns are dropped, so defaulted fields
//! never show as drift:
//!
//! ```
//! use serde_json::json;
//! use sluice::diff::{compare, Status};
//!
//! let live = json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "1", "resourceVersion": "7"}, "data": {"k": "v"}});
//! let after_apply = json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "1", "resourceVersion": "8"}, "data": {"k": "v"}});
//! assert_eq!(compare(Some(&live), &after_apply), Status::Synced);
//! assert_eq!(compare(None, &after_apply), Status::Missing);
//! ```

pub mod ignore;
pub mod local;

use serde::Serialize;
use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;

/// Metadata fields the server owns; never part of a comparison.
pub const SERVER_OWNED_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Where one object stands, in Argo CD's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Live equals desired.
    Synced,
    /// Live differs from desired.
    OutOfSync,
    /// Desired but not live.
    Missing,
    /// Live (a member of the app's inventory) but no longer desired.
    Extraneous,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Synced => "Synced",
            Status::OutOfSync => "OutOfSync",
            Status::Missing => "Missing",
            Status::Extraneous => "Extraneous",
        })
    }
}

/// `value` without server-owned fields: the metadata fields in
/// [`SERVER_OWNED_METADATA`], and `status` unless `keep_status` (the
/// desired object carries a status of its own). Empty `labels` and
/// `annotations` maps are dropped too, since the server drops them.
pub fn normalise(value: &Value, keep_status: bool) -> Value {
    let mut v = value.clone();
    if let Some(obj) = v.as_object_mut() {
        if !keep_status {
            obj.remove("status");
        }
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in SERVER_OWNED_METADATA {
                meta.remove(*f);
            }
            for f in ["labels", "annotations"] {
                if meta
                    .get(f)
                    .and_then(Value::as_object)
                    .is_some_and(Map::is_empty)
                {
                    meta.remove(f);
                }
            }
        }
    }
    v
}

/// Compare the live object with what it would be after applying the
/// desired one (`after_apply`: a dry-run result, or the desired object
/// itself for targets without a server). `status` is compared only when
/// `after_apply` has one and the live object has one too.
pub fn compare(live: Option<&Value>, after_apply: &Value) -> Status {
    let Some(live) = live else {
        return Status::Missing;
    };
    let keep_status = after_apply.get("status").is_some() && live.get("status").is_some();
    if normalise(live, keep_status) == normalise(after_apply, keep_status) {
        Status::Synced
    } else {
        Status::OutOfSync
    }
}

/// Whether `value` is a core-group Secret.
fn is_secret(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Secret")
        && value.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Replace the values of a Secret's `data` and `stringData` with `+`
/// runs, on both sides at once, the way Argo CD does: a value equal on both
/// sides gets the same mask, a changed value a different one, so the diff
/// shows *which* keys changed and never *what* they hold.
pub fn mask_secrets(mut live: Option<&mut Value>, mut desired: Option<&mut Value>) {
    const SAME: &str = "++++++++";
    const OLD: &str = "+++++++++";
    const NEW: &str = "++++++++++";
    let live_is = live.as_deref().is_some_and(is_secret);
    let desired_is = desired.as_deref().is_some_and(is_secret);
    if !live_is && !desired_is {
        return;
    }
    for field in ["data", "stringData"] {
        let l = live
            .as_deref()
            .and_then(|v| v.get(field))
            .and_then(Value::as_object)
            .cloned();
        let d = desired
            .as_deref()
            .and_then(|v| v.get(field))
            .and_then(Value::as_object)
            .cloned();
        let mask = |side: Option<&mut Value>,
                    own: &Option<Map<String, Value>>,
                    other: &Option<Map<String, Value>>,
                    changed: &str| {
            let Some(map) = side
                .and_then(|v| v.get_mut(field))
                .and_then(Value::as_object_mut)
            else {
                return;
            };
            for (k, v) in map.iter_mut() {
                let same =
                    other.as_ref().and_then(|o| o.get(k)) == own.as_ref().and_then(|o| o.get(k));
                *v = Value::String(if same { SAME } else { changed }.to_string());
            }
        };
        mask(live.as_deref_mut(), &l, &d, OLD);
        mask(desired.as_deref_mut(), &d, &l, NEW);
    }
    // A masked value must not leak through the last-applied annotation.
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    for side in [live, desired].into_iter().flatten() {
        if let Some(v) = side
            .pointer_mut("/metadata/annotations")
            .and_then(|a| a.get_mut(LAST_APPLIED))
        {
            *v = Value::String(SAME.into());
        }
    }
}

/// Mask the values at `paths` (JSON pointers: an object's
/// `sensitive_paths`) on both sides, the way [`mask_secrets`] masks Secret
/// data: equal on both sides gives one mask, a change gives two different
/// ones, so a diff shows *that* a sensitive value changed, never *what* it
/// holds.
pub fn mask_sensitive(live: Option<&mut Value>, desired: Option<&mut Value>, paths: &[String]) {
    const SAME: &str = "++++++++";
    const OLD: &str = "+++++++++";
    const NEW: &str = "++++++++++";
    if paths.is_empty() {
        return;
    }
    let (mut live, mut desired) = (live, desired);
    for p in paths {
        let l = live.as_deref().and_then(|v| v.pointer(p)).cloned();
        let d = desired.as_deref().and_then(|v| v.pointer(p)).cloned();
        let same = l.is_some() && l == d;
        if let Some(v) = live.as_deref_mut().and_then(|v| v.pointer_mut(p)) {
            *v = Value::String(if same { SAME } else { OLD }.into());
        }
        if let Some(v) = desired.as_deref_mut().and_then(|v| v.pointer_mut(p)) {
            *v = Value::String(if same { SAME } else { NEW }.into());
        }
    }
    // The whole object may be quoted in the last-applied annotation.
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    for side in [live, desired].into_iter().flatten() {
        if let Some(v) = side
            .pointer_mut("/metadata/annotations")
            .and_then(|a| a.get_mut(LAST_APPLIED))
        {
            *v = Value::String(SAME.into());
        }
    }
}

fn to_yaml(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(v) => serde_norway::to_string(v)
            .unwrap_or_else(|e| format!("# cannot show as YAML: {e}\n{v}\n")),
    }
}

/// A unified YAML diff from `live` to `after_apply`, both normalised and
/// with Secret values masked; `title` names the object in the headers
/// (`live/<title>`, `desired/<title>`). Coloured with ANSI escapes when
/// `color`. Empty when the two sides are equal.
pub fn unified(
    title: &str,
    live: Option<&Value>,
    after_apply: Option<&Value>,
    color: bool,
) -> String {
    let keep_status = after_apply.is_some_and(|v| v.get("status").is_some())
        && live.is_some_and(|v| v.get("status").is_some());
    let mut l = live.map(|v| normalise(v, keep_status));
    let mut d = after_apply.map(|v| normalise(v, keep_status));
    mask_secrets(l.as_mut(), d.as_mut());
    let (old, new) = (to_yaml(l.as_ref()), to_yaml(d.as_ref()));
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    let paint = |out: &mut String, code: &str, text: &str| {
        if color {
            let _ = write!(out, "\x1b[{code}m{text}\x1b[0m");
        } else {
            out.push_str(text);
        }
    };
    paint(
        &mut out,
        "1",
        &format!("--- live/{title}\n+++ desired/{title}\n"),
    );
    for group in diff.grouped_ops(3) {
        let (first, last) = match (group.first(), group.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => continue,
        };
        let (o, n) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        paint(
            &mut out,
            "36",
            &format!(
                "@@ -{},{} +{},{} @@\n",
                o.start + 1,
                o.len(),
                n.start + 1,
                n.len()
            ),
        );
        for op in &group {
            for change in diff.iter_changes(op) {
                let (sign, code) = match change.tag() {
                    ChangeTag::Delete => ("-", "31"),
                    ChangeTag::Insert => ("+", "32"),
                    ChangeTag::Equal => (" ", ""),
                };
                let mut line = format!("{sign}{}", change.value());
                if !line.ends_with('\n') {
                    line.push('\n');
                }
                if code.is_empty() {
                    out.push_str(&line);
                } else {
                    paint(&mut out, code, &line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_owned_fields_and_status_are_ignored() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "generation": 3,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}], "labels": {}},
            "data": {"k": "v"}, "status": {"x": 1}});
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        assert_eq!(compare(Some(&live), &desired), Status::Synced);
        let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "w"}});
        assert_eq!(compare(Some(&live), &changed), Status::OutOfSync);
        assert_eq!(compare(None, &changed), Status::Missing);
        assert_eq!(
            unified("ConfigMap/a", Some(&live), Some(&desired), false),
            ""
        );
    }

    #[test]
    fn status_compared_when_desired_carries_it() {
        let live = json!({"kind": "X", "metadata": {"name": "a"}, "status": {"phase": "A"}});
        let desired = json!({"kind": "X", "metadata": {"name": "a"}, "status": {"phase": "B"}});
        assert_eq!(compare(Some(&live), &desired), Status::OutOfSync);
    }

    #[test]
    fn unified_diff_shows_the_change() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "old"}});
        let desired = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "new"}});
        let d = unified("ConfigMap/a", Some(&live), Some(&desired), false);
        assert!(
            d.starts_with("--- live/ConfigMap/a\n+++ desired/ConfigMap/a\n@@ "),
            "{d}"
        );
        assert!(d.contains("\n-  k: old\n+  k: new\n"), "{d}");
        let c = unified("ConfigMap/a", Some(&live), Some(&desired), true);
        assert!(c.contains("\x1b[31m-  k: old\n\x1b[0m"), "{c:?}");
        let missing = unified("ConfigMap/a", None, Some(&desired), false);
        assert!(missing.contains("+kind: ConfigMap"), "{missing}");
    }

    #[test]
    fn sensitive_paths_never_shown() {
        let mut live = json!({"kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"token": "old-token-1", "same": "same-token-2", "plain": "a"}});
        let mut desired = json!({"kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"token": "new-token-3", "same": "same-token-2", "plain": "b"}});
        let paths = ["/data/token".to_string(), "/data/same".to_string()];
        mask_sensitive(Some(&mut live), Some(&mut desired), &paths);
        let d = unified("ConfigMap/c", Some(&live), Some(&desired), false);
        for secret in ["old-token-1", "same-token-2", "new-token-3"] {
            assert!(!d.contains(secret), "{secret} leaked:\n{d}");
        }
        assert!(d.contains("-  token: +++++++++\n"), "{d}");
        assert!(d.contains("+  token: ++++++++++\n"), "{d}");
        assert!(d.contains("-  plain: a\n+  plain: b\n"), "{d}");
        assert!(!d.contains("-  same:"), "{d}");
    }

    #[test]
    fn secret_values_never_shown() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2VjcmV0MQ==", "changed": "b2xkLXNlY3JldA=="}});
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"same": "c2VjcmV0MQ==", "changed": "bmV3LXNlY3JldA==", "added": "YWRkZWQ="},
            "stringData": {"plain": "hunter2"}});
        let d = unified("Secret/s", Some(&live), Some(&desired), false);
        for secret in [
            "c2VjcmV0MQ",
            "b2xkLXNlY3JldA",
            "bmV3LXNlY3JldA",
            "YWRkZWQ",
            "hunter2",
        ] {
            assert!(!d.contains(secret), "{secret} leaked:\n{d}");
        }
        assert!(d.contains("-  changed: +++++++++\n"), "{d}");
        assert!(d.contains("+  changed: ++++++++++\n"), "{d}");
        assert!(d.contains("+  added:"), "{d}");
        assert!(!d.contains("-  same:") && !d.contains("+  same:"), "{d}");
        let created = unified("Secret/s", None, Some(&desired), false);
        assert!(
            !created.contains("hunter2") && !created.contains("YWRkZWQ"),
            "{created}"
        );
    }
}
