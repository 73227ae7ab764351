//! Plugins pulled by reference: `sluice plugin push` to a real registry
//! (CNCF Distribution, built from its Go module by tests/registry/build.sh),
//! then render and sync by digest; with and without auth; a tag that moved;
//! content that does not match its digest; a registry that is down (the
//! cached copy of a pinned digest is used, anything else is a clear error);
//! an `https://` URL with the right and a wrong sha256; a Target whose
//! plugin is an `oci://` reference.

use crate::common::{repo_root, text};
use sluice::plugin::builtin;
use sluice_testkit::registry::{FileServer, Options, PASSWORD, Registry, USER};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One test's surroundings: its own plugin cache, Docker config directory,
/// and the component files.
struct Env {
    dir: tempfile::TempDir,
    /// Extra environment for every `sluice` run.
    vars: Vec<(String, String)>,
}

impl Env {
    fn new(registry: Option<&Registry>) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("docker")).expect("docker dir");
        std::fs::create_dir_all(dir.path().join("app")).expect("app dir");
        std::fs::write(
            dir.path().join("app/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pulled}\ndata: {from: registry}\n",
        )
        .expect("app file");
        for name in ["yaml", "kustomize"] {
            let b = builtin::get(name).expect("built-in");
            std::fs::write(dir.path().join(format!("{name}.wasm")), b.wasm).expect("wasm");
        }
        let mut vars = vec![
            (
                "SLUICE_CACHE_DIR".to_string(),
                dir.path().join("cache").display().to_string(),
            ),
            (
                "DOCKER_CONFIG".to_string(),
                dir.path().join("docker").display().to_string(),
            ),
        ];
        if let Some(r) = registry {
            match &r.tls {
                Some(tls) => vars.push(("SSL_CERT_FILE".into(), tls.ca.display().to_string())),
                None => vars.push(("SLUICE_REGISTRY_PLAIN_HTTP".into(), r.host.clone())),
            }
        }
        Env { dir, vars }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn set(&mut self, k: &str, v: &str) {
        self.vars.retain(|(n, _)| n != k);
        self.vars.push((k.into(), v.into()));
    }

    /// Write a Docker config with `user:password` for `registry`.
    fn login(&self, registry: &str, user: &str, password: &str) {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        std::fs::write(
            self.path("docker/config.json"),
            format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}"),
        )
        .expect("docker config");
    }

    fn sluice(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .current_dir(repo_root())
            .env_remove("SSL_CERT_FILE")
            .env_remove("SLUICE_REGISTRY_PLAIN_HTTP")
            .envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run sluice")
    }

    /// `sluice plugin push FILE TARGET -o json` → the pinned reference.
    fn push(&self, file: &str, target: &str) -> serde_json::Value {
        let f = self.path(file);
        let out = self.sluice(&["plugin", "push", path_str(&f), target, "-o", "json"]);
        assert_eq!(out.status.code(), Some(0), "push: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("push -o json")
    }

    fn render(&self, renderer: &str, extra: &[&str]) -> Output {
        let app = self.path("app");
        let mut args = vec!["render", path_str(&app), "--renderer", renderer];
        args.extend_from_slice(extra);
        self.sluice(&args)
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn registry(opts: Options) -> Registry {
    Registry::start(opts).unwrap_or_else(|e| panic!("registry: {e}"))
}

fn assert_renders(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("name: pulled"),
        "{what}: {}",
        text(&out.stdout)
    );
}

fn assert_refused(out: &Output, want: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(want),
        "wanted {want:?} in: {}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains("name: pulled"),
        "nothing rendered: {}",
        text(&out.stdout)
    );
}

/// A plain-HTTP GET of `path` on the registry (its API, as any tool sees it).
fn registry_get(reg: &Registry, path: &str, accept: &str) -> String {
    let response = reqwest::blocking::Client::new()
        .get(format!("http://{}{path}", reg.host))
        .header("Accept", accept)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    response.text().expect("body")
}

