//! `sluice plugin test`: run a plugin's golden cases through the sandbox.
//!
//! A thin layer over [`sluice::render::cases`]: one line per case, a unified
//! diff under each failure, and a closing `N passed, N failed` line.

use super::{EXIT_FAILED, EXIT_OK, Global};
use sluice::render::RendererRef;
use sluice::render::cases;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `sluice plugin test`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
A case is a directory holding input/ (the repository root the plugin sees), \
optionally context.yaml (path, appName, namespace, revision, repoURL), \
params.yaml (name: value) and params.json (structured parameters), and \
expected.yaml (the objects) or expected-error.txt (text the error must contain). \
CASES may be one case or a directory of cases.")]
pub struct Args {
    /// The plugin: a built-in name (see `sluice plugin list`) or a .wasm file.
    pub plugin: String,
    /// A case directory, or a directory of case directories.
    pub cases: PathBuf,
    /// Required sha256 of the plugin file.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Rewrite each failing case's expectation from what the plugin returned.
    #[arg(long)]
    pub bless: bool,
    /// Print how long loading the plugin (compiling it, or reading it from
    /// the compile cache, and instantiating it) and each render took.
    #[arg(long)]
    pub timings: bool,
}

/// Run `sluice plugin test`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    let renderer = RendererRef::parse(&args.plugin, args.sha256.clone());
    let renderers = global.renderers()?;
    let dirs = match cases::discover(&args.cases) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    let (mut passed, mut failed, mut blessed) = (0usize, 0usize, 0usize);
    let mut loaded = false;
    for dir in dirs {
        let shown = dir.display().to_string();
        let case = match cases::load(&dir, &renderer) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {shown}");
                print_indented(&error_chain(&e));
                failed += 1;
                continue;
            }
        };
        let unusable = |e: &dyn std::error::Error| -> anyhow::Result<i32> {
            // The plugin itself is unusable: every case would say so.
            eprintln!(
                "error: {}",
                error_chain(e).replace("\ncaused by", "\n  caused by")
            );
            Ok(EXIT_FAILED)
        };
        if !loaded {
            let start = Instant::now();
            if let Err(e) = cases::preload(&renderers, &case) {
                return unusable(&e);
            }
            if args.timings {
                eprintln!("load: {:.1} ms", ms(start));
            }
            loaded = true;
        }
        let start = Instant::now();
        let actual = match cases::run(&renderers, &case) {
            Ok(a) => a,
            Err(e) => return unusable(&e),
        };
        if args.timings {
            eprintln!("render {}: {:.1} ms", case.name, ms(start));
        }
        match cases::check(&case, &actual) {
            None => {
                println!("ok   {}", case.name);
                passed += 1;
            }
            Some(diff) if args.bless => match cases::bless(&case, &actual) {
                Ok(()) => {
                    println!(
                        "bless {} ({})",
                        case.name,
                        diff.lines().next().unwrap_or("")
                    );
                    blessed += 1;
                }
                Err(e) => {
                    println!("FAIL {}", case.name);
                    print_indented(&error_chain(&e));
                    failed += 1;
                }
            },
            Some(diff) => {
                println!("FAIL {} ({shown})", case.name);
                print_indented(&diff);
                failed += 1;
            }
        }
    }
    if args.bless {
        println!("{blessed} blessed");
    }
    println!("{} passed, {failed} failed", passed + blessed);
    Ok(if failed > 0 { EXIT_FAILED } else { EXIT_OK })
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!("\ncaused by: {s}"));
        source = s.source();
    }
    text
}

fn print_indented(text: &str) {
    for line in text.lines() {
        println!("    {line}");
    }
}
