//! The plugin runtime: wasmtime's component model, sandboxed.
//!
//! A [`Runtime`] owns the engine, the compiled-plugin cache, the epoch
//! ticker and a small tokio runtime the calls run on. [`Runtime::load`]
//! turns plugin bytes into a [`Plugin`]: compiled once (or loaded from the
//! on-disk cache), linked once into an `InstancePre`. Every
//! [`Plugin::render`] call then gets a fresh `Store` and instance with nothing
//! in it but the source tree: no filesystem, environment, arguments or
//! network; stdin closed; memory, time and output capped; clocks and random
//! numbers deterministic. A plugin that traps, times out or exceeds a cap
//! fails that call with a [`PluginError`] naming it; the runtime carries on.
//!
//! # Time: async calls under a deadline, plus a virtual clock
//!
//! Every call must end within its limit whatever the guest does, and leave
//! the calling thread free. Epoch interruption alone cannot do that: it
//! only stops guest code, not a guest blocked inside a host call (a clock
//! wait, a tree read on a hung filesystem), which is where a sleeping plugin
//! sits. So calls are made with wasmtime's async API (`call_async`, the
//! guest on a fiber) and raced against a tokio timer:
//!
//! - the store yields to the executor at every epoch tick
//!   ([`TICK`], `epoch_deadline_async_yield_and_update`), so a spinning guest
//!   gives the timer a chance to fire;
//! - host calls that may block are `async` (`tree` operations on a tree that
//!   may hang run on tokio's blocking pool, see [`sandbox`]), so a blocked
//!   guest is a pending future;
//! - when the timer fires, the call's future is dropped, which unwinds the
//!   fiber and frees the instance; the store is discarded. The call returns
//!   [`PluginError::Timeout`] at the limit plus at most one tick.
//!
//! Clock waits are not real waits at all: the monotonic clock is virtual
//! ([`clock`]), so a guest's `sleep` ends at once and moves its clock, and a
//! wait that would end past the limit fails the call with the same timeout
//! error as soon as the guest blocks on it. That keeps renders deterministic
//! and makes a 40 s sleep under a 3 s limit fail immediately instead of
//! after 3 s.
//!
//! Synchronous callers ([`Plugin::render`], [`Runtime::load`]) block on the
//! call with the runtime's own tokio runtime (on the calling thread; from
//! inside another tokio runtime through `block_in_place`), and async
//! callers ([`Plugin::render_async`]) get the call spawned there, so Wasm
//! never runs on their executor. At most `POOL_SIZE` calls run at once;
//! more wait for a slot rather than fail.
//!
//! # Memory: one cap per call, over every memory and table
//!
//! The [`sandbox::Limiter`] sums the growth of every linear memory and table
//! of the call's instances (a component may have several core instances,
//! each with memories and tables) against [`Limits::memory`]; the
//! instance pool is sized so that one call, capped at
//! [`sandbox::MAX_MEMORIES`] memories, [`sandbox::MAX_TABLES`] tables and
//! [`sandbox::MAX_CORE_INSTANCES`] core instances, can never take all of it.
//!
//! # Output: counted while it is copied in
//!
//! Bounding the guest's memory does not bound what it returns: a list of a
//! million strings may all point at the same megabyte, and lifting that list
//! would allocate a terabyte on the host. wasmtime meters every string and
//! list it copies out of a guest ("hostcall fuel", decremented before each
//! copy and failing the copy when exhausted); it is set per store to
//! [`Limits::output`], so everything one call returns (objects, diagnostics,
//! messages, `describe()`) is counted while it is copied, and the copy stops
//! at the limit with [`PluginError::OutputTooLarge`]. The same budget applies
//! to each import call (what the guest hands the host in one `log`, stream
//! write or tree path). Strings a plugin returns for display are escaped
//! ([`escape_control`]) as they enter the host.

mod bindings;
pub mod builtin;
mod cache;
mod clock;
#[cfg(test)]
mod compat_tests;
pub mod outbound;
pub mod remote;
mod sandbox;
pub mod target;
mod text;

pub use bindings::{
    Context, Diagnostic, FileRef, Origin, Param, ParamSpec, PluginInfo, RenderOutput,
    RenderRequest, RenderedObject, ResourceRef, Severity,
};
pub use sandbox::Limits;
pub use text::escape_control;

