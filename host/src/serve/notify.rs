//! Outgoing notifications: a sync succeeded or failed, an app's health
//! degraded or recovered, posted to webhook URLs.
//!
//! `--notifications FILE` is YAML:
//!
//! ```yaml
//! webhooks:
//!   - url: https://hooks.slack.com/services/...
//!     format: slack            # or generic (the default)
//!     events: [sync-failed, health-degraded]   # default: every event
//! ```
//!
//! Design:
//! - The notifier follows the service's status events ([`Service::subscribe`])
//!   in its own task and compares each app's status with the one it saw
//!   before ([`events`], a pure function), so it never sits on the path of
//!   an operation: a slow or dead receiver delays nothing.
//! - Each webhook has its own bounded queue and sender task; when a
//!   receiver is down long enough to fill its queue, new notifications for
//!   it are dropped and logged, never buffered without bound.
//! - A delivery that fails (connection error, timeout, a non-2xx answer)
//!   is retried with exponential backoff (1 s, 2 s, 4 s, ...) up to
//!   [`Delivery::attempts`] times, then logged as lost.
//! - Bodies: `slack` is Slack's incoming-webhook JSON (`text` plus one
//!   coloured attachment), which Mattermost and Rocket.Chat accept too;
//!   `generic` is a flat JSON object ([`Generic`]).

use super::service::Service;
use super::status::{AppStatus, Phase};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// What happened to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A sync wrote and every object was applied.
    SyncSucceeded,
    /// A sync failed (objects refused, or it could not run).
    SyncFailed,
    /// Health became Degraded.
    HealthDegraded,
    /// Health went from Degraded back to Healthy.
    HealthRecovered,
}

impl EventKind {
    fn all() -> Vec<EventKind> {
        vec![
            EventKind::SyncSucceeded,
            EventKind::SyncFailed,
            EventKind::HealthDegraded,
            EventKind::HealthRecovered,
        ]
    }

    fn title(self) -> &'static str {
        match self {
            EventKind::SyncSucceeded => "sync succeeded",
            EventKind::SyncFailed => "sync failed",
            EventKind::HealthDegraded => "health degraded",
            EventKind::HealthRecovered => "health recovered",
        }
    }

    fn color(self) -> &'static str {
        match self {
            EventKind::SyncSucceeded | EventKind::HealthRecovered => "good",
            EventKind::SyncFailed => "danger",
            EventKind::HealthDegraded => "warning",
        }
    }
}

/// The body format of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A flat JSON object ([`Generic`]).
    #[default]
    Generic,
    /// Slack's incoming-webhook JSON.
    Slack,
}

/// One webhook of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// The body format.
    #[serde(default)]
    pub format: Format,
    /// The events sent (default: all).
    #[serde(default = "EventKind::all")]
    pub events: Vec<EventKind>,
}

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Tries per notification, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// The timeout of one try.
    pub timeout: Duration,
    /// Notifications waiting per webhook before new ones are dropped.
    pub queue: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            attempts: 5,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            queue: 256,
        }
    }
}

/// The notification configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// The webhooks.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Retries (not in the file: the defaults, or a test's).
    #[serde(skip)]
    pub delivery: Delivery,
}

/// The error returned by [`Notifications::load`].
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The file cannot be read.
    #[error("cannot read the notifications file {}; check --notifications", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the expected YAML.
    #[error(
        "notifications file {}: not `webhooks: [{{url, format: slack|generic, events: [...]}}]`",
        file.display()
    )]
    Parse {
        /// The file.
        file: PathBuf,
        /// The YAML error.
        #[source]
        source: serde_norway::Error,
    },
    /// A URL is not http(s).
    #[error("notifications file {}: webhook URL {url:?} is not an http:// or https:// URL", file.display())]
    Url {
        /// The file.
        file: PathBuf,
        /// The URL.
        url: String,
    },
}

impl Notifications {
    /// Read `file`.
    pub fn load(file: &Path) -> Result<Notifications, NotifyError> {
        let text = std::fs::read_to_string(file).map_err(|source| NotifyError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let n: Notifications =
            serde_norway::from_str(&text).map_err(|source| NotifyError::Parse {
                file: file.to_path_buf(),
                source,
            })?;
        for w in &n.webhooks {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(NotifyError::Url {
                    file: file.to_path_buf(),
                    url: w.url.clone(),
                });
            }
        }
        Ok(n)
    }
}

