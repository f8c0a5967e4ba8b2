//! The plugin's HTTP requests through a JS `fetch` (the `fetch` option): the
//! core's `Function::http_client` hands each request (after its
//! `allowed_hosts` check) to [`fetch`], which sends it to the JS thread as an
//! `Event::Fetch` (`runFetch` in lib/fetch.js) and waits for the
//! [`JsFetchReply`].

use std::collections::HashMap;
use std::sync::Mutex;

use extism_core::{Error, HttpClientRequest, HttpClientResponse};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::handoff::{reply, Replier};
use crate::js_thread::{Event, JsThread};
use crate::lock;

/// A plugin's request as `runFetch` in lib/fetch.js gets it.
#[napi(object)]
pub struct JsFetchRequest {
    pub url: String,
    pub method: String,
    pub headers: HashMap<String, String>,
    pub body: Option<Buffer>,
    /// The time left before the call's timeout, if it has one.
    pub timeout_ms: Option<f64>,
    /// `memory.max_http_response_bytes`: reading more than this is pointless
    /// (the request fails).
    pub max_bytes: f64,
}

impl JsFetchRequest {
    pub(crate) fn from_core(r: &HttpClientRequest) -> Self {
        JsFetchRequest {
            url: r.url.clone(),
            method: r.method.clone(),
            headers: r.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            body: r.body.clone().map(Buffer::from),
            timeout_ms: r.timeout.map(|t| t.as_secs_f64() * 1000.0),
            max_bytes: r.max_body as f64,
        }
    }
}

type Answer = Result<HttpClientResponse, String>;

/// Send a plugin's HTTP request with the JS `fetch` of its plugin (the
/// core's `HttpClient`): on the JS thread, while the plugin thread waits.
pub(crate) fn fetch(js: &JsThread, request: &HttpClientRequest) -> extism_core::Result<HttpClientResponse> {
    if js.on_js_thread() {
        // The JS thread runs the plugin: it cannot also wait for a fetch.
        return Err(Error::host(
            "a custom fetch cannot serve HTTP requests of callSync or createPluginSync: use call() or createPlugin()",
        ));
    }
    let (replier, answer) = reply();
    let event = Event::Fetch {
        request: JsFetchRequest::from_core(request),
        reply: JsFetchReply {
            replier: Mutex::new(Some(replier)),
        },
    };
    if !js.send(event) {
        return Err(Error::host("the JS environment is shutting down"));
    }
    match answer.wait() {
        Some(answer) => answer.map_err(Error::host),
        None => Err(Error::host("fetch was dropped without settling")),
    }
}

/// Settles one fetch of the plugin thread (not exported from the package).
#[napi(js_name = "NativeFetchReply")]
pub struct JsFetchReply {
    replier: Mutex<Option<Replier<Answer>>>,
}

impl JsFetchReply {
    fn settle(&self, answer: Answer) -> napi::Result<()> {
        match lock(&self.replier).take() {
            // The plugin thread may be gone (the process is shutting down).
            Some(replier) => {
                replier.send(answer);
                Ok(())
            }
            None => Err(napi::Error::from_reason("this fetch has already been answered")),
        }
    }
}

#[napi]
impl JsFetchReply {
    /// The response: its status, its headers as `[name, value]` pairs and its body.
    #[napi]
    pub fn resolve(&self, status: u32, headers: Vec<Vec<String>>, body: &[u8]) -> napi::Result<()> {
        let status = u16::try_from(status)
            .map_err(|_| napi::Error::new(napi::Status::InvalidArg, format!("invalid HTTP status {status}")))?;
        let headers = headers
            .into_iter()
            .filter_map(|pair| {
                let mut pair = pair.into_iter();
                Some((pair.next()?, pair.next()?))
            })
            .collect();
        self.settle(Ok(HttpClientResponse {
            status,
            headers,
            body: body.to_vec(),
        }))
    }

    /// The fetch failed with `message`; the plugin's `http_request` fails with it.
    #[napi]
    pub fn reject(&self, message: String) -> napi::Result<()> {
        self.settle(Err(message))
    }
}
