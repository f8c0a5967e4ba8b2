//! The way from a plugin to JS: host function calls, log lines and finished
//! jobs, as [`Event`]s handed to one JS function (`dispatch` in
//! `lib/plugin.js`).
//!
//! From the plugin's own thread an event goes through a thread-safe function
//! (one per plugin, so its events stay in order: log lines come before the
//! call's result). On the JS thread (the synchronous methods) JS is called
//! directly: waiting for the event loop there would deadlock. Host functions
//! then go through `hostDirect` and [`crate::direct`].

use std::cell::Cell;
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;

use extism_core::log::{LogBacklog, LogLevel};
use extism_core::{CurrentPlugin, Error, HttpClientRequest, HttpClientResponse, Val, ValType};
use napi::bindgen_prelude::{sys, Function, FunctionRef, JsValue, JsValuesTupleIntoVec, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};

use crate::call_context::{JsCallContext, Slot, SlotMsg};
use crate::direct::DirectHost;
use crate::fetch::{JsFetchReply, JsFetchRequest};
use crate::plugin::{recv_polling, Outcome};

/// Event kinds, as `dispatch` receives them in its first argument.
const HOST: u32 = 0;
const LOG: u32 = 1;
const DONE: u32 = 2;
const FETCH: u32 = 3;

/// Something for the JS side of one plugin.
pub(crate) enum Event {
    /// Run host function `index` with `args`; answer through `slot`.
    Host {
        index: u32,
        args: Vec<Val>,
        slot: Arc<Slot>,
    },
    /// A log line the plugin's sink accepted; `waiting` of its bytes count in
    /// the plugin's log backlog until JS has it.
    Log {
        level: LogLevel,
        text: String,
        waiting: usize,
    },
    /// Job `call_id` finished after running for `run_ns` on the plugin thread.
    Done {
        call_id: u32,
        outcome: Outcome,
        run_ns: u64,
    },
    /// Send a plugin's HTTP request with the plugin's JS `fetch`; answer through `reply`.
    Fetch {
        request: JsFetchRequest,
        reply: JsFetchReply,
    },
}

/// The arguments of `dispatch(kind, pluginId, a, b, c)`.
pub struct EventArgs {
    plugin_id: u32,
    event: Event,
}

impl JsValuesTupleIntoVec for EventArgs {
    fn into_vec(self, env: sys::napi_env) -> napi::Result<Vec<sys::napi_value>> {
        // SAFETY: called by napi-rs on the JS thread with that thread's env.
        unsafe {
            let id = u32::to_napi_value(env, self.plugin_id)?;
            Ok(match self.event {
                Event::Host { index, args, slot } => {
                    let args = args
                        .iter()
                        .map(|v| crate::direct::val_to_js(env, v).map(|raw| Unknown::from_raw_unchecked(env, raw)))
                        .collect::<Result<Vec<_>, String>>()
                        .map_err(napi::Error::from_reason)?;
                    vec![
                        u32::to_napi_value(env, HOST)?,
                        id,
                        u32::to_napi_value(env, index)?,
                        JsCallContext::to_napi_value(env, JsCallContext::new(slot))?,
                        Vec::to_napi_value(env, args)?,
                    ]
                }
                Event::Log { level, text, .. } => vec![
                    u32::to_napi_value(env, LOG)?,
                    id,
                    <&str>::to_napi_value(env, level.as_str())?,
                    String::to_napi_value(env, text)?,
                ],
                Event::Done {
                    call_id,
                    outcome,
                    run_ns,
                } => {
                    let mut js = outcome.into_js();
                    js.run_ns = Some(run_ns as f64);
                    vec![
                        u32::to_napi_value(env, DONE)?,
                        id,
                        u32::to_napi_value(env, call_id)?,
                        crate::plugin::JsOutcome::to_napi_value(env, js)?,
                    ]
                }
                Event::Fetch { request, reply } => vec![
                    u32::to_napi_value(env, FETCH)?,
                    id,
                    JsFetchRequest::to_napi_value(env, request)?,
                    JsFetchReply::to_napi_value(env, reply)?,
                ],
            })
        }
    }
}

