//! Which cluster an app goes to: an Application's `destination`, checked
//! against the kubeconfig before any request is sent.
//!
//! The rules, in Argo CD's words where they exist:
//! - `destination.name` selects a kubeconfig context (Argo CD: a cluster
//!   by name). A name the kubeconfig does not have is an error that lists
//!   the contexts it has.
//! - `destination.server` must be the API server of the chosen context
//!   (the named one, or else the current one). Anything else is refused,
//!   naming both URLs: sluice never applies to a cluster the Application
//!   does not name, so an Application written for another cluster cannot
//!   land on whatever the current context happens to be.
//! - [`IN_CLUSTER`] (`https://kubernetes.default.svc`) means "the cluster
//!   sluice runs in": the in-cluster configuration when there is no
//!   kubeconfig, the current (or named) context otherwise.
//! - With neither set, the current context is used (or the in-cluster
//!   configuration), as `kubectl` does.
//!
//! URLs are compared after normalising: scheme and host in lowercase, the
//! default port (`:443`, `:80`) and trailing `/` dropped.
//!
//! ```
//! use kube::config::Kubeconfig;
//! use sluice::target::destination::{check, DestinationError};
//! let kc = Kubeconfig::from_yaml(r#"
//! clusters: [{name: prod, cluster: {server: "https://prod.example:6443"}}]
//! contexts: [{name: prod, context: {cluster: prod}}]
//! current-context: prod
//! "#).unwrap();
//! let c = check(&kc, Some("prod"), Some("https://prod.example:6443/")).unwrap();
//! assert_eq!(c.context.as_deref(), Some("prod"));
//! let e = check(&kc, None, Some("https://staging.example")).unwrap_err();
//! assert!(matches!(e, DestinationError::ServerMismatch { .. }));
//! ```

use kube::config::{Kubeconfig, KubeconfigError};
use std::path::{Path, PathBuf};

/// The server URL that means "the cluster sluice runs in" (Argo CD's
/// convention).
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// A cluster destination, checked: connect with
/// [`KubeTarget::connect`](super::kube::KubeTarget::connect)`(kubeconfig, context)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cluster {
    /// The kubeconfig file; `None`: `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster configuration.
    pub kubeconfig: Option<PathBuf>,
    /// The context to use; `None`: the current context (or in-cluster).
    pub context: Option<String>,
    /// The API server the context points at, when the kubeconfig was read.
    pub server: Option<String>,
    /// A client configuration of its own (an Argo CD cluster Secret)
    /// instead of a kubeconfig file; `context` then names it.
    pub inline: Option<Inline>,
}

/// A cluster's client configuration held in memory, e.g. from an Argo CD
/// cluster Secret ([`super::cluster_secret`]). Two are equal when their
/// labels are (the label carries the Secret's digest).
#[derive(Clone)]
pub struct Inline {
    /// Where it came from and which version: `argocd-cluster:NS/NAME@DIGEST`.
    pub label: String,
    /// The configuration.
    pub kubeconfig: std::sync::Arc<Kubeconfig>,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The kubeconfig holds credentials: never printed.
        write!(f, "Inline({})", self.label)
    }
}

impl PartialEq for Inline {
    fn eq(&self, other: &Inline) -> bool {
        self.label == other.label
    }
}

impl Eq for Inline {}

/// Clusters known besides the kubeconfig (the service's Argo CD cluster
/// Secrets). Asked first by the engine.
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// The cluster an Application's `destination.name` / `destination.server`
    /// refers to, if this directory has it. A `name` it knows whose
    /// `server` does not match is an error, as is a known name or server
    /// whose Secret cannot be used.
    fn lookup(
        &self,
        name: Option<&str>,
        server: Option<&str>,
    ) -> Option<Result<Cluster, DestinationError>>;
}

