//! Git sources: resolve a repository URL and a revision to a commit, fetch
//! it into a local cache when needed, and serve its files as a [`Tree`]
//! read lazily from the object database.
//!
//! ```no_run
//! use sluice::source::{self, SourceSpec};
//! let spec = SourceSpec { repo: "https://git.example/infra.git".into(), revision: "~1.4".into() };
//! let opts = source::Options::from_env().expect("credentials configuration");
//! let resolved = source::resolve(&spec, &opts)?;
//! println!("{} from {:?}", resolved.commit, resolved.ref_name);
//! let kustomization = resolved.tree.read("k8s/kustomization.yaml");
//! # Ok::<(), source::SourceError>(())
//! ```
//!
//! The steps, each in its own file: [`url`] parses and normalises the URL,
//! [`credentials`] picks the credentials by URL prefix, [`cache`] opens and
//! locks the bare repository for that URL, [`fetch`] lists the remote's refs
//! and fetches, [`revision`] matches the revision against the refs, and
//! [`tree`] serves the commit. Fetching blocks: call it from
//! `spawn_blocking` in async code.

mod cache;
pub mod credentials;
mod error;
mod fetch;
pub mod revision;
mod tree;
pub mod url;

pub use credentials::{CredentialEntry, Credentials, Secret};
pub use error::SourceError;
pub use tree::GitTree;

use super::Tree;
use error::Ctx;
use gix::ObjectId;
use revision::{Choice, NoMatch, Revision};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Which repository and revision to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Repository URL: `https://`, `http://`, `git://`, `ssh://`,
    /// `user@host:path`, `file://` or a local path.
    pub repo: String,
    /// Branch, tag, commit id (full or abbreviated), `HEAD`, or a semver
    /// constraint over tags such as `>=1.2.0 <2`, `~1.4`, `^2`.
    pub revision: String,
}

/// SSH settings; host keys are checked by default.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Private key file (`ssh -i`); a credential entry's key wins.
    pub private_key: Option<PathBuf>,
    /// known_hosts file; when unset, ssh's own defaults apply.
    pub known_hosts: Option<PathBuf>,
    /// Refuse unknown or changed host keys (default `true`).
    pub strict_host_key_checking: bool,
    /// An ssh config file (`ssh -F`), for host aliases, ports or proxies.
    pub config_file: Option<PathBuf>,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            private_key: None,
            known_hosts: None,
            strict_host_key_checking: true,
            config_file: None,
        }
    }
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct Options {
    /// Root of the cache of bare repositories.
    pub cache_dir: PathBuf,
    /// HTTP credentials and SSH keys by URL prefix.
    pub credentials: Credentials,
    /// SSH settings.
    pub ssh: SshOptions,
    /// Fetch only the commit needed (depth 1), deepening only when a
    /// revision needs history. On by default.
    pub shallow: bool,
    /// Send credentials over plain `http://` (off by default: only
    /// `https://` gets them).
    pub allow_insecure_http_credentials: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_dir: cache::default_root(),
            credentials: Credentials::none(),
            ssh: SshOptions::default(),
            shallow: true,
            allow_insecure_http_credentials: false,
        }
    }
}

impl Options {
    /// Defaults plus the environment: `SLUICE_GIT_CACHE_DIR`, credentials
    /// (see [`Credentials::from_env`]), `SLUICE_SSH_PRIVATE_KEY`,
    /// `SLUICE_SSH_KNOWN_HOSTS`, `SLUICE_SSH_CONFIG`, `SLUICE_SSH_STRICT_HOST_KEY_CHECKING=no`, and
    /// `SLUICE_GIT_INSECURE_HTTP_CREDENTIALS=1`.
    pub fn from_env() -> Result<Options, String> {
        let path = |n: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut o = Options {
            credentials: Credentials::from_env()?,
            ..Options::default()
        };
        if let Some(d) = path("SLUICE_GIT_CACHE_DIR") {
            o.cache_dir = d;
        }
        o.ssh.private_key = path("SLUICE_SSH_PRIVATE_KEY");
        o.ssh.known_hosts = path("SLUICE_SSH_KNOWN_HOSTS");
        o.ssh.config_file = path("SLUICE_SSH_CONFIG");
        if std::env::var("SLUICE_SSH_STRICT_HOST_KEY_CHECKING")
            .is_ok_and(|v| v == "no" || v == "false")
        {
            o.ssh.strict_host_key_checking = false;
        }
        o.allow_insecure_http_credentials = std::env::var("SLUICE_GIT_INSECURE_HTTP_CREDENTIALS")
            .is_ok_and(|v| v == "1" || v == "true");
        Ok(o)
    }
}

