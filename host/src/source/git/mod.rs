//! Git sources: resolve a repository URL and a revision to a commit, fetch
//! it into a local cache when needed, and serve its files as a [`Tree`]
//! read lazily from the object database.
//!
//! ```no_run
//! use sluice::source::{self, SourceSpec};
//! let spec = SourceSpec {
//!     repo: "https://git.example/infra.git".into(),
//!     revision: "~1.4".into(),
//!     recurse_submodules: false,
//! };
//! let opts = source::Options::from_env().expect("credentials configuration");
//! let resolved = source::resolve(&spec, &opts)?;
//! println!("{} from {:?}", resolved.commit, resolved.ref_name);
//! let kustomization = resolved.tree.read("k8s/kustomization.yaml");
//! # Ok::<(), source::SourceError>(())
//! ```
//!
//! The steps, each in its own file: [`url`] parses and normalises the URL,
//! [`credentials`] picks the credentials by URL prefix, `cache` opens and
//! locks the bare repository for that URL, `fetch` lists the remote's refs
//! and fetches, [`revision`] matches the revision against the refs, and
//! `tree` serves the commit. Fetching blocks: call it from
//! `spawn_blocking` in async code. With
//! [`SourceSpec::recurse_submodules`], `submodule` finds the commit's
//! submodules and each is resolved the same way and served in the tree;
//! [`verify`] checks signatures on the result; after each resolve the
//! cache is trimmed to its size cap (`cache`).
//!
//! **HTTPS trust** (`tls`): the system roots (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` honoured as OpenSSL does), plus `SLUICE_GIT_CA_FILE`,
//! plus the CA certificates of the URL's credentials entry; a certificate
//! that does not verify is refused, and only an entry's `insecure: true`
//! turns the check off.
//!
//! **Limits.** Every resolve is bounded ([`Options`]): an overall fetch
//! deadline, a low-speed limit, a pack size cap and a ref count cap (see
//! `limits` for how each is enforced per transport), and a wait limit
//! on the cache's locks.
//!
//! **When the cache is deleted.** Only on proven corruption: the cached
//! repository cannot be opened, or a commit or tree it claims to have
//! cannot be read, or a fetch fails for a local reason and a check of the
//! cache then finds a ref whose commit is unreadable. Network errors,
//! authentication failures, HTTP errors (a 500 included), timeouts and
//! limits never delete it, so the commits already fetched stay readable.
//!
//! **Abbreviated commit ids** are accepted only when the commit is
//! reachable from a branch or tag the remote advertises now: an object that
//! is merely in the cache (fetched for a branch since deleted, say) is
//! not enough.

mod cache;
pub mod credentials;
mod error;
mod fetch;
mod limits;
mod memo;
pub mod revision;
mod submodule;
mod tls;
mod tree;
pub mod url;
pub mod verify;

pub use cache::{CacheError, Cached, Trimmed};
pub use credentials::{CredentialEntry, Credentials, CredentialsError, Secret};
pub use error::{Cause, SourceError};
pub use memo::Memo;
pub use revision::RevisionError;
pub use tree::GitTree;
pub use url::UrlError;

