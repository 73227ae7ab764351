//! The service's HTTP API and `sluice app` against a real `serve` on the
//! real API server and real Git servers: tokens, operations that change
//! the cluster, the event stream, bad input, the OpenAPI document, TLS.
//! The service runs in-process (its router on a loopback port) except
//! where the binary's flags are the point.

use crate::serve::{cm_value, cm_yaml, renderers, repo, set_job_status};
use serde_json::{Value, json};
use sluice::serve::api::ApiOptions;
use sluice::serve::auth::Tokens;
use sluice::serve::{Config, Service};
use sluice_testkit::cluster::TestCluster;
use sluice_testkit::git::server;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const READ: &str = "read-token-0123456789abcdef";
const WRITE: &str = "write-token-0123456789abcdef";

struct Env {
    _tmp: tempfile::TempDir,
    apps: PathBuf,
    state: PathBuf,
    cache: PathBuf,
    tokens: PathBuf,
}

fn env() -> Env {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let apps = tmp.path().join("apps");
    std::fs::create_dir_all(&apps).expect("mkdir");
    let tokens = tmp.path().join("tokens");
    std::fs::write(&tokens, format!("read {READ}\nwrite {WRITE}\n")).expect("tokens");
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    Env {
        state: tmp.path().join("state"),
        cache: tmp.path().join("git-cache"),
        apps,
        tokens,
        _tmp: tmp,
    }
}

fn config(env: &Env) -> Config {
    crate::serve::service_config(&env.apps, &env.state, &env.cache, Duration::from_secs(3600))
}

