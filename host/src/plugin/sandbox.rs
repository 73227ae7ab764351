//! The per-call sandbox: the store's state, its limits, captured stdio, and
//! the host side of the WIT imports (`tree`, `log`).

use super::bindings::{self, Entry, EntryKind, Level, TreeError};
use crate::source;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The host object behind the WIT `tree` resource.
pub struct TreeHandle(pub Arc<dyn source::Tree>);

/// Caps on what one plugin call may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest linear memory (bytes) an instance may grow to.
    pub memory: u64,
    /// Wall-clock time one call may take.
    pub timeout: std::time::Duration,
    /// Largest total size of returned objects and messages (bytes).
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

/// Refuses memory and table growth past the limits, remembering that it did.
pub struct Limiter {
    memory: u64,
    /// Set when a growth was refused, so a resulting trap is reported as
    /// "out of memory" rather than a bare trap.
    pub refused: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = u64::try_from(desired).is_ok_and(|d| d <= self.memory);
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= 1_000_000;
        self.refused |= !ok;
        Ok(ok)
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

    fn push(&self, bytes: &[u8]) {
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
}

impl State {
    /// A sandbox with nothing: no preopens, no env, no args, no network,
    /// stdin closed, stdout/stderr captured.
    pub fn new(limits: &Limits) -> Self {
        let stdout = Captured::new(limits.log);
        let stderr = Captured::new(limits.log);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                memory: limits.memory,
                refused: false,
            },
            stdout,
            stderr,
            log: Captured::new(limits.log),
        }
    }

    /// Put the tree into the resource table for the call.
    pub fn push_tree(
        &mut self,
        tree: Arc<dyn source::Tree>,
    ) -> wasmtime::Result<Resource<TreeHandle>> {
        Ok(self.table.push(TreeHandle(tree))?)
    }
}

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

impl bindings::sluice::plugin::source::HostTree for State {
    fn read(&mut self, r: Resource<TreeHandle>, path: String) -> Result<Vec<u8>, TreeError> {
        self.tree(&r)?.read(&path).map_err(to_wit)
    }

    fn list(&mut self, r: Resource<TreeHandle>, path: String) -> Result<Vec<Entry>, TreeError> {
        Ok(self
            .tree(&r)?
            .list(&path)
            .map_err(to_wit)?
            .into_iter()
            .map(entry_to_wit)
            .collect())
    }

    fn stat(&mut self, r: Resource<TreeHandle>, path: String) -> Result<Entry, TreeError> {
        self.tree(&r)?.stat(&path).map(entry_to_wit).map_err(to_wit)
    }

    fn drop(&mut self, r: Resource<TreeHandle>) -> wasmtime::Result<()> {
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