use crate::source::Tree;
use clock::VirtualClock;
use sandbox::{MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES, State};
use sha2::Digest;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

/// How many plugin calls may run at once (each holds one pooled instance).
const POOL_SIZE: u32 = 64;

/// Bytes of each pooled memory and table kept mapped between calls (see
/// [`Runtime::new`]); at most this much per warm slot stays resident.
const KEEP_RESIDENT: usize = 256 << 10;

/// How often the epoch ticks: a spinning guest yields this often, so a
/// timeout fires at most this late.
const TICK: Duration = Duration::from_millis(10);

/// The error returned by plugin loading and calls. Each names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The thread that enforces time limits could not be started; no plugin
    /// may run without it.
    #[error(
        "cannot start the plugin timeout thread, so no plugin can run safely; check the process's thread limit (ulimit -u)"
    )]
    Ticker(#[source] std::io::Error),
    /// The bytes are not a valid component, or not compilable.
    #[error("plugin {plugin}: not a valid WebAssembly component for this sluice")]
    Compile {
        /// The plugin.
        plugin: String,
        /// What wasmtime said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The component does not implement the renderer world.
    #[error("plugin {plugin}: does not implement sluice:plugin/renderer@0.1.0 ({reason})")]
    Link {
        /// The plugin.
        plugin: String,
        /// What is missing.
        reason: String,
    },
    /// The component does not implement the target world.
    #[error("plugin {plugin}: does not implement sluice:plugin/target@0.3.0 ({reason})")]
    TargetLink {
        /// The plugin.
        plugin: String,
        /// What is missing.
        reason: String,
    },
    /// The plugin file's sha256 is not the one required.
    #[error("plugin {plugin}: sha256 is {actual}, but {expected} was required; refusing to run it")]
    Digest {
        /// The plugin.
        plugin: String,
        /// The required digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// The call ran past its time limit (computing, blocked in a host call,
    /// or waiting on a clock past the limit).
    #[error("plugin {plugin}: timed out after {limit:?} (raise the limit with --plugin-timeout)")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The limit.
        limit: Duration,
    },
    /// The call tried to use more memory than allowed.
    #[error(
        "plugin {plugin}: exceeded its memory limit of {limit} MiB (all its memories and tables together; raise it with --plugin-memory)"
    )]
    Memory {
        /// The plugin.
        plugin: String,
        /// The limit in MiB.
        limit: u64,
    },
    /// The call returned (or passed to the host in one import call) more
    /// than the output limit; the copy stopped when the limit was reached.
    #[error(
        "plugin {plugin}: returned more than the output limit of {limit} bytes (objects, diagnostics and messages together; raise it with --plugin-output)"
    )]
    OutputTooLarge {
        /// The plugin.
        plugin: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The plugin trapped (crashed), e.g. a panic.
    #[error("plugin {plugin}: crashed: {message}{}", stderr_tail(stderr))]
    Trap {
        /// The plugin.
        plugin: String,
        /// wasmtime's description of the trap (control characters escaped).
        message: String,
        /// The end of what it wrote to stderr, if anything (escaped).
        stderr: String,
    },
}

fn stderr_tail(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        return String::new();
    }
    let start = t.char_indices().rev().nth(500).map_or(0, |(i, _)| i);
    format!("; its stderr ends with: {}", &t[start..])
}

/// The plugin engine, shared by every plugin and call.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    cache: Option<cache::Cache>,
    limits: Limits,
    exec: Arc<Exec>,
}

