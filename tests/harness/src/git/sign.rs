//! Signing keys for signed-commit tests, made with the real tools once per
//! test binary: two OpenPGP keys in a GnuPG home (`gpg`, no passphrase)
//! and two SSH keys (`ssh-keygen`). One of each is "trusted" (its public
//! key is in [`Signing::keys_file`]); the other is a stranger.
//!
//! Fixtures sign with `git commit -S` / `git tag -s` exactly as a user
//! would ([`Fixture::commit_signed`](super::Fixture::commit_signed),
//! [`Fixture::tag_signed`](super::Fixture::tag_signed)). A watchdog stops
//! the GnuPG agent once the test process is gone.

use super::run;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Who signs a commit or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The trusted OpenPGP key.
    Pgp,
    /// An OpenPGP key that is not in the keys file.
    PgpStranger,
    /// The trusted SSH key.
    Ssh,
    /// An SSH key that is not in the keys file.
    SshStranger,
}

/// The keys of this run.
#[derive(Debug)]
pub struct Signing {
    /// The GnuPG home holding both OpenPGP keys.
    pub gnupg_home: PathBuf,
    /// Fingerprint of the trusted OpenPGP key.
    pub pgp: String,
    /// Fingerprint of the stranger OpenPGP key.
    pub pgp_stranger: String,
    /// Private key file of the trusted SSH key.
    pub ssh: PathBuf,
    /// Private key file of the stranger SSH key.
    pub ssh_stranger: PathBuf,
    /// The trusted OpenPGP public key, ASCII-armored.
    pub pgp_public: String,
    /// The trusted SSH public key as an `allowed_signers` line.
    pub ssh_allowed: String,
    /// A keys file holding both trusted keys.
    pub keys_file: PathBuf,
}

static SIGNING: OnceLock<Signing> = OnceLock::new();

/// The signing keys, made on first use under `root`.
pub(crate) fn signing(root: &Path) -> &'static Signing {
    SIGNING.get_or_init(|| Signing::make(&root.join("signing")).expect("make signing keys"))
}

fn gpg(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.arg("--homedir").arg(home).args([
        "--batch",
        "--no-tty",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ]);
    c
}

fn fingerprint(home: &Path, uid: &str) -> std::io::Result<String> {
    let out = run(gpg(home).args(["--with-colons", "--list-keys", uid]))?;
    out.lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .map(str::to_string)
        .ok_or_else(|| std::io::Error::other(format!("no fingerprint for {uid} in {out}")))
}

impl Signing {
    fn make(dir: &Path) -> std::io::Result<Signing> {
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))?;
        }
        stop_agent_at_exit(&home)?;
        for uid in [
            "Trusted Signer <trusted@sluice.test>",
            "Stranger <stranger@sluice.test>",
        ] {
            run(gpg(&home).args(["--quick-gen-key", uid, "ed25519", "sign", "never"]))?;
        }
        let pgp = fingerprint(&home, "trusted@sluice.test")?;
        let pgp_stranger = fingerprint(&home, "stranger@sluice.test")?;
        let pgp_public = run(gpg(&home).args(["--armor", "--export", &pgp]))?;
        let keygen = |name: &str| -> std::io::Result<(PathBuf, String)> {
            let path = dir.join(name);
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(&path))?;
            let public = std::fs::read_to_string(path.with_extension("pub"))?;
            Ok((path, public.trim().to_string()))
        };
        let (ssh, ssh_pub) = keygen("ssh_signer")?;
        let (ssh_stranger, _) = keygen("ssh_stranger")?;
        let ssh_allowed = format!("trusted@sluice.test namespaces=\"git\" {ssh_pub}");
        let keys_file = dir.join("trusted-keys");
        std::fs::write(
            &keys_file,
            format!("# trusted signers\n{pgp_public}\n{ssh_allowed}\n"),
        )?;
        Ok(Signing {
            gnupg_home: home,
            pgp,
            pgp_stranger,
            ssh,
            ssh_stranger,
            pgp_public,
            ssh_allowed,
            keys_file,
        })
    }

    /// `git -c …` arguments that make `-S` / `-s` sign as `signer`.
    pub fn git_config(&self, signer: Signer) -> Vec<String> {
        let (format, key) = match signer {
            Signer::Pgp => ("openpgp", self.pgp.clone()),
            Signer::PgpStranger => ("openpgp", self.pgp_stranger.clone()),
            Signer::Ssh => ("ssh", self.ssh.display().to_string()),
            Signer::SshStranger => ("ssh", self.ssh_stranger.display().to_string()),
        };
        vec![
            "-c".into(),
            format!("gpg.format={format}"),
            "-c".into(),
            format!("user.signingkey={key}"),
        ]
    }
}

/// Kill the GnuPG agent of `home` once this process is gone.
fn stop_agent_at_exit(home: &Path) -> std::io::Result<()> {
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 0.5; done; gpgconf --homedir '{}' --kill all",
        std::process::id(),
        home.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(())
}

/// OpenPGP keys whose clock is set: a GnuPG home of its own, every `gpg`
/// run with `--faked-system-time`, so a key can be made, sign, expire and
/// be revoked at chosen dates in the past (or sign in the future). Times
/// are GnuPG's `YYYYMMDDTHHMMSS` (UTC). Keys have no passphrase.
#[derive(Debug)]
pub struct TimedGpg {
    /// The GnuPG home.
    pub home: PathBuf,
}

