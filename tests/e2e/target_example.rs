//! `examples/kv-target`, the custom target plugin example, built the way
//! its README says and run by `sluice sync` against a key-value HTTP
//! service started here on 127.0.0.1 (which requires the token the host
//! adds).

use crate::common::{repo_root, text};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "Bearer kv-token-for-tests";

/// The service's state: key → document, plus requests without the token.
#[derive(Default)]
struct Store {
    docs: BTreeMap<String, Value>,
    unauthorised: usize,
}

/// Serve `GET/PUT/DELETE /kv/<name>` until the process ends.
fn serve(store: Arc<Mutex<Store>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let (mut len, mut auth) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or((&h, ""));
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "authorization" => auth = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let mut s = store.lock().expect("lock");
            let (status, out) = if auth != TOKEN {
                s.unauthorised += 1;
                (401, String::new())
            } else {
                let key = path.trim_start_matches("/kv/").to_string();
                match method.as_str() {
                    "GET" => match s.docs.get(&key) {
                        Some(d) => (200, d.to_string()),
                        None => (404, String::new()),
                    },
                    "PUT" => {
                        let doc = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        s.docs.insert(key, doc);
                        (204, String::new())
                    }
                    "DELETE" => match s.docs.remove(&key) {
                        Some(_) => (204, String::new()),
                        None => (404, String::new()),
                    },
                    _ => (405, String::new()),
                }
            };
            drop(s);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    origin
}

/// Build the example as its Cargo.toml says; the .wasm file.
fn build_example() -> PathBuf {
    let target = std::env::var_os("SLUICE_PLUGINS_NATIVE_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/sluice/plugins-native")
        });
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(repo_root().join("examples/kv-target/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    target.join("wasm32-wasip2/release/kv_target.wasm")
}

#[test]
fn the_custom_target_example_syncs_prunes_and_leaves_others_entries_alone() {
    let wasm = build_example();
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&wasm).expect("built")));
    let store = Arc::new(Mutex::new(Store::default()));
    let origin = serve(store.clone());

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("repo/app")).expect("mkdir");
    std::fs::create_dir_all(root.join("targets")).expect("mkdir");
    std::fs::write(root.join("targets/token"), format!("{TOKEN}\n")).expect("write");
    std::fs::write(
        root.join("targets/kv.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Target\nmetadata: {{name: kv}}\nspec:\n  plugin: {{path: {}, sha256: {sha}}}\n  allowedOrigins: [\"{origin}\"]\n  credentials: {{header: Authorization, fromFile: token}}\n",
            wasm.display()
        ),
    )
    .expect("write");
    std::fs::write(
        root.join("app.yaml"),
        "apiVersion: sluice.dev/v1alpha1\nkind: Application\nmetadata: {name: settings}\nspec:\n  source: {repoURL: repo, path: app}\n  destination: {namespace: cfg}\n  syncPolicy: {syncOptions: [CreateNamespace=true]}\n  targets: [kv]\n",
    )
    .expect("write");
    let entry = |name: &str, value: Value| {
        std::fs::write(
            root.join(format!("repo/app/{name}.yaml")),
            format!(
                "apiVersion: kv.example.dev/v1\nkind: Entry\nmetadata: {{name: {name}}}\nspec: {{value: {value}}}\n"
            ),
        )
        .expect("write")
    };
    let sync = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "sync",
                "app.yaml",
                "--targets",
                "targets",
                "--prune",
                "--target",
            ])
            .arg(format!("dir:{}", root.join("cluster").display()))
            .args(extra)
            .current_dir(root)
            .output()
            .expect("run");
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    entry("greeting", json!({"text": "hello"}));
    entry("limit", json!(10));
    let (code, out, err) = sync(&[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    {
        let s = store.lock().expect("lock");
        assert_eq!(s.docs["greeting"]["value"], json!({"text": "hello"}));
        assert_eq!(s.docs["limit"]["value"], json!(10));
        assert!(
            s.docs["limit"]["owner"]
                .as_str()
                .is_some_and(|o| o.starts_with("applyset-"))
        );
        assert_eq!(s.unauthorised, 0, "every request carried the host's token");
    }

    // Changed in Git: configured; removed: pruned.
    entry("limit", json!(20));
    std::fs::remove_file(root.join("repo/app/greeting.yaml")).expect("rm");
    let (code, out, err) = sync(&[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("1 configured") && out.contains("1 pruned"),
        "{out}"
    );
    {
        let s = store.lock().expect("lock");
        assert_eq!(s.docs["limit"]["value"], json!(20));
        assert!(!s.docs.contains_key("greeting"));
    }

    // Someone else's entry is not taken over.
    store.lock().expect("lock").docs.insert(
        "shared".into(),
        json!({"value": "theirs", "owner": "someone-else"}),
    );
    entry("shared", json!("ours"));
    let (code, out, _) = sync(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "exists and belongs to ApplySet someone-else (its parent object was not found)"
        ),
        "{out}"
    );
    assert_eq!(
        store.lock().expect("lock").docs["shared"]["value"],
        json!("theirs")
    );
}