fn app_file(name: &str, repo: &str, ns: &str, policy: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  source: {{repoURL: \"{repo}\", targetRevision: main, path: app}}\n  destination: {{namespace: {ns}}}\n  syncPolicy: {policy}\n"
    )
}

/// A service with its API on a loopback port, guarded by the tokens.
struct Api {
    svc: Service,
    base: String,
    http: reqwest::Client,
}

async fn start(e: &Env) -> Api {
    let svc = Service::start(config(e), renderers(), true)
        .await
        .expect("start");
    let opts = ApiOptions {
        tokens: Some(Tokens::load(&e.tokens).expect("tokens")),
        ..ApiOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = sluice::serve::http::router_with(svc.clone(), opts, true);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Api {
        svc,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "POST" => self.http.post(url),
            _ => self.http.get(url),
        };
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.expect("request");
        let code = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (code, v) = self.call("GET", path, Some(READ), None).await;
        assert_eq!(code, 200, "GET {path}: {v}");
        v
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(
            "POST",
            path,
            Some(WRITE),
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// POST an operation and wait until the app's operation that carried
    /// it ended; returns the app then.
    async fn operate(&self, app: &str, op: &str, body: Value) -> Value {
        let (code, v) = self.post(&format!("/api/v1/apps/{app}/{op}"), body).await;
        assert_eq!(code, 202, "{op}: {v}");
        let ticket = v["request"].as_u64().expect("ticket");
        let start = Instant::now();
        loop {
            let a = self.get(&format!("/api/v1/apps/{app}")).await;
            if a["servedRequest"].as_u64() >= Some(ticket) {
                return a;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{op} of {app} not served: {a}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn until(&self, app: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let a = self.get(&format!("/api/v1/apps/{app}")).await;
            if pred(&a) {
                return a;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "app {app}: not {what}: {a}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_the_api_and_bad_input_changes_nothing() {
    let ns = TestCluster::shared().namespace("api-guard");
    repo("api-guard", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let e = env();
    std::fs::write(
        e.apps.join("guarded.yaml"),
        app_file("guarded", &server().http_url("api-guard"), &ns, "{}"),
    )
    .expect("write");
    let api = start(&e).await;
    let before = api
        .until("guarded", "compared", |a| a["sync"] == "OutOfSync")
        .await;

    // No token, a wrong token: 401 with a challenge; reads with a read token.
    let (code, v) = api.call("GET", "/api/v1/apps", None, None).await;
    assert_eq!(code, 401, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("a valid bearer token is required")),
        "{v}"
    );
    let (code, _) = api
        .call("GET", "/api/v1/apps", Some("not-a-token-at-all-x"), None)
        .await;
    assert_eq!(code, 401);
    let (code, _) = api.call("GET", "/api/v1/events", None, None).await;
    assert_eq!(code, 401, "the event stream needs a token too");
    let list = api.get("/api/v1/apps").await;
    assert_eq!(list["guarded"]["spec"]["namespace"], ns.as_str(), "{list}");
    assert_eq!(list["guarded"]["spec"]["automated"], false, "{list}");

    // A read token on a write route: 403, nothing synced.
    let (code, v) = api
        .call(
            "POST",
            "/api/v1/apps/guarded/sync",
            Some(READ),
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(code, 403, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|m| m.contains(
            "this token may only read; POST /api/v1/apps/guarded/sync needs a write token"
        )),
        "{v}"
    );

    // Unknown app 404; malformed bodies 400 naming the field; 413 over the cap.
    let (code, v) = api.post("/api/v1/apps/nope/sync", json!({})).await;
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("no app named nope")),
        "{v}"
    );
    let (code, v) = api
        .post("/api/v1/apps/guarded/sync", json!({"prune": "yes"}))
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"].as_str().is_some_and(
            |m| m.contains("field `prune`: invalid type: string \"yes\", expected a boolean")
        ),
        "{v}"
    );
    let (code, v) = api
        .post("/api/v1/apps/guarded/sync", json!({"revison": "main"}))
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `revison`")),
        "{v}"
    );
    let (code, v) = api.post("/api/v1/apps/guarded/rollback", json!({})).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("missing field `id`")),
        "{v}"
    );
    let (code, v) = api
        .post("/api/v1/apps/guarded/rollback", json!({"id": 7}))
        .await;
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("app guarded has no history entry 7")),
        "{v}"
    );
    let big = format!("{{\"revision\": \"{}\"}}", "x".repeat(100 * 1024));
    let (code, v) = api
        .call(
            "POST",
            "/api/v1/apps/guarded/sync",
            Some(WRITE),
            Some(big.into_bytes()),
        )
        .await;
    assert_eq!(code, 413, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("request body over 65536 bytes")),
        "{v}"
    );
    let (code, _) = api
        .call(
            "POST",
            "/api/v1/apps/guarded/sync",
            Some(WRITE),
            Some(b"{\"prune\":".to_vec()),
        )
        .await;
    assert_eq!(code, 400);

    // Nothing of that reached the cluster or the status.
    api.svc.idle().await;
    assert_eq!(cm_value(&ns, "a"), None, "no refused request synced");
    let after = api.get("/api/v1/apps/guarded").await;
    assert_eq!(after["sync"], "OutOfSync");
    assert_eq!(after["servedRequest"], before["servedRequest"]);
    assert!(api.svc.history("guarded").expect("history").is_empty());

    // Health and metrics stay open; the OpenAPI document is served open.
    let (code, _) = api.call("GET", "/healthz", None, None).await;
    assert_eq!(code, 200);
    let (code, _) = api.call("GET", "/metrics", None, None).await;
    assert_eq!(code, 200);
    let (code, doc) = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(code, 200);
    check_openapi(&doc);

    // --anonymous-read: reads need no token, writes still do.
    let anon = ApiOptions {
        tokens: Some(Tokens::load(&e.tokens).expect("tokens")),
        anonymous_read: true,
        ..ApiOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = sluice::serve::http::router_with(api.svc.clone(), anon, true);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let open = Api {
        svc: api.svc.clone(),
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    let (code, v) = open.call("GET", "/api/v1/apps/guarded", None, None).await;
    assert_eq!((code, &v["name"]), (200, &json!("guarded")), "{v}");
    let (code, _) = open
        .call(
            "POST",
            "/api/v1/apps/guarded/sync",
            None,
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(code, 401, "writes still need a token");
    let (code, _) = open
        .call(
            "POST",
            "/api/v1/apps/guarded/sync",
            Some(READ),
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(code, 403);
}

/// The OpenAPI document covers every route, with the bodies' types.
fn check_openapi(doc: &Value) {
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let routes = [
        ("get", "/api/v1/apps"),
        ("get", "/api/v1/apps/{name}"),
        ("get", "/api/v1/apps/{name}/resources"),
        ("get", "/api/v1/apps/{name}/diff"),
        ("get", "/api/v1/apps/{name}/history"),
        ("post", "/api/v1/apps/{name}/sync"),
        ("post", "/api/v1/apps/{name}/refresh"),
        ("post", "/api/v1/apps/{name}/rollback"),
        ("post", "/api/v1/apps/{name}/pause"),
        ("post", "/api/v1/apps/{name}/resume"),
        ("get", "/api/v1/events"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(
            op.is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
        assert_eq!(op["security"][0]["bearer"], json!([]), "{method} {path}");
    }
    let schemas = &doc["components"]["schemas"];
    let sync = &schemas["SyncBody"]["properties"];
    for field in ["revision", "prune", "dryRun"] {
        assert!(
            sync[field].is_object(),
            "SyncBody.{field}: {}",
            schemas["SyncBody"]
        );
    }
    assert_eq!(schemas["RollbackBody"]["required"], json!(["id"]));
    let status = &schemas["AppStatus"]["properties"];
    assert!(
        status["sync"].is_object() && status["health"].is_object(),
        "{status}"
    );
    assert_eq!(
        doc["paths"]["/api/v1/apps/{name}/rollback"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/RollbackBody"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_refresh_diff_and_rollback_through_the_api_change_the_cluster() {
    let ns = TestCluster::shared().namespace("api-ops");
    let f = repo(
        "api-ops",
        &[
            ("app/a.yaml", &cm_yaml("a", "1")),
            ("app/b.yaml", &cm_yaml("b", "1")),
        ],
    );
    let c1 = f.rev("HEAD");
    let e = env();
    std::fs::write(
        e.apps.join("ops.yaml"),
        app_file("ops", &server().http_url("api-ops"), &ns, "{}"),
    )
    .expect("write");
    let api = start(&e).await;
    api.until("ops", "compared", |a| a["sync"] == "OutOfSync")
        .await;
    let d = api.get("/api/v1/apps/ops/diff").await;
    let missing: Vec<&str> = d["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["status"] == "Missing")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(missing, ["a", "b"], "{d}");

    // Sync: written, Synced, one history entry.
    let a = api.operate("ops", "sync", json!({})).await;
    assert_eq!(a["sync"], "Synced", "{a}");
    assert_eq!(a["revision"], c1.as_str());
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    let res = api.get("/api/v1/apps/ops/resources").await;
    let rows: Vec<(String, String)> = res
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["health"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("a".into(), "Healthy".into()),
            ("b".into(), "Healthy".into())
        ],
        "{res}"
    );

    // A new commit changes a and drops b. Refresh compares, writes nothing.
    f.git(&["rm", "-q", "app/b.yaml"]);
    let c2 = f.commit_files("a=2, no b", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    f.push();
    let a = api.operate("ops", "refresh", json!({})).await;
    assert_eq!(a["sync"], "OutOfSync", "{a}");
    assert_eq!(a["revision"], c2.as_str());
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("1"),
        "refresh wrote nothing"
    );
    let d = api.get("/api/v1/apps/ops/diff").await;
    let a_diff = d["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["name"] == "a"))
        .and_then(|x| x["diff"].as_str())
        .expect("a diff for a");
    assert!(
        a_diff.contains("-  v: '1'") && a_diff.contains("+  v: '2'"),
        "{a_diff}"
    );

    // A dry-run sync writes nothing either; a sync without prune keeps b.
    api.operate("ops", "sync", json!({"dryRun": true})).await;
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("1"),
        "dry run wrote nothing"
    );
    let a = api.operate("ops", "sync", json!({"prune": false})).await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    assert_eq!(cm_value(&ns, "b").as_deref(), Some("1"), "not pruned");
    assert_eq!(a["sync"], "OutOfSync", "b is extraneous: {a}");
    let a = api.operate("ops", "sync", json!({"prune": true})).await;
    assert_eq!(cm_value(&ns, "b"), None, "pruned when asked");
    assert_eq!(a["sync"], "Synced", "{a}");

    // Roll back to the first entry: a=1 and b back, recorded as a rollback.
    let h = api.get("/api/v1/apps/ops/history").await;
    let first = h[0]["id"].as_u64().expect("id");
    assert_eq!(h[0]["revision"], c1.as_str(), "{h}");
    api.operate("ops", "rollback", json!({"id": first})).await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    assert_eq!(cm_value(&ns, "b").as_deref(), Some("1"));
    let h = api.get("/api/v1/apps/ops/history").await;
    let last = h
        .as_array()
        .and_then(|h| h.last())
        .expect("an entry")
        .clone();
    assert_eq!(last["revision"], c1.as_str(), "{h}");
    assert_eq!(last["rollback"], first, "{h}");
    let a = api.get("/api/v1/apps/ops").await;
    assert_eq!(a["operation"]["revision"], c1.as_str(), "{a}");

    // The Application moves to another path and renderer parameters; a
    // rollback renders the entry's own source again, parameters included.
    let c3 = f.commit_files(
        "other",
        &[
            ("other/c.yaml", &cm_yaml("c", "1")),
            ("other/skip.yaml", &cm_yaml("skip", "1")),
        ],
    );
    f.push();
    let moved = app_file("ops", &server().http_url("api-ops"), &ns, "{}").replace(
        "path: app}",
        "path: other}\n  renderer: {name: yaml, params: {exclude: skip.yaml}}",
    );
    std::fs::write(e.apps.join("ops.yaml"), moved).expect("write");
    api.until("ops", "the moved app compared", |a| {
        a["revision"] == c3.as_str() && a["sync"] == "OutOfSync"
    })
    .await;
    api.operate("ops", "sync", json!({"prune": true})).await;
    assert_eq!(cm_value(&ns, "c").as_deref(), Some("1"));
    assert_eq!(cm_value(&ns, "skip"), None, "the exclude parameter holds");
    assert_eq!(cm_value(&ns, "a"), None, "pruned with its path");
    let h = api.get("/api/v1/apps/ops/history").await;
    let moved_id = h
        .as_array()
        .and_then(|h| h.last())
        .and_then(|e| e["id"].as_u64())
        .expect("id");
    api.operate("ops", "rollback", json!({"id": first, "prune": true}))
        .await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"), "path app again");
    assert_eq!(cm_value(&ns, "c"), None, "pruned on the way back");
    // The file drops the parameter; rolling back to the moved entry
    // brings the entry's parameter back, not the file's.
    let plain = app_file("ops", &server().http_url("api-ops"), &ns, "{}")
        .replace("path: app}", "path: other}");
    std::fs::write(e.apps.join("ops.yaml"), plain).expect("write");
    api.until("ops", "the plain app loaded", |a| a["sync"] == "OutOfSync")
        .await;
    api.operate("ops", "rollback", json!({"id": moved_id, "prune": true}))
        .await;
    assert_eq!(cm_value(&ns, "c").as_deref(), Some("1"));
    assert_eq!(cm_value(&ns, "skip"), None, "the entry's exclude parameter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_an_automated_app_needs_auto_sync_off_and_pause_stops_healing_live() {
    let ns = TestCluster::shared().namespace("api-auto");
    let f = repo("api-auto", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let c1 = f.rev("HEAD");
    let e = env();
    std::fs::write(
        e.apps.join("auto.yaml"),
        app_file(
            "auto",
            &server().http_url("api-auto"),
            &ns,
            "{automated: {prune: true, selfHeal: true}}",
        ),
    )
    .expect("write");
    let api = start(&e).await;
    api.until("auto", "synced", |a| {
        a["sync"] == "Synced" && a["revision"] == c1.as_str()
    })
    .await;
    let c2 = f.commit_files("a=2", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    f.push();
    api.operate("auto", "refresh", json!({})).await;
    api.until("auto", "at c2", |a| {
        a["sync"] == "Synced" && a["revision"] == c2.as_str()
    })
    .await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));

    // Follow the event stream from here.
    let mut events = Sse::open(&api.base, READ).await;

    // Refused while automated sync is on: 409, and nothing changed.
    let h = api.get("/api/v1/apps/auto/history").await;
    let first = h[0]["id"].as_u64().expect("id");
    let (code, v) = api
        .post("/api/v1/apps/auto/rollback", json!({"id": first}))
        .await;
    assert_eq!(code, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|m| m.contains("app auto has automated sync on")
                && m.contains("\"disableAutoSync\": true")),
        "{v}"
    );
    let a = api.get("/api/v1/apps/auto").await;
    assert_eq!(a["spec"]["automated"], true, "{a}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));

    // Turned off in the same call: rolled back, and it stays there.
    let a = api
        .operate(
            "auto",
            "rollback",
            json!({"id": first, "disableAutoSync": true}),
        )
        .await;
    assert_eq!(a["spec"]["automated"], false, "{a}");
    assert_eq!(a["spec"]["autoSyncDisabled"], true, "{a}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    let a = api.operate("auto", "refresh", json!({})).await;
    assert_eq!(a["sync"], "OutOfSync", "a refresh no longer syncs: {a}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));

    // Pause: shown in the status and on the event stream.
    let (code, v) = api.post("/api/v1/apps/auto/pause", json!({})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["paused"], true, "{v}");
    let ev = events
        .until(Duration::from_secs(20), |e| {
            e["app"] == "auto" && e["status"]["paused"] == true
        })
        .await;
    assert_eq!(ev["status"]["sync"], "OutOfSync", "{ev}");
    // A manual sync of a paused app writes nothing.
    api.operate("auto", "sync", json!({})).await;
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("1"),
        "paused: not written"
    );
    // Resume: the queued manual sync writes the target revision again.
    let (code, v) = api.post("/api/v1/apps/auto/resume", json!({})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["paused"], false, "{v}");
    api.until("auto", "synced after resume", |a| a["sync"] == "Synced")
        .await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    events
        .until(Duration::from_secs(20), |e| {
            e["app"] == "auto" && e["status"]["sync"] == "Synced"
        })
        .await;
}

/// A reader of `GET /api/v1/events` over a plain socket (the stream is
/// chunked; each event is one chunk).
struct Sse {
    stream: tokio::net::TcpStream,
    buf: String,
}

impl Sse {
    async fn open(base: &str, token: &str) -> Sse {
        use tokio::io::AsyncWriteExt as _;
        let addr = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.expect("send");
        let mut s = Sse {
            stream,
            buf: String::new(),
        };
        s.fill(Duration::from_secs(10), |b| b.contains("\r\n\r\n"))
            .await;
        assert!(s.buf.starts_with("HTTP/1.1 200"), "{}", s.buf);
        assert!(s.buf.contains("text/event-stream"), "{}", s.buf);
        s
    }

    async fn fill(&mut self, within: Duration, done: impl Fn(&str) -> bool) {
        use tokio::io::AsyncReadExt as _;
        let deadline = Instant::now() + within;
        let mut chunk = [0u8; 8192];
        while !done(&self.buf) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "event stream: not within {within:?}: {}",
                self.buf
            );
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => panic!("event stream closed: {}", self.buf),
                Ok(Ok(n)) => self.buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Ok(Err(e)) => panic!("event stream: {e}"),
                Err(_) => {}
            }
        }
    }

    /// The first `status` event (from now on) that satisfies `pred`.
    async fn until(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            while let Some(i) = self.buf.find("data: ") {
                let rest = &self.buf[i + 6..];
                let Some(end) = rest.find('\n') else { break };
                let data = rest[..end].trim().to_string();
                self.buf = rest[end..].to_string();
                if let Ok(v) = serde_json::from_str::<Value>(&data)
                    && pred(&v)
                {
                    return v;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let len = self.buf.len();
            self.fill(left, |b| b.len() > len).await;
        }
    }
}

/// Run `sluice app ARGS` against `base` with `token` (SLUICE_TOKEN).
async fn cli(base: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("app")
        .args(args)
        .env("SLUICE_SERVER", base)
        .env_remove("SLUICE_TOKEN");
    if let Some(t) = token {
        cmd.env("SLUICE_TOKEN", t);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run sluice app"))
        .await
        .expect("join");
    (
        out.status.code().unwrap_or(-1),
        crate::common::text(&out.stdout),
        crate::common::text(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_cli_lists_gets_diffs_syncs_waits_and_rolls_back() {
    let ns = TestCluster::shared().namespace("api-cli");
    let f = repo("api-cli", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let c1 = f.rev("HEAD");
    let e = env();
    let url = server().http_url("api-cli");
    std::fs::write(e.apps.join("cli.yaml"), app_file("cli", &url, &ns, "{}")).expect("write");
    let api = start(&e).await;
    api.until("cli", "compared", |a| a["sync"] == "OutOfSync")
        .await;
    let base = api.base.clone();

    // list: argocd's columns; wide adds REPO PATH TARGET.
    let (code, out, err) = cli(&base, Some(READ), &["list"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "STATUS",
            "HEALTH",
            "SYNCPOLICY",
            "CONDITIONS"
        ],
        "{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "cli",
            "in-cluster",
            ns.as_str(),
            "OutOfSync",
            "Missing",
            "<none>",
            "<none>"
        ],
        "{out}"
    );
    let (_, out, _) = cli(&base, Some(READ), &["list", "-o", "wide"]).await;
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(&format!("{url}  app   main"))),
        "{out}"
    );

    // No token, an unknown app: exit 2 with the reason.
    let (code, _, err) = cli(&base, None, &["list"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("401") && err.contains("set SLUICE_TOKEN or pass --token-file"),
        "{err}"
    );
    let (code, _, err) = cli(&base, Some(READ), &["get", "nope"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no app named nope"), "{err}");
    let (code, _, err) = cli(&base, Some(READ), &["sync", "cli"]).await;
    assert_eq!(code, 2, "a read token cannot sync");
    assert!(err.contains("403"), "{err}");

    // diff: exit 1 while it differs, 0 once synced.
    let (code, out, _) = cli(&base, Some(READ), &["diff", "cli"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("+++ desired/ConfigMap/") && out.contains("+  v: '1'"),
        "{out}"
    );
    let (code, out, err) = cli(&base, Some(WRITE), &["sync", "cli"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "Sync Status:        Synced to main ({})",
            &c1[..7]
        )),
        "{out}"
    );
    let res_head = out
        .lines()
        .find(|l| l.starts_with("GROUP"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    assert_eq!(
        res_head.as_deref(),
        Some(
            &[
                "GROUP",
                "KIND",
                "NAMESPACE",
                "NAME",
                "STATUS",
                "HEALTH",
                "HOOK",
                "MESSAGE"
            ][..]
        ),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "ConfigMap",
                ns.as_str(),
                "a",
                "Synced",
                "Healthy",
                "created"
            ]),
        "{out}"
    );
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    let (code, out, _) = cli(&base, Some(READ), &["diff", "cli"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "");

    // get: the summary; -o json and yaml are the API's document.
    let (code, out, _) = cli(&base, Some(READ), &["get", "cli"]).await;
    assert_eq!(code, 0);
    for want in [
        "Name:               cli".to_string(),
        format!("Repo:               {url}"),
        "Path:               app".to_string(),
        "Sync Policy:        Manual".to_string(),
        "Health Status:      Healthy".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} not in:\n{out}");
    }
    let (_, out, _) = cli(&base, Some(READ), &["get", "cli", "-o", "json"]).await;
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (v["name"].as_str(), v["sync"].as_str()),
        (Some("cli"), Some("Synced"))
    );
    let (_, out, _) = cli(&base, Some(READ), &["get", "cli", "-o", "yaml"]).await;
    assert!(
        out.contains("name: cli\n") && out.contains("sync: Synced\n"),
        "{out}"
    );

    // wait: 0 when reached; 1 naming what it waited for.
    let (code, _, err) = cli(
        &base,
        Some(READ),
        &["wait", "cli", "--health", "--timeout", "10s"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let c2 = f.commit_files("a=2", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    f.push();
    let (code, out, err) = cli(&base, Some(WRITE), &["refresh", "cli"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("app cli: OutOfSync, Healthy at {}", &c2[..7])),
        "{out}"
    );
    let (code, _, err) = cli(
        &base,
        Some(READ),
        &["wait", "cli", "--sync", "--timeout", "1s"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("app cli: timed out after 1s: sync status OutOfSync (waited for Synced)"),
        "{err}"
    );

    // sync to c2, history, rollback to the first entry.
    let (code, _, err) = cli(&base, Some(WRITE), &["sync", "cli"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    let (code, out, _) = cli(&base, Some(READ), &["history", "cli"]).await;
    assert_eq!(code, 0);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["ID", "DATE", "REVISION"], "{out}");
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!((rows[1][0], rows[1][2]), ("1", c1.as_str()), "{out}");
    assert_eq!((rows[2][0], rows[2][2]), ("2", c2.as_str()), "{out}");
    assert!(
        rows[1][1].starts_with("20") && rows[1][1].ends_with('Z'),
        "{out}"
    );
    let (code, out, err) = cli(&base, Some(WRITE), &["rollback", "cli", "1"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("1"));
    let (_, out, _) = cli(&base, Some(READ), &["history", "cli", "-o", "json"]).await;
    let h: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(h[2]["rollback"], 1, "{h}");
    assert_eq!(h[2]["revision"], c1.as_str(), "{h}");

    // pause and resume.
    let (code, out, _) = cli(&base, Some(WRITE), &["pause", "cli"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("app cli: paused"), "{out}");
    assert_eq!(api.get("/api/v1/apps/cli").await["paused"], true);
    let (code, _, _) = cli(&base, Some(WRITE), &["resume", "cli"]).await;
    assert_eq!(code, 0);
    assert_eq!(api.get("/api/v1/apps/cli").await["paused"], false);
}

#[test]
fn completion_scripts_cover_the_app_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = crate::common::sluice(&["completion", shell]);
        assert!(out.status.success(), "{shell}");
        let script = crate::common::text(&out.stdout);
        for word in ["app", "rollback", "history", "token-file", "serve"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    // bash accepts the script and registers the completion.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "source <({} completion bash) && complete -p sluice",
                env!("CARGO_BIN_EXE_sluice")
            ),
        ])
        .output()
        .expect("bash");
    assert!(
        out.status.success() && crate::common::text(&out.stdout).contains("sluice"),
        "{}",
        crate::common::text(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            crate::common::text(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n",
    )
    .expect("ext");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=sluice test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn tls_and_a_separate_metrics_listener_and_sigterm_with_a_reader_on_the_event_stream() {
    let e = env();
    let (ca, cert, key) = certificates(e.state.parent().expect("tmp"));
    let (port, mport) = (free_port(), free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--apps"])
        .arg(&e.apps)
        .arg("--state-dir")
        .arg(&e.state)
        .arg("--git-cache-dir")
        .arg(&e.cache)
        .arg("--kubeconfig")
        .arg(&TestCluster::shared().kubeconfig)
        .arg("--tokens")
        .arg(&e.tokens)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{mport}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sluice serve");
    let pem = std::fs::read(&ca).expect("ca");
    let https = reqwest::blocking::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).expect("pem"))
        .build()
        .expect("client");
    let base = format!("https://127.0.0.1:{port}");
    let start = Instant::now();
    while https
        .get(format!("{base}/readyz"))
        .send()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve over TLS never became ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // HTTPS with a token; plain HTTP on the TLS port gets no answer.
    let r = https
        .get(format!("{base}/api/v1/apps"))
        .bearer_auth(READ)
        .send()
        .expect("apps");
    assert_eq!(r.status().as_u16(), 200);
    assert!(reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).is_err());
    // Metrics on their own listener, open, and no longer on the main one.
    let m = reqwest::blocking::get(format!("http://127.0.0.1:{mport}/metrics")).expect("metrics");
    assert_eq!(m.status().as_u16(), 200);
    assert!(m.text().expect("text").contains("sluice_operations_total"));
    let r = https
        .get(format!("{base}/metrics"))
        .send()
        .expect("metrics on main");
    assert_eq!(r.status().as_u16(), 404);
    // The CLI over TLS with --ca-cert and --token-file.
    let token_file = e.state.parent().expect("tmp").join("token");
    std::fs::write(&token_file, format!("{READ}\n")).expect("token");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["app", "list", "--server", &base, "--ca-cert"])
        .arg(&ca)
        .arg("--token-file")
        .arg(&token_file)
        .env_remove("SLUICE_TOKEN")
        .output()
        .expect("sluice app list");
    assert!(out.status.success(), "{}", crate::common::text(&out.stderr));
    assert!(crate::common::text(&out.stdout).starts_with("NAME"));

    // A reader on the event stream does not hold SIGTERM up.
    let events = https
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(READ)
        .send()
        .expect("events");
    assert_eq!(events.status().as_u16(), 200);
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(events);
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_count_syncs_heals_renders_and_webhooks() {
    let ns = TestCluster::shared().namespace("api-metrics");
    repo("api-metrics", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    let e = env();
    let url = server().http_url("api-metrics");
    std::fs::write(
        e.apps.join("m.yaml"),
        app_file(
            "metered",
            &url,
            &ns,
            "{automated: {prune: true, selfHeal: true}}",
        ),
    )
    .expect("write");
    let api = start(&e).await;
    api.until("metered", "synced", |a| {
        a["sync"] == "Synced" && a["health"] == "Healthy"
    })
    .await;
    // A drift healed, a webhook refused (no secret configured).
    TestCluster::shared().kubectl_ok(&[
        "patch",
        "configmap",
        "a",
        "-n",
        &ns,
        "--type",
        "merge",
        "-p",
        r#"{"data":{"v":"drift"}}"#,
    ]);
    let start = Instant::now();
    while cm_value(&ns, "a").as_deref() != Some("1") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "drift not healed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = api
        .http
        .post(format!("{}/api/webhook", api.base))
        .header("x-github-event", "push")
        .header("x-hub-signature-256", "sha256=00")
        .body("{}")
        .send()
        .await
        .expect("webhook");
    assert_eq!(r.status().as_u16(), 401);
    api.svc.idle().await;

    let r = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text().await.expect("text");

    // promtool (Debian's prometheus package) accepts the exposition.
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("feed");
    }
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        crate::common::text(&out.stdout),
        crate::common::text(&out.stderr)
    );

    let has = |want: &str| text.lines().any(|l| l.starts_with(want));
    for want in [
        format!(
            "sluice_app_info{{dest_server=\"\",health_status=\"Healthy\",name=\"metered\",namespace=\"{ns}\",repo=\"{url}\",sync_status=\"Synced\"}} 1"
        ),
        "sluice_app_sync_total{name=\"metered\",phase=\"Succeeded\"} 2".to_string(),
        "sluice_selfheal_total{name=\"metered\"} 1".to_string(),
        "sluice_app_reconcile_duration_seconds_count ".to_string(),
        format!("sluice_git_fetch_duration_seconds_count{{repo=\"{url}\"}} "),
        "sluice_render_duration_seconds_count{renderer=".to_string(),
        "sluice_plugin_calls_total{plugin=".to_string(),
        "sluice_renders_reused_total ".to_string(),
        "sluice_webhook_requests_total{provider=\"github\",result=\"refused\"} 1".to_string(),
        "process_resident_memory_bytes ".to_string(),
        "process_open_fds ".to_string(),
    ] {
        assert!(has(&want), "{want:?} not in:\n{text}");
    }
}

/// A webhook receiver on loopback: records each body by path; answers 503
/// to the first `fail` requests.
async fn receiver(
    fail: usize,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use axum::extract::{Path as P, State as S};
    use std::sync::{Arc, Mutex};
    type Seen = Arc<Mutex<Vec<(String, Value)>>>;
    let seen: Seen = Arc::default();
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = axum::Router::new()
        .route(
            "/{hook}",
            axum::routing::post(
                move |S((seen, tries)): S<(Seen, Arc<std::sync::atomic::AtomicUsize>)>,
                      P(hook): P<String>,
                      body: String| async move {
                    let n = tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    seen.lock().expect("lock").push((format!("{hook}#{n}"), v));
                    if n < fail {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                },
            ),
        )
        .with_state((seen.clone(), tries));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_a_loopback_receiver_after_retries_in_slack_and_generic_form() {
    use sluice::serve::notify::{Delivery, EventKind, Format, Notifications, Webhook};
    let ns = TestCluster::shared().namespace("api-notify");
    repo("api-notify-good", &[("app/a.yaml", &cm_yaml("a", "1"))]);
    // The API server refuses a ConfigMap whose data is not a string map.
    repo(
        "api-notify-bad",
        &[(
            "app/b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {v: {nested: 1}}\n",
        )],
    );
    let e = env();
    let auto = "{automated: {prune: true}}";
    std::fs::write(
        e.apps.join("good.yaml"),
        app_file("good", &server().http_url("api-notify-good"), &ns, auto),
    )
    .expect("write");
    std::fs::write(
        e.apps.join("bad.yaml"),
        app_file("bad", &server().http_url("api-notify-bad"), &ns, auto),
    )
    .expect("write");
    let (slack_url, slack) = receiver(2).await;
    let (generic_url, generic) = receiver(0).await;
    let svc = Service::start(config(&e), renderers(), true)
        .await
        .expect("start");
    sluice::serve::notify::spawn(
        &svc,
        Notifications {
            webhooks: vec![
                Webhook {
                    url: format!("{slack_url}/slack"),
                    format: Format::Slack,
                    events: vec![EventKind::SyncSucceeded],
                },
                Webhook {
                    url: format!("{generic_url}/generic"),
                    format: Format::Generic,
                    events: vec![EventKind::SyncSucceeded, EventKind::SyncFailed],
                },
            ],
            delivery: Delivery {
                backoff: Duration::from_millis(100),
                ..Delivery::default()
            },
        },
    );
    let start = Instant::now();
    let got = |seen: &std::sync::Mutex<Vec<(String, Value)>>| seen.lock().expect("lock").clone();
    while got(&generic).len() < 2 || got(&slack).len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "notifications missing: slack {:?} generic {:?}",
            got(&slack),
            got(&generic)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Slack: refused twice, delivered on the third try, the same body each time.
    let s = got(&slack);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s.iter().all(|(_, v)| v == &s[0].1), "{s:?}");
    assert_eq!(s[0].1["text"], "sluice: app good: sync succeeded", "{s:?}");
    assert_eq!(s[0].1["attachments"][0]["color"], "good");
    assert_eq!(s[0].1["attachments"][0]["fields"][1]["value"], "Healthy");
    // Generic: one per event, the failure naming the refused object.
    let g: Vec<Value> = got(&generic).into_iter().map(|(_, v)| v).collect();
    let of = |app: &str| {
        g.iter()
            .find(|v| v["app"] == app)
            .cloned()
            .expect("an event")
    };
    assert_eq!(of("good")["event"], "sync-succeeded", "{g:?}");
    let bad = of("bad");
    assert_eq!(bad["event"], "sync-failed", "{g:?}");
    assert!(
        bad["message"]
            .as_str()
            .is_some_and(|m| m.contains("SyncError") && m.contains("ConfigMap")),
        "{bad}"
    );
    // Nothing else was sent (no success for the failing app, no duplicates).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got(&generic).len(), 2, "{:?}", got(&generic));
    assert_eq!(got(&slack).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_the_list_a_live_drift_and_rolls_back_from_the_button() {
    // Playwright for Python, from PyPI, into the build cache.
    let setup = std::process::Command::new("bash")
        .arg(crate::common::repo_root().join("scripts/playwright.sh"))
        .output()
        .expect("scripts/playwright.sh");
    assert!(
        setup.status.success(),
        "{}",
        crate::common::text(&setup.stderr)
    );
    let python = PathBuf::from(
        crate::common::text(&setup.stdout)
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("PLAYWRIGHT_PYTHON="))
            .expect("the script names the python")
            .trim(),
    );
    let ns = TestCluster::shared().namespace("api-dash");
    let _live = repo("api-dash-live", &[("app/live.yaml", &cm_yaml("live", "1"))]);
    let wave1 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w, annotations: {argocd.argoproj.io/sync-wave: \"1\"}}\ndata: {v: \"1\"}\n";
    let fh = repo(
        "api-dash-hist",
        &[("app/a.yaml", &cm_yaml("a", "1")), ("app/w.yaml", wave1)],
    );
    repo("api-dash-idle", &[("app/idle.yaml", &cm_yaml("idle", "1"))]);
    let e = env();
    let auto = "{automated: {prune: true, selfHeal: true}}";
    for (name, r, policy) in [
        ("live", "api-dash-live", auto),
        ("hist", "api-dash-hist", "{}"),
        ("idle", "api-dash-idle", "{}"),
    ] {
        std::fs::write(
            e.apps.join(format!("{name}.yaml")),
            app_file(name, &server().http_url(r), &ns, policy),
        )
        .expect("write");
    }
    let api = start(&e).await;
    api.until("live", "synced", |a| {
        a["sync"] == "Synced" && a["health"] == "Healthy"
    })
    .await;
    // Two syncs of hist, so there is an entry to roll back to.
    let c1 = fh.rev("HEAD");
    api.operate("hist", "sync", json!({})).await;
    fh.commit_files("a=2", &[("app/a.yaml", &cm_yaml("a", "2"))]);
    fh.push();
    api.operate("hist", "sync", json!({})).await;
    assert_eq!(cm_value(&ns, "a").as_deref(), Some("2"));
    let res = api.get("/api/v1/apps/hist/resources").await;
    let waves: Vec<(&str, i64)> = res
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or(""),
                r["wave"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(waves, [("a", 0), ("w", 1)], "{res}");
    api.until("idle", "compared", |a| a["sync"] == "OutOfSync")
        .await;

    // Screenshots go under the build cache, beside the target directory.
    // (this binary is TARGET/debug/deps/e2e-HASH).
    let exe = std::env::current_exe().expect("test binary");
    let target = exe.ancestors().nth(3).expect("the target directory");
    let shots = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).expect("mkdir");
    let script = crate::common::repo_root().join("tests/e2e/dashboard.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(script)
        .env("BASE", &api.base)
        .env("TOKEN", WRITE)
        .env("NS", &ns)
        .env("KUBECONFIG", &TestCluster::shared().kubeconfig)
        .env("SHOTS", &shots)
        .env("C1", &c1[..7]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; scripts/playwright.sh installs Playwright for Python",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "dashboard.py: {}{}",
        crate::common::text(&out.stdout),
        crate::common::text(&out.stderr)
    );
    // The figures the script measured.
    eprint!("{}", crate::common::text(&out.stdout));
    assert_eq!(
        cm_value(&ns, "a").as_deref(),
        Some("1"),
        "rolled back in the cluster"
    );
    assert_eq!(cm_value(&ns, "live").as_deref(), Some("1"), "healed");
    for f in ["list.png", "drift.png", "app.png", "rollback.png"] {
        assert!(
            shots.join(f).metadata().is_ok_and(|m| m.len() > 1000),
            "{f}"
        );
    }
}

/// Health notifications follow the live objects: a Job that fails makes
/// the app Degraded (one `health-degraded`); deleted, re-created by
/// self-heal and completed, the app is Healthy again (one
/// `health-recovered`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_notifications_follow_a_job_that_fails_and_then_succeeds() {
    use sluice::serve::notify::{Delivery, EventKind, Format, Notifications, Webhook};
    let ns = TestCluster::shared().namespace("api-health");
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: work}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox}]\n";
    repo("api-health", &[("app/job.yaml", job)]);
    let e = env();
    std::fs::write(
        e.apps.join("job.yaml"),
        app_file(
            "job",
            &server().http_url("api-health"),
            &ns,
            "{automated: {prune: true, selfHeal: true}}",
        ),
    )
    .expect("write");
    let (url, seen) = receiver(0).await;
    let svc = Service::start(config(&e), renderers(), true)
        .await
        .expect("start");
    sluice::serve::notify::spawn(
        &svc,
        Notifications {
            webhooks: vec![Webhook {
                url: format!("{url}/hook"),
                format: Format::Generic,
                events: vec![EventKind::HealthDegraded, EventKind::HealthRecovered],
            }],
            delivery: Delivery {
                backoff: Duration::from_millis(100),
                ..Delivery::default()
            },
        },
    );
    let events = || -> Vec<String> {
        seen.lock()
            .expect("lock")
            .iter()
            .filter_map(|(_, v)| v["event"].as_str().map(str::to_string))
            .collect()
    };
    let svc_ref = &svc;
    let wait = |what: &'static str, n: usize| {
        let events = &events;
        let svc = svc_ref;
        async move {
            let start = Instant::now();
            while events().len() < n {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "{what}: events so far {:?}; status {:?}",
                    events(),
                    svc.status("job")
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let start = Instant::now();
    while cm_or_job(&ns).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the Job was never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    set_job_status(&ns, "work", false);
    wait("health-degraded", 1).await;
    assert_eq!(events(), ["health-degraded"]);
    // A finished Job cannot be changed; delete it: self-heal re-creates it,
    // and this time it completes.
    TestCluster::shared().kubectl_ok(&["delete", "job", "work", "-n", &ns, "--wait=true"]);
    let start = Instant::now();
    while cm_or_job(&ns).is_none_or(|uid_status| uid_status.1) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the Job was not re-created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    set_job_status(&ns, "work", true);
    wait("health-recovered", 2).await;
    assert_eq!(events(), ["health-degraded", "health-recovered"]);
    let v = seen.lock().expect("lock")[1].1.clone();
    assert_eq!(v["app"], "job", "{v}");
    assert_eq!(v["health"], "Healthy", "{v}");
}

/// The Job `work` of `ns`: its UID and whether it has a status already.
fn cm_or_job(ns: &str) -> Option<(String, bool)> {
    let out = TestCluster::shared()
        .kubectl()
        .args(["get", "job", "work", "-n", ns, "-o", "json"])
        .output()
        .expect("kubectl");
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    Some((
        v["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["status"]["conditions"].is_array(),
    ))
}
