//! `sluice serve`: the sync service; `sluice crd`: print the Application
//! CustomResourceDefinition.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, Global};
use anyhow::Context as _;
use sluice::serve::status::{AppStatus, SyncStatus};
use sluice::serve::webhook::Secrets;
use sluice::serve::{Config, Service};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `sluice serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A directory of Application files (sluice.dev/v1alpha1 or
    /// argoproj.io/v1alpha1), watched: adding, changing or deleting a file
    /// adds, changes or removes the app.
    #[arg(long, value_name = "DIR")]
    pub apps: Option<PathBuf>,
    /// Also keep Application resources (sluice.dev and argoproj.io) in the
    /// cluster in sync: in these namespaces (comma-separated), or in every
    /// namespace when given without a value. Install the CRD with
    /// `sluice crd | kubectl apply -f -`.
    #[arg(long, value_name = "NS,...", num_args = 0..=1, default_missing_value = "", value_delimiter = ',')]
    pub in_cluster_apps: Option<Vec<String>>,
    /// The service's namespace: Argo CD cluster Secrets there
    /// (`argocd.argoproj.io/secret-type: cluster`) are destinations
    /// [default: the namespace sluice runs in, inside a cluster; none
    /// outside].
    #[arg(long, env = "SLUICE_NAMESPACE", value_name = "NS")]
    pub namespace: Option<String>,
    /// Where health, readiness, webhooks and the status API listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// API tokens: one `read TOKEN` or `write TOKEN` per line (mode 600).
    /// Without it the API's read routes are open and its write routes
    /// refused.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Let anyone read the API and the dashboard without a token (writes
    /// still need a write token).
    #[arg(long)]
    pub anonymous_read: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Also serve /metrics, /healthz and /readyz (plain HTTP, no token) on
    /// this address; /metrics then leaves --listen.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Notifications: YAML `webhooks: [{url, format: slack|generic,
    /// events: [sync-succeeded, sync-failed, health-degraded,
    /// health-recovered]}]`.
    #[arg(long, value_name = "FILE")]
    pub notifications: Option<PathBuf>,
    /// How often every app's repository is polled (jittered by up to a
    /// tenth).
    #[arg(long, default_value = "3m", value_parser = super::parse_duration)]
    pub refresh_interval: Duration,
    /// Where app status and history are kept [default: the user's state
    /// directory, sluice/serve].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Operations at once.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Operations at once on one cluster.
    #[arg(long, default_value_t = 4)]
    pub cluster_concurrency: usize,
    /// Objects applied at once within one sync.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Webhook secrets: YAML mapping github, gitlab, gitea, gogs,
    /// bitbucketserver, generic to a secret or a list of secrets.
    #[arg(long, value_name = "FILE")]
    pub webhook_secrets: Option<PathBuf>,
    /// Largest webhook body accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_webhook_body: usize,
    /// The deadline for all waiting in one sync (waves, hooks).
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    pub sync_timeout: Duration,
    /// A directory of Target declarations (kind Target): apps that list
    /// targets in spec.targets sync their objects of those kinds through
    /// the targets' plugins.
    #[arg(long, value_name = "DIR")]
    pub targets: Option<PathBuf>,
    /// Also read Target resources (sluice.dev/v1alpha1, `sluice crd`) in
    /// the service's namespace (--namespace).
    #[arg(long)]
    pub in_cluster_targets: bool,
    /// How often the objects of apps with targets are read back to find
    /// drift (target plugins cannot be watched).
    #[arg(long, default_value = "1m", value_parser = super::parse_duration)]
    pub target_poll_interval: Duration,
    /// How long SIGTERM/SIGINT waits for operations in flight.
    #[arg(long, default_value = "30s", value_parser = super::parse_duration)]
    pub grace_period: Duration,
    /// Reconcile every app once, print a summary and exit (0: every app
    /// Synced; 1: not).
    #[arg(long)]
    pub once: bool,
    /// Output of --once: table or json.
    #[arg(short, long, value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
    /// How Git sources are fetched (--repo and --revision do not apply).
    #[command(flatten)]
    pub git: super::source::GitArgs,
    /// The kubeconfig file (default: KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Allow local repositories under DIR besides each Application file's
    /// directory; repeatable.
    #[arg(
        long,
        value_name = "DIR",
        env = "SLUICE_ALLOW_LOCAL_REPO",
        value_delimiter = ':'
    )]
    pub allow_local_repo: Vec<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("sluice/serve")
}

