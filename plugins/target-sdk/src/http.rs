//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host lets a request through only to the Target's `allowedOrigins`
//! and adds the credentials itself: a plugin sends requests without any
//! secret, and a refused request comes back as an error saying so.

/// An HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, ...
    pub method: String,
    /// `scheme://host[:port]/path[?query]`.
    pub url: String,
    /// Headers (no credentials: the host adds those).
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// This request with a JSON body (and its content type).
    pub fn json(mut self, body: &serde_json::Value) -> Request {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = body.to_string().into_bytes();
        self
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Split `scheme://authority/path?query`.
pub fn split_url(url: &str) -> Result<(&str, &str, &str), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok((scheme, authority, path))
}

/// Send `req` and wait for the whole response. `Err` is a sentence saying
/// why there is no response (refused by the host, connection failed, ...).
#[cfg(target_family = "wasm")]
pub fn send(req: &Request) -> Result<Response, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    let (scheme, authority, path) = split_url(&req.url)?;
    let headers = Fields::new();
    for (k, v) in &req.headers {
        headers
            .append(k, v.as_bytes())
            .map_err(|e| format!("header {k}: {e:?}"))?;
    }
    // A body goes with its length (not chunked): some servers accept
    // nothing else.
    if !req.body.is_empty()
        && !req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        headers
            .append("content-length", req.body.len().to_string().as_bytes())
            .map_err(|e| format!("header content-length: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    let method = match req.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let bad = |what: &str| format!("{} {}: invalid {what}", req.method, req.url);
    request.set_method(&method).map_err(|()| bad("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| bad("host"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;
    let body = request.body().map_err(|()| bad("body"))?;
    let future = outgoing_handler::handle(request, None)
        .map_err(|e| format!("{} {}: {e:?}", req.method, req.url))?;
    {
        let stream = body.write().map_err(|()| bad("body stream"))?;
        for chunk in req.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("{} {}: writing the body: {e:?}", req.method, req.url))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{} {}: {e:?}", req.method, req.url))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(describe_error(&req.method, &req.url, &e)),
        Some(Err(())) | None => {
            return Err(format!("{} {}: no response", req.method, req.url));
        }
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| bad("response body"))?;
    let stream = incoming.stream().map_err(|()| bad("response stream"))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!(
                    "{} {}: reading the response: {}",
                    req.method,
                    req.url,
                    e.to_debug_string()
                ));
            }
        }
    }
    Ok(Response { status, body: out })
}

#[cfg(target_family = "wasm")]
fn describe_error(method: &str, url: &str, e: &wasip2::http::types::ErrorCode) -> String {
    use wasip2::http::types::ErrorCode;
    match e {
        ErrorCode::HttpRequestDenied => format!(
            "{method} {url}: refused by the host (its origin is not in the Target's allowedOrigins)"
        ),
        ErrorCode::ConnectionRefused => format!("{method} {url}: connection refused"),
        ErrorCode::ConnectionTimeout => format!("{method} {url}: connection timed out"),
        ErrorCode::HttpResponseBodySize(_) => {
            format!("{method} {url}: the response is larger than the host allows")
        }
        other => format!("{method} {url}: {other:?}"),
    }
}

/// Outside Wasm there is no network: every request fails (plugin logic is
/// unit-tested natively without it).
#[cfg(not(target_family = "wasm"))]
pub fn send(req: &Request) -> Result<Response, String> {
    Err(format!(
        "{} {}: HTTP is only available inside the sluice sandbox",
        req.method, req.url
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8081/api/v1?x=1").expect("ok"),
            ("http", "127.0.0.1:8081", "/api/v1?x=1")
        );
        assert_eq!(split_url("https://h").expect("ok"), ("https", "h", "/"));
        assert!(
            split_url("h/x")
                .expect_err("relative")
                .contains("not an absolute URL")
        );
    }
}
