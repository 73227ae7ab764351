//! Real Git servers on 127.0.0.1: smart HTTP, git daemon, sshd.
//!
//! [`server()`] starts, once per test binary, all three over one directory
//! of bare repositories:
//! - smart HTTP: `git http-backend` run as CGI behind a small HTTP/1.1
//!   server in this process ([`http`](self) below); repositories whose name
//!   starts with `private` need basic auth ([`USER`]/[`PASSWORD`]) or the
//!   bearer token [`TOKEN`]; the same server also listens behind TLS
//!   ([`GitServer::https_url`]) with a CA and certificate made for the run
//!   ([`Tls`]);
//! - `git daemon` for `git://`;
//! - `sshd` (OpenSSH) on a loopback port, with a host key and a client key
//!   generated for the run, a known_hosts file and an ssh config naming the
//!   host `gitserver` (so scp-like URLs can carry the port).
//!
//! Signed commits and tags are made with real `gpg` and `ssh-keygen` keys
//! generated for the run ([`GitServer::signing`], [`Fixture::commit_signed`]).
//!
//! Repositories are made by shell scripts run with fixed author and
//! committer dates, so commit ids are the same on every run. A watchdog
//! shell loop kills the servers and deletes the directory once the test
//! process is gone (statics never drop).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// User name the HTTP server accepts for private repositories.
pub const USER: &str = "alice";
/// Password the HTTP server accepts for private repositories.
pub const PASSWORD: &str = "s3cret-pa55";
/// Bearer token the HTTP server accepts for private repositories.
pub const TOKEN: &str = "tok-0123456789";
/// Fixed date of every commit made by fixtures.
pub const DATE: &str = "2026-01-01T00:00:00Z";

/// The running servers.
#[derive(Debug)]
pub struct GitServer {
    root: PathBuf,
    http_port: u16,
    https: Option<(u16, Tls)>,
    daemon_port: u16,
    ssh: Option<Ssh>,
}

/// SSH server details.
#[derive(Debug, Clone)]
pub struct Ssh {
    /// Port sshd listens on.
    pub port: u16,
    /// The login user (the current user).
    pub user: String,
    /// Client private key authorised by the server.
    pub private_key: PathBuf,
    /// A known_hosts file holding the server's host key.
    pub known_hosts: PathBuf,
    /// A known_hosts file holding a different key (for refusal tests).
    pub wrong_known_hosts: PathBuf,
    /// An ssh config file: `Host gitserver` → 127.0.0.1 on [`Ssh::port`].
    pub config: PathBuf,
}

static SERVER: OnceLock<GitServer> = OnceLock::new();

