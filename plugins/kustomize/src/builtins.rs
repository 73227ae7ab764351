//! kustomize's built-in generators and transformers configured explicitly
//! (`apiVersion: builtin` objects under `generators:` / `transformers:`).
//! Exec and container (KRM function) plugins are refused with a clear error.

use crate::build::{Accum, Ctx};
use crate::error::{Error, Result};
use crate::fieldspec::FieldSpec;
use crate::kustfile::{Generator, Image, Replica, StrMap, Target, scalar_string};
use crate::{generate, patch, transform};
use serde_json::Value;

fn refuse(cfg: &Value, kfile: &str) -> Error {
    let s = |p: &str| {
        cfg.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let fun = cfg
        .pointer("/metadata/annotations/config.kubernetes.io~1function")
        .is_some();
    let what = if fun {
        "container or exec KRM function plugins"
    } else {
        "external (exec or Go) plugins"
    };
    Error::in_file(
        kfile,
        format!(
            "external plugins disabled; unable to load external plugin '{}': {what} are not supported by sluice's kustomize renderer ({} {} {:?}); use a builtin plugin or render with a plugin of your own",
            s("/kind"),
            s("/apiVersion"),
            s("/kind"),
            s("/metadata/name")
        ),
    )
}

fn is_builtin(cfg: &Value) -> bool {
    let api = cfg
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (api == "builtin" || api.is_empty())
        && cfg
            .pointer("/metadata/annotations/config.kubernetes.io~1function")
            .is_none()
}

fn from<T: serde::de::DeserializeOwned + Default>(v: Option<&Value>, kfile: &str) -> Result<T> {
    match v {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            Error::in_file(kfile, format!("invalid builtin plugin configuration: {e}"))
        }),
    }
}

fn specs(cfg: &Value, kfile: &str) -> Result<Option<Vec<FieldSpec>>> {
    match cfg.get("fieldSpecs").and_then(Value::as_array) {
        None => Ok(None),
        Some(a) => a
            .iter()
            .map(|f| FieldSpec::from_value(f).map_err(|e| e.context(kfile)))
            .collect::<Result<Vec<_>>>()
            .map(Some),
    }
}

fn str_map(v: Option<&Value>) -> StrMap {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), scalar_string(v).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `configuredBy` id of a plugin configuration.
pub fn configured_by(cfg: &Value) -> Value {
    serde_json::json!({
        "apiVersion": cfg.get("apiVersion").cloned().unwrap_or_default(),
        "kind": cfg.get("kind").cloned().unwrap_or_default(),
        "name": cfg.pointer("/metadata/name").cloned().unwrap_or_default(),
    })
}

/// Run one generator configuration (`configured_in`: the file it came
/// from, for origin annotations).
pub fn generate(
    ctx: &mut Ctx<'_>,
    dir: &str,
    kfile: &str,
    configured_in: &str,
    cfg: &Value,
    acc: &mut Accum,
) -> Result<()> {
    if !is_builtin(cfg) {
        return Err(refuse(cfg, kfile));
    }
    let kind = cfg.get("kind").and_then(Value::as_str).unwrap_or_default();
    let gen_kind = match kind {
        "ConfigMapGenerator" => "ConfigMap",
        "SecretGenerator" => "Secret",
        "IAMPolicyGenerator" => {
            let mut r = iam_policy(cfg, kfile)?;
            r.generated_by = Some((configured_in.to_string(), configured_by(cfg)));
            return generate::absorb(&mut acc.res, r).map_err(|e| e.context(kfile));
        }
        other => {
            return Err(Error::in_file(
                kfile,
                format!("builtin generator kind {other:?} is not supported"),
            ));
        }
    };
    let mut body = cfg.clone();
    let md = body
        .as_object_mut()
        .and_then(|m| m.shift_remove("metadata"))
        .unwrap_or_default();
    if let Some(m) = body.as_object_mut() {
        m.shift_remove("apiVersion");
        m.shift_remove("kind");
        m.insert("name".into(), md.get("name").cloned().unwrap_or_default());
        if let Some(ns) = md.get("namespace") {
            m.insert("namespace".into(), ns.clone());
        }
    }
    let g: Generator = from(Some(&body), kfile)?;
    let read = |rel: &str| ctx.read(dir, kfile, rel);
    let mut r = generate::generate(gen_kind, &g, None, kfile, &read)?;
    r.generated_by = Some((configured_in.to_string(), configured_by(cfg)));
    generate::absorb(&mut acc.res, r).map_err(|e| e.context(kfile))
}

