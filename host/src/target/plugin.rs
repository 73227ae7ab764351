//! `Target` declarations: which target plugin manages which system, where
//! it may send requests, and with which credentials.
//!
//! ```yaml
//! apiVersion: sluice.dev/v1alpha1
//! kind: Target
//! metadata: {name: dns}
//! spec:
//!   plugin: {name: powerdns}          # or {path: x.wasm, sha256: ...}, or {url: oci://REG/REPO:TAG@sha256:...}
//!   allowedOrigins: ["http://127.0.0.1:8081"]
//!   credentials: {header: X-API-Key, fromEnv: PDNS_API_KEY}   # or fromFile: PATH, or
//!                                     # secretRef: {name, key, namespace}; or basicAuth: true
//!   params: {server: localhost}
//! ```
//!
//! [`load_dir`] reads every `*.yaml`, `*.yml` and `*.json` file of a
//! directory (`--targets DIR`); [`PluginTarget::load`] turns one
//! declaration into a loaded plugin with its outbound rules. Credentials
//! are read by the host when the Target is loaded and never passed to the
//! plugin (see [`crate::plugin::outbound`]). A path plugin requires its
//! sha256, like a renderer file; a `url` plugin is pulled, verified and
//! cached as [`crate::plugin::remote`] describes (an `https://` URL needs
//! the sha256 too). A `secretRef` credential is one key of a Secret in the
//! cluster sluice runs against, read before the plugin is loaded
//! ([`crate::target::catalog::read_secrets`]; `namespace` defaults to
//! `default`); without a cluster (`--target dir:`) it is refused with a
//! message saying to use `fromEnv` or `fromFile`.

use crate::plugin::outbound::{Credential, Origin, Outbound};
use crate::plugin::remote::{self, RemoteError, RemoteRef};
use crate::plugin::target::{Setting, TargetPlugin};
use crate::plugin::{PluginError, Runtime, builtin};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `apiVersion` of a Target declaration.
pub const API_VERSION: &str = "sluice.dev/v1alpha1";

/// The error returned when Target declarations cannot be read or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TargetConfigError {
    /// The directory or a file in it could not be read.
    #[error("cannot read Target declarations from {path}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a valid Target declaration.
    #[error("{path}: not a valid Target declaration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Two declarations share a name.
    #[error("Target {name} is declared twice ({first} and {second}); rename one")]
    Duplicate {
        /// The name.
        name: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// The Target's credentials could not be read.
    #[error("Target {name} ({path}): {message}")]
    Credentials {
        /// The Target.
        name: String,
        /// Its file.
        path: PathBuf,
        /// What is missing, and what to do.
        message: String,
    },
    /// The plugin could not be loaded.
    #[error("Target {name} ({path}): cannot load its plugin")]
    Plugin {
        /// The Target.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<PluginError>,
    },
    /// A `url` plugin could not be fetched or verified.
    #[error("Target {name} ({path}): cannot get its plugin")]
    Remote {
        /// The Target.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why (names the reference).
        #[source]
        source: Box<RemoteError>,
    },
    /// The plugin refuses the declaration (an unknown parameter, a kind
    /// of a Kubernetes group).
    #[error("Target {name} ({path}): {message}")]
    Refused {
        /// The Target.
        name: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted for kubectl-style files; not used")]
    namespace: Option<String>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted for kubectl-style files; not used")]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted for kubectl-style files; not used")]
    annotations: BTreeMap<String, String>,
}

/// A Target's `spec` (also the schema of the Target resource).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Which plugin runs the target.
    pub plugin: PluginSpec,
    /// Where its plugin may send requests: `scheme://host:port` each.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The credential the host adds to allowed requests.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// Parameters passed to the plugin.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

