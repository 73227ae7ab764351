//! `sluice app`: read and steer the apps of a running `sluice serve`
//! through its HTTP API, with output an `argocd app` user recognises.
//!
//! The server is `--server` (or `SLUICE_SERVER`, default
//! `http://127.0.0.1:8080`); the token is `SLUICE_TOKEN` or the first line
//! of `--token-file`. Operations (`sync`, `rollback`, `refresh`) wait until
//! the service has run the operation that carried the request (the API's
//! request ticket), then print the app. Exit codes: 0 done; 1 the app is
//! not as asked (`diff`: it differs; `sync`: the sync failed; `wait`: timed
//! out); 2 the request could not be made or was refused.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to reach the service.
#[derive(Debug, clap::Args)]
pub struct Conn {
    /// The service's URL.
    #[arg(
        long,
        env = "SLUICE_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// A file whose first line is the API token (else SLUICE_TOKEN).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// Trust this PEM CA certificate for an https:// server.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
}

/// Output formats of `sluice app`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table or summary.
    Table,
    /// `list` only: with REPO PATH TARGET.
    Wide,
    /// JSON, as the API answers.
    Json,
    /// YAML.
    Yaml,
}

/// `sluice app` and its commands.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How to reach the service.
    #[command(flatten)]
    pub conn: Conn,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The `sluice app` commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List apps: NAME CLUSTER NAMESPACE STATUS HEALTH SYNCPOLICY CONDITIONS.
    List {
        /// Output: table, wide (adds REPO PATH TARGET), json, yaml.
        #[arg(short, long, value_enum, default_value = "table")]
        output: Format,
    },
    /// Show an app: its source, sync and health, then its resources.
    Get {
        /// The app.
        name: String,
        /// Output: table, json, yaml.
        #[arg(short, long, value_enum, default_value = "table")]
        output: Format,
    },
    /// Show how an app's live objects differ from Git (exit 1 when they do).
    Diff {
        /// The app.
        name: String,
        /// Compare again now instead of showing the last comparison.
        #[arg(long)]
        refresh: bool,
        /// Output: table (unified diffs), json, yaml.
        #[arg(short, long, value_enum, default_value = "table")]
        output: Format,
        /// How long a --refresh may take.
        #[arg(long, default_value = "2m", value_parser = super::parse_duration)]
        timeout: Duration,
    },
    /// Sync an app and wait for the operation (exit 1 when it failed).
    Sync {
        /// The app.
        name: String,
        /// Sync this branch, tag or commit instead of the target revision.
        #[arg(long)]
        revision: Option<String>,
        /// Delete objects that left Git.
        #[arg(long)]
        prune: bool,
        /// Only compare; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Return once queued, without waiting.
        #[arg(long)]
        r#async: bool,
        /// How long to wait for the operation.
        #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
        timeout: Duration,
        /// Output: table, json, yaml.
        #[arg(short, long, value_enum, default_value = "table")]
        output: Format,
    },
    /// Wait until an app is Synced and/or Healthy (exit 1 on timeout).
    Wait {
        /// The app.
        name: String,
        /// Wait for sync status Synced.
        #[arg(long)]
        sync: bool,
        /// Wait for health Healthy.
        #[arg(long)]
        health: bool,
        /// How long to wait.
        #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
        timeout: Duration,
    },
    /// Show an app's last syncs: ID DATE REVISION.
    History {
        /// The app.
        name: String,
        /// Output: table, json, yaml.
        #[arg(short, long, value_enum, default_value = "table")]
        output: Format,
    },
    /// Sync an app to a history entry's commit.
    Rollback {
        /// The app.
        name: String,
        /// The history entry (see `sluice app history`).
        id: u64,
        /// Turn automated sync off for the app in the same call (required
        /// while it is on).
        #[arg(long)]
        disable_auto_sync: bool,
        /// Delete objects the entry's commit does not have.
        #[arg(long)]
        prune: bool,
        /// How long to wait for the operation.
        #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
        timeout: Duration,
    },
    /// Stop syncing and healing an app (it is still compared).
    Pause {
        /// The app.
        name: String,
    },
    /// Sync and heal an app again.
    Resume {
        /// The app.
        name: String,
    },
    /// Compare an app with Git and the cluster now.
    Refresh {
        /// The app.
        name: String,
        /// How long to wait for the comparison.
        #[arg(long, default_value = "2m", value_parser = super::parse_duration)]
        timeout: Duration,
    },
}

