//! The error returned by [`resolve()`](super::resolve), and how gix's errors
//! are classified into it.
//!
//! Classification goes by type, never by searching messages: gix's error
//! classes (cancelled, unauthenticated, permission denied), the HTTP status
//! of the `reqwest` error in the chain, and the kind of any `std::io::Error`
//! in it. The one exception is SSH: `ssh` reports why it failed only as
//! text on its stderr, so that text is what is classified (host key or key
//! refused).
//!
//! Each cause appears once in an error chain: a variant's message never
//! repeats the text of its `#[source]`. gix's own error is not kept as the
//! source, because its text could carry configuration values; it is
//! flattened into a [`Cause`] with every known secret removed.

use super::cache::CacheError;
use super::credentials::CredentialsError;
use super::limits::{Budget, Trip};
use super::revision::RevisionError;
use super::url::UrlError;
use std::time::Duration;

/// A cause reported by gix, a server or `ssh`, flattened to text with
/// every known secret removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Cause(pub String);

/// The error returned by [`resolve()`](super::resolve). Every message names
/// the repository URL (password removed) and the revision asked for, and
/// never contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The repository URL could not be understood.
    #[error("{url}: invalid repository URL")]
    InvalidUrl {
        /// The URL as given, password removed.
        url: String,
        /// What is wrong with it.
        #[source]
        source: UrlError,
    },
    /// The revision is neither a ref name, a commit id, `HEAD`, nor a
    /// semver constraint.
    #[error("{url}@{revision}: invalid revision")]
    InvalidRevision {
        /// The repository URL.
        url: String,
        /// The revision as given.
        revision: String,
        /// What is wrong with it.
        #[source]
        source: RevisionError,
    },
    /// The credentials configuration (file or environment) is unusable.
    #[error("{url}@{revision}: credentials configuration is unusable")]
    Credentials {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What is wrong (file path and line; never a secret).
        #[source]
        source: CredentialsError,
    },
    /// The CA certificates configured for this URL cannot be used.
    #[error(
        "{url}@{revision}: cannot use the CA certificates of {origin}; it must be a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)"
    )]
    CaCertificates {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// Where they were configured (the variable or the credentials
        /// entry, and the file).
        origin: String,
        /// What is wrong.
        #[source]
        source: Cause,
    },
    /// The server's TLS certificate does not verify against the trusted
    /// CAs (unknown issuer, expired, wrong name); nothing was sent.
    #[error(
        "{url}@{revision}: the server's TLS certificate does not verify; if the server uses a private CA, trust it with SLUICE_GIT_CA_FILE=/path/to/ca.pem or with caFile/caData in the credentials entry for this URL (insecure: true in that entry turns verification off for it)"
    )]
    TlsCertificate {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What the TLS library said.
        #[source]
        source: Cause,
    },
    /// The server could not be reached or the connection broke. Retryable.
    #[error(
        "{url}@{revision}: cannot reach the repository; check the URL and the network, sluice will retry"
    )]
    Unreachable {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What the transport said.
        #[source]
        source: Cause,
    },
    /// The server answered an HTTP error status other than 401/403.
    #[error("{url}@{revision}: the server answered HTTP {status}{}", status_hint(*status))]
    HttpStatus {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The status code.
        status: u16,
        /// What the transport said.
        #[source]
        source: Cause,
    },
    /// The server refused the credentials, or needs some and none are
    /// configured for this URL.
    #[error(
        "{url}@{revision}: authentication failed: {reason}; check the credentials configured for this URL prefix"
    )]
    Authentication {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What failed, in sluice's words (never the secret itself).
        reason: String,
        /// What the transport said, when it said more.
        #[source]
        source: Option<Cause>,
    },
    /// The SSH host key is unknown or does not match known_hosts.
    #[error(
        "{url}@{revision}: SSH host key verification failed; add the server's key to the known_hosts file"
    )]
    HostKey {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What ssh said.
        #[source]
        source: Option<Cause>,
    },
    /// The fetch did not finish within the deadline.
    #[error(
        "{url}@{revision}: fetch did not finish within {timeout:?}; check the server, or raise the fetch timeout (SLUICE_GIT_FETCH_TIMEOUT)"
    )]
    DeadlineExceeded {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The server sent data slower than the low-speed limit for too long.
    #[error(
        "{url}@{revision}: the server sent less than {limit} bytes/s for {time:?}; check the server or the network, or lower SLUICE_GIT_LOW_SPEED_LIMIT"
    )]
    TooSlow {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// Bytes per second.
        limit: u64,
        /// Over how long.
        time: Duration,
    },
    /// The pack the server sent is larger than the cap.
    #[error(
        "{url}@{revision}: the server sent a pack larger than {limit} bytes; raise SLUICE_GIT_MAX_PACK_SIZE if the repository is really that large"
    )]
    PackTooLarge {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The remote advertises more refs than the cap.
    #[error(
        "{url}@{revision}: the remote advertises {count} refs, more than the limit of {limit}; raise SLUICE_GIT_MAX_REFS if that is expected"
    )]
    TooManyRefs {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// How many refs the remote advertised.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// No branch or tag of that name exists on the remote (it may have
    /// been deleted).
    #[error("{url}@{revision}: no branch or tag `{revision}` on the remote{hint}")]
    RefNotFound {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// Extra text, such as the nearest names that do exist.
        hint: String,
    },
    /// No tag satisfies the semver constraint.
    #[error(
        "{url}@{revision}: no tag matches the version constraint `{revision}` ({tags} semver tags on the remote)"
    )]
    NoMatchingTag {
        /// The repository URL.
        url: String,
        /// The constraint.
        revision: String,
        /// How many tags parsed as semver.
        tags: usize,
    },
    /// The commit id is not on the remote, or not reachable from any of its
    /// branches and tags.
    #[error(
        "{url}@{revision}: commit not found in the repository, or not reachable from any of its branches and tags"
    )]
    CommitNotFound {
        /// The repository URL.
        url: String,
        /// The commit id asked for.
        revision: String,
    },
    /// An abbreviated commit id matches several objects.
    #[error("{url}@{revision}: ambiguous abbreviated commit id; give more digits")]
    AmbiguousCommit {
        /// The repository URL.
        url: String,
        /// The prefix.
        revision: String,
    },
    /// Fetching failed in a way not covered above.
    #[error("{url}@{revision}: fetch failed")]
    Fetch {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// Whether trying again may help.
        retryable: bool,
        /// What failed.
        #[source]
        source: Cause,
    },
    /// The local cache could not be used (no private cache directory, a
    /// lock held too long, disk full, permissions, or still corrupt after
    /// deleting and refetching it).
    #[error("{url}@{revision}: git cache {path}")]
    Cache {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The cache directory.
        path: String,
        /// What failed.
        #[source]
        source: Box<CacheError>,
    },
    /// The cached repository is corrupt and was deleted, and fetching it
    /// afresh failed the same way.
    #[error("{url}@{revision}: git cache {path} is corrupt, even after deleting and refetching it")]
    Corrupt {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The cache directory.
        path: String,
        /// What was wrong.
        #[source]
        source: Cause,
    },
    /// A submodule (`recurseSubmodules`) could not be resolved.
    #[error("{url}@{revision}: submodule {path}: {reason}")]
    Submodule {
        /// The superproject's URL.
        url: String,
        /// The superproject's revision.
        revision: String,
        /// The submodule's path in the superproject.
        path: String,
        /// What is wrong.
        reason: String,
        /// Why fetching it failed, when it did.
        #[source]
        source: Option<Box<SourceError>>,
    },
    /// The operation was cancelled through the interrupt flag.
    #[error("{url}@{revision}: cancelled")]
    Interrupted {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
    },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 => "; check the repository URL",
        429 | 500..=599 => "; the server has a problem, sluice will retry",
        _ => "",
    }
}

