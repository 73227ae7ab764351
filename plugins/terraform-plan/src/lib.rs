//! The `terraform-plan` renderer: the desired objects of a Terraform (or
//! OpenTofu) plan, read from the JSON that `terraform show -json <planfile>`
//! writes, committed to Git by CI.
//!
//! Parameters:
//! - `files` (default `*.tfplan.json`): glob(s) of plan files, relative to
//!   the app directory (comma-separated or repeated; a glob with `/` or `**`
//!   looks into sub-directories);
//! - `resources` (`kubernetes` or `all`, default `kubernetes`): with `all`,
//!   resources of other providers become `terraform.sluice.dev/v1alpha1`
//!   `Resource` objects for target plugins; otherwise they are only counted;
//! - `unknown` (`fail` or `omit`, default `fail`): what to do with values
//!   known only after apply;
//! - `plan-sha256`: the hex sha256 of the approved plan file(s)
//!   (comma-separated); any other plan file fails the render.
//!
//! What the plan's actions turn into is in [`plan`]; how typed
//! `kubernetes_*` resources become objects is in [`typed`]; how unknown and
//! sensitive values are followed through that conversion is in [`values`].
//!
//! Sensitive values (`after_sensitive`, and every Secret's `data`) stay in
//! the objects, since applying them needs them, and their JSON pointers go
//! to the host in `sensitive-paths`, so the host never prints them.

pub mod plan;
pub mod typed;
pub mod values;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use sha2::Digest;
use sluice_plugin_sdk::{
    PluginInfo, RenderError, RenderOutput, RenderRequest, Renderer, SourceTree, diag,
    params::{Params, spec},
    path,
};

/// The plan renderer.
pub struct TerraformPlan;

/// The default `files` pattern, also the detection pattern.
pub const DEFAULT_FILES: &str = "*.tfplan.json";

/// What to do with values known only after apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownMode {
    /// Fail the render, naming the resource and the attribute.
    Fail,
    /// Leave those fields out of the object.
    Omit,
}

/// The checked parameters.
#[derive(Debug, Clone)]
pub struct Options {
    /// `resources=all`.
    pub all_resources: bool,
    /// `unknown=`.
    pub unknown: UnknownMode,
}

impl Renderer for TerraformPlan {
    fn describe() -> PluginInfo {
        PluginInfo {
            params: vec![
                spec(
                    "files",
                    "glob(s) of plan JSON files in the app directory, comma-separated",
                    Some(DEFAULT_FILES),
                ),
                spec(
                    "resources",
                    "kubernetes: only the kubernetes provider's resources; all: other providers' as terraform.sluice.dev Resource objects",
                    Some("kubernetes"),
                ),
                spec(
                    "unknown",
                    "fail: values known only after apply fail the render; omit: leave them out",
                    Some("fail"),
                ),
                spec(
                    "plan-sha256",
                    "hex sha256 of the approved plan file(s); any other plan fails the render",
                    None,
                ),
            ],
            detect: vec![DEFAULT_FILES.into()],
            ..sluice_plugin_sdk::info(
                "terraform-plan",
                env!("CARGO_PKG_VERSION"),
                "the Kubernetes objects of a Terraform / OpenTofu plan (terraform show -json)",
            )
        }
    }

    fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
        render(tree, req)
    }
}

sluice_plugin_sdk::export_renderer!(TerraformPlan);

fn options(params: &Params<'_>) -> Result<Options, RenderError> {
    let all_resources = match params.get("resources").unwrap_or("kubernetes") {
        "kubernetes" => false,
        "all" => true,
        v => {
            return Err(diag::fail(
                format!("parameter resources must be kubernetes or all, not {v:?}"),
                None,
            ));
        }
    };
    let unknown = match params.get("unknown").unwrap_or("fail") {
        "fail" => UnknownMode::Fail,
        "omit" => UnknownMode::Omit,
        v => {
            return Err(diag::fail(
                format!("parameter unknown must be fail or omit, not {v:?}"),
                None,
            ));
        }
    };
    Ok(Options {
        all_resources,
        unknown,
    })
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, RenderError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(
            GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|e| diag::fail(format!("parameter files: bad glob {p:?}: {e}"), None))?,
        );
    }
    b.build()
        .map_err(|e| diag::fail(format!("parameter files: {e}"), None))
}

/// Render the plan files of `req.path` in `tree`.
pub fn render(tree: &dyn SourceTree, req: &RenderRequest) -> Result<RenderOutput, RenderError> {
    let params = Params::check(req, &TerraformPlan::describe().params)?;
    let opts = options(&params)?;
    let mut patterns = params.list("files");
    if patterns.is_empty() {
        patterns.push(DEFAULT_FILES.to_string());
    }
    let recurse = patterns.iter().any(|p| p.contains('/'));
    let globs = glob_set(&patterns)?;
    let pins: Vec<String> = params
        .list("plan-sha256")
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let dir = path::normalize(&req.path).ok_or_else(|| {
        diag::fail(
            format!("app path {:?} leaves the repository", req.path),
            None,
        )
    })?;
    let files: Vec<String> = path::walk(tree, &dir, recurse)
        .map_err(|e| {
            diag::fail(
                format!(
                    "cannot list app path {dir:?}: {}",
                    sluice_plugin_sdk::tree_error_message(&e)
                ),
                None,
            )
        })?
        .into_iter()
        .filter(|f| globs.is_match(path::strip_dir(&dir, f).unwrap_or(f)))
        .collect();
    if files.is_empty() {
        return Err(diag::fail(
            format!(
                "no plan file in {:?} matches {}; commit the output of `terraform show -json <planfile>` as e.g. app.tfplan.json, or set the parameter files",
                if dir.is_empty() { "." } else { &dir },
                patterns.join(", ")
            ),
            None,
        ));
    }
    let mut out = RenderOutput {
        objects: Vec::new(),
        results: Vec::new(),
    };
    for file in files {
        let bytes = tree.read(&file).map_err(|e| {
            diag::fail(
                format!(
                    "cannot read {file}: {}",
                    sluice_plugin_sdk::tree_error_message(&e)
                ),
                Some(diag::file(&file, None)),
            )
        })?;
        if !pins.is_empty() {
            let actual: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if !pins.contains(&actual) {
                return Err(diag::fail(
                    format!(
                        "{file}: sha256 is {actual}, not the approved {}; the plan changed since it was approved: approve this plan (set plan-sha256 to its digest) or commit the approved one",
                        pins.join(", ")
                    ),
                    Some(diag::file(&file, None)),
                ));
            }
        }
        let r = plan::render(&file, &bytes, &opts)?;
        out.objects.extend(r.objects);
        out.results.extend(r.results);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
