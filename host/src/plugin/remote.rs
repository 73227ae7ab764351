//! Plugins from elsewhere: OCI registries and `https://` URLs, always
//! pinned by digest, cached by digest.
//!
//! # References
//!
//! - `oci://REGISTRY/REPO@sha256:DIGEST`: the manifest with that digest;
//! - `oci://REGISTRY/REPO:TAG@sha256:DIGEST`: the same, and the tag must
//!   still point at it (a tag that moved is refused, so a re-tag on the
//!   registry can never change what runs, nor go unnoticed);
//! - `https://HOST/…/x.wasm` with a required sha256 of the file.
//!
//! A reference without a digest is refused with what to do: `sluice plugin
//! push` prints the pinned form. Plain `http://` is refused: use `https://`
//! or a registry.
//!
//! # The artifact
//!
//! What [`push`] writes and [`fetch`] reads is the CNCF TAG Runtime "Wasm
//! OCI artifact" layout, which `oras`, `wkg`, wasmtime's and Spin's tools
//! read: an OCI image manifest whose config has media type
//! `application/vnd.wasm.config.v0+json` and whose one layer is the
//! component, `application/wasm`. [`fetch`] accepts exactly one
//! `application/wasm` layer (the older `wasm-to-oci` layer type too) and
//! ignores the config.
//!
//! # Verification
//!
//! Nothing is trusted because of where it came from: the manifest's bytes
//! must hash to the pinned digest, the layer's bytes to the layer digest the
//! manifest names, and the component's sha256 to the one given with the
//! reference, if any. The caller ([`crate::render`], the Target loader)
//! passes that component sha256 to [`super::Runtime::load`], which hashes the
//! bytes once more before compiling them. Mismatches are errors; nothing
//! with the wrong digest is ever compiled or run.
//!
//! # The cache, and offline use
//!
//! Manifests and components are stored by their sha256 under
//! `<cache>/remote/sha256/<hex>` (the compiled-plugin cache directory,
//! `$SLUICE_CACHE_DIR` or `~/.cache/sluice`), written to a temporary file
//! and renamed into place, and re-hashed on every read (a file that fails is
//! fetched again). Content addressed by digest never changes, so:
//!
//! - a digest-only reference whose manifest and layer are cached is served
//!   from the cache without contacting the registry (works offline);
//! - a tag-plus-digest reference asks the registry where the tag points
//!   (one HEAD request); if the registry cannot be reached, the cached copy
//!   is used with a warning, since the digest alone says what runs;
//! - anything not cached with the registry down is an error naming the
//!   reference and what to do.
//!
//! # Credentials and transport
//!
//! Registry credentials come from the Docker configuration
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `auths`
//! entries, `credHelpers` and `credsStore` (as `docker login` and `oras
//! login` write them), through the `docker_credential` crate. They are sent
//! only to the registry they are stored for and never printed. No
//! environment variable holds a password for "every registry", since a
//! reference in a repository could then collect it.
//!
//! Registries are spoken to over HTTPS (the system roots; `SSL_CERT_FILE`
//! and `SSL_CERT_DIR` honoured, as for Git). A registry listed in
//! `SLUICE_REGISTRY_PLAIN_HTTP` (comma-separated `host:port`) is spoken to
//! over plain HTTP, for a local registry; nothing else is.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// Media type of the Wasm OCI artifact's config.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Media type of the Wasm OCI artifact's one layer, the component.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer type of the older `wasm-to-oci` layout, also accepted.
const LEGACY_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// Media type of the manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The largest component fetched (a Python component is tens of MiB).
pub const MAX_COMPONENT: u64 = 512 << 20;
/// The largest manifest read.
const MAX_MANIFEST: usize = 4 << 20;

/// The environment variable listing registries spoken to over plain HTTP.
pub const PLAIN_HTTP_ENV: &str = "SLUICE_REGISTRY_PLAIN_HTTP";

