//! The engine's first step: from an app definition to everything a
//! command needs to render, diff, sync or wait.
//!
//! `sluice render`, `sync`, `diff` and `wait` (and `serve`) call one
//! function, [`resolve`] (or [`resolve_with`], the same with Git progress
//! and cancellation), so an app means the same thing everywhere: the
//! same source (with the same Git credentials and SSH settings), the same
//! name, the same plugin context and the same cluster.
//!
//! ```no_run
//! use sluice::engine::{self, AppDef, Settings};
//! let def = AppDef::from_file("examples/guestbook-app.yaml".as_ref())?;
//! let settings = Settings::new(sluice::source::Options::default())?;
//! let app = engine::resolve(&def, &settings)?;
//! println!("{} at {:?} -> {:?}", app.name, app.source.commit, app.destination);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it decides, and why:
//! - **Which app.** An [`AppDef`] is an Application file, flags, or both;
//!   a flag wins over the file's field. The name is `--name`, else the
//!   file's `metadata.name`, else derived from the repository and path
//!   ([`default_name`]: `<last path segment>-<hash>`), so two apps given by
//!   flags never share an inventory and prune each other.
//! - **Which source.** A Git URL is resolved through
//!   [`source::resolve`](crate::source::resolve) with the caller's
//!   [`Options`] (credentials, SSH, cache: the CLI builds them from the
//!   environment and its flags the same way for every command). A local
//!   directory, or a `file://` URL, must lie inside the Application file's
//!   directory (the working directory for flags), symlinks resolved, or
//!   inside a root the caller allows ([`Settings::allow_local_repos`]); see
//!   `local.rs` for why.
//! - **What the plugin sees.** [`RenderSpec::repo_url`] is the repository
//!   URL without userinfo ([`without_userinfo`]): a password written into a
//!   `repoURL` reaches Git, never a plugin.
//! - **Which cluster.** `--target dir:PATH`, or the Application's
//!   `destination` checked against the kubeconfig by
//!   [`target::destination`](crate::target::destination) before anything
//!   is fetched or sent: a `destination.server` that is not the chosen
//!   context's server is refused.
//!
//! - **Whether to trust it.** With `spec.source.verify`, the keys file
//!   (relative to the Application file) is read before the fetch (for a
//!   Flux `GitRepository.spec.verify`, the Secret it names: given by the
//!   caller in [`AppDef::verify_keys`], else read from the destination,
//!   see [`flux_keys`]), and the
//!   resolved commit's or tag's signatures are checked
//!   ([`verify::check`](crate::source::git::verify::check)) before this
//!   returns: a refused revision never reaches a renderer, so nothing is
//!   applied or pruned.
//! - **What to render.** A `--renderer` flag, else `spec.renderer`, else
//!   the renderer an Argo CD source's fields imply (`directory` → yaml,
//!   `kustomize` → kustomize with its `overrides`, `plugin` → its name;
//!   see [`crate::app::argo`]), else detection. Each further source of a
//!   multi-source Application is resolved and rendered the same way, and
//!   [`App::render`] returns the objects of all (a duplicate across
//!   sources is an error).
//! - **Flux variables.** A Flux Kustomization's `postBuild.substitute` is
//!   applied by [`App::render`]; with `substituteFrom`, the caller does it
//!   once connected ([`substitute_from`]), as the variables live in the
//!   cluster.
//!
//! Nothing here prints; every error names the app and what to do.

pub mod flux_keys;
mod local;
mod name;
mod repo;
mod substitute;

pub use name::default_name;
pub use repo::without_userinfo;
pub use substitute::{Substitution, substitute_from};

