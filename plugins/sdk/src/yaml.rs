//! Parsing YAML and JSON documents into JSON values, with precise errors.

use serde_json::Value;

mod text;
pub use text::{JsonDoc, documents_as_json};

/// Why a file could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Index of the document that failed, counting from 0.
    pub index: u32,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What the parser said.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            _ => write!(f, "document {}: {}", self.index, self.message),
        }
    }
}

/// Parse every document of a YAML stream. Empty documents (nothing, or only
/// comments) come back as `None` so that document indexes stay those of the
/// file.
///
/// Each document is read straight into a JSON value (no intermediate YAML
/// value), with the same result as [`to_json`] of the document's
/// `serde_norway::Value`.
pub fn parse_documents(text: &[u8]) -> Result<Vec<Option<Value>>, ParseError> {
    use serde::de::DeserializeSeed;
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_slice(text).enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let json = JsonSeed
            .deserialize(doc)
            .map_err(|e| read_error(index, &e))?;
        out.push(if json.is_null() { None } else { Some(json) });
    }
    Ok(out)
}

/// The [`ParseError`] of document `index` for what the YAML reader said.
fn read_error(index: u32, e: &serde_norway::Error) -> ParseError {
    let loc = e.location();
    ParseError {
        index,
        line: loc.as_ref().map(|l| to_u32(l.line())),
        column: loc.as_ref().map(|l| to_u32(l.column())),
        message: strip_location(&e.to_string()),
    }
}

/// Reads one YAML node into a JSON value, as [`to_json`] converts it: tags
/// dropped, scalar keys as their YAML text, repeated keys an error.
struct JsonSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonSeed {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        // A float that is a whole number stays a float, as in `to_json`.
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| {
                E::custom(format!(
                    "number {} cannot be represented in JSON",
                    serde_norway::Number::from(f)
                ))
            })
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(JsonSeed)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        use serde_norway::Value as Y;
        let mut map = serde_json::Map::with_capacity(m.size_hint().unwrap_or(0));
        // Keys of different YAML types may write the same text (`true` and
        // "true"): that is not a repeated key, and the later value wins, as
        // in `to_json`. So once a map has a key that is not a string, each
        // key's type is kept beside its text.
        let mut typed: Option<Vec<(u8, String)>> = None;
        while let Some(k) = m.next_key::<Y>()? {
            // The key's type, as `to_json` writes it, and as
            // `serde_norway::Mapping` names it when it is repeated.
            let (ty, key, repeated) = match k {
                Y::String(s) => (0, s, None),
                Y::Bool(b) => (1, b.to_string(), Some(format!("with key `{b}`"))),
                Y::Number(n) => (2, n.to_string(), Some(format!("with key {n}"))),
                Y::Null => (3, "null".to_string(), Some("with null key".to_string())),
                other => {
                    return Err(A::Error::custom(format!(
                        "mapping key {other:?} is not a scalar"
                    )));
                }
            };
            if ty != 0 && typed.is_none() {
                typed = Some(map.keys().map(|k| (0, k.clone())).collect());
            }
            let seen = match &typed {
                None => map.contains_key(&key),
                Some(keys) => keys.iter().any(|(t, k)| *t == ty && *k == key),
            };
            if seen {
                let what = repeated.unwrap_or_else(|| format!("with key {key:?}"));
                return Err(A::Error::custom(format!("duplicate entry {what}")));
            }
            if let Some(keys) = &mut typed {
                keys.push((ty, key.clone()));
            }
            let value = m.next_value_seed(JsonSeed)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // A tagged node: the tag is dropped, its value kept.
        use serde::de::VariantAccess;
        let (_tag, contents) = data.variant::<serde::de::IgnoredAny>()?;
        contents.newtype_variant_seed(JsonSeed)
    }
}

/// Parse a JSON file: one value (an array stays an array).
pub fn parse_json(text: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(text).map_err(|e| ParseError {
        index: 0,
        line: Some(to_u32(e.line())),
        column: Some(to_u32(e.column())),
        message: strip_location(&e.to_string()),
    })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// serde's messages end in " at line L column C"; the caller says that itself.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Convert a YAML value into JSON. Tags are dropped (their value kept);
/// non-string mapping keys become their YAML text, as Kubernetes' own YAML
/// decoder does; non-finite floats are an error.
pub fn to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("number {n} cannot be represented in JSON"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(m) => {
            let mut map = serde_json::Map::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    other => return Err(format!("mapping key {other:?} is not a scalar")),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Y::Tagged(t) => to_json(t.value)?,
    })
}