/// The error returned when a plugin cannot be fetched or pushed. Every
/// variant names the reference.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The reference is not of a form sluice understands.
    #[error("plugin reference {reference:?}: {message}")]
    Invalid {
        /// The reference as given.
        reference: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// An OCI reference without a digest.
    #[error(
        "plugin reference {reference} is not pinned: add the manifest digest, {reference}@sha256:DIGEST (`sluice plugin push` prints the pinned reference; `oras resolve` finds the digest of a tag), so that what runs cannot change under you"
    )]
    Unpinned {
        /// The reference as given.
        reference: String,
    },
    /// An `https://` URL without its sha256.
    #[error(
        "plugin URL {url} has no sha256: give the file's sha256 with it (`sha256sum x.wasm`), so that what runs cannot change under you"
    )]
    UrlWithoutDigest {
        /// The URL.
        url: String,
    },
    /// The registry or web server could not be reached, and no cached
    /// copy exists.
    #[error(
        "plugin {reference}: cannot reach {host}, and the plugin is not in the cache ({cache}); check the address and that the server is up, or run once while it is reachable"
    )]
    Unreachable {
        /// The reference.
        reference: String,
        /// The registry or host.
        host: String,
        /// The cache directory looked in.
        cache: String,
        /// The transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry refused the credentials (or asked for some and none
    /// were configured).
    #[error(
        "plugin {reference}: registry {registry} refused access ({detail}); log in with `docker login {registry}` or `oras login {registry}` (sluice reads $DOCKER_CONFIG/config.json, else ~/.docker/config.json)"
    )]
    Auth {
        /// The reference.
        reference: String,
        /// The registry.
        registry: String,
        /// Whether credentials were sent.
        detail: &'static str,
    },
    /// The Docker configuration could not be read.
    #[error(
        "plugin {reference}: cannot read registry credentials for {registry} from the Docker configuration ({message}); fix $DOCKER_CONFIG/config.json or ~/.docker/config.json"
    )]
    Credentials {
        /// The reference.
        reference: String,
        /// The registry.
        registry: String,
        /// What went wrong (never the credential).
        message: String,
    },
    /// The pinned manifest, or the tag, does not exist in the registry.
    #[error(
        "plugin {reference}: {what} is not in the registry; check the reference (`sluice plugin push` prints it)"
    )]
    NotFound {
        /// The reference.
        reference: String,
        /// What is missing.
        what: String,
    },
    /// The tag points at another manifest than the pinned digest.
    #[error(
        "plugin {reference}: tag {tag} now points at {actual}, not the pinned {pinned}; the tag moved to other content, so the plugin is refused. Pin the new digest if you trust it, or drop the tag to use the pinned one"
    )]
    TagMoved {
        /// The reference.
        reference: String,
        /// The tag.
        tag: String,
        /// The pinned digest.
        pinned: String,
        /// Where the tag points now.
        actual: String,
    },
    /// Content whose digest is not the one required.
    #[error(
        "plugin {reference}: the {what} has digest sha256:{actual}, but sha256:{expected} was required; refusing to run it"
    )]
    Digest {
        /// The reference.
        reference: String,
        /// Which content (manifest, component layer, file).
        what: String,
        /// The required hex digest.
        expected: String,
        /// The content's hex digest.
        actual: String,
    },
    /// The manifest is not a Wasm OCI artifact.
    #[error(
        "plugin {reference}: not a Wasm component artifact ({message}); push it with `sluice plugin push` (or any tool writing the Wasm OCI artifact layout: one application/wasm layer)"
    )]
    NotWasm {
        /// The reference.
        reference: String,
        /// What is wrong with the manifest.
        message: String,
    },
    /// The component or manifest is larger than allowed.
    #[error("plugin {reference}: the {what} is larger than {limit} bytes; refusing to fetch it")]
    TooLarge {
        /// The reference.
        reference: String,
        /// Which content.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The server answered with an error.
    #[error("plugin {reference}: {host} answered with an error")]
    Server {
        /// The reference.
        reference: String,
        /// The registry or host.
        host: String,
        /// What it said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS certificate of the server did not verify.
    #[error(
        "plugin {reference}: the TLS certificate of {host} does not verify; if it is signed by a private CA, point SSL_CERT_FILE at a bundle that includes it"
    )]
    Tls {
        /// The reference.
        reference: String,
        /// The host.
        host: String,
        /// The TLS error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The cache or a local file could not be read or written.
    #[error("plugin {reference}: cannot use {}", path.display())]
    Io {
        /// The reference.
        reference: String,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A pinned remote plugin reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteRef {
    /// A Wasm OCI artifact.
    Oci {
        /// `REGISTRY` (host, optionally `:port`).
        registry: String,
        /// `REPO`.
        repository: String,
        /// The tag, when one is given with the digest.
        tag: Option<String>,
        /// The manifest's hex sha256.
        digest: String,
        /// The component's own hex sha256, when given as well.
        component_sha256: Option<String>,
    },
    /// A file served over HTTPS.
    Https {
        /// The URL.
        url: String,
        /// The file's hex sha256.
        sha256: String,
    },
}

/// Whether `s` is written as a remote reference (`oci://`, `https://` or
/// `http://`, the last only to be refused with a message).
pub fn is_remote(s: &str) -> bool {
    s.starts_with("oci://") || s.starts_with("https://") || s.starts_with("http://")
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `sha256:HEX` or `HEX` → lower-case `HEX`, if it is a sha256.
fn normalize_sha256(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    is_hex64(hex).then(|| hex.to_ascii_lowercase())
}

/// `oci://REGISTRY/REPO[:TAG]` (no digest) → (registry, repository, tag).
fn split_oci(reference: &str, rest: &str) -> Result<(String, String, Option<String>), RemoteError> {
    let invalid = |message: &str| RemoteError::Invalid {
        reference: reference.to_string(),
        message: message.to_string(),
    };
    let (registry, path) = rest.split_once('/').ok_or_else(|| {
        invalid("write oci://REGISTRY/REPO:TAG@sha256:DIGEST (the registry's host comes first)")
    })?;
    if registry.is_empty() || path.is_empty() {
        return Err(invalid(
            "write oci://REGISTRY/REPO:TAG@sha256:DIGEST (the registry's host comes first)",
        ));
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    let (repository, tag) = match last.split_once(':') {
        Some((_, tag)) => (&path[..path.len() - tag.len() - 1], Some(tag.to_string())),
        None => (path, None),
    };
    // The OCI distribution grammar, checked by the client's parser.
    let whole = match &tag {
        Some(t) => format!("{registry}/{repository}:{t}"),
        None => format!("{registry}/{repository}"),
    };
    let parsed: Reference = whole
        .parse()
        .map_err(|e: oci_client::ParseError| invalid(&format!("{e}")))?;
    if parsed.registry() != registry || parsed.repository() != repository {
        return Err(invalid(
            "write oci://REGISTRY/REPO:TAG@sha256:DIGEST with a lower-case repository name",
        ));
    }
    Ok((registry.to_string(), repository.to_string(), tag))
}

impl RemoteRef {
    /// Parse a remote reference; `sha256` is the digest given beside it
    /// (`spec.renderer.sha256`, `--renderer-sha256`, `spec.plugin.sha256`):
    /// required for an `https://` URL, and for an `oci://` reference the
    /// component's own sha256, checked in addition to the manifest digest.
    pub fn parse(reference: &str, sha256: Option<&str>) -> Result<RemoteRef, RemoteError> {
        let invalid = |message: String| RemoteError::Invalid {
            reference: reference.to_string(),
            message,
        };
        let component_sha256 = match sha256 {
            None => None,
            Some(s) => Some(normalize_sha256(s).ok_or_else(|| {
                invalid(format!(
                    "the sha256 given with it, {s:?}, is not 64 hexadecimal digits"
                ))
            })?),
        };
        if let Some(rest) = reference.strip_prefix("oci://") {
            let Some((name, digest)) = rest.split_once('@') else {
                split_oci(reference, rest)?;
                return Err(RemoteError::Unpinned {
                    reference: reference.to_string(),
                });
            };
            let digest = digest
                .strip_prefix("sha256:")
                .filter(|d| is_hex64(d))
                .ok_or_else(|| {
                    invalid(
                        "the digest after @ must be sha256: and 64 hexadecimal digits".to_string(),
                    )
                })?;
            let (registry, repository, tag) = split_oci(reference, name)?;
            return Ok(RemoteRef::Oci {
                registry,
                repository,
                tag,
                digest: digest.to_ascii_lowercase(),
                component_sha256,
            });
        }
        if reference.starts_with("https://") {
            let url: reqwest::Url = reference
                .parse()
                .map_err(|e| invalid(format!("not a URL: {e}")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("the URL names no host".into()));
            }
            let sha256 = component_sha256.ok_or_else(|| RemoteError::UrlWithoutDigest {
                url: reference.to_string(),
            })?;
            return Ok(RemoteRef::Https {
                url: reference.to_string(),
                sha256,
            });
        }
        if reference.starts_with("http://") {
            return Err(invalid(
                "plugins are not fetched over plain http://; serve it over https:// or push it to a registry (sluice plugin push)".into(),
            ));
        }
        Err(invalid(
            "a remote plugin is oci://REGISTRY/REPO:TAG@sha256:DIGEST or an https:// URL with its sha256".into(),
        ))
    }

    /// The reference as written by sluice (pinned form).
    pub fn display(&self) -> String {
        match self {
            RemoteRef::Oci {
                registry,
                repository,
                tag,
                digest,
                ..
            } => match tag {
                Some(t) => format!("oci://{registry}/{repository}:{t}@sha256:{digest}"),
                None => format!("oci://{registry}/{repository}@sha256:{digest}"),
            },
            RemoteRef::Https { url, .. } => url.clone(),
        }
    }

    /// A short name for the plugin: the repository's last segment, or the
    /// URL's file name without `.wasm`.
    pub fn name(&self) -> String {
        let last = match self {
            RemoteRef::Oci { repository, .. } => {
                repository.rsplit('/').next().unwrap_or(repository)
            }
            RemoteRef::Https { url, .. } => {
                let path = url.split(['?', '#']).next().unwrap_or(url);
                path.rsplit('/').next().unwrap_or(path)
            }
        };
        let name = last.strip_suffix(".wasm").unwrap_or(last);
        if name.is_empty() {
            "plugin".into()
        } else {
            name.to_string()
        }
    }
}

/// A fetched, verified component.
#[derive(Debug)]
pub struct Fetched {
    /// A short name for messages ([`RemoteRef::name`]).
    pub name: String,
    /// The component's bytes.
    pub wasm: Vec<u8>,
    /// Their hex sha256 (checked).
    pub sha256: String,
    /// Whether they came from the cache without a download.
    pub from_cache: bool,
}

/// The content-addressed store of fetched manifests and components.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    /// The store under `cache_dir` (the compiled-plugin cache directory).
    pub fn new(cache_dir: &Path) -> Self {
        BlobCache {
            dir: cache_dir.join("remote").join("sha256"),
        }
    }

    /// The store in the default cache directory, if there is one.
    pub fn default_dir() -> Option<Self> {
        super::builtin_cache_dir().map(|d| BlobCache::new(&d))
    }

    /// Where the blob with hex digest `hex` is kept.
    pub fn path(&self, hex: &str) -> PathBuf {
        self.dir.join(hex)
    }

    /// The blob with hex sha256 `hex`, if it is stored and its bytes still
    /// hash to it (a file that does not is removed).
    pub fn get(&self, hex: &str) -> Option<Vec<u8>> {
        let path = self.path(hex);
        let bytes = std::fs::read(&path).ok()?;
        if hex::encode(sha2::Sha256::digest(&bytes)) == hex {
            Some(bytes)
        } else {
            tracing::warn!(path = %path.display(), "cached plugin blob does not match its digest; fetching it again");
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    /// Store `bytes` (whose sha256 the caller checked is `hex`).
    pub fn put(&self, hex: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.path(hex)).map_err(|e| e.error)?;
        Ok(())
    }

    fn display(&self) -> String {
        self.dir.display().to_string()
    }
}

/// Fetch and verify the component `r` names, from `cache` when it has it
/// (see the module docs for when the registry is asked anyway).
pub fn fetch(r: &RemoteRef, cache: Option<&BlobCache>) -> Result<Fetched, RemoteError> {
    block_on(async {
        match r {
            RemoteRef::Oci { .. } => fetch_oci(r, cache).await,
            RemoteRef::Https { url, sha256 } => fetch_https(r, url, sha256, cache).await,
        }
    })
}

/// Run `fut` on a current-thread runtime of its own, on a scoped thread,
/// so that it works from synchronous code and from inside any runtime.
fn block_on<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime builds (no threads are started)")
                .block_on(fut)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// The registries spoken to over plain HTTP.
fn plain_http() -> Vec<String> {
    std::env::var(PLAIN_HTTP_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain_http()),
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        // A Wasm artifact has no platforms; an index is refused below.
        platform_resolver: None,
        ..Default::default()
    })
}

/// The credentials stored for `registry` in the Docker configuration;
/// anonymous when there are none.
fn credentials(reference: &str, registry: &str) -> Result<RegistryAuth, RemoteError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    let cred_err = |message: String| RemoteError::Credentials {
        reference: reference.to_string(),
        registry: registry.to_string(),
        message,
    };
    let Some(dir) = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
    else {
        return Ok(RegistryAuth::Anonymous);
    };
    let path = dir.join("config.json");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(cred_err(format!("cannot open {}: {e}", path.display()))),
    };
    match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), registry) {
        Ok(DockerCredential::UsernamePassword(u, p)) => Ok(RegistryAuth::Basic(u, p)),
        Ok(DockerCredential::IdentityToken(t)) => Ok(RegistryAuth::Bearer(t)),
        Err(E::NoCredentialConfigured | E::ConfigNotFound) => Ok(RegistryAuth::Anonymous),
        Err(e) => {
            // Never the helper's output: it may hold the secret.
            let message = match e {
                E::HelperFailure { helper, .. } => {
                    format!("credential helper docker-credential-{helper} failed")
                }
                E::ConfigReadError => format!("{} is not valid JSON", path.display()),
                other => format!("{other} in {}", path.display()),
            };
            Err(cred_err(message))
        }
    }
}