/// What changed between two statuses of an app, as notifications.
/// `degraded`: the app was Degraded and has not been Healthy since (a
/// recovery through Progressing, e.g. a failed Job re-created and run
/// again, still counts as recovered); see [`still_degraded`].
pub fn events(before: Option<&AppStatus>, degraded: bool, now: &AppStatus) -> Vec<EventKind> {
    let mut out = Vec::new();
    if let Some(op) = now
        .operation
        .as_ref()
        .filter(|o| o.sync && o.finished_at.is_some())
        && before.and_then(|b| b.operation.as_ref()) != Some(op)
    {
        out.push(match op.phase {
            Phase::Succeeded => EventKind::SyncSucceeded,
            Phase::Failed | Phase::Error => EventKind::SyncFailed,
            Phase::Running => return out,
        });
    }
    if now.health == "Degraded" && !degraded {
        out.push(EventKind::HealthDegraded);
    } else if now.health == "Healthy" && degraded {
        out.push(EventKind::HealthRecovered);
    }
    out
}

/// Whether an app is in a degraded spell after `now`: it starts at
/// Degraded and ends at Healthy.
pub fn still_degraded(degraded: bool, now: &AppStatus) -> bool {
    match now.health.as_str() {
        "Degraded" => true,
        "Healthy" => false,
        _ => degraded,
    }
}

/// The `generic` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generic {
    /// What happened: `sync-succeeded`, `sync-failed`, `health-degraded`,
    /// `health-recovered`.
    pub event: EventKind,
    /// The app.
    pub app: String,
    /// Its sync status now.
    pub sync: String,
    /// Its health now.
    pub health: String,
    /// The commit.
    pub revision: String,
    /// The last operation's message, or the first condition's.
    pub message: String,
}

fn message(s: &AppStatus) -> String {
    s.conditions
        .first()
        .map(|c| format!("{}: {}", c.kind, c.message))
        .or_else(|| s.operation.as_ref().map(|o| o.message.clone()))
        .unwrap_or_default()
}

/// The body of `kind` for `app` in `format`.
pub fn body(format: Format, kind: EventKind, app: &str, s: &AppStatus) -> serde_json::Value {
    let g = Generic {
        event: kind,
        app: app.to_string(),
        sync: format!("{:?}", s.sync),
        health: s.health.clone(),
        revision: s.revision.clone(),
        message: message(s),
    };
    match format {
        Format::Generic => serde_json::to_value(&g).unwrap_or_default(),
        Format::Slack => {
            let short: String = g.revision.chars().take(7).collect();
            serde_json::json!({
                "text": format!("sluice: app {app}: {}", kind.title()),
                "attachments": [{
                    "color": kind.color(),
                    "title": format!("{app}: {}", kind.title()),
                    "text": g.message,
                    "fields": [
                        {"title": "Sync", "value": g.sync, "short": true},
                        {"title": "Health", "value": g.health, "short": true},
                        {"title": "Revision", "value": short, "short": true},
                    ],
                }],
            })
        }
    }
}

/// Start the notifier for `svc` (nothing when no webhooks are configured).
pub fn spawn(svc: &Service, config: Notifications) {
    if config.webhooks.is_empty() {
        return;
    }
    let client = match reqwest::Client::builder()
        .timeout(config.delivery.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %crate::error_chain(&e), "cannot set up the notification client; notifications are off");
            return;
        }
    };
    let senders: Vec<(Webhook, mpsc::Sender<serde_json::Value>)> = config
        .webhooks
        .into_iter()
        .map(|w| {
            let (tx, rx) = mpsc::channel(config.delivery.queue.max(1));
            tokio::spawn(send_loop(
                client.clone(),
                w.url.clone(),
                config.delivery.clone(),
                rx,
            ));
            (w, tx)
        })
        .collect();
    // Subscribe before taking the baseline, so no change falls between.
    let mut rx = svc.subscribe();
    // Each app's last status, and whether it is in a degraded spell.
    let mut seen: HashMap<String, (AppStatus, bool)> = svc
        .infos()
        .into_iter()
        .map(|i| {
            let degraded = still_degraded(false, &i.status);
            (i.name, (i.status, degraded))
        })
        .collect();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let ev = match rx.recv().await {
                Ok(ev) => ev,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "notifications: status events missed");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(now) = ev.status else {
                seen.remove(&ev.app);
                continue;
            };
            let (before, degraded) = match seen.get(&ev.app) {
                Some((b, d)) => (Some(b), *d),
                None => (None, false),
            };
            let kinds = events(before, degraded, &now);
            let degraded = still_degraded(degraded, &now);
            for kind in kinds {
                for (w, tx) in &senders {
                    if !w.events.contains(&kind) {
                        continue;
                    }
                    if tx.try_send(body(w.format, kind, &ev.app, &now)).is_err() {
                        tracing::warn!(app = %ev.app, url = %w.url, event = kind.title(), "notification dropped: the receiver's queue is full");
                    }
                }
            }
            seen.insert(ev.app, (now, degraded));
        }
    });
}