impl SourceError {
    /// Whether trying the same operation again later may succeed: network
    /// trouble, server errors, timeouts and cache contention are
    /// retryable; a bad URL, a missing ref or bad credentials are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Unreachable { .. }
            | SourceError::DeadlineExceeded { .. }
            | SourceError::TooSlow { .. }
            | SourceError::Corrupt { .. } => true,
            SourceError::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            SourceError::Cache { source, .. } => !matches!(
                **source,
                CacheError::NoCacheDir | CacheError::Insecure { .. }
            ),
            SourceError::Fetch { retryable, .. } => *retryable,
            SourceError::Submodule { source, .. } => {
                source.as_ref().is_some_and(|e| e.is_retryable())
            }
            SourceError::InvalidUrl { .. }
            | SourceError::InvalidRevision { .. }
            | SourceError::Credentials { .. }
            | SourceError::CaCertificates { .. }
            | SourceError::TlsCertificate { .. }
            | SourceError::Authentication { .. }
            | SourceError::HostKey { .. }
            | SourceError::PackTooLarge { .. }
            | SourceError::TooManyRefs { .. }
            | SourceError::RefNotFound { .. }
            | SourceError::NoMatchingTag { .. }
            | SourceError::CommitNotFound { .. }
            | SourceError::AmbiguousCommit { .. }
            | SourceError::Interrupted { .. } => false,
        }
    }
}

/// Where an operation failed, for building a [`SourceError`].
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub url: String,
    pub revision: String,
    /// Secrets that must never appear in a message.
    pub secrets: Vec<String>,
}

/// `std::io::ErrorKind`s only sockets produce: the network, not the cache.
fn is_network(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::TimedOut
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::AddrNotAvailable
    )
}

/// Whether `e` says the connection to the server failed: a reqwest
/// connect or timeout error, a socket-only I/O error, or the transport's
/// own I/O error for a broken stream (EOF, broken pipe).
fn is_connection_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    use gix::protocol::transport::client::Error as Transport;
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        return r.is_connect() || r.is_timeout() || r.is_request();
    }
    if let Some(Transport::Io(io)) = e.downcast_ref::<Transport>() {
        use std::io::ErrorKind as K;
        return is_network(io.kind()) || matches!(io.kind(), K::UnexpectedEof | K::BrokenPipe);
    }
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| is_network(io.kind()))
}

