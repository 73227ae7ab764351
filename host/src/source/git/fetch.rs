//! Talking to the remote: listing its refs (ls-refs) and fetching packs,
//! with credentials and SSH settings applied to an in-memory copy of the
//! cache repository's configuration (nothing is written to disk), under
//! the limits of a [`Budget`].

use super::credentials::Auth;
use super::error::{Ctx, SourceError};
use super::limits::{Budget, Meter, Metered};
use super::revision::RemoteRef;
use super::url::{RepoUrl, UrlKind};
use super::{ProgressEvent, ProgressSink, SshOptions};
use gix::bstr::ByteSlice;
use std::time::{Duration, Instant};

/// The error our credentials callback gives gix, found again in the chain
/// to classify the failure as authentication.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unauthenticated(pub &'static str);

/// A connection to a remote, ready to list refs or fetch.
type Connection<'c, 'r> = gix::remote::Connection<
    'c,
    'static,
    'r,
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
>;

/// Everything needed to reach one remote.
pub(crate) struct Net<'a> {
    pub url: &'a RepoUrl,
    pub auth: &'a Auth,
    pub ssh: &'a SshOptions,
    pub ctx: &'a Ctx,
    pub progress: &'a dyn ProgressSink,
    pub budget: &'a Budget<'a>,
    /// Send credentials over plain `http://` too.
    pub insecure_http: bool,
    /// Extra CA certificates, or no verification, for `https://`.
    pub trust: &'a super::tls::Trust,
    /// Most refs the remote may advertise.
    pub max_refs: usize,
    /// Most pack bytes per resolve (for messages; the [`Budget`] enforces it).
    pub max_pack_size: u64,
}

