//! `sluice sync`: apply an application to a cluster or a directory.
//!
//! The app comes from an Application file or from flags; the target from
//! `--target dir:PATH` or a kubeconfig context. Shared with `sluice diff`.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Global};
use anyhow::Context as _;
use sluice::render::{RenderSpec, RendererRef};
use sluice::source::{DirTree, Tree};
use sluice::sync::{Progress, Report, Row, SyncOptions};
use sluice::target::dir::DirTarget;
use sluice::target::kube::KubeTarget;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which app and which target: shared by `sync` and `diff`.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    /// An Application file (`sluice.dev/v1alpha1` or Argo CD's
    /// `argoproj.io/v1alpha1`). Without it, the app comes from the flags.
    pub app_file: Option<PathBuf>,
    /// Application name (names the inventory); defaults to the file's
    /// `metadata.name` or `app`.
    #[arg(long)]
    pub name: Option<String>,
    /// The repository: a Git URL (http(s)://, git://, ssh://, git@host:path,
    /// file://) or a local directory.
    #[arg(long)]
    pub repo: Option<String>,
    /// The revision (for Git sources).
    #[arg(long)]
    pub revision: Option<String>,
    /// The app's directory inside the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// A built-in renderer name or a .wasm file; detected when omitted.
    #[arg(long)]
    pub renderer: Option<String>,
    /// A renderer parameter, `key=value`; repeatable.
    #[arg(short = 'p', long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Sync into a directory standing for a cluster: `dir:PATH`.
    #[arg(long, conflicts_with = "dest_context")]
    pub target: Option<String>,
    /// The kubeconfig context (default: the current context).
    #[arg(long)]
    pub dest_context: Option<String>,
    /// The destination namespace for namespaced objects without one.
    #[arg(long)]
    pub dest_namespace: Option<String>,
    /// The kubeconfig file (default: KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// How many objects are applied at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// Arguments of `sluice sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app and the target.
    #[command(flatten)]
    pub app: AppArgs,
    /// Write nothing; show what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete objects of the app that are no longer desired.
    #[arg(long)]
    pub prune: bool,
    /// Allow pruning every object when the render returned none.
    #[arg(long)]
    pub allow_empty: bool,
    /// Refuse to take over fields owned by another field manager.
    #[arg(long)]
    pub no_force_conflicts: bool,
    /// Take over desired objects that exist but are not this app's
    /// (another app's, or created with kubectl); refused without it.
    #[arg(long)]
    pub adopt: bool,
    /// Also wait for the last wave to be Healthy (earlier waves are always
    /// waited for).
    #[arg(long)]
    pub wait: bool,
    /// The deadline for all waiting (waves, hooks, --wait): 90s, 5m, 1h.
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    pub timeout: std::time::Duration,
    /// Output: table (default) or json.
    #[arg(short, long, value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

/// An app ready to sync: its rendered objects and options.
pub struct Prepared {
    /// Desired objects.
    pub objects: Vec<sluice::object::Object>,
    /// Sync options (name, namespace, app-level flags).
    pub options: SyncOptions,
    /// Kube context from the Application's destination.
    pub context: Option<String>,
}