/// Run one transformer configuration.
pub fn transform(
    ctx: &mut Ctx<'_>,
    dir: &str,
    kfile: &str,
    cfg: &Value,
    acc: &mut Accum,
) -> Result<()> {
    if !is_builtin(cfg) {
        return Err(refuse(cfg, kfile));
    }
    let kind = cfg.get("kind").and_then(Value::as_str).unwrap_or_default();
    let s = |k: &str| {
        cfg.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let fs = specs(cfg, kfile)?;
    match kind {
        "PatchTransformer" => {
            let loaded = ctx.load_patch(
                dir,
                kfile,
                cfg.get("path").and_then(Value::as_str),
                cfg.get("patch").and_then(Value::as_str),
            )?;
            let target: Option<Target> = cfg
                .get("target")
                .map(|t| from(Some(t), kfile))
                .transpose()?;
            let options = cfg
                .get("options")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            patch::apply_patch(&mut acc.res, &loaded, target.as_ref(), &options, None).map(|_| ())
        }
        "PatchStrategicMergeTransformer" => {
            for p in cfg
                .get("paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let loaded = ctx.load_patch(dir, kfile, Some(p), None)?;
                if let patch::Body::Smp(d) = loaded.body {
                    patch::apply_smp_by_id(
                        &mut acc.res,
                        &d,
                        &loaded.source,
                        ctx.schema.as_deref(),
                    )?;
                }
            }
            if let Some(text) = cfg.get("patches").and_then(Value::as_str)
                && let patch::Body::Smp(d) = patch::parse(kfile, text.as_bytes())?
            {
                patch::apply_smp_by_id(&mut acc.res, &d, kfile, ctx.schema.as_deref())?;
            }
            Ok(())
        }
        "PatchJson6902Transformer" => {
            let inline = cfg.get("jsonOp").and_then(Value::as_str);
            let loaded =
                ctx.load_patch(dir, kfile, cfg.get("path").and_then(Value::as_str), inline)?;
            let target: Option<Target> = cfg
                .get("target")
                .map(|t| from(Some(t), kfile))
                .transpose()?;
            patch::apply_patch(
                &mut acc.res,
                &loaded,
                target.as_ref(),
                &Default::default(),
                None,
            )
            .map(|_| ())
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let specs = fs.unwrap_or_else(|| acc.config.name_prefix.clone());
            transform::prefix_suffix(&mut acc.res, &s("prefix"), &s("suffix"), &specs)
        }
        "LabelTransformer" => {
            let specs = fs.unwrap_or_default();
            transform::set_map_fields(&mut acc.res, &str_map(cfg.get("labels")), &specs)
        }
        "AnnotationsTransformer" => {
            let specs = fs.unwrap_or_default();
            transform::set_map_fields(&mut acc.res, &str_map(cfg.get("annotations")), &specs)
        }
        "NamespaceTransformer" => {
            let ns = cfg
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let unset_only = cfg
                .get("unsetOnly")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let specs: Vec<FieldSpec> = fs
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f.path != ["metadata", "namespace"])
                .collect();
            transform::namespace(&mut acc.res, &ns, &specs, unset_only)
        }
        "ImageTagTransformer" => {
            let img: Image = from(cfg.get("imageTag"), kfile)?;
            transform::images(&mut acc.res, &[img], &fs.unwrap_or_default())
        }
        "ReplicaCountTransformer" => {
            let rep: Replica = from(cfg.get("replica"), kfile)?;
            let specs = fs.unwrap_or_else(|| acc.config.replicas.clone());
            transform::replicas(&mut acc.res, &[rep], &specs)
        }
        "ValueAddTransformer" => value_add(cfg, dir, kfile, ctx, acc),
        "ReplacementTransformer" => {
            let list: Vec<Value> = cfg
                .get("replacements")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            crate::replace::apply(&mut acc.res, &list).map_err(|e| e.context(kfile))
        }
        other => Err(Error::in_file(
            kfile,
            format!("builtin transformer kind {other:?} is not supported"),
        )),
    }
}