use super::Tree;
use error::Ctx;
use gix::ObjectId;
use revision::{Choice, NoMatch, RemoteRef, Revision};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Which repository and revision to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Repository URL: `https://`, `http://`, `git://`, `ssh://`,
    /// `user@host:path`, `file://` or a local path.
    pub repo: String,
    /// Branch, tag, commit id (full or abbreviated), `HEAD`, or a semver
    /// constraint over tags such as `>=1.2.0 <2`, `~1.4`, `^2`.
    pub revision: String,
    /// Fetch the submodules the commit records, recursively, and serve
    /// their files in the tree (see `submodule`).
    pub recurse_submodules: bool,
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
    /// Overall deadline for the network part of one resolve (listing refs
    /// and every fetch). Default 5 minutes.
    pub fetch_timeout: Duration,
    /// Bytes per second below which a transfer that lasts
    /// [`low_speed_time`](Self::low_speed_time) is abandoned; 0 disables.
    /// Default 1: a connection that delivers nothing for a minute is dead.
    /// Not higher, because while a server compresses a large repository it
    /// sends only progress lines and keep-alives (a few bytes a second),
    /// and the deadline already bounds the whole fetch; raise it to cut
    /// trickling servers sooner.
    pub low_speed_limit: u64,
    /// How long a transfer may stay below
    /// [`low_speed_limit`](Self::low_speed_limit). Default 60 s.
    pub low_speed_time: Duration,
    /// How long to wait for another fetch of the same repository to
    /// release the cache lock. Default 6 minutes (a little more than a
    /// fetch may take).
    pub lock_timeout: Duration,
    /// Most pack bytes one resolve may receive. Default 2 GiB.
    pub max_pack_size: u64,
    /// Most refs the remote may advertise. Default 100,000.
    pub max_refs: usize,
    /// A PEM file of CA certificates trusted for every `https://`
    /// repository, besides the system roots (`SLUICE_GIT_CA_FILE`).
    pub ca_file: Option<PathBuf>,
    /// Most bytes the cache may hold; after each resolve, least recently
    /// used repositories not in use are deleted until it fits. 0: no cap.
    /// Default 5 GiB (`SLUICE_GIT_CACHE_SIZE`, `--git-cache-size`).
    pub max_cache_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_dir: cache::default_root(),
            credentials: Credentials::none(),
            ssh: SshOptions::default(),
            shallow: true,
            allow_insecure_http_credentials: false,
            fetch_timeout: Duration::from_secs(300),
            low_speed_limit: 1,
            low_speed_time: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(360),
            max_pack_size: 2 << 30,
            max_refs: 100_000,
            ca_file: None,
            max_cache_size: 5 << 30,
        }
    }
}

/// An environment variable with a value [`Options::from_env`] cannot use.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The credentials file or variables are unusable.
    #[error("Git credentials configuration")]
    Credentials(#[from] CredentialsError),
    /// A variable's value is not what it should be.
    #[error("{var}={value:?}: expected {expected}")]
    InvalidValue {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
}

/// Parse `30s`, `2m`, `500ms`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::parse_duration(s).ok()
}

/// Parse a size: plain bytes, or with a `K`, `M`, `G` (powers of 1000) or
/// `Ki`, `Mi`, `Gi` (powers of 1024) prefix, `B` optional (`2GiB`, `500M`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..i].parse().ok()?;
    let unit = s[i..].trim();
    let unit = unit.strip_suffix('B').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "K" | "k" => 1000,
        "M" => 1000 * 1000,
        "G" => 1000 * 1000 * 1000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Options {
    /// Defaults plus the environment: `SLUICE_GIT_CACHE_DIR`, credentials
    /// (see [`Credentials::from_env`]), `SLUICE_SSH_PRIVATE_KEY`,
    /// `SLUICE_SSH_KNOWN_HOSTS`, `SLUICE_SSH_CONFIG`,
    /// `SLUICE_SSH_STRICT_HOST_KEY_CHECKING=no`,
    /// `SLUICE_GIT_INSECURE_HTTP_CREDENTIALS=1`, and the limits
    /// `SLUICE_GIT_FETCH_TIMEOUT` (`5m`), `SLUICE_GIT_LOW_SPEED_LIMIT`
    /// (bytes/s), `SLUICE_GIT_LOW_SPEED_TIME` (`60s`),
    /// `SLUICE_GIT_LOCK_TIMEOUT` (`6m`), `SLUICE_GIT_MAX_PACK_SIZE`
    /// (`2GiB`), `SLUICE_GIT_MAX_REFS` and `SLUICE_GIT_CACHE_SIZE`
    /// (`5GiB`, `0` for no cap), and `SLUICE_GIT_CA_FILE` (see
    /// `tls` for HTTPS trust).
    pub fn from_env() -> Result<Options, OptionsError> {
        let path = |n: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut o = Options {
            credentials: Credentials::from_env()?,
            ..Options::default()
        };
        fn var<T>(
            name: &'static str,
            expected: &'static str,
            parse: impl Fn(&str) -> Option<T>,
        ) -> Result<Option<T>, OptionsError> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => match parse(&v) {
                    Some(x) => Ok(Some(x)),
                    None => Err(OptionsError::InvalidValue {
                        var: name,
                        value: v,
                        expected,
                    }),
                },
                _ => Ok(None),
            }
        }
        const DUR: &str = "a duration like 30s, 5m or 500ms";
        const SIZE: &str = "a size in bytes like 2GiB, 500MiB or 1000000";
        const NUM: &str = "a whole number";
        let positive = |d: Duration| (!d.is_zero()).then_some(d);
        if let Some(d) = var("SLUICE_GIT_FETCH_TIMEOUT", DUR, |s| {
            parse_duration(s).and_then(positive)
        })? {
            o.fetch_timeout = d;
        }
        if let Some(n) = var("SLUICE_GIT_LOW_SPEED_LIMIT", NUM, |s| s.trim().parse().ok())? {
            o.low_speed_limit = n;
        }
        if let Some(d) = var("SLUICE_GIT_LOW_SPEED_TIME", DUR, parse_duration)? {
            o.low_speed_time = d;
        }
        if let Some(d) = var("SLUICE_GIT_LOCK_TIMEOUT", DUR, parse_duration)? {
            o.lock_timeout = d;
        }
        if let Some(n) = var("SLUICE_GIT_MAX_PACK_SIZE", SIZE, parse_size)? {
            o.max_pack_size = n;
        }
        if let Some(n) = var("SLUICE_GIT_CACHE_SIZE", SIZE, parse_size)? {
            o.max_cache_size = n;
        }
        if let Some(n) = var("SLUICE_GIT_MAX_REFS", NUM, |s| s.trim().parse().ok())? {
            o.max_refs = n;
        }
        o.ca_file = path("SLUICE_GIT_CA_FILE");
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
    /// The commit (and the annotated tag it was reached through) as
    /// stored, for [`verify::check`].
    pub material: verify::Material,
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
    /// The cache was over its size cap; least recently used repositories
    /// were deleted.
    CacheTrimmed {
        /// Repositories deleted.
        evicted: usize,
        /// Bytes freed.
        freed: u64,
        /// Bytes cached now.
        size: u64,
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
    let r = resolve_at(spec, opts, progress, interrupt, &[])?;
    if opts.max_cache_size > 0 {
        trim_cache(opts, progress);
    }
    Ok(r)
}

