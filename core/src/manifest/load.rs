//! Loading a manifest's modules: fetched, checked against their hashes and named.

use std::borrow::Cow;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{hex, unknown_format, Manifest, Wasm, WasmData};
use crate::error::{Error, Result};

/// A module of a loaded manifest, with its final link name.
pub struct NamedModule<'a> {
    /// The link name.
    pub name: String,
    /// The module's bytes (wasm or WAT), borrowed from the manifest when it holds them.
    pub bytes: Cow<'a, [u8]>,
}

/// Options that decide how wasm entries are fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Accept `{"ptr", "len"}` data entries. Only an FFI caller, whose own
    /// memory those addresses are, may turn this on.
    pub allow_raw_pointers: bool,
}

/// The name a module of the manifest is linked under; the last one becomes
/// `main` unless an earlier one took that name (docs/manifest.md, Which module is main).
pub const MAIN: &str = "main";

impl Manifest {
    /// Fetch, verify and name every module.
    pub fn load_modules(&self, options: LoadOptions) -> Result<Vec<NamedModule<'_>>> {
        if self.wasm.is_empty() {
            return Err(Error::manifest("No wasm files specified in Extism manifest"));
        }
        let count = self.wasm.len();
        let mut modules: Vec<NamedModule> = Vec::with_capacity(count);
        let mut have_main = false;
        for (index, wasm) in self.wasm.iter().enumerate() {
            let (name, hash) = wasm.meta();
            let bytes = fetch(wasm, options)?;
            let is_last = index + 1 == count;
            let name = if count == 1 || (is_last && !have_main) {
                MAIN.to_string()
            } else {
                name.clone().unwrap_or_else(|| MAIN.to_string())
            };
            if let Some(expected) = hash {
                let actual = hex(&Sha256::digest(&bytes));
                if &actual != expected {
                    return Err(Error::hash_mismatch(&name, expected, &actual));
                }
            }
            if name == MAIN {
                have_main = true;
            }
            if name == crate::kernel::ENV_MODULE || modules.iter().any(|m| m.name == name) {
                return Err(Error::manifest(format!(
                    "Duplicate module name found in Extism manifest: {name}"
                )));
            }
            modules.push(NamedModule { name, bytes });
        }
        Ok(modules)
    }
}

fn fetch(wasm: &Wasm, options: LoadOptions) -> Result<Cow<'_, [u8]>> {
    let owned = match wasm {
        Wasm::Data {
            data: WasmData::Bytes(bytes),
            ..
        } => return Ok(Cow::Borrowed(bytes.as_slice())),
        Wasm::File { path, .. } => std::fs::read(path).map_err(|e| {
            Error::manifest(format!(
                "Unable to load Wasm file \"{}\": {}",
                path.display(),
                io_kind_text(&e)
            ))
        }),
        Wasm::Data {
            data: WasmData::Base64(text),
            ..
        } => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| unknown_format()),
        Wasm::Data {
            data: WasmData::Raw(raw),
            ..
        } => {
            if !options.allow_raw_pointers {
                return Err(Error::manifest(
                    "wasm data given as a {ptr, len} address is only accepted from the C API",
                ));
            }
            if raw.ptr == 0 || raw.len > isize::MAX as u64 {
                return Err(Error::manifest("invalid {ptr, len} wasm data"));
            }
            // SAFETY: the C caller vouches that this range of its own memory is
            // readable; that is the documented contract of the {ptr, len} form.
            let slice = unsafe { std::slice::from_raw_parts(raw.ptr as usize as *const u8, raw.len as usize) };
            Ok(slice.to_vec())
        }
        Wasm::Url {
            url, headers, method, ..
        } => crate::http::fetch_module(url, headers, method.as_deref()),
    };
    owned.map(Cow::Owned)
}

/// Rust's `ErrorKind` text, as the official runtime reports file errors.
fn io_kind_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "entity not found".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "is a directory".into(),
        _ => e.kind().to_string(),
    }
}