/// Render JSON values as a multi-document YAML stream (`---` between).
pub fn to_yaml_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_norway::to_string(v).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_indexes() {
        let docs = parse_documents(b"a: 1\n---\n# only a comment\n---\nb: 2\n").expect("parses");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0], Some(serde_json::json!({"a": 1})));
        assert_eq!(docs[1], None);
        assert_eq!(docs[2], Some(serde_json::json!({"b": 2})));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = parse_documents(b"a: 1\nb: [1, 2\nc: 3\n").expect_err("bad yaml");
        assert!(err.line.is_some() && err.column.is_some(), "{err:?}");
    }

    /// The reading `parse_documents` replaced: a whole `serde_norway::Value`,
    /// then `to_json`.
    fn through_value(text: &[u8]) -> Result<Vec<Option<Value>>, ParseError> {
        use serde::Deserialize;
        let mut out = Vec::new();
        for (i, doc) in serde_norway::Deserializer::from_slice(text).enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let value = serde_norway::Value::deserialize(doc).map_err(|e| read_error(index, &e))?;
            let json = to_json(value).map_err(|message| ParseError {
                index,
                line: None,
                column: None,
                message,
            })?;
            out.push(if json.is_null() { None } else { Some(json) });
        }
        Ok(out)
    }

    #[test]
    fn reading_directly_gives_what_a_yaml_value_and_to_json_give() {
        let same = [
            "a: 1\nb: -2\nc: 1.5\nd: 1.0\ne: 18446744073709551615\nf: 1e3\ng: true\nh: ~\ni: null\nj: ''\n",
            "k: [1, 'two', {x: y}]\nl: {}\nm: []\nn: 0755\no: 0x1F\np: 0o17\nq: +12\n",
            "tagged: !foo {a: 1}\nstr: !!str 123\nseq: !bar [1, 2]\nint: !!int 3\nbin: !!binary aGk=\n",
            "1: one\ntrue: yes\nnull: n\n1.5: f\n-3: neg\n",
            "\"true\": s\ntrue: b\n",
            "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nalias: *b\n",
            "---\n# only a comment\n---\n- 1\n- 2\n---\nplain\n---\n",
            "s: |\n  line one\n  line two\nt: >\n  folded\n  text\nu: \"esc\\t\\u00e9\"\n",
            "deep: [[[[[[1]]]]]]\nempty_key: {'': 1}\n",
            "a: 1\na: 2\n",
            "b: {k: 1, k: 2}\n",
            "true: 1\ntrue: 2\n",
            "1: a\n1: b\n",
            "~: a\nnull: b\n",
            "\"true\": a\ntrue: b\n\"true\": c\n",
            "a: [1, 2\nb: 3\n",
            "a: *nowhere\n",
            "\tbad: tab\n",
        ];
        for text in same {
            assert_eq!(
                parse_documents(text.as_bytes()),
                through_value(text.as_bytes()),
                "{text}"
            );
        }
        // The errors `to_json` found after reading differ only in that,
        // read directly, they come with their place (path, line, column).
        for (text, path) in [
            ("a: .nan\n", "a: "),
            ("x: 1\nb: [-.inf]\n", "b[0]: "),
            ("ok: 1\n? [1, 2]\n: seq key\n", ""),
            ("m:\n  ? {a: 1}\n  : map key\n", "m: "),
        ] {
            let direct = parse_documents(text.as_bytes()).expect_err(text);
            let old = through_value(text.as_bytes()).expect_err(text);
            assert_eq!(direct.message, format!("{path}{}", old.message), "{text}");
            assert!(old.line.is_none() && direct.line.is_some(), "{text}");
        }
    }

    #[test]
    fn json_text_is_what_the_values_print() {
        let fast = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {x: 'y'}}\ndata: {k: \"v\\t\\u00e9\\\"\"}\n",
            "a: 1\nb: -2\nc: 1.5\nd: 1.0\ne: 18446744073709551615\nf: 1e3\ng: true\nh: ~\ni: null\nj: ''\n",
            "k: [1, 'two', {x: y}, [], {}]\nl: {}\nm: []\nn: 0755\no: 0x1F\np: 0o17\nq: +12\nr: 1e400x\n",
            "tagged: !foo {a: 1}\nstr: !!str 123\nseq: !bar [1, 2]\nint: !!int 3\nbin: !!binary aGk=\n",
            "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nalias: *b\n",
            "---\n# only a comment\n---\n- 1\n- 2\n---\nplain\n---\n~\n---\n",
            "s: |\n  line one\n  line two\nt: >\n  folded\n  text\nu: \"\\x01 ctl \\u2028\"\n",
            "deep: [[[[[[1]]]]]]\nempty_key: {'': 1}\nkind: !k List\napiVersion: 3\n",
            "apiVersion: [v1]\nkind: {a: b}\n",
            "- apiVersion: v1\n  kind: X\n",
        ];
        let slow = [
            "1: one\n",
            "a: 1\na: 2\n",
            "b: {k: 1, k: 2}\n",
            "a: .nan\n",
            "? [1, 2]\n: seq key\n",
            "a: [1, 2\nb: 3\n",
            "\"true\": s\ntrue: b\n",
        ];
        for text in fast {
            let docs = documents_as_json(text.as_bytes()).expect(text);
            let values = parse_documents(text.as_bytes()).expect(text);
            assert_eq!(docs.len(), values.len(), "{text}");
            for (d, v) in docs.iter().zip(&values) {
                let (Some(d), Some(v)) = (d, v) else {
                    assert!(d.is_none() && v.is_none(), "{text}: {d:?} {v:?}");
                    continue;
                };
                assert_eq!(d.json, v.to_string(), "{text}");
                assert_eq!(d.mapping, v.is_object(), "{text}");
                assert_eq!(d.api_version.as_deref(), v["apiVersion"].as_str(), "{text}");
                assert_eq!(d.kind.as_deref(), v["kind"].as_str(), "{text}");
            }
        }
        for text in slow {
            assert_eq!(documents_as_json(text.as_bytes()), None, "{text}");
        }
        // Many keys: repeated ones are still caught past the small list.
        let mut many: String = (0..200).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(documents_as_json(many.as_bytes()).is_some());
        many.push_str("k150: again\n");
        assert_eq!(documents_as_json(many.as_bytes()), None);
    }

    #[test]
    fn yaml_1_2_scalars() {
        let docs = parse_documents(b"a: yes\nb: on\nd: 1.0\n").expect("parses");
        assert_eq!(
            docs[0],
            Some(serde_json::json!({"a": "yes", "b": "on", "d": 1.0}))
        );
    }
}
