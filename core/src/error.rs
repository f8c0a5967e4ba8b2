//! The one error type of the runtime. Its message is final: every frontend
//! shows the same words, and the kind lets a frontend pick a native error
//! class without parsing text.
//!
//! `Error` is a plain struct: building one never captures a backtrace, and a
//! successful call never builds one at all.

use std::fmt;

use wasmtime::Trap;

/// What went wrong, coarsely. Frontends branch on this, never on the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The manifest or wasm input could not be read or understood.
    Manifest,
    /// Compiling, validating or linking the wasm failed.
    Compile,
    /// Creating an instance (or running its initializers) failed.
    Instantiate,
    /// The called export does not exist (or is not a function).
    FunctionNotFound,
    /// The called export is a function of a type a call cannot run (it
    /// takes parameters or returns something other than one `i32` or nothing).
    ExportType,
    /// The plugin reported an error (`error_set`) or returned non-zero.
    Plugin,
    /// The wasm trapped.
    Trap,
    /// The call was stopped by its timeout or by a cancel.
    Timeout,
    /// The fuel budget ran out.
    OutOfFuel,
    /// A memory limit was hit.
    OutOfMemory,
    /// A host function (built-in or user-supplied) failed.
    HostFunction,
    /// A WASI `proc_exit` with a non-zero code.
    Exit,
    /// Bad arguments from the embedding program.
    InvalidArgument,
    /// Calling into a plugin from one of its own host functions.
    Reentrant,
    /// A module's SHA-256 differs from the manifest's `hash`
    /// ([`ErrorDetail::HashMismatch`]).
    HashMismatch,
    /// An import of a module that neither the host nor another module of the
    /// manifest provides ([`ErrorDetail::UnresolvedImport`]).
    UnresolvedImport,
    /// `var_set` would take the var store over `memory.max_var_bytes`
    /// ([`ErrorDetail::VarLimit`]).
    VarLimit,
    /// A [`Pool`](crate::Pool) was closed: it hands out no more instances.
    PoolClosed,
    /// No pool instance became free within the time a caller would wait.
    PoolTimeout,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind's name, as frontends expose it (`Timeout`, `Plugin`, ...):
    /// the variant's name, stable across releases.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Manifest => "Manifest",
            ErrorKind::Compile => "Compile",
            ErrorKind::Instantiate => "Instantiate",
            ErrorKind::FunctionNotFound => "FunctionNotFound",
            ErrorKind::ExportType => "ExportType",
            ErrorKind::Plugin => "Plugin",
            ErrorKind::Trap => "Trap",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::OutOfFuel => "OutOfFuel",
            ErrorKind::OutOfMemory => "OutOfMemory",
            ErrorKind::HostFunction => "HostFunction",
            ErrorKind::Exit => "Exit",
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::Reentrant => "Reentrant",
            ErrorKind::HashMismatch => "HashMismatch",
            ErrorKind::UnresolvedImport => "UnresolvedImport",
            ErrorKind::VarLimit => "VarLimit",
            ErrorKind::PoolClosed => "PoolClosed",
            ErrorKind::PoolTimeout => "PoolTimeout",
            ErrorKind::Other => "Other",
        }
    }
}

/// What the official C API puts before the text of a failure to compile or
/// load a plugin (`extism_compiled_plugin_new`, the first half of
/// `extism_plugin_new`); the Python SDK shows the same.
pub const COMPILE_ERROR_PREFIX: &str = "Unable to compile Extism plugin: ";

/// What the official C API puts before the text of a failure to instantiate
/// a plugin (`extism_plugin_new_from_compiled`, the second half of
/// `extism_plugin_new`).
pub const CREATE_ERROR_PREFIX: &str = "Unable to create Extism plugin: ";