/// The API's answer to a refused or failed request.
#[derive(Debug, thiserror::Error)]
#[error("{method} {url}: {status}: {message}")]
struct Refused {
    method: String,
    url: String,
    status: u16,
    message: String,
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(conn: &Conn) -> anyhow::Result<Client> {
        let token = match &conn.token_file {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read the token file {}", f.display()))?;
                let t = text.lines().next().unwrap_or_default().trim().to_string();
                if t.is_empty() {
                    bail!("the token file {} is empty", f.display());
                }
                Some(t)
            }
            None => std::env::var("SLUICE_TOKEN").ok().filter(|t| !t.is_empty()),
        };
        let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
        if let Some(ca) = &conn.ca_cert {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("no PEM certificate in {}", ca.display()))?;
            b = b.tls_certs_merge(certs);
        }
        Ok(Client {
            http: b.build().context("cannot set up the HTTP client")?,
            base: conn.server.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut r = if method == "POST" {
            self.http.post(&url)
        } else {
            self.http.get(&url)
        };
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b)?);
        }
        let resp = r.send().with_context(|| {
            format!(
                "cannot reach sluice serve at {}; check --server or SLUICE_SERVER",
                self.base
            )
        })?;
        let status = resp.status();
        let text = resp.text().context("cannot read the answer")?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let mut message = v["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            if status.as_u16() == 401 && self.token.is_none() {
                message.push_str(" (no token: set SLUICE_TOKEN or pass --token-file)");
            }
            return Err(Refused {
                method: method.into(),
                url,
                status: status.as_u16(),
                message,
            }
            .into());
        }
        Ok(v)
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call("GET", path, None)
    }

    /// POST an operation and wait until the operation that carried it
    /// ended; returns the app then.
    fn operate(
        &self,
        name: &str,
        op: &str,
        body: Value,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let q = self.call("POST", &format!("/api/v1/apps/{name}/{op}"), Some(body))?;
        let ticket = q["request"].as_u64().unwrap_or(0);
        let start = Instant::now();
        loop {
            let a = self.get(&format!("/api/v1/apps/{name}"))?;
            if a["servedRequest"].as_u64().unwrap_or(0) >= ticket {
                return Ok(a);
            }
            if start.elapsed() > timeout {
                bail!(
                    "app {name}: the {op} was queued but had not run after {}s; it will still run — see `sluice app get {name}`",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Run `sluice app`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let client = Client::new(&args.conn)?;
    match run_on(&client, args.command) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(EXIT_USAGE)
        }
    }
}

fn run_on(c: &Client, cmd: Command) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    match cmd {
        Command::List { output } => {
            let apps = c.get("/api/v1/apps")?;
            if !matches!(output, Format::Table | Format::Wide) {
                let list: Vec<&Value> = apps
                    .as_object()
                    .map(|m| m.values().collect())
                    .unwrap_or_default();
                return print_data(&mut out, &json!(list), output);
            }
            let mut head = vec![
                "NAME",
                "CLUSTER",
                "NAMESPACE",
                "STATUS",
                "HEALTH",
                "SYNCPOLICY",
                "CONDITIONS",
            ];
            if output == Format::Wide {
                head.extend(["REPO", "PATH", "TARGET"]);
            }
            let rows: Vec<Vec<String>> = apps
                .as_object()
                .map(|m| {
                    m.values()
                        .map(|a| list_row(a, output == Format::Wide))
                        .collect()
                })
                .unwrap_or_default();
            table(&mut out, &head, &rows)?;
        }
        Command::Get { name, output } => {
            let a = c.get(&format!("/api/v1/apps/{name}"))?;
            if output != Format::Table && output != Format::Wide {
                return print_data(&mut out, &a, output);
            }
            let res = c.get(&format!("/api/v1/apps/{name}/resources"))?;
            summary(&mut out, &a)?;
            writeln!(out)?;
            resources(&mut out, &res)?;
        }
        Command::Diff {
            name,
            refresh,
            output,
            timeout,
        } => {
            if refresh {
                c.operate(&name, "refresh", json!({}), timeout)?;
            }
            let d = c.get(&format!("/api/v1/apps/{name}/diff"))?;
            let items = d["resources"].as_array().cloned().unwrap_or_default();
            if output == Format::Json || output == Format::Yaml {
                print_data(&mut out, &d, output)?;
            } else {
                for r in &items {
                    let text = r["diff"].as_str().unwrap_or_default();
                    if text.is_empty() {
                        writeln!(out, "# {}: {} {}", id(r), s(&r["status"]), s(&r["message"]))?;
                    } else {
                        out.write_all(text.as_bytes())?;
                    }
                }
            }
            let differs = !items.is_empty() || d["sync"] != "Synced";
            return Ok(if differs { EXIT_FAILED } else { EXIT_OK });
        }
        Command::Sync {
            name,
            revision,
            prune,
            dry_run,
            r#async,
            timeout,
            output,
        } => {
            let mut body = json!({ "dryRun": dry_run });
            if let Some(r) = revision {
                body["revision"] = json!(r);
            }
            if prune {
                body["prune"] = json!(true);
            }
            if r#async {
                let q = c.call("POST", &format!("/api/v1/apps/{name}/sync"), Some(body))?;
                return print_data(&mut out, &q, output_or_json(output)).map(|_| EXIT_OK);
            }
            let a = c.operate(&name, "sync", body, timeout)?;
            return finished(c, &mut out, &name, &a, output);
        }
        Command::Wait {
            name,
            sync,
            health,
            timeout,
        } => {
            // Neither flag: both.
            let (sync, health) = if sync || health {
                (sync, health)
            } else {
                (true, true)
            };
            let start = Instant::now();
            loop {
                let a = c.get(&format!("/api/v1/apps/{name}"))?;
                let sync_ok = !sync || a["sync"] == "Synced";
                let health_ok = !health || a["health"] == "Healthy";
                if sync_ok && health_ok {
                    writeln!(out, "app {name}: {}, {}", s(&a["sync"]), s(&a["health"]))?;
                    return Ok(EXIT_OK);
                }
                if start.elapsed() > timeout {
                    let mut missed = Vec::new();
                    if !sync_ok {
                        missed.push(format!("sync status {} (waited for Synced)", s(&a["sync"])));
                    }
                    if !health_ok {
                        missed.push(format!("health {} (waited for Healthy)", s(&a["health"])));
                    }
                    eprintln!(
                        "error: app {name}: timed out after {}s: {}",
                        timeout.as_secs(),
                        missed.join(", ")
                    );
                    return Ok(EXIT_FAILED);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        Command::History { name, output } => {
            let h = c.get(&format!("/api/v1/apps/{name}/history"))?;
            if output != Format::Table && output != Format::Wide {
                return print_data(&mut out, &h, output);
            }
            let rows: Vec<Vec<String>> = h
                .as_array()
                .map(|h| {
                    h.iter()
                        .map(|e| vec![e["id"].to_string(), s(&e["deployedAt"]), s(&e["revision"])])
                        .collect()
                })
                .unwrap_or_default();
            table(&mut out, &["ID", "DATE", "REVISION"], &rows)?;
        }
        Command::Rollback {
            name,
            id,
            disable_auto_sync,
            prune,
            timeout,
        } => {
            let mut body = json!({ "id": id, "disableAutoSync": disable_auto_sync });
            if prune {
                body["prune"] = json!(true);
            }
            let a = c.operate(&name, "rollback", body, timeout)?;
            return finished(c, &mut out, &name, &a, Format::Table);
        }
        Command::Pause { name } => {
            c.call("POST", &format!("/api/v1/apps/{name}/pause"), None)?;
            writeln!(
                out,
                "app {name}: paused (compared, never written); resume with `sluice app resume {name}`"
            )?;
        }
        Command::Resume { name } => {
            c.call("POST", &format!("/api/v1/apps/{name}/resume"), None)?;
            writeln!(out, "app {name}: resumed")?;
        }
        Command::Refresh { name, timeout } => {
            let a = c.operate(&name, "refresh", json!({}), timeout)?;
            writeln!(
                out,
                "app {name}: {}, {} at {}",
                s(&a["sync"]),
                s(&a["health"]),
                short(&s(&a["revision"]))
            )?;
        }
    }
    Ok(EXIT_OK)
}

/// After a sync or rollback: the app, and exit 1 when the operation
/// failed.
fn finished(
    c: &Client,
    out: &mut impl std::io::Write,
    name: &str,
    a: &Value,
    output: Format,
) -> anyhow::Result<i32> {
    if output == Format::Json || output == Format::Yaml {
        print_data(out, a, output)?;
    } else {
        let res = c.get(&format!("/api/v1/apps/{name}/resources"))?;
        summary(out, a)?;
        writeln!(out)?;
        resources(out, &res)?;
    }
    let failed = a["conditions"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            matches!(
                c["type"].as_str(),
                Some("SyncError" | "ComparisonError" | "InvalidSpecError")
            )
        })
    });
    if failed {
        eprintln!("error: app {name}: the operation failed; see the conditions above");
    }
    Ok(if failed { EXIT_FAILED } else { EXIT_OK })
}

