//! The JSON/TOML manifest (docs/manifest.md): its schema here, loading its
//! modules in `load`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Limits of the `memory` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryOptions {
    /// The most 64 KiB pages all memories of a plugin may grow by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// The largest HTTP response body a plugin may receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_http_response_bytes: Option<u64>,
    /// The most bytes the var store may hold (0 turns vars off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_var_bytes: Option<u64>,
}

/// Raw bytes at an address of the host process (`{"ptr": .., "len": ..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBytes {
    /// The address.
    pub ptr: u64,
    /// The number of bytes.
    pub len: u64,
}

/// The `data` of a wasm entry: base64 text, a host pointer, or the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WasmData {
    /// Base64 text of the module's bytes.
    Base64(String),
    /// An address and length in the host process (C API only).
    Raw(RawBytes),
    /// The module's bytes, from a host that holds them (never read from
    /// manifest text; written out as base64). Shared, so that a manifest
    /// of a large module is cloned and loaded without copying it.
    #[serde(skip_deserializing, serialize_with = "serialize_base64")]
    Bytes(Arc<Vec<u8>>),
}

fn serialize_base64<S: serde::Serializer>(bytes: &Arc<Vec<u8>>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes.as_slice()))
}

/// One module of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "WasmEntry")]
pub enum Wasm {
    /// A module read from a file.
    File {
        /// The file's path.
        path: PathBuf,
        /// The link name (docs/manifest.md, Wasm entries).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The SHA-256 the module's bytes must have (hex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    /// A module given inline.
    Data {
        /// The module's bytes.
        data: WasmData,
        /// The link name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The SHA-256 the module's bytes must have (hex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    /// A module fetched over HTTP(S).
    Url {
        /// The URL.
        url: String,
        /// Request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// The request method (`GET` by default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// The link name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The SHA-256 the module's bytes must have (hex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
}

/// Every key a wasm entry may have; `Wasm` is built from it so that exactly
/// one form is chosen and unknown keys are refused (serde's `untagged` would
/// silently accept extra keys).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WasmEntry {
    path: Option<PathBuf>,
    data: Option<WasmData>,
    url: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    method: Option<String>,
    name: Option<String>,
    hash: Option<String>,
}

impl TryFrom<WasmEntry> for Wasm {
    type Error = String;

    fn try_from(e: WasmEntry) -> std::result::Result<Wasm, String> {
        let not_url = e.headers.is_none() && e.method.is_none();
        match (e.path, e.data, e.url) {
            (Some(path), None, None) if not_url => Ok(Wasm::File {
                path,
                name: e.name,
                hash: e.hash,
            }),
            (None, Some(data), None) if not_url => {
                // Decoded once, here: loading then borrows the bytes.
                let data = match data {
                    WasmData::Base64(text) => WasmData::Bytes(Arc::new(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map_err(|e| e.to_string())?,
                    )),
                    other => other,
                };
                Ok(Wasm::Data {
                    data,
                    name: e.name,
                    hash: e.hash,
                })
            }
            (None, None, Some(url)) => Ok(Wasm::Url {
                url,
                headers: e.headers.unwrap_or_default(),
                method: e.method,
                name: e.name,
                hash: e.hash,
            }),
            _ => Err("a wasm entry needs exactly one of path, data or url".into()),
        }
    }
}

impl Wasm {
    /// The module bytes, bytes from a file, bytes at a raw address or a download.
    pub fn data(bytes: impl Into<Vec<u8>>) -> Wasm {
        Wasm::Data {
            data: WasmData::Bytes(Arc::new(bytes.into())),
            name: None,
            hash: None,
        }
    }

    fn meta(&self) -> (&Option<String>, &Option<String>) {
        match self {
            Wasm::File { name, hash, .. } | Wasm::Data { name, hash, .. } | Wasm::Url { name, hash, .. } => {
                (name, hash)
            }
        }
    }
}

/// The manifest of docs/manifest.md, Fields. Unknown keys are rejected at every level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The modules; the one named `main` (or else the last) is called.
    #[serde(default)]
    pub wasm: Vec<Wasm>,
    /// Memory, var and HTTP response limits.
    #[serde(default)]
    pub memory: Option<MemoryOptions>,
    /// Config values plugins read with `config_get`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Host globs plugin HTTP requests may reach (none when unset).
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// Host directories preopened for WASI, host path to guest path
    /// (`ro:` in front of a host path: read-only).
    #[serde(default)]
    pub allowed_paths: Option<BTreeMap<String, PathBuf>>,
    /// A wall-clock limit per call (and for instantiation), in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The default of `memory.max_http_response_bytes` (50 MiB).
pub const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 * 1024 * 1024;
/// The default of `memory.max_var_bytes` (1 MiB).
pub const DEFAULT_MAX_VAR_BYTES: u64 = 1024 * 1024;

impl Manifest {
    /// A manifest of one module.
    pub fn new(wasm: Wasm) -> Manifest {
        Manifest {
            wasm: vec![wasm],
            ..Default::default()
        }
    }

    /// Parse manifest text: TOML first, then JSON (docs/manifest.md, Input classification).
    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = match toml::from_str::<Manifest>(text) {
            Ok(m) => m,
            Err(_) => serde_json::from_str(text).map_err(|_| unknown_format())?,
        };
        Ok(manifest)
    }

    /// `memory.max_var_bytes`, or its default (1 MiB).
    pub fn max_var_bytes(&self) -> u64 {
        self.memory
            .as_ref()
            .and_then(|m| m.max_var_bytes)
            .unwrap_or(DEFAULT_MAX_VAR_BYTES)
    }

    /// `memory.max_http_response_bytes`, or its default (50 MiB).
    pub fn max_http_response_bytes(&self) -> u64 {
        self.memory
            .as_ref()
            .and_then(|m| m.max_http_response_bytes)
            .unwrap_or(DEFAULT_MAX_HTTP_RESPONSE_BYTES)
    }

    /// `memory.max_pages`, if set.
    pub fn max_pages(&self) -> Option<u32> {
        self.memory.as_ref().and_then(|m| m.max_pages)
    }
}

/// The prefix of an `allowed_paths` host path that is mounted read-only.
pub const READ_ONLY_PREFIX: &str = "ro:";

mod load;
pub use load::{LoadOptions, NamedModule, MAIN};

fn unknown_format() -> Error {
    Error::manifest("Unknown manifest format")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn schema_is_strict() {
        for bad in [
            r#"{"wasm": [{"data": "AGFzbQEAAAA=", "path": "x"}]}"#,
            r#"{"wasm": [{"data": "not base64!"}]}"#,
            r#"{"wasm": [], "bogus": 1}"#,
            r#"{"wasm": [], "memory": {"max_pages": 1, "x": 2}}"#,
            r#"{"wasm": [], "config": {"a": 1}}"#,
            r#"{"wasm": [{"data": [0, 97, 115, 109]}]}"#,
            r#"{"wasm": [{"url": "http://x", "bogus": 1}]}"#,
            "{",
        ] {
            let e = Manifest::parse(bad).err().unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(e.message(), "Unknown manifest format", "{bad}");
        }
        let m = Manifest::parse(
            r#"{"wasm": [{"data": "AGFzbQEAAAA=", "name": "x", "hash": "h"}],
                "memory": {"max_pages": 2, "max_var_bytes": null},
                "config": {"a": "b"}, "allowed_hosts": null, "allowed_paths": {"/a": "/b"},
                "timeout_ms": 5}"#,
        )
        .unwrap();
        assert_eq!(m.max_pages(), Some(2));
        assert_eq!(m.max_var_bytes(), DEFAULT_MAX_VAR_BYTES);
        assert_eq!(m.timeout_ms, Some(5));
        let toml =
            Manifest::parse("timeout_ms = 1000\nwasm = [{ data = \"AGFzbQEAAAA=\" }]\n[config]\ngreeting = \"hi\"\n")
                .unwrap();
        assert_eq!(toml.config["greeting"], "hi");
    }

