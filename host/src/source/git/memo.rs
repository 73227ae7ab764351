//! One resolution of a repository and revision, shared by every app that
//! asks for it while it is fresh.
//!
//! The service refreshes many apps at once (a poll tick, a webhook), and
//! many of them often live in one repository. Each would list the remote's
//! refs and fetch on its own; [`Memo::resolve_with`] makes the first one do
//! it and hands its result to the others. A result is fresh for a request
//! when its resolution *started* after the request's trigger fired: it then
//! saw the remote in a state at least as new as the one that triggered the
//! request, so nothing newer can be missed. Concurrent requests for the
//! same repository and revision wait for the one resolution in progress
//! rather than starting their own. Failures are not kept: the next request
//! tries again.

use super::{ProgressSink, Resolved, SourceError, SourceSpec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Slot = Arc<Mutex<Option<(Instant, Resolved)>>>;

/// Resolutions shared between apps; see the module docs.
#[derive(Default)]
pub struct Memo {
    slots: Mutex<HashMap<(String, String), Slot>>,
    resolves: AtomicU64,
    shared: AtomicU64,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Memo(resolves {}, shared {})",
            self.resolves(),
            self.shared()
        )
    }
}

impl Memo {
    /// An empty memo.
    pub fn new() -> Memo {
        Memo::default()
    }

    /// Resolutions performed (each lists the remote's refs, and fetches
    /// when the commit is not cached).
    pub fn resolves(&self) -> u64 {
        self.resolves.load(Ordering::Relaxed)
    }

    /// Requests answered with another request's resolution.
    pub fn shared(&self) -> u64 {
        self.shared.load(Ordering::Relaxed)
    }

    /// Forget every kept resolution (their trees are released).
    pub fn clear(&self) {
        if let Ok(mut s) = self.slots.lock() {
            s.clear();
        }
    }

    /// [`super::resolve_with`], or the result of a resolution of the same
    /// repository and revision that started at or after `fresh_since`.
    pub fn resolve_with(
        &self,
        spec: &SourceSpec,
        opts: &super::Options,
        progress: &dyn ProgressSink,
        interrupt: &AtomicBool,
        fresh_since: Instant,
    ) -> Result<Resolved, SourceError> {
        let repo = super::url::RepoUrl::parse(&spec.repo)
            .map(|u| u.normalized().to_string())
            .unwrap_or_else(|_| spec.repo.clone());
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry((repo, spec.revision.clone()))
                .or_default()
                .clone()
        };
        // Held while resolving: a second request waits for this one.
        let mut kept = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, r)) = kept.as_ref()
            && *at >= fresh_since
        {
            self.shared.fetch_add(1, Ordering::Relaxed);
            return Ok(r.clone());
        }
        let started = Instant::now();
        let r = super::resolve_with(spec, opts, progress, interrupt)?;
        self.resolves.fetch_add(1, Ordering::Relaxed);
        *kept = Some((started, r.clone()));
        Ok(r)
    }
}
