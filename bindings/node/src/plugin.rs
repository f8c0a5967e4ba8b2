//! `NativePlugin`: the native plugin behind `lib/plugin.js`'s `Plugin` (not
//! exported from the package).
//!
//! Asynchronous jobs (`load`, `call`, `functionExists`, `close`) go to the
//! plugin thread in order and finish with an `Event::Done`; the synchronous
//! ones run here on the JS thread (`callSync` is a plain N-API function, see
//! `crate::sync_call`). `lib/` never starts a synchronous job while an
//! asynchronous one is pending, so the two never wait on each other.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use napi::bindgen_prelude::{BigInt, Function as JsFunction, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::js_thread::{EventArgs, JsThread};
use crate::load::{parse_log_level, JsLoadOptions, LoadSettings};
use crate::outcome::{panic_text, JsOutcome, Outcome};
use crate::plugin_state::PluginState;
use crate::plugin_thread::{Job, PluginThread};
use crate::sync_call::SyncScope;

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

#[napi(js_name = "NativePlugin")]
pub struct JsPlugin {
    state: Arc<PluginState>,
    thread: PluginThread,
}

impl JsPlugin {
    /// Run `f` on the JS thread as a synchronous job.
    fn run_sync(&self, env: &Env, f: impl FnOnce(&PluginState) -> Outcome) -> JsOutcome {
        let _scope = SyncScope::enter(env.raw());
        catch_unwind(AssertUnwindSafe(|| f(&self.state)))
            .unwrap_or_else(|payload| Outcome::Failed(panic_text(payload)))
            .into_js()
    }
}

#[napi]
impl JsPlugin {
    /// A plugin with no module yet: `load` or `loadSync` makes it.
    /// `dispatch(kind, pluginId, ...)` receives its events;
    /// `hostDirect(pluginId, index, generation, hostContextId, ...args)` runs a host
    /// function for a synchronous call (see `crate::sync_call`).
    #[napi(constructor)]
    pub fn new(
        id: u32,
        dispatch: JsFunction<'_, EventArgs, Unknown<'static>>,
        host_direct: JsFunction<'_, Unknown<'static>, Unknown<'static>>,
    ) -> napi::Result<Self> {
        let js = Arc::new(JsThread::new(id, &dispatch, &host_direct)?);
        Ok(JsPlugin {
            state: Arc::new(PluginState::new(js)),
            thread: PluginThread::default(),
        })
    }

    #[napi]
    pub fn load(&self, call_id: u32, manifest: String, options: JsLoadOptions) -> napi::Result<()> {
        let settings = LoadSettings::from_js(options)?;
        self.thread.submit(
            &self.state,
            Job::Load {
                call_id,
                manifest,
                settings,
            },
        )
    }

    #[napi]
    pub fn load_sync(&self, env: Env, manifest: String, options: JsLoadOptions) -> napi::Result<JsOutcome> {
        let settings = LoadSettings::from_js(options)?;
        Ok(self.run_sync(&env, |state| Outcome::from(state.load(&manifest, &settings))))
    }

    #[napi]
    pub fn call(&self, call_id: u32, name: String, input: &[u8], host_context: Option<u32>) -> napi::Result<()> {
        self.thread.submit(
            &self.state,
            Job::Call {
                call_id,
                name,
                input: input.to_vec(),
                host_context,
            },
        )
    }

    #[napi]
    pub fn function_exists(&self, call_id: u32, name: String) -> napi::Result<()> {
        self.thread.submit(&self.state, Job::FunctionExists { call_id, name })
    }

    #[napi]
    pub fn function_exists_sync(&self, env: Env, name: String) -> JsOutcome {
        self.run_sync(&env, |state| state.function_exists(&name))
    }

    /// Free the plugin's Extism memory (JS checks that no job is pending).
    #[napi]
    pub fn reset(&self, env: Env) -> JsOutcome {
        self.run_sync(&env, PluginState::reset)
    }

    /// Close after the queued jobs; `Done` follows.
    #[napi]
    pub fn close(&self, call_id: u32) -> napi::Result<()> {
        self.thread.submit(&self.state, Job::Close { call_id })
    }

    /// Close now (JS checks that no job is pending).
    #[napi]
    pub fn close_sync(&self) {
        self.state.close();
        // A thread that was started ends once its queue is closed.
        self.thread.stop();
    }

    /// Stop the call running now, if any.
    #[napi]
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// Change the plugin's log level (`trace`..`error`, `silent`), also
    /// while it runs: its next log message and `get_log_level` see it.
    #[napi]
    pub fn set_log_level(&self, level: String) -> napi::Result<()> {
        self.state.set_log_level(parse_log_level(&level)?);
        Ok(())
    }

    /// The fuel the last call used (null without a fuel limit or before
    /// the first call). JS checks that no job is pending.
    #[napi]
    pub fn fuel_consumed(&self) -> napi::Result<Option<BigInt>> {
        let fuel = self.state.fuel_consumed().map_err(napi::Error::from_reason)?;
        Ok(fuel.map(BigInt::from))
    }

    /// Whether the loaded plugin may make HTTP requests (its manifest, with
    /// the options applied, allows some host).
    #[napi]
    pub fn allows_http(&self) -> bool {
        self.state.allows_http()
    }

    #[napi]
    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    /// The handle that the functions of `fastFunctions()` take.
    #[napi(ts_return_type = "ExternalObject<unknown>")]
    pub fn handle(&self, env: Env) -> napi::Result<Unknown<'static>> {
        let value = crate::handles::plugin_handle(env.raw(), self.state.clone())?;
        // SAFETY: a value just made in this scope.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
    }

    /// The wasm result types (`i32`, `i64`, `f32`, `f64`) of host function
    /// `index`, known once `load` has compiled the plugin.
    #[napi]
    pub fn result_types(&self, index: u32) -> Vec<String> {
        self.state
            .result_types(index)
            .into_iter()
            .map(|t| t.name().to_string())
            .collect()
    }

    /// Main's exports and imports.
    #[napi]
    pub fn describe(&self) -> JsDescription {
        self.state.describe_main(|main| match main {
            None => JsDescription {
                exports: Vec::new(),
                imports: Vec::new(),
            },
            Some(d) => JsDescription {
                exports: d
                    .exports
                    .iter()
                    .map(|e| JsDescriptor {
                        module: None,
                        name: e.name.clone(),
                        kind: e.kind.js_name().to_string(),
                    })
                    .collect(),
                imports: d
                    .imports
                    .iter()
                    .map(|i| JsDescriptor {
                        module: Some(i.module.clone()),
                        name: i.name.clone(),
                        kind: i.kind.js_name().to_string(),
                    })
                    .collect(),
            },
        })
    }
}
