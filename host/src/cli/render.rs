//! `sluice render`: print an application's desired objects.

use super::{EXIT_FAILED, EXIT_OK, Global, Output};
use anyhow::Context as _;
use sluice::render::{RenderSpec, RendererRef};
use sluice::source::{DirTree, Tree};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `sluice render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A local directory standing for the repository root (or use --repo).
    #[arg(default_value = ".", conflicts_with = "repo")]
    pub dir: PathBuf,
    /// A Git repository to render from instead of DIR.
    #[command(flatten)]
    pub git: super::source::GitArgs,
    /// The application's directory inside the repository.
    #[arg(long, default_value = "")]
    pub path: String,
    /// A built-in renderer name (see `sluice plugin list`) or a .wasm file.
    /// Detected from the files when omitted.
    #[arg(long)]
    pub renderer: Option<String>,
    /// Required sha256 of the --renderer file.
    #[arg(long, requires = "renderer")]
    pub renderer_sha256: Option<String>,
    /// A renderer parameter, `key=value`; repeatable.
    #[arg(short = 'p', long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Structured renderer parameters as a JSON document.
    #[arg(long)]
    pub params_json: Option<String>,
    /// Application name passed to the renderer.
    #[arg(long, default_value = "app")]
    pub app: String,
    /// Destination namespace passed to the renderer.
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "yaml")]
    pub output: Output,
    /// Print the values the renderer marked sensitive (e.g. a Terraform
    /// plan's sensitive attributes) instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

/// Run `sluice render`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    let (tree, revision, repo_url): (Arc<dyn Tree>, String, String) = match args.git.resolve() {
        Ok(Some(r)) => {
            eprintln!(
                "source: {} {} resolved to {} ({})",
                r.url,
                r.revision,
                r.commit,
                r.ref_name.as_deref().unwrap_or("no ref")
            );
            (r.tree, r.commit, r.url)
        }
        Ok(None) => {
            let dir = DirTree::new(&args.dir)
                .with_context(|| format!("cannot open directory {}", args.dir.display()))?;
            (Arc::new(dir), String::new(), String::new())
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_FAILED);
        }
    };
    let spec = RenderSpec {
        app: args.app.clone(),
        path: args.path.clone(),
        renderer: args.renderer.as_deref().map_or(RendererRef::Auto, |r| {
            RendererRef::parse(r, args.renderer_sha256.clone())
        }),
        params: args.params.clone(),
        params_json: args.params_json.clone(),
        namespace: args.namespace.clone(),
        revision,
        repo_url,
    };
    let renderers = global.renderers()?;
    match renderers.render(tree, &spec) {
        Ok(rendered) => {
            for r in &rendered.results {
                eprintln!("{}", super::plugin::format_diagnostic(r));
            }
            let values: Vec<serde_json::Value> = rendered
                .objects
                .iter()
                .map(|o| {
                    if args.show_secrets {
                        o.value.clone()
                    } else {
                        o.masked()
                    }
                })
                .collect();
            let mut out = std::io::stdout().lock();
            match args.output {
                Output::Json => {
                    serde_json::to_writer_pretty(&mut out, &values)?;
                    writeln!(out)?;
                }
                Output::Yaml => {
                    out.write_all(sluice::object::to_yaml_stream(&values).as_bytes())?
                }
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            for r in e.results() {
                eprintln!("{}", super::plugin::format_diagnostic(r));
            }
            Ok(EXIT_FAILED)
        }
    }
}
