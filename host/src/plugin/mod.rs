//! The plugin runtime: wasmtime's component model, sandboxed.
//!
//! A [`Runtime`] owns the engine, the compiled-plugin cache and the epoch
//! ticker that enforces timeouts. [`Runtime::load`] turns plugin bytes into a
//! [`Plugin`]: compiled once (or loaded from the on-disk cache), linked once
//! into an `InstancePre`. Every [`Plugin::render`] call then gets a fresh
//! `Store` and instance with nothing in it but the source tree: no
//! filesystem, environment, arguments or network; stdin closed; memory, time
//! and output capped. A plugin that traps, times out or exceeds a cap fails
//! that call with a [`PluginError`] naming it; the runtime carries on.

mod bindings;
pub mod builtin;
mod cache;
mod sandbox;

pub use bindings::{
    Context, Diagnostic, FileRef, Origin, Param, ParamSpec, PluginInfo, RenderOutput,
    RenderRequest, RenderedObject, ResourceRef, Severity,
};
pub use sandbox::Limits;

use crate::source::Tree;
use sandbox::State;
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

/// How many plugin instances may be alive at once (concurrent calls).
const POOL_SIZE: u32 = 64;

/// How often the epoch ticks; timeouts are measured in these.
const TICK: Duration = Duration::from_millis(10);

/// The error returned by plugin loading and calls. Each names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
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
    #[error(
        "plugin {plugin}: does not implement sluice:plugin/renderer@0.2.0 or @0.1.0 ({reason})"
    )]
    Link {
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
    /// The call ran past its time limit.
    #[error("plugin {plugin}: timed out after {limit:?} (raise the limit with --plugin-timeout)")]
    Timeout {
        /// The plugin.
        plugin: String,
        /// The limit.
        limit: Duration,
    },
    /// The call tried to use more memory than allowed.
    #[error(
        "plugin {plugin}: exceeded its memory limit of {limit} MiB (raise it with --plugin-memory)"
    )]
    Memory {
        /// The plugin.
        plugin: String,
        /// The limit in MiB.
        limit: u64,
    },
    /// The call returned more than the output limit.
    #[error("plugin {plugin}: returned {size} bytes, over the output limit of {limit} bytes")]
    OutputTooLarge {
        /// The plugin.
        plugin: String,
        /// Bytes returned.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The plugin trapped (crashed), e.g. a panic.
    #[error("plugin {plugin}: crashed: {message}{}", stderr_tail(stderr))]
    Trap {
        /// The plugin.
        plugin: String,
        /// wasmtime's description of the trap.
        message: String,
        /// The end of what it wrote to stderr, if anything.
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
}

impl Runtime {
    /// A runtime with `limits`, caching compiled plugins under `cache_dir`
    /// (none: compile every time).
    pub fn new(limits: Limits, cache_dir: Option<std::path::PathBuf>) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Instances come from a pre-reserved pool: a fresh instance per call
        // then costs a few page resets instead of mmap/munmap.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_SIZE)
            .total_core_instances(POOL_SIZE * 4)
            .total_memories(POOL_SIZE * 2)
            .total_tables(POOL_SIZE * 4)
            .max_memory_size(usize::try_from(limits.memory).unwrap_or(usize::MAX));
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.into()))?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Engine(e.into()))?;
        bindings::Renderer::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.into()))?;
        bindings::v0_1::Renderer::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.into()))?;
        spawn_ticker(&engine);
        let cache = cache_dir.map(|d| cache::Cache::new(d, &engine));
        Ok(Runtime {
            engine,
            linker,
            cache,
            limits,
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.limits
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

    fn load_verified(&self, name: &str, wasm: &[u8], sha256: &str) -> Result<Plugin, PluginError> {
        let component = match &self.cache {
            Some(c) => c.load(&self.engine, name, sha256, wasm)?.0,
            None => wasmtime::component::Component::new(&self.engine, wasm).map_err(|e| {
                PluginError::Compile {
                    plugin: name.to_string(),
                    source: e.into(),
                }
            })?,
        };
        let link_err = |e: wasmtime::Error| PluginError::Link {
            plugin: name.to_string(),
            reason: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(&component).map_err(link_err)?;
        let pre = bindings::AnyRendererPre::new(pre).map_err(link_err)?;
        let mut plugin = Plugin {
            name: name.to_string(),
            sha256: sha256.to_string(),
            pre,
            engine: self.engine.clone(),
            limits: self.limits,
            info: None,
        };
        plugin.info = Some(plugin.call_describe()?);
        Ok(plugin)
    }
}

/// Advance the engine's epoch every [`TICK`] for as long as it lives.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("sluice-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the plugin timeout thread; plugin calls will not time out");
    }
}

