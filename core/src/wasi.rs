//! WASI preview 1 for plugins that ask for it (docs/abi.md, WASI): no
//! arguments, no environment, empty stdin, stdout and stderr where the
//! plugin's [`WasiOutput`] says, and the manifest's `allowed_paths` as
//! preopened directories.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{wasmtime_text, Error, ErrorKind, Result};
use crate::manifest::{Manifest, READ_ONLY_PREFIX};

/// Link WASI preview 1 (and its `wasi_unstable` name) into `linker`; `ctx`
/// finds the store's WASI context.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    ctx: fn(&mut T) -> &mut WasiP1Ctx,
) -> Result<()> {
    let wrap = |e: wasmtime::Error| Error::compile(wasmtime_text(&e));
    wasmtime_wasi::p1::add_to_linker_sync(linker, ctx).map_err(wrap)?;
    wasmtime_wasi::p0::add_to_linker_sync(linker, ctx).map_err(wrap)?;
    Ok(())
}

/// Which of a plugin's WASI output streams bytes were written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasiStream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

/// Receives a plugin's WASI output, on the thread running the call.
pub type WasiWriter = Arc<dyn Fn(WasiStream, &[u8]) + Send + Sync>;

/// Where a plugin's WASI stdout and stderr go.
#[derive(Clone, Default)]
pub enum WasiOutput {
    /// Discarded, unless `EXTISM_ENABLE_WASI_OUTPUT` is set in the
    /// environment (then as `Inherit`), as in the official runtime.
    #[default]
    FromEnvironment,
    /// Discarded.
    Discard,
    /// The process's own stdout and stderr.
    Inherit,
    /// Every write is passed to this function.
    Writer(WasiWriter),
}

impl WasiOutput {
    /// `FromEnvironment` resolved against the environment now.
    pub(crate) fn resolve(self) -> WasiOutput {
        match self {
            WasiOutput::FromEnvironment if std::env::var_os("EXTISM_ENABLE_WASI_OUTPUT").is_some() => {
                WasiOutput::Inherit
            }
            WasiOutput::FromEnvironment => WasiOutput::Discard,
            other => other,
        }
    }
}

impl std::fmt::Debug for WasiOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WasiOutput::FromEnvironment => "FromEnvironment",
            WasiOutput::Discard => "Discard",
            WasiOutput::Inherit => "Inherit",
            WasiOutput::Writer(_) => "Writer",
        })
    }
}

/// One WASI output stream that forwards each write to a `WasiWriter`,
/// synchronously (no background task, so output is in order with the call).
#[derive(Clone)]
struct WriterStream {
    stream: WasiStream,
    writer: WasiWriter,
}

impl IsTerminal for WriterStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for WriterStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for WriterStream {
    async fn ready(&mut self) {}
}

/// The most one write may pass at once (what WASI asks before writing).
const WRITE_BUDGET: usize = 64 * 1024;

impl OutputStream for WriterStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        (self.writer)(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for WriterStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        (self.writer)(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub(crate) fn context(manifest: &Manifest, output: &WasiOutput) -> Result<WasiP1Ctx> {
    let mut builder = WasiCtxBuilder::new();
    match output {
        WasiOutput::Inherit => {
            builder.inherit_stdout().inherit_stderr();
        }
        WasiOutput::Writer(writer) => {
            builder
                .stdout(WriterStream {
                    stream: WasiStream::Stdout,
                    writer: writer.clone(),
                })
                .stderr(WriterStream {
                    stream: WasiStream::Stderr,
                    writer: writer.clone(),
                });
        }
        WasiOutput::FromEnvironment | WasiOutput::Discard => {}
    }
    for (host, guest) in manifest.allowed_paths.iter().flatten() {
        let (host, perms) = match host.strip_prefix(READ_ONLY_PREFIX) {
            Some(path) => (path, FsPerms::ReadOnly),
            None => (host.as_str(), FsPerms::ReadWrite),
        };
        let guest = guest.to_string_lossy();
        builder
            .preopened_dir(host, guest.as_ref(), perms)
            .map_err(|e| Error::new(ErrorKind::Instantiate, wasmtime_text(&e)))?;
    }
    Ok(builder.build_p1())
}
