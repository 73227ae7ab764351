//! The service (`sluice serve`): keeps many apps in sync, heals drift and
//! never stalls on one bad app.
//!
//! Data flows one way, each box a type with one job:
//!
//! ```text
//! app registry (files dir, Application CRs)      triggers: poll, webhook, drift
//!         \                                         /
//!          work queue: one operation in flight per app, newer revision supersedes
//!                           |
//!                  worker pool (bounded; per-cluster limits)
//!                           |
//!    engine: resolve source -> render (cache by read set) -> diff -> sync
//!                           |
//!    status store (Application .status in cluster; embedded DB for file apps)
//!                           |
//!         event bus -> HTTP API, SSE, dashboard, metrics, notifications
//! ```
//!
//! The parts, each usable and tested on its own:
//! - [`registry`]: the apps from a directory of Application files;
//! - [`incluster`]: the apps from Application resources in the cluster;
//! - [`queue`]: the work queue (one operation in flight per app, a newer
//!   request supersedes a queued one, first come first served);
//! - [`service`]: workers, poller, scanner, drift handler tied together;
//! - [`reconcile`]: one operation on one app (source, render, compare,
//!   sync, status), and when it writes;
//! - [`cluster`]: one connection, discovery cache and concurrency limit
//!   per cluster;
//! - [`secrets`]: Argo CD cluster Secrets as destinations;
//! - [`depends`]: Flux `dependsOn` (an app waits for its dependencies);
//! - [`gitsecret`]: Flux `GitRepository.spec.secretRef` credentials;
//! - `resume`: an operation cut short by a crash is resumed, its hooks
//!   not run twice;
//! - [`heal`]: one watch per kind per cluster, the live cache, drift;
//! - [`webhook`]: push webhooks from GitHub, GitLab, Gitea, Gogs, Bitbucket
//!   Server and a generic HMAC form, verified in constant time, and which
//!   apps a push concerns;
//! - [`store`]: the embedded status and history store for file apps
//!   (redb; acknowledged writes survive `kill -9`);
//! - [`status`]: the status model (Argo CD's shape);
//! - [`http`]: health, readiness, webhooks, metrics;
//! - [`api`]: the HTTP API (apps, operations, events, OpenAPI) and
//!   [`auth`], its bearer tokens; [`tls`]: rustls for the listener;
//! - [`notify`]: outgoing notifications (webhooks, Slack-compatible);
//! - [`crd`]: the `sluice.dev` Application CustomResourceDefinition;
//! - the render cache by read set lives with rendering:
//!   [`crate::render::readset`]; the shared Git resolution with the
//!   source: [`crate::source::Memo`].

pub mod api;
pub mod auth;
pub mod cluster;
pub mod crd;
pub mod depends;
pub mod gitsecret;
pub mod heal;
pub mod http;
pub mod incluster;
pub mod notify;
pub mod queue;
mod reconcile;
pub mod registry;
mod resume;
pub mod secrets;
pub mod service;
pub mod status;
pub mod store;
pub mod tls;
pub mod webhook;

pub use service::{Config, ServeError, Service};
