//! The way from a plugin to its JS side: host function calls, log lines,
//! HTTP requests and finished jobs, as [`Event`]s handed to one JS function
//! (`dispatch` in `lib/dispatch.js`).
//!
//! From the plugin's own thread an event goes through a thread-safe function
//! (one per plugin, so its events stay in order: log lines come before the
//! call's result). On the JS thread (inside a synchronous method) JS is
//! called directly: waiting for the event loop there would deadlock. A host
//! function call takes one path or the other ([`JsThread::host_call`]).

use std::sync::Arc;
use std::thread::ThreadId;

use extism_core::log::{LogBacklog, LogLevel};
use extism_core::{CurrentPlugin, Val};
use napi::bindgen_prelude::{sys, Function, FunctionRef, JsValuesTupleIntoVec, ToNapiValue, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};

use crate::async_call::AsyncHostCallJsSide;
use crate::fetch::{JsFetchReply, JsFetchRequest};
use crate::outcome::{JsOutcome, Outcome};
use crate::sync_call::{self, SyncHostCall};

/// Event kinds, as `dispatch` receives them in its first argument.
const HOST: u32 = 0;
const LOG: u32 = 1;
const DONE: u32 = 2;
const FETCH: u32 = 3;

/// Something for the JS side of one plugin.
pub(crate) enum Event {
    /// Run host function `index` with `args` for an asynchronous call; the
    /// host function's CallContext and its answer go through `call`.
    Host {
        index: u32,
        args: Vec<Val>,
        call: AsyncHostCallJsSide,
        host_context: Option<u32>,
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

/// The arguments of `dispatch(kind, pluginId, a, b, c, d)`.
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
                Event::Host {
                    index,
                    args,
                    call,
                    host_context,
                } => {
                    let args = args
                        .iter()
                        .map(|v| crate::convert::val_to_js(env, v).map(|raw| Unknown::from_raw_unchecked(env, raw)))
                        .collect::<Result<Vec<_>, String>>()
                        .map_err(napi::Error::from_reason)?;
                    vec![
                        u32::to_napi_value(env, HOST)?,
                        id,
                        u32::to_napi_value(env, index)?,
                        crate::handles::host_call_handle(env, call)?,
                        Vec::to_napi_value(env, args)?,
                        Option::<u32>::to_napi_value(env, host_context)?,
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
                        JsOutcome::to_napi_value(env, js)?,
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

/// One plugin's way to its JS side.
pub(crate) struct JsThread {
    plugin_id: u32,
    events: EventFn,
    dispatcher: FunctionRef<EventArgs, Unknown<'static>>,
    /// `hostDirect` of lib/host-calls.js, bound to this plugin: runs a host
    /// function for a synchronous call.
    pub(crate) host_direct: FunctionRef<Unknown<'static>, Unknown<'static>>,
    /// The host call of a synchronous call running now, for its CallContext.
    pub(crate) sync_host_call: SyncHostCall,
    js_thread: ThreadId,
    /// Log messages queued for the JS thread and not yet handed to JS: a
    /// plugin that logs faster than the logger runs would otherwise grow the
    /// queue without bound.
    log_backlog: Arc<LogBacklog>,
}

impl JsThread {
    pub fn new(
        plugin_id: u32,
        dispatcher: &Function<'_, EventArgs, Unknown<'static>>,
        host_direct: &Function<'_, Unknown<'static>, Unknown<'static>>,
    ) -> napi::Result<JsThread> {
        let log_backlog = Arc::new(LogBacklog::new());
        let backlog = log_backlog.clone();
        // Weak: an idle plugin must not keep the process alive. While a job is
        // pending, the JS side holds a timer that does (lib/jobs.js).
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
        Ok(JsThread {
            plugin_id,
            events,
            dispatcher: dispatcher.create_ref()?,
            host_direct: host_direct.create_ref()?,
            sync_host_call: SyncHostCall::default(),
            js_thread: std::thread::current().id(),
            log_backlog,
        })
    }

    pub fn plugin_id(&self) -> u32 {
        self.plugin_id
    }

    /// Whether the plugin runs on the JS thread now (a synchronous method).
    pub fn on_js_thread(&self) -> bool {
        std::thread::current().id() == self.js_thread
    }

    /// Call the dispatcher now, on the JS thread (inside a synchronous method).
    fn dispatch_here(&self, event: Event) -> Result<(), String> {
        let env = Env::from_raw(sync_call::sync_env()?);
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
            let _ = self.dispatch_here(Event::Log {
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

    /// Run JS host function `index` for the plugin (the core's `HostCallback`):
    /// right here for a synchronous call, through an event for an asynchronous one.
    pub fn host_call(
        &self,
        index: u32,
        plugin: &mut CurrentPlugin<'_>,
        inputs: &[Val],
        outputs: &mut [Val],
    ) -> extism_core::Result<()> {
        let args = HostCallArgs {
            index,
            host_context: plugin.host_context::<u32>().copied(),
            inputs,
            outputs,
        };
        if self.on_js_thread() {
            sync_call::call_host(self, args, plugin)
        } else {
            crate::async_call::call_host(self, args, plugin)
        }
    }
}

/// What a call of a JS host function takes, on either path
/// ([`JsThread::host_call`]).
pub(crate) struct HostCallArgs<'a> {
    /// The host function's index in the plugin's table.
    pub index: u32,
    /// The id of the plugin call's host context, if it was given one.
    pub host_context: Option<u32>,
    pub inputs: &'a [Val],
    /// Zeros of the result types when the call starts; its results after.
    pub outputs: &'a mut [Val],
}