type EventFn = ThreadsafeFunction<Event, Unknown<'static>, EventArgs, Status, false, true>;

thread_local! {
    /// The env of the synchronous method running on this (JS) thread, if any.
    static SYNC_ENV: Cell<sys::napi_env> = const { Cell::new(std::ptr::null_mut()) };
}

/// Marks the JS thread as inside a synchronous method for its lifetime, so
/// host functions and log lines of plugins running here call JS directly.
pub(crate) struct SyncScope {
    previous: sys::napi_env,
}

impl SyncScope {
    pub fn enter(env: &Env) -> SyncScope {
        SyncScope::enter_raw(env.raw())
    }

    pub fn enter_raw(env: sys::napi_env) -> SyncScope {
        let previous = SYNC_ENV.with(|c| c.replace(env));
        SyncScope { previous }
    }
}

impl Drop for SyncScope {
    fn drop(&mut self) {
        SYNC_ENV.with(|c| c.set(self.previous));
    }
}

/// One plugin's way to its JS side.
pub(crate) struct Bridge {
    plugin_id: u32,
    events: EventFn,
    dispatcher: FunctionRef<EventArgs, Unknown<'static>>,
    /// `hostDirect` of lib/plugin.js, bound to this plugin: runs a host
    /// function for a synchronous call.
    host_direct: FunctionRef<Unknown<'static>, Unknown<'static>>,
    pub(crate) direct: DirectHost,
    js_thread: ThreadId,
    /// Log messages queued for the JS thread and not yet handed to JS: a
    /// plugin that logs faster than the logger runs would otherwise grow the
    /// queue without bound.
    log_backlog: Arc<LogBacklog>,
}

impl Bridge {
    pub fn new(
        plugin_id: u32,
        dispatcher: &Function<'_, EventArgs, Unknown<'static>>,
        host_direct: &Function<'_, Unknown<'static>, Unknown<'static>>,
    ) -> napi::Result<Bridge> {
        let log_backlog = Arc::new(LogBacklog::new());
        let backlog = log_backlog.clone();
        // Weak: an idle plugin must not keep the process alive. While a job is
        // pending, the JS side holds a timer that does (lib/plugin.js).
        let events = dispatcher
            .build_threadsafe_function::<Event>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                if let Event::Log { waiting, .. } = &ctx.value {
                    backlog.handed_over(*waiting);
                }
                Ok(EventArgs {
                    plugin_id,
                    event: ctx.value,
                })
            })?;
        Ok(Bridge {
            plugin_id,
            events,
            dispatcher: dispatcher.create_ref()?,
            host_direct: host_direct.create_ref()?,
            direct: DirectHost::default(),
            js_thread: std::thread::current().id(),
            log_backlog,
        })
    }

    fn on_js_thread(&self) -> bool {
        std::thread::current().id() == self.js_thread
    }

    /// Call the dispatcher now, on the JS thread (inside a synchronous method).
    fn dispatch_direct(&self, event: Event) -> Result<(), String> {
        let raw = SYNC_ENV.with(|c| c.get());
        if raw.is_null() {
            return Err("plugin code ran on the JS thread outside a synchronous call".into());
        }
        let env = Env::from_raw(raw);
        let f = self.dispatcher.borrow_back(&env).map_err(|e| e.reason.clone())?;
        f.call(EventArgs {
            plugin_id: self.plugin_id,
            event,
        })
        .map(|_| ())
        .map_err(|e| e.reason.clone())
    }

    /// Queue an event for the JS thread. False when JS is gone (shutting down).
    pub fn send(&self, event: Event) -> bool {
        self.events.call(event, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
    }

    /// A log line from the plugin's sink.
    pub fn log(&self, level: LogLevel, text: &str) {
        if self.on_js_thread() {
            // A logger that throws is the logger's problem; the call goes on.
            let _ = self.dispatch_direct(Event::Log {
                level,
                text: text.to_string(),
                waiting: 0,
            });
            return;
        }
        if !self.log_backlog.admit(text.len()) {
            return;
        }
        self.send_dropped_notice();
        self.send(Event::Log {
            level,
            text: text.to_string(),
            waiting: text.len(),
        });
    }

    /// Queue a warning saying how many log messages were dropped, if any
    /// were since the last one. Sent before the next message that fits and
    /// before a job's result, so the logger hears of a flood in order.
    fn send_dropped_notice(&self) {
        if let Some(text) = self.log_backlog.dropped_notice() {
            self.send(Event::Log {
                level: LogLevel::Warn,
                text,
                waiting: 0,
            });
        }
    }

    /// Queue the result of job `call_id`, after any notice of dropped logs.
    pub fn send_done(&self, call_id: u32, outcome: Outcome, run_ns: u64) {
        self.send_dropped_notice();
        self.send(Event::Done {
            call_id,
            outcome,
            run_ns,
        });
    }

    /// Run JS host function `index` for the plugin (the core's `HostCallback`).
    pub fn host_call(
        &self,
        index: u32,
        plugin: &mut CurrentPlugin<'_>,
        inputs: &[Val],
        outputs: &mut [Val],
    ) -> extism_core::Result<()> {
        let host_context = plugin.host_context::<u32>().copied();
        if self.on_js_thread() {
            return self.host_call_direct(index, host_context, plugin, inputs, outputs);
        }
        // The outputs arrive as zeros of the result types.
        let results: Vec<ValType> = outputs.iter().map(Val::ty).collect();
        let (tx, rx) = mpsc::channel();
        let slot = Arc::new(Slot::new(tx, results, host_context));
        let event = Event::Host {
            index,
            args: inputs.to_vec(),
            slot: slot.clone(),
        };
        if !self.send(event) {
            slot.close();
            return Err(Error::host("the JS environment is shutting down"));
        }
        // Serve the host function's CallContext requests until it settles.
        let answer = loop {
            match recv_polling(&rx) {
                Ok(SlotMsg::Op(op)) => op(plugin),
                Ok(SlotMsg::Done(answer)) => break answer,
                Err(_) => break Err("host function was dropped without settling".into()),
            }
        };
        slot.close();
        let values = answer.map_err(Error::host)?;
        for (slot, value) in outputs.iter_mut().zip(values) {
            *slot = value;
        }
        Ok(())
    }
}