/// Which plugin a Target runs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// A built-in target plugin (`powerdns`).
    #[serde(default)]
    pub name: Option<String>,
    /// A `.wasm` file, relative to the declaration's directory.
    #[serde(default)]
    pub path: Option<String>,
    /// A remote plugin: `oci://REGISTRY/REPO[:TAG]@sha256:DIGEST`, or an
    /// `https://` URL (with `sha256`).
    #[serde(default)]
    pub url: Option<String>,
    /// The file's required sha256 (hex); for an `oci://` url, the
    /// component's own digest, checked as well.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Where the credential comes from and how it is sent.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Credentials {
    /// Send the value in this header (e.g. `X-API-Key`).
    #[serde(default)]
    pub header: Option<String>,
    /// Send `Authorization: Basic ...`; the value is `user:password`.
    #[serde(default)]
    pub basic_auth: bool,
    /// Read the value from this environment variable (of sluice).
    #[serde(default)]
    pub from_env: Option<String>,
    /// Read the value from this file (relative to the declaration's
    /// directory; one trailing newline is dropped).
    #[serde(default)]
    pub from_file: Option<String>,
    /// A key of a Kubernetes Secret in the cluster sluice runs against
    /// (read by `serve`, and by `sync`/`diff` with a cluster destination).
    #[serde(default)]
    pub secret_ref: Option<SecretRef>,
}

/// `credentials.secretRef`: one key of a Secret.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
    /// The key whose value is the credential.
    pub key: String,
    /// Its namespace (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A credential read from a Secret; never printed.
#[derive(Clone)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wrap `value`.
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(..)")
    }
}

/// One Target declaration, checked.
#[derive(Debug, Clone)]
pub struct TargetDecl {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The plugin.
    pub plugin: PluginSpec,
    /// Where requests may go.
    pub origins: Vec<Origin>,
    /// The credentials' source.
    pub credentials: Option<Credentials>,
    /// `spec.params`.
    pub params: BTreeMap<String, Value>,
    /// The value of `credentials.secretRef`, once read
    /// ([`crate::target::catalog::read_secrets`]).
    pub secret: Option<SecretValue>,
}