use crate::app::argo::{BuildEnv, RenderConfig};
use crate::app::{Application, VerifyMode};
use crate::diff::ignore::{Ignore, IgnoreError};
use crate::object;
use crate::render::{RenderError, RenderSpec, Rendered, RendererRef, Renderers};
use crate::source::git::{LogProgress, ProgressSink, verify};
use crate::source::{self, DirTree, Options, SourceError, SourceSpec, Tree, TreeError};
use crate::sync::SyncOptions;
use crate::target::destination::{self, DestinationError};
use repo::RepoKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// An app as the user gave it: an Application file, flags, or both. Each
/// `Some` field (and each parameter) overrides the file's.
#[derive(Debug, Clone, Default)]
pub struct AppDef {
    /// The Application file and its contents. Its directory is the base of
    /// relative local `repoURL`s and the root they must stay inside.
    pub file: Option<(PathBuf, Application)>,
    /// The app's name (`--name`).
    pub name: Option<String>,
    /// The repository (`--repo`): a Git URL or a local directory, relative
    /// to the working directory.
    pub repo: Option<String>,
    /// The revision (`--revision`); `HEAD` for Git when unset anywhere.
    pub revision: Option<String>,
    /// The app's directory inside the repository (`--path`).
    pub path: Option<String>,
    /// A built-in renderer name or a `.wasm` file (`--renderer`).
    pub renderer: Option<String>,
    /// The required sha256 of a renderer file.
    pub renderer_sha256: Option<String>,
    /// `key=value` parameters, after (so overriding) the file's.
    pub params: Vec<(String, String)>,
    /// Structured parameters as JSON text; replaces the file's structured
    /// parameters when set.
    pub params_json: Option<String>,
    /// The destination namespace (`--dest-namespace`).
    pub namespace: Option<String>,
    /// The kubeconfig context (`--dest-context`), over `destination.name`.
    pub context: Option<String>,
    /// `dir:PATH`: a directory standing for a cluster (`--target`).
    pub target: Option<String>,
    /// The trusted keys of a Flux `GitRepository.spec.verify.secretRef`,
    /// when the caller has read the Secret (`sluice serve`, from its home
    /// cluster; see [`flux_keys`]). `None`: the engine reads the Secret
    /// from the app's destination.
    pub verify_keys: Option<verify::Keyring>,
}

impl AppDef {
    /// A definition from an Application file, no overrides.
    pub fn from_file(file: &Path) -> Result<AppDef, crate::app::AppError> {
        let app = crate::app::load(file)?;
        Ok(AppDef {
            file: Some((file.to_path_buf(), app)),
            ..AppDef::default()
        })
    }
}

/// Host settings that apply to every app.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to fetch Git sources.
    pub git: Options,
    /// The kubeconfig (`None`: `KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Directories local repositories may lie in besides the app's own
    /// (`--allow-local-repo`, `SLUICE_ALLOW_LOCAL_REPO`); relative ones
    /// are taken from [`Settings::working_dir`].
    pub allow_local_repos: Vec<PathBuf>,
    /// The base of flag paths, and the root flag repositories must lie in.
    pub working_dir: PathBuf,
    /// Clusters known besides the kubeconfig (the service's Argo CD
    /// cluster Secrets), asked before it.
    pub clusters: Option<std::sync::Arc<dyn destination::Directory>>,
}

impl Settings {
    /// Settings with `git`, the current directory, and nothing else.
    pub fn new(git: Options) -> std::io::Result<Settings> {
        Ok(Settings {
            git,
            kubeconfig: None,
            allow_local_repos: Vec::new(),
            working_dir: std::env::current_dir()?,
            clusters: None,
        })
    }
}

/// Where an app is synced to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory standing for a cluster.
    Dir(PathBuf),
    /// A cluster, checked against the kubeconfig.
    Cluster(destination::Cluster),
}

/// An app's source, resolved.
#[derive(Clone)]
pub struct ResolvedSource {
    /// The files.
    pub tree: Arc<dyn Tree>,
    /// The commit id; empty for a local directory.
    pub commit: String,
    /// The repository without userinfo (as written, for a directory).
    pub url: String,
    /// The revision as asked for.
    pub revision: String,
    /// The ref the commit came from, if any.
    pub ref_name: Option<String>,
    /// Whether objects were fetched.
    pub fetched: bool,
}