static CACHE_BYTES: AtomicU64 = AtomicU64::new(0);
static EVICTIONS: AtomicU64 = AtomicU64::new(0);
static EVICTED_BYTES: AtomicU64 = AtomicU64::new(0);

/// The Git cache as this process last measured it, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes cached after the last resolve's size check.
    pub bytes: u64,
    /// Repositories evicted by the size cap since the process started.
    pub evictions: u64,
    /// Bytes those evictions freed.
    pub evicted_bytes: u64,
}

/// The cache's size and the size cap's evictions so far (this process).
pub fn cache_stats() -> CacheStats {
    CacheStats {
        bytes: CACHE_BYTES.load(Ordering::Relaxed),
        evictions: EVICTIONS.load(Ordering::Relaxed),
        evicted_bytes: EVICTED_BYTES.load(Ordering::Relaxed),
    }
}

/// Apply the size cap; a failure is logged, never fails the resolve.
fn trim_cache(opts: &Options, progress: &dyn ProgressSink) {
    match cache::trim(&opts.cache_dir, opts.max_cache_size) {
        Ok(t) => {
            CACHE_BYTES.store(t.after, Ordering::Relaxed);
            let freed: u64 = t.evicted.iter().map(|(_, n)| n).sum();
            EVICTIONS.fetch_add(t.evicted.len() as u64, Ordering::Relaxed);
            EVICTED_BYTES.fetch_add(freed, Ordering::Relaxed);
            if !t.evicted.is_empty() {
                tracing::info!(
                    evicted = t.evicted.len(),
                    freed,
                    size = t.after,
                    in_use = t.in_use,
                    "git cache over its size cap; evicted least recently used repositories"
                );
                progress.event(&ProgressEvent::CacheTrimmed {
                    evicted: t.evicted.len(),
                    freed,
                    size: t.after,
                });
            } else if t.after > opts.max_cache_size {
                tracing::warn!(
                    size = t.after,
                    cap = opts.max_cache_size,
                    in_use = t.in_use,
                    "git cache over its size cap, but every repository over it is in use"
                );
            }
        }
        Err(e) => tracing::warn!(error = %error_text(&e), "git cache size cap not applied"),
    }
}

