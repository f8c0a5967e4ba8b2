//! WASI preview 1 for plugins that ask for it (ABI.md §8): no arguments, no
//! environment, empty stdin, output discarded unless `EXTISM_ENABLE_WASI_OUTPUT`
//! is set, and the manifest's `allowed_paths` as preopened directories.

use wasmtime::Linker;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{wasmtime_text, Error, ErrorKind, Result};
use crate::manifest::Manifest;
use crate::state::PluginState;

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> Result<()> {
    let wrap = |e: wasmtime::Error| Error::compile(wasmtime_text(&e));
    wasmtime_wasi::p1::add_to_linker_sync(linker, |s: &mut PluginState| s.wasi_mut()).map_err(wrap)?;
    wasmtime_wasi::p0::add_to_linker_sync(linker, |s: &mut PluginState| s.wasi_mut()).map_err(wrap)?;
    Ok(())
}

/// The prefix of a read-only `allowed_paths` entry.
const READ_ONLY: &str = "ro:";

pub(crate) fn context(manifest: &Manifest) -> Result<WasiP1Ctx> {
    let mut builder = WasiCtxBuilder::new();
    if std::env::var_os("EXTISM_ENABLE_WASI_OUTPUT").is_some() {
        builder.inherit_stdout().inherit_stderr();
    }
    for (host, guest) in manifest.allowed_paths.iter().flatten() {
        let (host, perms) = match host.strip_prefix(READ_ONLY) {
            Some(path) => (path, FsPerms::ReadOnly),
            None => (host.as_str(), FsPerms::ReadWrite),
        };
        let guest = guest.to_string_lossy();
        builder
            .preopened_dir(host, guest.as_ref(), perms)
            .map_err(|e| Error::new(ErrorKind::Instantiate, wasmtime_text(&e)))?;
    }
    Ok(builder.build_p1())
}

impl PluginState {
    fn wasi_mut(&mut self) -> &mut WasiP1Ctx {
        // The WASI functions are only linked when a context is created.
        self.wasi.as_mut().expect("WASI context exists when WASI is linked")
    }
}
