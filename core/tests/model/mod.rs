//! An executable model of the handle rules of docs/abi.md (Memory, Kernel
//! functions, Built-in host functions), checked against the real kernel.
//!
//! tests/fixtures/wat/kernel_ops.wat interprets an op list and reports each
//! kernel or built-in call and its result to the host function `trace`; the
//! model below replays the same operation and fails on any disagreement:
//! which handles are live, what `length` returns, what a load returns,
//! whether a call fails (and with which text), what the output and error
//! are. Used by core/tests/kernel_model.rs (seeded programs) and by the fuzz
//! target `kernel_model` (fuzz/fuzz_targets/kernel_model.rs).
//!
//! The model knows nothing of the kernel's records. It keeps the live blocks
//! (handle, exact length, the bytes it knows) and checks, from the doc alone:
//! - a new block is 8-byte aligned, at or above 16, inside memory, and its
//!   capacity (length rounded up to 8) overlaps no live block's capacity;
//! - `length(h)` is the live block's length at exactly `h`, 0 otherwise;
//! - `free` of anything but a live block changes nothing;
//! - a byte of a live block reads back what was last stored there (a byte
//!   never stored is learnt the first time it is read, and must stay so);
//! - freed memory is reused only when the request does not fit before the
//!   end of memory ("Allocation and reuse"). The model keeps `hwm`, the end
//!   of the used region as far as it can tell: exact while blocks only come
//!   from the bump region, and at most 120 bytes short of the kernel's after
//!   the kernel may have merged free blocks (a reused block is split only
//!   when 128 bytes or more would be left over). A block below `hwm` while
//!   `hwm + 120 + capacity` still fits in memory is a reuse the doc forbids;
//! - the built-ins read keys and values as documented, allocate their
//!   result before freeing what they took, and fail with the documented texts.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use extism_core::{CompiledPlugin, CurrentPlugin, Error, ErrorKind, Function, Manifest, PluginBuilder, Val, ValType};

pub const DRIVER_WAT: &str = include_str!("../../../tests/fixtures/wat/kernel_ops.wat");

/// The keys the driver can write (kernel_ops.wat, at 256 + 32 * i).
pub const KEYS: [&[u8]; 7] = [b"a", b"bb", b"config-key-3", b"empty", b"missing", b"\xff\xfe", b""];

/// Small enough that the fuzzer reaches `Variable store is full`.
pub const MAX_VAR_BYTES: u64 = 2048;

const HEAP_START: u64 = 16;
/// The largest remainder a reused free block keeps unsplit (docs/abi.md: a
/// remainder of 128 bytes or more is split off), as capacities are multiples of 8.
const UNSPLIT_SLACK: u64 = 120;
/// Handles remembered per call to check that they read as freed.
const MAX_HANDED: usize = 4096;

pub fn config() -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    c.insert("a".to_string(), "1".to_string());
    c.insert("bb".to_string(), "value of bb".to_string());
    c.insert("config-key-3".to_string(), "x".repeat(300));
    c.insert("empty".to_string(), String::new());
    c
}

fn r8(n: u64) -> u64 {
    (n + 7) & !7
}

#[derive(Default)]
struct Block {
    len: u64,
    /// Offset in the block -> the byte the model knows is there.
    known: BTreeMap<u64, u8>,
}