/// The error returned by [`resolve`] and [`check`]. Each one is raised
/// before any connection to any API server is made.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// The kubeconfig could not be read or parsed.
    #[error(
        "cannot read the kubeconfig {}; check --kubeconfig / KUBECONFIG, or leave destination.name and destination.server unset (or set server to {IN_CLUSTER}) to use the in-cluster configuration",
        path.as_deref().unwrap_or("(KUBECONFIG or ~/.kube/config)")
    )]
    Kubeconfig {
        /// The file, when one was named.
        path: Option<String>,
        /// What kube-rs said.
        #[source]
        source: KubeconfigError,
    },
    /// `destination.name` (or `--dest-context`) names no context.
    #[error(
        "the kubeconfig has no context {context:?} (destination.name / --dest-context); it has: {}; add the context or fix the name",
        if available.is_empty() { "none".to_string() } else { available.join(", ") }
    )]
    NoSuchContext {
        /// The context asked for.
        context: String,
        /// The contexts the kubeconfig has.
        available: Vec<String>,
    },
    /// `destination.server` is set but the kubeconfig has no current
    /// context to check it against.
    #[error(
        "destination.server is {server} but the kubeconfig has no current context to check it against; set destination.name to the context for {server}"
    )]
    NoCurrentContext {
        /// `destination.server`.
        server: String,
    },
    /// The chosen context's cluster has no server URL.
    #[error(
        "kubeconfig context {context:?} names cluster {cluster:?}, which is missing or has no server; fix the kubeconfig"
    )]
    NoServer {
        /// The context.
        context: String,
        /// Its cluster entry.
        cluster: String,
    },
    /// A cluster Secret that `destination` names cannot be used.
    #[error(
        "destination {destination} is cluster Secret {secret}, which cannot be used: {message}"
    )]
    Secret {
        /// The destination, as the Application wrote it.
        destination: String,
        /// `namespace/name` of the Secret.
        secret: String,
        /// Why (never the Secret's values).
        message: String,
    },
    /// `destination.name` is a cluster Secret whose server is not
    /// `destination.server`.
    #[error(
        "destination.name {name:?} is cluster Secret {secret} with server {secret_server}, but destination.server is {server}; fix one of the two"
    )]
    SecretServerMismatch {
        /// `destination.name`.
        name: String,
        /// `namespace/name` of the Secret.
        secret: String,
        /// The Secret's server.
        secret_server: String,
        /// `destination.server`.
        server: String,
    },
    /// `destination.server` is not the chosen context's server.
    #[error(
        "destination.server is {server} but kubeconfig context {context:?} points at {context_server}; refusing to touch a cluster the Application does not name: {}",
        hint(server, matching)
    )]
    ServerMismatch {
        /// `destination.server`.
        server: String,
        /// The chosen context.
        context: String,
        /// The server that context points at.
        context_server: String,
        /// Contexts whose server is `server`, if any.
        matching: Vec<String>,
    },
}

fn hint(server: &str, matching: &[String]) -> String {
    match matching {
        [] => format!(
            "add a context for {server} to the kubeconfig and name it in destination.name, or fix destination.server"
        ),
        [one] => format!("set destination.name (or --dest-context) to {one:?}, which points there"),
        many => format!(
            "set destination.name (or --dest-context) to one of {}, which point there",
            many.join(", ")
        ),
    }
}

/// Check an Application's destination (`name`: a context, `server`: an API
/// server URL) against the kubeconfig at `kubeconfig` (or `KUBECONFIG` /
/// `~/.kube/config`). Reads files only: nothing is sent to any server.
pub fn resolve(
    kubeconfig: Option<&Path>,
    name: Option<&str>,
    server: Option<&str>,
) -> Result<Cluster, DestinationError> {
    let name = name.map(str::trim).filter(|s| !s.is_empty());
    let server = server.map(str::trim).filter(|s| !s.is_empty());
    let in_cluster = server.is_some_and(|s| same_server(s, IN_CLUSTER));
    if name.is_none() && (server.is_none() || in_cluster) {
        // The current context, or the in-cluster configuration without a
        // kubeconfig: what `KubeTarget::connect(kubeconfig, None)` does.
        return Ok(Cluster {
            kubeconfig: kubeconfig.map(Path::to_path_buf),
            ..Cluster::default()
        });
    }
    let kc = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|source| DestinationError::Kubeconfig {
        path: kubeconfig.map(|p| p.display().to_string()),
        source,
    })?;
    let mut cluster = check(&kc, name, server)?;
    cluster.kubeconfig = kubeconfig.map(Path::to_path_buf);
    Ok(cluster)
}

/// [`resolve`] on a kubeconfig already read. The result names the context
/// explicitly (the current one when `name` is `None`), so the connection
/// cannot drift to another context later.
pub fn check(
    kc: &Kubeconfig,
    name: Option<&str>,
    server: Option<&str>,
) -> Result<Cluster, DestinationError> {
    let context = match (name, &kc.current_context) {
        (Some(n), _) => n.to_string(),
        (None, Some(c)) if !c.is_empty() => c.clone(),
        (None, _) => {
            return match server {
                Some(s) if !same_server(s, IN_CLUSTER) => Err(DestinationError::NoCurrentContext {
                    server: s.to_string(),
                }),
                _ => Ok(Cluster::default()),
            };
        }
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| DestinationError::NoSuchContext {
            context: context.clone(),
            available: kc.contexts.iter().map(|c| c.name.clone()).collect(),
        })?;
    let context_server = server_of(kc, &ctx.cluster).ok_or_else(|| DestinationError::NoServer {
        context: context.clone(),
        cluster: ctx.cluster.clone(),
    })?;
    if let Some(s) = server
        && !same_server(s, IN_CLUSTER)
        && !same_server(s, &context_server)
    {
        let matching = kc
            .contexts
            .iter()
            .filter(|c| {
                c.context
                    .as_ref()
                    .and_then(|x| server_of(kc, &x.cluster))
                    .is_some_and(|u| same_server(&u, s))
            })
            .map(|c| c.name.clone())
            .collect();
        return Err(DestinationError::ServerMismatch {
            server: s.to_string(),
            context,
            context_server,
            matching,
        });
    }
    Ok(Cluster {
        kubeconfig: None,
        context: Some(context),
        server: Some(context_server),
        inline: None,
    })
}