/// Every error in `err`'s chain, including the payloads of `std::io::Error`s
/// and the chains of gix errors nested in them.
fn chain(err: &gix::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut out: Vec<&(dyn std::error::Error + 'static)> = err.iter_errors().collect();
    let mut i = 0;
    while i < out.len() && out.len() < 256 {
        let e = out[i];
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(g) = inner.downcast_ref::<gix::Error>() {
                out.extend(g.iter_errors());
            } else {
                out.push(inner);
            }
        }
        if let Some(src) = e.source()
            && !out.iter().any(|o| std::ptr::addr_eq(*o, src))
        {
            out.push(src);
        }
        i += 1;
    }
    out
}

impl Ctx {
    /// Remove every known secret from `text`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if s.len() >= 3 {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// `text` as a [`Cause`], secrets removed.
    pub fn cause(&self, text: &str) -> Cause {
        Cause(self.scrub(text))
    }

    pub fn cache(&self, path: &std::path::Path, source: CacheError) -> SourceError {
        SourceError::Cache {
            url: self.url.clone(),
            revision: self.revision.clone(),
            path: path.display().to_string(),
            source: Box::new(source),
        }
    }

    /// The error for a fetch stopped by one of the [`Budget`]'s limits.
    pub fn tripped(&self, trip: Trip, budget: &Budget<'_>, max_pack_size: u64) -> SourceError {
        let (url, revision) = (self.url.clone(), self.revision.clone());
        match trip {
            Trip::Cancelled => SourceError::Interrupted { url, revision },
            Trip::Deadline => SourceError::DeadlineExceeded {
                url,
                revision,
                timeout: budget.timeout,
            },
            Trip::TooSlow => SourceError::TooSlow {
                url,
                revision,
                limit: budget.low_speed_limit,
                time: budget.low_speed_time,
            },
            Trip::PackTooLarge => SourceError::PackTooLarge {
                url,
                revision,
                limit: max_pack_size,
            },
        }
    }

    /// gix's error chain as one line of text, each message once.
    pub fn text_of(&self, err: &gix::Error) -> Cause {
        let mut text = String::new();
        for c in err.iter_errors().map(|e| e.to_string()) {
            if !text.contains(c.as_str()) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&c);
            }
        }
        self.cause(&text)
    }

    /// Classify a gix error by type: cancelled, authentication, HTTP status,
    /// network, or a generic fetch failure.
    pub fn of_gix(&self, err: &gix::Error) -> SourceError {
        let (url, revision) = (self.url.clone(), self.revision.clone());
        let cause = self.text_of(err);
        if err.is_cancelled() {
            return SourceError::Interrupted { url, revision };
        }
        let chain = chain(err);
        // A certificate the TLS library refused: before the connection
        // failure it also is, so the message says how to trust it.
        if chain.iter().any(|e| {
            matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            )
        }) {
            return SourceError::TlsCertificate {
                url,
                revision,
                source: cause,
            };
        }
        let status = chain
            .iter()
            .find_map(|e| e.downcast_ref::<reqwest::Error>()?.status());
        match status.map(|s| s.as_u16()) {
            Some(401) => {
                return SourceError::Authentication {
                    url,
                    revision,
                    reason: "the server answered HTTP 401".into(),
                    source: Some(cause),
                };
            }
            Some(403) => {
                return SourceError::Authentication {
                    url,
                    revision,
                    reason: "the server refused access (HTTP 403)".into(),
                    source: Some(cause),
                };
            }
            Some(status) => {
                return SourceError::HttpStatus {
                    url,
                    revision,
                    status,
                    source: cause,
                };
            }
            None => {}
        }
        if let Some(reason) = chain.iter().find_map(|e| {
            e.downcast_ref::<super::fetch::Unauthenticated>()
                .map(|u| u.0)
        }) {
            return SourceError::Authentication {
                url,
                revision,
                reason: reason.into(),
                source: None,
            };
        }
        if err.is_unauthenticated() || err.is_permission_denied() {
            return SourceError::Authentication {
                url,
                revision,
                reason: "the server refused the request".into(),
                source: Some(cause),
            };
        }
        if chain.iter().any(|e| is_connection_failure(*e)) {
            return SourceError::Unreachable {
                url,
                revision,
                source: cause,
            };
        }
        SourceError::Fetch {
            url,
            revision,
            retryable: err.is_retryable(),
            source: cause,
        }
    }

    /// Classify what `ssh` printed on stderr (it reports nothing else).
    pub fn of_ssh(&self, stderr: &str) -> Option<SourceError> {
        let (url, revision) = (self.url.clone(), self.revision.clone());
        let lower = stderr.to_ascii_lowercase();
        let cause = Some(self.cause(stderr));
        if lower.contains("host key verification failed")
            || lower.contains("remote host identification has changed")
        {
            return Some(SourceError::HostKey {
                url,
                revision,
                source: cause,
            });
        }
        if lower.contains("permission denied (") {
            return Some(SourceError::Authentication {
                url,
                revision,
                reason: "the SSH server refused the key".into(),
                source: cause,
            });
        }
        None
    }
}
