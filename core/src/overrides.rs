//! What a host sets beside a manifest (an SDK's options, the CLI's flags)
//! and the one rule for how it meets the manifest's own values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::manifest::{Manifest, MemoryOptions, READ_ONLY_PREFIX};

/// What a host sets beside a manifest: an SDK's options, the CLI's flags.
/// [`Manifest::apply`] says how each meets the manifest's own value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestOverrides {
    /// Config values.
    pub config: Option<BTreeMap<String, String>>,
    /// Host globs plugin HTTP requests may reach.
    pub allowed_hosts: Option<Vec<String>>,
    /// Host path (with [`READ_ONLY_PREFIX`] for read-only) to guest path.
    pub allowed_paths: Option<BTreeMap<String, PathBuf>>,
    /// The per-call timeout.
    pub timeout_ms: Option<u64>,
    /// Memory, var and HTTP response limits; each one set replaces the manifest's.
    pub memory: MemoryOptions,
}

/// How [`ManifestOverrides`] meet the manifest's own values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// Each override that is set replaces the manifest's value, maps and
    /// lists included (the JS SDK's `opts.x || manifest.x`).
    Replace,
    /// Config entries, allowed hosts and allowed paths are added to the
    /// manifest's (an override wins on the same key); the other overrides
    /// replace (the official CLI's flags).
    Extend,
}

impl ManifestOverrides {
    /// `allowed_paths` from a guest path to host path map (the JS SDK's
    /// `allowedPaths`, the other way round from the manifest's). Two guest
    /// paths for one host path are refused: the manifest can hold only one.
    pub fn allowed_paths_from_guest(
        guest_to_host: impl IntoIterator<Item = (String, String)>,
    ) -> Result<BTreeMap<String, PathBuf>> {
        let mut paths: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (guest, host) in guest_to_host {
            if let Some(first) = paths.get(&host) {
                return Err(Error::invalid(format!(
                    "allowedPaths maps both \"{}\" and \"{guest}\" to the host path \"{host}\"",
                    first.display()
                )));
            }
            paths.insert(host, PathBuf::from(guest));
        }
        Ok(paths)
    }
}

/// An `allowed_paths` entry from `[ro:]HOST[:GUEST]` (the CLI's
/// `--allow-path`); GUEST is HOST when not given, and `ro:` stays with HOST.
pub fn path_mapping(spec: &str) -> (String, PathBuf) {
    let (prefix, rest) = match spec.strip_prefix(READ_ONLY_PREFIX) {
        Some(rest) => (READ_ONLY_PREFIX, rest),
        None => ("", spec),
    };
    let (host, guest) = rest.split_once(':').unwrap_or((rest, rest));
    (format!("{prefix}{host}"), PathBuf::from(guest))
}

impl Manifest {
    /// Apply a host's overrides, by `precedence`.
    pub fn apply(&mut self, overrides: ManifestOverrides, precedence: Precedence) {
        let ManifestOverrides {
            config,
            allowed_hosts,
            allowed_paths,
            timeout_ms,
            memory,
        } = overrides;
        match precedence {
            Precedence::Replace => {
                if let Some(config) = config {
                    self.config = config;
                }
                if allowed_hosts.is_some() {
                    self.allowed_hosts = allowed_hosts;
                }
                if allowed_paths.is_some() {
                    self.allowed_paths = allowed_paths;
                }
            }
            Precedence::Extend => {
                self.config.extend(config.unwrap_or_default());
                if let Some(hosts) = allowed_hosts.filter(|h| !h.is_empty()) {
                    self.allowed_hosts.get_or_insert_with(Vec::new).extend(hosts);
                }
                if let Some(paths) = allowed_paths.filter(|p| !p.is_empty()) {
                    self.allowed_paths.get_or_insert_with(BTreeMap::new).extend(paths);
                }
            }
        }
        if timeout_ms.is_some() {
            self.timeout_ms = timeout_ms;
        }
        if memory != MemoryOptions::default() {
            let own = self.memory.get_or_insert_with(MemoryOptions::default);
            own.max_pages = memory.max_pages.or(own.max_pages);
            own.max_http_response_bytes = memory.max_http_response_bytes.or(own.max_http_response_bytes);
            own.max_var_bytes = memory.max_var_bytes.or(own.max_var_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_or_extend() {
        let base = || {
            Manifest::parse(
                r#"{"wasm": [], "config": {"a": "1", "b": "2"}, "allowed_hosts": ["x"],
                    "allowed_paths": {"/h": "/g"}, "timeout_ms": 5, "memory": {"max_pages": 3}}"#,
            )
            .unwrap()
        };
        let overrides = ManifestOverrides {
            config: Some([("b".to_string(), "9".to_string())].into()),
            allowed_hosts: Some(vec!["y".into()]),
            allowed_paths: Some([path_mapping("ro:/h2:/g2")].into()),
            timeout_ms: None,
            memory: MemoryOptions {
                max_var_bytes: Some(7),
                ..Default::default()
            },
        };
        let mut replaced = base();
        replaced.apply(overrides.clone(), Precedence::Replace);
        assert_eq!(replaced.config, [("b".to_string(), "9".to_string())].into());
        assert_eq!(replaced.allowed_hosts, Some(vec!["y".to_string()]));
        assert_eq!(
            replaced.allowed_paths,
            Some([("ro:/h2".to_string(), "/g2".into())].into())
        );
        assert_eq!(replaced.timeout_ms, Some(5));
        assert_eq!((replaced.max_pages(), replaced.max_var_bytes()), (Some(3), 7));

        let mut extended = base();
        extended.apply(overrides, Precedence::Extend);
        assert_eq!(extended.config.get("a").map(String::as_str), Some("1"));
        assert_eq!(extended.config.get("b").map(String::as_str), Some("9"));
        assert_eq!(extended.allowed_hosts, Some(vec!["x".to_string(), "y".to_string()]));
        assert_eq!(extended.allowed_paths.as_ref().map(|p| p.len()), Some(2));

        // Nothing set: nothing changes.
        let mut same = base();
        same.apply(ManifestOverrides::default(), Precedence::Replace);
        assert_eq!(same, base());
    }

    #[test]
    fn path_mappings_and_guest_maps() {
        assert_eq!(path_mapping("/data"), ("/data".to_string(), "/data".into()));
        assert_eq!(path_mapping("/data:/mnt"), ("/data".to_string(), "/mnt".into()));
        assert_eq!(path_mapping("ro:/data"), ("ro:/data".to_string(), "/data".into()));
        assert_eq!(path_mapping("ro:/data:/mnt"), ("ro:/data".to_string(), "/mnt".into()));
        let paths = ManifestOverrides::allowed_paths_from_guest([("/g".to_string(), "/h".to_string())]).unwrap();
        assert_eq!(paths, [("/h".to_string(), "/g".into())].into());
        let e = ManifestOverrides::allowed_paths_from_guest([
            ("/a".to_string(), "/h".to_string()),
            ("/b".to_string(), "/h".to_string()),
        ])
        .unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::InvalidArgument);
        assert_eq!(
            e.message(),
            r#"allowedPaths maps both "/a" and "/b" to the host path "/h""#
        );
    }
}