impl Bridge {
    /// A host call inside a synchronous call: JS runs it right here.
    fn host_call_direct(
        &self,
        index: u32,
        host_context: Option<u32>,
        plugin: &mut CurrentPlugin<'_>,
        inputs: &[Val],
        outputs: &mut [Val],
    ) -> extism_core::Result<()> {
        let raw = SYNC_ENV.with(|c| c.get());
        if raw.is_null() {
            return Err(Error::host(
                "plugin code ran on the JS thread outside a synchronous call",
            ));
        }
        let env = Env::from_raw(raw);
        let host = self
            .host_direct
            .borrow_back(&env)
            .map_err(|e| Error::host(e.reason.clone()))?;
        // SAFETY: `raw` is the env of the synchronous method running on this
        // thread (SyncScope), and `host` a function value of it.
        unsafe {
            self.direct.call(
                raw,
                host.value().value,
                self.plugin_id,
                index,
                host_context,
                plugin,
                inputs,
                outputs,
            )
        }
        .map_err(Error::host)
    }

    pub fn plugin_id(&self) -> u32 {
        self.plugin_id
    }

    /// Send a plugin's HTTP request with the JS `fetch` of this plugin (the
    /// core's `HttpClient`): on the JS thread, while the plugin thread waits.
    pub fn fetch(&self, request: &HttpClientRequest) -> extism_core::Result<HttpClientResponse> {
        if self.on_js_thread() {
            // The JS thread runs the plugin: it cannot also wait for a fetch.
            return Err(Error::host(
                "a custom fetch cannot serve HTTP requests of callSync or createPluginSync: use call() or createPlugin()",
            ));
        }
        let (tx, rx) = mpsc::channel();
        let event = Event::Fetch {
            request: JsFetchRequest::from_core(request),
            reply: JsFetchReply::new(tx),
        };
        if !self.send(event) {
            return Err(Error::host("the JS environment is shutting down"));
        }
        match recv_polling(&rx) {
            Ok(answer) => answer.map_err(Error::host),
            Err(_) => Err(Error::host("fetch was dropped without settling")),
        }
    }
}