/// [`resolve_with`] for a repository that is a submodule of `parents`
/// (their normalised URLs, outermost first).
fn resolve_at(
    spec: &SourceSpec,
    opts: &Options,
    progress: &dyn ProgressSink,
    interrupt: &AtomicBool,
    parents: &[String],
) -> Result<Resolved, SourceError> {
    let url = url::RepoUrl::parse(&spec.repo).map_err(|source| SourceError::InvalidUrl {
        url: redact(&spec.repo),
        source,
    })?;
    let mut ctx = Ctx {
        url: url.to_string(),
        revision: spec.revision.clone(),
        secrets: Vec::new(),
    };
    let rev = Revision::parse(&spec.revision).map_err(|source| SourceError::InvalidRevision {
        url: ctx.url.clone(),
        revision: ctx.revision.clone(),
        source,
    })?;
    let auth = credentials::Auth::for_url(&url, &opts.credentials);
    ctx.secrets = auth.secrets();
    cache::prepare_root(&opts.cache_dir).map_err(|e| ctx.cache(&opts.cache_dir, e))?;
    let dir = cache::repo_dir(&opts.cache_dir, url.normalized());
    let _lock = cache::lock(&dir, opts.lock_timeout).map_err(|e| ctx.cache(&dir, e))?;
    let http = matches!(url.kind(), url::UrlKind::Http | url::UrlKind::Https);
    let trust = if url.kind() == url::UrlKind::Https {
        tls::Trust::load(opts.ca_file.as_deref(), &auth).map_err(|(origin, reason)| {
            SourceError::CaCertificates {
                url: ctx.url.clone(),
                revision: ctx.revision.clone(),
                origin,
                source: ctx.cause(&reason),
            }
        })?
    } else {
        tls::Trust::default()
    };
    let budget = limits::Budget::new(opts, interrupt, http);
    let net = fetch::Net {
        url: &url,
        auth: &auth,
        ssh: &opts.ssh,
        ctx: &ctx,
        progress,
        budget: &budget,
        insecure_http: opts.allow_insecure_http_credentials,
        trust: &trust,
        max_refs: opts.max_refs,
        max_pack_size: opts.max_pack_size,
    };
    let attempt = || -> Result<Resolved, Fail> {
        let mut repo = match cache::open_or_init(&dir) {
            Ok(r) => r,
            Err(e @ CacheError::Repository { action: "open", .. }) => {
                return Err(Fail::Corrupt(error_text(&e)));
            }
            Err(e) => return Err(Fail::Source(ctx.cache(&dir, e))),
        };
        net.configure(&mut repo)?;
        let refs = net.list_refs(&repo)?;
        let choice = rev.choose(&refs).map_err(|m| no_match(&ctx, m))?;
        let (commit, ref_name, fetched) = ensure_local(&net, &repo, &choice, &refs, opts.shallow)?;
        let label = format!("{}@{}", ctx.url, commit);
        let guard = cache::read_guard(&dir, opts.lock_timeout).map_err(|e| ctx.cache(&dir, e))?;
        let mut tree = GitTree::new(&repo, commit, label)
            .map_err(|c| Fail::Corrupt(c.0))?
            .holding(guard);
        if spec.recurse_submodules {
            let nested = Nested {
                spec,
                url: &url,
                ctx: &ctx,
                opts,
                progress,
                interrupt,
                parents,
            };
            tree = tree.with_submodules(nested.attach(&repo, commit)?);
        }
        let tag = ref_name
            .as_deref()
            .and_then(|n| refs.iter().find(|r| r.name == n))
            .and_then(|r| r.tag);
        let material = verify::Material::read(&repo, commit, ref_name.as_deref(), tag);
        Ok(Resolved {
            url: ctx.url.clone(),
            revision: ctx.revision.clone(),
            commit: commit.to_string(),
            ref_name,
            fetched,
            tree: Arc::new(tree),
            material,
        })
    };
    let reason = match attempt() {
        Ok(r) => return Ok(r),
        Err(Fail::Source(e)) => return Err(e),
        Err(Fail::Corrupt(reason)) => reason,
        Err(Fail::Suspect(e)) => {
            match cache::open(&dir).map_or_else(|e| Some(error_text(&e)), |r| verify(&r)) {
                Some(problem) => problem,
                None => return Err(e),
            }
        }
    };
    tracing::warn!(url = %ctx.url, revision = %ctx.revision, reason = %ctx.scrub(&reason), "git cache corrupt; deleting and fetching afresh");
    progress.event(&ProgressEvent::CacheRecovered {
        reason: ctx.scrub(&reason),
    });
    cache::wipe(&dir, opts.lock_timeout).map_err(|e| ctx.cache(&dir, e))?;
    attempt().map_err(|f| match f {
        Fail::Corrupt(r) => SourceError::Corrupt {
            url: ctx.url.clone(),
            revision: ctx.revision.clone(),
            path: dir.display().to_string(),
            source: ctx.cause(&r),
        },
        Fail::Source(e) | Fail::Suspect(e) => e,
    })
}

