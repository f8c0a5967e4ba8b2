//! The raw-wasmtime floor for the C benchmark's workloads (`bench/c/bench.c`).
//!
//! Runs the same plugin (`bench/wat/bench.wat`) linked to the same kernel
//! (`core/src/kernel.wat`) with wasmtime alone: no extism crates, no fuel, no
//! epoch interruption, no locks, no error plumbing. What is left is the work
//! any host must do per call (place the input in kernel memory, call, read the
//! output), so the distance between libextism and these numbers is the
//! runtime's own overhead.
//!
//! Usage: `extism-bench-floor [WORKLOAD ...]` (default: all). Prints one line
//! `WORKLOAD ns_per_op` per workload: the median of several samples, each
//! averaging as many operations as bench.c does.

use std::time::Instant;

use wasmtime::{
    Config, Engine, Extern, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module, ModuleExport,
    PoolingAllocationConfig, Store, TypedFunc,
};

const KERNEL_WAT: &str = include_str!("../../../core/src/kernel.wat");
const PLUGIN_WAT: &str = include_str!("../../wat/bench.wat");
const ENV: &str = "extism:host/env";
const USER: &str = "extism:host/user";

const WORKLOADS: &[&str] = &[
    "create",
    "create_pooling",
    "create_call",
    "empty_call",
    "echo_64",
    "echo_4k",
    "echo_64k",
    "echo_1m",
    "echo_16m",
    "count_vowels",
    "host",
    "memcpy_64",
    "memcpy_4k",
    "memcpy_64k",
    "memcpy_1m",
    "memcpy_16m",
];
const SAMPLES: usize = 7;

type R<T> = wasmtime::Result<T>;

/// Everything resolved once per engine: the compiled modules, the kernel's
/// pre-linked instantiation, the kernel export behind each plugin import and
/// the host function (defined in a `Linker`, so its type is registered once,
/// not per store as `Func::wrap` would).
struct Compiled {
    engine: Engine,
    kernel: InstancePre<()>,
    plugin: Module,
    /// Per plugin import, in order: the kernel export, or `None` for `bench_host`.
    imports: Vec<Option<ModuleExport>>,
    host: Linker<()>,
}

/// The plugin exports the workloads call.
#[derive(Clone, Copy)]
enum Export {
    Noop,
    Echo,
    CountVowels,
    Host,
}

/// One plugin instance with its handles, as a host keeps it.
struct Plugin {
    store: Store<()>,
    memory: Memory,
    meta: Memory,
    begin_call: TypedFunc<i64, i64>,
    noop: TypedFunc<(), i32>,
    echo: TypedFunc<(), i32>,
    count_vowels: TypedFunc<(), i32>,
    host: TypedFunc<(), i32>,
}

impl Compiled {
    fn new(pooling: bool) -> R<Compiled> {
        let mut config = Config::new();
        config.consume_fuel(false).epoch_interruption(false);
        if pooling {
            // Per store: the kernel (2 memories) and the plugin (1 memory).
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(16)
                .total_memories(32)
                .total_tables(16)
                .max_memories_per_module(2);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;
        let kernel_module = Module::new(&engine, KERNEL_WAT)?;
        let plugin = Module::new(&engine, PLUGIN_WAT)?;
        let kernel = Linker::new(&engine).instantiate_pre(&kernel_module)?;
        let mut host = Linker::new(&engine);
        host.func_wrap(USER, "bench_host", |x: i64| x)?;
        let mut imports = Vec::new();
        for import in plugin.imports() {
            imports.push(match (import.module(), import.name()) {
                (ENV, name) => Some(
                    kernel_module
                        .get_export_index(name)
                        .ok_or_else(|| wasmtime::format_err!("kernel has no {name}"))?,
                ),
                (USER, "bench_host") => None,
                (m, n) => wasmtime::bail!("unexpected import {m}::{n}"),
            });
        }
        Ok(Compiled {
            engine,
            kernel,
            plugin,
            imports,
            host,
        })
    }

    /// A fresh store with the kernel and the plugin instantiated into it.
    fn instantiate(&self) -> R<Plugin> {
        let mut store = Store::new(&self.engine, ());
        let kernel = self.kernel.instantiate(&mut store)?;
        let host = self.host.get(&mut store, USER, "bench_host").expect("bench_host");
        let mut externs: Vec<Extern> = Vec::with_capacity(self.imports.len());
        for import in &self.imports {
            externs.push(match import {
                Some(export) => kernel.get_module_export(&mut store, export).expect("kernel export"),
                None => host.clone(),
            });
        }
        let plugin = wasmtime::Instance::new(&mut store, &self.plugin, &externs)?;
        let memory = kernel.get_memory(&mut store, "memory").expect("kernel memory");
        let meta = kernel.get_memory(&mut store, "extism_meta").expect("kernel meta");
        Ok(Plugin {
            memory,
            meta,
            begin_call: kernel.get_typed_func(&mut store, "extism_begin_call")?,
            noop: plugin.get_typed_func(&mut store, "noop")?,
            echo: plugin.get_typed_func(&mut store, "echo")?,
            count_vowels: plugin.get_typed_func(&mut store, "count_vowels")?,
            host: plugin.get_typed_func(&mut store, "host")?,
            store,
        })
    }
}

impl Plugin {
    /// Place `input` in kernel memory, run `func`, return the output range.
    fn call(&mut self, export: Export, input: &[u8]) -> (usize, usize) {
        let handle = self
            .begin_call
            .call(&mut self.store, input.len() as i64)
            .expect("begin_call");
        assert!(handle >= 0, "input allocation failed");
        if !input.is_empty() {
            let start = handle as usize;
            self.memory.data_mut(&mut self.store)[start..start + input.len()].copy_from_slice(input);
        }
        let func = match export {
            Export::Noop => &self.noop,
            Export::Echo => &self.echo,
            Export::CountVowels => &self.count_vowels,
            Export::Host => &self.host,
        };
        let rc = func.call(&mut self.store, ()).expect("call");
        assert_eq!(rc, 0);
        let header = &self.meta.data(&self.store)[..16];
        let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap()) as usize;
        (word(0), word(8))
    }

