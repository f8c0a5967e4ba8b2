//! `NativePlugin`: one core plugin, its job queue and its thread.
//!
//! Asynchronous jobs (`load`, `call`, `functionExists`, `close`) go to the
//! plugin's own thread in order and finish with an `Event::Done`; the
//! synchronous ones run here on the JS thread. `lib/plugin.js` never starts a
//! synchronous job while an asynchronous one is pending, so the two never wait
//! on each other.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Instant;

use extism_core::log::{LogLevel, LogSink};
use extism_core::{
    CancelHandle, Function, Manifest, ModuleDescription, PluginBuilder, SharedPlugin, ValType, WasiOutput,
};
use napi::bindgen_prelude::{BigInt, Buffer, Function as JsFunction, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::bridge::{Bridge, EventArgs, SyncScope};
use crate::error::{ErrorInfo, JsErrorDetail};
use crate::signature::type_name;

/// How a job ended, before it becomes a [`JsOutcome`] on the JS thread.
pub(crate) enum Outcome {
    Output(Vec<u8>),
    Bool(bool),
    Unit,
    Failed(ErrorInfo),
}

/// A finished job as JS sees it.
#[napi(object)]
pub struct JsOutcome {
    pub ok: bool,
    /// A call's output (empty when the plugin set none).
    pub output: Option<Buffer>,
    pub value: Option<bool>,
    /// The core `ErrorKind` of a failure.
    pub kind: Option<String>,
    pub message: Option<String>,
    pub rc: Option<i32>,
    /// The facts behind a failure of some kinds (`HashMismatch`, `UnresolvedImport`, `VarLimit`).
    pub detail: Option<JsErrorDetail>,
    /// How long the job ran on the plugin thread, in ns (jobs of that thread only).
    pub run_ns: Option<f64>,
}

impl Outcome {
    pub(crate) fn into_js(self) -> JsOutcome {
        let mut js = JsOutcome {
            ok: true,
            output: None,
            value: None,
            kind: None,
            message: None,
            rc: None,
            detail: None,
            run_ns: None,
        };
        match self {
            Outcome::Output(bytes) => js.output = Some(Buffer::from(bytes)),
            Outcome::Bool(b) => js.value = Some(b),
            Outcome::Unit => {}
            Outcome::Failed(e) => {
                js.ok = false;
                js.kind = Some(e.kind.to_string());
                js.message = Some(e.message);
                js.rc = e.rc;
                js.detail = e.detail.map(|d| *d);
            }
        }
        js
    }
}

/// A host function's place in `functions`, by namespace and name.
#[napi(object)]
pub struct JsFunctionName {
    pub namespace: String,
    pub name: String,
}

/// The `PluginBuilder` settings that JS options turn into.
#[napi(object)]
pub struct JsLoadOptions {
    pub wasi: bool,
    /// `enableWasiOutput`: true for the process's stdout and stderr, false
    /// to discard; missing leaves it to `EXTISM_ENABLE_WASI_OUTPUT`.
    pub wasi_output: Option<bool>,
    pub fuel_limit: Option<BigInt>,
    pub http_response_headers: bool,
    /// `trace`..`error`, or `silent` for a sink that takes nothing; missing
    /// means the process-wide logger.
    pub log_level: Option<String>,
    pub functions: Vec<JsFunctionName>,
    /// The plugin's HTTP requests go to the JS `fetch` of the plugin
    /// (`lib/plugin.js`) instead of the runtime's own client.
    pub fetch: Option<bool>,
}

struct LoadSettings {
    wasi: bool,
    wasi_output: WasiOutput,
    fuel_limit: Option<u64>,
    http_response_headers: bool,
    log: Option<Option<LogLevel>>,
    functions: Vec<(String, String)>,
    fetch: bool,
}

impl LoadSettings {
    fn from_js(o: JsLoadOptions) -> napi::Result<LoadSettings> {
        let fuel_limit = match o.fuel_limit {
            None => None,
            Some(b) => {
                let (negative, value, lossless) = b.get_u64();
                if negative || !lossless {
                    return Err(napi::Error::new(
                        napi::Status::InvalidArg,
                        "fuelLimit must be an integer from 0 to 2^64-1",
                    ));
                }
                Some(value)
            }
        };
        let log = match o.log_level.as_deref() {
            None => None,
            Some(text) => Some(parse_log_level(text)?),
        };
        Ok(LoadSettings {
            wasi: o.wasi,
            wasi_output: match o.wasi_output {
                None => WasiOutput::FromEnvironment,
                Some(true) => WasiOutput::Inherit,
                Some(false) => WasiOutput::Discard,
            },
            fuel_limit,
            http_response_headers: o.http_response_headers,
            log,
            functions: o.functions.into_iter().map(|f| (f.namespace, f.name)).collect(),
            fetch: o.fetch.unwrap_or(false),
        })
    }
}

/// `trace`..`error`, or `silent` (`None`).
fn parse_log_level(text: &str) -> napi::Result<Option<LogLevel>> {
    match text {
        "silent" => Ok(None),
        _ => LogLevel::parse(text)
            .map(Some)
            .ok_or_else(|| napi::Error::new(napi::Status::InvalidArg, format!("unrecognized log level \"{text}\""))),
    }
}

enum Job {
    Load {
        call_id: u32,
        manifest: String,
        settings: LoadSettings,
    },
    Call {
        call_id: u32,
        name: String,
        input: Vec<u8>,
        host_context: Option<u32>,
    },
    FunctionExists {
        call_id: u32,
        name: String,
    },
    Close {
        call_id: u32,
    },
}

/// A mutex's guard, also after a panic elsewhere poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything the JS object and the plugin thread share.
pub(crate) struct Inner {
    pub(crate) bridge: Arc<Bridge>,
    plugin: Mutex<Option<Arc<SharedPlugin>>>,
    cancel: Mutex<Option<CancelHandle>>,
    describe: Mutex<Option<Vec<ModuleDescription>>>,
    /// The wasm result types of each host function, in the order given
    /// (none for one that no module imports).
    result_types: Mutex<Vec<Vec<ValType>>>,
    active: AtomicBool,
    /// The plugin's log sink (clones share its level: `setLogLevel` changes it).
    log: Mutex<Option<LogSink>>,
}

impl Inner {
    fn plugin(&self) -> Result<Arc<SharedPlugin>, ErrorInfo> {
        lock(&self.plugin)
            .clone()
            .ok_or_else(|| ErrorInfo::other("plugin is closed"))
    }

    fn load(&self, manifest: &str, settings: &LoadSettings) -> Result<(), ErrorInfo> {
        let manifest = Manifest::parse(manifest)?;
        // JS host functions declare no types: each takes the type of the
        // import it satisfies (the core leaves out one that nothing imports).
        let functions = settings.functions.iter().enumerate().map(|(index, (namespace, name))| {
            let bridge = self.bridge.clone();
            let index = index as u32;
            Function::typed_by_import(name.clone(), move |p, i, o| bridge.host_call(index, p, i, o))
                .with_namespace(namespace.clone())
        });
        // First, so that a JS host function replacing http_request still wins.
        let fetch = settings.fetch.then(|| {
            let bridge = self.bridge.clone();
            Function::http_client(move |request| bridge.fetch(request))
        });
        let compiled = PluginBuilder::from_manifest(manifest)
            .with_wasi(settings.wasi)
            .with_wasi_output(settings.wasi_output.clone())
            .with_fuel_limit(settings.fuel_limit)
            .with_functions(fetch)
            .with_functions(functions)
            .compile()?;
        // Before instantiation: an initializer may call host functions.
        *lock(&self.result_types) = settings
            .functions
            .iter()
            .map(|(namespace, name)| {
                compiled
                    .host_function_type(namespace, name)
                    .map(|(_, results)| results.to_vec())
                    .unwrap_or_default()
            })
            .collect();
        let sink = settings.log.map(|level| {
            let bridge = self.bridge.clone();
            LogSink::new(level, move |level, text| bridge.log(level, text))
        });
        lock(&self.log).clone_from(&sink);
        let mut plugin = compiled.instantiate_with_log(sink)?;
        if settings.http_response_headers {
            plugin.allow_http_response_headers();
        }
        *lock(&self.cancel) = Some(plugin.cancel_handle());
        *lock(&self.describe) = Some(compiled.describe());
        *lock(&self.plugin) = Some(Arc::new(SharedPlugin::new(plugin)));
        Ok(())
    }

    /// Call `name`; `output` takes the output bytes (in plugin memory) on success.
    pub(crate) fn call<T>(
        &self,
        name: &str,
        input: &[u8],
        host_context: Option<u32>,
        output: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, ErrorInfo> {
        let plugin = self.plugin()?;
        let mut guard = plugin.lock()?;
        let context = host_context.map(|id| Box::new(id) as Box<dyn Any + Send>);
        self.active.store(true, Ordering::SeqCst);
        let result = guard.call_with_context(name, input, context);
        self.active.store(false, Ordering::SeqCst);
        let rc = result.rc;
        match result.into_result() {
            Ok(()) => Ok(output(guard.output())),
            Err(e) => Err(ErrorInfo::from(e).with_rc(rc)),
        }
    }

    fn function_exists(&self, name: &str) -> Outcome {
        match self
            .plugin()
            .and_then(|p| p.lock().map_err(ErrorInfo::from).map(|mut g| g.function_exists(name)))
        {
            Ok(b) => Outcome::Bool(b),
            Err(e) => Outcome::Failed(e),
        }
    }

    fn close(&self) {
        lock(&self.cancel).take();
        lock(&self.plugin).take();
    }

    fn run(&self, job: Job) -> (u32, Outcome) {
        match job {
            Job::Load {
                call_id,
                manifest,
                settings,
            } => (
                call_id,
                match self.load(&manifest, &settings) {
                    Ok(()) => Outcome::Unit,
                    Err(e) => Outcome::Failed(e),
                },
            ),
            Job::Call {
                call_id,
                name,
                input,
                host_context,
            } => (
                call_id,
                match self.call(&name, &input, host_context, <[u8]>::to_vec) {
                    Ok(output) => Outcome::Output(output),
                    Err(e) => Outcome::Failed(e),
                },
            ),
            Job::FunctionExists { call_id, name } => (call_id, self.function_exists(&name)),
            Job::Close { call_id } => {
                self.close();
                (call_id, Outcome::Unit)
            }
        }
    }
}

pub(crate) fn panic_text(payload: Box<dyn Any + Send>) -> ErrorInfo {
    let text = match extism_core::panic_message(&*payload) {
        "" => "unknown panic",
        text => text,
    };
    ErrorInfo::other(format!("internal error in the Extism addon: {text}"))
}

/// How long a thread polls for a message before it sleeps. Waking a sleeping
/// thread costs tens of microseconds on an idle machine, more than a short
/// call: calls that follow each other closely (the usual `await
/// plugin.call()` loop) and the requests of a host function's CallContext
/// find the other thread still awake.
const POLL_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(50);

/// `rx.recv()`, polling for up to [`POLL_BEFORE_SLEEP`] before sleeping.
pub(crate) fn recv_polling<T>(rx: &mpsc::Receiver<T>) -> Result<T, mpsc::RecvError> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(message) => return Ok(message),
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvError),
            // Yielding, not spinning: on a single core the other thread must run.
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < POLL_BEFORE_SLEEP => std::thread::yield_now(),
            Err(mpsc::TryRecvError::Empty) => return rx.recv(),
        }
    }
}