/// A built-in that reported it is about to run, with what the model expects.
struct Pending {
    kind: i64,
    a: u64,
    b: u64,
    /// The failure the model expects: (exact text, or only a prefix).
    fails: Option<(String, bool)>,
    /// config_get/var_get: the value; var_set: the key text and value.
    key: Option<String>,
    value: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct Model {
    pub config: BTreeMap<String, String>,
    pub vars: BTreeMap<String, Vec<u8>>,
    pub max_var_bytes: u64,
    /// The input of the call about to start.
    pub input: Vec<u8>,
    live: BTreeMap<u64, Block>,
    handed: BTreeSet<u64>,
    hwm: u64,
    size: u64,
    input_off: u64,
    input_len: u64,
    output: (u64, u64),
    error: u64,
    pending: Option<Pending>,
    started: bool,
    ended: bool,
    /// The plugin error text at the end of the program (or at a failing built-in).
    error_text: Option<Vec<u8>>,
    pub failure: Option<String>,
    pub steps: u64,
}

type Shared = Arc<Mutex<Model>>;

fn lock(m: &Shared) -> std::sync::MutexGuard<'_, Model> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

impl Model {
    pub fn new() -> Model {
        Model {
            config: config(),
            max_var_bytes: MAX_VAR_BYTES,
            ..Default::default()
        }
    }

    /// The live block whose bytes [start, start + len) contain `addr`.
    fn block_at(&mut self, addr: u64) -> Option<(u64, &mut Block)> {
        let (&start, block) = self.live.range_mut(..=addr).next_back()?;
        (addr < start + block.len).then_some((start, block))
    }

    fn stored(&mut self, addr: u64, byte: u8) {
        if let Some((start, block)) = self.block_at(addr) {
            block.known.insert(addr - start, byte);
        }
    }

    /// A byte read at `addr` (inside memory, at or above 16).
    fn loaded(&mut self, addr: u64, byte: u8, what: &str) -> Result<(), String> {
        if let Some((start, block)) = self.block_at(addr) {
            match block.known.get(&(addr - start)) {
                Some(&want) => ensure!(
                    want == byte,
                    "{what}: byte {addr} (offset {} of live block {start}, length {}) reads {byte:#x}, \
                     but {want:#x} was stored there",
                    addr - start,
                    block.len
                ),
                None => {
                    block.known.insert(addr - start, byte);
                }
            }
        }
        Ok(())
    }

    /// Learn every byte of the live block `h` from memory and return them.
    fn read_block(&mut self, plugin: &mut CurrentPlugin<'_>, h: u64) -> Result<Vec<u8>, String> {
        let len = self.live[&h].len;
        let memory = plugin.memory();
        ensure!(
            h + len <= memory.len() as u64,
            "live block {h} (length {len}) passes the end of memory"
        );
        let bytes = memory[h as usize..(h + len) as usize].to_vec();
        for (i, &byte) in bytes.iter().enumerate() {
            self.loaded(h + i as u64, byte, "a built-in's read")?;
        }
        Ok(bytes)
    }

    /// `alloc(n)` returned `h` (from the plugin, or inside a built-in).
    fn allocated(&mut self, n: u64, h: u64, size_before: u64, what: &str) -> Result<(), String> {
        if n == 0 {
            ensure!(h == 0, "{what}: alloc(0) returned {h}, not 0");
            return Ok(());
        }
        ensure!(h != 0, "{what}: alloc({n}) returned 0 with memory far from 4 GiB");
        ensure!(
            h >= HEAP_START && h % 8 == 0,
            "{what}: alloc({n}) returned {h}: not 8-byte aligned at or above 16"
        );
        ensure!(
            h + n <= self.size,
            "{what}: alloc({n}) returned {h}, past the end of memory ({})",
            self.size
        );
        let cap = r8(n);
        if let Some((&s, b)) = self.live.range(..h + cap).next_back() {
            ensure!(
                s + r8(b.len) <= h,
                "{what}: alloc({n}) returned {h}, which overlaps the live block {s} (length {})",
                b.len
            );
        }
        let reused = h < self.hwm;
        if reused {
            ensure!(
                self.hwm + UNSPLIT_SLACK + cap > size_before,
                "{what}: alloc({n}) returned {h}, inside the used region (which ends at {} or at most {UNSPLIT_SLACK} \
                 bytes later), while {size_before} bytes of memory left room for it after that region: \
                 freed memory may be reused only when memory would otherwise grow",
                self.hwm
            );
        }
        self.live.insert(
            h,
            Block {
                len: n,
                known: BTreeMap::new(),
            },
        );
        if self.handed.len() < MAX_HANDED {
            self.handed.insert(h);
        }
        self.hwm = if reused {
            // The kernel may have merged free blocks and lowered its bump
            // pointer to the end of the last live block.
            self.live
                .iter()
                .map(|(&s, b)| s + r8(b.len))
                .max()
                .unwrap_or(HEAP_START)
        } else {
            h + cap
        };
        Ok(())
    }

