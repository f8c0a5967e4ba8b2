//! [`PluginState`]: one `NativePlugin`'s core plugin and what goes with it,
//! shared by the JS object, its handle (for the plain N-API functions) and
//! its plugin thread. Its methods do the work of the jobs, on whichever
//! thread runs them: the plugin thread for the asynchronous ones, the JS
//! thread for the synchronous ones.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use extism_core::log::{LogLevel, LogSink};
use extism_core::overrides::Precedence;
use extism_core::{CancelHandle, Function, Manifest, ModuleDescription, PluginBuilder, SharedPlugin, ValType};

use crate::error::ErrorInfo;
use crate::js_thread::JsThread;
use crate::load::LoadSettings;
use crate::lock;
use crate::outcome::Outcome;

pub(crate) struct PluginState {
    /// The way to the plugin's JS side (host functions, log lines, results).
    pub(crate) js: Arc<JsThread>,
    /// The core plugin, once loaded and until closed.
    plugin: Mutex<Option<Arc<SharedPlugin>>>,
    cancel: Mutex<Option<CancelHandle>>,
    /// Main's imports and exports, once loaded.
    main: Mutex<Option<ModuleDescription>>,
    /// The wasm result types of each host function, in the order given
    /// (none for one that no module imports).
    result_types: Mutex<Vec<Vec<ValType>>>,
    /// True while a call runs.
    active: AtomicBool,
    /// The plugin's log sink (clones share its level: `setLogLevel` changes it).
    log: Mutex<Option<LogSink>>,
    /// Whether the loaded manifest lets the plugin make HTTP requests.
    allows_http: AtomicBool,
}

impl PluginState {
    pub(crate) fn new(js: Arc<JsThread>) -> PluginState {
        PluginState {
            js,
            plugin: Mutex::new(None),
            cancel: Mutex::new(None),
            main: Mutex::new(None),
            result_types: Mutex::new(Vec::new()),
            active: AtomicBool::new(false),
            log: Mutex::new(None),
            allows_http: AtomicBool::new(false),
        }
    }

    fn plugin(&self) -> Result<Arc<SharedPlugin>, ErrorInfo> {
        lock(&self.plugin)
            .clone()
            .ok_or_else(|| ErrorInfo::other("plugin is closed"))
    }

    /// Compile and instantiate the plugin of `manifest` (JSON or TOML text)
    /// with the overrides of `settings` (the `load` job).
    pub(crate) fn load(&self, manifest: &str, settings: &LoadSettings) -> Result<(), ErrorInfo> {
        let mut manifest = Manifest::parse(manifest)?;
        for overrides in &settings.overrides {
            manifest.apply(overrides.to_core()?, Precedence::Replace);
        }
        let allows_http = manifest.allowed_hosts.as_ref().is_some_and(|hosts| !hosts.is_empty());
        self.allows_http.store(allows_http, Ordering::SeqCst);
        // JS host functions declare no types: each takes the type of the
        // import it satisfies (the core leaves out one that nothing imports).
        let functions = settings.functions.iter().enumerate().map(|(index, (namespace, name))| {
            let js = self.js.clone();
            let index = index as u32;
            Function::typed_by_import(name.clone(), move |p, i, o| js.host_call(index, p, i, o))
                .with_namespace(namespace.clone())
        });
        // First, so that a JS host function replacing http_request still wins.
        let fetch = settings.fetch.then(|| {
            let js = self.js.clone();
            Function::http_client(move |request| crate::fetch::fetch(&js, request))
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
            let js = self.js.clone();
            LogSink::new(level, move |level, text| js.log(level, text))
        });
        lock(&self.log).clone_from(&sink);
        let mut plugin = compiled.instantiate_with_log(sink)?;
        if settings.http_response_headers {
            plugin.allow_http_response_headers();
        }
        *lock(&self.cancel) = Some(plugin.cancel_handle());
        *lock(&self.main) = Some(compiled.describe_main());
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

    pub(crate) fn function_exists(&self, name: &str) -> Outcome {
        match self
            .plugin()
            .and_then(|p| p.lock().map_err(ErrorInfo::from).map(|mut g| g.function_exists(name)))
        {
            Ok(b) => Outcome::Bool(b),
            Err(e) => Outcome::Failed(e),
        }
    }

    /// Free the plugin's Extism memory.
    pub(crate) fn reset(&self) -> Outcome {
        Outcome::from(self.plugin().and_then(|p| {
            p.lock()
                .map_err(ErrorInfo::from)
                .and_then(|mut g| g.reset().map_err(ErrorInfo::from))
        }))
    }

    pub(crate) fn close(&self) {
        lock(&self.cancel).take();
        lock(&self.plugin).take();
    }

    /// Stop the call running now, if any.
    pub(crate) fn cancel(&self) {
        if let Some(handle) = lock(&self.cancel).as_ref() {
            handle.cancel();
        }
    }

    pub(crate) fn set_log_level(&self, level: Option<LogLevel>) {
        if let Some(sink) = lock(&self.log).as_ref() {
            sink.set_level(level);
        }
    }

    /// The fuel the last call used; `Ok(None)` without a fuel limit, before
    /// the first call, or once closed.
    pub(crate) fn fuel_consumed(&self) -> Result<Option<u64>, String> {
        let Ok(plugin) = self.plugin() else {
            return Ok(None);
        };
        let fuel = plugin.lock().map_err(|e| e.message().to_string())?.fuel_consumed();
        Ok(fuel)
    }

    /// Whether the loaded manifest has any allowed host.
    pub(crate) fn allows_http(&self) -> bool {
        self.allows_http.load(Ordering::SeqCst)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// The wasm result types of host function `index`.
    pub(crate) fn result_types(&self, index: u32) -> Vec<ValType> {
        lock(&self.result_types)
            .get(index as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// `f` of the description of the main module, if loaded.
    pub(crate) fn describe_main<R>(&self, f: impl FnOnce(Option<&ModuleDescription>) -> R) -> R {
        f(lock(&self.main).as_ref())
    }
}
