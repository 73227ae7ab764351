//! `sluice source resolve`: resolve a repository revision to a commit, and
//! the Git flags every subcommand that reads a repository (`render`,
//! `sync`, `diff`, `wait`) shares through [`GitArgs`].

use super::{EXIT_OK, Output};
use anyhow::Context as _;
use sluice::source::git::{Credentials, SshOptions};
use sluice::source::{self, Options, Resolved, SourceSpec};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `sluice source …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Resolve a revision of a Git repository and print the commit and the
    /// ref it came from (fetching into the cache when needed).
    Resolve(ResolveArgs),
}

/// Arguments of `sluice source resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The repository and how to reach it.
    #[command(flatten)]
    pub git: GitArgs,
    /// Output format; plain `COMMIT REF` lines when omitted.
    #[arg(short, long, value_enum)]
    pub output: Option<Output>,
}

/// Git source flags, shared by the subcommands that read a repository.
#[derive(Debug, Clone, clap::Args)]
pub struct GitArgs {
    /// Repository URL: https://, http://, git://, ssh://, user@host:path,
    /// file:// or a local path.
    #[arg(long, required = false)]
    pub repo: Option<String>,
    /// Branch, tag, commit id (full or abbreviated), HEAD, or a semver
    /// constraint over tags such as ">=1.2.0 <2", "~1.4", "^2" [default:
    /// the Application's targetRevision, else HEAD].
    #[arg(long)]
    pub revision: Option<String>,
    /// Credentials file: a YAML/JSON list of {urlPrefix, username,
    /// password|token, sshPrivateKeyPath, caData|caFile, insecure}.
    #[arg(long, env = "SLUICE_GIT_CREDENTIALS")]
    pub git_credentials: Option<PathBuf>,
    /// SSH private key for ssh:// and scp-like URLs.
    #[arg(long, env = "SLUICE_SSH_PRIVATE_KEY")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file for SSH host key checking.
    #[arg(long, env = "SLUICE_SSH_KNOWN_HOSTS")]
    pub ssh_known_hosts: Option<PathBuf>,
    /// Accept unknown SSH host keys (not recommended).
    #[arg(long)]
    pub ssh_insecure_ignore_host_key: bool,
    /// Send credentials over plain http:// (not recommended).
    #[arg(long, env = "SLUICE_GIT_INSECURE_HTTP_CREDENTIALS", value_parser = clap::builder::BoolishValueParser::new())]
    pub git_insecure_http_credentials: bool,
    /// Where fetched repositories are cached.
    #[arg(long, env = "SLUICE_GIT_CACHE_DIR")]
    pub git_cache_dir: Option<PathBuf>,
    /// Deadline for one fetch, all of it (30s, 5m) [env
    /// SLUICE_GIT_FETCH_TIMEOUT; default 5m].
    #[arg(long, value_parser = git_duration)]
    pub git_fetch_timeout: Option<Duration>,
    /// A fetch slower than this many bytes per second for
    /// --git-low-speed-time is cut; 0 turns it off [env
    /// SLUICE_GIT_LOW_SPEED_LIMIT; default 1].
    #[arg(long)]
    pub git_low_speed_limit: Option<u64>,
    /// How long a fetch may stay below --git-low-speed-limit [env
    /// SLUICE_GIT_LOW_SPEED_TIME; default 60s].
    #[arg(long, value_parser = git_duration)]
    pub git_low_speed_time: Option<Duration>,
    /// How long to wait for another process fetching the same repository
    /// [env SLUICE_GIT_LOCK_TIMEOUT; default 6m].
    #[arg(long, value_parser = git_duration)]
    pub git_lock_timeout: Option<Duration>,
    /// Most pack data one fetch may receive (500M, 2GiB) [env
    /// SLUICE_GIT_MAX_PACK_SIZE; default 2GiB].
    #[arg(long, value_parser = git_size)]
    pub git_max_pack_size: Option<u64>,
    /// Most refs a remote may advertise [env SLUICE_GIT_MAX_REFS; default
    /// 100000].
    #[arg(long)]
    pub git_max_refs: Option<usize>,
    /// PEM CA certificates trusted for https:// repositories, besides the
    /// system roots.
    #[arg(long, env = "SLUICE_GIT_CA_FILE")]
    pub git_ca_file: Option<PathBuf>,
    /// Most bytes the Git cache may hold; least recently used repositories
    /// are deleted past it, never one in use; 0 for no cap (5GiB, 500M)
    /// [env SLUICE_GIT_CACHE_SIZE; default 5GiB].
    #[arg(long, value_parser = git_size)]
    pub git_cache_size: Option<u64>,
}

