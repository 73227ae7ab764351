//! `sluice render`: print an application's desired objects, resolved by
//! [`sluice::engine::resolve`] like `sync` resolves them.

use super::{EXIT_FAILED, EXIT_OK, Global, Output};
use anyhow::Context as _;
use sluice::engine::AppDef;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `sluice render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A local directory standing for the repository root (or use --repo).
    /// Naming it allows it: it need not lie under the working directory.
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
    /// Application name passed to the renderer [default: as `sync` names
    /// an app given by flags, `<last path segment>-<hash>`].
    #[arg(long)]
    pub app: Option<String>,
    /// Destination namespace passed to the renderer [default: default].
    #[arg(long)]
    pub namespace: Option<String>,
    /// Allow a --repo that is a local directory or file:// URL under DIR,
    /// besides the working directory; repeatable.
    #[arg(
        long,
        value_name = "DIR",
        env = "SLUICE_ALLOW_LOCAL_REPO",
        value_delimiter = ':'
    )]
    pub allow_local_repo: Vec<PathBuf>,
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
    let repo = match &args.git.repo {
        Some(r) => r.clone(),
        // `./` first, so that a directory named like `host:path` is not
        // taken for an scp-like Git URL.
        None => {
            let dir = if args.dir.is_absolute() {
                args.dir.clone()
            } else {
                std::path::Path::new(".").join(&args.dir)
            };
            dir.to_str()
                .map(str::to_string)
                .with_context(|| format!("directory {} is not valid UTF-8", args.dir.display()))?
        }
    };
    let def = AppDef {
        name: args.app.clone(),
        repo: Some(repo),
        revision: args.git.revision.clone(),
        path: Some(args.path.clone()),
        renderer: args.renderer.clone(),
        renderer_sha256: args.renderer_sha256.clone(),
        params: args.params.clone(),
        params_json: args.params_json.clone(),
        namespace: args.namespace.clone(),
        ..AppDef::default()
    };
    let mut allowed = args.allow_local_repo.clone();
    if args.git.repo.is_none() {
        allowed.push(args.dir.clone());
    }
    let settings = super::sync::settings(&args.git, None, &allowed)?;
    let app = match sluice::engine::resolve(&def, &settings) {
        Ok(app) => app,
        Err(e) => {
            super::sync::print_error(&e);
            return Ok(EXIT_FAILED);
        }
    };
    let s = &app.source;
    if !s.commit.is_empty() {
        eprintln!(
            "source: {} {} resolved to {} ({})",
            s.url,
            s.revision,
            s.commit,
            s.ref_name.as_deref().unwrap_or("no ref")
        );
    }
    let renderers = global.renderers()?;
    match app.render(&renderers) {
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
            eprintln!("error: {}", sluice::error_chain(&e));
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