/// The facts behind an error, for frontends that word it their own way (the
/// Node addon speaks the JS SDK's texts); the message stays the core's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorDetail {
    /// `module` (its manifest name) hashed to `found`, not `expected`.
    HashMismatch {
        /// The module's name in the manifest.
        module: String,
        /// The manifest's `hash`.
        expected: String,
        /// The SHA-256 of the bytes loaded.
        found: String,
    },
    /// Import `module::name` of the module at the end of `path` is not
    /// provided. `path` names the modules from `main` down to the importing
    /// one (`["main", "lhs"]`), or only the importing one when it is no
    /// dependency of `main`.
    UnresolvedImport {
        /// The modules from `main` down to the importing one.
        path: Vec<String>,
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
        /// The host provides functions under `module`, but none named `name`.
        host_module: bool,
    },
    /// The var store would hold `requested` bytes (counted as `var_set`
    /// counts them: key, value and entry overhead of every var), over the
    /// `allowed` maximum.
    VarLimit {
        /// The bytes the store would hold.
        requested: u64,
        /// `memory.max_var_bytes`.
        allowed: u64,
    },
}

/// An error with a kind and a final, user-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// Boxed: most errors have none, and `Result`s stay small.
    detail: Option<Box<ErrorDetail>>,
}

impl Error {
    /// An error of `kind` with a final, user-facing `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            detail: None,
        }
    }

    /// The same error carrying `detail`.
    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.detail = Some(Box::new(detail));
        self
    }

    /// What went wrong, coarsely.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The facts behind the error, for the kinds that have them.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        self.detail.as_deref()
    }

    /// `HashMismatch`: `Hash mismatch, found FOUND but expected EXPECTED`.
    pub(crate) fn hash_mismatch(module: &str, expected: &str, found: &str) -> Self {
        Error::new(
            ErrorKind::HashMismatch,
            format!("Hash mismatch, found {found} but expected {expected}"),
        )
        .with_detail(ErrorDetail::HashMismatch {
            module: module.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }

    /// `UnresolvedImport`: ``unknown import: `MODULE::NAME` has not been defined``.
    pub fn unresolved_import(path: Vec<String>, module: &str, name: &str) -> Self {
        Error::unresolved_host_import(path, module, name, false)
    }

    /// [`Error::unresolved_import`], saying whether the host provides other
    /// functions under `module`.
    pub fn unresolved_host_import(path: Vec<String>, module: &str, name: &str, host_module: bool) -> Self {
        Error::new(
            ErrorKind::UnresolvedImport,
            format!("unknown import: `{module}::{name}` has not been defined"),
        )
        .with_detail(ErrorDetail::UnresolvedImport {
            path,
            module: module.to_string(),
            name: name.to_string(),
            host_module,
        })
    }

    /// `VarLimit`: `Variable store is full`.
    pub(crate) fn var_limit(requested: u64, allowed: u64) -> Self {
        Error::new(ErrorKind::VarLimit, "Variable store is full")
            .with_detail(ErrorDetail::VarLimit { requested, allowed })
    }

    /// The text every frontend shows.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `prefix` in front of its message, as
    /// [`COMPILE_ERROR_PREFIX`] and [`CREATE_ERROR_PREFIX`].
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.message.insert_str(0, prefix);
        self
    }

    pub(crate) fn manifest(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Manifest, message)
    }

    pub(crate) fn compile(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Compile, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// A user host function's failure, carrying its message.
    pub fn host(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::HostFunction, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The return code of a trap, a timeout and a cancel (EXIT_SIGNALED_SIGABRT).
pub const RC_TRAP: i32 = 134;
/// The return code of runtime and host errors.
pub const RC_ERROR: i32 = -1;

/// Raised (as a wasmtime error) when the memory budget is exceeded.
#[derive(Debug)]
pub(crate) struct OutOfMemory;
impl std::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("oom")
    }
}
impl std::error::Error for OutOfMemory {}

/// Raised (as a wasmtime error) when a call is stopped by its timeout or a cancel.
#[derive(Debug)]
pub(crate) struct Interrupted;
impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timeout")
    }
}
impl std::error::Error for Interrupted {}

/// Map a wasmtime error from running wasm to a return code and an error.
pub(crate) fn call_error_from_wasmtime(err: wasmtime::Error) -> (i32, Error) {
    if err.is::<Interrupted>() || matches!(err.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return (RC_TRAP, Error::new(ErrorKind::Timeout, "timeout"));
    }
    if matches!(err.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
        return (RC_ERROR, Error::new(ErrorKind::OutOfFuel, "plugin ran out of fuel"));
    }
    if err.is::<OutOfMemory>() {
        return (RC_ERROR, Error::new(ErrorKind::OutOfMemory, "oom"));
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (exit.0, Error::new(ErrorKind::Exit, format!("exit status {}", exit.0)));
    }
    if let Some(e) = err.downcast_ref::<Error>() {
        return (RC_ERROR, e.clone());
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let mut text = trap.to_string();
        if let Some(bt) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
            if let Some(name) = bt.frames().first().and_then(|f| f.func_name()) {
                text.push_str(&format!(", in function `{name}`"));
            }
        }
        return (RC_TRAP, Error::new(ErrorKind::Trap, text));
    }
    (RC_ERROR, Error::new(ErrorKind::Other, wasmtime_text(&err)))
}

