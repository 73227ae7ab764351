//! The `powerdns` target plugin against a real PowerDNS server (SQLite
//! backend) started by the harness, checked with `dig` and the API; and
//! the target sandbox's outbound rules against a hostile target plugin.
//!
//! Each test skips (with a line on stderr) when PowerDNS is not installed;
//! `.ci/run` installs it.

use crate::common::text;
use serde_json::{Value, json};
use sluice::plugin::outbound::{Credential, Origin, Outbound};
use sluice::plugin::target::{CallContext, HealthStatus, Setting, TargetPlugin};
use sluice::plugin::{Limits, PluginError, Runtime};
use sluice_testkit::powerdns::PowerDns;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn pdns() -> Option<PowerDns> {
    if !PowerDns::available() {
        eprintln!(
            "skipped: pdns_server, pdns-backend-sqlite3, sqlite3 or dig is not installed (see .ci/run)"
        );
        return None;
    }
    Some(PowerDns::start().expect("PowerDNS starts"))
}

/// A Target declaration `dns` for `pdns`, its credential given by
/// `credential` (the YAML of the value source, e.g. `fromEnv: VAR`).
fn target_yaml(pdns: &PowerDns, credential: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {{name: dns}}\nspec:\n  plugin: {{name: powerdns}}\n  allowedOrigins: [\"{}\"]\n  credentials: {{header: X-API-Key, {credential}}}\n  params: {{server: localhost}}\n",
        pdns.api_origin()
    )
}

/// An app directory, its Application, a Target declaration for `pdns`
/// and a `dir` destination, under one temporary directory.
struct Env {
    tmp: tempfile::TempDir,
    key: String,
}

impl Env {
    fn new(pdns: &PowerDns, app: &str) -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("repo/app")).expect("mkdir");
        std::fs::create_dir_all(root.join("targets")).expect("mkdir");
        std::fs::write(
            root.join("app.yaml"),
            format!(
                "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: {app}}}\nspec:\n  source: {{repoURL: repo, path: app}}\n  destination: {{namespace: web}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n  targets: [dns]\n"
            ),
        )
        .expect("write");
        std::fs::write(
            root.join("targets/dns.yaml"),
            target_yaml(pdns, "fromEnv: PDNS_API_KEY"),
        )
        .expect("write");
        Env {
            tmp,
            key: pdns.api_key.clone(),
        }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn file(&self, rel: &str, content: &str) {
        std::fs::write(self.root().join("repo/app").join(rel), content).expect("write");
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.root().join("repo/app").join(rel)).expect("remove");
    }

    fn dest(&self) -> PathBuf {
        self.root().join("cluster")
    }

    /// `sluice <cmd> app.yaml --target dir:cluster --targets targets ...`.
    fn run(&self, cmd: &str, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg(cmd)
            .arg("app.yaml")
            .arg("--target")
            .arg(format!("dir:{}", self.dest().display()))
            .args(["--targets", "targets"])
            .args(extra)
            .env("PDNS_API_KEY", &self.key)
            .current_dir(self.root())
            .output()
            .expect("run sluice")
    }
}

/// No sync-wave: the plugin declares Zone before RecordSet, and the sync
/// applies a target's kinds in that order.
const ZONE: &str = "apiVersion: dns.sluice.dev/v1alpha1\nkind: Zone\nmetadata:\n  name: example\nspec: {name: example.test., nameservers: [ns1.example.test.]}\n";

