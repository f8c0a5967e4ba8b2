//! Logging (docs/abi.md and docs/c-api.md, Logging).
//!
//! Two kinds of sink: the process-wide `tracing` subscriber that the C and
//! Python APIs install once (a file, stdout, stderr or an in-memory buffer
//! drained by the host), and a per-plugin sink with its own level, which the
//! JS API uses. A plugin with its own sink ignores the global one.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result};

/// The target of events logged by plugins.
pub const PDK_TARGET: &str = "extism::pdk";

/// A log level, numbered as `get_log_level` reports it to plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// The most verbose level.
    Trace = 0,
    /// Debugging detail.
    Debug = 1,
    /// Ordinary messages (the default).
    Info = 2,
    /// Warnings.
    Warn = 3,
    /// Errors only.
    Error = 4,
}

/// What `get_log_level` returns when logging is off.
pub const LOG_OFF: i32 = i32::MAX;

impl LogLevel {
    /// Every level, the most verbose first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// `trace`..`error` (any case), or `1` (error) to `5` (trace).
    pub fn parse(text: &str) -> Option<LogLevel> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "trace" | "5" => LogLevel::Trace,
            "debug" | "4" => LogLevel::Debug,
            "info" | "3" => LogLevel::Info,
            "warn" | "2" => LogLevel::Warn,
            "error" | "1" => LogLevel::Error,
            _ => return None,
        })
    }

    /// The level's name: `trace`, `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Receives a plugin's log messages.
pub type LogCallback = dyn Fn(LogLevel, &str) + Send + Sync;

/// A per-plugin log sink: messages at its level or less verbose go to
/// `callback`. Clones share the level, so whoever made the sink may change
/// it while the plugin runs (the JS SDK's settable `CallContext.logLevel`).
#[derive(Clone)]
pub struct LogSink {
    /// `get_log_level`'s number of the level (`LOG_OFF` for none).
    level: Arc<AtomicI32>,
    /// Receives each message at the sink's level or less verbose.
    pub callback: Arc<LogCallback>,
}

impl LogSink {
    /// A sink with `level` (`None` = off).
    pub fn new(level: Option<LogLevel>, callback: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Self {
        LogSink {
            level: Arc::new(AtomicI32::new(level_number(level))),
            callback: Arc::new(callback),
        }
    }

    /// The level now (`None` = off).
    pub fn level(&self) -> Option<LogLevel> {
        match self.level.load(Ordering::Relaxed) {
            0 => Some(LogLevel::Trace),
            1 => Some(LogLevel::Debug),
            2 => Some(LogLevel::Info),
            3 => Some(LogLevel::Warn),
            4 => Some(LogLevel::Error),
            _ => None,
        }
    }

    /// Change the level of this sink and of every clone of it, from the next
    /// message or `get_log_level` on.
    pub fn set_level(&self, level: Option<LogLevel>) {
        self.level.store(level_number(level), Ordering::Relaxed);
    }
}

fn level_number(level: Option<LogLevel>) -> i32 {
    level.map(|l| l as i32).unwrap_or(LOG_OFF)
}

/// The filter for a `log_level` argument of the C API: a plain level means
/// `extism=<level>` with everything else at `error`; anything else is an
/// `EnvFilter` directive list whose invalid parts are ignored.
fn filter_for(level: Option<&str>) -> EnvFilter {
    let level = level.unwrap_or("error");
    match LogLevel::parse(level) {
        Some(l) => EnvFilter::new(format!("error,extism={}", l.as_str())),
        None => EnvFilter::builder()
            .with_default_directive(LevelFilter::ERROR.into())
            .parse_lossy(level),
    }
}

/// Where `log_to_file` writes.
fn install<W>(writer: W, ansi: bool, level: Option<&str>) -> Result<()>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    // Refuse before building anything: building a subscriber already
    // registers its filter's level with `tracing`, which plugins would see.
    if tracing::dispatcher::has_been_set() {
        return Err(already_installed());
    }
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter_for(level))
        .with_ansi(ansi)
        .with_writer(writer)
        .finish();
    tracing::subscriber::set_global_default(subscriber).map_err(|_| already_installed())
}

fn already_installed() -> Error {
    Error::invalid("a log subscriber is already installed in this process")
}

/// Install the process-wide logger writing to `stderr` (also for `-`),
/// `stdout`, or a file path (created if missing, appended to). Only the first
/// logger of a process is installed.
pub fn log_to_file(filename: &str, level: Option<&str>) -> Result<()> {
    match filename {
        "stderr" | "-" => install(std::io::stderr, true, level),
        "stdout" => install(std::io::stdout, true, level),
        path => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::invalid(format!("unable to open log file {path}: {e}")))?;
            install(Mutex::new(file), false, level)
        }
    }
}

/// The most bytes of formatted lines the drain buffer (`log_to_buffer`)
/// holds between two drains. A plugin decides how much it logs, so without a
/// bound one call could make the host hold any amount of memory; lines past
/// the bound are dropped and counted, and the next drain says how many.
pub const LOG_BUFFER_LIMIT: usize = 16 * 1024 * 1024;

