//! A real PowerDNS authoritative server (Debian `pdns-server` with the
//! SQLite backend `pdns-backend-sqlite3`) on 127.0.0.1, with its HTTP API
//! on its own port and a random API key, plus `dig` (Debian `dnsutils`)
//! to ask it questions the way a resolver does.
//!
//! [`PowerDns::start`] creates the SQLite database from the schema the
//! package ships (with `sqlite3`), picks free ports, starts `pdns_server`
//! in the foreground with every setting on its command line (no config
//! file, no caches, so an API change is answered at once), and waits until
//! the API answers. Dropping it stops the server.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the SQLite schema.
const SCHEMAS: &[&str] = &[
    "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
    "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
];

/// A running PowerDNS server.
pub struct PowerDns {
    child: Child,
    dir: tempfile::TempDir,
    /// The DNS port (UDP and TCP) on 127.0.0.1.
    pub dns_port: u16,
    /// The HTTP API port on 127.0.0.1.
    pub api_port: u16,
    /// The API key.
    pub api_key: String,
}

impl Drop for PowerDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))
}

/// A random-looking key from the clock and the process id (no secret: the
/// server listens on loopback for one test).
fn key() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("k{:x}{:x}", n, std::process::id())
}

impl PowerDns {
    /// Whether `pdns_server`, its SQLite backend, `sqlite3` and `dig` are
    /// installed (`.ci/run` installs them).
    pub fn available() -> bool {
        Path::new("/usr/sbin/pdns_server").exists()
            && SCHEMAS.iter().any(|s| Path::new(s).exists())
            && Command::new("sqlite3").arg("-version").output().is_ok()
            && Command::new("dig").arg("-v").output().is_ok()
    }

    /// Start a server with an empty database.
    pub fn start() -> Result<PowerDns, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let schema = SCHEMAS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or("the PowerDNS SQLite schema is missing: apt-get install pdns-backend-sqlite3")?;
        let db = dir.path().join("pdns.sqlite3");
        let out = Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".read {}", schema.display()))
            .output()
            .map_err(|e| format!("cannot run sqlite3: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "sqlite3 could not create the database: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dns_port = free_port()?;
        let api_port = free_port()?;
        let api_key = key();
        let log = std::fs::File::create(dir.path().join("pdns.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new("/usr/sbin/pdns_server")
            .args([
                "--no-config",
                "--daemon=no",
                "--guardian=no",
                "--disable-syslog",
                "--write-pid=no",
                "--loglevel=5",
                "--local-address=127.0.0.1",
                "--launch=gsqlite3",
                "--api=yes",
                "--webserver=yes",
                "--webserver-address=127.0.0.1",
                "--webserver-allow-from=127.0.0.0/8",
                "--cache-ttl=0",
                "--query-cache-ttl=0",
                "--negquery-cache-ttl=0",
                "--zone-cache-refresh-interval=0",
                "--consistent-backends=yes",
            ])
            .arg(format!("--socket-dir={}", dir.path().display()))
            .arg(format!("--local-port={dns_port}"))
            .arg(format!("--gsqlite3-database={}", db.display()))
            .arg(format!("--webserver-port={api_port}"))
            .arg(format!("--api-key={api_key}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start pdns_server: {e}"))?;
        let mut pdns = PowerDns {
            child,
            dir,
            dns_port,
            api_port,
            api_key,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = pdns.child.try_wait() {
                return Err(format!("pdns_server exited ({status}): {}", pdns.log()));
            }
            if let Ok((200, _)) = pdns.api("GET", "/api/v1/servers/localhost", None) {
                return Ok(pdns);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "pdns_server did not answer in 20 s: {}",
                    pdns.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pdns.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:<api port>`.
    pub fn api_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// One API request with the key (HTTP/1.1, `Connection: close`):
    /// status and body.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String), String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.api_port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api_key,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        // Chunked bodies (PowerDNS does not chunk with Connection: close,
        // but be safe): keep only the JSON.
        let body = match (body.find(['{', '[']), body.rfind(['}', ']'])) {
            (Some(a), Some(b)) if b >= a && !body.starts_with(['{', '[']) => {
                body[a..=b].to_string()
            }
            _ => body,
        };
        Ok((status, body))
    }

    /// `dig +short @127.0.0.1 -p PORT name type`: the answers, sorted.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let out = Command::new("dig")
            .args(["+short", "+time=2", "+tries=1", "@127.0.0.1", "-p"])
            .arg(self.dns_port.to_string())
            .args([name, rtype])
            .output()
            .expect("dig runs");
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
}
