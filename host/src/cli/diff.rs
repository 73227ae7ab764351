//! `sluice diff`: show how live differs from desired, like `kubectl diff`.
//! Exits 0 in sync, 1 when not, 2 on error.

use super::sync::{AppArgs, connect, prepare, run_on, runtime, substitute};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Global};
use std::io::{IsTerminal as _, Write as _};

/// Arguments of `sluice diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app and the target.
    #[command(flatten)]
    pub app: AppArgs,
    /// Output: diff (default, unified YAML) or json (status per object).
    #[arg(short, long, value_parser = ["diff", "json"], default_value = "diff")]
    pub output: String,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_parser = ["auto", "always", "never"], default_value = "auto")]
    pub color: String,
}

/// Run `sluice diff`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    let mut prepared = match prepare(&args.app, global) {
        Ok(p) => p,
        Err(_) => return Ok(EXIT_USAGE),
    };
    prepared.options.dry_run = true;
    let destination = prepared.destination.clone();
    let report = runtime()?.block_on(async {
        let target = connect(&destination).await?;
        substitute(&target, &mut prepared).await?;
        anyhow::Ok(run_on(&target, prepared, false).await)
    });
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {}", sluice::error_chain(&e));
            return Ok(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => std::io::stdout().is_terminal(),
    };
    let mut out = std::io::stdout().lock();
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for row in report.rows.iter().filter(|r| r.is_drift()) {
            let title = row.id().to_string();
            let text =
                sluice::diff::unified(&title, row.live.as_ref(), row.desired.as_ref(), color);
            if text.is_empty() || row.status == sluice::sync::RowStatus::SyncFailed {
                writeln!(out, "# {title}: {} {}", row.status, row.message)?;
            } else {
                out.write_all(text.as_bytes())?;
            }
        }
    }
    if report.failed() > 0 {
        for row in report
            .rows
            .iter()
            .filter(|r| r.status == sluice::sync::RowStatus::SyncFailed)
        {
            eprintln!("error: app {}: {}: {}", report.app, row.id(), row.message);
        }
        return Ok(EXIT_USAGE);
    }
    Ok(if report.in_sync() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
