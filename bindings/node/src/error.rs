//! Core errors as data for JS. `lib/errors.js` turns an [`ErrorInfo`] into the
//! JS error the official SDK would throw in the same situation; the kind
//! travels with it so that JS never has to parse the message.

use extism_core::{Error, ErrorDetail};
use napi_derive::napi;

/// A core error on its way to JS.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    /// The `ErrorKind` name (`Timeout`, `Plugin`, ...).
    pub kind: &'static str,
    pub message: String,
    /// The call's return code, for call errors.
    pub rc: Option<i32>,
    /// The core's `ErrorDetail`, for the kinds that have one (boxed: most
    /// errors have none, and `Result`s stay small).
    pub detail: Option<Box<JsErrorDetail>>,
}

/// An `ErrorDetail` as JS sees it: the fields of its variant, named as in the core.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct JsErrorDetail {
    /// `HashMismatch`: the module, the manifest's hash and the module's.
    pub module: Option<String>,
    pub expected: Option<String>,
    pub found: Option<String>,
    /// `UnresolvedImport`: the modules from `main` to the importing one, and
    /// the import (`module` is then the import's module).
    pub path: Option<Vec<String>>,
    pub name: Option<String>,
    /// `UnresolvedImport`: the host provides other functions under `module`.
    pub host_module: Option<bool>,
    /// `VarLimit`: the bytes the var store would hold, and its maximum.
    pub requested: Option<f64>,
    pub allowed: Option<f64>,
}

fn detail_of(detail: &ErrorDetail) -> Option<JsErrorDetail> {
    Some(match detail {
        ErrorDetail::HashMismatch {
            module,
            expected,
            found,
        } => JsErrorDetail {
            module: Some(module.clone()),
            expected: Some(expected.clone()),
            found: Some(found.clone()),
            ..Default::default()
        },
        ErrorDetail::UnresolvedImport {
            path,
            module,
            name,
            host_module,
        } => JsErrorDetail {
            path: Some(path.clone()),
            module: Some(module.clone()),
            name: Some(name.clone()),
            host_module: Some(*host_module),
            ..Default::default()
        },
        ErrorDetail::VarLimit { requested, allowed } => JsErrorDetail {
            requested: Some(*requested as f64),
            allowed: Some(*allowed as f64),
            ..Default::default()
        },
        _ => return None,
    })
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> Self {
        ErrorInfo {
            kind: e.kind().as_str(),
            message: e.message().to_string(),
            rc: None,
            detail: e.detail().and_then(detail_of).map(Box::new),
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
            detail: None,
        }
    }
}
