//! `sluice sync`: apply an application to a cluster or a directory.
//!
//! The app comes from an Application file or from flags, resolved by
//! [`sluice::engine::resolve`] (the same call `render`, `diff` and `wait`
//! make); the target from `--target dir:PATH` or the Application's
//! destination. Shared with `sluice diff` and `sluice wait`.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Global};
use anyhow::Context as _;
use sluice::engine::{AppDef, Destination, EngineError, Settings};
use sluice::sync::{Progress, Report, Row, SyncOptions};
use sluice::target::dir::DirTarget;
use sluice::target::kube::KubeTarget;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

/// Which app and which target: shared by `sync`, `diff` and `wait`.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    /// An Application file (`sluice.dev/v1alpha1` or Argo CD's
    /// `argoproj.io/v1alpha1`). Without it, the app comes from the flags.
    pub app_file: Option<PathBuf>,
    /// Application name (names the inventory); defaults to the file's
    /// `metadata.name`, else `<last path segment>-<hash of repo and path>`.
    #[arg(long)]
    pub name: Option<String>,
    /// The repository (a Git URL or a local directory) and how to fetch it.
    #[command(flatten)]
    pub git: super::source::GitArgs,
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
    /// The kubeconfig context (default: the Application's
    /// destination.name, else the current context).
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
    /// Allow a local repository (a directory or file:// URL) under DIR, besides
    /// the Application file's directory (the working directory for --repo);
    /// repeatable.
    #[arg(
        long,
        value_name = "DIR",
        env = "SLUICE_ALLOW_LOCAL_REPO",
        value_delimiter = ':'
    )]
    pub allow_local_repo: Vec<PathBuf>,
    /// A directory of Target declarations (systems other than Kubernetes,
    /// reached through target plugins); the app's `spec.targets` names
    /// which of them it uses.
    #[arg(long, value_name = "DIR", env = "SLUICE_TARGETS")]
    pub targets: Option<PathBuf>,
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
    /// Where the app goes (checked against the kubeconfig).
    pub destination: Destination,
    /// Flux `substituteFrom` variables still to read from the target.
    pub substitution: Option<sluice::engine::Substitution>,
    /// The target plugins the app lists (`spec.targets`), loaded.
    pub targets: Vec<sluice::target::plugin::PluginTarget>,
}

/// Read Flux `substituteFrom` variables from the connected target and
/// substitute them into the prepared objects (nothing when there are none).
pub async fn substitute(target: &AnyTarget, prepared: &mut Prepared) -> anyhow::Result<()> {
    let Some(s) = prepared.substitution.take() else {
        return Ok(());
    };
    let objects = &mut prepared.objects;
    match target {
        AnyTarget::Dir(t) => sluice::engine::substitute_from(t, &s, objects).await?,
        AnyTarget::Kube(t) => sluice::engine::substitute_from(t.as_ref(), &s, objects).await?,
    }
    Ok(())
}

