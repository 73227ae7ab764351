//! Writing objects as YAML that every Kubernetes tool reads back the same.
//!
//! `kubectl` and the API server read YAML 1.1 (`yes`, `on`, `0755` and
//! `1_000` are not strings there), while most Rust emitters write YAML 1.2
//! and leave such strings bare. This emitter quotes every string that any of
//! the two would read as something else, and otherwise writes the block
//! style `kubectl get -o yaml` writes.

use serde_json::Value;
use std::fmt::Write;

/// Objects as a multi-document YAML stream (`---` between documents).
pub fn to_yaml_stream<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(v));
    }
    out
}

/// One value as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        v => {
            out.push_str(&scalar(v, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    for (k, v) in m {
        indent(out, ind);
        out.push_str(&string(k, ind));
        out.push(':');
        write_child(out, v, ind, false);
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for v in a {
        indent(out, ind);
        out.push('-');
        write_child(out, v, ind, true);
    }
}

/// The value after `key:` or `-`. Maps under `-` start on the same line,
/// sequences under a key are not indented further (kubectl's style).
fn write_child(out: &mut String, v: &Value, ind: usize, in_seq: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if in_seq {
                out.push(' ');
                let mut inner = String::new();
                write_map(&mut inner, m, ind + 2);
                out.push_str(inner.trim_start());
            } else {
                out.push('\n');
                write_map(out, m, ind + 2);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, if in_seq { ind + 2 } else { ind });
        }
        v => {
            out.push(' ');
            out.push_str(&scalar(v, ind + 2));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value, ind: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, ind),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string scalar: bare when safe, a literal block for multi-line text,
/// double-quoted otherwise.
fn string(s: &str, ind: usize) -> String {
    if s.contains('\n') && literal_ok(s) {
        let chomp = if s.ends_with("\n\n") {
            "+"
        } else if s.ends_with('\n') {
            ""
        } else {
            "-"
        };
        let mut out = format!("|{chomp}\n");
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() {
                indent(&mut out, ind);
                out.push_str(line);
            }
            out.push('\n');
        }
        out.pop();
        return out;
    }
    if needs_quotes(s) {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(q, "\\x{:02x}", c as u32);
                }
                c => q.push(c),
            }
        }
        q.push('"');
        return q;
    }
    s.to_string()
}

/// A literal block keeps text exactly when no line has trailing spaces, the
/// first line does not start with a space, and there are no control
/// characters other than newlines.
fn literal_ok(s: &str) -> bool {
    !s.starts_with(' ')
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && s.split('\n')
            .all(|l| !l.ends_with(' ') && !l.ends_with('\t'))
}

const RESERVED: &[&str] = &[
    "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y", "Y",
    "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "=",
    "<<",
];

fn needs_quotes(s: &str) -> bool {
    if RESERVED.contains(&s) || looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    // `-` may start a plain scalar when a non-space follows (`-a`, `--b=c`).
    let dash_ok = first == '-' && s.len() > 1 && !s[1..].starts_with([' ', '\t']);
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) && !dash_ok {
        return true;
    }
    s.starts_with(' ')
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.contains('\t')
        || s.starts_with("- ")
        || s.starts_with("---")
        || s.starts_with("...")
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

/// Anything YAML 1.1 or 1.2 could read as a number: decimal, octal, hex,
/// binary, with `_` separators, floats, exponents, sexagesimal, `.inf`,
/// `.nan`.
fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    if let Some(rest) = lower
        .strip_prefix("0x")
        .or_else(|| lower.strip_prefix("0o"))
        .or_else(|| lower.strip_prefix("0b"))
    {
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    let starts_numeric =
        t.starts_with(|c: char| c.is_ascii_digit()) || (t.starts_with('.') && t.len() > 1);
    starts_numeric
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '_' | ':' | 'e' | 'E' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn round_trip(v: &Value) -> Value {
        let text = to_yaml(v);
        let back = serde_norway::Value::deserialize(serde_norway::Deserializer::from_str(&text))
            .expect("parses");
        serde_json::to_value(back).expect("json")
    }

    #[test]
    fn yaml_1_1_words_and_numbers_are_quoted() {
        for s in [
            "on", "yes", "No", "~", "0755", "1_000", "1e3", "12:30", ".5", "0x1F", "", "true",
            "-1", "+1.5", "null",
        ] {
            let out = to_yaml(&json!({ "k": s }));
            assert_eq!(out, format!("k: \"{s}\"\n"), "{s}");
        }
        assert_eq!(to_yaml(&json!({"k": "nginx:1.27"})), "k: nginx:1.27\n");
        assert_eq!(to_yaml(&json!({"k": "v1.2.3"})), "k: v1.2.3\n");
    }

    #[test]
    fn kubectl_block_style() {
        let v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}},
            "spec": {"containers": [{"name": "c", "args": ["-a", "--b=c"], "ports": [{"containerPort": 80}]}]}});
        assert_eq!(
            to_yaml(&v),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {}\nspec:\n  containers:\n  - name: c\n    args:\n    - -a\n    - --b=c\n    ports:\n    - containerPort: 80\n"
        );
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn strings_round_trip() {
        for s in [
            "a: b",
            "# x",
            "x #y",
            " lead",
            "trail ",
            "multi\nline\n",
            "no newline\nat end",
            "keep\n\n",
            "tab\there",
            "quote\"s",
            "back\\slash",
            "- item",
            "---",
            "?x",
            ":x",
            "@at",
            "`tick",
            "{a}",
            "[a]",
            "!tag",
            "&a",
            "*a",
            "|",
            ">",
            "'",
            "%",
            "multi\n  indented\n",
            "ctl\u{1}char",
            "ünïcødé",
            "a:b",
            "-x",
            "x:",
        ] {
            let v = json!({"k": s, "list": [s, {"k": s}]});
            assert_eq!(round_trip(&v), v, "{s:?}");
        }
    }

    #[test]
    fn nested_sequences_and_scalars() {
        let v = json!([[1, 2], [], {}, null, 1.5, true, {"a": [{"b": [1]}]}]);
        assert_eq!(round_trip(&v), v);
        assert_eq!(
            to_yaml_stream([&json!({"a": 1}), &json!({"b": 2})]),
            "a: 1\n---\nb: 2\n"
        );
    }
}