impl std::fmt::Debug for ResolvedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSource")
            .field("tree", &self.tree.describe())
            .field("commit", &self.commit)
            .field("url", &self.url)
            .field("revision", &self.revision)
            .field("ref_name", &self.ref_name)
            .field("fetched", &self.fetched)
            .finish()
    }
}

/// An app ready to render and sync.
#[derive(Debug)]
pub struct App {
    /// Its name (names the inventory and every message).
    pub name: String,
    /// Its source.
    pub source: ResolvedSource,
    /// What to render (the plugin context included).
    pub render: RenderSpec,
    /// Sync options from the definition (name, namespace, the
    /// Application's `CreateNamespace`, `prune`, `allowEmpty`); the caller
    /// adds its own (dry-run, watcher, ...).
    pub sync: SyncOptions,
    /// Where it goes.
    pub destination: Destination,
    /// Flux's post-build variables, if the app has any.
    pub substitution: Option<Substitution>,
    /// The other sources of a multi-source Application, each with what to
    /// render from it; their objects are synced with the first source's.
    pub extra: Vec<(ResolvedSource, RenderSpec)>,
    /// The Targets the Application lists (`spec.targets`).
    pub targets: Vec<String>,
}

impl App {
    /// Render the app's desired objects with `renderers`, then substitute
    /// Flux's inline post-build variables when the app has them and no
    /// `substituteFrom` (see [`substitute_from`] for those).
    pub fn render(&self, renderers: &Renderers) -> Result<Rendered, RenderError> {
        let mut r = renderers.render(self.source.tree.clone(), &self.render)?;
        for (source, spec) in &self.extra {
            let more = renderers.render(source.tree.clone(), spec)?;
            r.objects.extend(more.objects);
            r.results.extend(more.results);
            if !r.renderer.split(", ").any(|x| x == more.renderer) {
                r.renderer = format!("{}, {}", r.renderer, more.renderer);
            }
        }
        if !self.extra.is_empty() {
            object::check_unique(&r.objects).map_err(|source| RenderError::BadObject {
                app: self.name.clone(),
                renderer: r.renderer.clone(),
                source,
            })?;
        }
        if let Some(s) = self.substitution.as_ref().filter(|s| s.from.is_empty()) {
            s.apply(&mut r.objects, &s.vars)
                .map_err(|message| RenderError::Substitute {
                    app: self.name.clone(),
                    message,
                })?;
        }
        Ok(r)
    }

    /// The substitution still to do once the target is connected: Flux's
    /// `substituteFrom` (see [`substitute_from`]).
    pub fn pending_substitution(&self) -> Option<&Substitution> {
        self.substitution.as_ref().filter(|s| !s.from.is_empty())
    }
}

