//! The test harness: real servers on 127.0.0.1 for sluice's end-to-end tests.
//!
//! - [`git`]: a smart-HTTP Git server (`git http-backend`), `git daemon`,
//!   and `sshd`, serving repositories made by deterministic scripts;
//! - [`cluster`]: `etcd` and `kube-apiserver` built from their Go modules
//!   (see `tests/cluster/`), started the way controller-runtime's envtest
//!   does;
//! - [`powerdns`]: a PowerDNS authoritative server (SQLite backend) and
//!   `dig`;
//! - [`registry`]: CNCF Distribution's OCI registry built from its Go
//!   module (see `tests/registry/`), and an HTTPS file server.

pub mod cluster;
pub mod git;
pub mod powerdns;
pub mod registry;

use std::path::{Path, PathBuf};

/// Run a build script under `tests/` (`bash SCRIPT`, its stderr shown) and
/// take the directory it prints on its last line. `Ok(Err(status))` when it
/// failed, printed nothing, or the directory lacks what `ready` checks;
/// `Err` when bash could not be run.
fn run_build_script(
    script: &Path,
    ready: impl Fn(&Path) -> bool,
) -> Result<Result<PathBuf, std::process::ExitStatus>, String> {
    let out = std::process::Command::new("bash")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run bash {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("").trim();
    if !out.status.success() || last.is_empty() || !ready(Path::new(last)) {
        return Ok(Err(out.status));
    }
    Ok(Ok(PathBuf::from(last)))
}
