//! The work queue: at most one operation in flight per app, and a newer
//! request supersedes a queued older one.
//!
//! Triggers (poll, webhook, drift, a user, a changed Application) call
//! [`WorkQueue::push`]; workers loop on [`WorkQueue::next`] and call
//! [`WorkQueue::done`] when the app's operation ends. The queue keeps three
//! things per app:
//!
//! - **queued**: a request waiting for a worker. A second push for the same
//!   app merges into it ([`Request::merge`]): the newer revision wins, the
//!   reasons add up, the earliest enqueue time is kept (so latency figures
//!   count from the first trigger). The app keeps its place in line, so a
//!   busy app cannot starve the others by being pushed again and again.
//! - **in flight**: taken by a worker. A push for an app in flight is held
//!   as its next request and handed out only after `done`, so one app never
//!   has two operations at once and the newest commit is always the next
//!   thing done for it.
//! - order: apps are handed out first come, first served, urgent ones
//!   first: a request for drift, a webhook, a user or a retry goes ahead of
//!   periodic refreshes and start-up checks, so self-heal and a pushed
//!   commit never wait behind a thousand routine comparisons.
//!
//! Nothing here knows what an operation does; the queue is plain data
//! behind a mutex plus a [`tokio::sync::Notify`], so a slow app holds one
//! worker and nothing else.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::Notify;

/// Why an app is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The periodic refresh.
    Poll,
    /// A push webhook for the app's repository and branch.
    Webhook,
    /// A managed object drifted or was deleted (self-heal).
    Drift,
    /// A user asked (API or CLI).
    Manual,
    /// The Application itself was added or changed.
    AppChanged,
    /// A retry after a failed sync.
    Retry,
}

/// What a worker should do for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// A revision to sync to instead of the app's own (a rollback or a
    /// manual sync to a commit); `None` resolves the app's target revision.
    pub revision: Option<String>,
    /// Every trigger merged into this request.
    pub reasons: BTreeSet<Trigger>,
    /// When the first of the merged triggers fired.
    pub since: Instant,
    /// The `Manual` reason only compares (a refresh, or a sync asked as a
    /// dry run): it forces no write. Other reasons keep their effect.
    /// Stays set only while no merged request is a writing manual one.
    pub dry_run: bool,
    /// For a manual sync: prune (or not) whatever the app's policy says.
    pub prune: Option<bool>,
    /// A rollback to this history entry (recorded in the history).
    pub rollback: Option<u64>,
    /// The API's ticket for this request (0: not asked through the API);
    /// the highest merged ticket is kept, and the service notes it once
    /// the operation ends, so a caller knows when its request was served.
    pub ticket: u64,
}

impl Request {
    /// A request with one reason, now.
    pub fn new(reason: Trigger) -> Request {
        Request {
            revision: None,
            reasons: BTreeSet::from([reason]),
            since: Instant::now(),
            dry_run: false,
            prune: None,
            rollback: None,
            ticket: 0,
        }
    }

    /// The same, pinned to `revision`.
    pub fn at(mut self, revision: impl Into<String>) -> Request {
        self.revision = Some(revision.into());
        self
    }

    /// Fold a newer request into this one: the newer revision wins (a pinned
    /// revision is only replaced by another pinned one or kept), reasons are
    /// united, the earlier start time is kept.
    pub fn merge(&mut self, newer: Request) {
        let writes = |r: &Request| r.reasons.contains(&Trigger::Manual) && !r.dry_run;
        self.dry_run = !writes(self) && !writes(&newer);
        if newer.revision.is_some() {
            self.revision = newer.revision;
            self.rollback = newer.rollback;
        }
        self.prune = newer.prune.or(self.prune);
        self.ticket = self.ticket.max(newer.ticket);
        self.reasons.extend(newer.reasons);
        self.since = self.since.min(newer.since);
    }

    /// Whether it goes ahead of routine work: drift, a webhook, a user, a
    /// retry.
    pub fn is_urgent(&self) -> bool {
        self.reasons.iter().any(|r| {
            matches!(
                r,
                Trigger::Drift | Trigger::Webhook | Trigger::Manual | Trigger::Retry
            )
        })
    }
}

#[derive(Debug, Default)]
struct State {
    urgent: VecDeque<String>,
    order: VecDeque<String>,
    queued: HashMap<String, Request>,
    in_flight: HashSet<String>,
    closed: bool,
}

/// The queue shared by triggers and workers.
#[derive(Debug, Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