#[test]
fn push_prints_a_pinned_reference_and_render_and_sync_use_it() {
    let reg = registry(Options::default());
    let env = Env::new(Some(&reg));
    let pushed = env.push("yaml.wasm", &format!("oci://{}/plugins/yaml:v1", reg.host));
    let reference = pushed["reference"].as_str().expect("reference");
    let digest = pushed["digest"].as_str().expect("digest");
    assert_eq!(
        reference,
        format!("oci://{}/plugins/yaml:v1@{digest}", reg.host)
    );
    let b = builtin::get("yaml").expect("yaml");
    assert_eq!(pushed["component"], format!("sha256:{}", b.sha256));

    // The Wasm OCI artifact layout, as the registry serves it to any client.
    let manifest: serde_json::Value = serde_json::from_str(&registry_get(
        &reg,
        &format!("/v2/plugins/yaml/manifests/{digest}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .expect("manifest json");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], format!("sha256:{}", b.sha256));
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "yaml.wasm"
    );
    let config: serde_json::Value = serde_json::from_str(&registry_get(
        &reg,
        &format!(
            "/v2/plugins/yaml/blobs/{}",
            manifest["config"]["digest"]
                .as_str()
                .expect("config digest")
        ),
        "*/*",
    ))
    .expect("config json");
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert!(
        config["component"]["exports"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{config}"
    );

    // Without a tag, plain text: the reference alone on stdout.
    let out = env.sluice(&[
        "plugin",
        "push",
        path_str(&env.path("yaml.wasm")),
        &format!("oci://{}/plugins/yaml:v2", reg.host),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("oci://{}/plugins/yaml:v2@sha256:", reg.host)),
        "{}",
        text(&out.stdout)
    );

    // A file that is not a sluice plugin is not pushed.
    let junk = env.path("junk.wasm");
    std::fs::write(&junk, b"\0asm not really").expect("junk");
    let out = env.sluice(&[
        "plugin",
        "push",
        path_str(&junk),
        &format!("oci://{}/plugins/junk:v1", reg.host),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("junk.wasm is not a sluice plugin, so it was not pushed"),
        "{}",
        text(&out.stderr)
    );

    // Render by tag+digest and by digest alone.
    assert_renders(&env.render(reference, &[]), "tag and digest");
    let by_digest = format!("oci://{}/plugins/yaml@{digest}", reg.host);
    assert_renders(&env.render(&by_digest, &[]), "digest");

    // An unpinned reference is refused with what to do.
    assert_refused(
        &env.render(&format!("oci://{}/plugins/yaml:v1", reg.host), &[]),
        "is not pinned: add the manifest digest",
    );

    // Sync an Application whose spec.renderer names the reference.
    let app = env.path("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: pulled}}\nspec:\n  source: {{repoURL: {}, path: app}}\n  destination: {{namespace: default}}\n  renderer: {{name: \"{reference}\"}}\n",
            env.dir.path().display()
        ),
    )
    .expect("app file");
    let cluster = env.path("cluster");
    let out = env.sluice(&[
        "sync",
        path_str(&app),
        "--target",
        &format!("dir:{}", cluster.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "sync: {}", text(&out.stderr));
    let cm = std::fs::read_to_string(cluster.join("default/core_ConfigMap_pulled.yaml"))
        .expect("synced ConfigMap");
    assert!(cm.contains("from: registry"), "{cm}");
}

#[test]
fn an_authenticated_registry_needs_the_right_credentials_and_never_shows_them() {
    let reg = registry(Options {
        auth: true,
        tls: true,
    });
    let env = Env::new(Some(&reg));
    let target = format!("oci://{}/private/yaml:v1", reg.host);
    let file = env.path("yaml.wasm");

    // No credentials configured.
    let out = env.sluice(&["plugin", "push", path_str(&file), &target]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(&format!(
            "registry {} refused access (no credentials are configured for it); log in with `docker login {}`",
            reg.host, reg.host
        )),
        "{}",
        text(&out.stderr)
    );

    // Wrong password.
    env.login(&reg.host, USER, "wrong-password-xyz");
    let out = env.sluice(&["plugin", "push", path_str(&file), &target]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("refused access (the configured credentials were refused)"),
        "{err}"
    );
    assert!(!err.contains("wrong-password-xyz"), "{err}");

    // Right password: push, then pull with it.
    env.login(&reg.host, USER, PASSWORD);
    let pushed = env.push("yaml.wasm", &target);
    let reference = pushed["reference"].as_str().expect("reference");
    let out = env.render(reference, &[]);
    assert_renders(&out, "with credentials");
    assert!(!text(&out.stderr).contains(PASSWORD));

    // Pulling with bad credentials (and an empty cache) is refused.
    let mut other = Env::new(Some(&reg));
    other.login(&reg.host, USER, "wrong-password-xyz");
    assert_refused(
        &other.render(reference, &[]),
        "refused access (the configured credentials were refused)",
    );
    // Without SSL_CERT_FILE the private CA is not trusted: a TLS error
    // that says how to fix it.
    other.login(&reg.host, USER, PASSWORD);
    other.set("SSL_CERT_FILE", "/dev/null");
    assert_refused(
        &other.render(reference, &[]),
        "does not verify; if it is signed by a private CA, point SSL_CERT_FILE at a bundle that includes it",
    );
}

#[test]
fn a_tag_that_moved_is_refused_when_the_reference_pins_a_digest() {
    let reg = registry(Options::default());
    let env = Env::new(Some(&reg));
    let target = format!("oci://{}/plugins/render:stable", reg.host);
    let first = env.push("yaml.wasm", &target);
    let reference = first["reference"].as_str().expect("reference");
    assert_renders(&env.render(reference, &[]), "before the move");

    // Someone re-tags `stable` to other content.
    let second = env.push("kustomize.wasm", &target);
    assert_ne!(first["digest"], second["digest"]);
    let digest = first["digest"].as_str().expect("digest");
    assert_refused(
        &env.render(reference, &[]),
        &format!(
            "tag stable now points at {}, not the pinned {digest}; the tag moved to other content, so the plugin is refused",
            second["digest"].as_str().expect("digest")
        ),
    );
    // The pinned content itself is still there and still usable by digest.
    assert_renders(
        &env.render(&format!("oci://{}/plugins/render@{digest}", reg.host), &[]),
        "by digest after the move",
    );
}

/// The file the registry stores a blob in (filesystem driver layout).
fn blob_file(storage: &Path, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    storage.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

#[test]
fn content_that_does_not_match_its_digest_is_never_run() {
    let reg = registry(Options::default());
    let env = Env::new(Some(&reg));
    let pushed = env.push("yaml.wasm", &format!("oci://{}/plugins/yaml:v1", reg.host));
    let reference = pushed["reference"].as_str().expect("reference");
    let component = pushed["component"].as_str().expect("component");

    // A required component sha256 that is not the layer's.
    let wrong = "ab".repeat(32);
    assert_refused(
        &env.render(reference, &["--renderer-sha256", &wrong]),
        &format!(
            "the component has digest {component}, but sha256:{wrong} was required; refusing to run it"
        ),
    );

    // The registry's stored layer is swapped for other bytes (a corrupt
    // or malicious registry): the pull fails its digest check.
    // (A cache that holds the verified layer keeps using it: the pull is
    // from an empty one.)
    let layer = blob_file(&reg.storage(), component);
    std::fs::write(&layer, builtin::get("kustomize").expect("kustomize").wasm)
        .expect("swap the layer");
    let cold = Env::new(Some(&reg));
    assert_refused(
        &cold.render(reference, &[]),
        &format!(
            "the component layer has digest sha256:{}, but {component} was required; refusing to run it",
            builtin::get("kustomize").expect("k").sha256
        ),
    );
    assert!(
        !cold
            .path("cache/remote/sha256")
            .join(component.trim_start_matches("sha256:"))
            .exists(),
        "nothing that failed its check is cached"
    );
}

#[test]
fn a_registry_that_is_down_serves_pinned_digests_from_the_cache_only() {
    let mut reg = registry(Options::default());
    let env = Env::new(Some(&reg));
    let pushed = env.push("yaml.wasm", &format!("oci://{}/plugins/yaml:v1", reg.host));
    let tagged = pushed["reference"].as_str().expect("reference").to_string();
    let digest = pushed["digest"].as_str().expect("digest").to_string();
    let by_digest = format!("oci://{}/plugins/yaml@{digest}", reg.host);
    assert_renders(&env.render(&tagged, &[]), "while up");

    reg.stop();
    assert_renders(&env.render(&by_digest, &[]), "digest, from the cache");
    let out = env.render(&tagged, &[]);
    assert_renders(&out, "tag and digest, from the cache");
    assert!(
        text(&out.stderr)
            .contains("registry unreachable; using the cached copy of the pinned digest"),
        "{}",
        text(&out.stderr)
    );

    // Not cached: a clear error naming the reference.
    let mut cold = Env::new(Some(&reg));
    cold.set("SLUICE_CACHE_DIR", path_str(&env.path("empty-cache")));
    assert_refused(
        &cold.render(&by_digest, &[]),
        &format!(
            "plugin {by_digest}: cannot reach {}, and the plugin is not in the cache",
            reg.host
        ),
    );
}

#[test]
fn an_https_url_needs_the_right_sha256() {
    let files = FileServer::start().unwrap_or_else(|e| panic!("file server: {e}"));
    let b = builtin::get("yaml").expect("yaml");
    std::fs::write(files.root.join("yaml.wasm"), b.wasm).expect("serve wasm");
    let mut env = Env::new(None);
    env.set("SSL_CERT_FILE", path_str(&files.tls.ca));
    let url = files.url("yaml.wasm");

    assert_renders(
        &env.render(&url, &["--renderer-sha256", b.sha256]),
        "right sha256",
    );
    let wrong = "cd".repeat(32);
    let mut cold = Env::new(None);
    cold.set("SSL_CERT_FILE", path_str(&files.tls.ca));
    assert_refused(
        &cold.render(&url, &["--renderer-sha256", &wrong]),
        &format!(
            "the file has digest sha256:{}, but sha256:{wrong} was required; refusing to run it",
            b.sha256
        ),
    );
    assert_refused(
        &cold.render(&url, &[]),
        "has no sha256: give the file's sha256",
    );
    cold.set("SSL_CERT_FILE", path_str(&files.tls.other_ca));
    assert_refused(
        &cold.render(&url, &["--renderer-sha256", b.sha256]),
        "does not verify; if it is signed by a private CA, point SSL_CERT_FILE",
    );
}

#[test]
fn a_target_plugin_is_loaded_from_an_oci_reference() {
    let reg = registry(Options::default());
    let env = Env::new(Some(&reg));
    let b = builtin::target("powerdns").expect("powerdns target");
    std::fs::write(env.path("powerdns.wasm"), b.wasm).expect("wasm");
    let pushed = env.push(
        "powerdns.wasm",
        &format!("oci://{}/targets/powerdns:v1", reg.host),
    );
    let reference = pushed["reference"].as_str().expect("reference");
    let decl_file = env.path("targets/dns.yaml");
    std::fs::create_dir_all(decl_file.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &decl_file,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {{name: dns}}\nspec:\n  plugin: {{url: \"{reference}\"}}\n  allowedOrigins: [\"http://127.0.0.1:8081\"]\n"
        ),
    )
    .expect("decl");
    let app = env.path("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: pulled}}\nspec:\n  source: {{repoURL: {}, path: app}}\n  destination: {{namespace: default}}\n  targets: [dns]\n",
            env.dir.path().display()
        ),
    )
    .expect("app file");
    let sync = || {
        env.sluice(&[
            "sync",
            path_str(&app),
            "--targets",
            path_str(&env.path("targets")),
            "--target",
            &format!("dir:{}", env.path("cluster").display()),
        ])
    };
    // The Target's plugin is pulled and loaded (it handles no object here).
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "sync: {}", text(&out.stderr));
    assert!(
        env.path("cluster/default/core_ConfigMap_pulled.yaml")
            .is_file()
    );

    // With a component sha256 that is not the pushed one, it is refused.
    let wrong = "ef".repeat(32);
    std::fs::write(
        &decl_file,
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {{name: dns}}\nspec:\n  plugin: {{url: \"{reference}\", sha256: {wrong}}}\n  allowedOrigins: [\"http://127.0.0.1:8081\"]\n"
        ),
    )
    .expect("decl");
    let out = sync();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("Target dns (") && err.contains("): cannot get its plugin"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "the component has digest sha256:{}, but sha256:{wrong} was required",
            b.sha256
        )),
        "{err}"
    );
}
