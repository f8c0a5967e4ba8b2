//! `PluginBuilder`: the options for creating a plugin, set the same way by
//! every frontend, and the two ways to use them: compile once
//! ([`CompiledPlugin`]) or build one [`Plugin`] at once.

use std::sync::Arc;

use crate::compiled::{compile, CompileOptions, CompiledPlugin};
use crate::dump::Dumps;
use crate::engine::Compiler;
use crate::error::Result;
use crate::function::Function;
use crate::log::LogSink;
use crate::manifest::{LoadOptions, Manifest, Wasm};
use crate::plugin::Plugin;
use crate::source::{classify_owned, Source};
use crate::wasi::WasiOutput;

/// Options for creating a plugin. Every frontend sets them through these
/// methods, so they mean the same everywhere.
#[derive(Clone)]
pub struct PluginBuilder {
    source: BuilderSource,
    wasi: bool,
    wasi_output: WasiOutput,
    functions: Vec<Function>,
    fuel_limit: Option<u64>,
    load: LoadOptions,
    log: Option<LogSink>,
    http_response_headers: bool,
    coredump: Option<std::path::PathBuf>,
    memdump: Option<std::path::PathBuf>,
    compiler: Option<Compiler>,
}

#[derive(Clone)]
enum BuilderSource {
    Bytes(Vec<u8>),
    Manifest(Box<Manifest>),
}

impl PluginBuilder {
    /// From wasm bytes, WAT text or manifest text (JSON or TOML), classified
    /// as docs/manifest.md, Input classification, says.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self::with_source(BuilderSource::Bytes(bytes.into()))
    }

    /// From a manifest value.
    pub fn from_manifest(manifest: Manifest) -> Self {
        Self::with_source(BuilderSource::Manifest(Box::new(manifest)))
    }

    fn with_source(source: BuilderSource) -> Self {
        PluginBuilder {
            source,
            wasi: false,
            wasi_output: WasiOutput::FromEnvironment,
            functions: Vec::new(),
            fuel_limit: None,
            load: LoadOptions::default(),
            log: None,
            http_response_headers: false,
            coredump: None,
            memdump: None,
            compiler: None,
        }
    }

    /// Provide WASI preview 1 (and the legacy `wasi_unstable`).
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.wasi = wasi;
        self
    }

    /// Where the plugin's WASI stdout and stderr go (with WASI on).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use extism_core::{PluginBuilder, WasiOutput};
    ///
    /// let wat = r#"(module
    ///   (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    ///   (memory (export "memory") 1)
    ///   (data (i32.const 0) "hi\n")
    ///   (func (export "run") (result i32)
    ///     (i32.store (i32.const 8) (i32.const 0))
    ///     (i32.store (i32.const 12) (i32.const 3))
    ///     (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))
    ///     (i32.const 0)))"#;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let mut plugin = PluginBuilder::new(wat)
    ///     .with_wasi(true)
    ///     .with_wasi_output(WasiOutput::Writer(Arc::new(move |_, bytes: &[u8]| {
    ///         sink.lock().unwrap().extend_from_slice(bytes)
    ///     })))
    ///     .build()
    ///     .unwrap();
    /// plugin.call("run", b"").unwrap();
    /// assert_eq!(*seen.lock().unwrap(), b"hi\n");
    /// ```
    pub fn with_wasi_output(mut self, output: WasiOutput) -> Self {
        self.wasi_output = output;
        self
    }

    /// A host function plugins may import (later ones of the same name win).
    pub fn with_function(mut self, f: Function) -> Self {
        self.functions.push(f);
        self
    }

    /// Several host functions, as `with_function` each.
    pub fn with_functions(mut self, fs: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(fs);
        self
    }

    /// A fuel budget, refilled at the start of every call.
    pub fn with_fuel_limit(mut self, limit: Option<u64>) -> Self {
        self.fuel_limit = limit;
        self
    }

    /// Accept `{"ptr", "len"}` wasm data (only for callers whose memory that is).
    pub fn allow_raw_pointers(mut self, allow: bool) -> Self {
        self.load.allow_raw_pointers = allow;
        self
    }

    /// Send this plugin's log messages to `sink` instead of the global logger.
    pub fn with_log_sink(mut self, sink: Option<LogSink>) -> Self {
        self.log = sink;
        self
    }

    /// Record HTTP response headers for `http_headers` from the start.
    pub fn with_http_response_headers(mut self, enabled: bool) -> Self {
        self.http_response_headers = enabled;
        self
    }

    /// When a call traps, write a wasm coredump of it to `path` (as
    /// `EXTISM_COREDUMP` does, which applies when this is not set).
    pub fn with_coredump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.coredump = Some(path.into());
        self
    }

    /// When a call fails, write Extism memory's bytes to `path` (as
    /// `EXTISM_MEMDUMP` does, which applies when this is not set).
    pub fn with_memdump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.memdump = Some(path.into());
        self
    }

    /// Compile with `compiler` (as `EXTISM_COMPILER` does, which applies
    /// when this is not set; Cranelift when neither is).
    pub fn with_compiler(mut self, compiler: Compiler) -> Self {
        self.compiler = Some(compiler);
        self
    }

    /// Compile without creating an instance.
    pub fn compile(self) -> Result<CompiledPlugin> {
        let compiler = match self.compiler {
            Some(compiler) => compiler,
            None => Compiler::from_environment()?,
        };
        let manifest = match self.source {
            BuilderSource::Manifest(m) => *m,
            BuilderSource::Bytes(bytes) => match classify_owned(bytes)? {
                Source::Manifest(m) => *m,
                Source::Module(bytes) => Manifest::new(Wasm::data(bytes)),
            },
        };
        let options = CompileOptions {
            wasi: self.wasi,
            wasi_output: self.wasi_output.resolve(),
            fuel_limit: self.fuel_limit,
            load: self.load,
            dumps: Dumps::resolve(self.coredump, self.memdump),
            compiler,
        };
        let inner = compile(manifest, self.functions, options)?;
        Ok(CompiledPlugin { inner: Arc::new(inner) })
    }

    /// Compile and create the plugin (instantiated now, so link errors and
    /// initializer failures are reported here).
    pub fn build(self) -> Result<Plugin> {
        let log = self.log.clone();
        let headers = self.http_response_headers;
        let compiled = self.compile()?;
        let mut plugin = Plugin::new(&compiled, log)?;
        if headers {
            plugin.allow_http_response_headers();
        }
        Ok(plugin)
    }
}

impl Plugin {
    /// Compile and create a plugin from wasm, WAT or manifest bytes.
    pub fn create(bytes: impl Into<Vec<u8>>, functions: Vec<Function>, wasi: bool) -> Result<Plugin> {
        PluginBuilder::new(bytes)
            .with_functions(functions)
            .with_wasi(wasi)
            .build()
    }
}