fn record(name: &str, records: &[&str]) -> String {
    format!(
        "apiVersion: dns.sluice.dev/v1alpha1\nkind: RecordSet\nmetadata: {{name: {name}}}\nspec: {{zone: example.test., name: {name}.example.test., type: A, ttl: 300, records: {}}}\n",
        serde_json::to_string(records).expect("json")
    )
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn rrset(pdns: &PowerDns, name: &str, rtype: &str) -> Option<Value> {
    let (status, body) = pdns
        .api("GET", "/api/v1/servers/localhost/zones/example.test.", None)
        .expect("api");
    assert_eq!(status, 200, "{body}");
    let zone: Value = serde_json::from_str(&body).expect("json");
    zone["rrsets"]
        .as_array()
        .expect("rrsets")
        .iter()
        .find(|s| s["name"] == name && s["type"] == rtype)
        .cloned()
}

#[test]
fn a_synced_record_set_is_answered_drift_shows_in_diff_and_removal_prunes() {
    let Some(pdns) = pdns() else { return };
    let env = Env::new(&pdns, "shop");
    env.file("zone.yaml", ZONE);
    env.file("www.yaml", &record("www", &["192.0.2.10"]));
    env.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {host: www.example.test}\n",
    );

    // One app, two destinations: the ConfigMap to the directory, the zone
    // and record to PowerDNS.
    let out = ok(&env.run("sync", &["--prune"]));
    assert!(
        out.contains("RecordSet") && out.contains("created"),
        "{out}"
    );
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.10"]);
    assert_eq!(pdns.dig("example.test", "NS"), vec!["ns1.example.test."]);
    assert!(
        env.dest()
            .join("web/core_ConfigMap_web-config.yaml")
            .exists()
    );
    // The record carries sluice's mark; the host's inventory lists it.
    let www = rrset(&pdns, "www.example.test.", "A").expect("www exists");
    assert!(
        www["comments"][0]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("managed by sluice: applyset-")),
        "{www}"
    );
    let inventory = std::fs::read_to_string(
        env.dest()
            .join("web/core_Secret_sluice-applyset-shop-targets.yaml"),
    )
    .expect("inventory Secret written next to the ApplySet parent");
    assert!(
        inventory.contains("sluice.dev/target-inventory"),
        "{inventory}"
    );

    // Nothing to do the second time, and diff agrees.
    let out = ok(&env.run("sync", &["--prune"]));
    assert!(out.contains("0 created, 0 configured"), "{out}");
    let diff = env.run("diff", &[]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stdout));

    // Changed behind sluice's back: diff shows it (exit 1) ...
    let (status, body) = pdns
        .api(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.test.",
            Some(r#"{"rrsets":[{"name":"www.example.test.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.99","disabled":false}]}]}"#),
        )
        .expect("api");
    assert_eq!(status, 204, "{body}");
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.99"]);
    let diff = env.run("diff", &["--color", "never"]);
    let d = text(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "{d}\n{}", text(&diff.stderr));
    assert!(
        d.contains("-  - 192.0.2.99") && d.contains("+  - 192.0.2.10"),
        "{d}"
    );
    // ... and a sync puts it back.
    let out = ok(&env.run("sync", &["--prune"]));
    assert!(out.contains("1 configured"), "{out}");
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.10"]);

    // Removed from Git: pruned from PowerDNS, the zone and the ConfigMap
    // stay.
    env.remove("www.yaml");
    let out = ok(&env.run("sync", &["--prune"]));
    assert!(out.contains("1 pruned"), "{out}");
    assert!(pdns.dig("www.example.test", "A").is_empty());
    assert!(rrset(&pdns, "www.example.test.", "A").is_none());
    assert_eq!(pdns.dig("example.test", "NS"), vec!["ns1.example.test."]);
    let inventory = std::fs::read_to_string(
        env.dest()
            .join("web/core_Secret_sluice-applyset-shop-targets.yaml"),
    )
    .expect("inventory");
    assert!(!inventory.contains("www"), "{inventory}");
}