    fn freed(&mut self, h: u64) {
        if self.live.remove(&h).is_some() && h == self.input_off {
            self.input_len = 0;
        }
    }

    fn length_of(&self, h: u64) -> u64 {
        self.live.get(&h).map_or(0, |b| b.len)
    }

    fn valid_range(&self, off: u64, len: u64) -> bool {
        off >= HEAP_START && off <= self.size && len <= self.size - off
    }

    /// What a built-in reading a key or value at `h` gets: bytes, or the failure text.
    fn builtin_read(
        &mut self,
        plugin: &mut CurrentPlugin<'_>,
        h: u64,
        what: &str,
    ) -> Result<Result<Vec<u8>, String>, String> {
        if h == 0 {
            return Ok(Ok(Vec::new()));
        }
        if !self.live.contains_key(&h) {
            return Ok(Err(format!("invalid handle offset for {what}: {}", h as i64)));
        }
        self.read_block(plugin, h).map(Ok)
    }

    fn builtin_text(
        &mut self,
        plugin: &mut CurrentPlugin<'_>,
        h: u64,
        what: &str,
    ) -> Result<Result<String, (String, bool)>, String> {
        Ok(match self.builtin_read(plugin, h, what)? {
            Err(text) => Err((text, false)),
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| (format!("{what} is not valid UTF-8: "), true)),
        })
    }

    /// Every live block has its length and the bytes the model knows; every
    /// block handed out this call that is no longer live has length 0.
    fn check_all(&mut self, plugin: &mut CurrentPlugin<'_>, when: &str) -> Result<(), String> {
        let mem_len = plugin.memory().len() as u64;
        ensure!(
            mem_len == self.size,
            "{when}: memory is {mem_len} bytes, the model has {}",
            self.size
        );
        for (&h, block) in &self.live {
            let len = plugin.length(h).map_err(|e| e.to_string())?;
            ensure!(
                len == block.len,
                "{when}: the live block {h} has length {len}, it should be {}",
                block.len
            );
            let memory = plugin.memory();
            for (&off, &want) in &block.known {
                let got = memory[(h + off) as usize];
                ensure!(
                    got == want,
                    "{when}: byte {off} of the live block {h} (length {}) is {got:#x}, but {want:#x} was stored or read there",
                    block.len
                );
            }
        }
        for &h in &self.handed {
            if !self.live.contains_key(&h) {
                let len = plugin.length(h).map_err(|e| e.to_string())?;
                ensure!(len == 0, "{when}: the freed block {h} still has length {len}");
            }
        }
        Ok(())
    }

    fn plugin_error_bytes(&mut self, plugin: &mut CurrentPlugin<'_>) -> Result<Option<Vec<u8>>, String> {
        if self.error != 0 && self.live.contains_key(&self.error) {
            let h = self.error;
            Ok(Some(self.read_block(plugin, h)?))
        } else {
            Ok(None)
        }
    }