/// How a registry call failed.
enum Failure {
    Unreachable,
    Auth,
    NotFound,
    Tls,
    Other,
}

/// Whether a certificate did not verify somewhere in `e`'s chain (also
/// inside the `io::Error`s the TLS stream wraps it in, whose `source()`
/// skips the wrapped error). rustls reports it as "invalid peer
/// certificate"; the text is the fallback where a layer re-boxes it.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<rustls::Error>().is_some()
            || c.to_string().starts_with("invalid peer certificate")
        {
            return true;
        }
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && is_tls(inner)
        {
            return true;
        }
        cur = c.source();
    }
    false
}

fn classify_reqwest(e: &reqwest::Error) -> Failure {
    if is_tls(e) {
        Failure::Tls
    } else if e.is_connect() || e.is_timeout() {
        Failure::Unreachable
    } else if let Some(s) = e.status() {
        classify_status(s.as_u16())
    } else {
        Failure::Other
    }
}

fn classify_status(code: u16) -> Failure {
    match code {
        401 | 403 => Failure::Auth,
        404 => Failure::NotFound,
        500.. => Failure::Unreachable,
        _ => Failure::Other,
    }
}

fn classify(e: &OciDistributionError) -> Failure {
    use oci_client::errors::OciErrorCode as C;
    match e {
        OciDistributionError::RequestError(r) => classify_reqwest(r),
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Failure::Auth,
        OciDistributionError::ImageManifestNotFoundError(_) => Failure::NotFound,
        OciDistributionError::ServerError { code, .. } => classify_status(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            if envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, C::Unauthorized | C::Denied))
            {
                Failure::Auth
            } else if envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, C::ManifestUnknown | C::BlobUnknown | C::NameUnknown))
            {
                Failure::NotFound
            } else {
                Failure::Other
            }
        }
        _ => Failure::Other,
    }
}

