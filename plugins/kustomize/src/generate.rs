//! `configMapGenerator` and `secretGenerator`: data from literals, env
//! files and files, options merged with `generatorOptions`, and the
//! create / merge / replace behaviours against existing objects.

use crate::error::{Error, Result};
use crate::kustfile::{Generator, GeneratorOptions, StrMap};
use crate::resource::{Behavior, Resource, ns_eq};
use base64::Engine;
use serde_json::{Map, Value};

/// Reads a file named in a generator, relative to the kustomization.
pub type ReadFile<'a> = dyn Fn(&str) -> Result<(String, Vec<u8>)> + 'a;

fn strip_quotes(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

fn env_pairs(file: &str, text: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let text = std::str::from_utf8(text)
        .map_err(|_| Error::in_file(file, "env file has invalid utf8 bytes"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(Error::in_file(
                file,
                format!(
                    "invalid key {k:?} in env file: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.'"
                ),
            ));
        }
        out.push((k.to_string(), v.as_bytes().to_vec()));
    }
    Ok(out)
}

/// Merge global options into a generator's own, as kustomize does (the
/// generator's labels and annotations win; flags are or-ed).
fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut o = local.cloned().unwrap_or_default();
    if let Some(g) = global {
        for (mine, theirs) in [
            (&mut o.labels, &g.labels),
            (&mut o.annotations, &g.annotations),
        ] {
            for (k, v) in theirs {
                if !mine.iter().any(|(mk, _)| mk == k) {
                    mine.push((k.clone(), v.clone()));
                }
            }
        }
        if g.disable_name_suffix_hash == Some(true) {
            o.disable_name_suffix_hash = Some(true);
        }
        if g.immutable == Some(true) {
            o.immutable = Some(true);
        }
    }
    o
}