fn invalid(path: &Path, message: impl Into<String>) -> TargetConfigError {
    TargetConfigError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Parse the Target declarations in `text` (YAML, several documents
/// allowed; documents of other kinds are refused).
pub fn parse(path: &Path, text: &str) -> Result<Vec<TargetDecl>, TargetConfigError> {
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| invalid(path, e.to_string()))?;
        if v.is_null() {
            continue;
        }
        let f: File = serde_json::from_value(v).map_err(|e| invalid(path, e.to_string()))?;
        if f.api_version != API_VERSION || f.kind != "Target" {
            return Err(invalid(
                path,
                format!(
                    "apiVersion/kind is {}/{}, expected {API_VERSION}/Target",
                    f.api_version, f.kind
                ),
            ));
        }
        let name = f.metadata.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                path,
                format!("metadata.name {name:?} must be lower-case letters, digits and '-'"),
            ));
        }
        let p = &f.spec.plugin;
        match (&p.name, &p.path, &p.url, &p.sha256) {
            (Some(_), None, None, None) | (None, Some(_), None, Some(_)) => {}
            (None, None, Some(url), sha256) => {
                RemoteRef::parse(url, sha256.as_deref())
                    .map_err(|e| invalid(path, format!("Target {name}: spec.plugin.url: {e}")))?;
            }
            (None, Some(_), None, None) => {
                return Err(invalid(
                    path,
                    format!(
                        "Target {name}: spec.plugin.path needs spec.plugin.sha256 (run sha256sum on the file)"
                    ),
                ));
            }
            _ => {
                return Err(invalid(
                    path,
                    format!(
                        "Target {name}: spec.plugin needs one of name (a built-in target plugin), path and sha256, or url (oci://…@sha256:… or https:// with sha256)"
                    ),
                ));
            }
        }
        if f.spec.allowed_origins.is_empty() {
            return Err(invalid(
                path,
                format!(
                    "Target {name}: spec.allowedOrigins is empty; list where its plugin may send requests, e.g. http://127.0.0.1:8081"
                ),
            ));
        }
        let origins = f
            .spec
            .allowed_origins
            .iter()
            .map(|o| {
                Origin::parse(o)
                    .map_err(|m| invalid(path, format!("Target {name}: spec.allowedOrigins: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(c) = &f.spec.credentials {
            let how = usize::from(c.header.is_some()) + usize::from(c.basic_auth);
            let from = usize::from(c.from_env.is_some())
                + usize::from(c.from_file.is_some())
                + usize::from(c.secret_ref.is_some());
            if how != 1 || from != 1 {
                return Err(invalid(
                    path,
                    format!(
                        "Target {name}: spec.credentials needs one of header or basicAuth: true, and one of fromEnv, fromFile or secretRef"
                    ),
                ));
            }
        }
        out.push(TargetDecl {
            name,
            file: path.to_path_buf(),
            plugin: f.spec.plugin,
            origins,
            credentials: f.spec.credentials,
            params: f.spec.params,
            secret: None,
        });
    }
    Ok(out)
}

/// A Target resource read from a cluster (`sluice crd` defines the kind):
/// server-set metadata dropped, a `secretRef` without a namespace looked
/// up in the resource's own, and the declaration named `cluster:NS/NAME`
/// in messages.
pub fn from_resource(v: &Value) -> Result<TargetDecl, TargetConfigError> {
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let path = PathBuf::from(format!("cluster:{ns}/{name}"));
    let mut doc = serde_json::json!({
        "apiVersion": v.get("apiVersion"),
        "kind": v.get("kind"),
        "metadata": {"name": name, "namespace": ns},
        "spec": v.get("spec"),
    });
    if let Some(r) = doc.pointer_mut("/spec/credentials/secretRef")
        && let Some(o) = r.as_object_mut()
    {
        o.entry("namespace")
            .or_insert_with(|| Value::String(ns.clone()));
    }
    let mut decls = parse(&path, &doc.to_string())?;
    decls
        .pop()
        .ok_or_else(|| invalid(&path, "the resource has no Target"))
}

/// Read every Target declaration in `dir` (`*.yaml`, `*.yml`, `*.json`),
/// sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<TargetDecl>, TargetConfigError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TargetConfigError::Read { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    let mut out: Vec<TargetDecl> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(read_err(&f))?;
        for d in parse(&f, &text)? {
            if let Some(first) = out.iter().find(|o| o.name == d.name) {
                return Err(TargetConfigError::Duplicate {
                    name: d.name,
                    first: first.file.clone(),
                    second: f,
                });
            }
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl TargetDecl {
    /// Its `credentials.secretRef`, if any.
    pub fn secret_ref(&self) -> Option<&SecretRef> {
        self.credentials.as_ref()?.secret_ref.as_ref()
    }

    fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    fn cred_err(&self, message: String) -> TargetConfigError {
        TargetConfigError::Credentials {
            name: self.name.clone(),
            path: self.file.clone(),
            message,
        }
    }

    /// Read the credential (from the environment or a file).
    pub fn credential(&self) -> Result<Option<Credential>, TargetConfigError> {
        let Some(c) = &self.credentials else {
            return Ok(None);
        };
        let value = if let Some(var) = &c.from_env {
            std::env::var(var).map_err(|_| {
                self.cred_err(format!(
                    "credentials.fromEnv: environment variable {var} is not set; export it before running sluice"
                ))
            })?
        } else if let Some(file) = &c.from_file {
            let p = self.base_dir().join(file);
            let text = std::fs::read_to_string(&p).map_err(|e| {
                self.cred_err(format!(
                    "credentials.fromFile: cannot read {}: {e}",
                    p.display()
                ))
            })?;
            text.strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_string()
        } else if let Some(r) = &c.secret_ref {
            match &self.secret {
                Some(s) => s.0.clone(),
                None => {
                    return Err(self.cred_err(format!(
                        "credentials.secretRef: Secret {}/{} is read from the cluster sluice runs against (sluice serve, or sync/diff to a cluster); with --target dir: use fromEnv or fromFile",
                        r.namespace.as_deref().unwrap_or("default"),
                        r.name
                    )));
                }
            }
        } else {
            return Err(
                self.cred_err("credentials needs one of fromEnv, fromFile or secretRef".into())
            );
        };
        let bad = || {
            self.cred_err(
                "the credential is not a valid HTTP header value (a newline or control character)"
                    .into(),
            )
        };
        if c.basic_auth {
            if !value.contains(':') {
                return Err(
                    self.cred_err("credentials.basicAuth: the value must be user:password".into())
                );
            }
            return Credential::basic(&value).map(Some).ok_or_else(bad);
        }
        let header = c.header.as_deref().unwrap_or_default();
        let name = http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            self.cred_err(format!(
                "credentials.header {header:?} is not a header name"
            ))
        })?;
        Credential::header(name, &value).map(Some).ok_or_else(bad)
    }

    /// `spec.params` as the plugin gets them: sorted by name, strings as
    /// they are, other values as JSON text.
    pub fn settings(&self) -> Vec<Setting> {
        self.params
            .iter()
            .map(|(k, v)| Setting {
                name: k.clone(),
                value: match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            })
            .collect()
    }
}

/// A Target, loaded: its plugin, the kinds it handles, its settings.
#[derive(Clone)]
pub struct PluginTarget {
    /// The declaration.
    pub decl: TargetDecl,
    /// The plugin.
    pub plugin: TargetPlugin,
    /// `(apiVersion, kind)` of every kind it handles.
    pub kinds: BTreeSet<(String, String)>,
    /// The same, in the order the plugin declares them: the order objects
    /// of these kinds are applied in (pruned in reverse).
    pub order: Vec<(String, String)>,
    /// `spec.params`, as passed to the plugin.
    pub settings: Vec<Setting>,
}

impl std::fmt::Debug for PluginTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PluginTarget({} with {})",
            self.decl.name,
            self.plugin.name()
        )
    }
}