/// What resolving a repository's submodules needs.
struct Nested<'a> {
    spec: &'a SourceSpec,
    url: &'a url::RepoUrl,
    ctx: &'a Ctx,
    opts: &'a Options,
    progress: &'a dyn ProgressSink,
    interrupt: &'a AtomicBool,
    parents: &'a [String],
}

impl Nested<'_> {
    fn fail(&self, path: &str, reason: String, source: Option<SourceError>) -> Fail {
        Fail::Source(SourceError::Submodule {
            url: self.ctx.url.clone(),
            revision: self.ctx.revision.clone(),
            path: path.to_string(),
            reason: self.ctx.scrub(&reason),
            source: source.map(Box::new),
        })
    }

    /// Resolve every submodule `commit` declares, at the commit it records;
    /// their trees by path.
    fn attach(
        &self,
        repo: &gix::Repository,
        commit: ObjectId,
    ) -> Result<std::collections::HashMap<String, Arc<dyn Tree>>, Fail> {
        let declared = submodule::declared(repo, commit, &self.spec.repo)
            .map_err(|(path, reason)| self.fail(&path, reason, None))?;
        let mut chain = self.parents.to_vec();
        chain.push(self.url.normalized().to_string());
        let mut out = std::collections::HashMap::new();
        for d in declared {
            if chain.len() > submodule::MAX_DEPTH {
                return Err(self.fail(
                    &d.path,
                    format!(
                        "submodules are nested more than {} levels deep",
                        submodule::MAX_DEPTH
                    ),
                    None,
                ));
            }
            let sub_url = url::RepoUrl::parse(&d.url)
                .map_err(|e| self.fail(&d.path, format!("URL {}: {e}", d.url), None))?;
            if chain.iter().any(|c| c == sub_url.normalized()) {
                return Err(self.fail(
                    &d.path,
                    format!("{sub_url} is a repository it is already part of (a submodule cycle)"),
                    None,
                ));
            }
            let sub = SourceSpec {
                repo: d.url.clone(),
                revision: d.commit.to_string(),
                recurse_submodules: true,
            };
            let r = resolve_at(&sub, self.opts, self.progress, self.interrupt, &chain).map_err(
                |e| {
                    self.fail(
                        &d.path,
                        format!("cannot fetch commit {} from {sub_url}", d.commit),
                        Some(e),
                    )
                },
            )?;
            out.insert(d.path, r.tree);
        }
        Ok(out)
    }
}

/// A URL that did not parse, shown with any userinfo replaced by `***`.
fn redact(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://***@{host}")
        }
        _ if raw.contains('@') => "<URL with user information>".into(),
        _ => raw.to_string(),
    }
}

/// An error and its sources on one line.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    text
}

/// Why an attempt failed.
enum Fail {
    /// The cache is proven corrupt: delete it and try once more.
    Corrupt(String),
    /// A local failure that may come from a corrupt cache: check the cache
    /// ([`verify`]); delete it only if the check finds a problem.
    Suspect(SourceError),
    /// Anything else (network, authentication, limits, no such ref): the
    /// cache is left alone.
    Source(SourceError),
}

impl From<SourceError> for Fail {
    fn from(e: SourceError) -> Self {
        match e {
            e @ SourceError::Fetch { .. } => Fail::Suspect(e),
            e => Fail::Source(e),
        }
    }
}

