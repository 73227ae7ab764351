//! A real OCI registry (CNCF Distribution's `registry`) on 127.0.0.1, and a
//! small HTTPS file server, for the tests of plugins pulled by reference.
//!
//! - **Binaries.** `registry` (and `htpasswd`, a bcrypt line writer) are
//!   built from their published Go modules by `tests/registry/build.sh`
//!   into a cache outside the repository
//!   (`~/.cache/sluice/registry/<version>-<stamp>/`). The harness takes the
//!   directory from `SLUICE_REGISTRY_BIN` when it is set, otherwise it runs
//!   `build.sh` (which does nothing when the binaries are cached and prints
//!   the directory on its last line).
//! - **Servers.** [`Registry::start`] writes a configuration (filesystem
//!   storage in a temporary directory, a free 127.0.0.1 port), optionally
//!   with htpasswd authentication (bcrypt, as the registry requires) and
//!   TLS with a certificate from the Git harness's CA, starts `registry
//!   serve` and waits until it answers. [`Registry::stop`] kills it (to
//!   test a registry that is down); dropping it does too.
//! - [`FileServer`] serves the files of a directory over HTTPS (GET only,
//!   one request per connection), with the same CA.

use crate::git::Tls;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The user of an authenticated registry.
pub const USER: &str = "pusher";
/// Their password.
pub const PASSWORD: &str = "s3cret-registry-pw";

/// How to start a registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Require [`USER`]/[`PASSWORD`] (htpasswd, HTTP basic).
    pub auth: bool,
    /// Serve HTTPS with a certificate for 127.0.0.1 (else plain HTTP).
    pub tls: bool,
}

/// A running registry.
pub struct Registry {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`, as written in a reference.
    pub host: String,
    /// The certificates, when started with TLS.
    pub tls: Option<Tls>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))
}

/// Finds the directory holding `registry` and `htpasswd`.
pub fn find_binaries() -> Result<PathBuf, String> {
    let has_both = |d: &Path| d.join("registry").is_file() && d.join("htpasswd").is_file();
    if let Some(dir) = std::env::var_os("SLUICE_REGISTRY_BIN") {
        let dir = PathBuf::from(dir);
        if has_both(&dir) {
            return Ok(dir);
        }
        return Err(format!(
            "SLUICE_REGISTRY_BIN={} does not hold registry and htpasswd; \
             build them with `bash tests/registry/build.sh` (it prints their directory)",
            dir.display()
        ));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../registry/build.sh");
    crate::run_build_script(&script, has_both)?.map_err(|status| {
        format!(
            "the registry is not built and `bash {}` failed ({status}); it needs Go and the Go module proxy",
            script.display()
        )
    })
}

impl Registry {
    /// Start a registry with `opts`, with empty storage.
    pub fn start(opts: Options) -> Result<Registry, String> {
        let bin = find_binaries()?;
        let dir = tempfile::Builder::new()
            .prefix("sluice-registry-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let port = free_port()?;
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: sluice-test-secret\n",
            dir.path().join("data").display()
        );
        let tls = if opts.tls {
            let tls =
                crate::git::tls::make(dir.path()).map_err(|e| format!("certificates: {e}"))?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                tls.cert.display(),
                tls.key.display()
            ));
            Some(tls)
        } else {
            None
        };
        if opts.auth {
            let out = Command::new(bin.join("htpasswd"))
                .args([USER, PASSWORD])
                .output()
                .map_err(|e| format!("cannot run htpasswd: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "htpasswd failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).map_err(|e| format!("htpasswd file: {e}"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: sluice-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).map_err(|e| format!("config: {e}"))?;
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(bin.join("registry"))
            .arg("serve")
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start registry: {e}"))?;
        let mut reg = Registry {
            child: Some(child),
            dir,
            host,
            tls,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(reg);
            }
            if let Some(Ok(Some(status))) = reg.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "registry exited ({status}) before answering: {}",
                    reg.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "registry did not listen on {} within 30 s: {}",
                    reg.host,
                    reg.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's storage directory (filesystem driver).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the registry logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Stop the registry (its port then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTPS server for the files of a directory, on 127.0.0.1.
pub struct FileServer {
    /// The port.
    pub port: u16,
    /// The certificates (`tls.ca` signed the server's).
    pub tls: Tls,
    /// The directory served.
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

impl FileServer {
    /// Serve a new, empty directory ([`FileServer::root`]) over HTTPS from
    /// a background thread.
    pub fn start() -> Result<FileServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("sluice-files-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let tls = crate::git::tls::make(dir.path()).map_err(|e| format!("certificates: {e}"))?;
        let config = crate::git::tls::server_config(&tls).map_err(|e| format!("tls: {e}"))?;
        let root = dir.path().join("files");
        std::fs::create_dir_all(&root).map_err(|e| format!("files dir: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("bind: {e}"))?
            .port();
        let served = root.clone();
        std::thread::Builder::new()
            .name("https-files".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let config = config.clone();
                    let root = served.clone();
                    let _ = std::thread::Builder::new()
                        .name("https-files-conn".into())
                        .spawn(move || serve_one(stream, config, &root));
                }
            })
            .map_err(|e| format!("thread: {e}"))?;
        Ok(FileServer {
            port,
            tls,
            root,
            _dir: dir,
        })
    }

    /// The URL of `name` in the served directory.
    pub fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}", self.port)
    }
}

fn serve_one(stream: TcpStream, config: Arc<rustls::ServerConfig>, root: &Path) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    drop(reader);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let name = path.trim_start_matches('/');
    let file = (!name.is_empty() && !name.contains("..") && !name.contains('/'))
        .then(|| root.join(name))
        .and_then(|p| {
            let mut f = std::fs::File::open(p).ok()?;
            let mut body = Vec::new();
            f.read_to_end(&mut body).ok()?;
            Some(body)
        });
    let (status, body) = match file {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let _ = tls.write_all(&response);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