/// The error returned by [`resolve`]. Every variant names the app.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `--target` is not `dir:PATH`.
    #[error(
        "app {app}: --target {target:?} is not dir:PATH; use --target dir:PATH for a directory, or leave it out to sync to a kubeconfig context"
    )]
    Target {
        /// The app.
        app: String,
        /// What was given.
        target: String,
    },
    /// The destination names a cluster the kubeconfig cannot reach as
    /// named; nothing was sent to any server.
    #[error("app {app}: refusing its destination (nothing was sent to any cluster)")]
    Destination {
        /// The app.
        app: String,
        /// What is wrong.
        #[source]
        source: Box<DestinationError>,
    },
    /// A local repository lies outside the allowed roots.
    #[error(
        "app {app}: local repository {repo} resolves to {}, outside {}; a local repoURL must lie inside the Application file's directory (the working directory for --repo); to allow it, pass --allow-local-repo {} or set SLUICE_ALLOW_LOCAL_REPO={}",
        resolved.display(), base.display(), resolved.display(), resolved.display()
    )]
    LocalRepoOutside {
        /// The app.
        app: String,
        /// The repository as written.
        repo: String,
        /// Where it leads, symlinks resolved.
        resolved: PathBuf,
        /// The root it had to lie in.
        base: PathBuf,
    },
    /// A local repository cannot be opened.
    #[error("app {app}: cannot open local repository {repo} (from {}); check spec.source.repoURL or --repo", base.display())]
    LocalRepo {
        /// The app.
        app: String,
        /// The repository as written.
        repo: String,
        /// The directory it is relative to.
        base: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A local directory cannot be served as a tree.
    #[error("app {app}: cannot read directory {}", dir.display())]
    Dir {
        /// The app.
        app: String,
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: TreeError,
    },
    /// `spec.source.verify` refused the revision's signatures (or its keys
    /// file); nothing from that revision was rendered, applied or pruned.
    #[error(
        "app {app}: refusing its source: signature verification failed (nothing was rendered, applied or pruned)"
    )]
    Verify {
        /// The app.
        app: String,
        /// What was wrong (names the commit or tag, or the keys file).
        #[source]
        source: Box<source::git::verify::VerifyError>,
    },
    /// Flux `GitRepository.spec.verify.secretRef`: the Secret with the
    /// trusted keys is missing or cannot be read; nothing was rendered,
    /// applied or pruned.
    #[error(
        "app {app}: refusing its source: GitRepository verify.secretRef {namespace}/{secret}: {message}; nothing was rendered, applied or pruned"
    )]
    VerifySecret {
        /// The app.
        app: String,
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        secret: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// `spec.source.verify` is set but the source is a plain directory,
    /// which has no signatures.
    #[error(
        "app {app}: spec.source.verify requires a Git repository, but {repo} is a plain directory; remove verify or point repoURL at a Git repository"
    )]
    VerifyNeedsGit {
        /// The app.
        app: String,
        /// The repository as written.
        repo: String,
    },
    /// An Argo CD source field has a value sluice cannot use.
    #[error("app {app}: {message}; fix the Application's spec.source")]
    ArgoSource {
        /// The app.
        app: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// An `ignoreDifferences` entry cannot be used.
    #[error("app {app}: spec.ignoreDifferences cannot be used")]
    IgnoreDifferences {
        /// The app.
        app: String,
        /// What is wrong.
        #[source]
        source: IgnoreError,
    },
    /// Flux's post-build variable substitution failed.
    #[error("app {app}: postBuild variable substitution failed: {message}")]
    Substitute {
        /// The app.
        app: String,
        /// What went wrong, naming the object.
        message: String,
    },
    /// A `substituteFrom` ConfigMap or Secret could not be used.
    #[error("app {app}: postBuild.substituteFrom {what}: {message}; nothing was applied")]
    SubstituteFrom {
        /// The app.
        app: String,
        /// `Kind/name in namespace ns`.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// The Git source could not be resolved.
    #[error("app {app}: cannot resolve its source")]
    Source {
        /// The app.
        app: String,
        /// What went wrong (names the URL and revision).
        #[source]
        source: Box<SourceError>,
    },
}

/// Turn `def` into an [`App`]: name, destination (checked), source
/// (resolved, Git fetched when needed), render spec and sync options.
/// Blocks on Git: call it from `spawn_blocking` in async code. Git progress
/// goes to the log; not cancellable (see [`resolve_with`]).
pub fn resolve(def: &AppDef, settings: &Settings) -> Result<App, EngineError> {
    resolve_with(def, settings, &LogProgress, &AtomicBool::new(false))
}

/// [`resolve`] with an explicit Git progress sink and an interrupt flag
/// (set it from another thread to cancel a fetch; the cache stays usable).
pub fn resolve_with(
    def: &AppDef,
    settings: &Settings,
    progress: &dyn ProgressSink,
    interrupt: &AtomicBool,
) -> Result<App, EngineError> {
    resolve_inner(def, settings, &|spec| {
        source::resolve_with(spec, &settings.git, progress, interrupt)
    })
}

/// [`resolve_with`] for the service: a Git source resolution that started
/// at or after `fresh_since` for the same repository and revision is
/// reused from `memo` instead of listing and fetching again, so many apps
/// on one repository share one fetch per refresh.
pub fn resolve_shared(
    def: &AppDef,
    settings: &Settings,
    memo: &source::Memo,
    fresh_since: std::time::Instant,
    interrupt: &AtomicBool,
) -> Result<App, EngineError> {
    resolve_inner(def, settings, &|spec| {
        memo.resolve_with(spec, &settings.git, &LogProgress, interrupt, fresh_since)
    })
}

/// How the Git step is done: directly, or through a [`source::Memo`].
type GitFn<'a> = dyn Fn(&SourceSpec) -> Result<source::Resolved, SourceError> + 'a;

fn resolve_inner(def: &AppDef, settings: &Settings, git: &GitFn<'_>) -> Result<App, EngineError> {
    let file = def.file.as_ref().map(|(_, a)| a);
    let explicit_name = def
        .name
        .clone()
        .or_else(|| file.map(|a| a.metadata.name.clone()));
    let (repo, base) = match (&def.repo, &def.file) {
        (Some(r), _) => (r.clone(), settings.working_dir.clone()),
        (None, Some((path, a))) => (a.spec.source.repo_url.clone(), file_dir(path, settings)),
        (None, None) => (".".to_string(), settings.working_dir.clone()),
    };
    let base = base.canonicalize().unwrap_or(base);
    let path = def
        .path
        .clone()
        .or_else(|| file.map(|a| a.spec.source.path.clone()))
        .unwrap_or_default();
    let norm_path = source::normalize(&path).unwrap_or_else(|| path.clone());
    let revision = def
        .revision
        .clone()
        .or_else(|| file.and_then(|a| a.spec.source.target_revision.clone()));

    // Local repositories first: their canonical path is part of the name.
    let kind = repo::classify(&repo);
    let local = confine_local(&kind, &repo, &base, settings, || {
        explicit_name
            .clone()
            .unwrap_or_else(|| default_name(&repo, &norm_path))
    })?;
    let name = explicit_name.unwrap_or_else(|| {
        let key = match &local {
            Some(canon) => format!("file://{}", canon.display()),
            None => source::git::url::RepoUrl::parse(&repo)
                .map(|u| u.normalized().to_string())
                .unwrap_or_else(|_| without_userinfo(&repo)),
        };
        default_name(&key, &norm_path)
    });

    // The destination before any fetch: a wrong one fails fast.
    let destination = match &def.target {
        Some(t) => match t.strip_prefix("dir:").filter(|p| !p.is_empty()) {
            Some(p) => Destination::Dir(settings.working_dir.join(p)),
            None => {
                return Err(EngineError::Target {
                    app: name,
                    target: t.clone(),
                });
            }
        },
        None => {
            let context = def
                .context
                .as_deref()
                .or_else(|| file.and_then(|a| a.spec.destination.name.as_deref()));
            let server = file.and_then(|a| a.spec.destination.server.as_deref());
            let known = settings
                .clusters
                .as_ref()
                .and_then(|d| d.lookup(context, server));
            Destination::Cluster(
                known
                    .unwrap_or_else(|| {
                        destination::resolve(settings.kubeconfig.as_deref(), context, server)
                    })
                    .map_err(|source| EngineError::Destination {
                        app: name.clone(),
                        source: Box::new(source),
                    })?,
            )
        }
    };

    // Signatures required: the keys file (or a Flux GitRepository's
    // Secret) is read before any fetch, so a wrong path fails fast.
    enum KeysFrom<'a> {
        File(PathBuf),
        Secret(&'a crate::app::flux::FluxVerify),
    }
    let wanted = match (file.and_then(|a| a.spec.source.verify.as_ref()), &def.file) {
        (Some(v), Some((path, _))) => Some((
            v.mode,
            KeysFrom::File(file_dir(path, settings).join(&v.keys_file)),
        )),
        _ => file
            .and_then(|a| a.flux.as_ref())
            .and_then(|f| f.verify.as_ref())
            .map(|v| (v.mode, KeysFrom::Secret(v))),
    };
    let verify = match wanted {
        Some((mode, keys_from)) => {
            if matches!(kind, RepoKind::Dir(_)) {
                return Err(EngineError::VerifyNeedsGit {
                    app: name,
                    repo: repo.clone(),
                });
            }
            let keys = match (keys_from, &def.verify_keys) {
                (KeysFrom::File(keys_file), _) => {
                    verify::Keyring::from_file(&keys_file).map_err(|e| EngineError::Verify {
                        app: name.clone(),
                        source: Box::new(e),
                    })?
                }
                (KeysFrom::Secret(_), Some(keys)) => keys.clone(),
                (KeysFrom::Secret(v), None) => flux_keys::from_destination(&name, v, &destination)?,
            };
            let mode = match mode {
                VerifyMode::Head => verify::Mode::Head,
                VerifyMode::Tag => verify::Mode::Tag,
                VerifyMode::TagAndHead => verify::Mode::TagAndHead,
            };
            Some(verify::Policy { mode, keys })
        }
        None => None,
    };
    let fetched = Fetch {
        name: &name,
        git,
        verify: verify.as_ref(),
        recurse_submodules: file.is_some_and(|a| a.spec.source.recurse_submodules),
    };
    let source = fetched.source(&repo, revision.as_ref(), kind, local)?;

    let namespace = def
        .namespace
        .clone()
        .or_else(|| file.and_then(|a| a.spec.destination.namespace.clone()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let render = render_spec(def, file, &name, path, &namespace, &source)?;
    // The other rendering sources of a multi-source Application.
    let mut extra = Vec::new();
    if let Some((file_path, a)) = &def.file {
        let base = file_dir(file_path, settings);
        let base = base.canonicalize().unwrap_or(base);
        for src in a.extra_sources() {
            let resolved = extra_source(&name, src, &base, settings, git)?;
            let spec = extra_render_spec(a, src, &name, &namespace, &resolved)?;
            extra.push((resolved, spec));
        }
    }
    let mut sync = SyncOptions::new(&name, &namespace);
    if let Some(a) = file {
        sync.create_namespace = a.create_namespace();
        sync.prune = a.prune();
        sync.allow_empty = a.allow_empty();
        sync.ignore = Ignore::from_argo(&a.spec.ignore_differences).map_err(|source| {
            EngineError::IgnoreDifferences {
                app: name.clone(),
                source,
            }
        })?;
        sync.namespace_metadata = a
            .spec
            .sync_policy
            .managed_namespace_metadata
            .as_ref()
            .map(|m| {
                (
                    serde_json::json!(m.labels),
                    serde_json::json!(m.annotations),
                )
            });
        // Flux's `wait: true`; a directory has no health to wait for.
        if a.flux.as_ref().is_some_and(|f| f.wait) && matches!(destination, Destination::Cluster(_))
        {
            sync.wait = true;
        }
        if let Some(p) = a
            .sync_option_value("PrunePropagationPolicy")
            .and_then(crate::target::Propagation::parse)
        {
            sync.propagation = p;
        }
        for w in a.warnings() {
            tracing::warn!("{w}");
        }
    }
    let substitution = file.and_then(|a| a.flux.as_ref()).and_then(|f| {
        (!f.substitute.is_empty() || !f.substitute_from.is_empty()).then(|| Substitution {
            app: name.clone(),
            vars: f.substitute.clone(),
            from: f.substitute_from.clone(),
            namespace: f.namespace.clone(),
        })
    });
    let targets = file.map(|a| a.spec.targets.clone()).unwrap_or_default();
    Ok(App {
        name,
        source,
        render,
        sync,
        destination,
        substitution,
        extra,
        targets,
    })
}

/// How the sources of one app are fetched.
struct Fetch<'a> {
    name: &'a str,
    git: &'a GitFn<'a>,
    verify: Option<&'a verify::Policy>,
    recurse_submodules: bool,
}

impl Fetch<'_> {
    /// Serve a local directory as a tree, or resolve (fetch) a Git source
    /// and check its signatures when asked to.
    fn source(
        &self,
        repo: &str,
        revision: Option<&String>,
        kind: RepoKind,
        local: Option<PathBuf>,
    ) -> Result<ResolvedSource, EngineError> {
        let name = self.name.to_string();
        let revision = revision.cloned();
        Ok(match (kind, local) {
            (RepoKind::Dir(_), Some(dir)) => {
                let tree = DirTree::new(&dir).map_err(|source| EngineError::Dir {
                    app: name.clone(),
                    dir: dir.clone(),
                    source,
                })?;
                ResolvedSource {
                    tree: Arc::new(tree),
                    commit: String::new(),
                    url: without_userinfo(repo),
                    revision: revision.clone().unwrap_or_default(),
                    ref_name: None,
                    fetched: false,
                }
            }
            (kind, local) => {
                let spec = SourceSpec {
                    repo: match (&kind, &local) {
                        (RepoKind::LocalGit(_), Some(canon)) => {
                            format!("file://{}", canon.display())
                        }
                        _ => repo.to_string(),
                    },
                    revision: revision.clone().unwrap_or_else(|| "HEAD".into()),
                    recurse_submodules: self.recurse_submodules,
                };
                let r = (self.git)(&spec).map_err(|source| EngineError::Source {
                    app: name.clone(),
                    source: Box::new(source),
                })?;
                if let Some(policy) = self.verify {
                    let signers = verify::check(&r, policy).map_err(|e| EngineError::Verify {
                        app: name.clone(),
                        source: Box::new(e),
                    })?;
                    tracing::info!(app = %name, commit = %r.commit, ?signers, "source signatures verified");
                }
                ResolvedSource {
                    tree: r.tree,
                    commit: r.commit,
                    url: without_userinfo(repo),
                    revision: r.revision,
                    ref_name: r.ref_name,
                    fetched: r.fetched,
                }
            }
        })
    }
}

/// A local repository's canonical path, when it lies inside `base` or an
/// allowed root (`None` for a remote one); `app` names the app in errors.
fn confine_local(
    kind: &RepoKind,
    repo: &str,
    base: &Path,
    settings: &Settings,
    app: impl Fn() -> String,
) -> Result<Option<PathBuf>, EngineError> {
    let (RepoKind::Dir(p) | RepoKind::LocalGit(p)) = kind else {
        return Ok(None);
    };
    let allowed: Vec<PathBuf> = settings
        .allow_local_repos
        .iter()
        .map(|r| settings.working_dir.join(r))
        .collect();
    match local::confine(p, base, &allowed) {
        Ok(canon) => Ok(Some(canon)),
        Err(local::Refusal::Open(source)) => Err(EngineError::LocalRepo {
            app: app(),
            repo: repo.to_string(),
            base: base.to_path_buf(),
            source,
        }),
        Err(local::Refusal::Outside { resolved }) => Err(EngineError::LocalRepoOutside {
            app: app(),
            repo: repo.to_string(),
            resolved,
            base: base.to_path_buf(),
        }),
    }
}

/// Resolve one more source of a multi-source Application (local ones
/// confined like the first).
fn extra_source(
    name: &str,
    src: &crate::app::Source,
    base: &Path,
    settings: &Settings,
    git: &GitFn<'_>,
) -> Result<ResolvedSource, EngineError> {
    let repo = src.repo_url.clone();
    let kind = repo::classify(&repo);
    let local = confine_local(&kind, &repo, base, settings, || name.to_string())?;
    // Signatures are checked on the app's first source only.
    Fetch {
        name,
        git,
        verify: None,
        recurse_submodules: src.recurse_submodules,
    }
    .source(&repo, src.target_revision.as_ref(), kind, local)
}

/// The directory of an Application file (the working directory for a bare
/// file name).
fn file_dir(file: &Path, settings: &Settings) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new(""));
    settings.working_dir.join(parent)
}