/// The `Result` of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message a panic carried (a `&str` or `String` payload), or "".
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// The most bytes of a plugin's own error text (`error_set`) the host keeps:
/// the text is copied out of plugin memory and then by every frontend, so a
/// plugin could otherwise make the host hold several copies of a block as
/// large as its memory. A longer text is cut, and says so.
pub const ERROR_TEXT_LIMIT: usize = 1 << 20;

/// `bytes` as text (invalid UTF-8 replaced), cut to `ERROR_TEXT_LIMIT`
/// bytes with a note of how long it was.
pub(crate) fn bounded_error_text(bytes: &[u8]) -> String {
    if bytes.len() <= ERROR_TEXT_LIMIT {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut end = ERROR_TEXT_LIMIT;
    // Back up over a character cut in half.
    if let Some(lead) = (end - 3..end).rev().find(|&i| bytes[i] & 0xC0 != 0x80) {
        let width = match bytes[lead] {
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            b if b >= 0xC0 => 2,
            _ => 1,
        };
        if lead + width > end {
            end = lead;
        }
    }
    let kept = &bytes[..end];
    format!(
        "{}... (error text of {} bytes cut to {})",
        String::from_utf8_lossy(kept),
        bytes.len(),
        kept.len()
    )
}

/// The text of a wasmtime error with its causes, without the backtrace
/// section wasmtime puts in front of traps.
pub(crate) fn wasmtime_text(err: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.starts_with("error while executing at wasm backtrace") {
            continue;
        }
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::{bounded_error_text, ErrorKind, ERROR_TEXT_LIMIT};

    #[test]
    fn kind_names_are_the_variant_names() {
        use ErrorKind::*;
        for kind in [
            Manifest,
            Compile,
            Instantiate,
            FunctionNotFound,
            ExportType,
            Plugin,
            Trap,
            Timeout,
            OutOfFuel,
            OutOfMemory,
            HostFunction,
            Exit,
            InvalidArgument,
            Reentrant,
            HashMismatch,
            UnresolvedImport,
            VarLimit,
            PoolClosed,
            PoolTimeout,
            Other,
        ] {
            assert_eq!(kind.as_str(), format!("{kind:?}"));
        }
    }

    #[test]
    fn error_texts_are_cut_at_the_limit_on_a_character_boundary() {
        let exact = vec![b'e'; ERROR_TEXT_LIMIT];
        assert_eq!(bounded_error_text(&exact).len(), ERROR_TEXT_LIMIT);

        let long = vec![b'e'; ERROR_TEXT_LIMIT + 10];
        let text = bounded_error_text(&long);
        let note = format!(
            "... (error text of {} bytes cut to {ERROR_TEXT_LIMIT})",
            ERROR_TEXT_LIMIT + 10
        );
        assert!(text.ends_with(&note), "{}", &text[text.len() - 80..]);
        assert_eq!(text.len(), ERROR_TEXT_LIMIT + note.len());

        // A 3-byte character straddling the limit is left out whole.
        let mut straddle = vec![b'e'; ERROR_TEXT_LIMIT - 1];
        straddle.extend_from_slice("€€".as_bytes());
        let text = bounded_error_text(&straddle);
        assert!(!text.contains('\u{FFFD}'));
        assert!(text.ends_with(&format!(
            "e... (error text of {} bytes cut to {})",
            straddle.len(),
            ERROR_TEXT_LIMIT - 1
        )));
        // One that ends exactly at the limit is kept.
        let mut fits = vec![b'e'; ERROR_TEXT_LIMIT - 3];
        fits.extend_from_slice("€€".as_bytes());
        assert!(bounded_error_text(&fits).contains("e€... (error text"));
    }
}
