//! How a job ends: an [`Outcome`] made on whichever thread ran it, and the
//! [`JsOutcome`] that `lib/` receives (by `Event::Done`, or as the return value
//! of a synchronous method).

use std::any::Any;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::error::{ErrorInfo, JsErrorDetail};

/// How a job ended, before it becomes a [`JsOutcome`] on the JS thread.
pub(crate) enum Outcome {
    Output(Vec<u8>),
    Bool(bool),
    Unit,
    Failed(ErrorInfo),
}

/// A finished job as JS sees it.
#[napi(object)]
pub struct JsOutcome {
    pub ok: bool,
    /// A call's output (empty when the plugin set none).
    pub output: Option<Buffer>,
    pub value: Option<bool>,
    /// The core `ErrorKind` of a failure.
    pub kind: Option<String>,
    pub message: Option<String>,
    pub rc: Option<i32>,
    /// The facts behind a failure of some kinds (`HashMismatch`, `UnresolvedImport`, `VarLimit`).
    pub detail: Option<JsErrorDetail>,
    /// How long the job ran on the plugin thread, in ns (jobs of that thread only).
    pub run_ns: Option<f64>,
}

impl Outcome {
    pub(crate) fn into_js(self) -> JsOutcome {
        let mut js = JsOutcome {
            ok: true,
            output: None,
            value: None,
            kind: None,
            message: None,
            rc: None,
            detail: None,
            run_ns: None,
        };
        match self {
            Outcome::Output(bytes) => js.output = Some(Buffer::from(bytes)),
            Outcome::Bool(b) => js.value = Some(b),
            Outcome::Unit => {}
            Outcome::Failed(e) => {
                js.ok = false;
                js.kind = Some(e.kind.to_string());
                js.message = Some(e.message);
                js.rc = e.rc;
                js.detail = e.detail.map(|d| *d);
            }
        }
        js
    }
}

impl From<Result<(), ErrorInfo>> for Outcome {
    fn from(result: Result<(), ErrorInfo>) -> Self {
        match result {
            Ok(()) => Outcome::Unit,
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// The error of a panic caught in the addon.
pub(crate) fn panic_text(payload: Box<dyn Any + Send>) -> ErrorInfo {
    let text = match extism_core::panic_message(&*payload) {
        "" => "unknown panic",
        text => text,
    };
    ErrorInfo::other(format!("internal error in the Extism addon: {text}"))
}