fn str_map(m: &StrMap) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Build the object of one generator entry.
pub fn generate(
    kind: &str,
    g: &Generator,
    global: Option<&GeneratorOptions>,
    kfile: &str,
    read: &ReadFile<'_>,
) -> Result<Resource> {
    if g.name.is_empty() {
        return Err(Error::in_file(
            kfile,
            format!("a {kind} generator needs a name"),
        ));
    }
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    for env in &g.envs {
        let (path, bytes) = read(env)?;
        pairs.extend(env_pairs(&path, &bytes)?);
    }
    for lit in &g.literals {
        let (k, v) = lit.split_once('=').ok_or_else(|| {
            Error::in_file(
                kfile,
                format!("invalid literal source {lit}, expected key=value"),
            )
        })?;
        pairs.push((k.to_string(), strip_quotes(v).as_bytes().to_vec()));
    }
    for f in &g.files {
        let (key, p) = match f.split_once('=') {
            Some((k, p)) if !k.is_empty() => (k.to_string(), p),
            Some(_) => {
                return Err(Error::in_file(
                    kfile,
                    format!("key for file source {f:?} is empty"),
                ));
            }
            None => (crate::paths::base(f).to_string(), f.as_str()),
        };
        let (_, bytes) = read(p)?;
        pairs.push((key, bytes));
    }
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        if data.contains_key(&k) || binary.contains_key(&k) {
            return Err(Error::in_file(
                kfile,
                format!(
                    "{} {} illegally repeats the key `{k}`",
                    kind.to_lowercase(),
                    g.name
                ),
            ));
        }
        let b64 = encode_base64(&v);
        if kind == "Secret" {
            data.insert(k, Value::String(b64));
        } else {
            match String::from_utf8(v) {
                Ok(s) => {
                    data.insert(k, Value::String(s));
                }
                Err(_) => {
                    binary.insert(k, Value::String(b64));
                }
            }
        }
    }
    let opts = merge_options(g.options.as_ref(), global);
    let mut md = Map::new();
    md.insert("name".into(), Value::String(g.name.clone()));
    if !g.namespace.is_empty() {
        md.insert("namespace".into(), Value::String(g.namespace.clone()));
    }
    if !opts.labels.is_empty() {
        md.insert("labels".into(), str_map(&opts.labels));
    }
    if !opts.annotations.is_empty() {
        md.insert("annotations".into(), str_map(&opts.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String(kind.into()));
    obj.insert("metadata".into(), Value::Object(md));
    if !data.is_empty() || kind == "Secret" {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if kind == "Secret" {
        let t = if g.type_.is_empty() {
            "Opaque"
        } else {
            g.type_.as_str()
        };
        obj.insert("type".into(), Value::String(t.into()));
    }
    if opts.immutable == Some(true) {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Resource::new(Value::Object(obj), kfile, 0);
    r.needs_hash = opts.disable_name_suffix_hash != Some(true);
    r.behavior = match g.behavior.as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => {
            return Err(Error::in_file(
                kfile,
                format!(
                    "invalid behavior {other:?} for {}; use create, merge or replace",
                    g.name
                ),
            ));
        }
    };
    Ok(r)
}

/// Base64 as kustomize writes generated data: lines of 70 characters,
/// each followed by a newline, when the text is 70 characters or longer.
fn encode_base64(v: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(v);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn merge_str_maps(
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
) -> Option<Value> {
    if old.is_none() && new.is_none() {
        return None;
    }
    let mut m = old.cloned().unwrap_or_default();
    for (k, v) in new.into_iter().flatten() {
        m.insert(k.clone(), v.clone());
    }
    Some(Value::Object(m))
}

/// Add a generated resource to `rs` according to its behaviour.
pub fn absorb(rs: &mut Vec<Resource>, mut res: Resource) -> Result<()> {
    let (name, ns, gvk) = (
        res.name().to_string(),
        res.namespace().to_string(),
        res.gvk(),
    );
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.gvk() == gvk && r.all_ids().iter().any(|(n, s)| *n == name && ns_eq(s, &ns))
        })
        .map(|(i, _)| i)
        .collect();
    let id = res.id_text();
    match (hits.len(), res.behavior) {
        (0, Behavior::Create) => {
            rs.push(res);
            Ok(())
        }
        (0, _) => Err(Error::msg(format!(
            "id {id} does not exist; cannot merge or replace"
        ))),
        (1, Behavior::Create) => Err(Error::msg(format!(
            "id {id} exists; behavior must be merge or replace"
        ))),
        (1, behavior) => {
            let old = &rs[hits[0]];
            for field in ["labels", "annotations"] {
                if let Some(m) = merge_str_maps(old.meta_map(field), res.meta_map(field)) {
                    res.metadata_mut().insert(field.into(), m);
                }
            }
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let merged = merge_str_maps(
                        old.obj.get(field).and_then(Value::as_object),
                        res.obj.get(field).and_then(Value::as_object),
                    );
                    if let (Some(m), Some(o)) = (merged, res.obj.as_object_mut()) {
                        o.insert(field.into(), m);
                    }
                }
            }
            let md = res.metadata_mut();
            md.insert("name".into(), Value::String(old.name().to_string()));
            if old.namespace().is_empty() {
                md.shift_remove("namespace");
            } else {
                md.insert(
                    "namespace".into(),
                    Value::String(old.namespace().to_string()),
                );
            }
            res.prev = old.prev.clone();
            res.prefixes = old.prefixes.clone();
            res.suffixes = old.suffixes.clone();
            res.needs_hash = old.needs_hash;
            res.behavior = Behavior::Create;
            rs[hits[0]] = res;
            Ok(())
        }
        _ => Err(Error::msg(format!(
            "found multiple objects that could accept merge of {id}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_quotes() {
        let g = Generator {
            name: "x".into(),
            literals: vec!["a=1".into(), "b='q'".into()],
            ..Default::default()
        };
        let r = generate("ConfigMap", &g, None, "k", &|p| Err(Error::msg(p))).expect("generates");
        assert_eq!(r.obj["data"]["b"], "q");
        assert!(r.needs_hash);
    }

    #[test]
    fn env_file_lines() {
        let p = env_pairs("e", b"# c\n\n  A=1\nB=x=y\nC\n").expect("parses");
        assert_eq!(
            p,
            vec![
                ("A".into(), b"1".to_vec()),
                ("B".into(), b"x=y".to_vec()),
                ("C".into(), Vec::new())
            ]
        );
    }
}
