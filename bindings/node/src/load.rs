//! What `load`/`loadSync` take: the JS options ([`JsLoadOptions`], made by
//! `lib/manifest.js`) turned into the [`LoadSettings`] of a `PluginBuilder`,
//! and the manifest values set beside the manifest ([`JsOverrides`]) turned
//! into the core's [`ManifestOverrides`].

use std::collections::HashMap;

use extism_core::log::LogLevel;
use extism_core::manifest::MemoryOptions;
use extism_core::overrides::ManifestOverrides;
use extism_core::WasiOutput;
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// A host function's place in `functions`, by namespace and name.
#[napi(object)]
pub struct JsFunctionName {
    pub namespace: String,
    pub name: String,
}

/// Manifest values in the JS SDK's spelling, set beside the manifest: the
/// `createPlugin` options, or a manifest object's camelCase keys. Counts are
/// non-negative integers (`lib/manifest.js` converts them).
#[napi(object)]
#[derive(Clone)]
pub struct JsOverrides {
    pub config: Option<HashMap<String, String>>,
    pub allowed_hosts: Option<Vec<String>>,
    /// `allowedPaths` as `[guest, host]` pairs, in the object's order (the
    /// JS SDK's direction; the core turns it round).
    pub allowed_paths: Option<Vec<(String, String)>>,
    pub timeout_ms: Option<f64>,
    pub max_pages: Option<f64>,
    pub max_http_response_bytes: Option<f64>,
    pub max_var_bytes: Option<f64>,
}

impl JsOverrides {
    /// The core's overrides; an `allowedPaths` that maps two guest paths to
    /// one host path fails as the core says.
    pub(crate) fn to_core(&self) -> extism_core::Result<ManifestOverrides> {
        // A JS number as the core's integer: `as` saturates, and a limit
        // beyond the type's range means the same as its largest value.
        let count = |n: f64| n as u64;
        let allowed_paths = match &self.allowed_paths {
            None => None,
            Some(pairs) => Some(ManifestOverrides::allowed_paths_from_guest(pairs.iter().cloned())?),
        };
        Ok(ManifestOverrides {
            config: self.config.clone().map(|c| c.into_iter().collect()),
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_paths,
            timeout_ms: self.timeout_ms.map(count),
            memory: MemoryOptions {
                max_pages: self.max_pages.map(|n| n as u32),
                max_http_response_bytes: self.max_http_response_bytes.map(count),
                max_var_bytes: self.max_var_bytes.map(count),
            },
        })
    }
}

/// The `PluginBuilder` settings that JS options turn into.
#[napi(object)]
pub struct JsLoadOptions {
    /// Applied to the manifest in order, each by the core's
    /// `Precedence::Replace` (the JS SDK's `opts.x || manifest.x`): a
    /// manifest object's camelCase keys, then the options.
    pub overrides: Vec<JsOverrides>,
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
    pub overrides: Vec<JsOverrides>,
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
        // `lib/manifest.js` checks fuelLimit (a TypeError, as for other
        // options) and passes a BigInt from 0 to 2^64-1.
        let fuel_limit = match o.fuel_limit.map(|b| b.get_u64()) {
            None => None,
            Some((false, value, true)) => Some(value),
            Some(_) => {
                return Err(napi::Error::from_reason(
                    "fuelLimit: expected a u64 from lib/manifest.js",
                ))
            }
        };
        let log = match o.log_level.as_deref() {
            None => None,
            Some(text) => Some(parse_log_level(text)?),
        };
        Ok(LoadSettings {
            overrides: o.overrides,
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