impl Runtime {
    /// A runtime with `limits`, caching compiled plugins under `cache_dir`
    /// (none: compile every time).
    pub fn new(limits: Limits, cache_dir: Option<std::path::PathBuf>) -> Result<Self, PluginError> {
        let engine_err = |e: wasmtime::Error| PluginError::Engine(e.into());
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Instances come from a pre-reserved pool: a fresh instance per call
        // then costs a few page resets instead of mmap/munmap. Every
        // per-component maximum times POOL_SIZE is the pool's total, so no
        // call can starve the others.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_SIZE)
            .total_core_instances(POOL_SIZE * MAX_CORE_INSTANCES)
            .total_memories(POOL_SIZE * MAX_MEMORIES)
            .total_tables(POOL_SIZE * MAX_TABLES)
            .total_stacks(POOL_SIZE)
            .max_core_instances_per_component(MAX_CORE_INSTANCES)
            .max_memories_per_component(MAX_MEMORIES)
            .max_tables_per_component(MAX_TABLES)
            .max_memories_per_module(MAX_MEMORIES)
            .max_tables_per_module(MAX_TABLES)
            // One memory can never be over the per-call cap (the limiter
            // sums them all), nor over the 4 GiB a 32-bit memory can address.
            .max_memory_size(usize::try_from(limits.memory.min(4 << 30)).unwrap_or(usize::MAX))
            // Reusing a slot resets only the pages the last call dirtied
            // (found with Linux's PAGEMAP_SCAN where the kernel has it,
            // 6.7 and later), with memset for the first KEEP_RESIDENT bytes
            // instead of unmapping them: the next call then takes no page
            // faults there. This halves the cost of a small call.
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(engine_err)?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_err)?;
        // The monotonic clock is sluice's virtual one, replacing
        // wasmtime-wasi's (whose waits are real sleeps).
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::clocks::monotonic_clock::add_to_linker::<
            State,
            clock::VirtualClocks,
        >(&mut linker, State::clocks)
        .map_err(engine_err)?;
        linker.allow_shadowing(false);
        bindings::Renderer::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        bindings::v0_2::Renderer::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        bindings::v0_1::Renderer::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        start_ticker(&engine, std::thread::Builder::new())?;
        let exec = Arc::new(Exec::new()?);
        let cache = cache_dir.map(|d| cache::Cache::new(d, &engine));
        Ok(Runtime {
            engine,
            linker,
            cache,
            limits,
            exec,
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The store of fetched remote plugins, beside the compiled-plugin
    /// cache (none when the runtime has no cache directory).
    pub fn remote_cache(&self) -> Option<remote::BlobCache> {
        self.cache.as_ref().map(|c| remote::BlobCache::new(c.dir()))
    }

    /// Load a plugin from its bytes. With `expected_sha256`, refuse bytes
    /// whose digest differs.
    pub fn load(
        &self,
        name: &str,
        wasm: &[u8],
        expected_sha256: Option<&str>,
    ) -> Result<Plugin, PluginError> {
        let sha256 = hex::encode(sha2::Sha256::digest(wasm));
        if let Some(expected) = expected_sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(PluginError::Digest {
                plugin: name.to_string(),
                expected: expected.to_string(),
                actual: sha256,
            });
        }
        self.load_verified(name, wasm, &sha256)
    }

    /// Load the built-in plugin `b`.
    pub fn load_builtin(&self, b: &builtin::Builtin) -> Result<Plugin, PluginError> {
        self.load_verified(b.name, b.wasm, b.sha256)
    }

    /// The compiled component of `wasm` (digest `sha256`): from the
    /// compile cache when there is one, compiled now otherwise. Renderers
    /// and targets share it.
    pub(crate) fn component(
        &self,
        name: &str,
        wasm: &[u8],
        sha256: &str,
    ) -> Result<wasmtime::component::Component, PluginError> {
        Ok(match &self.cache {
            Some(c) => c.load(&self.engine, name, sha256, wasm)?.0,
            None => wasmtime::component::Component::new(&self.engine, wasm).map_err(|e| {
                PluginError::Compile {
                    plugin: name.to_string(),
                    source: e.into(),
                }
            })?,
        })
    }

    /// The top-level import and export names of the component `wasm`
    /// (compiled, or from the compile cache): what `sluice plugin push`
    /// writes into the artifact's config.
    pub fn component_info(
        &self,
        name: &str,
        wasm: &[u8],
    ) -> Result<remote::ComponentInfo, PluginError> {
        let sha256 = hex::encode(sha2::Sha256::digest(wasm));
        let ty = self.component(name, wasm, &sha256)?.component_type();
        Ok(remote::ComponentInfo {
            imports: ty
                .imports(&self.engine)
                .map(|(n, _)| n.to_string())
                .collect(),
            exports: ty
                .exports(&self.engine)
                .map(|(n, _)| n.to_string())
                .collect(),
            file_name: None,
        })
    }

    fn load_verified(&self, name: &str, wasm: &[u8], sha256: &str) -> Result<Plugin, PluginError> {
        let component = self.component(name, wasm, sha256)?;
        let link_err = |e: wasmtime::Error| PluginError::Link {
            plugin: name.to_string(),
            reason: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(&component).map_err(link_err)?;
        let pre = bindings::AnyRendererPre::new(pre).map_err(link_err)?;
        let mut inner = Inner {
            name: name.to_string(),
            sha256: sha256.to_string(),
            pre,
            engine: self.engine.clone(),
            limits: self.limits,
            info: None,
            exec: self.exec.clone(),
        };
        inner.info = Some(self.exec.block_on(inner.describe())?);
        Ok(Plugin {
            inner: Arc::new(inner),
        })
    }
}

/// Start the thread advancing the engine's epoch every [`TICK`] for as long
/// as the engine lives. Without it a spinning guest would never yield, so
/// failing to start it is an error, never a silent "no timeouts".
fn start_ticker(engine: &Engine, builder: std::thread::Builder) -> Result<(), PluginError> {
    let weak = engine.weak();
    builder
        .name("sluice-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
        .map_err(PluginError::Ticker)
}

/// Where plugin calls run: a small multi-threaded tokio runtime (its timer
/// enforces deadlines, its blocking pool serves tree reads), and the
/// semaphore holding calls to the pool's size.
struct Exec {
    /// Always `Some` until dropped (taken to shut it down without blocking).
    rt: Option<tokio::runtime::Runtime>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Exec {
    fn new() -> Result<Self, PluginError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sluice-plugin")
            .enable_all()
            .build()
            .map_err(|e| PluginError::Engine(e.into()))?;
        Ok(Exec {
            rt: Some(rt),
            slots: Arc::new(tokio::sync::Semaphore::new(POOL_SIZE as usize)),
        })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt
            .as_ref()
            .expect("the runtime is only taken when Exec is dropped")
    }

    /// Run `fut` to completion from synchronous code, on this thread.
    fn block_on<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Err(_) => self.rt().block_on(fut),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.rt().block_on(fut))
            }
            // A current-thread runtime cannot lend its thread: block a
            // scoped helper thread instead.
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| self.rt().block_on(fut))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
        }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        // Dropping a tokio runtime inside another one panics; this never
        // blocks. Blocking-pool threads stuck in a hung tree read are left
        // to finish on their own.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Run `work` (a call into the guest) under the call's deadline: `limit`