/// Load the app (file or flags) and render it. `Err` is a usage or render
/// failure already explained on stderr (exit code inside).
pub fn prepare(args: &AppArgs, global: &Global) -> Result<Prepared, i32> {
    let app = match &args.app_file {
        Some(f) => match sluice::app::load(f) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        },
        None => None,
    };
    let base = args
        .app_file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let name = args
        .name
        .clone()
        .or_else(|| app.as_ref().map(|a| a.metadata.name.clone()))
        .unwrap_or_else(|| "app".into());
    let repo = args
        .repo
        .clone()
        .or_else(|| app.as_ref().map(|a| a.spec.source.repo_url.clone()))
        .unwrap_or_else(|| ".".into());
    let path = args
        .path
        .clone()
        .or_else(|| app.as_ref().map(|a| a.spec.source.path.clone()))
        .unwrap_or_default();
    let namespace = args
        .dest_namespace
        .clone()
        .or_else(|| {
            app.as_ref()
                .and_then(|a| a.spec.destination.namespace.clone())
        })
        .unwrap_or_else(|| "default".into());
    let revision = args.revision.clone().or_else(|| {
        app.as_ref()
            .and_then(|a| a.spec.source.target_revision.clone())
    });
    let is_git = repo.contains("://") || (repo.contains('@') && repo.contains(':'));
    let (tree, revision): (Arc<dyn Tree>, String) = if is_git {
        // A Git source: fetched into the cache, read lazily from its objects.
        let spec = sluice::source::SourceSpec {
            repo: repo.clone(),
            revision: revision.unwrap_or_else(|| "HEAD".into()),
        };
        match sluice::source::resolve(&spec, &sluice::source::Options::default()) {
            Ok(r) => (r.tree, r.commit),
            Err(e) => {
                eprintln!("error: app {name}: {e}");
                return Err(super::EXIT_FAILED);
            }
        }
    } else {
        let dir = if args.repo.is_some() {
            PathBuf::from(&repo)
        } else {
            base.join(&repo)
        };
        match DirTree::new(&dir) {
            Ok(t) => (Arc::new(t), revision.unwrap_or_default()),
            Err(e) => {
                eprintln!(
                    "error: app {name}: cannot open repository directory {}: {e}",
                    dir.display()
                );
                return Err(EXIT_USAGE);
            }
        }
    };
    let file_renderer = app.as_ref().and_then(|a| a.spec.renderer.clone());
    let renderer = match (&args.renderer, &file_renderer) {
        (Some(r), _) => RendererRef::parse(r, None),
        (None, Some(r)) => RendererRef::parse(&r.name, r.sha256.clone()),
        (None, None) => RendererRef::Auto,
    };
    let mut params = args.params.clone();
    let mut structured = serde_json::Map::new();
    for (k, v) in file_renderer.iter().flat_map(|r| r.params.iter()) {
        match v {
            serde_json::Value::String(s) => params.push((k.clone(), s.clone())),
            other => {
                structured.insert(k.clone(), other.clone());
            }
        }
    }
    let spec = RenderSpec {
        app: name.clone(),
        path,
        renderer,
        params,
        params_json: (!structured.is_empty())
            .then(|| serde_json::Value::Object(structured).to_string()),
        namespace: namespace.clone(),
        revision,
        repo_url: repo,
    };
    let rendered = global.renderers().map_err(|e| {
        eprintln!("error: app {name}: cannot start the plugin runtime: {e:#}");
        EXIT_USAGE
    })?;
    let rendered = match rendered.render(tree, &spec) {
        Ok(r) => r,
        Err(e) => {
            // Never sync (or prune) after a failed render.
            eprintln!("error: {e}; nothing was applied or pruned");
            for r in e.results() {
                eprintln!("{}", super::plugin::format_diagnostic(r));
            }
            return Err(EXIT_USAGE);
        }
    };
    for r in &rendered.results {
        eprintln!("{}", super::plugin::format_diagnostic(r));
    }
    let mut options = SyncOptions::new(&name, &namespace);
    options.concurrency = args.concurrency.max(1);
    if let Some(a) = &app {
        options.create_namespace = a.create_namespace();
        options.prune = a.prune();
        options.allow_empty = a.allow_empty();
    }
    let context = args
        .dest_context
        .clone()
        .or_else(|| app.as_ref().and_then(|a| a.spec.destination.name.clone()));
    Ok(Prepared {
        objects: rendered.objects,
        options,
        context,
    })
}

/// The target the flags (or the Application) name, connected.
pub enum AnyTarget {
    /// A directory.
    Dir(DirTarget),
    /// A cluster.
    Kube(Box<KubeTarget>),
}

