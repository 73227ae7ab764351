//! The host side of the `target` world: loading a target plugin and calling
//! it, sandboxed like a renderer.
//!
//! A target plugin runs on the same engine, compiled-artifact cache, epoch
//! ticker, call pool and limits as renderers ([`Runtime`]); each call gets
//! a fresh `Store` whose state ([`TargetState`]) has the memory limiter,
//! the output budget (hostcall fuel), captured stdio and the deadline of a
//! renderer call. What differs from a renderer:
//!
//! - the linker adds `wasi:http` (outgoing requests only), whose every
//!   request goes through [`outbound::Hooks`]: allowed origins, host-added
//!   credentials, timeouts and size caps;
//! - clocks and random numbers are the real ones (a target talks to a live
//!   system; a render's determinism does not apply);
//! - no source tree.
//!
//! Calls are `async` and run on the plugin runtime's threads, never on the
//! caller's executor, like [`super::Plugin::render_async`].

use super::outbound::{self, Outbound};
use super::sandbox::{Captured, Limiter};
use super::{Exec, FUEL_EXHAUSTED, Limits, PluginError, Runtime, escape_control, within};
use sha2::Digest as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Bindings generated from the `target` world.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "target",
        exports: { default: async },
    });
}

pub use bindings::sluice::plugin::target_types::{
    ApplyRequest, CallContext, Deleted, Health, HealthStatus, KindSpec, LastRead, LiveObject,
    Setting, TargetError, TargetInfo,
};

/// Everything one target call's `Store` holds.
pub struct TargetState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: outbound::Hooks,
    limiter: Limiter,
    stdout: Captured,
    stderr: Captured,
    log: Captured,
}

impl TargetState {
    fn new(limits: &Limits, out: Arc<Outbound>) -> Self {
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
        TargetState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: outbound::Hooks::new(out),
            limiter: Limiter::new(limits.memory),
            stdout,
            stderr,
            log: Captured::new(limits.log),
        }
    }
}

impl WasiView for TargetState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for TargetState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl bindings::sluice::plugin::types::Host for TargetState {}
impl bindings::sluice::plugin::target_types::Host for TargetState {}
impl bindings::sluice::plugin::log::Host for TargetState {
    fn log(&mut self, level: bindings::sluice::plugin::log::Level, message: String) {
        use bindings::sluice::plugin::log::Level;
        let tag = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.log.push(format!("{tag}: {message}\n").as_bytes());
    }
}

/// The linker for target plugins: WASI (no sockets, no files), outgoing
/// `wasi:http`, and `log`.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<TargetState>> {
    let mut linker = Linker::<TargetState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::Target::add_to_linker::<TargetState, HasSelf<TargetState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// What a target plugin answered: its own error (`Err`: the object or the
/// system said no), as opposed to a [`PluginError`] (the plugin misbehaved
/// or the sandbox stopped it).
pub type Answer<T> = Result<T, TargetError>;

/// A loaded target plugin, ready to be called any number of times.
#[derive(Clone)]
pub struct TargetPlugin {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    sha256: String,
    pre: bindings::TargetPre<TargetState>,
    engine: Engine,
    limits: Limits,
    outbound: Arc<Outbound>,
    info: Option<TargetInfo>,
    exec: Arc<Exec>,
}

/// One call into an instance: given the store and the instance, the call's
/// future.
type Call<R> = Box<
    dyn for<'a> FnOnce(
            &'a mut Store<TargetState>,
            &'a bindings::Target,
        ) -> Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>
        + Send,
>;

impl Runtime {
    /// Load a target plugin from its bytes (with `expected_sha256`, refuse
    /// bytes whose digest differs); its requests go out under `outbound`.
    pub fn load_target(
        &self,
        name: &str,
        wasm: &[u8],
        expected_sha256: Option<&str>,
        outbound: Outbound,
    ) -> Result<TargetPlugin, PluginError> {
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
        let component = self.component(name, wasm, &sha256)?;
        let link_err = |e: wasmtime::Error| PluginError::TargetLink {
            plugin: name.to_string(),
            reason: format!("{e:#}"),
        };
        let linker = linker(&self.engine).map_err(|e| PluginError::Engine(e.into()))?;
        let pre = linker.instantiate_pre(&component).map_err(link_err)?;
        let pre = bindings::TargetPre::new(pre).map_err(link_err)?;
        let mut inner = Inner {
            name: name.to_string(),
            sha256,
            pre,
            engine: self.engine.clone(),
            limits: self.limits,
            outbound: Arc::new(outbound),
            info: None,
            exec: self.exec.clone(),
        };
        let (info, _) = self
            .exec
            .block_on(inner.call(Box::new(|store, t| Box::pin(t.call_describe(store)))))?;
        inner.info = Some(clean_info(info));
        Ok(TargetPlugin {
            inner: Arc::new(inner),
        })
    }
}