/// of real time, and the virtual clock's limit on waits. `None` when the
/// deadline passed; `work` has then been dropped, which cancels the call.
async fn within<T>(
    limit: Duration,
    clock: &VirtualClock,
    work: impl Future<Output = wasmtime::Result<T>>,
) -> Option<wasmtime::Result<T>> {
    let overrun = clock.overrun();
    tokio::select! {
        biased;
        r = work => Some(r),
        _ = tokio::time::sleep(limit) => None,
        _ = overrun.notified() => None,
    }
}

/// The text of the error wasmtime raises when a copy out of the guest runs
/// out of hostcall fuel (its type is private, so it is recognised by its
/// message; a unit test pins it).
const FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// A loaded plugin, ready to be called any number of times, from any thread.
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    sha256: String,
    pre: bindings::AnyRendererPre,
    engine: Engine,
    limits: Limits,
    info: Option<PluginInfo>,
    exec: Arc<Exec>,
}

impl Plugin {
    /// The plugin's name (its built-in name or its file name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The contract version the plugin was built for (`0.3.0`, `0.2.0`,
    /// `0.1.0`).
    pub fn contract(&self) -> &'static str {
        self.inner.pre.version()
    }

    /// Hex sha256 of the plugin's bytes.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// What the plugin said about itself when it was loaded (display strings
    /// escaped).
    pub fn info(&self) -> &PluginInfo {
        self.inner
            .info
            .as_ref()
            .expect("info is set by Runtime::load before a Plugin is returned")
    }

    /// Render `request` over `tree` in a fresh sandbox, blocking this thread
    /// until the call ends (at the latest at the time limit plus a tick).
    /// The plugin's own render error (bad input) comes back as `Ok(Err(..))`;
    /// a misbehaving plugin as `Err`.
    pub fn render(
        &self,
        tree: Arc<dyn Tree>,
        request: &RenderRequest,
    ) -> Result<Result<RenderOutput, bindings::RenderError>, PluginError> {
        self.inner.exec.block_on(self.inner.render(tree, request))
    }

    /// [`Plugin::render`] for async callers: the call runs on the plugin
    /// runtime's threads, never on the caller's executor.
    pub async fn render_async(
        &self,
        tree: Arc<dyn Tree>,
        request: RenderRequest,
    ) -> Result<Result<RenderOutput, bindings::RenderError>, PluginError> {
        let inner = self.inner.clone();
        let task = self
            .inner
            .exec
            .rt()
            .spawn(async move { inner.render(tree, &request).await });
        match task.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(PluginError::Engine(e.into())),
        }
    }
}