fn output_or_json(f: Format) -> Format {
    if f == Format::Yaml { f } else { Format::Json }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn short(rev: &str) -> String {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        rev[..7].to_string()
    } else {
        rev.to_string()
    }
}

fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

fn sync_policy(spec: &Value) -> String {
    if spec["automated"] != true {
        return "<none>".into();
    }
    if spec["prune"] == true {
        "Auto-Prune".into()
    } else {
        "Auto".into()
    }
}

fn conditions(a: &Value) -> String {
    a["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| s(&c["type"]))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn list_row(a: &Value, wide: bool) -> Vec<String> {
    let spec = &a["spec"];
    let mut row = vec![
        s(&a["name"]),
        or_none(s(&spec["cluster"])),
        or_none(s(&spec["namespace"])),
        s(&a["sync"]),
        or_none(s(&a["health"])),
        sync_policy(spec),
        or_none(conditions(a)),
    ];
    if wide {
        row.extend([
            s(&spec["repoURL"]),
            s(&spec["path"]),
            s(&spec["targetRevision"]),
        ]);
    }
    row
}

fn summary(out: &mut impl std::io::Write, a: &Value) -> anyhow::Result<()> {
    let spec = &a["spec"];
    let policy = if spec["automated"] == true {
        let mut opts = Vec::new();
        if spec["prune"] == true {
            opts.push("Prune");
        }
        if spec["selfHeal"] == true {
            opts.push("SelfHeal");
        }
        if opts.is_empty() {
            "Automated".to_string()
        } else {
            format!("Automated ({})", opts.join(", "))
        }
    } else if spec["autoSyncDisabled"] == true {
        "Manual (automated sync turned off by a rollback)".to_string()
    } else {
        "Manual".to_string()
    };
    let target = s(&spec["targetRevision"]);
    let rows = [
        ("Name:", s(&a["name"])),
        ("Server:", s(&spec["cluster"])),
        ("Namespace:", s(&spec["namespace"])),
        ("Repo:", s(&spec["repoURL"])),
        ("Target:", target.clone()),
        ("Path:", s(&spec["path"])),
        ("Sync Policy:", policy),
        (
            "Sync Status:",
            format!(
                "{} to {target} ({})",
                s(&a["sync"]),
                short(&s(&a["revision"]))
            ),
        ),
        ("Health Status:", s(&a["health"])),
    ];
    for (k, v) in rows {
        writeln!(out, "{k:<20}{v}")?;
    }
    if a["paused"] == true {
        writeln!(out, "{:<20}true", "Paused:")?;
    }
    if let Some(op) = a["operation"].as_object() {
        writeln!(
            out,
            "{:<20}{} {} ({})",
            "Last Operation:",
            s(&op["phase"]),
            short(&s(&op["revision"])),
            s(&op["message"])
        )?;
    }
    for c in a["conditions"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<20}{}: {}",
            "Condition:",
            s(&c["type"]),
            s(&c["message"])
        )?;
    }
    Ok(())
}