    pub fn step(&mut self, plugin: &mut CurrentPlugin<'_>, kind: i64, a: u64, b: u64, r: u64) -> Result<(), String> {
        self.steps += 1;
        let size_before = self.size;
        self.size = plugin.memory().len() as u64;
        ensure!(
            self.size >= size_before,
            "memory shrank from {size_before} to {} bytes",
            self.size
        );
        if kind != 0x01 {
            ensure!(self.started, "trace {kind:#x} before the program started");
        }
        if let Some(p) = &self.pending {
            ensure!(
                kind == p.kind - 0x20 && a == p.a && b == p.b,
                "trace {kind:#x} while the built-in {:#x} is pending",
                p.kind
            );
            if let Some((text, _)) = &p.fails {
                return Err(format!(
                    "a built-in ({:#x}) returned, but it should have failed with `{text}`",
                    p.kind
                ));
            }
        }
        match kind {
            0x01 => {
                // The call started: every block was freed, then the input placed.
                let input = std::mem::take(&mut self.input);
                self.live.clear();
                self.handed.clear();
                self.hwm = HEAP_START;
                self.output = (0, 0);
                self.error = 0;
                self.ended = false;
                self.started = true;
                self.input_off = a;
                self.input_len = b;
                ensure!(
                    b == input.len() as u64,
                    "input_length is {b}, the input has {} bytes",
                    input.len()
                );
                ensure!(
                    (a == 0) == input.is_empty(),
                    "input_offset is {a} for {} input bytes",
                    input.len()
                );
                if !input.is_empty() {
                    self.allocated(b, a, 0, "the input block")?;
                    let block = self.live.get_mut(&a).unwrap();
                    block.known = input.iter().enumerate().map(|(i, &v)| (i as u64, v)).collect();
                }
            }
            0x10 => self.allocated(a, r, size_before, "alloc")?,
            0x11 => self.freed(a),
            0x12 | 0x13 => {
                let want = self.length_of(a);
                ensure!(r == want, "length({a}) is {r}, it should be {want}");
            }
            0x14 => {
                if a < HEAP_START || a >= self.size {
                    ensure!(r == 0, "load_u8({a}) out of range is {r}, not 0");
                } else {
                    ensure!(r <= 0xff, "load_u8 returned {r}");
                    self.loaded(a, r as u8, "load_u8")?;
                }
            }
            0x15 => {
                if a < HEAP_START || a > self.size - 8 {
                    ensure!(r == 0, "load_u64({a}) out of range is {r}, not 0");
                } else {
                    for (i, byte) in r.to_le_bytes().into_iter().enumerate() {
                        self.loaded(a + i as u64, byte, "load_u64")?;
                    }
                }
            }
            0x16 => {
                if a >= HEAP_START && a < self.size {
                    self.stored(a, b as u8);
                }
            }
            0x17 => {
                if a >= HEAP_START && a <= self.size - 8 {
                    for (i, byte) in b.to_le_bytes().into_iter().enumerate() {
                        self.stored(a + i as u64, byte);
                    }
                }
            }
            0x18 => {
                let want = self.length_of(a);
                ensure!(r == want, "length({a}) (for fill) is {r}, it should be {want}");
                for i in 0..r.min(4096) {
                    self.stored(a + i, (b + i) as u8);
                }
            }
            0x19 => self.check_all(plugin, "check")?,
            0x1a => match a {
                0 => ensure!(
                    r == self.input_len,
                    "input_length is {r}, it should be {}",
                    self.input_len
                ),
                1 => ensure!(
                    r == self.input_off,
                    "input_offset is {r}, it should be {}",
                    self.input_off
                ),
                2 => {
                    if b < self.input_len {
                        ensure!(r <= 0xff, "input_load_u8 returned {r}");
                        self.loaded(self.input_off + b, r as u8, "input_load_u8")?;
                    } else {
                        ensure!(r == 0, "input_load_u8({b}) past the input ({}) is {r}", self.input_len);
                    }
                }
                _ => {
                    if self.input_len >= 8 && b <= self.input_len - 8 {
                        for (i, byte) in r.to_le_bytes().into_iter().enumerate() {
                            self.loaded(self.input_off + b + i as u64, byte, "input_load_u64")?;
                        }
                    } else {
                        ensure!(r == 0, "input_load_u64({b}) past the input ({}) is {r}", self.input_len);
                    }
                }
            },
            0x1b => {
                if self.valid_range(a, b) {
                    self.output = (a, b);
                }
            }
            0x1c => ensure!(
                (a, b) == self.output,
                "output_offset/output_length are ({a}, {b}), they should be {:?}",
                self.output
            ),
            0x1d => {
                if a == 0 {
                    self.error = 0;
                } else if self.valid_range(a, 0) {
                    self.error = a;
                }
            }
            0x1e => ensure!(r == self.error, "error_get is {r}, it should be {}", self.error),
            0x1f => {
                let key = KEYS[a as usize % KEYS.len()];
                self.allocated(key.len() as u64, r, size_before, "a key block")?;
                for (i, &byte) in key.iter().enumerate() {
                    self.stored(r + i as u64, byte);
                }
            }
            0x40 | 0x41 => {
                let what = if kind == 0x40 { "config key" } else { "var key" };
                let mut p = Pending {
                    kind,
                    a,
                    b,
                    fails: None,
                    key: None,
                    value: None,
                };
                match self.builtin_text(plugin, a, what)? {
                    Err(fail) => p.fails = Some(fail),
                    Ok(key) => {
                        p.value = if kind == 0x40 {
                            self.config.get(&key).map(|v| v.as_bytes().to_vec())
                        } else {
                            self.vars.get(&key).cloned()
                        };
                        p.key = Some(key);
                    }
                }
                self.error_text = self.plugin_error_bytes(plugin)?;
                self.pending = Some(p);
            }
            0x20 | 0x21 => {
                let p = self
                    .pending
                    .take()
                    .ok_or_else(|| format!("trace {kind:#x} with no built-in pending"))?;
                let value = p.value.filter(|v| !v.is_empty());
                let name = if kind == 0x20 { "config_get" } else { "var_get" };
                match value {
                    None => ensure!(r == 0, "{name}({a}) returned {r} for a missing or empty value"),
                    Some(v) => {
                        // The result is allocated while the key is still live...
                        self.allocated(v.len() as u64, r, size_before, name)?;
                        for (i, &byte) in v.iter().enumerate() {
                            self.stored(r + i as u64, byte);
                        }
                    }
                }
                // ... and only then is the key freed.
                self.freed(a);
            }
            0x42 => {
                let mut p = Pending {
                    kind,
                    a,
                    b,
                    fails: None,
                    key: None,
                    value: None,
                };
                if self.max_var_bytes == 0 {
                    p.fails = Some(("Vars are disabled by this host".to_string(), false));
                } else {
                    match self.builtin_text(plugin, a, "var key")? {
                        Err(fail) => p.fails = Some(fail),
                        Ok(key) if b == 0 => p.key = Some(key),
                        Ok(key) => match self.builtin_read(plugin, b, "var value")? {
                            Err(text) => p.fails = Some((text, false)),
                            Ok(value) => {
                                let used: u64 = self
                                    .vars
                                    .iter()
                                    .map(|(k, v)| 48 + k.len() as u64 + v.len() as u64)
                                    .sum();
                                if 48 + key.len() as u64 + value.len() as u64 + used > self.max_var_bytes {
                                    p.fails = Some(("Variable store is full".to_string(), true));
                                } else {
                                    p.key = Some(key);
                                    p.value = Some(value);
                                }
                            }
                        },
                    }
                }
                self.error_text = self.plugin_error_bytes(plugin)?;
                self.pending = Some(p);
            }
            0x22 => {
                let p = self
                    .pending
                    .take()
                    .ok_or_else(|| format!("trace {kind:#x} with no built-in pending"))?;
                let key = p.key.unwrap_or_default();
                match p.value {
                    None => {
                        self.vars.remove(&key);
                        self.freed(a);
                    }
                    Some(value) => {
                        self.freed(a);
                        self.freed(b);
                        self.vars.insert(key, value);
                    }
                }
            }
            0x23 => ensure!(
                r == self.size - HEAP_START,
                "memory_bytes is {r}, memory has {} bytes",
                self.size
            ),
            0x24 => {
                self.live.clear();
                self.hwm = HEAP_START;
                self.input_off = 0;
                self.input_len = 0;
                self.output = (0, 0);
                self.error = 0;
            }
            0x2f => {
                self.check_all(plugin, "the end of the program")?;
                self.error_text = self.plugin_error_bytes(plugin)?;
                self.ended = true;
            }
            _ => return Err(format!("unknown trace kind {kind:#x}")),
        }
        Ok(())
    }