/// What to render from one more source of a multi-source Application:
/// the renderer its Argo CD fields imply (else detected) and their
/// parameters.
fn extra_render_spec(
    a: &Application,
    src: &crate::app::Source,
    name: &str,
    namespace: &str,
    source: &ResolvedSource,
) -> Result<RenderSpec, EngineError> {
    let path = src.path.clone();
    let env = BuildEnv {
        app_name: name.to_string(),
        namespace: namespace.to_string(),
        project: a.spec.project.clone().unwrap_or_default(),
        revision: source.commit.clone(),
        path: path.clone(),
        repo_url: source.url.clone(),
        target_revision: src.target_revision.clone().unwrap_or_default(),
    };
    let c = src
        .render_config(&env)
        .map_err(|message| EngineError::ArgoSource {
            app: name.to_string(),
            message,
        })?;
    Ok(RenderSpec {
        app: name.to_string(),
        path,
        renderer: c
            .renderer
            .map_or(RendererRef::Auto, |r| RendererRef::parse(&r, None)),
        params: c.params,
        params_json: (!c.structured.is_empty())
            .then(|| serde_json::Value::Object(c.structured).to_string()),
        namespace: namespace.to_string(),
        revision: source.commit.clone(),
        repo_url: source.url.clone(),
    })
}

