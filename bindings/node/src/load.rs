//! What `load`/`loadSync` take: the JS options ([`JsLoadOptions`], made by
//! `lib/manifest.js`) turned into the [`LoadSettings`] of a `PluginBuilder`.

use extism_core::log::LogLevel;
use extism_core::WasiOutput;
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// A host function's place in `functions`, by namespace and name.
#[napi(object)]
pub struct JsFunctionName {
    pub namespace: String,
    pub name: String,
}

/// The `PluginBuilder` settings that JS options turn into.
#[napi(object)]
pub struct JsLoadOptions {
    pub wasi: bool,
    /// `enableWasiOutput`: true for the process's stdout and stderr, false
    /// to discard; missing leaves it to `EXTISM_ENABLE_WASI_OUTPUT`.
    pub wasi_output: Option<bool>,
    pub fuel_limit: Option<BigInt>,
    pub http_response_headers: bool,
    /// `trace`..`error`, or `silent` for a sink that takes nothing; missing
    /// means the process-wide logger.
    pub log_level: Option<String>,
    pub functions: Vec<JsFunctionName>,
    /// The plugin's HTTP requests go to the JS `fetch` of the plugin
    /// (`lib/fetch.js`) instead of the runtime's own client.
    pub fetch: Option<bool>,
}

pub(crate) struct LoadSettings {
    pub wasi: bool,
    pub wasi_output: WasiOutput,
    pub fuel_limit: Option<u64>,
    pub http_response_headers: bool,
    /// `None`: the process-wide logger; `Some(None)`: silent.
    pub log: Option<Option<LogLevel>>,
    /// The JS host functions by namespace and name, in the order of `lib/`'s list.
    pub functions: Vec<(String, String)>,
    pub fetch: bool,
}

impl LoadSettings {
    pub(crate) fn from_js(o: JsLoadOptions) -> napi::Result<LoadSettings> {
        let fuel_limit = match o.fuel_limit {
            None => None,
            Some(b) => {
                let (negative, value, lossless) = b.get_u64();
                if negative || !lossless {
                    return Err(napi::Error::new(
                        napi::Status::InvalidArg,
                        "fuelLimit must be an integer from 0 to 2^64-1",
                    ));
                }
                Some(value)
            }
        };
        let log = match o.log_level.as_deref() {
            None => None,
            Some(text) => Some(parse_log_level(text)?),
        };
        Ok(LoadSettings {
            wasi: o.wasi,
            wasi_output: match o.wasi_output {
                None => WasiOutput::FromEnvironment,
                Some(true) => WasiOutput::Inherit,
                Some(false) => WasiOutput::Discard,
            },
            fuel_limit,
            http_response_headers: o.http_response_headers,
            log,
            functions: o.functions.into_iter().map(|f| (f.namespace, f.name)).collect(),
            fetch: o.fetch.unwrap_or(false),
        })
    }
}

/// The JS SDK's level for a plugin that logs nothing.
pub(crate) const SILENT: &str = "silent";

/// `trace`..`error`, or `silent` (`None`).
pub(crate) fn parse_log_level(text: &str) -> napi::Result<Option<LogLevel>> {
    match text {
        SILENT => Ok(None),
        _ => LogLevel::parse(text)
            .map(Some)
            .ok_or_else(|| napi::Error::new(napi::Status::InvalidArg, format!("unrecognized log level \"{text}\""))),
    }
}
