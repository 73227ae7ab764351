//! The `kustomize` renderer: kustomize v5's `kustomize build` in pure Rust,
//! reading files only through the host's source tree.
//!
//! Parameters (mirroring the `kustomize build` flags that change output):
//! - `reorder`: `legacy` (default, kustomize's kind order) or `none`
//!   (input order);
//! - `load-restrictor`: `LoadRestrictionsRootOnly` (default: files must
//!   lie under the kustomization that names them) or
//!   `LoadRestrictionsNone` (anywhere in the repository, never outside).
//!
//! Structured parameter (params-json): `overrides`, edits made to the
//! top-level kustomization before the build, as Argo CD makes them for an
//! Application's `source.kustomize` (see [`overrides`]).
//!
//! The build runs in kustomize's order: resources, configurations,
//! generators, components, then transformers (patches, namespace, prefix
//! and suffix, labels, annotations, JSON patches, replicas, images,
//! replacements, configured transformers) per kustomization; at the top,
//! hash suffixes, name references, vars, and the output order.

pub mod build;
pub mod builtin_specs;
pub mod builtins;
pub mod error;
pub mod fieldspec;
pub mod generate;
pub mod hash;
pub mod kustfile;
pub mod nameref;
pub mod overrides;
pub mod patch;
pub mod paths;
pub mod replace;
pub mod resource;
pub mod select;
pub mod sort;
pub mod transform;
pub mod yaml;

use error::Error;
use serde_json::Value;
use sluice_plugin_sdk::{
    Origin, PluginInfo, RenderError, RenderOutput, RenderRequest, Renderer, SourceTree,
    params::{Params, spec},
};

/// The kustomize renderer.
pub struct Kustomize;

impl Renderer for Kustomize {
    fn describe() -> PluginInfo {
        PluginInfo {
            params: vec![
                spec(
                    "reorder",
                    "output order: legacy (kustomize's kind order) or none (input order)",
                    Some("legacy"),
                ),
                spec(
                    "load-restrictor",
                    "LoadRestrictionsRootOnly (files under the kustomization) or LoadRestrictionsNone (anywhere in the repository)",
                    Some("LoadRestrictionsRootOnly"),
                ),
            ],
            detect: kustfile::FILE_NAMES.iter().map(|s| s.to_string()).collect(),
            ..sluice_plugin_sdk::info(
                "kustomize",
                env!("CARGO_PKG_VERSION"),
                "kustomize overlays, rendered as kustomize v5 builds them",
            )
        }
    }

    fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
        render(tree, req)
    }
}

sluice_plugin_sdk::export_renderer!(Kustomize);

/// Build options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `reorder=none`.
    pub fifo: bool,
    /// `LoadRestrictionsRootOnly`.
    pub root_only: bool,
    /// Edits to the top-level kustomization.
    pub overrides: Option<overrides::Overrides>,
}

/// Render the kustomization at `req.path`.
pub fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
    let params = Params::check(req, &Kustomize::describe().params)?;
    let fifo = match params.get("reorder").unwrap_or("legacy") {
        "legacy" => false,
        "none" => true,
        other => {
            return Err(Error::msg(format!(
                "parameter \"reorder\" must be legacy or none, not {other:?}"
            ))
            .into_render_error());
        }
    };
    let root_only = match params
        .get("load-restrictor")
        .unwrap_or("LoadRestrictionsRootOnly")
    {
        "LoadRestrictionsRootOnly" | "rootOnly" => true,
        "LoadRestrictionsNone" | "none" => false,
        other => {
            return Err(Error::msg(format!("parameter \"load-restrictor\" must be LoadRestrictionsRootOnly or LoadRestrictionsNone, not {other:?}")).into_render_error());
        }
    };
    let dir = sluice_plugin_sdk::path::normalize(&req.path).ok_or_else(|| {
        Error::msg(format!("app path {:?} leaves the repository", req.path)).into_render_error()
    })?;
    let overrides =
        overrides::parse(req.params_json.as_deref()).map_err(Error::into_render_error)?;
    let opts = Options {
        fifo,
        root_only,
        overrides,
    };
    let objects = build(tree, &dir, &opts).map_err(Error::into_render_error)?;
    let objects = objects
        .into_iter()
        .map(|(mut v, file, index)| {
            sort_keys(&mut v);
            sluice_plugin_sdk::object(&v, Some(Origin { file, index }))
        })
        .collect();
    Ok(RenderOutput {
        objects,
        results: Vec::new(),
    })
}

