//! Debugging dumps written when a call fails, as in the official runtime:
//! a wasm coredump of the trap (`EXTISM_COREDUMP=path`) and the bytes of
//! Extism memory (`EXTISM_MEMDUMP=path`), or the same set per plugin through
//! `PluginBuilder::with_coredump` / `with_memdump`.

use std::path::PathBuf;

/// Where a failed call's dumps go (`None`: not written).
#[derive(Clone, Debug, Default)]
pub(crate) struct Dumps {
    pub coredump: Option<PathBuf>,
    pub memdump: Option<PathBuf>,
}

impl Dumps {
    /// The builder's paths, or else the environment's.
    pub fn resolve(coredump: Option<PathBuf>, memdump: Option<PathBuf>) -> Dumps {
        let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Dumps {
            coredump: coredump.or_else(|| from_env("EXTISM_COREDUMP")),
            memdump: memdump.or_else(|| from_env("EXTISM_MEMDUMP")),
        }
    }

    /// Write `bytes` to `path`; a failure is logged, never returned: the
    /// call's own error is what the host must see.
    pub fn write(path: &PathBuf, what: &str, bytes: &[u8]) {
        if let Err(e) = std::fs::write(path, bytes) {
            tracing::error!("unable to write the {what} to {}: {e}", path.display());
        }
    }
}
