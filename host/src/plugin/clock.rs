//! What a plugin sees of time and chance: a fixed wall clock, a virtual
//! monotonic clock, and random numbers seeded from the render's identity.
//!
//! The contract (documented in `wit/plugin.wit`) is that a render of the same
//! app at the same revision always produces the same output, so a render
//! never drifts by itself. Time and randomness are the two ways WASI lets a
//! guest observe the outside world, so both are made deterministic here:
//!
//! - **Wall clock** (`wasi:clocks/wall-clock`): always
//!   1970-01-01T00:00:00Z (Unix time 0), with a resolution of one second. A
//!   fixed instant, not the time of the render: a plugin that stamps "now"
//!   into an object would otherwise change the object on every sync. (The
//!   commit time would be a nicer constant, but the host does not know it
//!   for every source; Unix time 0 is the `SOURCE_DATE_EPOCH=0` convention
//!   of reproducible builds.)
//! - **Monotonic clock** (`wasi:clocks/monotonic-clock`): virtual. It starts
//!   at 0 for every call and advances by [`READ_STEP`] at every read, so a
//!   busy-wait on it ends; a wait (`subscribe-duration`/`subscribe-instant`
//!   followed by `poll`, which is what `std::thread::sleep` does) ends at
//!   once and moves the clock to the wait's end. A wait that would end past
//!   the call's time limit never ends: the call fails with the timeout error
//!   as soon as the guest blocks on it (see [`VirtualClock::overrun`]).
//! - **Random** (`wasi:random/random`, `wasi:random/insecure`,
//!   `wasi:random/insecure-seed`): a SHA-256 counter-mode stream seeded with
//!   `sha256("sluice/random/v1" 0 app 0 revision)`, so the same (app,
//!   revision) always sees the same bytes and another revision different
//!   ones. The generator is written out here rather than taken from `rand`
//!   because its output is part of the contract: it must not change when a
//!   dependency is upgraded. It is not secret (anyone knowing the app and
//!   revision can compute it), which is the price of determinism; a plugin
//!   that needs a secret must not generate it during a render.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;

/// How far the virtual monotonic clock moves at every read (1 µs).
pub const READ_STEP: u64 = 1_000;

/// The wall clock every plugin sees: Unix time 0, always.
pub struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

#[derive(Default)]
struct ClockState {
    /// Nanoseconds since the call started, in virtual time.
    now: u64,
    /// Set when the guest blocked on a wait that ends past the limit.
    overrun: bool,
}

/// The virtual monotonic clock of one call. Cloning shares the clock.
#[derive(Clone)]
pub struct VirtualClock {
    state: Arc<Mutex<ClockState>>,
    /// Waits may end at most this many nanoseconds after the call started.
    limit: u64,
    /// Woken when the guest blocks on a wait past the limit.
    overrun: Arc<tokio::sync::Notify>,
}

impl VirtualClock {
    /// A clock at 0 whose waits may not end later than `limit`.
    pub fn new(limit: Duration) -> Self {
        VirtualClock {
            state: Arc::default(),
            limit: u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX),
            overrun: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Resolves when the guest is blocked on a wait that would end past the
    /// call's time limit: the call has then timed out.
    pub fn overrun(&self) -> Arc<tokio::sync::Notify> {
        self.overrun.clone()
    }

    /// Whether the guest blocked on a wait past the limit.
    #[cfg(test)]
    pub fn overran(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.overrun)
    }

    fn read(&self) -> u64 {
        match self.state.lock() {
            Ok(mut s) => {
                s.now = s.now.saturating_add(READ_STEP);
                s.now
            }
            Err(_) => u64::MAX,
        }
    }

    fn peek(&self) -> u64 {
        self.state.lock().map_or(u64::MAX, |s| s.now)
    }

    fn wait_until(
        &self,
        table: &mut ResourceTable,
        end: u64,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let wait = table.push(Wait {
            clock: self.clone(),
            end,
        })?;
        wasmtime_wasi::p2::subscribe(table, wait)
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        READ_STEP
    }

    fn now(&self) -> u64 {
        self.read()
    }
}

