//! Bounds on one resolve's network work: an overall deadline, a low-speed
//! limit and a pack size cap (the ref count cap is checked where the refs
//! are listed).
//!
//! gix stops a fetch when an interrupt flag is set, checking it on every
//! read of the pack. [`Budget`] owns that flag. It is set
//! - by a watchdog thread ([`Budget::watch`]) when the caller's own
//!   interrupt is set, when the deadline passes, or when fewer than
//!   `low_speed_limit` bytes per second arrived over the last
//!   `low_speed_time`;
//! - by [`Meter`], the progress sink handed to gix, as soon as the pack
//!   grows past the cap (synchronously, on the read that crosses it).
//!
//! The reason is recorded ([`Trip`]), so the error says which limit was
//! hit instead of "interrupted". A flag cannot wake a read that is blocked
//! on a silent server, so over HTTP(S) every request also gets a reqwest
//! timeout equal to the time left before the deadline (set in `fetch.rs`),
//! and the response bodies go through [`Metered`], which counts every byte
//! for the low-speed check and fails the next read once a limit tripped:
//! a server that sends nothing at all is cut at the deadline, one that
//! trickles is cut by the low-speed limit. Over SSH, `ssh` itself is told
//! to give up on a dead connection (`ServerAliveInterval`); a live server
//! that stalls before sending the pack is bounded by the deadline only
//! once data flows again. git:// and local repositories rely on the flag.

use gix::progress::{Count, Id, MessageLevel, NestedProgress, Progress, Step, StepShared, Unit};
use gix::protocol::transport::client::blocking_io::http;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which limit stopped a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trip {
    /// The caller's interrupt flag.
    Cancelled,
    /// The overall deadline passed.
    Deadline,
    /// Fewer than the low-speed limit's bytes per second over its window.
    TooSlow,
    /// The pack grew past the cap.
    PackTooLarge,
}

/// What [`Budget`] shares with the progress sink handed to gix (which
/// must be `'static`).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The flag handed to gix.
    pub flag: AtomicBool,
    max_pack_size: u64,
    /// Pack bytes received so far (all fetches of this resolve).
    bytes: AtomicU64,
    /// Bytes of HTTP response bodies received so far, every phase.
    wire: AtomicU64,
    trip: Mutex<Option<Trip>>,
}

impl Shared {
    /// Stop the fetch for `why` (the first reason wins).
    fn trip(&self, why: Trip) {
        if let Ok(mut t) = self.trip.lock()
            && t.is_none()
        {
            *t = Some(why);
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    fn add_bytes(&self, n: u64) {
        let total = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.max_pack_size {
            self.trip(Trip::PackTooLarge);
        }
    }
}

/// The limits of one resolve and the interrupt flag gix sees.
pub(crate) struct Budget<'a> {
    /// The caller's cancellation flag.
    user: &'a AtomicBool,
    pub shared: Arc<Shared>,
    pub deadline: Instant,
    pub timeout: Duration,
    pub low_speed_limit: u64,
    pub low_speed_time: Duration,
    /// Measure speed on the wire (HTTP bodies) rather than pack bytes.
    http: bool,
}

impl<'a> Budget<'a> {
    /// Limits from `opts`; `http` when the transport is HTTP(S), whose
    /// response bodies are metered ([`Metered`]).
    pub fn new(opts: &super::Options, user: &'a AtomicBool, http: bool) -> Self {
        Budget {
            user,
            shared: Arc::new(Shared {
                flag: AtomicBool::new(false),
                max_pack_size: opts.max_pack_size,
                bytes: AtomicU64::new(0),
                wire: AtomicU64::new(0),
                trip: Mutex::new(None),
            }),
            http,
            // A timeout too large to represent means "a year".
            deadline: Instant::now()
                .checked_add(opts.fetch_timeout)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600)),
            timeout: opts.fetch_timeout,
            low_speed_limit: opts.low_speed_limit,
            low_speed_time: opts.low_speed_time,
        }
    }

    /// The flag to hand to gix.
    pub fn flag(&self) -> &AtomicBool {
        &self.shared.flag
    }

    fn trip(&self, why: Trip) {
        self.shared.trip(why);
    }

    /// Why the fetch was stopped, if it was. A deadline that has passed
    /// counts even when the watchdog has not noticed yet.
    pub fn tripped(&self) -> Option<Trip> {
        let t = self.shared.trip.lock().ok().and_then(|t| *t);
        t.or_else(|| {
            if self.user.load(Ordering::Relaxed) {
                Some(Trip::Cancelled)
            } else if Instant::now() >= self.deadline {
                Some(Trip::Deadline)
            } else {
                None
            }
        })
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Run `work` with a watchdog thread enforcing the deadline, the
    /// low-speed limit and the caller's interrupt.
    pub fn watch<R>(&self, work: impl FnOnce() -> R) -> R {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || self.watchdog(&stopped));
            let out = work();
            drop(stop);
            out
        })
    }

    fn watchdog(&self, stopped: &std::sync::mpsc::Receiver<()>) {
        let tick = Duration::from_millis(50);
        // (when, bytes) samples covering the low-speed window.
        let mut samples: std::collections::VecDeque<(Instant, u64)> = Default::default();
        loop {
            match stopped.recv_timeout(tick) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let now = Instant::now();
            if self.user.load(Ordering::Relaxed) {
                return self.trip(Trip::Cancelled);
            }
            if now >= self.deadline {
                return self.trip(Trip::Deadline);
            }
            if self.low_speed_limit == 0 || self.low_speed_time.is_zero() {
                continue;
            }
            // Over HTTP every byte of every response counts, as with curl's
            // limit, from the start. Elsewhere only pack bytes are seen, so
            // measuring starts once the pack flows: before that the server
            // may be compressing, and the deadline bounds the wait.
            let bytes = if self.http {
                self.shared.wire.load(Ordering::Relaxed)
            } else {
                self.shared.bytes.load(Ordering::Relaxed)
            };
            if bytes == 0 && !self.http {
                continue;
            }
            samples.push_back((now, bytes));
            while samples.len() >= 2
                && samples
                    .get(1)
                    .is_some_and(|&(t, _)| now.duration_since(t) >= self.low_speed_time)
            {
                samples.pop_front();
            }
            if let Some(&(t0, b0)) = samples.front() {
                let span = now.duration_since(t0);
                if span >= self.low_speed_time
                    && ((bytes - b0) as f64) < self.low_speed_limit as f64 * span.as_secs_f64()
                {
                    return self.trip(Trip::TooSlow);
                }
            }
        }
    }
}