impl TimedGpg {
    /// A fresh GnuPG home under `dir`.
    pub fn new(dir: &Path) -> std::io::Result<TimedGpg> {
        let home = dir.join("gnupg-timed");
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))?;
        }
        stop_agent_at_exit(&home)?;
        Ok(TimedGpg { home })
    }

    fn gpg_at(&self, at: &str) -> Command {
        let mut c = gpg(&self.home);
        c.args(["--yes", "--faked-system-time", &format!("{at}!")]);
        c
    }

    /// Make a signing key for `uid` at `at`, never expiring; its
    /// fingerprint.
    pub fn key(&self, uid: &str, at: &str) -> std::io::Result<String> {
        run(self
            .gpg_at(at)
            .args(["--quick-gen-key", uid, "ed25519", "sign", "never"]))?;
        fingerprint(&self.home, uid)
    }

    /// Make a certification-only primary key for `uid` at `at` with one
    /// signing subkey (what signs), neither expiring; their fingerprints
    /// (primary, subkey).
    pub fn key_with_signing_subkey(
        &self,
        uid: &str,
        at: &str,
    ) -> std::io::Result<(String, String)> {
        run(self
            .gpg_at(at)
            .args(["--quick-gen-key", uid, "ed25519", "cert", "never"]))?;
        let primary = fingerprint(&self.home, uid)?;
        run(self
            .gpg_at(at)
            .args(["--quick-add-key", &primary, "ed25519", "sign", "never"]))?;
        let listing = run(gpg(&self.home).args(["--with-colons", "--list-keys", &primary]))?;
        let sub = listing
            .lines()
            .filter_map(|l| l.strip_prefix("fpr:"))
            .filter_map(|l| l.split(':').find(|f| f.len() == 40))
            .nth(1)
            .map(str::to_string)
            .ok_or_else(|| std::io::Error::other(format!("no subkey in {listing}")))?;
        Ok((primary, sub))
    }

    /// At `at`, make key `fpr` expire on `date` (`YYYY-MM-DD`), with a new
    /// self-signature (`gpg --quick-set-expire`).
    pub fn set_expire(&self, fpr: &str, at: &str, date: &str) -> std::io::Result<()> {
        run(self.gpg_at(at).args(["--quick-set-expire", fpr, date])).map(drop)
    }

    /// At `at`, make subkey `sub` of key `fpr` expire on `date`, with a new
    /// binding signature.
    pub fn set_subkey_expire(
        &self,
        fpr: &str,
        sub: &str,
        at: &str,
        date: &str,
    ) -> std::io::Result<()> {
        run(self.gpg_at(at).args(["--quick-set-expire", fpr, date, sub])).map(drop)
    }

    /// At `at`, revoke key `fpr` (`gpg --edit-key revkey`) for `reason`:
    /// GnuPG's menu number (0 none given, 1 compromised, 2 superseded,
    /// 3 no longer used), with `text` as the description.
    pub fn revoke(&self, fpr: &str, at: &str, reason: u8, text: &str) -> std::io::Result<()> {
        self.edit_revoke(fpr, "", at, reason, text, "pub:r:")
    }

    /// [`TimedGpg::revoke`] for the first subkey of key `fpr`.
    pub fn revoke_subkey(
        &self,
        fpr: &str,
        at: &str,
        reason: u8,
        text: &str,
    ) -> std::io::Result<()> {
        self.edit_revoke(fpr, "key 1\n", at, reason, text, "sub:r:")
    }

    fn edit_revoke(
        &self,
        fpr: &str,
        select: &str,
        at: &str,
        reason: u8,
        text: &str,
        revoked: &str,
    ) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut child = self
            .gpg_at(at)
            .args(["--command-fd", "0", "--edit-key", fpr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            write!(stdin, "{select}revkey\ny\n{reason}\n{text}\n\ny\nsave\n")?;
        }
        let out = child.wait_with_output()?;
        let listing = run(gpg(&self.home).args(["--with-colons", "--list-keys", fpr]))?;
        if !listing.lines().any(|l| l.starts_with(revoked)) {
            return Err(std::io::Error::other(format!(
                "gpg did not revoke {fpr}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Key `fpr`, ASCII-armored, as it is now (with its expiry and
    /// revocations).
    pub fn export(&self, fpr: &str) -> std::io::Result<String> {
        run(gpg(&self.home).args(["--armor", "--export", fpr]))
    }

    /// `git -c …` arguments that make `commit -S` sign with `fpr` at `at`
    /// (through a `gpg.program` script that fakes the time).
    pub fn git_config(&self, fpr: &str, at: &str) -> std::io::Result<Vec<String>> {
        let program = self.home.join(format!("gpg-at-{at}"));
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nexec gpg --homedir '{}' --faked-system-time '{at}!' \"$@\"\n",
                self.home.display()
            ),
        )?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(vec![
            "-c".into(),
            "gpg.format=openpgp".into(),
            "-c".into(),
            format!("gpg.program={}", program.display()),
            "-c".into(),
            format!("user.signingkey={fpr}"),
        ])
    }
}