/// A pending wait on the virtual clock.
struct Wait {
    clock: VirtualClock,
    end: u64,
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Wait {
    async fn ready(&mut self) {
        // Give other pollables of the same `poll` a chance first, as
        // wasmtime-wasi's own zero-length waits do: only a guest that is
        // really blocked on this wait gets past this point.
        tokio::task::yield_now().await;
        if self.end <= self.clock.limit {
            if let Ok(mut s) = self.clock.state.lock() {
                s.now = s.now.max(self.end);
            }
            return;
        }
        if let Ok(mut s) = self.clock.state.lock() {
            s.overrun = true;
        }
        self.clock.overrun.notify_one();
        std::future::pending::<()>().await;
    }
}

/// The host side of `wasi:clocks/monotonic-clock`, over the call's
/// [`VirtualClock`] (it replaces wasmtime-wasi's, whose waits are real).
pub struct ClockView<'a> {
    /// The call's clock.
    pub clock: &'a VirtualClock,
    /// The call's resource table, where waits live.
    pub table: &'a mut ResourceTable,
}

/// [`wasmtime::component::HasData`] for [`ClockView`].
pub struct VirtualClocks;

impl wasmtime::component::HasData for VirtualClocks {
    type Data<'a> = ClockView<'a>;
}

impl monotonic_clock::Host for ClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(self.clock.read())
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(READ_STEP)
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.clock.wait_until(self.table, when)
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let end = self.clock.peek().saturating_add(duration);
        self.clock.wait_until(self.table, end)
    }
}

/// The seed of a render's random numbers: a digest of the app and revision.
pub fn seed(app: &str, revision: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sluice/random/v1\0");
    h.update(app.as_bytes());
    h.update(b"\0");
    h.update(revision.as_bytes());
    h.finalize().into()
}

/// A deterministic byte stream: block `i` is `sha256(seed || stream || i)`.
pub struct SeededRandom {
    seed: [u8; 32],
    stream: u8,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededRandom {
    /// The stream numbered `stream` (one per WASI interface) of `seed`.
    pub fn new(seed: [u8; 32], stream: u8) -> Self {
        SeededRandom {
            seed,
            stream,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, dst: &mut [u8]) {
        let mut filled = 0;
        while filled < dst.len() {
            if self.used == self.block.len() {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update([self.stream]);
                h.update(self.counter.to_le_bytes());
                self.block = h.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            let take = (self.block.len() - self.used).min(dst.len() - filled);
            dst[filled..filled + take].copy_from_slice(&self.block[self.used..self.used + take]);
            self.used += take;
            filled += take;
        }
    }

    /// 16 bytes of the stream as a number (for `insecure-seed`).
    pub fn next_u128(&mut self) -> u128 {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        u128::from_le_bytes(b)
    }
}

impl rand_core::TryRng for SeededRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.fill(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn the_random_stream_is_fixed_by_app_and_revision() {
        let bytes = |app: &str, rev: &str| {
            let mut r = SeededRandom::new(seed(app, rev), 0);
            let mut b = [0u8; 80];
            r.fill_bytes(&mut b);
            b
        };
        assert_eq!(bytes("a", "1"), bytes("a", "1"));
        assert_ne!(bytes("a", "1"), bytes("a", "2"));
        assert_ne!(bytes("a", "1"), bytes("b", "1"));
        // "a" + "b1" must not collide with "ab" + "1".
        assert_ne!(seed("a", "b1"), seed("ab", "1"));
        // Streams of one seed differ.
        let mut s0 = SeededRandom::new(seed("a", "1"), 0);
        let mut s1 = SeededRandom::new(seed("a", "1"), 1);
        assert_ne!(s0.next_u64(), s1.next_u64());
        // Pinned: the stream is part of the contract and must not change.
        let mut r = SeededRandom::new(seed("app", "rev"), 0);
        let mut first = [0u8; 8];
        r.fill_bytes(&mut first);
        let mut h = Sha256::new();
        h.update(seed("app", "rev"));
        h.update([0u8]);
        h.update(0u64.to_le_bytes());
        assert_eq!(first[..], h.finalize()[..8]);
    }

    #[test]
    fn reads_advance_the_virtual_clock_by_a_fixed_step() {
        let c = VirtualClock::new(Duration::from_secs(1));
        assert_eq!(c.now(), READ_STEP);
        assert_eq!(c.now(), 2 * READ_STEP);
        assert!(!c.overran());
    }
}
