//! HTTP: the plugin's `http_request` (docs/abi.md, HTTP), restricted by
//! `allowed_hosts`, and the download of `url` wasm entries of a manifest.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

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

/// One request of a plugin as an [`HttpClient`] gets it: its host already
/// matched `allowed_hosts`. Redirects come back to the runtime, which checks
/// the next host and asks the client again, so a client must not follow them
/// itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientRequest {
    /// The URL the plugin asked for (or a redirect's target).
    pub url: String,
    /// Upper case (`GET` when the plugin gave none).
    pub method: String,
    /// The plugin's request headers.
    pub headers: BTreeMap<String, String>,
    /// The request body, if the plugin gave one.
    pub body: Option<Vec<u8>>,
    /// The time left before the call's timeout, if it has one.
    pub timeout: Option<Duration>,
    /// `memory.max_http_response_bytes`: a longer body fails the request, so
    /// a client may stop reading after `max_body + 1` bytes.
    pub max_body: u64,
}

/// A client's answer. Header names are compared without case; for a name
/// given twice the last value wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpClientResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers as (name, value).
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

/// Sends a plugin's HTTP requests in place of the runtime's own client (see
/// `Function::http_client`). An `Err` fails the plugin's `http_request`.
pub type HttpClient = dyn Fn(&HttpClientRequest) -> Result<HttpClientResponse> + Send + Sync;

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

/// The response of one hop, from either client.
enum Hop {
    Runtime(Box<ureq::Response>),
    Client(HttpClientResponse),
}

impl Hop {
    fn status(&self) -> u16 {
        match self {
            Hop::Runtime(r) => r.status(),
            Hop::Client(r) => r.status,
        }
    }

    fn location(&self) -> Option<String> {
        match self {
            Hop::Runtime(r) => r.header("location").map(str::to_string),
            Hop::Client(r) => r
                .headers
                .iter()
                .rev()
                .find(|(name, _)| name.eq_ignore_ascii_case("location"))
                .map(|(_, value)| value.clone()),
        }
    }

    /// Headers (lower-case names) and a body of at most `max_body` bytes.
    fn finish(self, max_body: u64) -> Result<(BTreeMap<String, String>, Vec<u8>)> {
        let mut headers = BTreeMap::new();
        let bytes = match self {
            Hop::Runtime(response) => {
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
                bytes
            }
            Hop::Client(response) => {
                for (name, value) in response.headers {
                    headers.insert(name.to_ascii_lowercase(), value);
                }
                response.body
            }
        };
        if bytes.len() as u64 > max_body {
            return Err(host_error(format!(
                "HTTP response exceeds the configured maximum number of bytes: {max_body}"
            )));
        }
        Ok((headers, bytes))
    }
}

/// Run a plugin's request, through `client` or the runtime's own. Redirects
/// are followed here so that each hop is checked against `allowed_hosts`
/// (docs/compatibility.md, Runtime).
pub(crate) fn plugin_request(
    request: &HttpRequest,
    body: Option<&[u8]>,
    allowed: Option<&[String]>,
    max_body: u64,
    deadline: Option<Instant>,
    client: Option<&HttpClient>,
) -> Result<HttpResponse> {
    let mut method = request.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let mut url = url::Url::parse(&request.url).map_err(|e| host_error(format!("Invalid URL: {e}")))?;
    let mut body = body;
    let remaining = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let timed_out = || Error::new(ErrorKind::Timeout, "timeout");
    let mut builder = ureq::AgentBuilder::new().redirects(0);
    if let Some(t) = remaining() {
        if t.is_zero() {
            return Err(timed_out());
        }
        builder = builder.timeout(t);
    }
    let agent = builder.build();
    for _ in 0..=MAX_REDIRECTS {
        let host = url.host_str().unwrap_or_default();
        if !host_allowed(allowed, host) {
            return Err(host_error(format!("HTTP request to {url} is not allowed")));
        }
        let response = match client {
            Some(client) => {
                let timeout = remaining();
                if timeout.is_some_and(|t| t.is_zero()) {
                    return Err(timed_out());
                }
                let hop = HttpClientRequest {
                    url: url.to_string(),
                    method: method.clone(),
                    headers: request.headers.clone(),
                    body: body.map(<[u8]>::to_vec),
                    timeout,
                    max_body,
                };
                match client(&hop) {
                    Ok(response) => Hop::Client(response),
                    // A client stopped by the call's timeout reports that timeout.
                    Err(_) if remaining().is_some_and(|t| t.is_zero()) => return Err(timed_out()),
                    Err(e) => return Err(e),
                }
            }
            None => {
                let mut req = agent.request_url(&method, &url);
                for (name, value) in &request.headers {
                    req = req.set(name, value);
                }
                let result = match body {
                    Some(bytes) => req.send_bytes(bytes),
                    None => req.call(),
                };
                match result {
                    Ok(r) => Hop::Runtime(Box::new(r)),
                    Err(ureq::Error::Status(_, r)) => Hop::Runtime(Box::new(r)),
                    Err(ureq::Error::Transport(t)) => return Err(host_error(t.to_string())),
                }
            }
        };
        let status = response.status();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            if let Some(location) = response.location() {
                url = url
                    .join(&location)
                    .map_err(|e| host_error(format!("Invalid URL: {e}")))?;
                if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                    method = "GET".into();
                    body = None;
                }
                continue;
            }
        }
        let (headers, body) = response.finish(max_body)?;
        return Ok(HttpResponse { status, headers, body });
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