/// A fresh store for one call: the call's state, its memory limiter, its
/// output budget, and a yield to the executor at every epoch tick.
fn new_store(engine: &Engine, limits: &Limits, seed: [u8; 32]) -> Store<State> {
    let mut store = Store::new(engine, State::new(limits, seed));
    store.limiter(|s| &mut s.limiter);
    store.set_hostcall_fuel(usize::try_from(limits.output).unwrap_or(usize::MAX));
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    store
}

impl Inner {
    fn store(&self, seed: [u8; 32]) -> Store<State> {
        new_store(&self.engine, &self.limits, seed)
    }

    async fn describe(&self) -> Result<PluginInfo, PluginError> {
        let _slot = self.exec.slots.acquire().await;
        let mut store = self.store(clock::seed("", ""));
        let clock = store.data().clock.clone();
        let result = within(self.limits.timeout, &clock, async {
            self.pre.describe(&mut store).await
        })
        .await;
        let mut info = self.finish(&mut store, result)?;
        text::clean_info(&mut info);
        Ok(info)
    }

    async fn render(
        &self,
        tree: Arc<dyn Tree>,
        request: &RenderRequest,
    ) -> Result<Result<RenderOutput, bindings::RenderError>, PluginError> {
        let span = tracing::debug_span!("plugin", plugin = %self.name);
        async {
            let _slot = self.exec.slots.acquire().await;
            let seed = clock::seed(&request.context.app_name, &request.context.revision);
            let mut store = self.store(seed);
            let clock = store.data().clock.clone();
            let result = within(self.limits.timeout, &clock, async {
                let tree = store.data_mut().push_tree(tree)?;
                self.pre.render(&mut store, tree, request).await
            })
            .await;
            let result = self.finish(&mut store, result);
            crate::metrics::plugin_call(&self.name, &result);
            let mut result = result?;
            text::clean_result(&mut result);
            Ok(result)
        }
        .instrument(span)
        .await
    }

    /// Log what the plugin wrote and classify a failure.
    fn finish<T>(
        &self,
        store: &mut Store<State>,
        result: Option<wasmtime::Result<T>>,
    ) -> Result<T, PluginError> {
        let state = store.data();
        let (stdout, out_dropped) = state.stdout.take();
        let (stderr, err_dropped) = state.stderr.take();
        let (log, log_dropped) = state.log.take();
        for (stream, text, dropped) in [
            ("stdout", &stdout, out_dropped),
            ("stderr", &stderr, err_dropped),
            ("log", &log, log_dropped),
        ] {
            for line in text.lines().filter(|l| !l.is_empty()) {
                tracing::info!(plugin = %self.name, stream, "{}", escape_control(line));
            }
            if dropped > 0 {
                tracing::warn!(plugin = %self.name, stream, dropped, "plugin output over the capture limit was dropped");
            }
        }
        let timeout = || PluginError::Timeout {
            plugin: self.name.clone(),
            limit: self.limits.timeout,
        };
        let Some(result) = result else {
            return Err(timeout());
        };
        let refused = state.limiter.refused;
        result.map_err(|e| {
            if matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            ) {
                timeout()
            } else if format!("{e:#}").contains(FUEL_EXHAUSTED) {
                PluginError::OutputTooLarge {
                    plugin: self.name.clone(),
                    limit: self.limits.output,
                }
            } else if refused {
                PluginError::Memory {
                    plugin: self.name.clone(),
                    limit: self.limits.memory >> 20,
                }
            } else {
                PluginError::Trap {
                    plugin: self.name.clone(),
                    message: escape_control(&format!("{e:#}")).into_owned(),
                    stderr: escape_control(&stderr).into_owned(),
                }
            }
        })
    }
}