/// The (expected, actual) digests of a verification failure the OCI
/// client found (the registry sent content that does not match).
fn digest_mismatch(e: &(dyn std::error::Error + 'static)) -> Option<(String, String)> {
    use oci_client::errors::DigestError;
    let mut cur = Some(e);
    while let Some(c) = cur {
        let d = c
            .downcast_ref::<DigestError>()
            .or_else(|| match c.downcast_ref::<OciDistributionError>() {
                Some(OciDistributionError::DigestError(d)) => Some(d),
                _ => None,
            })
            .or_else(|| {
                c.downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .and_then(|inner| inner.downcast_ref::<DigestError>())
            });
        if let Some(DigestError::VerificationError { expected, actual }) = d {
            let hex = |s: &str| s.trim_start_matches("sha256:").to_string();
            return Some((hex(expected), hex(actual)));
        }
        cur = c.source();
    }
    None
}

/// The error for a failed registry call on `reference`.
fn registry_error(
    reference: &str,
    registry: &str,
    what: &str,
    auth: &RegistryAuth,
    cache: Option<&BlobCache>,
    e: OciDistributionError,
) -> RemoteError {
    if let Some((expected, actual)) = digest_mismatch(&e) {
        return RemoteError::Digest {
            reference: reference.to_string(),
            what: what.to_string(),
            expected,
            actual,
        };
    }
    match classify(&e) {
        Failure::Unreachable => RemoteError::Unreachable {
            reference: reference.to_string(),
            host: registry.to_string(),
            cache: cache.map_or_else(|| "no cache directory".into(), BlobCache::display),
            source: Box::new(e),
        },
        Failure::Auth => RemoteError::Auth {
            reference: reference.to_string(),
            registry: registry.to_string(),
            detail: if matches!(auth, RegistryAuth::Anonymous) {
                "no credentials are configured for it"
            } else {
                "the configured credentials were refused"
            },
        },
        Failure::NotFound => RemoteError::NotFound {
            reference: reference.to_string(),
            what: what.to_string(),
        },
        Failure::Tls => RemoteError::Tls {
            reference: reference.to_string(),
            host: registry.to_string(),
            source: Box::new(e),
        },
        Failure::Other => RemoteError::Server {
            reference: reference.to_string(),
            host: registry.to_string(),
            source: Box::new(e),
        },
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The one Wasm layer of a manifest.
fn wasm_layer(reference: &str, manifest: &[u8]) -> Result<OciDescriptor, RemoteError> {
    let not_wasm = |message: String| RemoteError::NotWasm {
        reference: reference.to_string(),
        message,
    };
    let m: OciImageManifest = serde_json::from_slice(manifest).map_err(|e| {
        not_wasm(format!(
            "the manifest is not an OCI image manifest ({e}); an image index or a Docker image is not a plugin"
        ))
    })?;
    let mut wasm = m.layers.iter().filter(|l| {
        l.media_type == WASM_LAYER_MEDIA_TYPE || l.media_type == LEGACY_LAYER_MEDIA_TYPE
    });
    let (Some(layer), None) = (wasm.next(), wasm.next()) else {
        let types: Vec<&str> = m.layers.iter().map(|l| l.media_type.as_str()).collect();
        return Err(not_wasm(format!(
            "it needs exactly one {WASM_LAYER_MEDIA_TYPE} layer; its layers are [{}]",
            types.join(", ")
        )));
    };
    if normalize_sha256(&layer.digest).is_none() || !layer.digest.starts_with("sha256:") {
        return Err(not_wasm(format!(
            "its layer digest {:?} is not a sha256",
            layer.digest
        )));
    }
    Ok(layer.clone())
}

async fn fetch_oci(r: &RemoteRef, cache: Option<&BlobCache>) -> Result<Fetched, RemoteError> {
    let RemoteRef::Oci {
        registry,
        repository,
        tag,
        digest,
        component_sha256,
    } = r
    else {
        unreachable!("fetch_oci is called for OCI references")
    };
    let reference = r.display();
    let cached_manifest = cache.and_then(|c| c.get(digest));
    let cached_layer = cached_manifest
        .as_deref()
        .and_then(|m| wasm_layer(&reference, m).ok())
        .and_then(|l| {
            let hex = normalize_sha256(&l.digest)?;
            cache.and_then(|c| c.get(&hex)).map(|bytes| (hex, bytes))
        });
    // Content addressed and all here: no need to ask anyone, unless a tag
    // is to be checked.
    if tag.is_none()
        && let Some((hex, wasm)) = cached_layer
    {
        return finish(&reference, r.name(), wasm, hex, component_sha256, true);
    }

    let client = client();
    let auth = credentials(&reference, registry)?;
    let by_digest = Reference::with_digest(
        registry.clone(),
        repository.clone(),
        format!("sha256:{digest}"),
    );
    if let Some(tag) = tag {
        let by_tag = Reference::with_tag(registry.clone(), repository.clone(), tag.clone());
        match client.fetch_manifest_digest(&by_tag, &auth).await {
            Ok(actual) => {
                if normalize_sha256(&actual).as_deref() != Some(digest.as_str()) {
                    return Err(RemoteError::TagMoved {
                        reference,
                        tag: tag.clone(),
                        pinned: format!("sha256:{digest}"),
                        actual,
                    });
                }
            }
            Err(e) => {
                let err =
                    registry_error(&reference, registry, &format!("tag {tag}"), &auth, cache, e);
                match (err, cached_layer) {
                    (RemoteError::Unreachable { source, .. }, Some((hex, wasm))) => {
                        tracing::warn!(plugin = %reference, error = %crate::error_chain(source.as_ref()),
                            "registry unreachable; using the cached copy of the pinned digest (the tag could not be checked)");
                        return finish(&reference, r.name(), wasm, hex, component_sha256, true);
                    }
                    (err, _) => return Err(err),
                }
            }
        }
        if let Some((hex, wasm)) = cached_layer {
            return finish(&reference, r.name(), wasm, hex, component_sha256, true);
        }
    }

    let manifest = match cached_manifest {
        Some(m) => m,
        None => {
            let (bytes, _) = client
                .pull_manifest_raw(&by_digest, &auth, &[MANIFEST_MEDIA_TYPE])
                .await
                .map_err(|e| {
                    registry_error(
                        &reference,
                        registry,
                        &format!("manifest sha256:{digest}"),
                        &auth,
                        cache,
                        e,
                    )
                })?;
            if bytes.len() > MAX_MANIFEST {
                return Err(RemoteError::TooLarge {
                    reference,
                    what: "manifest",
                    limit: MAX_MANIFEST as u64,
                });
            }
            let actual = sha256_hex(&bytes);
            if &actual != digest {
                return Err(RemoteError::Digest {
                    reference,
                    what: "manifest".into(),
                    expected: digest.clone(),
                    actual,
                });
            }
            store(cache, &reference, digest, &bytes)?;
            bytes.to_vec()
        }
    };
    let layer = wasm_layer(&reference, &manifest)?;
    let layer_hex = normalize_sha256(&layer.digest).unwrap_or_default();
    if u64::try_from(layer.size).unwrap_or(u64::MAX) > MAX_COMPONENT {
        return Err(RemoteError::TooLarge {
            reference,
            what: "component layer",
            limit: MAX_COMPONENT,
        });
    }
    let sized = client
        .pull_blob_stream(&by_digest, &layer)
        .await
        .map_err(|e| {
            registry_error(
                &reference,
                registry,
                &format!("component layer {}", layer.digest),
                &auth,
                cache,
                e,
            )
        })?;
    let wasm = read_capped(&reference, registry, sized.stream).await?;
    let actual = sha256_hex(&wasm);
    if actual != layer_hex {
        return Err(RemoteError::Digest {
            reference,
            what: "component layer".into(),
            expected: layer_hex,
            actual,
        });
    }
    store(cache, &reference, &layer_hex, &wasm)?;
    finish(
        &reference,
        r.name(),
        wasm,
        layer_hex,
        component_sha256,
        false,
    )
}

/// Read a byte stream, at most [`MAX_COMPONENT`] bytes.
async fn read_capped<E: std::error::Error + Send + Sync + 'static>(
    reference: &str,
    host: &str,
    mut stream: impl futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<Vec<u8>, RemoteError> {
    use futures::StreamExt as _;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match digest_mismatch(&e) {
            Some((expected, actual)) => RemoteError::Digest {
                reference: reference.to_string(),
                what: "component layer".into(),
                expected,
                actual,
            },
            None => RemoteError::Server {
                reference: reference.to_string(),
                host: host.to_string(),
                source: Box::new(e),
            },
        })?;
        if (out.len() + chunk.len()) as u64 > MAX_COMPONENT {
            return Err(RemoteError::TooLarge {
                reference: reference.to_string(),
                what: "component",
                limit: MAX_COMPONENT,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn store(
    cache: Option<&BlobCache>,
    reference: &str,
    hex: &str,
    bytes: &[u8],
) -> Result<(), RemoteError> {
    if let Some(c) = cache {
        c.put(hex, bytes).map_err(|source| RemoteError::Io {
            reference: reference.to_string(),
            path: c.path(hex),
            source,
        })?;
    }
    Ok(())
}

/// Check the component's own sha256 when one was given, and hand it out.
fn finish(
    reference: &str,
    name: String,
    wasm: Vec<u8>,
    sha256: String,
    expected: &Option<String>,
    from_cache: bool,
) -> Result<Fetched, RemoteError> {
    if let Some(expected) = expected
        && expected != &sha256
    {
        return Err(RemoteError::Digest {
            reference: reference.to_string(),
            what: "component".into(),
            expected: expected.clone(),
            actual: sha256,
        });
    }
    Ok(Fetched {
        name,
        wasm,
        sha256,
        from_cache,
    })
}

async fn fetch_https(
    r: &RemoteRef,
    url: &str,
    sha256: &str,
    cache: Option<&BlobCache>,
) -> Result<Fetched, RemoteError> {
    if let Some(wasm) = cache.and_then(|c| c.get(sha256)) {
        return finish(url, r.name(), wasm, sha256.to_string(), &None, true);
    }
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                u.port()
                    .map_or_else(|| h.to_string(), |p| format!("{h}:{p}"))
            })
        })
        .unwrap_or_default();
    let fail = |e: reqwest::Error| match classify_reqwest(&e) {
        Failure::Unreachable => RemoteError::Unreachable {
            reference: url.to_string(),
            host: host.clone(),
            cache: cache.map_or_else(|| "no cache directory".into(), BlobCache::display),
            source: Box::new(e),
        },
        Failure::Tls => RemoteError::Tls {
            reference: url.to_string(),
            host: host.clone(),
            source: Box::new(e),
        },
        Failure::NotFound => RemoteError::NotFound {
            reference: url.to_string(),
            what: "the file".into(),
        },
        _ => RemoteError::Server {
            reference: url.to_string(),
            host: host.clone(),
            source: Box::new(e),
        },
    };
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(fail)?;
    let response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fail)?;
    if response.content_length().is_some_and(|n| n > MAX_COMPONENT) {
        return Err(RemoteError::TooLarge {
            reference: url.to_string(),
            what: "file",
            limit: MAX_COMPONENT,
        });
    }
    let wasm = read_capped(url, &host, Box::pin(response.bytes_stream())).await?;
    let actual = sha256_hex(&wasm);
    if actual != sha256 {
        return Err(RemoteError::Digest {
            reference: url.to_string(),
            what: "file".into(),
            expected: sha256.to_string(),
            actual,
        });
    }
    store(cache, url, sha256, &wasm)?;
    finish(url, r.name(), wasm, actual, &None, false)
}

/// What [`push`] published.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pushed {
    /// The pinned reference, `oci://REGISTRY/REPO:TAG@sha256:DIGEST`.
    pub reference: String,
    /// The manifest digest, `sha256:…`.
    pub digest: String,
    /// The component's sha256 (the layer digest), `sha256:…`.
    pub component: String,
    /// The component's size in bytes.
    pub size: u64,
}