fn server_of(kc: &Kubeconfig, cluster: &str) -> Option<String> {
    kc.clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .filter(|s| !s.trim().is_empty())
}

/// Whether two API server URLs name the same server: scheme and host
/// compared without case, default ports and trailing `/` ignored.
pub fn same_server(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    let authority = if default_port.is_empty() {
        authority.as_str()
    } else {
        authority.strip_suffix(default_port).unwrap_or(&authority)
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kc() -> Kubeconfig {
        Kubeconfig::from_yaml(
            r#"
clusters:
- {name: prod, cluster: {server: "https://prod.example:6443"}}
- {name: staging, cluster: {server: "https://Staging.example:443/"}}
- {name: broken, cluster: {}}
contexts:
- {name: prod, context: {cluster: prod}}
- {name: prod-admin, context: {cluster: prod}}
- {name: staging, context: {cluster: staging}}
- {name: broken, context: {cluster: broken}}
current-context: staging
"#,
        )
        .expect("kubeconfig")
    }

    #[test]
    fn name_selects_a_context_and_pins_it() {
        let c = check(&kc(), Some("prod"), None).expect("named");
        assert_eq!(c.context.as_deref(), Some("prod"));
        assert_eq!(c.server.as_deref(), Some("https://prod.example:6443"));
        // Without a name, the current context is named explicitly.
        let c = check(&kc(), None, Some("https://staging.example")).expect("current");
        assert_eq!(c.context.as_deref(), Some("staging"));
    }

    #[test]
    fn a_wrong_server_is_refused_naming_both_and_the_right_contexts() {
        let e = check(&kc(), Some("staging"), Some("https://prod.example:6443"))
            .expect_err("mismatch")
            .to_string();
        assert!(
            e.contains("destination.server is https://prod.example:6443 but kubeconfig context \"staging\" points at https://Staging.example:443/")
                && e.contains("one of prod, prod-admin"),
            "{e}"
        );
        let e = check(&kc(), None, Some("https://elsewhere.example"))
            .expect_err("mismatch")
            .to_string();
        assert!(
            e.contains("add a context for https://elsewhere.example"),
            "{e}"
        );
    }

    #[test]
    fn in_cluster_means_the_chosen_context() {
        let c = check(&kc(), Some("prod"), Some("https://kubernetes.default.svc/")).expect("ok");
        assert_eq!(c.context.as_deref(), Some("prod"));
        let none = Kubeconfig::default();
        assert_eq!(
            check(&none, None, Some(IN_CLUSTER)).expect("in-cluster"),
            Cluster::default()
        );
        let e = check(&none, None, Some("https://x")).expect_err("no context");
        assert!(e.to_string().contains("no current context"), "{e}");
    }

    #[test]
    fn unknown_context_and_missing_server_are_named() {
        let e = check(&kc(), Some("prd"), None)
            .expect_err("unknown")
            .to_string();
        assert!(
            e.contains("no context \"prd\"") && e.contains("prod, prod-admin, staging, broken"),
            "{e}"
        );
        let e = check(&kc(), Some("broken"), None)
            .expect_err("no server")
            .to_string();
        assert!(e.contains("names cluster \"broken\""), "{e}");
    }

    #[test]
    fn server_urls_normalise() {
        assert!(same_server("HTTPS://Host:443/", "https://host"));
        assert!(same_server("http://h:80", "http://h/"));
        assert!(!same_server("https://h:6443", "https://h"));
        assert!(!same_server("https://h.evil", "https://h"));
    }

    #[test]
    fn nothing_named_reads_no_kubeconfig() {
        let missing = Path::new("/nonexistent/kubeconfig");
        let c = resolve(Some(missing), None, None).expect("current context");
        assert_eq!(c.context, None);
        let c = resolve(Some(missing), None, Some(IN_CLUSTER)).expect("in-cluster");
        assert_eq!(c.kubeconfig.as_deref(), Some(missing));
        let e = resolve(Some(missing), Some("prod"), None).expect_err("unreadable");
        assert!(
            e.to_string()
                .starts_with("cannot read the kubeconfig /nonexistent/kubeconfig"),
            "{e}"
        );
    }
}
