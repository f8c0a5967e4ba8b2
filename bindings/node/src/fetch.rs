//! The plugin's HTTP requests through a JS `fetch` (the `fetch` option): the
//! core's `Function::http_client` hands each request (after its
//! `allowed_hosts` check) to [`crate::bridge::Bridge::fetch`], which sends it
//! to the JS thread as an `Event::Fetch` and waits for the [`JsFetchReply`].

use std::collections::HashMap;
use std::sync::{mpsc, Mutex};

use extism_core::{HttpClientRequest, HttpClientResponse};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::plugin::lock;

/// A plugin's request as `runFetch` in lib/plugin.js gets it.
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

/// Settles one fetch of the plugin thread (not exported from the package).
#[napi(js_name = "NativeFetchReply")]
pub struct JsFetchReply {
    tx: Mutex<Option<mpsc::Sender<Answer>>>,
}

impl JsFetchReply {
    pub(crate) fn new(tx: mpsc::Sender<Answer>) -> Self {
        JsFetchReply {
            tx: Mutex::new(Some(tx)),
        }
    }

    fn settle(&self, answer: Answer) -> napi::Result<()> {
        match lock(&self.tx).take() {
            Some(tx) => {
                // The plugin thread may be gone (the process is shutting down).
                let _ = tx.send(answer);
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