impl WorkQueue {
    /// An empty, open queue.
    pub fn new() -> WorkQueue {
        WorkQueue::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain data that every critical section leaves
        // consistent, so a panic elsewhere cannot have broken it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue `request` for `app`, merging it into one already waiting.
    /// Returns `false` when the queue is closed (shutting down).
    pub fn push(&self, app: &str, request: Request) -> bool {
        let mut s = self.lock();
        if s.closed {
            return false;
        }
        let in_flight = s.in_flight.contains(app);
        match s.queued.get_mut(app) {
            Some(waiting) => {
                let was_urgent = waiting.is_urgent();
                waiting.merge(request);
                if !was_urgent && waiting.is_urgent() && !in_flight {
                    s.order.retain(|a| a != app);
                    s.urgent.push_back(app.to_string());
                }
            }
            None => {
                let urgent = request.is_urgent();
                s.queued.insert(app.to_string(), request);
                if !in_flight {
                    if urgent {
                        s.urgent.push_back(app.to_string());
                    } else {
                        s.order.push_back(app.to_string());
                    }
                }
            }
        }
        drop(s);
        self.notify.notify_one();
        true
    }

    /// The next app to work on and its request, waiting until there is one.
    /// `None` once the queue is closed: workers then stop.
    pub async fn next(&self) -> Option<(String, Request)> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before looking, so a push between the look and the
            // await is not missed.
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.closed {
                    return None;
                }
                while let Some(app) = s.urgent.pop_front().or_else(|| s.order.pop_front()) {
                    if let Some(req) = s.queued.remove(&app) {
                        s.in_flight.insert(app.clone());
                        let more = !s.order.is_empty() || !s.urgent.is_empty();
                        drop(s);
                        if more {
                            // Another worker may take the next one.
                            self.notify.notify_one();
                        }
                        return Some((app, req));
                    }
                }
            }
            notified.await;
        }
    }

    /// The operation for `app` ended; a request that arrived meanwhile is
    /// queued now.
    pub fn done(&self, app: &str) {
        let mut s = self.lock();
        s.in_flight.remove(app);
        let again = !s.closed && s.queued.contains_key(app);
        if again {
            if s.queued.get(app).is_some_and(Request::is_urgent) {
                s.urgent.push_back(app.to_string());
            } else {
                s.order.push_back(app.to_string());
            }
        }
        drop(s);
        if again {
            self.notify.notify_one();
        }
    }

    /// Forget a queued request for `app` (the app was removed). An
    /// operation in flight is not touched.
    pub fn forget(&self, app: &str) {
        let mut s = self.lock();
        s.queued.remove(app);
        s.order.retain(|a| a != app);
        s.urgent.retain(|a| a != app);
    }

    /// Stop handing out work: every [`WorkQueue::next`] returns `None`, and
    /// pushes are refused. Operations in flight finish on their own.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Apps waiting (not in flight).
    pub fn queued_len(&self) -> usize {
        self.lock().queued.len()
    }

    /// Whether `app` has an operation in flight.
    pub fn in_flight(&self, app: &str) -> bool {
        self.lock().in_flight.contains(app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_stays_dry_only_until_a_writing_manual_request_merges() {
        let dry = || {
            let mut r = Request::new(Trigger::Manual);
            r.dry_run = true;
            r
        };
        // A refresh merged with a poll still forces no write.
        let mut r = dry();
        r.merge(Request::new(Trigger::Poll));
        assert!(r.dry_run);
        let mut r = Request::new(Trigger::Poll);
        r.merge(dry());
        assert!(r.dry_run);
        // A manual sync merged in (before or after) writes.
        let mut r = dry();
        r.merge(Request::new(Trigger::Manual));
        assert!(!r.dry_run);
        let mut r = Request::new(Trigger::Manual);
        r.merge(dry());
        assert!(!r.dry_run);
        // The highest ticket, the newer prune, the rollback with its revision.
        let mut a = Request::new(Trigger::Manual);
        a.ticket = 3;
        a.prune = Some(true);
        let mut b = Request::new(Trigger::Manual).at("c1");
        b.ticket = 2;
        b.rollback = Some(1);
        a.merge(b);
        assert_eq!((a.ticket, a.prune, a.rollback), (3, Some(true), Some(1)));
        a.merge(Request::new(Trigger::Manual).at("c2"));
        assert_eq!((a.revision.as_deref(), a.rollback), (Some("c2"), None));
    }

    use std::sync::Arc;
    use std::time::Duration;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn newer_revision_supersedes_a_queued_one_and_reasons_add_up() {
        rt().block_on(async {
            let q = WorkQueue::new();
            q.push("a", Request::new(Trigger::Poll).at("c1"));
            q.push("a", Request::new(Trigger::Webhook).at("c2"));
            q.push("a", Request::new(Trigger::Drift));
            assert_eq!(q.queued_len(), 1);
            let (app, req) = q.next().await.expect("work");
            assert_eq!(app, "a");
            assert_eq!(req.revision.as_deref(), Some("c2"));
            assert_eq!(
                req.reasons,
                BTreeSet::from([Trigger::Poll, Trigger::Webhook, Trigger::Drift])
            );
        });
    }

    #[test]
    fn one_operation_in_flight_per_app() {
        rt().block_on(async {
            let q = WorkQueue::new();
            q.push("a", Request::new(Trigger::Poll));
            let (app, _) = q.next().await.expect("work");
            assert_eq!(app, "a");
            // Pushed while in flight: held, not handed to a second worker.
            q.push("a", Request::new(Trigger::Webhook).at("c9"));
            q.push("b", Request::new(Trigger::Poll));
            let (other, _) = q.next().await.expect("work");
            assert_eq!(other, "b", "a is in flight, so b comes next");
            let none = tokio::time::timeout(Duration::from_millis(50), q.next()).await;
            assert!(none.is_err(), "a must not be handed out while in flight");
            q.done("a");
            let (again, req) = q.next().await.expect("work");
            assert_eq!(again, "a");
            assert_eq!(req.revision.as_deref(), Some("c9"));
        });
    }

    #[test]
    fn first_come_first_served_and_a_repush_keeps_its_place() {
        rt().block_on(async {
            let q = WorkQueue::new();
            for app in ["a", "b", "c"] {
                q.push(app, Request::new(Trigger::Poll));
            }
            q.push("a", Request::new(Trigger::Webhook));
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(q.next().await.expect("work").0);
            }
            assert_eq!(got, ["a", "b", "c"]);
        });
    }

    #[test]
    fn close_wakes_idle_workers_and_refuses_pushes() {
        rt().block_on(async {
            let q = Arc::new(WorkQueue::new());
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let q = q.clone();
                    tokio::spawn(async move { q.next().await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(20)).await;
            q.close();
            for w in workers {
                let got = tokio::time::timeout(Duration::from_secs(2), w)
                    .await
                    .expect("worker woke up")
                    .expect("joined");
                assert!(got.is_none());
            }
            assert!(!q.push("a", Request::new(Trigger::Poll)));
        });
    }

    #[test]
    fn many_workers_take_every_app_exactly_once() {
        rt().block_on(async {
            let q = Arc::new(WorkQueue::new());
            for i in 0..200 {
                q.push(&format!("app-{i}"), Request::new(Trigger::Poll));
            }
            let seen = Arc::new(Mutex::new(Vec::new()));
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let (q, seen) = (q.clone(), seen.clone());
                    tokio::spawn(async move {
                        while let Ok(Some((app, _))) =
                            tokio::time::timeout(Duration::from_millis(100), q.next()).await
                        {
                            seen.lock().expect("lock").push(app.clone());
                            q.done(&app);
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.expect("joined");
            }
            let mut seen = seen.lock().expect("lock").clone();
            assert_eq!(seen.len(), 200, "each app handed out once");
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 200, "and no app twice");
        });
    }

    #[test]
    fn forget_drops_a_queued_request() {
        rt().block_on(async {
            let q = WorkQueue::new();
            q.push("a", Request::new(Trigger::Poll));
            q.push("b", Request::new(Trigger::Poll));
            q.forget("a");
            assert_eq!(q.next().await.expect("work").0, "b");
            assert_eq!(q.queued_len(), 0);
        });
    }

    #[tokio::test]
    async fn urgent_requests_go_ahead_of_routine_ones() {
        let q = WorkQueue::new();
        for app in ["a", "b", "c"] {
            q.push(app, Request::new(Trigger::Poll));
        }
        q.push("d", Request::new(Trigger::Drift));
        // An app already waiting moves ahead when a drift joins it.
        q.push("c", Request::new(Trigger::Webhook));
        let mut got = Vec::new();
        for _ in 0..4 {
            let (app, req) = q.next().await.expect("work");
            got.push((app.clone(), req.is_urgent()));
            q.done(&app);
        }
        assert_eq!(
            got,
            [
                ("d".to_string(), true),
                ("c".to_string(), true),
                ("a".to_string(), false),
                ("b".to_string(), false)
            ]
        );
    }
}
