//! A target plugin's only way out: `wasi:http` outgoing requests, vetted
//! and signed by the host.
//!
//! wasmtime-wasi-http implements `wasi:http/outgoing-handler` and hands
//! every request the guest sends to [`WasiHttpHooks::send_request`];
//! [`Hooks`] is sluice's implementation of those hooks, one per call:
//!
//! - **origins**: the request's origin (scheme, host, port; the port
//!   defaulted from the scheme) must be one of the Target's
//!   `allowedOrigins`, compared exactly (host case-insensitively). Anything
//!   else is refused *before* a connection is made: the guest gets
//!   `HTTP-request-denied`, and the refusal is logged under the target's
//!   name and remembered for the call's error message;
//! - **credentials**: the host adds the Target's credential header (an API
//!   key header, or `Authorization: Basic ...`) to each allowed request.
//!   The guest may not set that header itself (it is a forbidden header
//!   for it), and every response is scrubbed of the credential's value
//!   (headers and body) before the guest sees it, so a server that echoes
//!   request headers back cannot leak it into the sandbox;
//! - **limits**: a connect timeout, first-byte and between-bytes timeouts
//!   no longer than the host's, a response body cap (the body is read
//!   whole, up to the cap, so it can be scrubbed), and a cap on the number
//!   of requests per call. The whole call is still bounded by the plugin
//!   time limit.

use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt as _, Full, Limited};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

/// An origin requests may go to: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-case.
    pub host: String,
    /// The port (defaulted from the scheme when the URL has none).
    pub port: u16,
}

impl Origin {
    /// Parse `scheme://host[:port]` (a trailing `/` is allowed; a path,
    /// query or user info is not).
    pub fn parse(s: &str) -> Result<Origin, String> {
        let uri: http::Uri = s.parse().map_err(|e| format!("{s:?} is not a URL ({e})"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "{s:?} has a path or query; an origin is scheme://host:port only"
            ));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!(
                "{s:?} has user info; put credentials in spec.credentials"
            ));
        }
        Origin::of(&uri)
            .ok_or_else(|| format!("{s:?} is not an http:// or https:// URL with a host"))
    }

    /// The origin of a request URI, if it has an http(s) scheme and a host.
    pub fn of(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme()?;
        let default = if *scheme == Scheme::HTTP {
            80
        } else if *scheme == Scheme::HTTPS {
            443
        } else {
            return None;
        };
        let host = uri.host()?.to_ascii_lowercase();
        Some(Origin {
            scheme: scheme.as_str().to_ascii_lowercase(),
            host,
            port: uri.port_u16().unwrap_or(default),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A credential the host adds to allowed requests: one header.
#[derive(Clone)]
pub struct Credential {
    /// The header, e.g. `X-API-Key` or `Authorization`.
    pub header: HeaderName,
    /// Its value (secret).
    pub value: HeaderValue,
    /// Byte strings that must never reach the guest: the value, and for
    /// basic auth the `user:password` it encodes.
    pub secrets: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}: ********)", self.header)
    }
}

impl Credential {
    /// `header: value`. `None` when the value is not a valid header value
    /// (a newline, a control character).
    pub fn header(header: HeaderName, value: &str) -> Option<Credential> {
        let mut v = HeaderValue::from_str(value).ok()?;
        v.set_sensitive(true);
        Some(Credential {
            header,
            value: v,
            secrets: vec![value.as_bytes().to_vec()],
        })
    }

    /// `Authorization: Basic base64(user:password)` from `user:password`.
    pub fn basic(user_password: &str) -> Option<Credential> {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_password);
        let mut c = Credential::header(http::header::AUTHORIZATION, &format!("Basic {encoded}"))?;
        c.secrets.push(encoded.into_bytes());
        c.secrets.push(user_password.as_bytes().to_vec());
        Some(c)
    }
}

/// What a target's requests may do: where they may go, what the host adds,
/// and their limits. Shared by every call of the target.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The Target's name, for logs and messages.
    pub target: String,
    /// Where requests may go.
    pub origins: Vec<Origin>,
    /// What the host adds to each allowed request.
    pub credential: Option<Credential>,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for the first byte of a response, and between bytes.
    pub read_timeout: Duration,
    /// Largest response body (bytes).
    pub response_limit: usize,
    /// Most requests one call may send.
    pub max_requests: u32,
}

impl Outbound {
    /// Requests to `origins` only, no credential, default limits (connect
    /// 10 s, read 30 s, 16 MiB per response, 10,000 requests per call).
    pub fn new(target: &str, origins: Vec<Origin>) -> Outbound {
        Outbound {
            target: target.to_string(),
            origins,
            credential: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            response_limit: 16 << 20,
            max_requests: 10_000,
        }
    }
}

/// The requests one call refused, for its error message.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<String>>>);

impl Refusals {
    fn push(&self, s: String) {
        if let Ok(mut v) = self.0.lock()
            && v.len() < 16
        {
            v.push(s);
        }
    }

