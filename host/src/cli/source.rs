//! `sluice source resolve`: resolve a repository revision to a commit, and
//! the Git flags every subcommand that reads a repository (`render`,
//! `sync`, `diff`, `wait`) shares through [`GitArgs`].

use super::{EXIT_OK, Output};
use anyhow::Context as _;
use sluice::source::git::{Credentials, SshOptions};
use sluice::source::{self, Options, Resolved, SourceSpec};
use std::io::Write;
use std::path::PathBuf;

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
    /// password|token, sshPrivateKeyPath}.
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
}

impl GitArgs {
    /// The fetch options these flags describe, on top of the environment.
    pub fn options(&self) -> anyhow::Result<Options> {
        let mut o = Options::from_env()
            .map_err(anyhow::Error::msg)
            .context("git credentials")?;
        if let Some(p) = &self.git_credentials {
            let mut creds = Credentials::from_file(p).map_err(anyhow::Error::msg)?;
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
