//! Talking to the remote: listing its refs (ls-refs) and fetching packs,
//! with credentials and SSH settings applied to an in-memory copy of the
//! cache repository's configuration (nothing is written to disk).

use super::credentials::Auth;
use super::error::{Ctx, SourceError};
use super::revision::RemoteRef;
use super::url::{RepoUrl, UrlKind};
use super::{ProgressEvent, ProgressSink, SshOptions};
use gix::bstr::ByteSlice;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything needed to reach one remote.
pub(crate) struct Net<'a> {
    pub url: &'a RepoUrl,
    pub auth: &'a Auth,
    pub ssh: &'a SshOptions,
    pub ctx: &'a Ctx,
    pub progress: &'a dyn ProgressSink,
    pub interrupt: &'a AtomicBool,
}

impl Net<'_> {
    fn check_interrupt(&self) -> Result<(), SourceError> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(SourceError::Interrupted {
                url: self.ctx.url.clone(),
                revision: self.ctx.revision.clone(),
            });
        }
        Ok(())
    }

    /// Apply SSH and HTTP settings to `repo`'s in-memory configuration.
    pub fn configure(&self, repo: &mut gix::Repository) -> Result<(), SourceError> {
        let mut cfg = repo.config_snapshot_mut();
        let mut set = |key: &str, value: &str| {
            cfg.set_raw_value(&key, value).map(|_| ()).map_err(|e| {
                self.ctx
                    .cache(std::path::Path::new("."), format!("setting {key}: {e}"))
            })
        };
        if self.url.kind() == UrlKind::Ssh {
            set("core.sshCommand", &self.ssh_command())?;
            set("ssh.variant", "ssh")?;
        }
        if matches!(self.url.kind(), UrlKind::Http | UrlKind::Https) {
            if let Some(t) = &self.auth.token
                && self.auth.password.is_none()
            {
                set(
                    "http.extraHeader",
                    &format!("Authorization: Bearer {}", t.expose()),
                )?;
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
        cmd.push_str(" -o BatchMode=yes -o ConnectTimeout=30");
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
            .map_err(|e| self.ctx.from_gix(&e))?;
        let remote = remote.with_fetch_tags(gix::remote::fetch::Tags::None);
        remote
            .with_refspecs(
                specs.iter().map(String::as_str),
                gix::remote::Direction::Fetch,
            )
            .map_err(|e| self.ctx.from_gix(&e))
    }

    fn authenticate(
        &self,
    ) -> impl FnMut(
        gix::credentials::helper::Action,
    ) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
    + 'static {
        let user = self.auth.username.clone();
        let secret = self
            .auth
            .password
            .clone()
            .or_else(|| self.auth.token.clone());
        move |action| {
            let gix::credentials::helper::Action::Get(ctx) = action else {
                return Ok(None);
            };
            match &secret {
                Some(s) => Ok(Some(gix::credentials::protocol::Outcome {
                    identity: gix::sec::identity::Account {
                        username: user
                            .clone()
                            .or_else(|| ctx.username.clone())
                            .unwrap_or_else(|| "x-access-token".into()),
                        password: s.expose().to_string(),
                        oauth_refresh_token: None,
                    },
                    next: ctx.into(),
                })),
                None => Err(gix::error::unauthenticated(
                    "the server asks for credentials and none are configured for this URL",
                )
                .into()),
            }
        }
    }

    /// The refs the remote advertises (branches, tags peeled, `HEAD`).
    pub fn list_refs(&self, repo: &gix::Repository) -> Result<Vec<RemoteRef>, SourceError> {
        self.check_interrupt()?;
        self.progress.event(&ProgressEvent::ListingRefs);
        let remote = self.remote(repo, &["+refs/heads/*:refs/remotes/origin/*".to_string()])?;
        let con = remote
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| self.ctx.from_gix(&e))?
            .with_credentials(self.authenticate());
        let opts = gix::remote::ref_map::Options {
            prefix_from_spec_as_filter_on_remote: false,
            ..Default::default()
        };
        let (map, _) = con
            .ref_map(gix::progress::Discard, opts)
            .map_err(|e| self.ctx.from_gix(&e))?;
        Ok(map.remote_refs.iter().filter_map(to_remote_ref).collect())
    }

    /// Fetch `specs` (`+src:dst`, or a bare object id) at `shallow`.
    pub fn fetch(
        &self,
        repo: &gix::Repository,
        specs: &[String],
        shallow: gix::remote::fetch::Shallow,
    ) -> Result<(), SourceError> {
        self.check_interrupt()?;
        self.progress.event(&ProgressEvent::Fetching {
            refspecs: specs.to_vec(),
        });
        let remote = self.remote(repo, specs)?;
        let con = remote
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| self.ctx.from_gix(&e))?
            .with_credentials(self.authenticate());
        let opts = gix::remote::ref_map::Options {
            prefix_from_spec_as_filter_on_remote: true,
            ..Default::default()
        };
        let outcome = con
            .prepare_fetch(gix::progress::Discard, opts)
            .map_err(|e| self.ctx.from_gix(&e))?
            .with_shallow(shallow)
            .receive(gix::progress::Discard, self.interrupt)
            .map_err(|e| self.ctx.from_gix(&e))?;
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
    let (name, id, symref) = match r {
        Ref::Peeled {
            full_ref_name,
            object,
            ..
        }
        | Ref::Direct {
            full_ref_name,
            object,
        } => (full_ref_name, *object, None),
        Ref::Symbolic {
            full_ref_name,
            target,
            object,
            ..
        } => (
            full_ref_name,
            *object,
            Some(target.to_str_lossy().into_owned()),
        ),
        Ref::Unborn { .. } => return None,
    };
    Some(RemoteRef {
        name: name.to_str_lossy().into_owned(),
        id,
        symref,
    })
}