/// The plugin thread: run jobs in order until the queue or the plugin closes.
fn worker(inner: Arc<Inner>, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = recv_polling(&jobs) {
        let closing = matches!(job, Job::Close { .. });
        let call_id = match &job {
            Job::Load { call_id, .. }
            | Job::Call { call_id, .. }
            | Job::FunctionExists { call_id, .. }
            | Job::Close { call_id } => *call_id,
        };
        let start = Instant::now();
        let (call_id, outcome) = catch_unwind(AssertUnwindSafe(|| inner.run(job)))
            .unwrap_or_else(|payload| (call_id, Outcome::Failed(panic_text(payload))));
        let run_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        inner.bridge.send_done(call_id, outcome, run_ns);
        if closing {
            break;
        }
    }
}

/// Room for deep wasm and host-call stacks (the default is 2 MiB).
const PLUGIN_THREAD_STACK: usize = 8 * 1024 * 1024;

/// Main's exports or imports, as `WebAssembly.Module.exports` describes them.
#[napi(object)]
pub struct JsDescriptor {
    pub module: Option<String>,
    pub name: String,
    /// `function`, `memory`, `table`, `global` or `tag`.
    pub kind: String,
}

#[napi(object)]
pub struct JsDescription {
    pub exports: Vec<JsDescriptor>,
    pub imports: Vec<JsDescriptor>,
}