/// The servers of this test binary, started on first use.
pub fn server() -> &'static GitServer {
    SERVER.get_or_init(|| GitServer::start().expect("start git servers"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn run(cmd: &mut Command) -> std::io::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl GitServer {
    fn start() -> std::io::Result<GitServer> {
        let root = tempfile::Builder::new()
            .prefix("sluice-git-")
            .tempdir()?
            .keep();
        for d in ["repos", "work", "home"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let repos = root.join("repos");
        let http_port = http::start(repos.clone(), None)?;
        let https = match tls::make(&root).and_then(|t| Ok((tls::server_config(&t)?, t))) {
            Ok((config, t)) => Some((http::start(repos.clone(), Some(config))?, t)),
            Err(e) => {
                eprintln!(
                    "sluice-testkit: no TLS (is openssl installed?), https tests will fail: {e}"
                );
                None
            }
        };
        let daemon_port = free_port()?;
        let daemon = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={daemon_port}"))
            .arg(format!("--base-path={}", repos.display()))
            .arg(&repos)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut pids = vec![daemon.id()];
        if !wait_port(daemon_port) {
            return Err(std::io::Error::other("git daemon did not start"));
        }
        let ssh = match ssh::start(&root) {
            Ok((ssh, pid)) => {
                pids.push(pid);
                Some(ssh)
            }
            Err(e) => {
                eprintln!("sluice-testkit: sshd not available, ssh tests will fail: {e}");
                None
            }
        };
        watchdog(&pids, &root)?;
        Ok(GitServer {
            root,
            http_port,
            https,
            daemon_port,
            ssh,
        })
    }

    /// The directory of bare repositories.
    pub fn repos(&self) -> PathBuf {
        self.root.join("repos")
    }

    /// The bare repository `name` on disk.
    pub fn path(&self, name: &str) -> PathBuf {
        self.repos().join(format!("{name}.git"))
    }

    /// `http://127.0.0.1:PORT/NAME.git`.
    pub fn http_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.http_port)
    }

    /// `https://127.0.0.1:PORT/NAME.git`: the same server behind TLS, with
    /// a certificate signed by [`Tls::ca`]; panics when TLS could not be
    /// set up.
    pub fn https_url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}.git", self.https_port())
    }

    /// The HTTPS server's port.
    pub fn https_port(&self) -> u16 {
        self.https
            .as_ref()
            .map(|(p, _)| *p)
            .expect("the HTTPS server is not running (install openssl)")
    }

    /// The HTTPS server's certificates (its CA, and a CA that did not sign it).
    pub fn tls(&self) -> &Tls {
        &self
            .https
            .as_ref()
            .expect("the HTTPS server is not running (install openssl)")
            .1
    }

    /// Make the HTTP server answer requests for repository `name` this way
    /// (for failure tests; [`HttpMode::Normal`] restores it).
    pub fn set_http_mode(&self, name: &str, mode: HttpMode) {
        http::set_mode(name, mode);
    }

    /// `git://127.0.0.1:PORT/NAME.git`.
    pub fn git_url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.daemon_port)
    }

    /// `file:///…/NAME.git`.
    pub fn file_url(&self, name: &str) -> String {
        format!("file://{}", self.path(name).display())
    }

    /// The sshd details; panics when sshd could not be started.
    pub fn ssh(&self) -> &Ssh {
        self.ssh
            .as_ref()
            .expect("sshd is not running (install openssh-server)")
    }

    /// `ssh://USER@127.0.0.1:PORT/…/NAME.git`.
    pub fn ssh_url(&self, name: &str) -> String {
        let s = self.ssh();
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            s.user,
            s.port,
            self.path(name).display()
        )
    }

    /// `USER@gitserver:/…/NAME.git` (scp-like; the port comes from the ssh
    /// config file [`Ssh::config`]).
    pub fn scp_url(&self, name: &str) -> String {
        format!(
            "{}@gitserver:{}",
            self.ssh().user,
            self.path(name).display()
        )
    }

    /// The OpenPGP and SSH signing keys of this run, made on first use.
    pub fn signing(&self) -> &'static Signing {
        sign::signing(&self.root)
    }

    /// Make repository `name` (bare, served by every server) by running
    /// `script` with `sh` in a fresh work tree on branch `main`; the work
    /// tree's branches and tags are then force-pushed.
    pub fn create(&self, name: &str, script: &str) -> Fixture {
        let f = Fixture {
            name: name.to_string(),
            work: self.root.join("work").join(name),
            bare: self.path(name),
            home: self.root.join("home"),
        };
        let _ = std::fs::remove_dir_all(&f.work);
        let _ = std::fs::remove_dir_all(&f.bare);
        run(Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&f.bare))
        .expect("git init --bare");
        run(Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .arg(&f.work))
        .expect("git init");
        f.git(&["remote", "add", "origin", &f.bare.display().to_string()]);
        f.run(script);
        f
    }
}

/// A repository made by [`GitServer::create`], with its work tree.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The repository name (URL path without `.git`).
    pub name: String,
    /// The work tree the scripts run in.
    pub work: PathBuf,
    /// The bare repository the servers serve.
    pub bare: PathBuf,
    home: PathBuf,
}

