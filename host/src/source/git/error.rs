//! The error returned by [`resolve()`](super::resolve).

/// The error returned by [`resolve()`](super::resolve). Every message names
/// the repository URL (password removed) and the revision asked for, and
/// never contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The repository URL could not be understood.
    #[error("{url}: invalid repository URL: {reason}")]
    InvalidUrl {
        /// The URL as given, password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The revision is neither a ref name, a commit id, `HEAD`, nor a
    /// semver constraint.
    #[error("{url}@{revision}: invalid revision: {reason}")]
    InvalidRevision {
        /// The repository URL.
        url: String,
        /// The revision as given.
        revision: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The credentials configuration (file or environment) is unusable.
    #[error("{url}@{revision}: credentials configuration: {reason}")]
    Credentials {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What is wrong (file path and parse error; never a secret).
        reason: String,
    },
    /// The server could not be reached or the connection broke. Retryable.
    #[error(
        "{url}@{revision}: cannot reach the repository: {reason}; check the URL and the network, sluice will retry"
    )]
    Unreachable {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What the transport said.
        reason: String,
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
        /// What failed (never the secret itself).
        reason: String,
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
    /// The commit id is not on the remote (or not reachable from any of
    /// its branches and tags).
    #[error("{url}@{revision}: commit not found in the repository")]
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
    #[error("{url}@{revision}: fetch failed: {reason}")]
    Fetch {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// What failed.
        reason: String,
        /// Whether trying again may help.
        retryable: bool,
    },
    /// The local cache could not be used (disk full, permissions, or still
    /// corrupt after deleting and refetching it).
    #[error("{url}@{revision}: git cache {path}: {reason}")]
    Cache {
        /// The repository URL.
        url: String,
        /// The revision.
        revision: String,
        /// The cache directory.
        path: String,
        /// What failed.
        reason: String,
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

impl SourceError {
    /// Whether trying the same operation again later may succeed: network
    /// trouble and cache contention are retryable; a bad URL, a missing
    /// ref or bad credentials are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Unreachable { .. } | SourceError::Cache { .. } => true,
            SourceError::Fetch { retryable, .. } => *retryable,
            SourceError::InvalidUrl { .. }
            | SourceError::InvalidRevision { .. }
            | SourceError::Credentials { .. }
            | SourceError::Authentication { .. }
            | SourceError::HostKey { .. }
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

    pub fn cache(&self, path: &std::path::Path, reason: impl std::fmt::Display) -> SourceError {
        SourceError::Cache {
            url: self.url.clone(),
            revision: self.revision.clone(),
            path: path.display().to_string(),
            reason: self.scrub(&reason.to_string()),
        }
    }

    /// Classify a gix error: authentication, host key, unreachable,
    /// interrupted, or a generic fetch failure.
    pub fn of_gix(&self, err: &gix::Error) -> SourceError {
        let chain: Vec<String> = err.iter_errors().map(|e| e.to_string()).collect();
        let mut text = String::new();
        for c in &chain {
            if !text.contains(c.as_str()) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(c);
            }
        }
        self.classify(
            &text,
            err.is_cancelled(),
            err.is_unauthenticated(),
            err.is_retryable(),
        )
    }

    pub fn classify(
        &self,
        text: &str,
        cancelled: bool,
        unauth: bool,
        retryable: bool,
    ) -> SourceError {
        let (url, revision) = (self.url.clone(), self.revision.clone());
        let reason = self.scrub(text);
        let lower = reason.to_ascii_lowercase();
        if cancelled || lower.contains("interrupted") {
            return SourceError::Interrupted { url, revision };
        }
        if lower.contains("host key verification failed")
            || lower.contains("host key is known")
            || lower.contains("remote host identification has changed")
        {
            return SourceError::HostKey { url, revision };
        }
        if unauth
            || lower.contains("authentication")
            || lower.contains("401")
            || lower.contains("403")
            || lower.contains("permission denied (publickey")
            || lower.contains("credentials")
        {
            return SourceError::Authentication {
                url,
                revision,
                reason,
            };
        }
        if lower.contains("connection refused")
            || lower.contains("could not resolve")
            || lower.contains("timed out")
            || lower.contains("connection reset")
            || lower.contains("broken pipe")
            || lower.contains("error sending request")
            || lower.contains("unexpected eof")
            || lower.contains("connection closed")
            || lower.contains("could not connect")
            || lower.contains("failed to connect")
            || lower.contains("no route to host")
        {
            return SourceError::Unreachable {
                url,
                revision,
                reason,
            };
        }
        SourceError::Fetch {
            url,
            revision,
            reason,
            retryable,
        }
    }
}