/// What the config blob says about the component (its world's imports and
/// exports), as the Wasm OCI artifact layout describes it.
#[derive(Debug, Clone, Default)]
pub struct ComponentInfo {
    /// Top-level import names.
    pub imports: Vec<String>,
    /// Top-level export names.
    pub exports: Vec<String>,
    /// The file name, recorded on the layer as
    /// `org.opencontainers.image.title` (so `oras pull` writes the file).
    pub file_name: Option<String>,
}

/// Parse `oci://REGISTRY/REPO:TAG`, the destination of a push.
pub fn parse_push_target(target: &str) -> Result<(String, String, String), RemoteError> {
    let invalid = |message: &str| RemoteError::Invalid {
        reference: target.to_string(),
        message: message.to_string(),
    };
    let rest = target
        .strip_prefix("oci://")
        .ok_or_else(|| invalid("push to oci://REGISTRY/REPO:TAG"))?;
    if rest.contains('@') {
        return Err(invalid(
            "push to a tag, oci://REGISTRY/REPO:TAG; the digest is computed and printed",
        ));
    }
    let (registry, repository, tag) = split_oci(target, rest)?;
    let tag = tag.ok_or_else(|| invalid("name the tag to push to: oci://REGISTRY/REPO:TAG"))?;
    Ok((registry, repository, tag))
}

