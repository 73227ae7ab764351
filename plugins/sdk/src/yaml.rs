//! Parsing YAML and JSON documents into JSON values, with precise errors.

use serde_json::Value;

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
pub fn parse_documents(text: &[u8]) -> Result<Vec<Option<Value>>, ParseError> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_slice(text).enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let value = serde_norway::Value::deserialize(doc).map_err(|e| {
            let loc = e.location();
            ParseError {
                index,
                line: loc.as_ref().map(|l| to_u32(l.line())),
                column: loc.as_ref().map(|l| to_u32(l.column())),
                message: strip_location(&e.to_string()),
            }
        })?;
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

    #[test]
    fn yaml_1_2_scalars() {
        let docs = parse_documents(b"a: yes\nb: on\nd: 1.0\n").expect("parses");
        assert_eq!(
            docs[0],
            Some(serde_json::json!({"a": "yes", "b": "on", "d": 1.0}))
        );
    }
}