fn kind_of(type_text: &str) -> String {
    if type_text.starts_with("(func") {
        "function".into()
    } else {
        type_text.to_string()
    }
}

/// The native plugin behind `lib/plugin.js`'s `Plugin` (not exported from the package).
#[napi(js_name = "NativePlugin")]
pub struct JsPlugin {
    inner: Arc<Inner>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl JsPlugin {
    fn submit(&self, job: Job) -> napi::Result<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel();
            let inner = self.inner.clone();
            std::thread::Builder::new()
                .name(format!("extism-plugin-{}", self.inner.bridge_id()))
                .stack_size(PLUGIN_THREAD_STACK)
                .spawn(move || worker(inner, rx))
                .map_err(|e| napi::Error::from_reason(format!("cannot start the plugin thread: {e}")))?;
            *jobs = Some(tx);
        }
        jobs.as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or_else(|| napi::Error::from_reason("plugin is closed"))
    }

    /// Run `f` on the JS thread as a synchronous job.
    fn run_sync(&self, env: &Env, f: impl FnOnce(&Inner) -> Outcome) -> JsOutcome {
        let _scope = SyncScope::enter(env);
        catch_unwind(AssertUnwindSafe(|| f(&self.inner)))
            .unwrap_or_else(|payload| Outcome::Failed(panic_text(payload)))
            .into_js()
    }
}