/// Print `e` and its causes on one line: `error: a: b: c`.
pub fn print_error(e: &(dyn std::error::Error + 'static)) {
    let mut line = format!("error: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(&format!(": {c}"));
        cause = c.source();
    }
    eprintln!("{line}");
}

/// The engine's settings from the Git flags (over the environment), the
/// kubeconfig and the allowed local roots.
pub fn settings(
    git: &super::source::GitArgs,
    kubeconfig: Option<PathBuf>,
    allow_local_repo: &[PathBuf],
) -> anyhow::Result<Settings> {
    let mut s = Settings::new(git.options()?).context("cannot read the working directory")?;
    s.kubeconfig = kubeconfig;
    s.allow_local_repos = allow_local_repo.to_vec();
    Ok(s)
}

/// Load the app (file or flags), resolve it through the engine and render
/// it. `Err` is a usage or render failure already explained on stderr
/// (exit code inside).
pub fn prepare(args: &AppArgs, global: &Global) -> Result<Prepared, i32> {
    let file = match &args.app_file {
        Some(f) => match sluice::app::load_named(f, args.name.as_deref()) {
            Ok(a) => Some((f.clone(), a)),
            Err(e) => {
                print_error(&e);
                return Err(EXIT_USAGE);
            }
        },
        None => None,
    };
    let def = AppDef {
        file,
        name: args.name.clone(),
        repo: args.git.repo.clone(),
        revision: args.git.revision.clone(),
        path: args.path.clone(),
        renderer: args.renderer.clone(),
        params: args.params.clone(),
        namespace: args.dest_namespace.clone(),
        context: args.dest_context.clone(),
        target: args.target.clone(),
        ..AppDef::default()
    };
    let settings =
        settings(&args.git, args.kubeconfig.clone(), &args.allow_local_repo).map_err(|e| {
            eprintln!("error: {e:#}");
            EXIT_USAGE
        })?;
    let app = sluice::engine::resolve(&def, &settings).map_err(|e| {
        print_error(&e);
        match e {
            EngineError::Source { .. } | EngineError::Verify { .. } => EXIT_FAILED,
            _ => EXIT_USAGE,
        }
    })?;
    let renderers = global.renderers().map_err(|e| {
        eprintln!(
            "error: app {}: cannot start the plugin runtime: {e:#}",
            app.name
        );
        EXIT_USAGE
    })?;
    let rendered = match app.render(&renderers) {
        Ok(r) => r,
        Err(e) => {
            // Never sync (or prune) after a failed render.
            eprintln!(
                "error: {}; nothing was applied or pruned",
                sluice::error_chain(&e)
            );
            for r in e.results() {
                eprintln!("{}", super::plugin::format_diagnostic(r));
            }
            return Err(EXIT_USAGE);
        }
    };
    for r in &rendered.results {
        eprintln!("{}", super::plugin::format_diagnostic(r));
    }
    let substitution = app.pending_substitution().cloned();
    let targets = super::targets::load_for_app(
        args.targets.as_deref(),
        &app.targets,
        &app.name,
        renderers.runtime(),
        &app.destination,
    )
    .map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    let mut options = app.sync;
    options.concurrency = args.concurrency.max(1);
    Ok(Prepared {
        objects: rendered.objects,
        options,
        destination: app.destination,
        substitution,
        targets,
    })
}

/// The target the flags (or the Application) name, connected.
pub enum AnyTarget {
    /// A directory.
    Dir(DirTarget),
    /// A cluster.
    Kube(Box<KubeTarget>),
}

/// Connect to the destination the engine checked.
pub async fn connect(destination: &Destination) -> anyhow::Result<AnyTarget> {
    match destination {
        Destination::Dir(path) => Ok(AnyTarget::Dir(DirTarget::new(path)?)),
        Destination::Cluster(c) => Ok(AnyTarget::Kube(Box::new(
            KubeTarget::connect(c.kubeconfig.as_deref(), c.context.as_deref()).await?,
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
        AnyTarget::Dir(t) => run_routed(t, prepared, &progress).await,
        AnyTarget::Kube(t) => run_routed(t.as_ref(), prepared, &progress).await,
    }
}

/// Run the engine on `target`, or on it and the app's target plugins.
async fn run_routed<T: sluice::target::Target>(
    target: &T,
    prepared: Prepared,
    progress: &dyn Progress,
) -> Result<Report, sluice::sync::SyncError> {
    if prepared.targets.is_empty() {
        return sluice::sync::run(target, prepared.objects, &prepared.options, progress).await;
    }
    let o = &prepared.options;
    let routed =
        sluice::target::routed::Routed::new(target, prepared.targets, &o.app, &o.namespace);
    sluice::sync::run(&routed, prepared.objects, o, progress).await
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
    o.wait |= args.wait;
    o.timeout = args.timeout;
    let json = args.output == "json";
    if args.dry_run && !json {
        // The plan: phases, waves and the objects of each step.
        if let Ok(plan) = sluice::sync::plan::plan(&prepared.objects) {
            println!("{plan}");
        }
    }
    let destination = prepared.destination.clone();
    let report = runtime()?.block_on(async {
        let target = connect(&destination).await?;
        substitute(&target, &mut prepared).await?;
        anyhow::Ok(run_on(&target, prepared, !json).await)
    });
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {}", sluice::error_chain(&e));
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
