//! HTTP: the plugin's `http_request` (docs/abi.md, HTTP), restricted by
//! `allowed_hosts`, and the download of `url` wasm entries of a manifest.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};

/// The request a plugin sends, as JSON. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpRequest {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub method: Option<String>,
}

/// What the plugin gets back.
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// Whether `host` (no port, as URL parsing leaves it) matches one of the
/// allowed-host globs. `None` or an empty list allows nothing.
pub fn host_allowed(allowed: Option<&[String]>, host: &str) -> bool {
    allowed
        .unwrap_or_default()
        .iter()
        .any(|entry| match glob::Pattern::new(entry) {
            Ok(pattern) => pattern.matches(host),
            Err(_) => entry == host,
        })
}

const MAX_REDIRECTS: usize = 10;

fn host_error(message: String) -> Error {
    Error::new(ErrorKind::HostFunction, message)
}

/// Run a plugin's request. Redirects are followed by hand so that each hop is
/// checked against `allowed_hosts` (docs/compatibility.md, Runtime).
pub(crate) fn plugin_request(
    request: &HttpRequest,
    body: Option<&[u8]>,
    allowed: Option<&[String]>,
    max_body: u64,
    timeout: Option<Duration>,
) -> Result<HttpResponse> {
    let mut method = request.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let mut url = url::Url::parse(&request.url).map_err(|e| host_error(format!("Invalid URL: {e}")))?;
    let mut body = body;
    let mut builder = ureq::AgentBuilder::new().redirects(0);
    if let Some(t) = timeout {
        if t.is_zero() {
            return Err(Error::new(ErrorKind::Timeout, "timeout"));
        }
        builder = builder.timeout(t);
    }
    let agent = builder.build();
    for _ in 0..=MAX_REDIRECTS {
        let host = url.host_str().unwrap_or_default();
        if !host_allowed(allowed, host) {
            return Err(host_error(format!("HTTP request to {url} is not allowed")));
        }
        let mut req = agent.request_url(&method, &url);
        for (name, value) in &request.headers {
            req = req.set(name, value);
        }
        let result = match body {
            Some(bytes) => req.send_bytes(bytes),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(host_error(t.to_string())),
        };
        let status = response.status();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            if let Some(location) = response.header("location") {
                url = url
                    .join(location)
                    .map_err(|e| host_error(format!("Invalid URL: {e}")))?;
                if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                    method = "GET".into();
                    body = None;
                }
                continue;
            }
        }
        let mut headers = BTreeMap::new();
        for name in response.headers_names() {
            if let Some(value) = response.all(&name).last() {
                headers.insert(name.to_ascii_lowercase(), value.to_string());
            }
        }
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(max_body.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| host_error(e.to_string()))?;
        if bytes.len() as u64 > max_body {
            return Err(host_error(format!(
                "HTTP response exceeds the configured maximum number of bytes: {max_body}"
            )));
        }
        return Ok(HttpResponse {
            status,
            headers,
            body: bytes,
        });
    }
    Err(host_error(format!("too many redirects: {url}")))
}

/// Download a manifest's `url` module. No `allowed_hosts` check: that list
/// governs only the plugin's own requests.
pub(crate) fn fetch_module(url: &str, headers: &BTreeMap<String, String>, method: Option<&str>) -> Result<Vec<u8>> {
    let method = method.unwrap_or("GET").to_ascii_uppercase();
    let mut req = ureq::request(&method, url);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let response = req.call().map_err(|e| match e {
        ureq::Error::Status(code, _) => Error::manifest(format!("http status: {code}")),
        ureq::Error::Transport(t) => Error::manifest(t.to_string()),
    })?;
    let mut bytes = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::manifest(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn allowed_host_globs() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!host_allowed(None, "example.com"));
        assert!(!host_allowed(Some(&[]), "example.com"));
        let l = list(&["*.example.com"]);
        assert!(host_allowed(Some(&l), "a.b.example.com"));
        assert!(!host_allowed(Some(&l), "example.com"));
        let l = list(&["*"]);
        assert!(host_allowed(Some(&l), "anything.at.all"));
        let l = list(&["127.0.0.1:8080"]);
        assert!(!host_allowed(Some(&l), "127.0.0.1"));
        let l = list(&["exa?ple.com", "[bad"]);
        assert!(host_allowed(Some(&l), "example.com"));
        assert!(host_allowed(Some(&l), "[bad"));
        let l = list(&["Example.com"]);
        assert!(!host_allowed(Some(&l), "example.com"));
    }
}