async fn send_loop(
    client: reqwest::Client,
    url: String,
    delivery: Delivery,
    mut rx: mpsc::Receiver<serde_json::Value>,
) {
    while let Some(body) = rx.recv().await {
        let mut wait = delivery.backoff;
        for attempt in 1..=delivery.attempts.max(1) {
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            let problem = match r {
                Ok(resp) if resp.status().is_success() => None,
                Ok(resp) => Some(format!("answered {}", resp.status())),
                Err(e) => Some(crate::error_chain(&e)),
            };
            let Some(problem) = problem else { break };
            if attempt == delivery.attempts.max(1) {
                tracing::error!(%url, attempts = attempt, problem, "notification lost after its last retry");
                break;
            }
            tracing::warn!(%url, attempt, problem, retry_in = ?wait, "notification not delivered; retrying");
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::status::Operation;

    fn op(phase: Phase, at: &str) -> Operation {
        Operation {
            phase,
            message: "m".into(),
            reasons: vec![],
            revision: "abc".into(),
            sync: true,
            started_at: at.into(),
            finished_at: Some(at.into()),
            counts: Default::default(),
            resources: vec![],
        }
    }

    #[test]
    fn transitions_become_events() {
        let mut a = AppStatus {
            health: "Healthy".into(),
            ..Default::default()
        };
        assert!(events(None, false, &a).is_empty());
        let mut b = a.clone();
        b.operation = Some(op(Phase::Succeeded, "t1"));
        assert_eq!(events(Some(&a), false, &b), [EventKind::SyncSucceeded]);
        assert!(
            events(Some(&b), false, &b).is_empty(),
            "the same operation again"
        );
        a = b.clone();
        b.operation = Some(op(Phase::Failed, "t2"));
        b.health = "Degraded".into();
        assert_eq!(
            events(Some(&a), false, &b),
            [EventKind::SyncFailed, EventKind::HealthDegraded]
        );
        assert!(still_degraded(false, &b));
        assert!(
            events(Some(&b), true, &b).is_empty(),
            "still degraded: once"
        );
        a = b.clone();
        b.health = "Healthy".into();
        assert_eq!(events(Some(&a), true, &b), [EventKind::HealthRecovered]);
        // Degraded, then Progressing, then Healthy: recovered at the end.
        let mut p = b.clone();
        p.health = "Progressing".into();
        assert!(still_degraded(true, &p));
        assert!(events(Some(&a), true, &p).is_empty());
        assert_eq!(events(Some(&p), true, &b), [EventKind::HealthRecovered]);
        assert!(!still_degraded(true, &b));
    }

    #[test]
    fn config_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("n.yaml");
        std::fs::write(
            &f,
            "webhooks:\n- url: http://x/h\n  format: slack\n  events: [sync-failed]\n- url: https://y\n",
        )
        .expect("write");
        let n = Notifications::load(&f).expect("loads");
        assert_eq!(n.webhooks[0].format, Format::Slack);
        assert_eq!(n.webhooks[0].events, [EventKind::SyncFailed]);
        assert_eq!(n.webhooks[1].events.len(), 4);
        std::fs::write(&f, "webhooks:\n- url: ftp://x\n").expect("write");
        let e = Notifications::load(&f).expect_err("ftp");
        assert!(
            e.to_string()
                .contains("\"ftp://x\" is not an http:// or https:// URL"),
            "{e}"
        );
        std::fs::write(&f, "webhooks:\n- url: http://x\n  colour: red\n").expect("write");
        let e = Notifications::load(&f).expect_err("unknown field");
        assert!(
            crate::error_chain(&e).contains("unknown field `colour`"),
            "{e}"
        );
    }
}