fn resources(out: &mut impl std::io::Write, res: &Value) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = res
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    vec![
                        s(&r["group"]),
                        s(&r["kind"]),
                        s(&r["namespace"]),
                        s(&r["name"]),
                        s(&r["status"]),
                        s(&r["health"]),
                        s(&r["hook"]),
                        s(&r["message"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(
        out,
        &[
            "GROUP",
            "KIND",
            "NAMESPACE",
            "NAME",
            "STATUS",
            "HEALTH",
            "HOOK",
            "MESSAGE",
        ],
        &rows,
    )
}

fn id(r: &Value) -> String {
    let g = s(&r["group"]);
    let kind = if g.is_empty() {
        s(&r["kind"])
    } else {
        format!("{}.{g}", s(&r["kind"]))
    };
    match r["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{}", s(&r["name"])),
        None => format!("{kind}/{}", s(&r["name"])),
    }
}

/// Columns separated by two spaces, the last one not padded.
fn table(out: &mut impl std::io::Write, head: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(width[i] - c.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn print_data(out: &mut impl std::io::Write, v: &Value, f: Format) -> anyhow::Result<i32> {
    if f == Format::Yaml {
        out.write_all(serde_norway::to_string(v)?.as_bytes())?;
    } else {
        serde_json::to_writer_pretty(&mut *out, v)?;
        writeln!(out)?;
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_leave_the_last_column_unpadded() {
        let mut out = Vec::new();
        table(
            &mut out,
            &["ID", "DATE", "REVISION"],
            &[vec![
                "1".into(),
                "2026-11-30T12:00:00Z".into(),
                "abc".into(),
            ]],
        )
        .expect("table");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "ID  DATE                  REVISION\n1   2026-11-30T12:00:00Z  abc\n"
        );
    }

    #[test]
    fn list_rows_read_like_argocd() {
        let a = json!({
            "name": "web", "sync": "OutOfSync", "health": "Healthy",
            "conditions": [{"type": "SyncError", "message": "x"}],
            "spec": {"cluster": "in-cluster", "namespace": "prod", "automated": true, "prune": true,
                     "repoURL": "https://git/r", "path": "app", "targetRevision": "main"}
        });
        assert_eq!(
            list_row(&a, true),
            [
                "web",
                "in-cluster",
                "prod",
                "OutOfSync",
                "Healthy",
                "Auto-Prune",
                "SyncError",
                "https://git/r",
                "app",
                "main"
            ]
        );
        let manual =
            json!({"name": "m", "sync": "Synced", "health": "", "spec": {"automated": false}});
        assert_eq!(list_row(&manual, false)[5], "<none>");
        assert_eq!(list_row(&manual, false)[6], "<none>");
    }
}
