//! The `yaml` renderer: plain YAML and JSON manifests in a directory, like
//! Argo CD's directory source.
//!
//! Parameters:
//! - `recurse` (default `false`): descend into sub-directories;
//! - `include`: glob(s) of files to take (comma-separated or repeated);
//! - `exclude`: glob(s) of files to leave out.
//!
//! A glob without `/` is matched against the file name and the path relative
//! to the app directory; one with `/` against the relative path only.
//! `*` does not cross `/`, `**` does, `{a,b}` alternates.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::Value;
use sluice_plugin_sdk::{
    PluginInfo, RenderError, RenderOutput, RenderRequest, Renderer, SourceTree, diag,
    params::{Params, spec},
    path, yaml,
};

/// The plain-YAML renderer.
pub struct Yaml;

const EXTENSIONS: [&str; 3] = [".yaml", ".yml", ".json"];
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

impl Renderer for Yaml {
    fn describe() -> PluginInfo {
        PluginInfo {
            params: vec![
                spec("recurse", "descend into sub-directories", Some("false")),
                spec(
                    "include",
                    "glob(s) of files to include, comma-separated",
                    None,
                ),
                spec(
                    "exclude",
                    "glob(s) of files to exclude, comma-separated",
                    None,
                ),
            ],
            detect: vec!["*.yaml".into(), "*.yml".into(), "*.json".into()],
            ..sluice_plugin_sdk::info(
                "yaml",
                env!("CARGO_PKG_VERSION"),
                "plain YAML and JSON manifests in a directory",
            )
        }
    }

    fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
        render(tree, req)
    }
}

sluice_plugin_sdk::export_renderer!(Yaml);

fn globs(params: &Params<'_>, name: &str) -> Result<Option<(GlobSet, GlobSet)>, RenderError> {
    let pats = params.list(name);
    if pats.is_empty() {
        return Ok(None);
    }
    // Two sets: patterns matched against the base name, and against the path.
    let mut by_name = GlobSetBuilder::new();
    let mut by_path = GlobSetBuilder::new();
    for p in &pats {
        let g: Glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| diag::fail(format!("parameter {name}: bad glob {p:?}: {e}"), None))?;
        if !p.contains('/') {
            by_name.add(g.clone());
        }
        by_path.add(g);
    }
    let build = |b: GlobSetBuilder| {
        b.build()
            .map_err(|e| diag::fail(format!("parameter {name}: {e}"), None))
    };
    Ok(Some((build(by_name)?, build(by_path)?)))
}

fn matches(set: &(GlobSet, GlobSet), rel: &str) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    set.0.is_match(base) || set.1.is_match(rel)
}

/// Render the directory `req.path` of `tree`.
pub fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
    let params = Params::check(req, &Yaml::describe().params)?;
    let recurse = params.bool("recurse", false)?;
    let include = globs(&params, "include")?;
    let exclude = globs(&params, "exclude")?;
    let dir = path::normalize(&req.path).ok_or_else(|| {
        diag::fail(
            format!("app path {:?} leaves the repository", req.path),
            None,
        )
    })?;

    let files = path::walk(tree, &dir, recurse).map_err(|e| {
        diag::fail(
            format!(
                "cannot list app path {dir:?}: {}",
                sluice_plugin_sdk::tree_error_message(&e)
            ),
            None,
        )
    })?;

    let mut out = RenderOutput {
        objects: Vec::new(),
        results: Vec::new(),
    };
    for file in files {
        if !EXTENSIONS.iter().any(|ext| file.ends_with(ext)) {
            continue;
        }
        let rel = path::strip_dir(&dir, &file).unwrap_or(&file);
        if include.as_ref().is_some_and(|s| !matches(s, rel))
            || exclude.as_ref().is_some_and(|s| matches(s, rel))
        {
            continue;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if KUSTOMIZATION_FILES.contains(&base) {
            let mut w = diag::warning(format!(
                "{file}: skipped; it is a kustomization (use the kustomize renderer to build it)"
            ));
            w.file = Some(diag::file(&file, None));
            out.results.push(w);
            continue;
        }
        render_file(tree, &file, &mut out)?;
    }
    Ok(out)
}

fn render_file(
    tree: &dyn SourceTree,
    file: &str,
    out: &mut RenderOutput,
) -> Result<(), RenderError> {
    let bytes = tree.read(file).map_err(|e| {
        diag::fail(
            format!(
                "cannot read {file}: {}",
                sluice_plugin_sdk::tree_error_message(&e)
            ),
            Some(diag::file(file, None)),
        )
    })?;
    if !file.ends_with(".json")
        && let Some(docs) = yaml::documents_as_json(&bytes)
    {
        // The fast path: documents written straight to JSON text.
        for (i, doc) in docs.into_iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let Some(doc) = doc else { continue };
            push_text(doc, file, index, out)?;
        }
        return Ok(());
    }
    let docs: Vec<Option<Value>> = if file.ends_with(".json") {
        match yaml::parse_json(&bytes) {
            Ok(Value::Array(items)) => items.into_iter().map(Some).collect(),
            Ok(v) => vec![Some(v)],
            Err(e) => return Err(syntax_error(file, e)),
        }
    } else {
        yaml::parse_documents(&bytes).map_err(|e| syntax_error(file, e))?
    };
    for (i, doc) in docs.into_iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let Some(doc) = doc else { continue };
        push_object(doc, file, index, out)?;
    }
    Ok(())
}

fn syntax_error(file: &str, e: yaml::ParseError) -> RenderError {
    let mut f = diag::file(file, Some(e.index));
    f.line = e.line;
    f.column = e.column;
    diag::fail(format!("{file}: YAML syntax error at {e}"), Some(f))
}

/// [`push_object`] for a document already written as JSON text.
fn push_text(
    doc: yaml::JsonDoc,
    file: &str,
    index: u32,
    out: &mut RenderOutput,
) -> Result<(), RenderError> {
    let kind = doc.kind.as_deref().unwrap_or_default();
    let api_version = doc.api_version.as_deref().unwrap_or_default();
    if !doc.mapping || kind.ends_with("List") || kind.is_empty() || api_version.is_empty() {
        // A list to unpack, or an error to word: through the value.
        let value = serde_json::from_str(&doc.json).map_err(|e| {
            diag::fail(
                format!("{file}: document {index}: {e}"),
                Some(diag::file(file, Some(index))),
            )
        })?;
        return push_object(value, file, index, out);
    }
    out.objects.push(sluice_plugin_sdk::RenderedObject {
        json: doc.json,
        origin: Some(sluice_plugin_sdk::Origin {
            file: file.to_string(),
            index,
        }),
        sensitive_paths: Vec::new(),
    });
    Ok(())
}

fn push_object(
    doc: Value,
    file: &str,
    index: u32,
    out: &mut RenderOutput,
) -> Result<(), RenderError> {
    let not_object = |why: &str| {
        diag::fail(
            format!("{file}: document {index} is not a Kubernetes object ({why})"),
            Some(diag::file(file, Some(index))),
        )
    };
    let Value::Object(map) = &doc else {
        return Err(not_object("not a mapping"));
    };
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(not_object("no apiVersion or kind"));
    }
    if kind.ends_with("List")
        && let Some(Value::Array(items)) = map.get("items")
    {
        for item in items.clone() {
            push_object(item, file, index, out)?;
        }
        return Ok(());
    }
    let origin = sluice_plugin_sdk::Origin {
        file: file.to_string(),
        index,
    };
    out.objects
        .push(sluice_plugin_sdk::object(&doc, Some(origin)));
    Ok(())
}

#[cfg(test)]
mod tests;
