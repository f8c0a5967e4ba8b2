//! Compiled modules kept on disk between processes, uncompressed, so that
//! loading one maps the file (`Module::deserialize_file`) instead of reading,
//! decompressing and copying it as wasmtime's own cache does.
//!
//! Where and how much follow wasmtime's cache configuration, as the official
//! runtime's cache does: `EXTISM_CACHE_CONFIG` unset means wasmtime's
//! default configuration (directory `~/.cache/wasmtime`), empty means no
//! cache, a path names a configuration file. The files go to the `extism`
//! folder of that directory, one folder per engine configuration; past the
//! configuration's total-size soft limit the files used least recently
//! (by modification time, which a load refreshes) are removed.
//!
//! As with wasmtime's cache, the directory is trusted: whoever can write
//! there can run code in the processes that load from it.

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use wasmtime::{Engine, Module};

use crate::error::{wasmtime_text, Error, ErrorKind, Result};

/// The variable that names the cache configuration file.
pub const CACHE_CONFIG_ENV: &str = "EXTISM_CACHE_CONFIG";

/// The cache's place and bound, from the configuration.
pub(crate) struct DiskCache {
    dir: PathBuf,
    soft_limit: u64,
}

static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

/// Loads and stores from this process: (hits, misses).
pub(crate) fn counts() -> (u64, u64) {
    (HITS.load(Ordering::Relaxed), MISSES.load(Ordering::Relaxed))
}

impl DiskCache {
    /// The configured cache, `None` when it is off. A configuration file
    /// that cannot be read is an error, as it is for the official runtime.
    pub(crate) fn configured() -> Result<Option<&'static DiskCache>> {
        static CACHE: OnceLock<Result<Option<DiskCache>>> = OnceLock::new();
        CACHE
            .get_or_init(|| {
                let config = match std::env::var_os(CACHE_CONFIG_ENV) {
                    Some(path) if path.is_empty() => return Ok(None),
                    Some(path) => wasmtime::CacheConfig::from_file(Some(Path::new(&path)))
                        .map_err(|e| Error::new(ErrorKind::Compile, format!("cache config: {}", wasmtime_text(&e))))?,
                    // A missing or unreadable default configuration only means no cache.
                    None => match wasmtime::CacheConfig::from_file(None) {
                        Ok(config) => config,
                        Err(_) => return Ok(None),
                    },
                };
                Ok(config.directory().map(|dir| DiskCache {
                    dir: dir.join("extism"),
                    soft_limit: config.files_total_size_soft_limit(),
                }))
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// The module stored for `key` under `engine`, or the one `compile`
    /// makes (then stored). `compile` also says whether the module is a
    /// rewrite of the input (`crate::inline`), which is kept with it.
    pub(crate) fn module(
        &self,
        engine: &Engine,
        key: &[u8; 32],
        compile: impl FnOnce() -> Result<(Module, bool)>,
    ) -> Result<(Module, bool)> {
        let folder = self.dir.join(engine_folder(engine));
        let name = crate::manifest::hex(key);
        let stored = [
            (true, folder.join(format!("{name}-r.cwasm"))),
            (false, folder.join(format!("{name}.cwasm"))),
        ];
        for (rewritten, path) in stored {
            if !path.exists() {
                continue;
            }
            // SAFETY: the files are this cache's own serializations of
            // modules for this engine configuration (the folder's name is
            // its compatibility hash); wasmtime checks the header and the
            // engine settings again and refuses a file that does not match.
            // The directory is trusted, as wasmtime's cache directory is.
            match unsafe { Module::deserialize_file(engine, &path) } {
                Ok(module) => {
                    HITS.fetch_add(1, Ordering::Relaxed);
                    // Refreshed, so the bound removes the least recently used first.
                    let _ = std::fs::File::options()
                        .append(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    return Ok((module, rewritten));
                }
                // Truncated, from another version, or corrupt: made again.
                Err(_) => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        MISSES.fetch_add(1, Ordering::Relaxed);
        let (module, rewritten) = compile()?;
        let path = folder.join(if rewritten {
            format!("{name}-r.cwasm")
        } else {
            format!("{name}.cwasm")
        });
        // Failing to store only means compiling again next time.
        if let Ok(bytes) = module.serialize() {
            if store(&folder, &path, &bytes).is_ok() {
                self.shrink();
            }
        }
        Ok((module, rewritten))
    }

    /// Remove the files used least recently until the cache is within its
    /// bound (the file just stored, the newest, goes last).
    fn shrink(&self) {
        let Ok(folders) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = folders
            .flatten()
            .filter_map(|folder| std::fs::read_dir(folder.path()).ok())
            .flat_map(|entries| entries.flatten())
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), entry.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum::<u64>();
        if total <= self.soft_limit {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.soft_limit {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(len);
            }
        }
    }
}

/// Written whole or not at all: to a file of its own, then renamed.
fn store(folder: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(folder)?;
    let temporary = folder.join(format!(
        ".{}.{}.tmp",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&temporary).and_then(|mut f| f.write_all(bytes));
    match written.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// A folder per engine configuration (and per version of this runtime,
/// whose rewrites and kernel are part of what a file holds).
fn engine_folder(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    crate::kernel::KERNEL_WAT.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