    /// The bytes the model knows in [off, off + len), for the output check.
    fn known_range(&mut self, off: u64, len: u64) -> Vec<Option<u8>> {
        (off..off + len)
            .map(|addr| self.block_at(addr).and_then(|(s, b)| b.known.get(&(addr - s)).copied()))
            .collect()
    }
}

fn trace_function() -> Function {
    Function::new(
        "trace",
        [ValType::I64; 4],
        [],
        |plugin: &mut CurrentPlugin<'_>, args: &[Val], _: &mut [Val]| {
            let shared: Shared = plugin
                .host_context::<Shared>()
                .ok_or_else(|| Error::host("kernel model: no host context"))?
                .clone();
            let arg = |i: usize| args[i].i64().unwrap_or(0);
            let mut model = lock(&shared);
            if model.failure.is_some() {
                return Err(Error::host("kernel model: already failed"));
            }
            if let Err(e) = model.step(plugin, arg(0), arg(1) as u64, arg(2) as u64, arg(3) as u64) {
                model.failure = Some(e.clone());
                return Err(Error::new(ErrorKind::HostFunction, format!("kernel model: {e}")));
            }
            Ok(())
        },
    )
    .expect("i64 host function")
}

/// The driver with the model's host function, config and var limit.
pub fn compile() -> CompiledPlugin {
    let mut manifest = Manifest::new(extism_core::Wasm::data(DRIVER_WAT.as_bytes()));
    manifest.config = config();
    manifest.memory = Some(extism_core::manifest::MemoryOptions {
        max_var_bytes: Some(MAX_VAR_BYTES),
        ..Default::default()
    });
    PluginBuilder::from_manifest(manifest)
        .with_function(trace_function())
        .compile()
        .expect("the kernel_ops driver compiles")
}

