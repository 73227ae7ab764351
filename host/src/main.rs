//! The `sluice` command: parse arguments, set up logging, run, exit.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(cli::log_filter(&cli.global.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.global.log_format == "json" {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
    let code = match cli::run(cli) {
        Ok(code) => code,
        // A closed pipe (`sluice render | head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            cli::EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            cli::EXIT_FAILED
        }
    };
    std::process::exit(code);
}
