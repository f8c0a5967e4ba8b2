//! Core errors as data for JS. `lib/errors.js` turns an [`ErrorInfo`] into the
//! JS error the official SDK would throw in the same situation; the kind
//! travels with it so that JS never has to parse the message.

use extism_core::{Error, ErrorKind};

/// A core error on its way to JS.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    /// The `ErrorKind` name (`Timeout`, `Plugin`, ...).
    pub kind: &'static str,
    pub message: String,
    /// The call's return code, for call errors.
    pub rc: Option<i32>,
}

pub(crate) fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Manifest => "Manifest",
        ErrorKind::Compile => "Compile",
        ErrorKind::Instantiate => "Instantiate",
        ErrorKind::FunctionNotFound => "FunctionNotFound",
        ErrorKind::Plugin => "Plugin",
        ErrorKind::Trap => "Trap",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::OutOfFuel => "OutOfFuel",
        ErrorKind::OutOfMemory => "OutOfMemory",
        ErrorKind::HostFunction => "HostFunction",
        ErrorKind::Exit => "Exit",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::Reentrant => "Reentrant",
        _ => "Other",
    }
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> Self {
        ErrorInfo {
            kind: kind_name(e.kind()),
            message: e.message().to_string(),
            rc: None,
        }
    }
}

impl ErrorInfo {
    pub fn with_rc(mut self, rc: i32) -> Self {
        self.rc = Some(rc);
        self
    }

    /// An error of the binding itself (a closed plugin, a panic).
    pub fn other(message: impl Into<String>) -> Self {
        ErrorInfo {
            kind: "Other",
            message: message.into(),
            rc: None,
        }
    }
}