/// What a revision resolved to.
#[derive(Clone)]
pub struct Resolved {
    /// The repository URL, password removed.
    pub url: String,
    /// The revision as asked for.
    pub revision: String,
    /// The commit id (40 hex digits).
    pub commit: String,
    /// The ref the commit came from (`refs/heads/main`, `refs/tags/v1.4.2`);
    /// `None` for a commit id no branch or tag points to.
    pub ref_name: Option<String>,
    /// Whether objects were fetched (false when the cache already had it).
    pub fetched: bool,
    /// The files of the commit.
    pub tree: Arc<dyn Tree>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("url", &self.url)
            .field("revision", &self.revision)
            .field("commit", &self.commit)
            .field("ref_name", &self.ref_name)
            .field("fetched", &self.fetched)
            .finish_non_exhaustive()
    }
}

/// A step of a resolve, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// Asking the remote for its refs.
    ListingRefs,
    /// The commit is already in the cache; nothing to fetch.
    UpToDate,
    /// Fetching these refspecs.
    Fetching {
        /// `+src:dst` or an object id.
        refspecs: Vec<String>,
    },
    /// A pack was received.
    Received {
        /// Objects in it.
        objects: u64,
        /// Its size in bytes.
        bytes: u64,
    },
    /// The cache was unusable and was deleted; fetching afresh.
    CacheRecovered {
        /// What was wrong with it.
        reason: String,
    },
}

/// Receives [`ProgressEvent`]s.
pub trait ProgressSink: Send + Sync {
    /// One step happened.
    fn event(&self, event: &ProgressEvent);
}

impl<F: Fn(&ProgressEvent) + Send + Sync> ProgressSink for F {
    fn event(&self, event: &ProgressEvent) {
        self(event)
    }
}

/// A [`ProgressSink`] that logs each step at debug level.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogProgress;

impl ProgressSink for LogProgress {
    fn event(&self, event: &ProgressEvent) {
        tracing::debug!(?event, "git source");
    }
}

/// Resolve `spec` to a commit and its tree, fetching into the cache when
/// needed. Blocks; progress goes to the log; not cancellable (see
/// [`resolve_with`]).
pub fn resolve(spec: &SourceSpec, opts: &Options) -> Result<Resolved, SourceError> {
    resolve_with(spec, opts, &LogProgress, &AtomicBool::new(false))
}

/// [`resolve`] with an explicit progress sink and an interrupt flag: set
/// `interrupt` from another thread to cancel (the cache stays usable).
pub fn resolve_with(
    spec: &SourceSpec,
    opts: &Options,
    progress: &dyn ProgressSink,
    interrupt: &AtomicBool,
) -> Result<Resolved, SourceError> {
    let url = url::RepoUrl::parse(&spec.repo).map_err(|reason| SourceError::InvalidUrl {
        url: url::RepoUrl::parse(&spec.repo)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| "<unparsable URL>".into()),
        reason,
    })?;
    let mut ctx = Ctx {
        url: url.to_string(),
        revision: spec.revision.clone(),
        secrets: Vec::new(),
    };
    let rev = Revision::parse(&spec.revision).map_err(|reason| SourceError::InvalidRevision {
        url: ctx.url.clone(),
        revision: ctx.revision.clone(),
        reason,
    })?;
    let auth = credentials::Auth::for_url(&url, &opts.credentials);
    ctx.secrets = auth.secrets();
    let dir = cache::repo_dir(&opts.cache_dir, url.normalized());
    let _lock = cache::lock(&dir).map_err(|e| ctx.cache(&dir, format!("cannot lock: {e}")))?;
    let net = fetch::Net {
        url: &url,
        auth: &auth,
        ssh: &opts.ssh,
        ctx: &ctx,
        progress,
        interrupt,
        insecure_http: opts.allow_insecure_http_credentials,
    };
    let attempt = || -> Result<Resolved, Fail> {
        let mut repo = cache::open_or_init(&dir).map_err(Fail::Corrupt)?;
        net.configure(&mut repo)?;
        let refs = net.list_refs(&repo)?;
        let choice = rev.choose(&refs).map_err(|m| no_match(&ctx, m))?;
        let (commit, ref_name, fetched) = ensure_local(&net, &repo, &choice, opts.shallow)?;
        let label = format!("{}@{}", ctx.url, commit);
        let tree = GitTree::new(&repo, commit, label).map_err(Fail::Corrupt)?;
        Ok(Resolved {
            url: ctx.url.clone(),
            revision: ctx.revision.clone(),
            commit: commit.to_string(),
            ref_name,
            fetched,
            tree: Arc::new(tree),
        })
    };
    match attempt() {
        Ok(r) => Ok(r),
        Err(Fail::Source(e)) if !matches!(e, SourceError::Fetch { .. }) => Err(e),
        Err(first) => {
            let reason = match first {
                Fail::Corrupt(r) => r,
                Fail::Source(e) => e.to_string(),
            };
            tracing::warn!(url = %ctx.url, revision = %ctx.revision, %reason, "git cache unusable; deleting and fetching afresh");
            progress.event(&ProgressEvent::CacheRecovered {
                reason: ctx.scrub(&reason),
            });
            cache::wipe(&dir)
                .map_err(|e| ctx.cache(&dir, format!("cannot delete corrupt cache: {e}")))?;
            attempt().map_err(|f| match f {
                Fail::Corrupt(r) => ctx.cache(&dir, r),
                Fail::Source(e) => e,
            })
        }
    }
}

