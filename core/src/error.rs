//! The one error type of the runtime. Its message is final: every frontend
//! shows the same words, and the kind lets a frontend pick a native error
//! class without parsing text.
//!
//! `Error` is a plain struct: building one never captures a backtrace, and a
//! successful call never builds one at all.

use std::fmt;

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
    /// The called export does not exist or has the wrong type.
    FunctionNotFound,
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
    /// Anything else.
    Other,
}

/// An error with a kind and a final, user-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `prefix` in front of its message, as the C API's
    /// `Unable to compile Extism plugin: ` and `Unable to create Extism plugin: `.
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

/// The `Result` of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text of a wasmtime error with its causes, without the backtrace
/// section wasmtime puts in front of traps.
/// The message a panic carried (a `&str` or `String` payload), or "".
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

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