/// A loaded plugin, ready to be called any number of times, from any thread.
pub struct Plugin {
    name: String,
    sha256: String,
    pre: bindings::AnyRendererPre,
    engine: Engine,
    limits: Limits,
    info: Option<PluginInfo>,
}

impl Plugin {
    /// The plugin's name (its built-in name or its file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The contract version the plugin was built for (`0.2.0`, `0.1.0`).
    pub fn contract(&self) -> &'static str {
        self.pre.version()
    }

    /// Hex sha256 of the plugin's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// What the plugin said about itself when it was loaded.
    pub fn info(&self) -> &PluginInfo {
        self.info
            .as_ref()
            .expect("info is set by Runtime::load before a Plugin is returned")
    }

    fn store(&self) -> Store<State> {
        let mut store = Store::new(&self.engine, State::new(&self.limits));
        store.limiter(|s| &mut s.limiter);
        let ticks = (self.limits.timeout.as_millis() / TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        store
    }

    fn call_describe(&self) -> Result<PluginInfo, PluginError> {
        let mut store = self.store();
        let result = self.pre.describe(&mut store);
        self.finish(&mut store, result)
    }

    /// Render `request` over `tree` in a fresh sandbox. The plugin's own
    /// render error (bad input) comes back as `Ok(Err(..))`; a misbehaving
    /// plugin as `Err`.
    pub fn render(
        &self,
        tree: Arc<dyn Tree>,
        request: &RenderRequest,
    ) -> Result<Result<RenderOutput, bindings::RenderError>, PluginError> {
        let span = tracing::debug_span!("plugin", plugin = %self.name);
        let _enter = span.enter();
        let mut store = self.store();
        let result = store
            .data_mut()
            .push_tree(tree)
            .and_then(|tree| self.pre.render(&mut store, tree, request));
        let result = self.finish(&mut store, result)?;
        let size: u64 = match &result {
            Ok(out) => {
                out.objects.iter().map(|o| o.json.len() as u64).sum::<u64>()
                    + out
                        .results
                        .iter()
                        .map(|r| r.message.len() as u64)
                        .sum::<u64>()
            }
            Err(e) => {
                e.message.len() as u64
                    + e.results
                        .iter()
                        .map(|r| r.message.len() as u64)
                        .sum::<u64>()
            }
        };
        if size > self.limits.output {
            return Err(PluginError::OutputTooLarge {
                plugin: self.name.clone(),
                size,
                limit: self.limits.output,
            });
        }
        Ok(result)
    }

    /// Log what the plugin wrote and classify a failure.
    fn finish<T>(
        &self,
        store: &mut Store<State>,
        result: wasmtime::Result<T>,
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
                tracing::info!(plugin = %self.name, stream, "{line}");
            }
            if dropped > 0 {
                tracing::warn!(plugin = %self.name, stream, dropped, "plugin output over the capture limit was dropped");
            }
        }
        let refused = state.limiter.refused;
        result.map_err(|e| {
            if matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            ) {
                PluginError::Timeout {
                    plugin: self.name.clone(),
                    limit: self.limits.timeout,
                }
            } else if refused {
                PluginError::Memory {
                    plugin: self.name.clone(),
                    limit: self.limits.memory >> 20,
                }
            } else {
                PluginError::Trap {
                    plugin: self.name.clone(),
                    message: format!("{e:#}"),
                    stderr,
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