/// Check a cached repository: every ref must name a readable commit (or a
/// readable tag of one). `Some(problem)` when one does not.
fn verify(repo: &gix::Repository) -> Option<String> {
    let refs = match repo.references() {
        Ok(r) => r,
        Err(e) => return Some(format!("cannot read refs: {e}")),
    };
    let all = match refs.all() {
        Ok(a) => a,
        Err(e) => return Some(format!("cannot read refs: {e}")),
    };
    for r in all {
        let mut r = match r {
            Ok(r) => r,
            Err(e) => return Some(format!("cannot read a ref: {e}")),
        };
        let name = r.name().as_bstr().to_string();
        let id = match r.peel_to_id() {
            Ok(id) => id.detach(),
            Err(e) => return Some(format!("{name} cannot be resolved: {e}")),
        };
        let readable = match repo.find_header(id) {
            Ok(h) if h.kind() != gix::object::Kind::Commit => true,
            Ok(_) => has_commit(repo, id),
            Err(_) => false,
        };
        if !readable {
            return Some(format!("{name} points to {id}, which cannot be read"));
        }
    }
    None
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
    refs: &[RemoteRef],
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
            // An annotated tag's own object is fetched with it, so that its
            // signature can be checked.
            let tag = refs.iter().find(|r| &r.name == name).and_then(|r| r.tag);
            if has_commit(repo, *id) && tag.is_none_or(|t| repo.has_object(t)) {
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
                // The ref moved between listing and fetching, or the cache
                // lost objects: the caller checks which.
                return Err(Fail::Suspect(SourceError::Fetch {
                    url,
                    revision,
                    retryable: true,
                    source: ctx.cause(&format!(
                        "{name} was fetched but commit {id} is not in the cache (did the branch move meanwhile?)"
                    )),
                }));
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
            match direct {
                // The server may refuse a fetch by id: fall back to history.
                Err(SourceError::Fetch { .. }) => net.fetch(repo, &deep, full_history(repo))?,
                Err(e) => return Err(Fail::Source(e)),
                Ok(()) if !has_commit(repo, *id) => net.fetch(repo, &deep, full_history(repo))?,
                Ok(()) => {}
            }
            if !has_commit(repo, *id) {
                return Err(Fail::Source(SourceError::CommitNotFound { url, revision }));
            }
            Ok((*id, None, true))
        }
        Choice::Prefix(p) => {
            // Only what the remote's branches and tags reach today counts:
            // an object merely present in the cache (fetched for a branch
            // since deleted, say) does not.
            let tips: Vec<ObjectId> = refs
                .iter()
                .filter(|r| {
                    r.name == "HEAD"
                        || r.name.starts_with("refs/heads/")
                        || r.name.starts_with("refs/tags/")
                })
                .map(|r| r.id)
                .collect();
            if let Some(id) = lookup_prefix(repo, p, ctx)?
                && reachable(repo, id, &tips)
            {
                net.progress.event(&ProgressEvent::UpToDate);
                return Ok((id, None, false));
            }
            net.fetch(repo, &deep, full_history(repo))?;
            match lookup_prefix(repo, p, ctx)? {
                Some(id) if reachable(repo, id, &tips) => Ok((id, None, true)),
                _ => Err(Fail::Source(SourceError::CommitNotFound { url, revision })),
            }
        }
    }
}

/// Whether `id` is one of `tips` or an ancestor of one, walking the cached
/// history (a shallow cache may say no where a full one says yes).
fn reachable(repo: &gix::Repository, id: ObjectId, tips: &[ObjectId]) -> bool {
    if tips.contains(&id) {
        return true;
    }
    let present: Vec<ObjectId> = tips
        .iter()
        .copied()
        .filter(|t| repo.has_object(t))
        .collect();
    let Ok(walk) = repo.rev_walk(present).all() else {
        return false;
    };
    for info in walk {
        match info {
            Ok(info) if info.id == id => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
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
    let prefix = gix::hash::Prefix::from_hex(p).map_err(|_| SourceError::InvalidRevision {
        url: ctx.url.clone(),
        revision: ctx.revision.clone(),
        source: RevisionError::CommitId(p.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("500M"), Some(500_000_000));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("12 KiB"), Some(12 << 10));
        assert_eq!(parse_size("1X"), None);
        assert_eq!(parse_size("99999999999999Gi"), None);
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn unparsable_urls_never_show_userinfo() {
        assert_eq!(redact("ftp://bob:pa/ss@host/r"), "ftp://***@host/r");
        assert_eq!(redact("ftp://host/r"), "ftp://host/r");
    }
}
