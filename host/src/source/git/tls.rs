//! HTTPS trust: which certificate authorities an `https://` fetch trusts.
//!
//! gix's reqwest transport does not read Git's `http.sslCAInfo` (only its
//! curl transport does), so sluice configures the reqwest client itself,
//! through the transport's `configure_client` hook, for each fetch:
//!
//! - the **system roots**, through rustls' platform verifier, which on
//!   Linux reads the OpenSSL locations and honours `SSL_CERT_FILE` and
//!   `SSL_CERT_DIR` the way OpenSSL does (a set `SSL_CERT_FILE` replaces
//!   the system bundle);
//! - **plus** the PEM certificates of `SLUICE_GIT_CA_FILE`
//!   ([`Options::ca_file`](super::Options::ca_file)), for every
//!   repository;
//! - **plus** the `caData` / `caFile` of the URL's credentials entry, for
//!   that prefix only.
//!
//! A certificate that does not verify fails the fetch with
//! [`SourceError::TlsCertificate`](super::SourceError::TlsCertificate),
//! which says how to add the CA. Verification is turned off only by an
//! entry's explicit `insecure: true`, for that prefix, and a warning is
//! logged on every fetch that uses it; no environment variable turns it
//! off globally. Files are read on each resolve, so a renewed CA bundle
//! takes effect without a restart.

use super::credentials::Auth;
use std::path::Path;

/// The extra trust for one `https://` repository.
#[derive(Clone, Default)]
pub(crate) struct Trust {
    certs: Vec<reqwest::Certificate>,
    insecure: bool,
}

impl Trust {
    /// Read `ca_file` and the entry's CA data. The error says which
    /// configuration (origin) is unusable and why.
    pub fn load(ca_file: Option<&Path>, auth: &Auth) -> Result<Trust, (String, String)> {
        let mut certs = Vec::new();
        let mut add = |origin: String, pem: &[u8]| -> Result<(), (String, String)> {
            let parsed = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| (origin.clone(), crate::error_chain(&e)))?;
            if parsed.is_empty() {
                return Err((origin, "no certificate found in it".into()));
            }
            certs.extend(parsed);
            Ok(())
        };
        let read = |origin: &str, p: &Path| {
            std::fs::read(p).map_err(|e| {
                (
                    format!("{origin} {}", p.display()),
                    format!("cannot read it: {e}"),
                )
            })
        };
        if let Some(p) = ca_file {
            add(
                format!("SLUICE_GIT_CA_FILE {}", p.display()),
                &read("SLUICE_GIT_CA_FILE", p)?,
            )?;
        }
        if let Some(p) = &auth.ca_file {
            add(
                format!("the credentials entry's caFile {}", p.display()),
                &read("the credentials entry's caFile", p)?,
            )?;
        }
        if let Some(data) = &auth.ca_data {
            add("the credentials entry's caData".into(), data.as_bytes())?;
        }
        Ok(Trust {
            certs,
            insecure: auth.insecure,
        })
    }

    /// Apply to a client about to be built.
    pub fn apply(
        &self,
        builder: reqwest::blocking::ClientBuilder,
    ) -> reqwest::blocking::ClientBuilder {
        let mut b = builder;
        if !self.certs.is_empty() {
            b = b.tls_certs_merge(self.certs.iter().cloned());
        }
        if self.insecure {
            tracing::warn!(
                "TLS certificate verification is off for this repository (insecure: true in its credentials entry)"
            );
            b = b.tls_danger_accept_invalid_certs(true);
        }
        b
    }
}