/// What to render: the renderer named by a flag, else `spec.renderer`,
/// else the one the Argo CD source fields imply (see `app::argo`), else
/// detected. Parameters from the Argo CD fields come first, then
/// `spec.renderer.params`, then flags (a later value of a name wins).
fn render_spec(
    def: &AppDef,
    file: Option<&Application>,
    name: &str,
    path: String,
    namespace: &str,
    source: &ResolvedSource,
) -> Result<RenderSpec, EngineError> {
    let argo = match file {
        Some(a) => {
            let env = BuildEnv {
                app_name: name.to_string(),
                namespace: namespace.to_string(),
                project: a.spec.project.clone().unwrap_or_default(),
                revision: source.commit.clone(),
                path: path.clone(),
                repo_url: source.url.clone(),
                target_revision: a.spec.source.target_revision.clone().unwrap_or_default(),
            };
            a.spec
                .source
                .render_config(&env)
                .map_err(|message| EngineError::ArgoSource {
                    app: name.to_string(),
                    message,
                })?
        }
        None => RenderConfig::default(),
    };
    let file_renderer = file.and_then(|a| a.spec.renderer.as_ref());
    let renderer = match (&def.renderer, file_renderer, &argo.renderer) {
        (Some(r), _, _) => RendererRef::parse(r, def.renderer_sha256.clone()),
        (None, Some(r), _) => RendererRef::parse(&r.name, r.sha256.clone()),
        (None, None, Some(r)) => RendererRef::parse(r, None),
        (None, None, None) => RendererRef::Auto,
    };
    let mut params = argo.params;
    let mut structured = argo.structured;
    for (k, v) in file_renderer.iter().flat_map(|r| r.params.iter()) {
        match v {
            serde_json::Value::String(s) => params.push((k.clone(), s.clone())),
            other => {
                structured.insert(k.clone(), other.clone());
            }
        }
    }
    params.extend(def.params.iter().cloned());
    let params_json = def.params_json.clone().or_else(|| {
        (!structured.is_empty()).then(|| serde_json::Value::Object(structured).to_string())
    });
    Ok(RenderSpec {
        app: name.to_string(),
        path,
        renderer,
        params,
        params_json,
        namespace: namespace.to_string(),
        revision: source.commit.clone(),
        repo_url: source.url.clone(),
    })
}

#[cfg(test)]
mod tests;