/// Why an attempt failed: a corrupt cache is deleted and tried once more.
enum Fail {
    Corrupt(String),
    Source(SourceError),
}

impl From<SourceError> for Fail {
    fn from(e: SourceError) -> Self {
        Fail::Source(e)
    }
}

fn no_match(ctx: &Ctx, m: NoMatch) -> SourceError {
    let (url, revision) = (ctx.url.clone(), ctx.revision.clone());
    match m {
        NoMatch::Ref(hint) => SourceError::RefNotFound {
            url,
            revision,
            hint,
        },
        NoMatch::Semver(tags) => SourceError::NoMatchingTag {
            url,
            revision,
            tags,
        },
        NoMatch::NoHead => SourceError::RefNotFound {
            url,
            revision,
            hint: " (the repository is empty)".into(),
        },
    }
}

fn has_commit(repo: &gix::Repository, id: ObjectId) -> bool {
    repo.find_commit(id)
        .is_ok_and(|c| c.tree_id().is_ok_and(|t| repo.has_object(t)))
}

/// Make sure the chosen commit is in the cache; returns it, the ref it came
/// from and whether anything was fetched.
fn ensure_local(
    net: &fetch::Net<'_>,
    repo: &gix::Repository,
    choice: &Choice,
    shallow: bool,
) -> Result<(ObjectId, Option<String>, bool), Fail> {
    use gix::remote::fetch::Shallow;
    let depth = || {
        if shallow {
            Shallow::DepthAtRemote(std::num::NonZeroU32::MIN)
        } else {
            full_history(repo)
        }
    };
    let deep = [
        "+refs/heads/*:refs/heads/*".to_string(),
        "+refs/tags/*:refs/tags/*".to_string(),
    ];
    let (ctx, url, revision) = (net.ctx, net.ctx.url.clone(), net.ctx.revision.clone());
    match choice {
        Choice::Ref { name, id } => {
            if has_commit(repo, *id) {
                net.progress.event(&ProgressEvent::UpToDate);
                return Ok((*id, Some(name.clone()), false));
            }
            let dst = if name.starts_with("refs/") {
                name.clone()
            } else {
                format!("refs/sluice/{name}")
            };
            net.fetch(repo, &[format!("+{name}:{dst}")], depth())?;
            if !has_commit(repo, *id) {
                // The ref moved between listing and fetching: report what we have.
                return Err(Fail::Corrupt(format!(
                    "{name} fetched but commit {id} is missing"
                )));
            }
            Ok((*id, Some(name.clone()), true))
        }
        Choice::Commit(id) => {
            if has_commit(repo, *id) {
                net.progress.event(&ProgressEvent::UpToDate);
                return Ok((*id, None, false));
            }
            // Servers speaking protocol v2 serve any reachable commit by id.
            let direct = net.fetch(repo, &[format!("{id}:refs/sluice/commits/{id}")], depth());
            if direct.is_err() || !has_commit(repo, *id) {
                if let Err(
                    e @ (SourceError::Interrupted { .. }
                    | SourceError::Unreachable { .. }
                    | SourceError::Authentication { .. }),
                ) = direct
                {
                    return Err(e.into());
                }
                net.fetch(repo, &deep, full_history(repo))?;
            }
            if !has_commit(repo, *id) {
                return Err(SourceError::CommitNotFound { url, revision }.into());
            }
            Ok((*id, None, true))
        }
        Choice::Prefix(p) => {
            let mut fetched = false;
            let id = match lookup_prefix(repo, p, ctx)? {
                Some(id) => id,
                None => {
                    net.fetch(repo, &deep, full_history(repo))?;
                    fetched = true;
                    lookup_prefix(repo, p, ctx)?
                        .ok_or(SourceError::CommitNotFound { url, revision })?
                }
            };
            Ok((id, None, fetched))
        }
    }
}

/// Unshallow when the cache is shallow, else keep it complete.
fn full_history(repo: &gix::Repository) -> gix::remote::fetch::Shallow {
    if repo.is_shallow().unwrap_or(true) {
        gix::remote::fetch::Shallow::undo()
    } else {
        gix::remote::fetch::Shallow::NoChange
    }
}

/// The commit an abbreviated id names in the cache, if any.
fn lookup_prefix(
    repo: &gix::Repository,
    p: &str,
    ctx: &Ctx,
) -> Result<Option<ObjectId>, SourceError> {
    let prefix = gix::hash::Prefix::from_hex(p).map_err(|e| SourceError::InvalidRevision {
        url: ctx.url.clone(),
        revision: ctx.revision.clone(),
        reason: e.to_string(),
    })?;
    match repo.objects.lookup_prefix(prefix, None) {
        Ok(Some(Ok(id))) if has_commit(repo, id) => Ok(Some(id)),
        Ok(Some(Err(()))) => Err(SourceError::AmbiguousCommit {
            url: ctx.url.clone(),
            revision: ctx.revision.clone(),
        }),
        _ => Ok(None),
    }
}