pub fn compiled() -> &'static CompiledPlugin {
    static COMPILED: OnceLock<CompiledPlugin> = OnceLock::new();
    COMPILED.get_or_init(compile)
}

/// Run `program` twice on a new instance of the driver (vars persist, Extism
/// memory is reset between the calls) and compare everything with the model.
pub fn check_program(compiled: &CompiledPlugin, program: &[u8]) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let mut plugin = compiled.instantiate().map_err(|e| e.to_string())?;
    let shared: Shared = Arc::new(Mutex::new(Model::new()));
    for call in 0..2 {
        lock(&shared).input = program.to_vec();
        lock(&shared).started = false;
        let result = plugin.call_with_context("run", program, Some(Box::new(shared.clone())));
        let mut m = lock(&shared);
        let ctx = |m: &Model| format!("call {call}, after {} traces", m.steps);
        if let Some(f) = m.failure.take() {
            return Err(format!("{}: {f}", ctx(&m)));
        }
        let got_error = result.error.as_ref().map(|e| e.message().to_string());
        let plugin_error = m.error_text.take().map(|b| String::from_utf8_lossy(&b).into_owned());
        if let Some(p) = m.pending.take() {
            // A built-in did not return: it must be one the model expected to fail.
            let Some((text, prefix)) = p.fails else {
                return Err(format!(
                    "{}: the built-in {:#x} failed unexpectedly: rc {}, {got_error:?}",
                    ctx(&m),
                    p.kind,
                    result.rc
                ));
            };
            ensure!(result.rc == -1, "{}: a failed built-in gave rc {}", ctx(&m), result.rc);
            outcome.failed_calls += 1;
            outcome.failure = Some(text.clone());
            let got = got_error.unwrap_or_default();
            match plugin_error {
                Some(want) => ensure!(
                    got == want,
                    "{}: error `{got}`, the plugin error `{want}` should win",
                    ctx(&m)
                ),
                None if prefix => ensure!(
                    got.starts_with(&text),
                    "{}: error `{got}`, expected `{text}...`",
                    ctx(&m)
                ),
                None => ensure!(got == text, "{}: error `{got}`, expected `{text}`", ctx(&m)),
            }
        } else {
            ensure!(
                m.ended && m.started,
                "{}: the call ended early: rc {}, {got_error:?}",
                ctx(&m),
                result.rc
            );
            ensure!(result.rc == 0, "{}: rc {}, {got_error:?}", ctx(&m), result.rc);
            ensure!(
                got_error == plugin_error,
                "{}: error {got_error:?}, the model expects {plugin_error:?}",
                ctx(&m)
            );
            let (off, len) = m.output;
            let output = plugin.output().to_vec();
            ensure!(
                output.len() as u64 == len,
                "{}: output of {} bytes, expected {len}",
                ctx(&m),
                output.len()
            );
            for (i, want) in m.known_range(off, len).into_iter().enumerate() {
                if let Some(want) = want {
                    ensure!(
                        output[i] == want,
                        "{}: output byte {i} is {:#x}, expected {want:#x}",
                        ctx(&m),
                        output[i]
                    );
                }
            }
        }
        let vars = plugin.vars().clone();
        ensure!(
            vars == m.vars,
            "{}: the plugin's vars {vars:?} differ from the model's {:?}",
            ctx(&m),
            m.vars
        );
        outcome.traces = m.steps;
    }
    Ok(outcome)
}