#[test]
fn a_record_sluice_does_not_own_is_never_touched() {
    let Some(pdns) = pdns() else { return };
    let env = Env::new(&pdns, "shop");
    env.file("zone.yaml", ZONE);
    env.file("www.yaml", &record("www", &["192.0.2.10"]));
    ok(&env.run("sync", &["--prune"]));

    // Someone adds records by hand: mail (unmarked).
    let (status, body) = pdns
        .api(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.test.",
            Some(r#"{"rrsets":[{"name":"mail.example.test.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.50","disabled":false}]}]}"#),
        )
        .expect("api");
    assert_eq!(status, 204, "{body}");

    // The app now wants mail too: refused, mail unchanged.
    env.file("mail.yaml", &record("mail", &["192.0.2.51"]));
    let out = env.run("sync", &["--prune"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("exists but is not part of app shop") && stdout.contains("--adopt"),
        "{stdout}"
    );
    assert_eq!(pdns.dig("mail.example.test", "A"), vec!["192.0.2.50"]);

    // Everything removed from the app (allow-empty): www is pruned, the
    // zone is not (it holds mail), mail is untouched.
    env.remove("mail.yaml");
    env.remove("www.yaml");
    env.remove("zone.yaml");
    let out = env.run("sync", &["--prune", "--allow-empty", "--renderer", "yaml"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("holds records sluice does not manage for this app (mail.example.test. A)"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(pdns.dig("www.example.test", "A").is_empty(), "{stdout}");
    assert_eq!(pdns.dig("mail.example.test", "A"), vec!["192.0.2.50"]);
    let mail = rrset(&pdns, "mail.example.test.", "A").expect("mail kept");
    assert_eq!(mail["comments"], json!([]), "mail was not marked either");
}

#[test]
fn an_app_listing_an_undeclared_target_is_refused_before_anything_is_applied() {
    let Some(pdns) = pdns() else { return };
    let env = Env::new(&pdns, "shop");
    env.file("www.yaml", &record("www", &["192.0.2.10"]));
    std::fs::remove_file(env.root().join("targets/dns.yaml")).expect("rm");
    let out = env.run("sync", &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "app shop: spec.targets names dns, but targets has no Target named dns (it has: none)"
        ),
        "{err}"
    );
    // Without its key the plugin cannot talk to PowerDNS: the Target
    // refuses to load, naming the variable.
    let env = Env::new(&pdns, "shop");
    env.file("www.yaml", &record("www", &["192.0.2.10"]));
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["sync", "app.yaml", "--targets", "targets", "--target"])
        .arg(format!("dir:{}", env.dest().display()))
        .env_remove("PDNS_API_KEY")
        .current_dir(env.root())
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert!(
        err.contains("credentials.fromEnv: environment variable PDNS_API_KEY is not set"),
        "{err}"
    );
    assert!(!env.dest().exists(), "nothing applied");
}

// ---- the outbound sandbox, against a hostile target plugin ----

const SECRET: &str = "s3cret-key-never-in-the-sandbox";

fn hostile(outbound: Outbound, timeout: Duration) -> TargetPlugin {
    let rt = Runtime::new(
        Limits {
            timeout,
            ..Limits::default()
        },
        None,
    )
    .expect("runtime");
    let wasm = std::fs::read(env!("SLUICE_TEST_PLUGIN_TARGET")).expect("test plugin built");
    rt.load_target("test-target", &wasm, None, outbound)
        .expect("loads")
}

fn ctx(mode: &str, url: &str) -> CallContext {
    CallContext {
        target: "t".into(),
        params: vec![
            Setting {
                name: "mode".into(),
                value: mode.into(),
            },
            Setting {
                name: "url".into(),
                value: url.into(),
            },
        ],
        origins: vec![],
        app: "a".into(),
        owner: "o".into(),
    }
}

fn listener() -> (TcpListener, Origin) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    (
        l,
        Origin::parse(&format!("http://127.0.0.1:{port}")).expect("origin"),
    )
}

async fn health(p: &TargetPlugin, c: &CallContext) -> Result<String, PluginError> {
    p.health(c, "{}".into())
        .await
        .map(|r| r.expect("health answers").message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_an_origin_not_allowed_is_refused_without_a_connection() {
    let (allowed, allowed_origin) = listener();
    let (forbidden, forbidden_origin) = listener();
    let p = hostile(
        Outbound::new("t", vec![allowed_origin]),
        Duration::from_secs(10),
    );
    // Same host, another port; and another host name.
    for url in [
        format!("{forbidden_origin}/steal"),
        format!("http://localhost:{}/", forbidden_origin.port),
    ] {
        let seen = health(&p, &ctx("fetch", &url)).await.expect("no trap");
        assert!(
            seen.contains("refused by the host (its origin is not in the Target's allowedOrigins)"),
            "{seen}"
        );
    }
    // A plugin failing because of a refusal gets the host's reason added
    // to its error (and the refusal is logged under the target's name).
    let err = p
        .read(&ctx("fetch", &format!("{forbidden_origin}/x")), vec![])
        .await
        .expect("no trap")
        .expect_err("refused");
    let text = format!("{err:?}");
    assert!(
        text.contains(&format!(
            "(a request to {forbidden_origin} was refused: that origin is not in the Target's allowedOrigins)"
        )),
        "{text}"
    );
    // Neither listener saw a connection.
    std::thread::sleep(Duration::from_millis(200));
    for l in [&forbidden, &allowed] {
        match l.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a connection was made: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_never_sees_the_credentials() {
    let (l, origin) = listener();
    l.set_nonblocking(false).expect("blocking");
    // An allowed server that echoes the request back, headers included.
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        let req = String::from_utf8_lossy(&buf[..n]).into_owned();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Echo: {}\r\nConnection: close\r\n\r\n{req}",
            req.len(),
            SECRET
        );
        s.write_all(resp.as_bytes()).expect("write");
        req
    });
    let mut out = Outbound::new("t", vec![origin.clone()]);
    out.credential = Credential::header(http::HeaderName::from_static("x-api-key"), SECRET);
    let p = hostile(out, Duration::from_secs(10));
    let seen = health(&p, &ctx("fetch", &format!("{origin}/echo")))
        .await
        .expect("no trap");
    let request = server.join().expect("server");
    // The host added the key on the way out ...
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("x-api-key: {SECRET}")),
        "{request}"
    );
    // ... and the echo the plugin got has it masked.
    assert!(seen.starts_with("status=200 body=GET /echo"), "{seen}");
    assert!(!seen.contains(SECRET), "{seen}");
    assert!(
        seen.to_ascii_lowercase().contains("x-api-key: *****"),
        "{seen}"
    );
    // Not in its environment, arguments or parameters either.
    let seen = health(&p, &ctx("env", "")).await.expect("no trap");
    assert!(seen.starts_with("env=[] args=[]"), "{seen}");
    assert!(!seen.contains(SECRET), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_is_cut_at_its_time_limit() {
    // Spinning.
    let p = hostile(Outbound::new("t", vec![]), Duration::from_secs(2));
    let start = Instant::now();
    let err = health(&p, &ctx("spin", "")).await.expect_err("cut");
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("plugin test-target: timed out after 2s"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // Waiting on an allowed server that accepts and never answers.
    let (l, origin) = listener();
    l.set_nonblocking(false).expect("blocking");
    let _hold = std::thread::spawn(move || {
        let conn = l.accept();
        std::thread::sleep(Duration::from_secs(8));
        drop(conn);
    });
    let p = hostile(
        Outbound::new("t", vec![origin.clone()]),
        Duration::from_secs(2),
    );
    let start = Instant::now();
    let err = health(&p, &ctx("fetch", &format!("{origin}/slow")))
        .await
        .expect_err("cut");
    assert!(err.to_string().contains("timed out after 2s"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn health_status_is_unknown_for_the_test_plugin() {
    // Guards the test plugin itself: `health` answers (rather than the
    // tests above passing on an error path).
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let p = hostile(Outbound::new("t", vec![]), Duration::from_secs(10));
    let h = rt
        .block_on(p.health(&ctx("nothing", ""), "{}".into()))
        .expect("no trap")
        .expect("answers");
    assert_eq!(h.status, HealthStatus::Unknown);
    assert_eq!(h.message, "unknown mode nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_the_size_cap_never_reaches_the_plugin() {
    let (l, origin) = listener();
    l.set_nonblocking(false).expect("blocking");
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let body = "x".repeat(1000);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{body}"
        );
    });
    let mut out = Outbound::new("t", vec![origin.clone()]);
    out.response_limit = 100;
    let p = hostile(out, Duration::from_secs(10));
    let seen = health(&p, &ctx("fetch", &format!("{origin}/big")))
        .await
        .expect("no trap");
    assert!(
        seen.contains("the response is larger than the host allows"),
        "{seen}"
    );
    assert!(!seen.contains("xxxx"), "{seen}");
}

#[test]
fn one_app_holds_a_deployment_on_kubernetes_and_its_dns_record() {
    let Some(pdns) = pdns() else { return };
    let c = sluice_testkit::cluster::TestCluster::shared();
    let ns = c.namespace("dns-app");
    let env = Env::new(&pdns, "shop");
    // The same app, into the cluster's namespace.
    std::fs::write(
        env.root().join("app.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  source: {{repoURL: repo, path: app}}\n  destination: {{namespace: {ns}}}\n  targets: [dns]\n"
        ),
    )
    .expect("write");
    env.file("zone.yaml", ZONE);
    env.file("www.yaml", &record("www", &["192.0.2.10"]));
    env.file(
        "web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1.27}]}\n",
    );
    // The API key from a Secret in the cluster, not the environment.
    std::fs::write(
        env.root().join("targets/dns.yaml"),
        target_yaml(
            &pdns,
            &format!("secretRef: {{name: pdns, key: api-key, namespace: {ns}}}"),
        ),
    )
    .expect("write");
    let run = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([cmd, "app.yaml", "--targets", "targets", "--kubeconfig"])
            .arg(&c.kubeconfig)
            .env_remove("PDNS_API_KEY")
            .current_dir(env.root())
            .output()
            .expect("run sluice")
    };
    let missing = run("sync");
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains(&format!(
            "app shop: Target dns (targets/dns.yaml): credentials.secretRef: Secret {ns}/pdns does not exist; create it (kubectl -n {ns} create secret generic pdns --from-literal=api-key=...)"
        )),
        "{}",
        text(&missing.stderr)
    );
    assert!(
        pdns.dig("www.example.test", "A").is_empty(),
        "nothing applied"
    );
    c.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "pdns",
        "-n",
        &ns,
        &format!("--from-literal=api-key={}", env.key),
    ]);
    let out = ok(&run("sync"));
    assert!(
        out.contains("Deployment") && out.contains("RecordSet"),
        "{out}"
    );
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.10"]);
    let labels = c.kubectl_ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(
        labels.contains("applyset.kubernetes.io/part-of"),
        "{labels}"
    );
    // The target inventory lives next to the ApplySet parent, in the
    // cluster.
    let kinds = c.kubectl_ok(&[
        "get",
        "secret",
        "sluice-applyset-shop-targets",
        "-n",
        &ns,
        "-o",
        "jsonpath={.type}",
    ]);
    assert_eq!(kinds, "sluice.dev/target-inventory");
    // And the diff of both is clean.
    let diff = run("diff");
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}\n{}",
        text(&diff.stdout),
        text(&diff.stderr)
    );
}