fn git_duration(s: &str) -> Result<Duration, String> {
    sluice::source::git::parse_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration (use 30s, 5m, 500ms or seconds)"))
}

fn git_size(s: &str) -> Result<u64, String> {
    sluice::source::git::parse_size(s)
        .ok_or_else(|| format!("{s:?} is not a size (use 500M, 2GiB or bytes)"))
}

impl GitArgs {
    /// The fetch options these flags describe, on top of the environment.
    pub fn options(&self) -> anyhow::Result<Options> {
        let mut o = Options::from_env().context("git settings from the environment")?;
        if let Some(p) = &self.git_credentials {
            let mut creds = Credentials::from_file(p)?;
            creds.extend(Credentials::from_env_vars());
            o.credentials = creds;
        }
        o.ssh = SshOptions {
            private_key: self.ssh_key.clone().or(o.ssh.private_key),
            known_hosts: self.ssh_known_hosts.clone().or(o.ssh.known_hosts),
            strict_host_key_checking: o.ssh.strict_host_key_checking
                && !self.ssh_insecure_ignore_host_key,
            config_file: o.ssh.config_file,
        };
        o.allow_insecure_http_credentials |= self.git_insecure_http_credentials;
        if let Some(d) = &self.git_cache_dir {
            o.cache_dir = d.clone();
        }
        if let Some(t) = self.git_fetch_timeout {
            o.fetch_timeout = t;
        }
        if let Some(l) = self.git_low_speed_limit {
            o.low_speed_limit = l;
        }
        if let Some(t) = self.git_low_speed_time {
            o.low_speed_time = t;
        }
        if let Some(t) = self.git_lock_timeout {
            o.lock_timeout = t;
        }
        if let Some(n) = self.git_max_pack_size {
            o.max_pack_size = n;
        }
        if let Some(n) = self.git_max_refs {
            o.max_refs = n;
        }
        if let Some(p) = &self.git_ca_file {
            o.ca_file = Some(p.clone());
        }
        if let Some(n) = self.git_cache_size {
            o.max_cache_size = n;
        }
        Ok(o)
    }

    /// Resolve `--repo` at `--revision`; `None` without `--repo`.
    pub fn resolve(&self) -> anyhow::Result<Option<Resolved>> {
        let Some(repo) = &self.repo else {
            return Ok(None);
        };
        let spec = SourceSpec {
            repo: repo.clone(),
            revision: self.revision.clone().unwrap_or_else(|| "HEAD".into()),
            recurse_submodules: false,
        };
        let opts = self.options()?;
        Ok(Some(source::resolve(&spec, &opts)?))
    }
}

/// Run `sluice source …`.
pub fn run(cmd: Command) -> anyhow::Result<i32> {
    let Command::Resolve(args) = cmd;
    if args.git.repo.is_none() {
        anyhow::bail!("sluice source resolve needs --repo URL");
    }
    let r = args.git.resolve()?.context("no repository")?;
    let value = serde_json::json!({
        "repo": r.url,
        "revision": r.revision,
        "commit": r.commit,
        "ref": r.ref_name,
        "fetched": r.fetched,
    });
    let mut out = std::io::stdout().lock();
    match args.output {
        Some(Output::Json) => {
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        Some(Output::Yaml) => write!(out, "{}", serde_norway::to_string(&value)?)?,
        None => writeln!(out, "{} {}", r.commit, r.ref_name.as_deref().unwrap_or("-"))?,
    }
    Ok(EXIT_OK)
}