impl Inner {
    fn bridge_id(&self) -> u32 {
        self.bridge.plugin_id()
    }
}

#[napi]
impl JsPlugin {
    /// A plugin with no module yet: `load` or `loadSync` makes it.
    /// `dispatch(kind, pluginId, ...)` receives its events;
    /// `hostDirect(pluginId, index, generation, hostContextId, ...args)` runs a host
    /// function for a synchronous call (see `crate::direct`).
    #[napi(constructor)]
    pub fn new(
        id: u32,
        dispatch: JsFunction<'_, EventArgs, Unknown<'static>>,
        host_direct: JsFunction<'_, Unknown<'static>, Unknown<'static>>,
    ) -> napi::Result<Self> {
        let bridge = Arc::new(Bridge::new(id, &dispatch, &host_direct)?);
        Ok(JsPlugin {
            inner: Arc::new(Inner {
                bridge,
                plugin: Mutex::new(None),
                cancel: Mutex::new(None),
                describe: Mutex::new(None),
                result_types: Mutex::new(Vec::new()),
                active: AtomicBool::new(false),
                log: Mutex::new(None),
            }),
            jobs: Mutex::new(None),
        })
    }

    #[napi]
    pub fn load(&self, call_id: u32, manifest: String, options: JsLoadOptions) -> napi::Result<()> {
        let settings = LoadSettings::from_js(options)?;
        self.submit(Job::Load {
            call_id,
            manifest,
            settings,
        })
    }

    #[napi]
    pub fn load_sync(&self, env: Env, manifest: String, options: JsLoadOptions) -> napi::Result<JsOutcome> {
        let settings = LoadSettings::from_js(options)?;
        Ok(self.run_sync(&env, |inner| match inner.load(&manifest, &settings) {
            Ok(()) => Outcome::Unit,
            Err(e) => Outcome::Failed(e),
        }))
    }

    #[napi]
    pub fn call(&self, call_id: u32, name: String, input: &[u8], host_context: Option<u32>) -> napi::Result<()> {
        self.submit(Job::Call {
            call_id,
            name,
            input: input.to_vec(),
            host_context,
        })
    }