#[test]
fn a_terraform_plans_powerdns_records_are_applied_without_terraform() {
    let Some(pdns) = pdns() else { return };
    // The zone exists already (managed elsewhere); the plan adds records
    // to it with the pan-net provider's powerdns_record resources.
    let (status, body) = pdns
        .api(
            "POST",
            "/api/v1/servers/localhost/zones",
            Some(r#"{"name":"example.test.","kind":"Native","nameservers":["ns1.example.test."]}"#),
        )
        .expect("api");
    assert_eq!(status, 201, "{body}");
    let env = Env::new(&pdns, "tf");
    std::fs::write(
        env.root().join("app.yaml"),
        "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {name: tf}\nspec:\n  source: {repoURL: repo, path: app}\n  renderer: {name: terraform-plan, params: {resources: all}}\n  destination: {namespace: web}\n  syncPolicy: {syncOptions: [CreateNamespace=true]}\n  targets: [dns]\n",
    )
    .expect("write");
    std::fs::copy(
        crate::common::repo_root().join("tests/e2e/dns/records.tfplan.json"),
        env.root().join("repo/app/records.tfplan.json"),
    )
    .expect("copy the plan");
    let out = ok(&env.run("sync", &["--prune"]));
    assert!(
        out.contains("Resource") && out.contains("3 created") && out.contains("0 failed"),
        "{out}"
    );
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.77"]);
    assert_eq!(
        pdns.dig("example.test", "MX"),
        vec!["10 mail.example.test."]
    );
    // In sync afterwards, in the Resource shape.
    let diff = env.run("diff", &[]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stdout));
}