fn clean_info(mut info: TargetInfo) -> TargetInfo {
    for s in [&mut info.name, &mut info.version, &mut info.description] {
        *s = escape_control(s).into_owned();
    }
    for k in &mut info.kinds {
        k.description = escape_control(&k.description).into_owned();
    }
    info
}

/// Control characters escaped in a plugin's error message.
fn clean_error(e: TargetError) -> TargetError {
    let c = |s: String| escape_control(&s).into_owned();
    match e {
        TargetError::Invalid(m) => TargetError::Invalid(c(m)),
        TargetError::Rejected(m) => TargetError::Rejected(c(m)),
        TargetError::NotOwned(m) => TargetError::NotOwned(c(m)),
        TargetError::Unavailable(m) => TargetError::Unavailable(c(m)),
    }
}

/// A plugin's error with control characters escaped and, when the host
/// refused requests during the call, those refusals appended (they are
/// usually why the plugin failed).
fn explain(e: TargetError, refused: Vec<String>) -> TargetError {
    let e = clean_error(e);
    if refused.is_empty() {
        return e;
    }
    let add = |m: String| format!("{m} ({})", refused.join("; "));
    match e {
        TargetError::Invalid(m) => TargetError::Invalid(add(m)),
        TargetError::Rejected(m) => TargetError::Rejected(add(m)),
        TargetError::NotOwned(m) => TargetError::NotOwned(add(m)),
        TargetError::Unavailable(m) => TargetError::Unavailable(add(m)),
    }
}

impl TargetPlugin {
    /// The plugin's name (its built-in name or its file name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Hex sha256 of the plugin's bytes.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// What the plugin said about itself when it was loaded.
    pub fn info(&self) -> &TargetInfo {
        self.inner
            .info
            .as_ref()
            .expect("info is set by Runtime::load_target before a TargetPlugin is returned")
    }

    /// Where its requests may go, and what the host adds.
    pub fn outbound(&self) -> &Outbound {
        &self.inner.outbound
    }

    /// Run one call on the plugin runtime's threads.
    async fn spawn<R: Send + 'static>(&self, f: Call<R>) -> Result<(R, Vec<String>), PluginError> {
        let inner = self.inner.clone();
        let task = self
            .inner
            .exec
            .rt()
            .spawn(async move { inner.call(f).await });
        match task.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(PluginError::Engine(e.into())),
        }
    }

    /// The live state of `objects` (JSON), in order; `None`: not there.
    pub async fn read(
        &self,
        ctx: &CallContext,
        objects: Vec<String>,
    ) -> Result<Answer<Vec<Option<LiveObject>>>, PluginError> {
        let ctx = ctx.clone();
        let r = self
            .spawn(Box::new(move |store, t| {
                Box::pin(async move { t.call_read(store, &ctx, &objects).await })
            }))
            .await?;
        Ok(r.0.map_err(|e| explain(e, r.1)))
    }

    /// The comparable form of each of `objects` (JSON), in order.
    pub async fn normalise(
        &self,
        ctx: &CallContext,
        objects: Vec<String>,
    ) -> Result<Answer<Vec<String>>, PluginError> {
        let ctx = ctx.clone();
        let r = self
            .spawn(Box::new(move |store, t| {
                Box::pin(async move { t.call_normalise(store, &ctx, &objects).await })
            }))
            .await?;
        Ok(r.0.map_err(|e| explain(e, r.1)))
    }

    /// Create or update `objects`; one answer per object, in order (a
    /// plugin answering another number of objects is an error).
    pub async fn apply(
        &self,
        ctx: &CallContext,
        objects: Vec<ApplyRequest>,
    ) -> Result<Vec<Answer<LiveObject>>, PluginError> {
        let ctx = ctx.clone();
        let n = objects.len();
        let (answers, refused) = self
            .spawn(Box::new(move |store, t| {
                Box::pin(async move { t.call_apply(store, &ctx, &objects).await })
            }))
            .await?;
        if answers.len() != n {
            return Err(PluginError::Trap {
                plugin: self.inner.name.clone(),
                message: format!("apply answered {} objects for {n}", answers.len()),
                stderr: String::new(),
            });
        }
        Ok(answers
            .into_iter()
            .map(|a| a.map_err(|e| explain(e, refused.clone())))
            .collect())
    }

    /// Delete `object` (a live object's JSON) if it carries `ctx.owner`.
    pub async fn delete(
        &self,
        ctx: &CallContext,
        object: String,
    ) -> Result<Answer<Deleted>, PluginError> {
        let ctx = ctx.clone();
        let r = self
            .spawn(Box::new(move |store, t| {
                Box::pin(async move { t.call_delete(store, &ctx, &object).await })
            }))
            .await?;
        Ok(r.0.map_err(|e| explain(e, r.1)))
    }

    /// The health of `object` (a live object's JSON).
    pub async fn health(
        &self,
        ctx: &CallContext,
        object: String,
    ) -> Result<Answer<Health>, PluginError> {
        let ctx = ctx.clone();
        let r = self
            .spawn(Box::new(move |store, t| {
                Box::pin(async move { t.call_health(store, &ctx, &object).await })
            }))
            .await?;
        Ok(match r.0 {
            Ok(mut h) => {
                h.message = escape_control(&h.message).into_owned();
                Ok(h)
            }
            Err(e) => Err(explain(e, r.1)),
        })
    }
}