    #[napi]
    pub fn function_exists(&self, call_id: u32, name: String) -> napi::Result<()> {
        self.submit(Job::FunctionExists { call_id, name })
    }

    #[napi]
    pub fn function_exists_sync(&self, env: Env, name: String) -> JsOutcome {
        self.run_sync(&env, |inner| inner.function_exists(&name))
    }

    /// Free the plugin's Extism memory (JS checks that no job is pending).
    #[napi]
    pub fn reset(&self, env: Env) -> JsOutcome {
        self.run_sync(&env, |inner| {
            match inner.plugin().and_then(|p| {
                p.lock()
                    .map_err(ErrorInfo::from)
                    .and_then(|mut g| g.reset().map_err(ErrorInfo::from))
            }) {
                Ok(()) => Outcome::Unit,
                Err(e) => Outcome::Failed(e),
            }
        })
    }

    /// Close after the queued jobs; `Done` follows.
    #[napi]
    pub fn close(&self, call_id: u32) -> napi::Result<()> {
        self.submit(Job::Close { call_id })
    }

    /// Close now (JS checks that no job is pending).
    #[napi]
    pub fn close_sync(&self) {
        self.inner.close();
        // A thread that was started exits when its queue closes.
        lock(&self.jobs).take();
    }

    /// Stop the call running now, if any.
    #[napi]
    pub fn cancel(&self) {
        if let Some(handle) = lock(&self.inner.cancel).as_ref() {
            handle.cancel();
        }
    }

    /// Change the plugin's log level (`trace`..`error`, `silent`), also
    /// while it runs: its next log message and `get_log_level` see it.
    #[napi]
    pub fn set_log_level(&self, level: String) -> napi::Result<()> {
        let level = parse_log_level(&level)?;
        if let Some(sink) = lock(&self.inner.log).as_ref() {
            sink.set_level(level);
        }
        Ok(())
    }

    /// The fuel the last call used (null without a fuel limit or before
    /// the first call). JS checks that no job is pending.
    #[napi]
    pub fn fuel_consumed(&self) -> napi::Result<Option<BigInt>> {
        let Ok(plugin) = self.inner.plugin() else {
            return Ok(None);
        };
        let fuel = plugin
            .lock()
            .map_err(|e| napi::Error::from_reason(e.message().to_string()))?
            .fuel_consumed();
        Ok(fuel.map(BigInt::from))
    }

    #[napi]
    pub fn is_active(&self) -> bool {
        self.inner.active.load(Ordering::SeqCst)
    }

    /// The handle that the functions of `fastFunctions()` take.
    #[napi(ts_return_type = "ExternalObject<unknown>")]
    pub fn handle(&self, env: Env) -> napi::Result<Unknown<'static>> {
        let value = crate::fast::handle(env.raw(), self.inner.clone())?;
        // SAFETY: a value just made in this scope.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
    }

    /// The wasm result types (`i32`, `i64`, `f32`, `f64`) of host function
    /// `index`, known once `load` has compiled the plugin.
    #[napi]
    pub fn result_types(&self, index: u32) -> Vec<String> {
        lock(&self.inner.result_types)
            .get(index as usize)
            .map(|types| types.iter().map(|t| type_name(*t).to_string()).collect())
            .unwrap_or_default()
    }

    /// Main's exports and imports.
    #[napi]
    pub fn describe(&self) -> JsDescription {
        let modules = lock(&self.inner.describe);
        let main = modules
            .as_ref()
            .and_then(|m| m.iter().find(|d| d.name == "main").or_else(|| m.last()));
        match main {
            None => JsDescription {
                exports: Vec::new(),
                imports: Vec::new(),
            },
            Some(d) => JsDescription {
                exports: d
                    .exports
                    .iter()
                    .map(|(name, ty)| JsDescriptor {
                        module: None,
                        name: name.clone(),
                        kind: kind_of(ty),
                    })
                    .collect(),
                imports: d
                    .imports
                    .iter()
                    .map(|(module, name, ty)| JsDescriptor {
                        module: Some(module.clone()),
                        name: name.clone(),
                        kind: kind_of(ty),
                    })
                    .collect(),
            },
        }
    }
}
