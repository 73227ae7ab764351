//! The per-call sandbox: the store's state, its limits, captured stdio, and
//! the host side of the WIT imports (`tree`, `log`).
//!
//! Tree operations are `async` host functions. On a tree that may hang
//! ([`source::Tree::may_hang`]: a network or FUSE file system) they run on
//! tokio's blocking pool, so a guest blocked in one is still ended by the
//! call's deadline; on a tree that cannot, they run on the call's own
//! thread, which saves two thread hand-offs per read. `log` and the
//! captured stdio never block.

use super::bindings::{self, Entry, EntryKind, Level, TreeError};
use super::clock::{ClockView, FixedWallClock, SeededRandom, VirtualClock};
use crate::source;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The host object behind the WIT `tree` resource.
pub struct TreeHandle(pub Arc<dyn source::Tree>);

/// Caps on what one plugin call may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of linear memory and tables one call may hold, summed over
    /// every memory and table of the component's instances.
    pub memory: u64,
    /// Wall-clock time one call may take.
    pub timeout: std::time::Duration,
    /// Largest total size (bytes) of what one call returns (objects,
    /// diagnostics, messages, `describe()`), and of what the guest hands
    /// the host in any one import call.
    pub output: u64,
    /// Bytes of stdout, stderr and log messages kept per call.
    pub log: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 512 << 20,
            timeout: std::time::Duration::from_secs(30),
            output: 64 << 20,
            log: 64 << 10,
        }
    }
}

/// Most linear memories one call may create (the pool holds this many per
/// concurrent call, so one call can never exhaust it).
pub const MAX_MEMORIES: u32 = 4;
/// Most tables one call may create.
pub const MAX_TABLES: u32 = 16;
/// Most core instances one call may create.
pub const MAX_CORE_INSTANCES: u32 = 32;
/// What one table element costs against the memory cap (wasmtime stores a
/// pointer per element).
const TABLE_ELEMENT_BYTES: u64 = 8;

/// Refuses memory and table growth once the call's total would pass the
/// cap, remembering that it did.
///
/// wasmtime asks the limiter before every growth, including the initial
/// size of each memory and table when an instance is created, so summing
/// the deltas gives the call's total over all of its memories and tables.
pub struct Limiter {
    cap: u64,
    used: u64,
    /// The last growth allowed, taken back if wasmtime then fails it.
    last: u64,
    /// Set when a growth was refused, so a resulting trap is reported as
    /// "out of memory" rather than a bare trap.
    pub refused: bool,
}

impl Limiter {
    /// A limiter allowing `cap` bytes in total.
    pub fn new(cap: u64) -> Self {
        Limiter {
            cap,
            used: 0,
            last: 0,
            refused: false,
        }
    }

    /// Bytes of memories and tables the call holds.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.used
    }

    fn grow(&mut self, delta: u64) -> bool {
        match self.used.checked_add(delta) {
            Some(total) if total <= self.cap => {
                self.used = total;
                self.last = delta;
                true
            }
            _ => {
                self.refused = true;
                false
            }
        }
    }

    fn undo(&mut self) {
        self.used -= self.last;
        self.last = 0;
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(to_u64(desired.saturating_sub(current))))
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.undo();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let elements = to_u64(desired.saturating_sub(current));
        Ok(self.grow(elements.saturating_mul(TABLE_ELEMENT_BYTES)))
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.undo();
        Ok(())
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES as usize
    }
}

/// Text a plugin wrote (stdout, stderr, log), capped; what is past the cap
/// is counted, not kept.
#[derive(Clone, Default)]
pub struct Captured {
    inner: Arc<Mutex<CapturedInner>>,
}

#[derive(Default)]
struct CapturedInner {
    buf: Vec<u8>,
    dropped: u64,
    cap: usize,
}

impl Captured {
    /// A capture keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        let c = Captured::default();
        if let Ok(mut g) = c.inner.lock() {
            g.cap = cap;
        }
        c
    }

    /// Keep `bytes` (up to the cap; the rest is counted).
    pub fn push(&self, bytes: &[u8]) {
        if let Ok(mut g) = self.inner.lock() {
            let room = g.cap.saturating_sub(g.buf.len());
            let take = room.min(bytes.len());
            g.buf.extend_from_slice(&bytes[..take]);
            g.dropped += (bytes.len() - take) as u64;
        }
    }

    /// What was kept, as text, and how many bytes were dropped.
    pub fn take(&self) -> (String, u64) {
        match self.inner.lock() {
            Ok(mut g) => (
                String::from_utf8_lossy(&std::mem::take(&mut g.buf)).into_owned(),
                g.dropped,
            ),
            Err(_) => (String::new(), 0),
        }
    }
}

impl wasmtime_wasi::cli::IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Captured {
    async fn ready(&mut self) {}
}

impl wasmtime_wasi::p2::OutputStream for Captured {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), wasmtime_wasi::p2::StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), wasmtime_wasi::p2::StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, wasmtime_wasi::p2::StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Everything one plugin call's `Store` holds.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and table caps.
    pub limiter: Limiter,
    /// Captured stdout.
    pub stdout: Captured,
    /// Captured stderr.
    pub stderr: Captured,
    /// Captured `log` calls.
    pub log: Captured,
    /// The call's virtual monotonic clock.
    pub clock: VirtualClock,
}

