//! A small HTTP/1.1 server running `git http-backend` as CGI, with
//! keep-alive, chunked request bodies, and auth on `private*` repositories.
//! A repository can be switched to a failure mode ([`HttpMode`]) to test
//! how clients cope with a broken or slow server.

use super::{PASSWORD, TOKEN, USER};
use base64::Engine;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// How the HTTP server answers requests for one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpMode {
    /// Serve it normally.
    #[default]
    Normal,
    /// Answer every request with this status and a short text body.
    Status(u16),
    /// Read each request and never answer (the connection is closed after
    /// two minutes).
    Stall,
    /// Serve normally, but send the response to a fetch (protocol v2
    /// `command=fetch`, which carries the pack) `bytes` bytes at a time,
    /// pausing `every` between writes.
    Trickle {
        /// Bytes per write.
        bytes: usize,
        /// Pause between writes.
        every: Duration,
    },
}

static MODES: Mutex<Option<HashMap<String, HttpMode>>> = Mutex::new(None);

/// Set how requests for repository `name` are answered.
pub fn set_mode(name: &str, mode: HttpMode) {
    if let Ok(mut m) = MODES.lock() {
        m.get_or_insert_with(HashMap::new)
            .insert(name.to_string(), mode);
    }
}

fn mode_for(path: &str) -> HttpMode {
    let name = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let name = name.strip_suffix(".git").unwrap_or(name);
    MODES
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(name).copied()))
        .unwrap_or_default()
}

/// Listen on 127.0.0.1 and serve `repos` from a background thread; with
/// `tls`, over HTTPS.
pub fn start(
    repos: PathBuf,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::Builder::new()
        .name("git-http".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let repos = repos.clone();
                let tls = tls.clone();
                let _ = std::thread::Builder::new()
                    .name("git-http-conn".into())
                    .spawn(move || {
                        // One write per response and no Nagle delay:
                        // otherwise small writes meet the peer's delayed
                        // ACK and every request waits ~40 ms.
                        if stream.set_nodelay(true).is_err() {
                            return;
                        }
                        let _ = match tls {
                            None => serve(stream, &repos),
                            Some(config) => match rustls::ServerConnection::new(config) {
                                Ok(conn) => serve(rustls::StreamOwned::new(conn, stream), &repos),
                                Err(_) => return,
                            },
                        };
                    });
            }
        })?;
    Ok(port)
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request<R: BufRead>(r: &mut R) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        req.body = vec![0; n];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn authorized(req: &Request) -> bool {
    let repo = req.path.trim_start_matches('/');
    if !repo.starts_with("private") {
        return true;
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    matches!(req.header("authorization"), Some(a) if a == format!("Basic {basic}") || a == format!("Bearer {TOKEN}"))
}

fn serve<S: Read + Write>(stream: S, repos: &std::path::Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let out = reader.get_mut();
        let mode = mode_for(&req.path);
        match mode {
            HttpMode::Status(code) => {
                let body = format!("failure mode: HTTP {code}\n");
                write!(
                    out,
                    "HTTP/1.1 {code} Failure Mode\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                continue;
            }
            HttpMode::Stall => {
                std::thread::sleep(Duration::from_secs(120));
                return Ok(());
            }
            HttpMode::Normal | HttpMode::Trickle { .. } => {}
        }
        if !authorized(&req) {
            let body = "authentication required\n";
            write!(
                out,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            continue;
        }
        let (status, headers, body) = cgi(&req, repos)?;
        let mut response = format!("HTTP/1.1 {status}\r\n");
        for (k, v) in &headers {
            response.push_str(&format!("{k}: {v}\r\n"));
        }
        response.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = response.into_bytes();
        let is_fetch = req.body.windows(13).any(|w| w == b"command=fetch");
        if let (HttpMode::Trickle { bytes: n, every }, true) = (mode, is_fetch) {
            out.write_all(&bytes)?;
            for chunk in body.chunks(n.max(1)) {
                std::thread::sleep(every);
                out.write_all(chunk)?;
                out.flush()?;
            }
            continue;
        }
        bytes.extend_from_slice(&body);
        out.write_all(&bytes)?;
        out.flush()?;
    }
    Ok(())
}

type Response = (String, Vec<(String, String)>, Vec<u8>);

fn cgi(req: &Request, repos: &std::path::Path) -> std::io::Result<Response> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", repos)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", &req.path)
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (cgi_name, header) in [
        ("CONTENT_TYPE", "content-type"),
        ("HTTP_GIT_PROTOCOL", "git-protocol"),
        ("HTTP_CONTENT_ENCODING", "content-encoding"),
    ] {
        if let Some(v) = req.header(header) {
            cmd.env(cgi_name, v);
        }
    }
    if req.header("authorization").is_some() {
        cmd.env("REMOTE_USER", USER);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let body = req.body.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let mut raw = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?
        .read_to_end(&mut raw)?;
    let _ = writer.join();
    child.wait()?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Ok(("500 Internal Server Error".into(), Vec::new(), raw));
    };
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(&raw[..end]).lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("status") {
                status = v.trim().to_string();
            } else {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    Ok((status, headers, raw[end + sep..].to_vec()))
}
