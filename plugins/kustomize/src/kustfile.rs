//! The kustomization file: finding it, parsing it the way kustomize's Go
//! decoder does (field names matched case-insensitively, unknown fields an
//! error) and the legacy-field fix-ups kustomize applies after decoding.

use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_plugin_sdk::SourceTree;

/// The three file names kustomize accepts, in its order of preference.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A `key: value` map whose values are taken as strings (YAML `true` or
/// `1` become `"true"`, `"1"`, as Go's `map[string]string` decoding does
/// after sigs.k8s.io/yaml's conversion).
pub type StrMap = Vec<(String, String)>;

/// The parsed kustomization (or component).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Value>,
    pub openapi: Option<Value>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "str_map")]
    pub common_labels: StrMap,
    #[serde(default)]
    pub labels: Vec<LabelSpec>,
    #[serde(default, deserialize_with = "str_map")]
    pub common_annotations: StrMap,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default, rename = "patchesJson6902")]
    pub patches_json6902: Vec<Patch>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub image_tags: Vec<Image>,
    #[serde(default)]
    pub replacements: Vec<Value>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub vars: Vec<Value>,
    pub sort_options: Option<Value>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub crds: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub config_map_generator: Vec<Generator>,
    #[serde(default)]
    pub secret_generator: Vec<Generator>,
    pub helm_globals: Option<Value>,
    pub helm_charts: Option<Value>,
    pub helm_chart_inflation_generator: Option<Value>,
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default)]
    pub configurations: Vec<String>,
    #[serde(default)]
    pub generators: Vec<String>,
    #[serde(default)]
    pub transformers: Vec<String>,
    #[serde(default)]
    pub validators: Vec<String>,
    #[serde(default)]
    pub build_metadata: Vec<String>,
}

/// An entry of `labels`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LabelSpec {
    #[serde(default, deserialize_with = "str_map")]
    pub pairs: StrMap,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<Value>,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Target>,
    #[serde(default)]
    pub options: Map<String, Value>,
}

/// A patch target selector.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Target {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub label_selector: String,
    #[serde(default)]
    pub annotation_selector: String,
}

/// An entry of `images`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default, deserialize_with = "tag_string")]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub tag_suffix: String,
}

/// An entry of `replicas`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Replica {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub count: i64,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Generator {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub env: String,
    #[serde(default, rename = "type")]
    pub type_: String,
    pub options: Option<GeneratorOptions>,
}

/// `generatorOptions` and a generator's `options`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct GeneratorOptions {
    #[serde(default, deserialize_with = "str_map")]
    pub labels: StrMap,
    #[serde(default, deserialize_with = "str_map")]
    pub annotations: StrMap,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// A scalar as Go's `string` would see it after YAML-to-JSON conversion.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn str_map<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<StrMap, D::Error> {
    let m = Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default();
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Null => Ok((k, String::new())),
            other => {
                let t = match other {
                    Value::Bool(_) => "bool",
                    Value::Number(_) => "number",
                    Value::Array(_) => "array",
                    _ => "object",
                };
                Err(serde::de::Error::custom(format!(
                    "json: cannot unmarshal {t} into Go value of type string (key {k:?})"
                )))
            }
        })
        .collect()
}

/// An image tag: a string, as kustomize's Go struct wants it. A number
/// (`newTag: 1.10`, which YAML reads as 1.1) is refused as kustomize
/// refuses it, rather than guessing the digits that were meant.
fn tag_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => {
            let t = if other.is_number() {
                "number"
            } else if other.is_boolean() {
                "bool"
            } else {
                "object"
            };
            Err(serde::de::Error::custom(format!(
                "json: cannot unmarshal {t} into Go struct field Image.images.newTag of type string (quote the tag: newTag: \"{other}\")"
            )))
        }
    }
}

/// Every field name of the kustomization schema, for case-insensitive
/// matching.
const KNOWN: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "path",
    "patch",
    "target",
    "options",
    "group",
    "version",
    "name",
    "labelSelector",
    "annotationSelector",
    "newName",
    "newTag",
    "digest",
    "tagSuffix",
    "count",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
];

/// Keys whose values are user data maps, never renamed inside.
const USER_MAPS: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
    "openapi",
    "metadata",
    "replacements",
    "vars",
    "sortOptions",
    "options",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
];

