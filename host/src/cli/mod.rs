//! The `sluice` command line: one file per subcommand, each a thin layer
//! over the library.

mod app;
mod diff;
mod plugin;
mod plugin_new;
mod plugin_push;
mod plugin_test;
mod render;
mod serve;
mod source;
mod sync;
mod targets;
mod wait;

use clap::{Parser, Subcommand, ValueEnum};
use std::time::Duration;

/// Exit code: success (and for `diff`, in sync).
pub const EXIT_OK: i32 = 0;
/// Exit code: the operation failed (a render error, a failed sync, ...).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage (clap uses it for argument errors too).
#[allow(dead_code)] // used by `diff`/`sync`; clap exits with it on its own
pub const EXIT_USAGE: i32 = 2;

/// sluice: a GitOps sync host with sandboxed WebAssembly renderer plugins.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Options shared by every command.
    #[command(flatten)]
    pub global: Global,
}

/// Options shared by every command.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Log filter: a level (error, warn, info, debug, trace) for sluice's
    /// own logs, other crates staying at warn; or a tracing filter
    /// (`sluice=debug,kube_client=debug`) — a library's debug logs may quote
    /// objects and server answers unmasked.
    #[arg(long, global = true, env = "SLUICE_LOG", default_value = "warn")]
    pub log: String,
    /// Log format: text (for people) or json (one object a line, with the
    /// fields of the enclosing operation: app, reasons; for log
    /// collectors).
    #[arg(long, global = true, env = "SLUICE_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    /// Wall-clock limit for one plugin call, e.g. 30s, 2m.
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub plugin_timeout: Duration,
    /// Memory limit for one plugin call (all its memories and tables), in MiB.
    #[arg(long, global = true, default_value_t = 512, value_parser = parse_mib)]
    pub plugin_memory: u64,
    /// Output limit for one plugin call, in MiB.
    #[arg(long, global = true, default_value_t = 64, value_parser = parse_mib)]
    pub plugin_output: u64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render an application's desired objects and print them.
    Render(render::Args),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugin(plugin::Command),
    /// Show how live objects differ from desired (exit 0 in sync, 1 not, 2 error).
    Diff(diff::Args),
    /// Apply an application to a cluster or a directory, optionally pruning.
    Sync(sync::Args),
    /// Wait until an already-synced app is Healthy.
    Wait(wait::Args),
    /// Git sources: resolve a revision to a commit.
    #[command(subcommand)]
    Source(source::Command),
    /// Keep many apps in sync: poll and webhooks, automated sync, self-heal.
    Serve(Box<serve::Args>),
    /// Print the sluice.dev Application CustomResourceDefinition (YAML).
    Crd,
    /// Read and steer the apps of a running `sluice serve` (its HTTP API).
    App(app::Args),
    /// Print a shell completion script: `source <(sluice completion bash)`.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Output formats for machine-read results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// YAML (multi-document for object streams).
    Yaml,
    /// JSON.
    Json,
}

/// Parse `30s`, `2m`, `500ms`, `1h`, `1m30s` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    sluice::parse_duration(s)
}

/// Parse a size in MiB: at least 1, and small enough that it fits in bytes.
pub fn parse_mib(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of MiB"))?;
    if n == 0 {
        return Err("must be at least 1 MiB".into());
    }
    n.checked_mul(1 << 20)
        .and_then(|b| usize::try_from(b).ok())
        .map(|_| n)
        .ok_or_else(|| format!("{n} MiB is more bytes than this machine can address"))
}

impl Global {
    /// The plugin limits these options describe.
    pub fn limits(&self) -> sluice::plugin::Limits {
        sluice::plugin::Limits {
            // parse_mib keeps both in range; saturate rather than wrap anyway.
            memory: self.plugin_memory.saturating_mul(1 << 20),
            timeout: self.plugin_timeout,
            output: self.plugin_output.saturating_mul(1 << 20),
            ..Default::default()
        }
    }

    /// A renderer registry with these limits and the default cache.
    pub fn renderers(&self) -> anyhow::Result<sluice::render::Renderers> {
        let cache = sluice::plugin::builtin_cache_dir();
        let runtime = sluice::plugin::Runtime::new(self.limits(), cache)?;
        Ok(sluice::render::Renderers::new(runtime))
    }
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Render(args) => render::run(args, &cli.global),
        Command::Plugin(cmd) => plugin::run(cmd, &cli.global),
        Command::Diff(args) => diff::run(args, &cli.global),
        Command::Sync(args) => sync::run(args, &cli.global),
        Command::Wait(args) => wait::run(args, &cli.global),
        Command::Source(cmd) => source::run(cmd),
        Command::Serve(args) => serve::run(*args, &cli.global),
        Command::Crd => serve::crd(),
        Command::App(args) => app::run(args),
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "sluice", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
    }
}

/// The tracing filter for `--log`: a bare level is sluice's level, other
/// crates stay at `warn` (their debug logs print server answers as they
/// are, secret values included); anything else is used as written.
pub fn log_filter(spec: &str) -> String {
    let s = spec.trim();
    match s.to_ascii_lowercase().as_str() {
        "info" | "debug" | "trace" => format!("warn,sluice={s}"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_log_level_is_sluices_own() {
        assert_eq!(log_filter("debug"), "warn,sluice=debug");
        assert_eq!(log_filter("TRACE"), "warn,sluice=TRACE");
        assert_eq!(log_filter("warn"), "warn");
        assert_eq!(
            log_filter("sluice=debug,kube_client=debug"),
            "sluice=debug,kube_client=debug"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn plugin_sizes_that_overflow_are_refused() {
        assert_eq!(parse_mib("512"), Ok(512));
        assert_eq!(parse_mib("0"), Err("must be at least 1 MiB".into()));
        let huge = (u64::MAX >> 19).to_string();
        assert_eq!(
            parse_mib(&huge),
            Err(format!(
                "{huge} MiB is more bytes than this machine can address"
            ))
        );
        let parsed = Cli::try_parse_from(["sluice", "--plugin-memory", &huge, "plugin", "list"]);
        let err = parsed.expect_err("overflow is an error, not 0").to_string();
        assert!(
            err.contains("more bytes than this machine can address"),
            "{err}"
        );
        let ok = Cli::try_parse_from(["sluice", "--plugin-output", "2", "plugin", "list"])
            .expect("parses");
        assert_eq!(ok.global.limits().output, 2 << 20);
    }

    #[test]
    fn cli_is_well_formed() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