/// kustomize's builtin `IAMPolicyGenerator`: for `cloud: gke`, a
/// ServiceAccount bound to a Google service account by annotation.
fn iam_policy(cfg: &Value, kfile: &str) -> Result<crate::resource::Resource> {
    let s = |p: &str| cfg.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let cloud = s("/cloud");
    if cloud != "gke" {
        return Err(Error::in_file(
            kfile,
            format!(
                "IAMPolicyGenerator: cloud provider {cloud} not supported yet (kustomize supports gke)"
            ),
        ));
    }
    let mut md = serde_json::Map::new();
    md.insert(
        "annotations".into(),
        serde_json::json!({"iam.gke.io/gcp-service-account": format!(
            "{}@{}.iam.gserviceaccount.com",
            s("/serviceAccount/name"),
            s("/serviceAccount/projectId")
        )}),
    );
    md.insert(
        "name".into(),
        Value::String(s("/kubernetesService/name").into()),
    );
    let ns = s("/kubernetesService/namespace");
    if !ns.is_empty() {
        md.insert("namespace".into(), Value::String(ns.into()));
    }
    let obj = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md});
    Ok(crate::resource::Resource::new(obj, kfile, 0))
}

/// kustomize's builtin `ValueAddTransformer`: put `value` (default: the
/// kustomization directory's name) into a field of the selected objects,
/// or insert it into a slash-separated path at `filePathPosition`.
fn value_add(
    cfg: &Value,
    dir: &str,
    kfile: &str,
    ctx: &mut Ctx<'_>,
    acc: &mut Accum,
) -> Result<()> {
    let mut value = cfg
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    if value.is_empty() {
        value = crate::paths::base(dir).to_string();
    }
    let mut targets: Vec<Value> = cfg
        .get("targets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(p) = cfg.get("targetFilePath").and_then(Value::as_str) {
        let (file, bytes) = ctx.read(dir, kfile, p)?;
        for doc in crate::build::parse_docs_as(&file, &bytes, crate::yaml::Schema::Config)? {
            targets.extend(
                doc.get("targets")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    if targets.is_empty() {
        return Err(Error::in_file(
            kfile,
            "ValueAddTransformer: must specify at least one target",
        ));
    }
    for t in &targets {
        let fp = t
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if fp.is_empty() {
            return Err(Error::in_file(
                kfile,
                "ValueAddTransformer: fieldPath cannot be empty",
            ));
        }
        let pos = t
            .get("filePathPosition")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if pos < 0 {
            return Err(Error::in_file(
                kfile,
                format!(
                    "ValueAddTransformer: value of FilePathPosition ({pos}) cannot be negative"
                ),
            ));
        }
        let hits: Vec<usize> = match t.get("selector") {
            Some(sel) => {
                let target: Target = from(Some(sel), kfile)?;
                crate::select::Selector::new(&target)
                    .map_err(|e| e.context(kfile))?
                    .select(&acc.res)
            }
            None => (0..acc.res.len()).collect(),
        };
        for i in hits {
            let r = &mut acc.res[i];
            if fp == "metadata/namespace" {
                transform::namespace(std::slice::from_mut(r), &value, &[], false)?;
                continue;
            }
            let segs = crate::fieldspec::split_path(fp);
            crate::fieldspec::walk(&mut r.obj, &segs, true, &mut |v| {
                let cur = crate::kustfile::scalar_string(v).unwrap_or_default();
                let new = if pos > 0 {
                    insert_path_part(&cur, usize::try_from(pos - 1).unwrap_or(0), &value)
                } else {
                    value.clone()
                };
                *v = Value::String(new);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Insert `part` into the slash-separated `path` at directory position
/// `pos` (kustomize's `filesys.InsertPathPart`).
fn insert_path_part(path: &str, pos: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let abs = path.starts_with('/');
    let body = path.trim_start_matches('/');
    if body.is_empty() {
        return format!("{}{part}", if abs { "/" } else { "" });
    }
    let mut parts: Vec<&str> = body.split('/').collect();
    parts.insert(pos.min(parts.len()), part);
    format!("{}{}", if abs { "/" } else { "" }, parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::insert_path_part;

    #[test]
    fn path_parts_insert_like_kustomize() {
        assert_eq!(
            insert_path_part("a/nice/warm/pie", 3, "PEACH"),
            "a/nice/warm/PEACH/pie"
        );
        assert_eq!(
            insert_path_part("/a/nice/warm/pie", 3, "PEACH"),
            "/a/nice/warm/PEACH/pie"
        );
        assert_eq!(insert_path_part("pie", 0, "PEACH"), "PEACH/pie");
        assert_eq!(insert_path_part("raw", 5, "PEACH"), "raw/PEACH");
        assert_eq!(insert_path_part("", 1, "PEACH"), "PEACH");
        assert_eq!(insert_path_part("x/y", 1, ""), "x/y");
    }
}
