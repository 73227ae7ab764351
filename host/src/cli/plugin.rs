//! `sluice plugin`: inspect plugins.

use super::{EXIT_OK, Global, Output};
use sluice::plugin::{Diagnostic, Severity, builtin, escape_control};

/// `sluice plugin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the built-in plugins with their version and sha256.
    List {
        /// Output format (a table when omitted).
        #[arg(short, long, value_enum)]
        output: Option<Output>,
    },
    /// Run a plugin over golden test cases, exactly as `sluice render` does.
    Test(super::plugin_test::Args),
    /// Write a new plugin project (WIT, build script, one test case).
    New(super::plugin_new::Args),
    /// Publish a plugin to an OCI registry; prints its pinned reference.
    Push(super::plugin_push::Args),
}

/// Run a `sluice plugin` subcommand.
pub fn run(cmd: Command, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        Command::Test(args) => super::plugin_test::run(args, global),
        Command::New(args) => super::plugin_new::run(args),
        Command::Push(args) => super::plugin_push::run(args, global),
        Command::List { output } => {
            let renderers = global.renderers()?;
            let mut rows = Vec::new();
            for b in builtin::all() {
                let plugin = renderers.builtin(b.name).expect("listed built-ins exist")?;
                let info = plugin.info();
                rows.push(serde_json::json!({
                    "name": info.name,
                    "version": info.version,
                    "sha256": b.sha256,
                    "description": info.description,
                    "params": info.params.iter().map(|p| serde_json::json!({
                        "name": p.name, "description": p.description, "default": p.default,
                    })).collect::<Vec<_>>(),
                    "detect": info.detect,
                }));
            }
            match output {
                Some(Output::Json) => println!("{}", serde_json::to_string_pretty(&rows)?),
                Some(Output::Yaml) => print!("{}", serde_norway::to_string(&rows)?),
                None => {
                    println!(
                        "{:<16} {:<10} {:<64} DESCRIPTION",
                        "NAME", "VERSION", "SHA256"
                    );
                    for r in &rows {
                        println!(
                            "{:<16} {:<10} {:<64} {}",
                            r["name"].as_str().unwrap_or_default(),
                            r["version"].as_str().unwrap_or_default(),
                            r["sha256"].as_str().unwrap_or_default(),
                            r["description"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            Ok(EXIT_OK)
        }
    }
}

/// One diagnostic as a line for stderr: `warning: file:line:col: message`,
/// terminal control characters escaped.
pub fn format_diagnostic(d: &Diagnostic) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let mut at = String::new();
    if let Some(f) = &d.file {
        at.push_str(&f.path);
        if let (Some(l), Some(c)) = (f.line, f.column) {
            at.push_str(&format!(":{l}:{c}"));
        }
        at.push_str(": ");
    }
    if let Some(r) = &d.resource_ref {
        at.push_str(&format!("{}/{}: ", r.kind, r.name));
    }
    escape_control(&format!("{sev}: {at}{}", d.message)).into_owned()
}