/// The directory compiled plugins are cached in by default
/// (`$SLUICE_CACHE_DIR`, else the user's cache directory + `sluice`).
pub fn builtin_cache_dir() -> Option<std::path::PathBuf> {
    cache::Cache::default_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Component;

    fn runtime(memory_mib: u64) -> Runtime {
        let limits = Limits {
            memory: memory_mib << 20,
            output: 1 << 10,
            ..Limits::default()
        };
        Runtime::new(limits, None).expect("runtime")
    }

    /// Instantiate `wat` (a component with no imports) in a store set up
    /// like a plugin call's; whether the limiter refused something.
    fn instantiate(rt: &Runtime, wat: &str) -> (wasmtime::Result<()>, bool) {
        let component =
            Component::new(&rt.engine, wat::parse_str(wat).expect("wat")).expect("component");
        let mut store = new_store(&rt.engine, &rt.limits, [0; 32]);
        let linker = Linker::<State>::new(&rt.engine);
        let r = rt
            .exec
            .block_on(linker.instantiate_async(&mut store, &component))
            .map(drop);
        (r, store.data().limiter.refused)
    }

    /// A component instantiating a module with two 20 MiB memories
    /// `instances` times.
    fn memories(instances: usize) -> String {
        let inst: String = (0..instances)
            .map(|i| format!("(core instance $i{i} (instantiate $m))"))
            .collect();
        format!("(component (core module $m (memory 320) (memory 320)) {inst})")
    }

    #[test]
    fn the_memory_cap_is_summed_over_every_memory_of_every_instance() {
        // 2 instances x 2 memories x 20 MiB = 80 MiB: each memory is far
        // under 64 MiB, their sum is not.
        let (r, refused) = instantiate(&runtime(64), &memories(2));
        assert!(r.is_err() && refused, "{r:?}");
        let (r, refused) = instantiate(&runtime(96), &memories(2));
        assert!(r.is_ok() && !refused, "{r:?}");
    }

    #[test]
    fn one_call_cannot_take_more_than_its_share_of_the_pool() {
        // 3 instances x 2 memories: over MAX_MEMORIES, refused whatever the
        // memory cap (already when compiled), so the pool always has room
        // for the other calls.
        assert_eq!(MAX_MEMORIES, 4);
        let rt = runtime(4096);
        let err = Component::new(&rt.engine, wat::parse_str(memories(3)).expect("wat"))
            .expect_err("too many memories");
        assert!(
            format!("{err:#}").contains(
                "contains 6 Wasm linear memories, which exceeds the configured maximum of 4"
            ),
            "{err:#}"
        );
        let (r, _) = instantiate(&rt, &memories(2));
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn copying_past_the_output_budget_fails_with_the_known_message() {
        // An export returning a 4 KiB string under a 1 KiB output limit:
        // the copy is refused, with the message `finish` recognises.
        let rt = runtime(64);
        let component = Component::new(
            &rt.engine,
            wat::parse_str(
                r#"(component
                (core module $m
                  (memory (export "memory") 1)
                  (data (i32.const 0) "\08\00\00\00\00\10\00\00")
                  (func (export "f") (result i32) (i32.const 0)))
                (core instance $i (instantiate $m))
                (func (export "f") (result string)
                  (canon lift (core func $i "f") (memory $i "memory"))))"#,
            )
            .expect("wat"),
        )
        .expect("component");
        let mut store = new_store(&rt.engine, &rt.limits, [0; 32]);
        let linker = Linker::<State>::new(&rt.engine);
        let r = rt.exec.block_on(async {
            let inst = linker.instantiate_async(&mut store, &component).await?;
            let f = inst.get_typed_func::<(), (String,)>(&mut store, "f")?;
            f.call_async(&mut store, ()).await
        });
        let err = format!("{:#}", r.expect_err("over the budget"));
        assert!(err.contains(FUEL_EXHAUSTED), "{err}");
    }

    #[test]
    fn a_ticker_that_cannot_start_is_an_error() {
        let engine = Engine::default();
        let err = start_ticker(&engine, std::thread::Builder::new().stack_size(1 << 62))
            .expect_err("no thread that size");
        assert!(matches!(err, PluginError::Ticker(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot start the plugin timeout thread")
        );
    }
}
