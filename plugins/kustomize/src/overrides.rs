//! The `overrides` structured parameter: edits made to the top-level
//! kustomization before it is built, as if they were written in it.
//!
//! This is how Argo CD applies an Application's `source.kustomize` fields:
//! it runs `kustomize edit set nameprefix`, `edit set image`, `edit add
//! label`, ... on a copy of the app's kustomization, appends the patches
//! to its `patches`, then builds. sluice does the same edits on the parsed
//! top-level kustomization (never on a base or a component), with the
//! rules of those `kustomize edit` commands:
//! - `namePrefix`, `nameSuffix`, `namespace`: replace the file's value;
//! - `images`, `replicas`: replace the entry of the same `name`, add the
//!   others, sorted by name (`edit set image`, `edit set replicas`);
//! - `commonLabels` / `commonAnnotations`: added; a key the file already
//!   has is an error unless `forceCommonLabels` / `forceCommonAnnotations`
//!   (`edit add label --force`); with `labelWithoutSelector` the labels
//!   go to a new `labels` entry without selectors (and with templates when
//!   `labelIncludeTemplates`), as `--without-selector` does;
//! - `patches`: appended after the file's own;
//! - `components`: appended unless already listed; with
//!   `ignoreMissingComponents`, one whose directory does not exist is
//!   left out.
//!
//! - `generate`: when the directory has no kustomization, build one
//!   listing every `.yaml`/`.yml` file below it (a sub-directory holding a
//!   kustomization is listed as a directory and not descended into), as
//!   Flux's kustomize-controller generates it.
//!
//! Unknown keys are an error naming them.

use crate::error::{Error, Result};
use crate::kustfile::{Image, Kustomization, LabelSpec, Patch, Replica, StrMap};
use serde::Deserialize;
use sluice_plugin_sdk::SourceTree;
use std::collections::BTreeMap;

/// The `overrides` parameter.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Overrides {
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_common_labels: bool,
    #[serde(default)]
    pub label_without_selector: bool,
    #[serde(default)]
    pub label_include_templates: bool,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_common_annotations: bool,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub ignore_missing_components: bool,
    #[serde(default)]
    pub generate: bool,
}

/// The renderer's structured parameters (`params-json`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structured {
    /// Edits to the top-level kustomization.
    #[serde(default)]
    pub overrides: Option<Overrides>,
}

/// Parse the structured parameters; `None` and `{}` mean none.
pub fn parse(json: Option<&str>) -> Result<Option<Overrides>> {
    let Some(text) = json.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let s: Structured = serde_json::from_str(text)
        .map_err(|e| Error::msg(format!("structured parameters: {e}")))?;
    Ok(s.overrides)
}

fn upsert_map(
    map: &mut StrMap,
    add: &BTreeMap<String, String>,
    force: bool,
    what: &str,
    flag: &str,
    kfile: &str,
) -> Result<()> {
    for (k, v) in add {
        match map.iter_mut().find(|(mk, _)| mk == k) {
            Some(_) if !force => {
                return Err(Error::in_file(
                    kfile,
                    format!(
                        "{what} {k} is already in the kustomization file; set {flag}: true to override it (as kustomize edit add {what} --force)"
                    ),
                ));
            }
            Some(entry) => entry.1 = v.clone(),
            None => map.push((k.clone(), v.clone())),
        }
    }
    Ok(())
}

/// Apply `o` to the top-level kustomization `k` (in `dir`, read from
/// `kfile`).
pub fn apply(
    k: &mut Kustomization,
    o: &Overrides,
    tree: &dyn SourceTree,
    dir: &str,
    kfile: &str,
) -> Result<()> {
    if let Some(p) = o.name_prefix.as_ref().filter(|p| !p.is_empty()) {
        k.name_prefix = Some(p.clone());
    }
    if let Some(s) = o.name_suffix.as_ref().filter(|s| !s.is_empty()) {
        k.name_suffix = Some(s.clone());
    }
    if !o.images.is_empty() {
        let mut images: Vec<Image> = k
            .images
            .drain(..)
            .filter(|im| !o.images.iter().any(|n| n.name == im.name))
            .collect();
        images.extend(o.images.iter().cloned());
        images.sort_by(|a, b| a.name.cmp(&b.name));
        k.images = images;
    }
    if !o.replicas.is_empty() {
        let mut replicas: Vec<Replica> = k
            .replicas
            .drain(..)
            .filter(|r| !o.replicas.iter().any(|n| n.name == r.name))
            .collect();
        replicas.extend(o.replicas.iter().cloned());
        replicas.sort_by(|a, b| a.name.cmp(&b.name));
        k.replicas = replicas;
    }
    if !o.common_labels.is_empty() {
        if o.label_without_selector {
            k.labels.push(LabelSpec {
                pairs: o
                    .common_labels
                    .iter()
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect(),
                include_selectors: false,
                include_templates: o.label_include_templates,
                fields: Vec::new(),
            });
        } else {
            upsert_map(
                &mut k.common_labels,
                &o.common_labels,
                o.force_common_labels,
                "label",
                "forceCommonLabels",
                kfile,
            )?;
        }
    }
    if !o.common_annotations.is_empty() {
        upsert_map(
            &mut k.common_annotations,
            &o.common_annotations,
            o.force_common_annotations,
            "annotation",
            "forceCommonAnnotations",
            kfile,
        )?;
    }
    if let Some(ns) = o.namespace.as_ref().filter(|n| !n.is_empty()) {
        k.namespace = Some(ns.clone());
    }
    k.patches.extend(o.patches.iter().cloned());
    for c in &o.components {
        if k.components.contains(c) {
            continue;
        }
        if o.ignore_missing_components {
            let exists = crate::paths::resolve(dir, c).is_some_and(|p| tree.stat(&p).is_ok());
            if !exists {
                continue;
            }
        }
        k.components.push(c.clone());
    }
    Ok(())
}

/// The kustomization Flux generates for `dir` when it has none: every
/// `.yaml`/`.yml` file below it in path order, and each sub-directory that
/// holds a kustomization (not descended into), relative to `dir`.
pub fn generated(tree: &dyn SourceTree, dir: &str) -> Result<Kustomization> {
    fn scan(tree: &dyn SourceTree, top: &str, dir: &str, out: &mut Vec<String>) -> Result<()> {
        let mut entries = tree
            .list(dir)
            .map_err(|e| Error::msg(sluice_plugin_sdk::tree_error_message(&e)))?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let p = crate::paths::join(dir, &e.name);
            let rel = crate::relative_to(top, &p);
            match e.kind {
                sluice_plugin_sdk::EntryKind::Directory => {
                    if crate::kustfile::find(tree, &p)?.is_some() {
                        out.push(rel);
                    } else {
                        scan(tree, top, &p, out)?;
                    }
                }
                sluice_plugin_sdk::EntryKind::File
                    if e.name.ends_with(".yaml") || e.name.ends_with(".yml") =>
                {
                    out.push(rel);
                }
                _ => {}
            }
        }
        Ok(())
    }
    let mut resources = Vec::new();
    scan(tree, dir, dir, &mut resources)?;
    Ok(Kustomization {
        resources,
        ..Kustomization::default()
    })
}