/// An HTTP client that meters its response bodies: every byte read counts
/// toward the low-speed check, and once a limit has stopped the fetch the
/// next read fails, so a trickling server cannot keep a packet line (up to
/// 64 KiB, minutes at a trickle) between gix and its interrupt checks.
pub(crate) struct Metered<H> {
    pub inner: H,
    pub shared: Arc<Shared>,
}

/// A response body counted into [`Shared`]; see [`Metered`].
pub(crate) struct Counting<R> {
    inner: R,
    shared: Arc<Shared>,
}

impl<R> Counting<R> {
    fn check(&self) -> std::io::Result<()> {
        if self.shared.flag.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("fetch stopped by a limit"));
        }
        Ok(())
    }
}

/// Reads return what has arrived, one buffer at a time: gix's pipe reader
/// would block until the whole output buffer is full (a 64 KiB packet
/// line), which at a trickle takes minutes without a single check.
impl<R: std::io::BufRead> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.check()?;
        let avail = self.inner.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.inner.consume(n);
        self.shared.wire.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.shared.wire.fetch_add(n as u64, Ordering::Relaxed);
        self.inner.consume(n);
    }
}

impl<H: http::Http> http::Http for Metered<H> {
    type Headers = H::Headers;
    type ResponseBody = Counting<H::ResponseBody>;
    type PostBody = H::PostBody;

    fn get(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<http::GetResponse<Self::Headers, Self::ResponseBody>, gix::Error> {
        let r = self.inner.get(url, base_url, headers)?;
        Ok(http::GetResponse {
            headers: r.headers,
            body: Counting {
                inner: r.body,
                shared: self.shared.clone(),
            },
        })
    }

    fn post(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        body: http::PostBodyDataKind,
    ) -> Result<http::PostResponse<Self::Headers, Self::ResponseBody, Self::PostBody>, gix::Error>
    {
        let r = self.inner.post(url, base_url, headers, body)?;
        Ok(http::PostResponse {
            post_body: r.post_body,
            headers: r.headers,
            body: Counting {
                inner: r.body,
                shared: self.shared.clone(),
            },
        })
    }

    fn configure(&mut self, config: &dyn std::any::Any) -> Result<(), gix::Error> {
        self.inner.configure(config)
    }

    fn redirected_base_url(&self) -> Option<String> {
        self.inner.redirected_base_url()
    }
}

/// The progress sink handed to gix: it counts the pack's bytes (the
/// `read pack` progress of `gix-pack`) into the [`Budget`], and ignores
/// everything else.
#[derive(Clone)]
pub(crate) struct Meter {
    shared: Arc<Shared>,
    counts_bytes: bool,
    step: StepShared,
}

/// `gix_pack::bundle::write::ProgressId::ReadPackBytes`.
const READ_PACK_BYTES: Id = *b"BWRB";

impl Meter {
    pub fn new(budget: &Budget<'_>) -> Self {
        Meter {
            shared: budget.shared.clone(),
            counts_bytes: false,
            step: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Count for Meter {
    fn set(&self, step: Step) {
        let before = self.step.swap(step, Ordering::Relaxed);
        if self.counts_bytes && step > before {
            self.shared.add_bytes((step - before) as u64);
        }
    }

    fn step(&self) -> Step {
        self.step.load(Ordering::Relaxed)
    }

    fn inc_by(&self, step: Step) {
        self.step.fetch_add(step, Ordering::Relaxed);
        if self.counts_bytes {
            self.shared.add_bytes(step as u64);
        }
    }

    fn counter(&self) -> StepShared {
        self.step.clone()
    }
}

impl Progress for Meter {
    fn init(&mut self, _max: Option<Step>, _unit: Option<Unit>) {}

    fn set_name(&mut self, _name: String) {}

    fn name(&self) -> Option<String> {
        None
    }

    fn id(&self) -> Id {
        gix::progress::UNKNOWN
    }

    fn message(&self, _level: MessageLevel, _message: String) {}
}

impl NestedProgress for Meter {
    type SubProgress = Meter;

    fn add_child(&mut self, _name: impl Into<String>) -> Self::SubProgress {
        Meter {
            counts_bytes: false,
            step: Arc::new(AtomicUsize::new(0)),
            ..self.clone()
        }
    }

    fn add_child_with_id(&mut self, _name: impl Into<String>, id: Id) -> Self::SubProgress {
        Meter {
            counts_bytes: id == READ_PACK_BYTES,
            step: Arc::new(AtomicUsize::new(0)),
            ..self.clone()
        }
    }
}