fn canonicalize(v: &mut Value, top: bool) {
    match v {
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                let key = if KNOWN.contains(&k.as_str()) {
                    k
                } else {
                    KNOWN
                        .iter()
                        .find(|c| c.eq_ignore_ascii_case(&k))
                        .map(|c| c.to_string())
                        .unwrap_or(k)
                };
                let user = USER_MAPS.contains(&key.as_str()) && !(key == "labels" && top);
                if !user {
                    canonicalize(&mut val, false);
                } else if key == "options" {
                    canonicalize_shallow(&mut val);
                }
                m.insert(key, val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| canonicalize(i, false)),
        _ => {}
    }
}

fn canonicalize_shallow(v: &mut Value) {
    if let Value::Object(m) = v {
        let old = std::mem::take(m);
        for (k, val) in old {
            let key = KNOWN
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&k))
                .map(|c| c.to_string())
                .unwrap_or(k);
            m.insert(key, val);
        }
    }
}

/// The kustomization file in `dir`, if there is one (path of the file).
pub fn find(tree: &dyn SourceTree, dir: &str) -> Result<Option<String>> {
    let mut found = Vec::new();
    for name in FILE_NAMES {
        let p = crate::paths::join(dir, name);
        if tree
            .stat(&p)
            .is_ok_and(|e| e.kind == sluice_plugin_sdk::EntryKind::File)
        {
            found.push(p);
        }
    }
    if found.len() > 1 {
        return Err(Error::msg(format!(
            "Found multiple kustomization files under: {} (keep one of kustomization.yaml, kustomization.yml, Kustomization)",
            if dir.is_empty() { "." } else { dir }
        )));
    }
    Ok(found.pop())
}

/// Parse the kustomization text of `file`.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Kustomization> {
    let docs = crate::yaml::parse_documents(bytes, crate::yaml::Schema::Config)
        .map_err(|e| Error::in_file(file, crate::build::yaml_error(&e)))?;
    let Some(mut value) = docs.into_iter().flatten().next() else {
        return Err(Error::in_file(
            file,
            format!("{} is empty", crate::paths::base(file)),
        ));
    };
    if !value.is_object() {
        return Err(Error::in_file(
            file,
            "a kustomization must be a YAML mapping",
        ));
    }
    canonicalize(&mut value, true);
    let mut k: Kustomization = serde_json::from_value(value).map_err(|e| {
        let m = e.to_string();
        let m = match m.strip_prefix("unknown field `") {
            Some(rest) => {
                let f = rest.split('`').next().unwrap_or_default();
                format!("invalid Kustomization: json: unknown field \"{f}\"")
            }
            None => format!("invalid Kustomization: {m}"),
        };
        Error::in_file(file, m)
    })?;
    k.fix();
    Ok(k)
}

impl Kustomization {
    /// kustomize's post-decoding fix-ups of deprecated fields.
    fn fix(&mut self) {
        let bases = std::mem::take(&mut self.bases);
        self.resources.extend(bases);
        let tags = std::mem::take(&mut self.image_tags);
        self.images.extend(tags);
        for g in self
            .config_map_generator
            .iter_mut()
            .chain(self.secret_generator.iter_mut())
        {
            if !g.env.is_empty() {
                g.envs.push(std::mem::take(&mut g.env));
            }
        }
    }

    /// Whether this is a `kind: Component`.
    pub fn is_component(&self) -> bool {
        self.kind.as_deref() == Some("Component")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_match_case_insensitively() {
        let k = parse(
            "k.yaml",
            b"Resources: [a.yaml]\nnameprefix: p-\ncommonLabels: {App: x, tier: 'true'}\n",
        )
        .expect("parses");
        assert_eq!(k.resources, ["a.yaml"]);
        assert_eq!(k.name_prefix.as_deref(), Some("p-"));
        assert_eq!(
            k.common_labels,
            [
                ("App".to_string(), "x".to_string()),
                ("tier".to_string(), "true".to_string())
            ]
        );
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse("k.yaml", b"resourcez: [a]\n").expect_err("unknown");
        assert!(
            e.message.contains("unknown field \"resourcez\""),
            "{}",
            e.message
        );
        assert!(e.message.contains("k.yaml"), "{}", e.message);
    }

    #[test]
    fn bases_join_resources() {
        let k = parse("k", b"resources: [a]\nbases: [b]\n").expect("parses");
        assert_eq!(k.resources, ["a", "b"]);
    }
}
