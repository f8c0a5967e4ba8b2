//! Process-wide logging.

use std::ffi::{c_char, CString};

use crate::guard::{guard, str_arg};
use crate::types::ExtismLogDrainFunctionType;

unsafe fn optional_str<'a>(ptr: *const c_char) -> Result<Option<&'a str>, ()> {
    if ptr.is_null() {
        return Ok(None);
    }
    str_arg(ptr, "").map(Some).map_err(|_| ())
}

/// Install the process-wide logger. `filename`: NULL, "stderr" or "-" for
/// standard error, "stdout", or a file path (created if missing, appended to).
/// `log_level`: NULL (= "error"), a level (trace, debug, info, warn, error, or
/// 1-5 with 5 = trace) meaning `extism=<level>`, or a filter such as
/// `extism=trace,cranelift=debug`. Only the first logger of a process is
/// installed; returns false if one already is, or for bad arguments.
#[no_mangle]
pub unsafe extern "C" fn extism_log_file(filename: *const c_char, log_level: *const c_char) -> bool {
    guard(false, || {
        let (Ok(file), Ok(level)) = (optional_str(filename), optional_str(log_level)) else {
            return false;
        };
        extism_core::log::log_to_file(file.unwrap_or("stderr"), level).is_ok()
    })
}

/// Install a process-wide logger that buffers lines until
/// `extism_log_drain`. Same levels as `extism_log_file`; false if a logger is
/// already installed (the existing buffer is left alone).
#[no_mangle]
pub unsafe extern "C" fn extism_log_custom(log_level: *const c_char) -> bool {
    guard(false, || {
        let Ok(level) = optional_str(log_level) else {
            return false;
        };
        extism_core::log::log_to_buffer(level).is_ok()
    })
}

/// Call `handler` for each buffered line, oldest first, then empty the
/// buffer. Does nothing unless `extism_log_custom` succeeded.
#[no_mangle]
pub unsafe extern "C" fn extism_log_drain(handler: ExtismLogDrainFunctionType) {
    guard((), || {
        let Some(handler) = handler else { return };
        extism_core::log::drain_logs(|line| {
            // A line with an interior NUL cannot be passed as C text.
            if let Ok(text) = CString::new(line) {
                handler(text.as_ptr(), line.len() as u64);
            }
        });
    })
}