/// Sort every mapping's keys, as kustomize writes objects (Go encodes maps
/// in key order), so that a YAML rendering matches kustomize's byte for
/// byte.
pub fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Build `dir` into objects with their origin file and document index.
pub fn build(
    tree: &dyn SourceTree,
    dir: &str,
    opts: &Options,
) -> error::Result<Vec<(Value, String, u32)>> {
    let mut ctx = build::Ctx::new(tree, opts.root_only);
    ctx.overrides = opts.overrides.clone();
    let mut acc = build::Accum::new();
    ctx.build_dir(dir, &mut acc, false)?;
    let top = acc.top.take().unwrap_or_default();
    let kfile = kustfile::find(tree, dir)?.unwrap_or_else(|| dir.to_string());
    for r in acc.res.iter_mut().filter(|r| r.needs_hash) {
        let n = format!("{}-{}", r.name(), hash::suffix(&r.obj));
        r.set_name(&n);
    }
    nameref::fix(&mut acc.res, &acc.config).map_err(|e| e.context(&kfile))?;
    replace::resolve_vars(&mut acc.res, &acc.vars, &acc.config.var_reference)?;
    build_metadata(&mut acc.res, &top.build_metadata, dir, &ctx.records);
    let order = match (&top.sort_options, opts.fifo) {
        (Some(so), _) => sort::Order::from_options(so).map_err(|e| e.context(&kfile))?,
        (None, true) => sort::Order::Fifo,
        (None, false) => sort::Order::legacy(),
    };
    // Objects marked local-config feed transformers (replacements,
    // vars) but are not part of the output.
    acc.res.retain(|r| {
        r.obj
            .pointer("/metadata/annotations/config.kubernetes.io~1local-config")
            .and_then(Value::as_str)
            != Some("true")
    });
    sort::sort(&mut acc.res, &order);
    Ok(acc
        .res
        .into_iter()
        .map(|r| (r.obj, r.file, r.index))
        .collect())
}

/// The value kubectl's kustomize (v5.5.0 built into kubectl) writes for
/// `buildMetadata: [managedByLabel]`. kustomize takes it from its module
/// version at build time: the standalone `kustomize` v5.5.0 binary writes
/// `kustomize-v5.5.0`, while kubectl, which embeds kustomize as a library,
/// writes `kustomize-(devel)`. sluice mirrors kubectl, the oracle its
/// conformance corpus is generated with.
pub const MANAGED_BY: &str = "kustomize-(devel)";

/// `path` relative to the directory `from` (both repository-relative), as
/// kustomize writes paths in origin annotations (`../base/svc.yaml`).
pub fn relative_to(from: &str, path: &str) -> String {
    let f: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let common = f.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; f.len() - common];
    out.extend(&p[common..]);
    out.join("/")
}

/// The `configuredBy` block of an origin or transformation annotation.
fn configured_by_text(out: &mut String, by: &Value, indent: &str) {
    out.push_str(indent);
    out.push_str("configuredBy:\n");
    for k in ["apiVersion", "kind", "name"] {
        if let Some(v) = by.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            out.push_str(&format!("{indent}  {k}: {v}\n"));
        }
    }
}

fn build_metadata(
    rs: &mut [resource::Resource],
    opts: &[String],
    top_dir: &str,
    records: &[(String, Value)],
) {
    let has = |o: &str| opts.iter().any(|x| x == o);
    let (managed, origin, transformers) = (
        has("managedByLabel"),
        has("originAnnotations"),
        has("transformerAnnotations"),
    );
    for r in rs.iter_mut() {
        let mut annotations: Vec<(&str, String)> = Vec::new();
        if origin {
            let text = match &r.generated_by {
                Some((file, by)) => {
                    let mut t = format!("configuredIn: {}\n", relative_to(top_dir, file));
                    configured_by_text(&mut t, by, "");
                    t
                }
                None => format!("path: {}\n", relative_to(top_dir, &r.file)),
            };
            annotations.push(("config.kubernetes.io/origin", text));
        }
        if transformers && !r.transformations.is_empty() {
            let mut t = String::new();
            for &i in &r.transformations {
                if let Some((file, by)) = records.get(i as usize) {
                    t.push_str(&format!("- configuredIn: {}\n", relative_to(top_dir, file)));
                    configured_by_text(&mut t, by, "  ");
                }
            }
            annotations.push(("alpha.config.kubernetes.io/transformations", t));
        }
        if managed {
            let md = r.metadata_mut();
            let labels = md
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(l) = labels.as_object_mut() {
                l.insert(
                    "app.kubernetes.io/managed-by".into(),
                    Value::String(MANAGED_BY.into()),
                );
            }
        }
        if annotations.is_empty() {
            continue;
        }
        let md = r.metadata_mut();
        let ann = md
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = ann.as_object_mut() {
            for (k, v) in annotations {
                a.insert(k.into(), Value::String(v));
            }
        }
    }
}

#[cfg(test)]
mod tests;