impl State {
    /// A sandbox with nothing: no preopens, no env, no args, no network,
    /// stdin closed, stdout/stderr captured; clocks and random numbers
    /// deterministic, random seeded with `seed` (see [`super::clock`]).
    pub fn new(limits: &Limits, seed: [u8; 32]) -> Self {
        let stdout = Captured::new(limits.log);
        let stderr = Captured::new(limits.log);
        let clock = VirtualClock::new(limits.timeout);
        let mut insecure_seed = SeededRandom::new(seed, 2);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .wall_clock(FixedWallClock)
            .monotonic_clock(clock.clone())
            .secure_random(SeededRandom::new(seed, 0))
            .insecure_random(SeededRandom::new(seed, 1))
            .insecure_random_seed(insecure_seed.next_u128())
            .max_random_size(limits.output.min(MAX_RANDOM_BYTES))
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.memory),
            stdout,
            stderr,
            log: Captured::new(limits.log),
            clock,
        }
    }

    /// Put the tree into the resource table for the call.
    pub fn push_tree(
        &mut self,
        tree: Arc<dyn source::Tree>,
    ) -> wasmtime::Result<Resource<TreeHandle>> {
        Ok(self.table.push(TreeHandle(tree))?)
    }

    /// The view `wasi:clocks/monotonic-clock` is served from.
    pub fn clocks(&mut self) -> ClockView<'_> {
        ClockView {
            clock: &self.clock,
            table: &mut self.table,
        }
    }
}

/// Largest `get-random-bytes` request served (1 MiB).
const MAX_RANDOM_BYTES: u64 = 1 << 20;

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn to_wit(e: source::TreeError) -> TreeError {
    use source::TreeError as S;
    match e {
        S::NotFound(p) => TreeError::NotFound(p),
        S::OutsideRoot(p) => TreeError::OutsideRoot(p),
        S::IsDirectory(p) => TreeError::IsDirectory(p),
        S::NotDirectory(p) => TreeError::NotDirectory(p),
        S::Unsupported(m) => TreeError::Unsupported(m),
        S::TooLarge(p, _) => TreeError::TooLarge(p),
        S::Io(m) => TreeError::Io(m),
    }
}

fn entry_to_wit(e: source::Entry) -> Entry {
    Entry {
        name: e.name,
        kind: match e.kind {
            source::EntryKind::File => EntryKind::File,
            source::EntryKind::Directory => EntryKind::Directory,
            source::EntryKind::Submodule => EntryKind::Submodule,
        },
        size: e.size,
    }
}

impl State {
    fn tree(&self, r: &Resource<TreeHandle>) -> Result<Arc<dyn source::Tree>, TreeError> {
        self.table
            .get(r)
            .map(|h| h.0.clone())
            .map_err(|e| TreeError::Io(format!("invalid tree handle: {e}")))
    }
}

/// Run a tree operation. On a tree that may hang (a network file system
/// whose server is gone) it runs off the wasm thread, so that it blocks only
/// a pool thread: the call's deadline still ends the call, and the calling
/// thread is free. Other trees are read right here.
async fn tree_op<T: Send + 'static>(
    tree: Arc<dyn source::Tree>,
    op: impl FnOnce(&dyn source::Tree) -> Result<T, source::TreeError> + Send + 'static,
) -> Result<T, TreeError> {
    if !tree.may_hang() {
        return op(tree.as_ref()).map_err(to_wit);
    }
    match tokio::task::spawn_blocking(move || op(tree.as_ref())).await {
        Ok(r) => r.map_err(to_wit),
        Err(e) => Err(TreeError::Io(format!("the tree operation failed: {e}"))),
    }
}

impl bindings::sluice::plugin::source::HostTree for State {
    async fn read(&mut self, r: Resource<TreeHandle>, path: String) -> Result<Vec<u8>, TreeError> {
        tree_op(self.tree(&r)?, move |t| t.read(&path)).await
    }

    async fn list(
        &mut self,
        r: Resource<TreeHandle>,
        path: String,
    ) -> Result<Vec<Entry>, TreeError> {
        let entries = tree_op(self.tree(&r)?, move |t| t.list(&path)).await?;
        Ok(entries.into_iter().map(entry_to_wit).collect())
    }

    async fn stat(&mut self, r: Resource<TreeHandle>, path: String) -> Result<Entry, TreeError> {
        tree_op(self.tree(&r)?, move |t| t.stat(&path))
            .await
            .map(entry_to_wit)
    }

    async fn drop(&mut self, r: Resource<TreeHandle>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl bindings::sluice::plugin::source::Host for State {}
impl bindings::sluice::plugin::types::Host for State {}
impl bindings::sluice::plugin::renderer_types::Host for State {}

impl bindings::sluice::plugin::log::Host for State {
    fn log(&mut self, level: Level, message: String) {
        let tag = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.log.push(format!("{tag}: {message}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_limiter_sums_every_memory_and_table() {
        let mut l = Limiter::new(100 << 20);
        // Three memories of 30 MiB fit; a fourth does not.
        for _ in 0..3 {
            assert!(l.memory_growing(0, 30 << 20, None).expect("ok"));
        }
        assert!(!l.memory_growing(0, 30 << 20, None).expect("ok"));
        assert!(l.refused);
        assert_eq!(l.used(), 90 << 20);
        // Growing one of them counts the difference only.
        assert!(l.memory_growing(30 << 20, 35 << 20, None).expect("ok"));
        assert_eq!(l.used(), 95 << 20);
        // A growth wasmtime then fails is taken back.
        l.memory_grow_failed(wasmtime::format_err!("over the maximum"))
            .expect("ok");
        assert_eq!(l.used(), 90 << 20);
        // Tables count too, at 8 bytes per element.
        assert!(l.table_growing(0, 1 << 20, None).expect("ok"));
        assert_eq!(l.used(), (90 << 20) + (8 << 20));
        assert!(!l.table_growing(1 << 20, 1 << 21, None).expect("ok"));
    }
}