/// Run `sluice serve`.
pub fn run(args: Args, global: &Global) -> anyhow::Result<i32> {
    if args.git.repo.is_some() || args.git.revision.is_some() {
        eprintln!(
            "error: sluice serve takes its apps from --apps DIR; --repo and --revision are for sync, diff and render"
        );
        return Ok(EXIT_USAGE);
    }
    if args.apps.is_none() && args.in_cluster_apps.is_none() {
        eprintln!(
            "error: sluice serve needs apps: pass --apps DIR (a directory of Application files) and/or --in-cluster-apps"
        );
        return Ok(EXIT_USAGE);
    }
    if args.once && args.in_cluster_apps.is_some() {
        eprintln!(
            "error: --once reconciles the apps of --apps; Application resources (--in-cluster-apps) are kept in sync by the long-running service only"
        );
        return Ok(EXIT_USAGE);
    }
    let secrets = match &args.webhook_secrets {
        Some(f) => match Secrets::load(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", sluice::error_chain(&e));
                return Ok(EXIT_USAGE);
            }
        },
        None => Secrets::default(),
    };
    let settings =
        super::sync::settings(&args.git, args.kubeconfig.clone(), &args.allow_local_repo)?;
    let config = Config {
        apps_dir: args.apps.clone(),
        state_dir: args.state_dir.clone().unwrap_or_else(default_state_dir),
        refresh_interval: args.refresh_interval,
        workers: args.workers.max(1),
        cluster_concurrency: args.cluster_concurrency.max(1),
        webhook_secrets: secrets,
        max_webhook_body: args.max_webhook_body,
        apps_scan_interval: Duration::from_secs(1),
        sync_timeout: args.sync_timeout,
        object_concurrency: args.concurrency.max(1),
        in_cluster_apps: args
            .in_cluster_apps
            .clone()
            .map(|v| v.into_iter().filter(|n| !n.is_empty()).collect()),
        namespace: args.namespace.clone().or_else(pod_namespace),
        targets_dir: args.targets.clone(),
        in_cluster_targets: args.in_cluster_targets.then(|| {
            args.namespace
                .clone()
                .or_else(pod_namespace)
                .unwrap_or_else(|| "default".to_string())
        }),
        target_poll_interval: args.target_poll_interval.max(Duration::from_secs(1)),
        settings,
    };
    let tokens = match &args.tokens {
        Some(f) => match sluice::serve::auth::Tokens::load(f) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {}", sluice::error_chain(&e));
                return Ok(EXIT_USAGE);
            }
        },
        None => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match sluice::serve::tls::server_config(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("error: {}", sluice::error_chain(&e));
                return Ok(EXIT_USAGE);
            }
        },
        _ => None,
    };
    let notifications = match &args.notifications {
        Some(f) => match sluice::serve::notify::Notifications::load(f) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {}", sluice::error_chain(&e));
                return Ok(EXIT_USAGE);
            }
        },
        None => Default::default(),
    };
    let api = sluice::serve::api::ApiOptions {
        tokens,
        anonymous_read: args.anonymous_read,
        ..Default::default()
    };
    let renderers = global.renderers()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let svc = match Service::start(config, renderers, !args.once).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", sluice::error_chain(&e));
                return Ok(EXIT_USAGE);
            }
        };
        if !args.once {
            sluice::serve::notify::spawn(&svc, notifications);
        }
        if args.once {
            svc.idle().await;
            svc.shutdown(args.grace_period).await;
            return summary(&svc, &args.output);
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}; pick another --listen", args.listen))?;
        if api.tokens.is_none() {
            eprintln!(
                "sluice serve: no --tokens: the API's read routes are open and its write routes refused"
            );
        }
        let router =
            sluice::serve::http::router_with(svc.clone(), api, args.metrics_listen.is_none());
        if let Some(addr) = args.metrics_listen {
            let l = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr}; pick another --metrics-listen")
            })?;
            eprintln!("sluice serve: metrics on http://{addr}/metrics");
            let ops = sluice::serve::http::ops_router(svc.clone());
            tokio::spawn(async move { axum::serve(l, ops).await });
        }
        let stop = svc.clone();
        let grace = args.grace_period;
        let shutdown = async move {
            signal().await;
            eprintln!(
                "sluice serve: shutting down (grace period {}s)",
                grace.as_secs()
            );
            if !stop.shutdown(grace).await {
                eprintln!("sluice serve: operations still running after the grace period were cut");
            }
        };
        match tls {
            Some(config) => {
                eprintln!("sluice serve: listening on https://{}", args.listen);
                let tls = sluice::serve::tls::TlsListener::new(listener, config)
                    .context("cannot start the TLS listener")?;
                axum::serve(tls, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .context("the HTTPS server failed")?;
            }
            None => {
                eprintln!("sluice serve: listening on http://{}", args.listen);
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .context("the HTTP server failed")?;
            }
        }
        anyhow::Ok(EXIT_OK)
    })
}

/// SIGTERM or SIGINT.
async fn signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Print every app's status after `--once`; exit 0 when all are Synced.
fn summary(svc: &Service, output: &str) -> anyhow::Result<i32> {
    let statuses = svc.statuses();
    let mut out = std::io::stdout().lock();
    if output == "json" {
        serde_json::to_writer_pretty(&mut out, &statuses)?;
        writeln!(out)?;
    } else {
        let rows: Vec<[String; 5]> = statuses
            .iter()
            .map(|(name, s)| {
                [
                    name.clone(),
                    format!("{:?}", s.sync),
                    s.health.clone(),
                    s.revision.chars().take(12).collect(),
                    message(s),
                ]
            })
            .collect();
        let head = ["NAME", "SYNC", "HEALTH", "REVISION", "MESSAGE"].map(String::from);
        let mut width = head.clone().map(|h| h.len());
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.len());
            }
        }
        for r in std::iter::once(&head).chain(&rows) {
            writeln!(
                out,
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3]
            )?;
        }
        let synced = statuses
            .values()
            .filter(|s| s.sync == SyncStatus::Synced)
            .count();
        writeln!(out, "{synced} of {} apps Synced", statuses.len())?;
    }
    let all = statuses
        .values()
        .all(|s| s.sync == SyncStatus::Synced && s.conditions.is_empty());
    Ok(if all { EXIT_OK } else { EXIT_FAILED })
}

fn message(s: &AppStatus) -> String {
    s.conditions
        .iter()
        .map(|c| format!("{}: {}", c.kind, c.message))
        .next()
        .or_else(|| s.operation.as_ref().map(|o| o.message.clone()))
        .unwrap_or_default()
}

/// Run `sluice crd`: print the sluice.dev Application and Target CRDs as
/// YAML documents.
pub fn crd() -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(serde_norway::to_string(&sluice::serve::crd::application_crd())?.as_bytes())?;
    out.write_all(b"---\n")?;
    out.write_all(serde_norway::to_string(&sluice::serve::crd::target_crd())?.as_bytes())?;
    Ok(EXIT_OK)
}

/// The namespace of the pod sluice runs in, when it runs in one.
fn pod_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