/// `sluice serve --targets DIR`: an app listing a target is synced through
/// its plugin, a record changed behind sluice's back is put back by the
/// target poll (targets cannot be watched), and a commit that removes a
/// RecordSet prunes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_through_a_target_and_heals_a_record_by_polling() {
    use sluice::serve::Service;
    use sluice::serve::status::SyncStatus;
    let Some(pdns) = pdns() else { return };
    let ns = sluice_testkit::cluster::TestCluster::shared().namespace("dns-serve");
    let zone = ZONE.to_string();
    let www = record("www", &["192.0.2.10"]);
    let api = record("api", &["192.0.2.20"]);
    let f = crate::serve::repo(
        "dns-serve",
        &[
            ("app/zone.yaml", zone.as_str()),
            ("app/www.yaml", www.as_str()),
            ("app/api.yaml", api.as_str()),
            ("app/cm.yaml", &crate::serve::cm_yaml("web", "1")),
        ],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = |n: &str| {
        let p = tmp.path().join(n);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let (apps, state, cache, targets) = (dir("apps"), dir("state"), dir("cache"), dir("targets"));
    // The key in a Secret the service reads from its cluster; the plugin
    // never sees it.
    sluice_testkit::cluster::TestCluster::shared().kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "pdns",
        "-n",
        &ns,
        &format!("--from-literal=api-key={}", pdns.api_key),
    ]);
    std::fs::write(
        targets.join("dns.yaml"),
        target_yaml(
            &pdns,
            &format!("secretRef: {{name: pdns, key: api-key, namespace: {ns}}}"),
        ),
    )
    .expect("write");
    let url = sluice_testkit::git::server().http_url("dns-serve");
    std::fs::write(
        apps.join("shop.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop}}\nspec:\n  source: {{repoURL: \"{url}\", targetRevision: main, path: app}}\n  destination: {{namespace: {ns}}}\n  syncPolicy: {{automated: {{prune: true, selfHeal: true}}}}\n  targets: [dns]\n"
        ),
    )
    .expect("write");
    // No Git polling during the test: only the target poll can find the
    // change made behind sluice's back.
    let mut config = crate::serve::service_config(&apps, &state, &cache, Duration::from_secs(3600));
    config.targets_dir = Some(targets);
    config.target_poll_interval = Duration::from_millis(500);
    let svc = Service::start(config, crate::serve::renderers(), true)
        .await
        .expect("start");
    let c1 = f.rev("HEAD");
    let s = crate::serve::until(&svc, "shop", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && s.revision == c1
    })
    .await;
    assert_eq!(s.health, "Healthy", "{s:?}");
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.10"]);
    assert_eq!(pdns.dig("api.example.test", "A"), vec!["192.0.2.20"]);
    assert_eq!(crate::serve::cm_value(&ns, "web").as_deref(), Some("1"));

    // Changed behind sluice's back: the next target poll sees it and
    // self-heal puts it back.
    let (status, body) = pdns
        .api(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.test.",
            Some(r#"{"rrsets":[{"name":"www.example.test.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.99","disabled":false}]}]}"#),
        )
        .expect("api");
    assert_eq!(status, 204, "{body}");
    let start = Instant::now();
    while pdns.dig("www.example.test", "A") != vec!["192.0.2.10"] {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not healed within 20 s; status: {:?}",
            svc.status("shop")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A commit that removes a RecordSet: pruned from PowerDNS.
    f.git(&["rm", "-q", "app/api.yaml"]);
    let c2 = f.commit_files("drop api", &[]);
    f.push();
    assert!(svc.trigger(
        "shop",
        sluice::serve::queue::Request::new(sluice::serve::queue::Trigger::Webhook)
    ));
    crate::serve::until(&svc, "shop", Duration::from_secs(30), |s| {
        s.sync == SyncStatus::Synced && s.revision == c2
    })
    .await;
    assert!(pdns.dig("api.example.test", "A").is_empty());
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.10"]);
    assert!(svc.shutdown(Duration::from_secs(10)).await);
}

/// `sluice serve --in-cluster-targets`: the Target is a resource (its CRD
/// from `sluice crd`) in the service's namespace, its credential a Secret
/// beside it (secretRef without a namespace: the Target's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_target_resources_from_its_namespace() {
    use sluice::serve::Service;
    use sluice::serve::status::SyncStatus;
    let Some(pdns) = pdns() else { return };
    let c = sluice_testkit::cluster::TestCluster::shared();
    let crds = crate::common::sluice(&["crd"]);
    assert!(crds.status.success(), "{}", text(&crds.stderr));
    c.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &text(&crds.stdout));
    c.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/targets.sluice.dev",
        "--timeout=60s",
    ]);
    let home = c.namespace("dns-home");
    let ns = c.namespace("dns-cr");
    c.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "pdns",
        "-n",
        &home,
        &format!("--from-literal=api-key={}", pdns.api_key),
    ]);
    c.kubectl_stdin(
        &["apply", "-n", &home, "--validate=strict", "-f", "-"],
        &target_yaml(&pdns, "secretRef: {name: pdns, key: api-key}"),
    );
    let zone = ZONE.to_string();
    let www = record("www", &["192.0.2.30"]);
    let f = crate::serve::repo(
        "dns-cr",
        &[
            ("app/zone.yaml", zone.as_str()),
            ("app/www.yaml", www.as_str()),
        ],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = |n: &str| {
        let p = tmp.path().join(n);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let (apps, state, cache) = (dir("apps"), dir("state"), dir("cache"));
    let url = sluice_testkit::git::server().http_url("dns-cr");
    std::fs::write(
        apps.join("shop.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: shop-cr}}\nspec:\n  source: {{repoURL: \"{url}\", targetRevision: main, path: app}}\n  destination: {{namespace: {ns}}}\n  syncPolicy: {{automated: {{prune: true}}}}\n  targets: [dns]\n"
        ),
    )
    .expect("write");
    let mut config = crate::serve::service_config(&apps, &state, &cache, Duration::from_secs(3600));
    config.in_cluster_targets = Some(home.clone());
    let svc = Service::start(config, crate::serve::renderers(), true)
        .await
        .expect("start");
    let c1 = f.rev("HEAD");
    let s = crate::serve::until(&svc, "shop-cr", Duration::from_secs(60), |s| {
        s.sync == SyncStatus::Synced && s.revision == c1
    })
    .await;
    assert_eq!(s.health, "Healthy", "{s:?}");
    assert_eq!(pdns.dig("www.example.test", "A"), vec!["192.0.2.30"]);
    assert!(svc.shutdown(Duration::from_secs(10)).await);
}
