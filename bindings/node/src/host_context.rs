//! The native half of a host function's `CallContext` (`lib/call-context.js`
//! wraps it in the official surface).
//!
//! This is the context of a host call made by an asynchronous call, whose
//! plugin runs on its own thread. A `CurrentPlugin` lives on the thread
//! running the plugin, for one host call, and its methods call into the
//! plugin's kernel (wasm), which must run on that thread: so each request is
//! sent to the plugin thread, which serves requests while it waits for the
//! host function. (Synchronous calls use `crate::direct` instead.)

use std::sync::{mpsc, Arc, Mutex};

use extism_core::{CurrentPlugin, Val, ValType};
use napi::bindgen_prelude::{BigInt, Buffer, JsValue, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::direct::DEAD;
use crate::plugin::{lock, recv_polling};

/// A request for the plugin thread, or the host function's answer.
pub(crate) enum SlotMsg {
    Op(Box<dyn for<'a, 'b> FnOnce(&'a mut CurrentPlugin<'b>) + Send>),
    Done(Result<Vec<Val>, String>),
}

enum State {
    /// The plugin thread's request queue.
    Remote(mpsc::Sender<SlotMsg>),
    /// The host function has settled: the context is dead.
    Closed,
}

/// One host call's link to its plugin.
pub(crate) struct Slot {
    state: Mutex<State>,
    results: Vec<ValType>,
    host_context: Option<u32>,
}

impl Slot {
    pub fn new(tx: mpsc::Sender<SlotMsg>, results: Vec<ValType>, host_context: Option<u32>) -> Slot {
        Slot {
            state: Mutex::new(State::Remote(tx)),
            results,
            host_context,
        }
    }

    pub fn close(&self) {
        *lock(&self.state) = State::Closed;
    }

    /// Run `f` on the plugin, on the thread that runs it.
    fn with_plugin<R, F>(&self, f: F) -> napi::Result<R>
    where
        R: Send + 'static,
        F: for<'a, 'b> FnOnce(&'a mut CurrentPlugin<'b>) -> R + Send + 'static,
    {
        let state = lock(&self.state);
        match &*state {
            State::Remote(tx) => {
                let tx = tx.clone();
                drop(state);
                let (reply_tx, reply_rx) = mpsc::sync_channel(1);
                let op = Box::new(move |plugin: &mut CurrentPlugin<'_>| {
                    let _ = reply_tx.send(f(plugin));
                });
                tx.send(SlotMsg::Op(op)).map_err(|_| napi::Error::from_reason(DEAD))?;
                recv_polling(&reply_rx).map_err(|_| napi::Error::from_reason(DEAD))
            }
            State::Closed => Err(napi::Error::from_reason(DEAD)),
        }
    }

    /// Settle the host call.
    fn finish(&self, answer: Result<Vec<Val>, String>) -> napi::Result<()> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, State::Closed) {
            State::Remote(tx) => {
                let _ = tx.send(SlotMsg::Done(answer));
                Ok(())
            }
            State::Closed => Err(napi::Error::from_reason(DEAD)),
        }
    }
}

/// A block address or size from JS (see `direct::address`).
fn address(env: &Env, value: Unknown<'_>) -> napi::Result<u64> {
    // SAFETY: a live value of the calling method's scope.
    unsafe { crate::direct::address(env.raw(), value.value().value) }
        .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e))
}

fn core_error(e: extism_core::Error) -> napi::Error {
    napi::Error::from_reason(e.message().to_string())
}

/// The native side of `CallContext` (not exported from the package).
#[napi(js_name = "NativeCallContext")]
pub struct JsCallContext {
    slot: Arc<Slot>,
}

impl JsCallContext {
    pub(crate) fn new(slot: Arc<Slot>) -> Self {
        JsCallContext { slot }
    }
}

#[napi]
impl JsCallContext {
    /// The id of this call's host context (`lib/plugin.js` keeps the value).
    #[napi(getter)]
    pub fn host_context_id(&self) -> Option<u32> {
        self.slot.host_context
    }