impl Inner {
    fn store(&self) -> Store<TargetState> {
        let mut store = Store::new(
            &self.engine,
            TargetState::new(&self.limits, self.outbound.clone()),
        );
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(usize::try_from(self.limits.output).unwrap_or(usize::MAX));
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }

    /// Run `f` in a fresh instance under the call's limits; its result and
    /// the requests the host refused during the call.
    async fn call<R>(&self, f: Call<R>) -> Result<(R, Vec<String>), PluginError> {
        let _slot = self.exec.slots.acquire().await;
        let mut store = self.store();
        // Waits are real here; the virtual clock only lends `within` its
        // (never notified) overrun signal.
        let clock = super::clock::VirtualClock::new(self.limits.timeout);
        let pre = &self.pre;
        let result = within(self.limits.timeout, &clock, async {
            let instance = pre.instantiate_async(&mut store).await?;
            f(&mut store, &instance).await
        })
        .await;
        self.finish(&mut store, result)
    }

    /// Log what the plugin wrote and classify a failure.
    fn finish<T>(
        &self,
        store: &mut Store<TargetState>,
        result: Option<wasmtime::Result<T>>,
    ) -> Result<(T, Vec<String>), PluginError> {
        let state = store.data();
        let (stdout, _) = state.stdout.take();
        let (stderr, _) = state.stderr.take();
        let (log, _) = state.log.take();
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr), ("log", &log)] {
            for line in text.lines().filter(|l| !l.is_empty()) {
                tracing::info!(plugin = %self.name, target_name = %self.outbound.target, stream, "{}", escape_control(line));
            }
        }
        let refused = state.hooks.refusals.take();
        let Some(result) = result else {
            return Err(PluginError::Timeout {
                plugin: self.name.clone(),
                limit: self.limits.timeout,
            });
        };
        let for_err = refused.clone();
        result.map(|v| (v, refused)).map_err(|e| {
            let refused = for_err;
            if matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            ) {
                PluginError::Timeout {
                    plugin: self.name.clone(),
                    limit: self.limits.timeout,
                }
            } else if format!("{e:#}").contains(FUEL_EXHAUSTED) {
                PluginError::OutputTooLarge {
                    plugin: self.name.clone(),
                    limit: self.limits.output,
                }
            } else if state.limiter.refused {
                PluginError::Memory {
                    plugin: self.name.clone(),
                    limit: self.limits.memory >> 20,
                }
            } else {
                let mut stderr = escape_control(&stderr).into_owned();
                for r in refused {
                    stderr.push_str("\n(host) ");
                    stderr.push_str(&r);
                }
                PluginError::Trap {
                    plugin: self.name.clone(),
                    message: escape_control(&format!("{e:#}")).into_owned(),
                    stderr,
                }
            }
        })
    }
}
