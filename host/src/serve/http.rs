//! The service's HTTP endpoints (axum), bound to 127.0.0.1 by default:
//!
//! - `GET /healthz`: 200 while the process serves requests;
//! - `GET /readyz`: 200 once the apps are loaded and work is taken, 503
//!   while starting and shutting down;
//! - `POST /api/webhook`: push webhooks (GitHub, GitLab, Gitea, Gogs,
//!   Bitbucket Server, generic HMAC). A bad or missing signature is 401
//!   and triggers nothing; a body over the cap is 413; a genuine event
//!   that is not a push is 200 and ignored; a push is 202 with the apps
//!   it queued;
//! - `GET /metrics`: Prometheus text: operations, syncs, heals, renders
//!   performed and skipped, Git resolutions performed and shared, webhooks,
//!   apps by sync status;
//! - `/api/v1/...`: the API ([`super::api`]), with bearer tokens.
//!
//! Health, readiness and metrics stay open (no token); with
//! `--metrics-listen` they are also served on their own listener
//! ([`ops_router`]) and `/metrics` leaves the main one.

use super::api::ApiOptions;
use super::service::Service;
use super::webhook::{self, Headers, WebhookError};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

/// The router for `svc`, its API without tokens (reads open, writes
/// refused) and with `/metrics`.
pub fn router(svc: Service) -> Router {
    router_with(svc, ApiOptions::default(), true)
}

/// The router for `svc` with the API guarded by `api`; `/metrics` only
/// when `metrics` (false when it has its own listener).
pub fn router_with(svc: Service, api: ApiOptions, metrics: bool) -> Router {
    let limit = svc.inner.config.max_webhook_body;
    let r: Router = ops_routes(metrics)
        .route(
            "/api/webhook",
            // One byte over the cap still reaches the handler, which
            // answers 413 naming the limit.
            post(hook).layer(DefaultBodyLimit::max(limit + 1)),
        )
        .with_state(svc.clone());
    r.merge(super::api::router(svc, api))
}

/// Health, readiness and metrics alone (`--metrics-listen`).
pub fn ops_router(svc: Service) -> Router {
    ops_routes(true).with_state(svc)
}

fn ops_routes(metrics: bool) -> Router<Service> {
    let r = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz));
    if metrics {
        r.route("/metrics", get(metrics_text))
    } else {
        r
    }
}

