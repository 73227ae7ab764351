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
//! The parts that exist so far, each usable and tested on its own:
//! - [`queue`]: the work queue (one operation in flight per app, a newer
//!   request supersedes a queued one, first come first served);
//! - [`webhook`]: push webhooks from GitHub, GitLab, Gitea, Gogs, Bitbucket
//!   Server and a generic HMAC form, verified in constant time, and which
//!   apps a push concerns;
//! - [`store`]: the embedded status and history store for file apps
//!   (redb; acknowledged writes survive `kill -9`);
//! - the render cache by read set lives with rendering:
//!   [`crate::render::readset`].
//!
//! The registry, the worker pool, the triggers and the HTTP server that tie
//! them into `sluice serve` are not written yet.

pub mod queue;
pub mod store;
pub mod webhook;
