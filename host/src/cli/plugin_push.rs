//! `sluice plugin push`: publish a plugin to an OCI registry as a Wasm OCI
//! artifact and print the pinned reference to use it by.

use super::{EXIT_OK, Global, Output};
use anyhow::Context as _;
use sluice::plugin::outbound::Outbound;
use sluice::plugin::remote;
use std::path::PathBuf;

/// Arguments of `sluice plugin push`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The component is pushed in the Wasm OCI artifact layout (config \
application/vnd.wasm.config.v0+json, one application/wasm layer), which oras, \
wkg and other Wasm tools read. Credentials come from the Docker configuration \
($DOCKER_CONFIG/config.json or ~/.docker/config.json, as `docker login` or \
`oras login` write it). A registry listed in SLUICE_REGISTRY_PLAIN_HTTP \
(comma-separated host:port) is spoken to over plain HTTP.")]
pub struct Args {
    /// The plugin component (.wasm): a renderer or a target plugin.
    pub file: PathBuf,
    /// Where to push it: oci://REGISTRY/REPO:TAG.
    pub target: String,
    /// Output format (the pinned reference alone when omitted).
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

/// Run `sluice plugin push`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    // Refuse a bad destination before compiling anything.
    remote::parse_push_target(&args.target)?;
    let wasm = std::fs::read(&args.file)
        .with_context(|| format!("cannot read plugin file {}", args.file.display()))?;
    let name = args
        .file
        .file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
    // Only a component sluice can run is published: it must load as a
    // renderer or as a target plugin.
    let runtime = global.renderers()?;
    let rt = runtime.runtime();
    let kind = match rt.load(&name, &wasm, None) {
        Ok(p) => format!("renderer {}@{}", p.info().name, p.info().version),
        Err(renderer_err) => {
            match rt.load_target(&name, &wasm, None, Outbound::new(&name, Vec::new())) {
                Ok(p) => format!("target plugin {}@{}", p.info().name, p.info().version),
                Err(target_err) => anyhow::bail!(
                    "{} is not a sluice plugin, so it was not pushed: as a renderer: {}; as a target plugin: {}",
                    args.file.display(),
                    sluice::error_chain(&renderer_err),
                    sluice::error_chain(&target_err)
                ),
            }
        }
    };
    let mut info = rt.component_info(&name, &wasm)?;
    info.file_name = args
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned());
    let pushed = remote::push(&wasm, &args.target, &info, &created())?;
    match args.output {
        Some(Output::Json) => println!("{}", serde_json::to_string_pretty(&pushed)?),
        Some(Output::Yaml) => print!("{}", serde_norway::to_string(&pushed)?),
        None => {
            eprintln!(
                "pushed {kind} ({} bytes, component {}) to {}",
                pushed.size, pushed.component, args.target
            );
            println!("{}", pushed.reference);
        }
    }
    Ok(EXIT_OK)
}

/// The config's creation time: `SOURCE_DATE_EPOCH` when set (reproducible
/// pushes: the same file gives the same digest), else now. RFC 3339, UTC.
fn created() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        });
    rfc3339(secs)
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
