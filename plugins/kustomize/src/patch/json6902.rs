//! JSON patch (RFC 6902) on a JSON value: add, remove, replace, move, copy
//! and test, with RFC 6901 pointers (`~0`, `~1`, `-` for the end).

use serde_json::Value;

/// Apply every operation of `ops` (a JSON array) to `doc`, in order.
pub fn apply(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let Some(list) = ops.as_array() else {
        return Err("a JSON patch must be a list of operations".into());
    };
    for op in list {
        let s = |k: &str| op.get(k).and_then(Value::as_str);
        let name = s("op").ok_or_else(|| format!("operation without \"op\": {op}"))?;
        let path = s("path").ok_or_else(|| format!("operation {name:?} without \"path\""))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation {name:?} on {path:?} without \"value\""))
        };
        match name {
            "add" => add_or_set(doc, path, value()?, false)?,
            "remove" => {
                remove(doc, path)?;
            }
            // kustomize's JSON patch library creates missing maps on the
            // way for add and replace, and replace sets a missing key.
            "replace" => add_or_set(doc, path, value()?, true)?,
            "move" => {
                let from = s("from").ok_or("move without \"from\"")?;
                let v = remove(doc, from)?;
                add_or_set(doc, path, v, false)?;
            }
            "copy" => {
                let from = s("from").ok_or("copy without \"from\"")?;
                let v = get_mut(doc, from)?.clone();
                add_or_set(doc, path, v, false)?;
            }
            "test" => {
                if *get_mut(doc, path)? != value()? {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected kind of operation {other:?}")),
        }
    }
    Ok(())
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("JSON pointer {path:?} must start with /"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(items: &[Value], tok: &str, path: &str, allow_end: bool) -> Result<usize, String> {
    if tok == "-" && allow_end {
        return Ok(items.len());
    }
    let i: usize = tok
        .parse()
        .map_err(|_| format!("invalid array index {tok:?} in {path}"))?;
    let max = if allow_end {
        items.len()
    } else {
        items.len().saturating_sub(1)
    };
    if i > max || (!allow_end && items.is_empty()) {
        return Err(format!("array index {i} out of bounds in {path}"));
    }
    Ok(i)
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m.get_mut(&t).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}")
            })?,
            Value::Array(a) => {
                let i = index(a, &t, path, false)?;
                &mut a[i]
            }
            _ => return Err(format!("doc is missing path: {path}")),
        };
    }
    Ok(cur)
}

fn parent<'a>(
    doc: &'a mut Value,
    path: &str,
    create: bool,
) -> Result<(&'a mut Value, String), String> {
    let mut toks = tokens(path)?;
    let last = toks
        .pop()
        .ok_or_else(|| format!("cannot operate on the whole document with {path:?}"))?;
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => {
                if create && !m.contains_key(&t) {
                    m.insert(t.clone(), Value::Object(serde_json::Map::new()));
                }
                m.get_mut(&t)
                    .ok_or_else(|| format!("doc is missing path: {path}: missing value"))?
            }
            Value::Array(a) => {
                let i = index(a, &t, path, false)?;
                &mut a[i]
            }
            _ => return Err(format!("doc is missing path: {path}")),
        };
    }
    Ok((cur, last))
}

fn add_or_set(doc: &mut Value, path: &str, v: Value, replace: bool) -> Result<(), String> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (p, last) = parent(doc, path, true)?;
    match p {
        Value::Object(m) => {
            m.insert(last, v);
        }
        Value::Array(a) if replace => {
            let i = index(a, &last, path, false)?;
            a[i] = v;
        }
        Value::Array(a) => {
            let i = index(a, &last, path, true)?;
            a.insert(i, v);
        }
        _ => {
            return Err(format!(
                "add operation does not apply: doc is missing path: {path}"
            ));
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (p, last) = parent(doc, path, false)?;
    match p {
        Value::Object(m) => m.shift_remove(&last).ok_or_else(|| {
            format!("error in remove for path: '{path}': Unable to remove nonexistent key: {last}: missing value")
        }),
        Value::Array(a) => {
            let i = index(a, &last, path, false)?;
            Ok(a.remove(i))
        }
        _ => Err(format!(
            "remove operation does not apply: doc is missing path: {path}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations() {
        let mut d = json!({"a": {"b": [1, 2]}, "c": "x"});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e~1f"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/c", "value": "y"}
        ]);
        apply(&mut d, &ops).expect("applies");
        assert_eq!(d, json!({"a": {"b": [2, 3]}, "c": "y", "e/f": "y"}));
        apply(
            &mut d,
            &json!([{"op": "replace", "path": "/x/y", "value": 1}]),
        )
        .expect("creates");
        assert_eq!(d["x"]["y"], 1);
        assert!(apply(&mut d, &json!([{"op": "remove", "path": "/zz"}])).is_err());
    }
}