    /// The bytes of the block at `address`; null for 0 or an invalid
    /// address, and once the host call has returned (its blocks may be gone,
    /// as the JS SDK answers for a freed block).
    #[napi]
    pub fn read(&self, env: Env, addr: Unknown<'_>) -> napi::Result<Option<Buffer>> {
        let h = address(&env, addr)?;
        let bytes = self
            .slot
            .with_plugin(move |p| {
                if h == 0 {
                    return None;
                }
                p.block(h).ok().map(|b| b.to_vec())
            })
            .unwrap_or(None);
        Ok(bytes.map(Buffer::from))
    }

    /// The length of the block at `address` (0 when there is none, and once
    /// the host call has returned).
    #[napi]
    pub fn length(&self, env: Env, addr: Unknown<'_>) -> napi::Result<BigInt> {
        let h = address(&env, addr)?;
        let n = match self.slot.with_plugin(move |p| p.length(h)) {
            Ok(n) => n.map_err(core_error)?,
            Err(_) => 0,
        };
        Ok(BigInt::from(n))
    }

    /// Milliseconds left before the call's timeout (0 once passed); null
    /// without a timeout, and once the host call has returned.
    #[napi]
    pub fn time_remaining(&self) -> Option<f64> {
        let left = self.slot.with_plugin(|p| p.time_remaining()).ok().flatten();
        left.map(|d| d.as_secs_f64() * 1000.0)
    }

    /// A new block of `size` bytes; 0 when memory is exhausted.
    #[napi]
    pub fn alloc(&self, env: Env, size: Unknown<'_>) -> napi::Result<BigInt> {
        let n = address(&env, size)?;
        let h = self.slot.with_plugin(move |p| p.alloc(n))?.map_err(core_error)?;
        Ok(BigInt::from(h))
    }

    /// Copy `bytes` into a new block and return its address (0 for no bytes).
    #[napi]
    pub fn store(&self, bytes: &[u8]) -> napi::Result<BigInt> {
        let bytes = bytes.to_vec();
        let h = self
            .slot
            .with_plugin(move |p| p.alloc_bytes(&bytes))?
            .map_err(core_error)?;
        Ok(BigInt::from(h))
    }

    #[napi]
    pub fn get_variable(&self, name: String) -> napi::Result<Option<Buffer>> {
        let value = self.slot.with_plugin(move |p| p.var(&name).map(|v| v.to_vec()))?;
        Ok(value.map(Buffer::from))
    }

    #[napi]
    pub fn set_variable(&self, name: String, value: &[u8]) -> napi::Result<()> {
        let value = value.to_vec();
        self.slot.with_plugin(move |p| p.set_var(&name, Some(&value)))
    }

    #[napi]
    pub fn delete_variable(&self, name: String) -> napi::Result<()> {
        self.slot.with_plugin(move |p| p.set_var(&name, None))
    }

    /// Set the call's plugin error (the call then fails with it).
    #[napi]
    pub fn set_error(&self, message: String) -> napi::Result<()> {
        self.slot
            .with_plugin(move |p| p.set_error(&message))?
            .map_err(core_error)
    }

    /// Settle the host call with its results, already converted by JS to a
    /// number (i32, f32, f64) or a BigInt (i64) each.
    #[napi]
    pub fn resolve(&self, env: Env, values: Vec<Unknown<'_>>) -> napi::Result<()> {
        let mut out = Vec::with_capacity(self.slot.results.len());
        for (ty, value) in self.slot.results.iter().zip(values) {
            // SAFETY: a live value of this method's scope.
            let value = unsafe { crate::direct::val_from_js(env.raw(), value.value().value, *ty) }
                .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e))?;
            out.push(value);
        }
        self.slot.finish(Ok(out))
    }

    /// Settle the host call with an error; the plugin call fails with it.
    #[napi]
    pub fn reject(&self, message: String) -> napi::Result<()> {
        self.slot.finish(Err(message))
    }
}
