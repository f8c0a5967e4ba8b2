//! What a plugin is created from: the classification of input bytes (wasm,
//! WAT or manifest text) and of a string a frontend is given as a source.

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// What the bytes given to a constructor turned out to be.
pub enum Source {
    /// A single wasm binary or WAT text, compiled as `main`.
    Module(Vec<u8>),
    /// A JSON or TOML manifest.
    Manifest(Box<Manifest>),
}

/// Classify constructor input as docs/manifest.md, Input classification, describes.
pub fn classify(bytes: &[u8]) -> Result<Source> {
    classify_owned(bytes.to_vec())
}

/// [`classify`], keeping the bytes of a module without copying them.
pub fn classify_owned(bytes: Vec<u8>) -> Result<Source> {
    if bytes.starts_with(b"\0asm") {
        return Ok(Source::Module(bytes));
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(Error::compile("input bytes aren't valid utf-8"));
    };
    if is_wat(text) {
        return Ok(Source::Module(bytes));
    }
    Ok(Source::Manifest(Box::new(Manifest::parse(text)?)))
}

fn is_wat(text: &str) -> bool {
    let trimmed = text.trim_start();
    if let Some(rest) = text.strip_prefix('(') {
        if rest.trim_start().starts_with("module") && trimmed.len() > 2 {
            return true;
        }
    }
    trimmed.starts_with(";;") || trimmed.starts_with("(;")
}

/// What a string given as a plugin's source names. The SDKs take a string
/// where a manifest object or wasm bytes could go; each frontend then does
/// what its official SDK does with that kind (read the file, make a `path`
/// or `url` entry, or hand the text to [`classify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextSource {
    /// WAT text.
    Wat,
    /// JSON or TOML manifest text.
    Manifest,
    /// An `http:` or `https:` URL.
    Url,
    /// A `file:` URL, naming a path.
    FileUrl,
    /// A path on this machine (which may not exist).
    Path,
}

impl TextSource {
    /// The kind's name as frontends expose it (`wat`, `manifest`, `url`, `file_url`, `path`).
    pub fn as_str(self) -> &'static str {
        match self {
            TextSource::Wat => "wat",
            TextSource::Manifest => "manifest",
            TextSource::Url => "url",
            TextSource::FileUrl => "file_url",
            TextSource::Path => "path",
        }
    }
}

/// Classify a string given as a source, in this order: WAT; JSON (it starts
/// with `{`); an `http(s)://` or `file://` URL; the path of an existing file;
/// TOML manifest text; else a path, so that a missing file is reported as one.
pub fn classify_text(text: &str) -> TextSource {
    if is_wat(text) {
        return TextSource::Wat;
    }
    if text.trim_start().starts_with('{') {
        return TextSource::Manifest;
    }
    let scheme = |prefix: &str| text.get(..prefix.len()).is_some_and(|s| s.eq_ignore_ascii_case(prefix));
    if scheme("http://") || scheme("https://") {
        return TextSource::Url;
    }
    if scheme("file://") {
        return TextSource::FileUrl;
    }
    if Path::new(text).is_file() {
        return TextSource::Path;
    }
    if Manifest::parse(text).is_ok() {
        return TextSource::Manifest;
    }
    TextSource::Path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::LoadOptions;

    #[test]
    fn classification() {
        assert!(matches!(classify(b"\0asm\x01\0\0\0").unwrap(), Source::Module(_)));
        assert!(matches!(classify(b"(module)").unwrap(), Source::Module(_)));
        assert!(matches!(classify(b";; c\n(module)").unwrap(), Source::Module(_)));
        assert!(matches!(classify(b"  ;; c\n(module)").unwrap(), Source::Module(_)));
        let e = classify(b"  (module)").err().unwrap();
        assert_eq!(e.message(), "Unknown manifest format");
        let e = classify(b"\xff\xfe").err().unwrap();
        assert_eq!(e.message(), "input bytes aren't valid utf-8");
        let Source::Manifest(m) = classify(b"").unwrap() else {
            panic!()
        };
        assert_eq!(
            m.load_modules(LoadOptions::default()).err().unwrap().message(),
            "No wasm files specified in Extism manifest"
        );
    }

    #[test]
    fn text_classification() {
        use TextSource::*;
        assert_eq!(classify_text("(module)"), Wat);
        assert_eq!(classify_text(";; a plugin\n(module)"), Wat);
        assert_eq!(classify_text(r#" {"wasm": []}"#), Manifest);
        assert_eq!(classify_text("{ not json"), Manifest);
        assert_eq!(classify_text("https://example.com/p.wasm"), Url);
        assert_eq!(classify_text("HTTP://example.com/p.wasm"), Url);
        assert_eq!(classify_text("file:///tmp/p.wasm"), FileUrl);
        assert_eq!(classify_text("[[wasm]]\npath = \"p.wasm\""), Manifest);
        assert_eq!(classify_text("plugins/missing.wasm"), Path);
        assert_eq!(classify_text(""), Manifest);

        // An existing file wins over manifest text of the same spelling.
        let dir = std::env::temp_dir().join(format!("extism-classify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("timeout_ms = 5");
        std::fs::write(&file, b"\0asm\x01\0\0\0").unwrap();
        let name = file.to_str().unwrap();
        assert_eq!(classify_text(name), Path);
        assert_eq!(classify_text("timeout_ms = 5"), Manifest);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