impl PluginTarget {
    /// Load the plugin `decl` names on `rt`, with its outbound rules and
    /// credential, and check its parameters and kinds.
    pub fn load(rt: &Runtime, decl: &TargetDecl) -> Result<PluginTarget, TargetConfigError> {
        let refuse = |message: String| TargetConfigError::Refused {
            name: decl.name.clone(),
            path: decl.file.clone(),
            message,
        };
        let plugin_err = |source| TargetConfigError::Plugin {
            name: decl.name.clone(),
            path: decl.file.clone(),
            source: Box::new(source),
        };
        let mut outbound = Outbound::new(&decl.name, decl.origins.clone());
        outbound.credential = decl.credential()?;
        let plugin = match (&decl.plugin.name, &decl.plugin.path) {
            (Some(name), _) => {
                let b = builtin::target(name).ok_or_else(|| {
                    let known: Vec<&str> = builtin::targets().iter().map(|b| b.name).collect();
                    refuse(format!(
                        "spec.plugin.name {name:?} is not a built-in target plugin (built in: {}); use path and sha256 for a plugin file",
                        known.join(", ")
                    ))
                })?;
                rt.load_target(b.name, b.wasm, Some(b.sha256), outbound)
                    .map_err(plugin_err)?
            }
            (None, None) if decl.plugin.url.is_some() => {
                let url = decl.plugin.url.as_deref().unwrap_or_default();
                let remote_err = |source| TargetConfigError::Remote {
                    name: decl.name.clone(),
                    path: decl.file.clone(),
                    source: Box::new(source),
                };
                let r = RemoteRef::parse(url, decl.plugin.sha256.as_deref()).map_err(remote_err)?;
                let fetched = remote::fetch(&r, rt.remote_cache().as_ref()).map_err(remote_err)?;
                // `load_target` hashes the bytes once more before compiling.
                rt.load_target(
                    &fetched.name,
                    &fetched.wasm,
                    Some(&fetched.sha256),
                    outbound,
                )
                .map_err(plugin_err)?
            }
            (None, Some(path)) => {
                let p = decl.base_dir().join(path);
                let wasm = std::fs::read(&p).map_err(|source| TargetConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.clone());
                rt.load_target(&name, &wasm, decl.plugin.sha256.as_deref(), outbound)
                    .map_err(plugin_err)?
            }
            (None, None) => return Err(refuse("spec.plugin names no plugin".into())),
        };
        let info = plugin.info();
        for k in decl.params.keys() {
            if !info.params.iter().any(|p| &p.name == k) {
                let known: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
                return Err(refuse(format!(
                    "spec.params.{k} is not a parameter of target plugin {} (it takes: {})",
                    info.name,
                    known.join(", ")
                )));
            }
        }
        let mut kinds = BTreeSet::new();
        let mut order = Vec::new();
        for k in &info.kinds {
            let group = crate::object::group_of(&k.api_version);
            if group.is_empty() || group.ends_with("k8s.io") || !group.contains('.') {
                return Err(refuse(format!(
                    "target plugin {} declares kind {} in {}, a group Kubernetes serves; a target's kinds need their own group (e.g. dns.sluice.dev)",
                    info.name, k.kind, k.api_version
                )));
            }
            if kinds.insert((k.api_version.clone(), k.kind.clone())) {
                order.push((k.api_version.clone(), k.kind.clone()));
            }
        }
        Ok(PluginTarget {
            decl: decl.clone(),
            settings: decl.settings(),
            plugin,
            kinds,
            order,
        })
    }

