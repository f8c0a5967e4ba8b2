//! One call: arm the clock, place the input, invoke the export, read the
//! output or the error, write dumps on failure.

use std::any::Any;
use std::time::{Duration, Instant};

use wasmtime::{Func, Store, Val};

use super::{CallResult, Export, Plugin};
use crate::dump::Dumps;
use crate::error::{bounded_error_text, call_error_from_wasmtime, Error, ErrorKind, Result, RC_ERROR};
use crate::limits::TimedSection;
use crate::state::PluginState;

impl Plugin {
    /// Call `name` with `input` and a host context; see `CallResult`.
    pub fn call_with_context(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> CallResult {
        self.output = (0, 0);
        self.fuel_consumed = None;
        if let Some(limit) = self.compiled.fuel_limit {
            let _ = self.store.set_fuel(limit);
        }
        if self.rebuild_pending {
            if let Err(e) = self.rebuild() {
                return CallResult::fail(RC_ERROR, e);
            }
        }
        let result = self.run(name, input, host_context);
        self.store.data_mut().host_context = None;
        if name == "_start" {
            self.rebuild_pending = true;
        }
        result
    }

    /// Call `name` with `input`: the output on success, the error otherwise.
    pub fn call(&mut self, name: &str, input: &[u8]) -> Result<&[u8]> {
        self.call_with_context(name, input, None).into_result()?;
        Ok(self.output())
    }

    fn run(&mut self, name: &str, input: &[u8], host_context: Option<Box<dyn Any + Send>>) -> CallResult {
        self.store.data_mut().host_context = host_context;
        // Armed before any wasm runs, so a cancel also stops the input copy.
        let timer = self.arm(self.compiled.manifest.timeout_ms);
        let invoked = self.place_input_and_invoke(name, input);
        self.disarm();
        drop(timer);
        let result = match invoked {
            Ok(result) => result,
            Err(early) => return early,
        };

        if let Some(limit) = self.compiled.fuel_limit {
            let left = self.store.get_fuel().unwrap_or(limit);
            self.fuel_consumed = Some(limit.saturating_sub(left));
            if left == 0 {
                return CallResult::fail(RC_ERROR, Error::new(ErrorKind::OutOfFuel, "plugin ran out of fuel"));
            }
            // Reading the results below runs kernel code; it is not the plugin's.
            let _ = self.store.set_fuel(u64::MAX);
        }

        let record = self.kernel.record(&self.store);
        self.output = (record.output_offset, record.output_length);
        let plugin_error = if record.error == 0 {
            None
        } else {
            self.plugin_error(record.error)
        };
        match result {
            Ok(rc) => CallResult {
                rc,
                error: plugin_error.map(|text| Error::new(ErrorKind::Plugin, text)),
            },
            Err(e) => {
                self.write_dumps(name, &e);
                let (rc, error) = call_error_from_wasmtime(e);
                match (error.kind(), plugin_error) {
                    (ErrorKind::Exit, None) if rc == 0 => CallResult::ok(0),
                    (ErrorKind::Timeout | ErrorKind::OutOfFuel | ErrorKind::OutOfMemory, _) | (_, None) => {
                        CallResult::fail(rc, error)
                    }
                    (ErrorKind::Exit, Some(text)) => CallResult::fail(rc, Error::new(ErrorKind::Plugin, text)),
                    (_, Some(text)) => CallResult::fail(RC_ERROR, Error::new(ErrorKind::Plugin, text)),
                }
            }
        }
    }

    /// Reset Extism memory, place the input, find the export and run it.
    /// `Err` is a finished result (the export never ran).
    fn place_input_and_invoke(&mut self, name: &str, input: &[u8]) -> Result<wasmtime::Result<i32>, CallResult> {
        if self.main.is_none() {
            return Err(CallResult::fail(RC_ERROR, Error::new(ErrorKind::OutOfMemory, "oom")));
        }
        let kernel = &self.kernel;
        match kernel.begin_call.call(&mut self.store, input.len() as i64) {
            Ok(-1) => {
                return Err(CallResult::fail(
                    RC_ERROR,
                    Error::new(ErrorKind::OutOfMemory, "failed to allocate extism memory"),
                ))
            }
            Ok(handle) => {
                if !input.is_empty() {
                    let start = handle as usize;
                    kernel.memory.data_mut(&mut self.store)[start..start + input.len()].copy_from_slice(input);
                }
            }
            Err(e) => {
                let (rc, mut error) = call_error_from_wasmtime(e);
                if error.kind() == ErrorKind::OutOfMemory {
                    error = Error::new(ErrorKind::OutOfMemory, "failed to allocate extism memory");
                }
                return Err(CallResult::fail(rc, error));
            }
        }
        if !self.select_export(name) {
            return Err(CallResult::fail(
                RC_ERROR,
                Error::new(ErrorKind::FunctionNotFound, format!("Function not found: {name}")),
            ));
        }
        let Some((_, export)) = &self.last_export else {
            return Err(CallResult::fail(
                RC_ERROR,
                Error::new(ErrorKind::Other, "export cache is empty"),
            ));
        };
        Ok(match export {
            Export::ReturnsI32(f) => f.call(&mut self.store, ()),
            Export::ReturnsNothing(f) => f.call(&mut self.store, ()).map(|()| 0),
            Export::Other(Some(f)) => call_untyped(&mut self.store, name, *f),
            // Unreachable: a plugin without main fails above.
            Export::Other(None) | Export::Uninstantiated => {
                Err(wasmtime::Error::new(Error::new(ErrorKind::OutOfMemory, "oom")))
            }
        })
    }

    /// The debugging dumps of a failed call, where they are asked for.
    fn write_dumps(&mut self, name: &str, error: &wasmtime::Error) {
        let dumps = &self.compiled.dumps;
        if let Some(path) = &dumps.coredump {
            if let Some(core) = error.downcast_ref::<wasmtime::WasmCoreDump>() {
                let bytes = core.serialize(&mut self.store, name);
                Dumps::write(path, "coredump", &bytes);
            }
        }
        if let Some(path) = &dumps.memdump {
            Dumps::write(path, "memory dump", self.kernel.memory.data(&self.store));
        }
    }

    /// The text of the error the plugin set, if it set one (a live block).
    fn plugin_error(&mut self, handle: u64) -> Option<String> {
        let length = self.kernel.length.call(&mut self.store, handle as i64).ok()? as u64;
        if length == 0 {
            return None;
        }
        let memory = self.kernel.memory.data(&self.store);
        let bytes = memory.get(handle as usize..(handle + length) as usize)?;
        Some(bounded_error_text(bytes))
    }

    /// Start the clock and make the call cancellable.
    fn arm(&mut self, timeout_ms: Option<u64>) -> Option<TimedSection> {
        arm(&mut self.store, timeout_ms)
    }

    fn disarm(&mut self) {
        disarm(&mut self.store);
    }
}

/// Stop the clock; host-side kernel work after the call must not be hit by
/// the deadline or a late cancel.
pub(super) fn disarm(store: &mut Store<PluginState>) {
    let state = store.data_mut();
    state.deadline = None;
    state.interrupt.end();
    store.set_epoch_deadline(1);
}

pub(super) fn arm(store: &mut Store<PluginState>, timeout_ms: Option<u64>) -> Option<TimedSection> {
    let state = store.data_mut();
    state.interrupt.begin();
    let timer = timeout_ms.map(|ms| {
        state.deadline = Some(Instant::now() + Duration::from_millis(ms));
        TimedSection::start()
    });
    store.set_epoch_deadline(1);
    timer
}

/// Call an export whose type is neither `() -> i32` nor `() -> ()`, for the
/// error it gives (docs/abi.md, Callable exports).
fn call_untyped(store: &mut Store<PluginState>, name: &str, func: Func) -> wasmtime::Result<i32> {
    let ty = func.ty(&*store);
    if ty.params().len() != 0 {
        return Err(wasmtime::Error::new(Error::new(
            ErrorKind::ExportType,
            format!("expected {} arguments, got 0", ty.params().len()),
        )));
    }
    let results = ty.results().len();
    if results > 1 {
        return Err(wasmtime::Error::new(Error::new(
            ErrorKind::ExportType,
            format!("Function {name} has {results} results, expected 0 or 1"),
        )));
    }
    let mut out = vec![Val::I32(0); results];
    func.call(&mut *store, &[], &mut out)?;
    Err(wasmtime::Error::new(Error::new(
        ErrorKind::ExportType,
        format!(
            "Function {name} returned a {} instead of an i32",
            ty.results().next().map(|t| t.to_string()).unwrap_or_default()
        ),
    )))
}