impl Net<'_> {
    fn check_budget(&self) -> Result<(), SourceError> {
        match self.budget.tripped() {
            Some(t) => Err(self.ctx.tripped(t, self.budget, self.max_pack_size)),
            None => Ok(()),
        }
    }

    /// Apply SSH and HTTP settings to `repo`'s in-memory configuration.
    pub fn configure(&self, repo: &mut gix::Repository) -> Result<(), SourceError> {
        let mut cfg = repo.config_snapshot_mut();
        let mut set = |key: &str, value: &str| {
            cfg.set_raw_value(key, value)
                .map(|_| ())
                .map_err(|e| SourceError::Fetch {
                    url: self.ctx.url.clone(),
                    revision: self.ctx.revision.clone(),
                    retryable: false,
                    source: self.ctx.cause(&format!("setting {key}: {e}")),
                })
        };
        if self.url.kind() == UrlKind::Ssh {
            set("core.sshCommand", &self.ssh_command())?;
            set("ssh.variant", "ssh")?;
        }
        if matches!(self.url.kind(), UrlKind::Http | UrlKind::Https) {
            if let Some(header) = self.auth_header()? {
                set("http.extraHeader", &header)?;
            }
            set(
                "http.userAgent",
                concat!("sluice/", env!("CARGO_PKG_VERSION")),
            )?;
            set("gitoxide.http.connectTimeout", "30000")?;
        }
        Ok(())
    }

    /// `ssh` with the key, known_hosts and host key policy; batch mode so
    /// it never prompts.
    fn ssh_command(&self) -> String {
        let q =
            |s: &std::path::Path| format!("'{}'", s.display().to_string().replace('\'', r"'\''"));
        let mut cmd = String::from("ssh");
        if let Some(cfg) = &self.ssh.config_file {
            cmd.push_str(&format!(" -F {}", q(cfg)));
        }
        // Bounded connect, and a dead connection noticed within a minute.
        let connect = self.budget.remaining().as_secs().clamp(1, 30);
        cmd.push_str(&format!(
            " -o BatchMode=yes -o ConnectTimeout={connect} -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
        ));
        if let Some(key) = self
            .auth
            .ssh_key
            .as_deref()
            .or(self.ssh.private_key.as_deref())
        {
            cmd.push_str(&format!(" -i {} -o IdentitiesOnly=yes", q(key)));
        }
        if let Some(kh) = &self.ssh.known_hosts {
            cmd.push_str(&format!(
                " -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null",
                q(kh)
            ));
        }
        if self.ssh.strict_host_key_checking {
            cmd.push_str(" -o StrictHostKeyChecking=yes");
        } else {
            cmd.push_str(" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null");
        }
        cmd
    }

    fn remote<'r>(
        &self,
        repo: &'r gix::Repository,
        specs: &[String],
    ) -> Result<gix::Remote<'r>, SourceError> {
        let remote = repo
            .remote_at(self.url.connect_url())
            .map_err(|e| self.fail(&e))?;
        let remote = remote.with_fetch_tags(gix::remote::fetch::Tags::None);
        remote
            .with_refspecs(
                specs.iter().map(String::as_str),
                gix::remote::Direction::Fetch,
            )
            .map_err(|e| self.fail(&e))
    }

    /// Turn a gix error into a [`SourceError`]: a tripped limit first,
    /// then gix's classification. `ssh` reports why it failed only on its
    /// stderr, which the transport does not keep: for an SSH failure not
    /// otherwise explained, run `ssh` once more with the same options to
    /// capture it (host key or key refused).
    fn fail(&self, err: &gix::Error) -> SourceError {
        if let Some(t) = self.budget.tripped() {
            return self.ctx.tripped(t, self.budget, self.max_pack_size);
        }
        let e = self.ctx.of_gix(err);
        if self.url.kind() != UrlKind::Ssh
            || !matches!(
                e,
                SourceError::Fetch { .. } | SourceError::Unreachable { .. }
            )
        {
            return e;
        }
        let Some(stderr) = self.ssh_diagnosis() else {
            return e;
        };
        if let Some(explained) = self.ctx.of_ssh(&stderr) {
            return explained;
        }
        match e {
            SourceError::Fetch {
                url,
                revision,
                retryable,
                source,
            } => SourceError::Fetch {
                url,
                revision,
                retryable,
                source: self
                    .ctx
                    .cause(&format!("{source}; ssh: {}", self.ctx.scrub(&stderr))),
            },
            other => other,
        }
    }

    /// The stderr of `ssh … true` against the URL's host, trimmed.
    fn ssh_diagnosis(&self) -> Option<String> {
        let url = gix::url::parse(self.url.connect_url().as_bytes().as_bstr()).ok()?;
        let host = url.host()?.to_string();
        let target = match url.user() {
            Some(u) => format!("{u}@{host}"),
            None => host,
        };
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{} \"$@\"", self.ssh_command()))
            .arg("sluice-ssh");
        if let Some(port) = url.port {
            cmd.arg("-p").arg(port.to_string());
        }
        let out = cmd
            .arg("--")
            .arg(target)
            .arg("true")
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
            .collect();
        (!lines.is_empty()).then(|| lines.join("; "))
    }

    /// The `Authorization` header sent with every request when credentials
    /// are configured: basic for a password, bearer for a token. Refused over
    /// plain `http://` unless insecure HTTP credentials are allowed.
    fn auth_header(&self) -> Result<Option<String>, SourceError> {
        let header = match (&self.auth.password, &self.auth.token) {
            (Some(p), _) => {
                let user = self.auth.username.as_deref().unwrap_or("x-access-token");
                format!(
                    "Authorization: Basic {}",
                    base64(format!("{user}:{}", p.expose()).as_bytes())
                )
            }
            (None, Some(t)) => format!("Authorization: Bearer {}", t.expose()),
            (None, None) => return Ok(None),
        };
        if self.url.kind() == UrlKind::Http && !self.insecure_http {
            return Err(SourceError::Authentication {
                url: self.ctx.url.clone(),
                revision: self.ctx.revision.clone(),
                reason: "refusing to send credentials over plain http://; use https://, or allow it with \
                         SLUICE_GIT_INSECURE_HTTP_CREDENTIALS=1"
                    .into(),
                source: None,
            });
        }
        Ok(Some(header))
    }

    /// Answers the transport's requests for credentials. The configured ones
    /// already went out in the `Authorization` header, so a request here
    /// means they were refused, or that none are configured.
    fn authenticate(
        &self,
    ) -> impl FnMut(
        gix::credentials::helper::Action,
    ) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
    + 'static {
        let configured = self.auth.password.is_some() || self.auth.token.is_some();
        move |action| {
            if !matches!(action, gix::credentials::helper::Action::Get(_)) {
                return Ok(None);
            }
            Err(gix::Error::from_error(Unauthenticated(if configured {
                "the server refused the configured credentials"
            } else {
                "the server asks for credentials and none are configured for this URL"
            })))
        }
    }

    /// Connect to the remote for fetching, with our credentials callback
    /// and, over HTTP(S), a per-request timeout: the time left before the
    /// deadline, covering connect, headers and body.
    fn connect<'c, 'r>(
        &self,
        remote: &'c gix::Remote<'r>,
    ) -> Result<Connection<'c, 'r>, SourceError> {
        let repo = remote.repo();
        if !matches!(self.url.kind(), UrlKind::Http | UrlKind::Https) {
            return Ok(remote
                .connect(gix::remote::Direction::Fetch)
                .map_err(|e| self.fail(&e))?
                .with_credentials(self.authenticate()));
        }
        // HTTP(S): our own client, metering response bodies, with a
        // per-request timeout of the time left before the deadline
        // (covering connect, headers and body).
        use gix::protocol::transport::client::blocking_io::{Transport, http};
        let Some(url) = remote.url(gix::remote::Direction::Fetch).cloned() else {
            return Err(SourceError::Fetch {
                url: self.ctx.url.clone(),
                revision: self.ctx.revision.clone(),
                retryable: false,
                source: self.ctx.cause("the remote has no fetch URL"),
            });
        };
        let client = Metered {
            inner: http::reqwest::Remote::default(),
            shared: self.budget.shared.clone(),
        };
        let transport: Box<dyn Transport + Send> = Box::new(http::connect_http(
            client,
            url,
            gix::protocol::transport::Protocol::V2,
            false,
        ));
        let mut con = remote
            .to_connection_with_transport(transport)
            .with_credentials(self.authenticate());
        let mut opts = repo
            .transport_options(self.url.connect_url(), None)
            .map_err(|e| self.fail(&e))?;
        if let Some(o) = opts
            .as_mut()
            .and_then(|o| o.downcast_mut::<http::Options>())
        {
            let deadline = self.budget.deadline;
            let trust = self.trust.clone();
            let backend = http::reqwest::Options {
                configure_request: Some(Box::new(move |req: &mut reqwest::blocking::Request| {
                    let left = deadline.saturating_duration_since(Instant::now());
                    *req.timeout_mut() = Some(left.max(Duration::from_millis(1)));
                    Ok(())
                })),
                configure_client: Some(Box::new(move |builder| Ok(trust.apply(builder)))),
            };
            o.backend = Some(std::sync::Arc::new(std::sync::Mutex::new(backend)));
        }
        if let Some(o) = opts {
            con.set_transport_options(o);
        }
        Ok(con)
    }

    /// The refs the remote advertises (branches, tags peeled, `HEAD`); more
    /// than the cap is an error.
    pub fn list_refs(&self, repo: &gix::Repository) -> Result<Vec<RemoteRef>, SourceError> {
        self.check_budget()?;
        self.progress.event(&ProgressEvent::ListingRefs);
        let remote = self.remote(repo, &["+refs/heads/*:refs/remotes/origin/*".to_string()])?;
        let con = self.connect(&remote)?;
        let opts = gix::remote::ref_map::Options {
            prefix_from_spec_as_filter_on_remote: false,
            ..Default::default()
        };
        let (map, _) = self
            .budget
            .watch(|| con.ref_map(gix::progress::Discard, opts))
            .map_err(|e| self.fail(&e))?;
        if map.remote_refs.len() > self.max_refs {
            return Err(SourceError::TooManyRefs {
                url: self.ctx.url.clone(),
                revision: self.ctx.revision.clone(),
                count: map.remote_refs.len(),
                limit: self.max_refs,
            });
        }
        Ok(map.remote_refs.iter().filter_map(to_remote_ref).collect())
    }

    /// Fetch `specs` (`+src:dst`, or a bare object id) at `shallow`.
    pub fn fetch(
        &self,
        repo: &gix::Repository,
        specs: &[String],
        shallow: gix::remote::fetch::Shallow,
    ) -> Result<(), SourceError> {
        self.check_budget()?;
        self.progress.event(&ProgressEvent::Fetching {
            refspecs: specs.to_vec(),
        });
        let remote = self.remote(repo, specs)?;
        let con = self.connect(&remote)?;
        let opts = gix::remote::ref_map::Options {
            prefix_from_spec_as_filter_on_remote: true,
            ..Default::default()
        };
        let outcome = self
            .budget
            .watch(|| {
                con.prepare_fetch(gix::progress::Discard, opts)?
                    .with_shallow(shallow)
                    .receive(Meter::new(self.budget), self.budget.flag())
            })
            .map_err(|e| self.fail(&e))?;
        let (objects, bytes) = match &outcome.status {
            gix::remote::fetch::Status::Change {
                write_pack_bundle, ..
            } => (
                write_pack_bundle.index.num_objects as u64,
                write_pack_bundle
                    .data_path
                    .as_deref()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len()),
            ),
            gix::remote::fetch::Status::NoPackReceived { .. } => (0, 0),
        };
        self.progress
            .event(&ProgressEvent::Received { objects, bytes });
        Ok(())
    }
}

fn to_remote_ref(r: &gix::protocol::handshake::Ref) -> Option<RemoteRef> {
    use gix::protocol::handshake::Ref;
    let (name, id, symref, tag) = match r {
        Ref::Peeled {
            full_ref_name,
            object,
            tag,
        } => (full_ref_name, *object, None, Some(*tag)),
        Ref::Direct {
            full_ref_name,
            object,
        } => (full_ref_name, *object, None, None),
        Ref::Symbolic {
            full_ref_name,
            target,
            object,
            tag,
        } => (
            full_ref_name,
            *object,
            Some(target.to_str_lossy().into_owned()),
            *tag,
        ),
        Ref::Unborn { .. } => return None,
    };
    Some(RemoteRef {
        name: name.to_str_lossy().into_owned(),
        id,
        symref,
        tag,
    })
}

/// Standard base64 with padding, for the basic auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in cases {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