/// The bytes of log messages waiting for a host that has not taken them yet
/// (the drain buffer here; a frontend's queue of messages for a callback
/// that runs later): at most `LOG_BUFFER_LIMIT`. Messages past that are
/// dropped and counted until [`LogBacklog::dropped_notice`] reports them.
#[derive(Debug, Default)]
pub struct LogBacklog {
    waiting: AtomicUsize,
    dropped: AtomicU64,
}

impl LogBacklog {
    /// A backlog with nothing waiting.
    pub const fn new() -> Self {
        LogBacklog {
            waiting: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Count a message of `len` bytes as waiting, if it fits; false (and it
    /// is counted as dropped) if it does not.
    pub fn admit(&self, len: usize) -> bool {
        if self.waiting.fetch_add(len, Ordering::AcqRel) + len > LOG_BUFFER_LIMIT {
            self.waiting.fetch_sub(len, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// `len` bytes admitted earlier were handed to the host.
    pub fn handed_over(&self, len: usize) {
        self.waiting.fetch_sub(len, Ordering::AcqRel);
    }

    /// The text telling the host how many messages were dropped since it was
    /// last told, if any were.
    pub fn dropped_notice(&self) -> Option<String> {
        match self.dropped.swap(0, Ordering::Relaxed) {
            0 => None,
            count => {
                let s = if count == 1 { "" } else { "s" };
                Some(format!(
                    "{count} log message{s} dropped: more than {LOG_BUFFER_LIMIT} bytes were waiting to be handled"
                ))
            }
        }
    }
}

/// Lines waiting for `drain_logs` (`None` until `log_to_buffer`), and their bytes.
static BUFFER: Mutex<Option<Vec<String>>> = Mutex::new(None);
static BACKLOG: LogBacklog = LogBacklog::new();

/// Collects one formatted event and appends it to the drain buffer.
struct BufferWriter(Vec<u8>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BufferWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(lines) = buffer.as_mut() else { return };
        if BACKLOG.admit(self.0.len()) {
            lines.push(String::from_utf8_lossy(&self.0).into_owned());
        }
    }
}

/// Install the process-wide logger that buffers lines for `drain_logs`, at
/// most `LOG_BUFFER_LIMIT` bytes of them between drains.
pub fn log_to_buffer(level: Option<&str>) -> Result<()> {
    install(|| BufferWriter(Vec::new()), false, level)?;
    *BUFFER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    Ok(())
}

/// Hand every buffered line (with its trailing newline), oldest first, to
/// `handler`, and empty the buffer. When lines were dropped because the
/// buffer was full, one more line says how many. Does nothing without
/// `log_to_buffer`.
pub fn drain_logs(mut handler: impl FnMut(&str)) {
    let (lines, notice) = {
        let mut buffer = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
        let Some(lines) = buffer.as_mut() else { return };
        let lines = std::mem::take(lines);
        BACKLOG.handed_over(lines.iter().map(String::len).sum());
        (lines, BACKLOG.dropped_notice())
    };
    for line in &lines {
        handler(line);
    }
    if let Some(notice) = notice {
        handler(&format!("WARN {PDK_TARGET}: {notice}\n"));
    }
}

/// The global level as plugins see it: the most verbose level enabled for
/// any target, or `LOG_OFF`.
pub fn global_log_level() -> i32 {
    level_code(LevelFilter::current())
}

fn level_code(filter: LevelFilter) -> i32 {
    match filter.into_level() {
        Some(tracing::Level::TRACE) => 0,
        Some(tracing::Level::DEBUG) => 1,
        Some(tracing::Level::INFO) => 2,
        Some(tracing::Level::WARN) => 3,
        Some(tracing::Level::ERROR) => 4,
        None => LOG_OFF,
    }
}

/// `get_log_level` for a plugin with or without its own sink.
pub(crate) fn plugin_log_level(sink: Option<&LogSink>) -> i32 {
    match sink {
        Some(s) => s.level.load(Ordering::Relaxed),
        None => global_log_level(),
    }
}

/// Whether a message at `level` would be kept at all (checked before the
/// message block is even read).
pub(crate) fn enabled(sink: Option<&LogSink>, level: LogLevel) -> bool {
    (level as i32) >= plugin_log_level(sink)
}

/// Log one plugin message.
pub(crate) fn emit(sink: Option<&LogSink>, plugin_id: &str, level: LogLevel, message: &str) {
    if let Some(sink) = sink {
        (sink.callback)(level, message);
        return;
    }
    match level {
        LogLevel::Trace => tracing::trace!(target: "extism::pdk", plugin = plugin_id, "{}", message),
        LogLevel::Debug => tracing::debug!(target: "extism::pdk", plugin = plugin_id, "{}", message),
        LogLevel::Info => tracing::info!(target: "extism::pdk", plugin = plugin_id, "{}", message),
        LogLevel::Warn => tracing::warn!(target: "extism::pdk", plugin = plugin_id, "{}", message),
        LogLevel::Error => tracing::error!(target: "extism::pdk", plugin = plugin_id, "{}", message),
    }
}