async fn readyz(State(svc): State<Service>) -> Response {
    if svc.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

fn error(code: StatusCode, message: String) -> Response {
    (code, Json(json!({ "error": message }))).into_response()
}

async fn hook(State(svc): State<Service>, headers: HeaderMap, body: Bytes) -> Response {
    let h: Headers = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let cfg = &svc.inner.config;
    let verified = webhook::verify(&h, &body, &cfg.webhook_secrets, cfg.max_webhook_body);
    let (provider, result) = match &verified {
        Ok(Some(push)) => (push.provider.name(), "push"),
        Ok(None) => (provider_named(&h), "ignored"),
        Err(e) => webhook_failure(e),
    };
    crate::metrics::get()
        .webhook
        .with_label_values(&[provider, result])
        .inc();
    match verified {
        Ok(Some(push)) => {
            let apps = svc.on_push(&push);
            tracing::info!(provider = push.provider.name(), refs = ?push.refs, apps = ?apps, "webhook push");
            (StatusCode::ACCEPTED, Json(json!({ "apps": apps }))).into_response()
        }
        Ok(None) => (StatusCode::OK, Json(json!({ "apps": [] }))).into_response(),
        Err(e) => {
            let code = match &e {
                WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                WebhookError::Malformed { .. } | WebhookError::UnknownProvider => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(status = code.as_u16(), error = %crate::error_chain(&e), "webhook refused");
            error(code, crate::error_chain(&e))
        }
    }
}

async fn metrics_text(State(svc): State<Service>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let c = svc.counters();
    let (renders, reused) = svc.render_counts();
    let (resolves, shared) = svc.git_counts();
    let m = crate::metrics::Scrape::new();
    m.counter(
        "sluice_operations_total",
        "Operations finished.",
        c.operations.load(Relaxed),
    );
    m.counter(
        "sluice_syncs_total",
        "Operations that wrote to a cluster.",
        c.syncs.load(Relaxed),
    );
    m.counter(
        "sluice_heals_total",
        "Drifts fixed by self-heal.",
        c.heals.load(Relaxed),
    );
    m.counter(
        "sluice_webhooks_total",
        "Verified webhooks.",
        c.webhooks.load(Relaxed),
    );
    m.counter("sluice_renders_total", "Renders performed.", renders);
    m.counter(
        "sluice_renders_reused_total",
        "Renders skipped by the read-set cache: nothing they read changed.",
        reused,
    );
    m.counter(
        "sluice_git_resolves_total",
        "Git resolutions (ref listing, fetch when needed).",
        resolves,
    );
    m.counter(
        "sluice_git_shared_total",
        "Git resolutions shared with another app.",
        shared,
    );
    let cache = crate::source::git::cache_stats();
    m.counter(
        "sluice_git_cache_evictions_total",
        "Repositories evicted from the Git cache.",
        cache.evictions,
    );
    m.counter(
        "sluice_git_cache_evicted_bytes_total",
        "Bytes evicted from the Git cache.",
        cache.evicted_bytes,
    );
    m.gauge(
        "sluice_git_cache_bytes",
        "Size of the Git cache after the last resolve.",
        i64::try_from(cache.bytes).unwrap_or(i64::MAX),
    );
    let infos = svc.infos();
    let mut by: std::collections::BTreeMap<String, i64> = Default::default();
    let mut info = Vec::new();
    for i in &infos {
        let sync = format!("{:?}", i.status.sync);
        *by.entry(sync.clone()).or_default() += 1;
        let (ns, server, repo) = match &i.app {
            Ok(a) => (
                a.spec.destination.namespace.clone().unwrap_or_default(),
                a.spec
                    .destination
                    .server
                    .clone()
                    .or_else(|| a.spec.destination.name.clone())
                    .unwrap_or_default(),
                a.spec.source.repo_url.clone(),
            ),
            Err(_) => Default::default(),
        };
        info.push([
            i.name.clone(),
            ns,
            server,
            repo,
            sync,
            i.status.health.clone(),
        ]);
    }
    m.gauges(
        "sluice_apps",
        "Apps by sync status.",
        &["sync"],
        by.iter().map(|(k, v)| (vec![k.as_str()], *v)),
    );
    m.gauges(
        "sluice_app_info",
        "One series per app, 1, its state in the labels.",
        &[
            "name",
            "namespace",
            "dest_server",
            "repo",
            "sync_status",
            "health_status",
        ],
        info.iter()
            .map(|l| (l.iter().map(String::as_str).collect(), 1)),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        m.encode(),
    )
        .into_response()
}

/// The provider a request's headers name, for a webhook that was not a
/// push.
fn provider_named(h: &Headers) -> &'static str {
    [
        ("x-gitea-event", "gitea"),
        ("x-gogs-event", "gogs"),
        ("x-github-event", "github"),
        ("x-gitlab-event", "gitlab"),
        ("x-event-key", "bitbucketserver"),
        ("x-sluice-signature-256", "generic"),
    ]
    .into_iter()
    .find(|(header, _)| h.contains_key(*header))
    .map_or("unknown", |(_, p)| p)
}

/// The provider and result label of a refused webhook.
fn webhook_failure(e: &WebhookError) -> (&'static str, &'static str) {
    match e {
        WebhookError::NoSecret(p) | WebhookError::BadSignature(p) => (p.name(), "refused"),
        WebhookError::MissingSignature { provider, .. } => (provider.name(), "refused"),
        WebhookError::Malformed { provider, .. } => (provider.name(), "malformed"),
        WebhookError::TooLarge { .. } => ("unknown", "too_large"),
        WebhookError::UnknownProvider | WebhookError::SecretsFile { .. } => ("unknown", "refused"),
    }
}
