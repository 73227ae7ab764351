//! HTTPS: the harness's smart HTTP server behind TLS, with a CA made for
//! the run. Clone, refresh and auth over HTTPS; trust from
//! `SLUICE_GIT_CA_FILE`, `SSL_CERT_FILE` and the credentials entry;
//! refusal of a certificate that does not verify; `insecure` per prefix.

use crate::common::text;
use sluice::source::git::{CredentialEntry, Credentials, Secret};
use sluice::source::{self, Options, SourceError, SourceSpec};
use sluice_testkit::git::{PASSWORD, USER, server};
use std::path::{Path, PathBuf};

fn spec(repo: &str, revision: &str) -> SourceSpec {
    SourceSpec {
        repo: repo.to_string(),
        revision: revision.to_string(),
        recurse_submodules: false,
    }
}

fn opts(cache: &Path, ca_file: Option<PathBuf>, creds: Vec<CredentialEntry>) -> Options {
    let mut credentials = Credentials::none();
    for c in creds {
        credentials.push(c);
    }
    Options {
        cache_dir: cache.to_path_buf(),
        ca_file,
        credentials,
        ..Options::default()
    }
}

const REFUSED: &str = "the server's TLS certificate does not verify; if the server uses a private CA, trust it with SLUICE_GIT_CA_FILE=/path/to/ca.pem or with caFile/caData in the credentials entry for this URL";

#[test]
fn clone_refresh_and_auth_over_https_with_the_ca_from_each_place() {
    let s = server();
    let f = s.create(
        "tls-repo",
        "echo one > a && git add a && git commit -qm one",
    );
    s.create(
        "private-tls",
        "echo secret > s && git add s && git commit -qm one",
    );
    let url = s.https_url("tls-repo");
    let ca = s.tls().ca.clone();
    let cache = tempfile::tempdir().expect("tempdir");

    // SLUICE_GIT_CA_FILE: clone, then a refresh that fetches a new commit.
    let o = opts(cache.path(), Some(ca.clone()), vec![]);
    let r = source::resolve(&spec(&url, "main"), &o)
        .unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    assert_eq!(r.commit, f.rev("main"));
    assert!(r.fetched);
    let second = f.commit_files("two", &[("a", "two\n")]);
    let r = source::resolve(&spec(&url, "main"), &o).expect("refresh");
    assert_eq!(r.commit, second);
    assert!(r.fetched, "the refresh fetched the new commit");
    assert_eq!(r.tree.read("a").expect("read"), b"two\n");

    // Per-repository CA data, with basic auth, on a private repository.
    let pem = std::fs::read_to_string(&ca).expect("ca");
    let private = s.https_url("private-tls");
    let entry = CredentialEntry {
        url_prefix: private.clone(),
        username: Some(USER.into()),
        password: Some(Secret::new(PASSWORD)),
        ca_data: Some(pem.clone()),
        ..CredentialEntry::default()
    };
    let c2 = tempfile::tempdir().expect("tempdir");
    let r = source::resolve(
        &spec(&private, "main"),
        &opts(c2.path(), None, vec![entry.clone()]),
    )
    .unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    assert_eq!(r.tree.read("s").expect("read"), b"secret\n");

    // The same CA from a file named in the entry, no credentials: the
    // server asks for them.
    let only_ca = CredentialEntry {
        url_prefix: format!("https://127.0.0.1:{}/", s.https_port()),
        ca_file: Some(ca.clone()),
        ..CredentialEntry::default()
    };
    let e = source::resolve(
        &spec(&private, "main"),
        &opts(c2.path(), None, vec![only_ca.clone()]),
    )
    .expect_err("no credentials");
    assert!(
        matches!(e, SourceError::Authentication { .. }),
        "{}",
        sluice::error_chain(&e)
    );
    source::resolve(&spec(&url, "main"), &opts(c2.path(), None, vec![only_ca])).expect("caFile");
}

#[test]
fn a_certificate_that_does_not_verify_is_refused_saying_how_to_add_the_ca() {
    let s = server();
    s.create("tls-refused", "echo x > x && git add x && git commit -qm x");
    let url = s.https_url("tls-refused");
    let cache = tempfile::tempdir().expect("tempdir");
    // No CA at all, and the wrong CA: both refused, the cache left alone.
    for ca in [None, Some(s.tls().other_ca.clone())] {
        let e = source::resolve(&spec(&url, "main"), &opts(cache.path(), ca.clone(), vec![]))
            .expect_err("refused");
        let msg = sluice::error_chain(&e);
        assert!(
            matches!(e, SourceError::TlsCertificate { .. }),
            "{ca:?}: {msg}"
        );
        assert!(msg.contains(REFUSED), "{msg}");
        assert!(!e.is_retryable());
    }
    // `insecure: true` for another prefix changes nothing here...
    let other = CredentialEntry {
        url_prefix: format!("https://127.0.0.1:{}/other/", s.https_port()),
        insecure: true,
        ..CredentialEntry::default()
    };
    let e = source::resolve(&spec(&url, "main"), &opts(cache.path(), None, vec![other]))
        .expect_err("still refused");
    assert!(matches!(e, SourceError::TlsCertificate { .. }), "{e}");
    // ...and for this one turns verification off, explicitly.
    let this = CredentialEntry {
        url_prefix: url.clone(),
        insecure: true,
        ..CredentialEntry::default()
    };
    source::resolve(&spec(&url, "main"), &opts(cache.path(), None, vec![this]))
        .unwrap_or_else(|e| panic!("{}", sluice::error_chain(&e)));
    // A CA file that is not PEM is an error naming it, not "no extra CA".
    let bad = cache.path().join("not-a-ca.pem");
    std::fs::write(&bad, "hello\n").expect("write");
    let e = source::resolve(
        &spec(&url, "main"),
        &opts(cache.path(), Some(bad.clone()), vec![]),
    )
    .expect_err("bad ca file");
    assert!(
        e.to_string().contains(&format!(
            "cannot use the CA certificates of SLUICE_GIT_CA_FILE {}; it must be a PEM file",
            bad.display()
        )),
        "{}",
        sluice::error_chain(&e)
    );
}

#[test]
fn the_cli_trusts_sluice_git_ca_file_and_ssl_cert_file() {
    let s = server();
    let f = s.create("tls-cli", "echo x > x && git add x && git commit -qm x");
    let url = s.https_url("tls-cli");
    let ca = s.tls().ca.display().to_string();
    let run = |env: &[(&str, &str)]| {
        let cache = tempfile::tempdir().expect("tempdir");
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
        c.args(["source", "resolve", "--repo", &url, "--revision", "main"])
            .env("SLUICE_GIT_CACHE_DIR", cache.path())
            .env_remove("SLUICE_GIT_CA_FILE")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SLUICE_GIT_CREDENTIALS");
        c.envs(env.iter().copied());
        c.output().expect("run sluice")
    };
    let out = run(&[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains(REFUSED), "{}", text(&out.stderr));
    for var in ["SLUICE_GIT_CA_FILE", "SSL_CERT_FILE"] {
        let out = run(&[(var, &ca)]);
        assert_eq!(out.status.code(), Some(0), "{var}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&f.rev("main")),
            "{}",
            text(&out.stdout)
        );
    }
}