    /// `call`, then copy the output out of memory as a host hands it on.
    fn call_output(&mut self, export: Export, input: &[u8]) -> Vec<u8> {
        let (offset, length) = self.call(export, input);
        self.memory.data(&self.store)[offset..offset + length].to_vec()
    }
}

/// Input bytes per call, as in bench.c (whose `host` workload passes no input).
fn input_size(workload: &str) -> usize {
    match workload {
        "echo_64" | "memcpy_64" => 64,
        "echo_4k" | "memcpy_4k" => 4096,
        "echo_64k" | "memcpy_64k" => 65536,
        "echo_1m" | "count_vowels" | "memcpy_1m" => 1 << 20,
        "echo_16m" | "memcpy_16m" => 16 << 20,
        _ => 0,
    }
}

/// Nanoseconds per operation over `n` runs of `op`.
fn time(n: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// One sample of `workload`: nanoseconds per operation.
fn sample(workload: &str, plain: &Compiled, pooled: &Compiled, plugin: &mut Plugin, input: &[u8]) -> f64 {
    match workload {
        "create" => time(200, || drop(plain.instantiate().expect("create"))),
        "create_pooling" => time(200, || drop(pooled.instantiate().expect("create"))),
        "create_call" => time(200, || {
            plain.instantiate().expect("create").call(Export::Noop, &[]);
        }),
        "empty_call" => time(20000, || {
            let (_, length) = plugin.call(Export::Noop, &[]);
            assert_eq!(length, 0);
        }),
        "host" => time(20000, || {
            std::hint::black_box(plugin.call_output(Export::Host, input));
        }),
        // The physical limit of an echo: one copy of the input into a
        // buffer of the host's (an echo makes at least three).
        w if w.starts_with("memcpy_") => {
            let mut out = vec![0u8; input.len()];
            let n = if input.len() >= 1 << 20 { 20 } else { 5000 };
            time(n, || {
                out.copy_from_slice(std::hint::black_box(input));
                std::hint::black_box(&mut out);
            })
        }
        "count_vowels" => time(10, || {
            std::hint::black_box(plugin.call_output(Export::CountVowels, input));
        }),
        _ => {
            let n = if input.len() >= 1 << 20 {
                10
            } else if input.len() >= 65536 {
                200
            } else {
                5000
            };
            time(n, || {
                std::hint::black_box(plugin.call_output(Export::Echo, input));
            })
        }
    }
}

fn main() -> R<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workloads: Vec<&str> = if args.is_empty() {
        WORKLOADS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    if let Some(bad) = workloads.iter().find(|w| !WORKLOADS.contains(w)) {
        eprintln!("unknown workload {bad}; known: {}", WORKLOADS.join(" "));
        std::process::exit(2);
    }
    let plain = Compiled::new(false)?;
    let pooled = Compiled::new(true)?;
    let mut plugin = plain.instantiate()?;
    for workload in workloads {
        let input: Vec<u8> = b"hello world, extism! "
            .iter()
            .copied()
            .cycle()
            .take(input_size(workload))
            .collect();
        if workload.starts_with("echo_") || workload == "host" {
            let f = if workload == "host" { Export::Host } else { Export::Echo };
            assert!(
                plugin.call_output(f, &input) == input,
                "{workload}: output differs from input"
            );
        }
        sample(workload, &plain, &pooled, &mut plugin, &input); // warm-up
        let mut samples: Vec<f64> = (0..SAMPLES)
            .map(|_| sample(workload, &plain, &pooled, &mut plugin, &input))
            .collect();
        samples.sort_by(f64::total_cmp);
        println!("{workload} {:.1}", samples[SAMPLES / 2]);
    }
    Ok(())
}