    #[test]
    fn naming_and_hashes() {
        let empty = "AGFzbQEAAAA=";
        let two_unnamed = Manifest::parse(&format!(
            r#"{{"wasm": [{{"data": "{empty}"}}, {{"data": "{empty}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(
            two_unnamed
                .load_modules(LoadOptions::default())
                .err()
                .unwrap()
                .message(),
            "Duplicate module name found in Extism manifest: main"
        );
        let named = Manifest::parse(&format!(
            r#"{{"wasm": [{{"data": "{empty}", "name": "lib"}}, {{"data": "{empty}", "name": "other"}}]}}"#
        ))
        .unwrap();
        let names: Vec<_> = named
            .load_modules(LoadOptions::default())
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["lib", "main"]);
        let sha = hex(&Sha256::digest(b"\0asm\x01\0\0\0"));
        let ok = Manifest::parse(&format!(r#"{{"wasm": [{{"data": "{empty}", "hash": "{sha}"}}]}}"#)).unwrap();
        assert!(ok.load_modules(LoadOptions::default()).is_ok());
        let upper = sha.to_uppercase();
        let bad = Manifest::parse(&format!(r#"{{"wasm": [{{"data": "{empty}", "hash": "{upper}"}}]}}"#)).unwrap();
        let e = bad.load_modules(LoadOptions::default()).err().unwrap();
        assert_eq!(e.message(), format!("Hash mismatch, found {sha} but expected {upper}"));
        assert_eq!(e.kind(), crate::error::ErrorKind::HashMismatch);
        assert_eq!(
            e.detail(),
            Some(&crate::error::ErrorDetail::HashMismatch {
                module: "main".into(),
                expected: upper.clone(),
                found: sha.clone(),
            })
        );
        let missing = Manifest::parse(r#"{"wasm": [{"path": "/no/such/file.wasm"}]}"#).unwrap();
        assert_eq!(
            missing.load_modules(LoadOptions::default()).err().unwrap().message(),
            "Unable to load Wasm file \"/no/such/file.wasm\": entity not found"
        );
    }
}