/// What `check_program` saw: traces over both calls, calls a built-in ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub traces: u64,
    pub failed_calls: u64,
    /// The expected failure text of the last call a built-in ended.
    pub failure: Option<String>,
}

/// Ops of kernel_ops.wat, for writing programs by hand.
pub mod op {
    pub const ALLOC: u8 = 0;
    pub const FREE: u8 = 1;
    pub const LENGTH: u8 = 2;
    pub const LENGTH_UNSAFE: u8 = 3;
    pub const LOAD_U8: u8 = 4;
    pub const LOAD_U64: u8 = 5;
    pub const STORE_U8: u8 = 6;
    pub const STORE_U64: u8 = 7;
    pub const FILL: u8 = 8;
    pub const CHECK: u8 = 9;
    pub const INPUT: u8 = 10;
    pub const OUTPUT_SET: u8 = 11;
    pub const OUTPUT_GET: u8 = 12;
    pub const ERROR_SET: u8 = 13;
    pub const ERROR_GET: u8 = 14;
    pub const MKKEY: u8 = 15;
    pub const CONFIG_GET: u8 = 16;
    pub const VAR_GET: u8 = 17;
    pub const VAR_SET: u8 = 18;
    pub const MEMORY_BYTES: u8 = 19;
    pub const RESET: u8 = 20;
    pub const COUNT: u8 = 21;

    /// Operand modes (the `s` byte).
    pub const PDK_FREE: u8 = 0x10;
    pub const PLUS_Y: u8 = 0x20;
    pub const PLUS_SIGNED_Y: u8 = 0x40;
    pub const RAW: u8 = 0x80;

    pub fn record(op: u8, s: u8, x: u16, y: u32) -> [u8; 8] {
        let mut r = [0u8; 8];
        r[0] = op;
        r[1] = s;
        r[2..4].copy_from_slice(&x.to_le_bytes());
        r[4..8].copy_from_slice(&y.to_le_bytes());
        r
    }
}