/// Connect to the target.
pub async fn connect(args: &AppArgs, context: Option<&str>) -> anyhow::Result<AnyTarget> {
    match &args.target {
        Some(t) => {
            let path = t
                .strip_prefix("dir:")
                .with_context(|| format!("--target {t:?}: use dir:PATH"))?;
            Ok(AnyTarget::Dir(DirTarget::new(path)?))
        }
        None => Ok(AnyTarget::Kube(Box::new(
            KubeTarget::connect(args.kubeconfig.as_deref(), context).await?,
        ))),
    }
}

/// A progress bar on stderr when it is a terminal.
struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }
    fn step(&self, row: &Row) {
        if let Some(b) = &self.0 {
            b.set_message(format!("{}/{}", row.kind, row.name));
            b.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn bar(enabled: bool) -> Bar {
    if !enabled || !std::io::stderr().is_terminal() {
        return Bar(None);
    }
    let b = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
    {
        b.set_style(style.progress_chars("=> "));
    }
    Bar(Some(b))
}

/// Run the engine on whichever target.
pub async fn run_on(
    target: &AnyTarget,
    mut prepared: Prepared,
    show_progress: bool,
) -> Result<Report, sluice::sync::SyncError> {
    let progress = bar(show_progress);
    // What the sync waits for: the bar's live message on a terminal, plain
    // lines on stderr otherwise.
    prepared.options.status = match &progress.0 {
        Some(b) => {
            let b = b.clone();
            sluice::sync::StatusSink::new(move |line| b.set_message(line.to_string()))
        }
        None => sluice::sync::StatusSink::new(|line| eprintln!("{line}")),
    };
    match target {
        AnyTarget::Dir(t) => {
            sluice::sync::run(t, prepared.objects, &prepared.options, &progress).await
        }
        AnyTarget::Kube(t) => {
            sluice::sync::run(t.as_ref(), prepared.objects, &prepared.options, &progress).await
        }
    }
}

/// The runtime the async parts run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Print rows as `GROUP KIND NAMESPACE NAME STATUS HEALTH HOOK MESSAGE`.
pub fn print_table(report: &Report, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let cells: Vec<[String; 8]> = report
        .rows
        .iter()
        .map(|r| {
            [
                r.group.clone(),
                r.kind.clone(),
                r.namespace.clone().unwrap_or_default(),
                r.name.clone(),
                r.status.to_string(),
                r.health.clone().unwrap_or_default(),
                r.hook.clone().unwrap_or_default(),
                r.message.clone(),
            ]
        })
        .collect();
    let head = [
        "GROUP",
        "KIND",
        "NAMESPACE",
        "NAME",
        "STATUS",
        "HEALTH",
        "HOOK",
        "MESSAGE",
    ]
    .map(String::from);
    let mut width = head.clone().map(|h| h.len());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.len());
        }
    }
    for c in std::iter::once(&head).chain(&cells) {
        let line: Vec<String> = c
            .iter()
            .zip(width)
            .take(7)
            .map(|(s, w)| format!("{s:w$}"))
            .collect();
        writeln!(out, "{}  {}", line.join("  "), c[7])?;
    }
    Ok(())
}

/// Run `sluice sync`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    let mut prepared = match prepare(&args.app, global) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let o = &mut prepared.options;
    o.dry_run = args.dry_run;
    o.prune |= args.prune;
    o.allow_empty |= args.allow_empty;
    o.force_conflicts = !args.no_force_conflicts;
    o.adopt = args.adopt;
    o.wait = args.wait;
    o.timeout = args.timeout;
    let json = args.output == "json";
    if args.dry_run && !json {
        // The plan: phases, waves and the objects of each step.
        if let Ok(plan) = sluice::sync::plan::plan(&prepared.objects) {
            println!("{plan}");
        }
    }
    let context = prepared.context.clone();
    let report = runtime()?.block_on(async {
        let target = connect(&args.app, context.as_deref()).await?;
        anyhow::Ok(run_on(&target, prepared, !json).await)
    });
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_table(&report, &mut out)?;
        writeln!(out, "{}", report.summary())?;
    }
    Ok(if report.failed() > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}