    /// The Target's name.
    pub fn name(&self) -> &str {
        &self.decl.name
    }

    /// Whether it handles `kind` in `api_version`.
    pub fn handles(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .iter()
            .any(|(a, k)| a == api_version && k == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<TargetDecl, TargetConfigError> {
        parse(Path::new("/t/dns.yaml"), text).map(|mut v| v.remove(0))
    }

    #[test]
    fn a_declaration_parses_with_its_origins_and_credentials() {
        let d = one(
            "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {name: dns}\nspec:\n  plugin: {name: powerdns}\n  allowedOrigins: [\"http://127.0.0.1:8081\"]\n  credentials: {header: X-API-Key, fromEnv: SLUICE_TEST_NOT_SET_ANYWHERE}\n  params: {server: localhost, retries: 3}\n",
        )
        .expect("valid");
        assert_eq!(d.name, "dns");
        assert_eq!(d.origins[0].to_string(), "http://127.0.0.1:8081");
        assert_eq!(
            d.settings()
                .iter()
                .map(|s| (s.name.as_str(), s.value.as_str()))
                .collect::<Vec<_>>(),
            vec![("retries", "3"), ("server", "localhost")]
        );
        let e = d.credential().expect_err("not set").to_string();
        assert!(
            e.contains(
                "credentials.fromEnv: environment variable SLUICE_TEST_NOT_SET_ANYWHERE is not set"
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_declarations_name_the_field() {
        let base = "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {name: dns}\nspec:\n";
        let cases = [
            (
                "  plugin: {path: x.wasm}\n  allowedOrigins: [\"http://h:1\"]\n",
                "spec.plugin.path needs spec.plugin.sha256",
            ),
            (
                "  plugin: {name: powerdns}\n",
                "spec.allowedOrigins is empty",
            ),
            (
                "  plugin: {url: \"oci://127.0.0.1:5000/dns:v1\"}\n  allowedOrigins: [\"http://h:1\"]\n",
                "Target dns: spec.plugin.url: plugin reference oci://127.0.0.1:5000/dns:v1 is not pinned",
            ),
            (
                "  plugin: {url: \"https://h.example/dns.wasm\"}\n  allowedOrigins: [\"http://h:1\"]\n",
                "has no sha256",
            ),
            (
                "  plugin: {name: powerdns, url: \"https://h.example/dns.wasm\"}\n  allowedOrigins: [\"http://h:1\"]\n",
                "spec.plugin needs one of name",
            ),
            (
                "  plugin: {name: powerdns}\n  allowedOrigins: [\"http://h:1/api\"]\n",
                "an origin is scheme://host:port only",
            ),
            (
                "  plugin: {name: powerdns}\n  allowedOrigins: [\"http://h:1\"]\n  credentials: {header: X, basicAuth: true, fromEnv: A}\n",
                "spec.credentials needs one of header or basicAuth",
            ),
            (
                "  plugin: {name: powerdns}\n  allowedOrigins: [\"http://h:1\"]\n  secrets: {}\n",
                "unknown field `secrets`",
            ),
        ];
        for (spec, want) in cases {
            let e = one(&format!("{base}{spec}")).expect_err(want).to_string();
            assert!(e.contains(want), "{e}");
            assert!(
                e.starts_with("/t/dns.yaml: not a valid Target declaration"),
                "{e}"
            );
        }
    }

    #[test]
    fn file_credentials_drop_one_newline_and_basic_auth_needs_a_colon() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key"), "s3cret\n").expect("write");
        let file = dir.path().join("dns.yaml");
        let text = "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {name: dns}\nspec:\n  plugin: {name: powerdns}\n  allowedOrigins: [\"http://h:1\"]\n  credentials: {header: X-API-Key, fromFile: key}\n";
        let d = parse(&file, text).expect("valid").remove(0);
        let c = d.credential().expect("readable").expect("some");
        assert_eq!(c.value.to_str().expect("ascii"), "s3cret");
        let basic = text.replace("header: X-API-Key", "basicAuth: true");
        let d = parse(&file, &basic).expect("valid").remove(0);
        let e = d.credential().expect_err("no colon").to_string();
        assert!(
            e.contains("credentials.basicAuth: the value must be user:password"),
            "{e}"
        );
    }
}