impl Fixture {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.work)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Fixture")
            .env("GIT_AUTHOR_EMAIL", "fixture@sluice.test")
            .env("GIT_COMMITTER_NAME", "Fixture")
            .env("GIT_COMMITTER_EMAIL", "fixture@sluice.test")
            .env("GIT_AUTHOR_DATE", DATE)
            .env("GIT_COMMITTER_DATE", DATE)
            .env("GIT_ALLOW_PROTOCOL", "file");
        c
    }

    /// Run a `git` command in the work tree; its stdout.
    pub fn git(&self, args: &[&str]) -> String {
        run(self.command("git").args(args)).expect("git command")
    }

    /// Run `script` with `sh -e` in the work tree, then force-push every
    /// branch and tag and prune what was deleted locally.
    pub fn run(&self, script: &str) {
        run(self.command("sh").args(["-ec", script])).expect("fixture script");
        self.push();
    }

    /// Force-push all branches and tags, deleting remote ones that no longer
    /// exist locally.
    pub fn push(&self) {
        let has_commits = self
            .command("git")
            .args(["rev-parse", "-q", "--verify", "HEAD"])
            .output()
            .is_ok_and(|o| o.status.success());
        if has_commits {
            self.git(&[
                "push",
                "-q",
                "--force",
                "--prune",
                "origin",
                "refs/heads/*:refs/heads/*",
                "refs/tags/*:refs/tags/*",
            ]);
        }
    }

    /// The commit id `rev` names in the work tree.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", &format!("{rev}^{{commit}}")])
            .trim()
            .to_string()
    }

    /// Commit `files` (path, content) on the current branch.
    pub fn commit_files(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (p, c) in files {
            let p = self.work.join(p);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("mkdir");
            }
            std::fs::write(p, c).expect("write");
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.push();
        self.rev("HEAD")
    }

    /// Rewrite history: replace the tip of `branch` with a new commit on its
    /// parent, and force-push. Returns the new commit.
    pub fn force_push(&self, branch: &str, file: &str, content: &str) -> String {
        self.git(&["checkout", "-q", branch]);
        self.git(&["reset", "-q", "--hard", "HEAD~1"]);
        self.commit_files(&format!("rewrite {file}"), &[(file, content)])
    }

    /// Delete `branch` locally and on the server.
    pub fn delete_branch(&self, branch: &str) {
        self.git(&["push", "-q", "origin", &format!(":refs/heads/{branch}")]);
        self.git(&["branch", "-q", "-D", branch]);
    }

    /// Tag `rev` as `tag` (annotated when `annotated`) and push.
    pub fn tag(&self, tag: &str, rev: &str, annotated: bool) {
        if annotated {
            self.git(&["tag", "-a", "-m", tag, tag, rev]);
        } else {
            self.git(&["tag", tag, rev]);
        }
        self.push();
    }

    /// Run `git` with `args`, set up to sign as `signer` (`commit -S`,
    /// `tag -s`); its stdout.
    pub fn git_signed(&self, signer: Signer, args: &[&str]) -> String {
        let signing = sign::signing(self.home.parent().unwrap_or(&self.home));
        run(self
            .command("git")
            .env("GNUPGHOME", &signing.gnupg_home)
            .args(signing.git_config(signer))
            .args(args))
        .expect("signed git command")
    }

    /// Commit `files` (path, content) on the current branch, signed by
    /// `signer`, and push; the new commit.
    pub fn commit_signed(&self, message: &str, files: &[(&str, &str)], signer: Signer) -> String {
        for (p, c) in files {
            let p = self.work.join(p);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("mkdir");
            }
            std::fs::write(p, c).expect("write");
        }
        self.git(&["add", "-A"]);
        self.git_signed(
            signer,
            &["commit", "-q", "-S", "--allow-empty", "-m", message],
        );
        self.push();
        self.rev("HEAD")
    }

    /// Commit `files` on the current branch signed by OpenPGP key `fpr`
    /// of `gpg` at time `at` (see [`TimedGpg`]), and push; the new commit.
    pub fn commit_signed_at(
        &self,
        message: &str,
        files: &[(&str, &str)],
        gpg: &TimedGpg,
        fpr: &str,
        at: &str,
    ) -> String {
        for (p, c) in files {
            let p = self.work.join(p);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("mkdir");
            }
            std::fs::write(p, c).expect("write");
        }
        self.git(&["add", "-A"]);
        let config = gpg.git_config(fpr, at).expect("gpg program");
        run(self
            .command("git")
            .env("GNUPGHOME", &gpg.home)
            .args(config)
            .args(["commit", "-q", "-S", "--allow-empty", "-m", message]))
        .expect("signed commit");
        self.push();
        self.rev("HEAD")
    }

    /// Tag `rev` as `tag`, annotated and signed by `signer`, and push.
    pub fn tag_signed(&self, tag: &str, rev: &str, signer: Signer) {
        self.git_signed(signer, &["tag", "-s", "-m", tag, tag, rev]);
        self.push();
    }

    /// Commit `count` small YAML files under `dir` in one commit.
    pub fn add_many_files(&self, dir: &str, count: usize) -> String {
        for i in 0..count {
            let p = self
                .work
                .join(dir)
                .join(format!("d{:03}", i / 100))
                .join(format!("f{i:05}.yaml"));
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("mkdir");
            }
            std::fs::write(p, format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  index: \"{i}\"\n")).expect("write");
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", &format!("{count} files")]);
        self.push();
        self.rev("HEAD")
    }
}

/// Kill `pids` and delete `root` once this process is gone.
fn watchdog(pids: &[u32], root: &Path) -> std::io::Result<()> {
    let me = std::process::id();
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill {list} 2>/dev/null; sleep 0.5; kill -9 {list} 2>/dev/null; rm -rf '{}'",
        root.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(())
}

mod http;
mod sign;
mod ssh;
pub(crate) mod tls;

pub use http::HttpMode;
pub use sign::{Signer, Signing, TimedGpg};
pub use tls::Tls;