/// Publish `wasm` as a Wasm OCI artifact at `target` (`oci://REGISTRY/REPO:TAG`)
/// and return the pinned reference. `created` is the config's creation time
/// (RFC 3339).
pub fn push(
    wasm: &[u8],
    target: &str,
    info: &ComponentInfo,
    created: &str,
) -> Result<Pushed, RemoteError> {
    let (registry, repository, tag) = parse_push_target(target)?;
    block_on(push_async(
        wasm,
        target,
        &registry,
        &repository,
        &tag,
        info,
        created,
    ))
}

async fn push_async(
    wasm: &[u8],
    target: &str,
    registry: &str,
    repository: &str,
    tag: &str,
    info: &ComponentInfo,
    created: &str,
) -> Result<Pushed, RemoteError> {
    let layer_digest = format!("sha256:{}", sha256_hex(wasm));
    // The config of the Wasm OCI artifact layout (TAG Runtime, v0).
    let config = serde_json::to_vec(&serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": {
            "exports": info.exports,
            "imports": info.imports,
        },
    }))
    .map_err(|e| RemoteError::Invalid {
        reference: target.to_string(),
        message: format!("cannot write the artifact's config: {e}"),
    })?;
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let descriptor = |media_type: &str, digest: &str, size: usize| OciDescriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        urls: None,
        annotations: None,
        artifact_type: None,
    };
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: descriptor(WASM_CONFIG_MEDIA_TYPE, &config_digest, config.len()),
        layers: vec![OciDescriptor {
            annotations: info.file_name.as_ref().map(|f| {
                std::collections::BTreeMap::from([(
                    "org.opencontainers.image.title".to_string(),
                    f.clone(),
                )])
            }),
            ..descriptor(WASM_LAYER_MEDIA_TYPE, &layer_digest, wasm.len())
        }],
        subject: None,
        artifact_type: None,
        annotations: None,
    };
    let manifest = serde_json::to_vec(&manifest).map_err(|e| RemoteError::Invalid {
        reference: target.to_string(),
        message: format!("cannot write the manifest: {e}"),
    })?;
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));

    let client = client();
    let auth = credentials(target, registry)?;
    let image = Reference::with_tag(
        registry.to_string(),
        repository.to_string(),
        tag.to_string(),
    );
    let err = |what: &str, e| registry_error(target, registry, what, &auth, None, e);
    // Authenticate for push first: a registry that needs credentials then
    // gets them on the uploads.
    client
        .auth(&image, &auth, oci_client::RegistryOperation::Push)
        .await
        .map_err(|e| err("the repository", e))?;
    for (bytes, digest) in [(wasm.to_vec(), &layer_digest), (config, &config_digest)] {
        client
            .push_blob(&image, bytes, digest)
            .await
            .map_err(|e| err("the repository", e))?;
    }
    client
        .push_manifest_raw(
            &image,
            manifest,
            http::HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
        )
        .await
        .map_err(|e| err("the repository", e))?;
    // The registry must now serve our manifest under the tag.
    let served = client
        .fetch_manifest_digest(&image, &auth)
        .await
        .map_err(|e| err(&format!("tag {tag}"), e))?;
    if served != manifest_digest {
        return Err(RemoteError::Digest {
            reference: target.to_string(),
            what: "manifest the registry serves under the tag".into(),
            expected: manifest_digest.trim_start_matches("sha256:").to_string(),
            actual: served.trim_start_matches("sha256:").to_string(),
        });
    }
    Ok(Pushed {
        reference: format!("oci://{registry}/{repository}:{tag}@{manifest_digest}"),
        digest: manifest_digest,
        component: layer_digest,
        size: wasm.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pinned_references_parse() {
        let r = RemoteRef::parse(
            &format!("oci://127.0.0.1:5000/team/render:v1@sha256:{D}"),
            None,
        )
        .expect("valid");
        assert_eq!(
            r,
            RemoteRef::Oci {
                registry: "127.0.0.1:5000".into(),
                repository: "team/render".into(),
                tag: Some("v1".into()),
                digest: D.into(),
                component_sha256: None,
            }
        );
        assert_eq!(r.name(), "render");
        assert_eq!(
            r.display(),
            format!("oci://127.0.0.1:5000/team/render:v1@sha256:{D}")
        );
        let r = RemoteRef::parse(
            &format!("oci://ghcr.io/x/y@sha256:{}", D.to_uppercase()),
            None,
        )
        .expect("valid");
        assert!(matches!(r, RemoteRef::Oci { tag: None, ref digest, .. } if digest == D));
        let r = RemoteRef::parse("https://h.example/p/x.wasm", Some(D)).expect("valid");
        assert_eq!(r.name(), "x");
    }

    #[test]
    fn unpinned_and_malformed_references_say_what_to_write() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "oci://127.0.0.1:5000/x:v1",
                None,
                "is not pinned: add the manifest digest, oci://127.0.0.1:5000/x:v1@sha256:DIGEST",
            ),
            (
                "oci://reg.example/x@sha256:abc",
                None,
                "the digest after @ must be sha256: and 64 hexadecimal digits",
            ),
            (
                "oci://x",
                None,
                "write oci://REGISTRY/REPO:TAG@sha256:DIGEST",
            ),
            (
                "https://h.example/x.wasm",
                None,
                "plugin URL https://h.example/x.wasm has no sha256",
            ),
            (
                "http://h.example/x.wasm",
                Some(D),
                "plugins are not fetched over plain http://",
            ),
            (
                "https://h.example/x.wasm",
                Some("nothex"),
                "the sha256 given with it, \"nothex\", is not 64 hexadecimal digits",
            ),
        ];
        for (reference, sha, want) in cases {
            let e = RemoteRef::parse(reference, *sha)
                .expect_err(reference)
                .to_string();
            assert!(e.contains(want), "{reference}: {e}");
        }
    }

    #[test]
    fn push_targets_need_a_tag_and_no_digest() {
        assert_eq!(
            parse_push_target("oci://localhost:5000/a/b:v2").expect("valid"),
            ("localhost:5000".into(), "a/b".into(), "v2".into())
        );
        let e = parse_push_target("oci://localhost:5000/a/b").expect_err("no tag");
        assert!(e.to_string().contains("name the tag to push to"), "{e}");
        let e =
            parse_push_target(&format!("oci://localhost:5000/a/b@sha256:{D}")).expect_err("digest");
        assert!(
            e.to_string().contains("the digest is computed and printed"),
            "{e}"
        );
    }

    #[test]
    fn the_cache_rejects_a_blob_that_no_longer_matches_its_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = BlobCache::new(dir.path());
        let bytes = b"component bytes";
        let hex = sha256_hex(bytes);
        cache.put(&hex, bytes).expect("put");
        assert_eq!(cache.get(&hex).as_deref(), Some(&bytes[..]));
        std::fs::write(cache.path(&hex), b"tampered").expect("tamper");
        assert_eq!(cache.get(&hex), None);
        assert!(!cache.path(&hex).exists(), "a bad file is removed");
    }

    #[test]
    fn a_manifest_needs_exactly_one_wasm_layer() {
        let layer = |t: &str| serde_json::json!({"mediaType": t, "digest": format!("sha256:{D}"), "size": 3});
        let manifest = |layers: Vec<serde_json::Value>| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": WASM_CONFIG_MEDIA_TYPE, "digest": format!("sha256:{D}"), "size": 2},
                "layers": layers,
            }))
            .expect("json")
        };
        let l = wasm_layer("r", &manifest(vec![layer(WASM_LAYER_MEDIA_TYPE)])).expect("one");
        assert_eq!(l.digest, format!("sha256:{D}"));
        let e = wasm_layer(
            "r",
            &manifest(vec![layer("application/vnd.oci.image.layer.v1.tar+gzip")]),
        )
        .expect_err("an image");
        assert!(
            e.to_string().contains(
                "it needs exactly one application/wasm layer; its layers are [application/vnd.oci.image.layer.v1.tar+gzip]"
            ),
            "{e}"
        );
    }
}