    /// What was refused, one line each.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// sluice's `wasi:http` hooks for one call (see the module docs).
pub struct Hooks {
    out: Arc<Outbound>,
    sent: u32,
    /// Requests refused in this call.
    pub refusals: Refusals,
}

impl Hooks {
    /// Hooks for one call of a target with `out`.
    pub fn new(out: Arc<Outbound>) -> Hooks {
        Hooks {
            out,
            sent: 0,
            refusals: Refusals::default(),
        }
    }
}

/// Replace every occurrence of each secret in `data` by `*`s.
fn scrub(data: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = data.to_vec();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let mut i = 0;
        while i + s.len() <= out.len() {
            if out[i..i + s.len()] == s[..] {
                out[i..i + s.len()].fill(b'*');
                i += s.len();
            } else {
                i += 1;
            }
        }
    }
    out
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let cred = self.out.credential.as_ref().map(|c| c.header.clone());
        Arc::new(move |name| {
            DEFAULT_FORBIDDEN_HEADERS.contains(name) || cred.as_ref() == Some(name)
        })
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        None
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let out = self.out.clone();
        let origin = Origin::of(request.uri());
        let allowed = origin.as_ref().is_some_and(|o| out.origins.contains(o));
        if !allowed {
            let what = origin.map_or_else(|| request.uri().to_string(), |o| o.to_string());
            tracing::warn!(
                target_name = %out.target,
                origin = %what,
                "refused an outgoing request from target plugin: origin not in allowedOrigins"
            );
            self.refusals.push(format!(
                "a request to {what} was refused: that origin is not in the Target's allowedOrigins"
            ));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        self.sent += 1;
        if self.sent > out.max_requests {
            self.refusals.push(format!(
                "more than {} requests in one call were refused",
                out.max_requests
            ));
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        }
        if let Some(c) = &out.credential {
            request
                .headers_mut()
                .insert(c.header.clone(), c.value.clone());
        }
        let clamp =
            |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |d| d.min(max)));
        let asked = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: clamp(asked.connect_timeout, out.connect_timeout),
            first_byte_timeout: clamp(asked.first_byte_timeout, out.read_timeout),
            between_bytes_timeout: clamp(asked.between_bytes_timeout, out.read_timeout),
        };
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            // The body only arrives while the connection is driven: drive
            // it on its own task while the body is read whole (and stop it,
            // closing the connection, when the body is over the cap).
            let conn = tokio::spawn(io);
            let (mut parts, body) = response.into_parts();
            let limit = out.response_limit;
            let body = match Limited::new(body, limit).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    conn.abort();
                    return Err(match e.downcast::<HttpError>() {
                        Ok(e) => *e,
                        Err(_) => HttpError::HttpResponseBodySize(Some(limit as u64)),
                    });
                }
            };
            let secrets = out
                .credential
                .as_ref()
                .map(|c| c.secrets.as_slice())
                .unwrap_or_default();
            let body = Bytes::from(scrub(&body, secrets));
            for v in parts.headers.values_mut() {
                let clean = scrub(v.as_bytes(), secrets);
                if clean != v.as_bytes()
                    && let Ok(c) = HeaderValue::from_bytes(&clean)
                {
                    *v = c;
                }
            }
            parts.headers.remove(http::header::CONTENT_LENGTH);
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            let body: WasiBody = Full::new(body).map_err(|e| match e {}).boxed_unsync();
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async move { conn.await.unwrap_or(Ok(())) });
            Ok((http::Response::from_parts(parts, body), io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        let o = Origin::parse("http://127.0.0.1:8081").expect("valid");
        assert_eq!(o.to_string(), "http://127.0.0.1:8081");
        assert_eq!(
            Origin::parse("HTTPS://Example.test/")
                .expect("valid")
                .to_string(),
            "https://example.test:443"
        );
        let uri: http::Uri = "http://127.0.0.1:8081/api/v1/servers".parse().expect("uri");
        assert_eq!(Origin::of(&uri), Some(o.clone()));
        let other: http::Uri = "http://127.0.0.1:8082/api".parse().expect("uri");
        assert_ne!(Origin::of(&other), Some(o));
        let err = Origin::parse("http://127.0.0.1:8081/api").expect_err("a path");
        assert!(
            err.contains("an origin is scheme://host:port only"),
            "{err}"
        );
        let err = Origin::parse("http://user:pw@h:1").expect_err("user info");
        assert!(err.contains("put credentials in spec.credentials"), "{err}");
        let err = Origin::parse("ftp://h").expect_err("scheme");
        assert!(err.contains("is not an http:// or https:// URL"), "{err}");
    }

    #[test]
    fn scrubbing_removes_every_occurrence_of_each_secret() {
        let c = Credential::basic("admin:s3cret").expect("valid");
        let echoed = format!(
            "authorization: {}; raw admin:s3cret; twice admin:s3cret",
            c.value.to_str().expect("ascii")
        );
        let clean = String::from_utf8(scrub(echoed.as_bytes(), &c.secrets)).expect("utf8");
        assert!(!clean.contains("s3cret"), "{clean}");
        assert!(!clean.contains("YWRtaW46czNjcmV0"), "{clean}");
        assert!(clean.starts_with("authorization: ******"), "{clean}");
        assert_eq!(format!("{c:?}"), "Credential(authorization: ********)");
    }
}
