//! `extism`: call and inspect Extism plugins from the command line. A thin
//! layer over extism-core: it turns options into a manifest and prints what
//! the core returns.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use extism_core::manifest::{classify, MemoryOptions, Source};
use extism_core::{Manifest, PluginBuilder, Wasm};

#[derive(Parser)]
#[command(name = "extism", version, about = "Call and inspect Extism WebAssembly plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call FUNCTION of PLUGIN and write its output to stdout.
    ///
    /// PLUGIN is a wasm file, a WAT file, or a JSON/TOML manifest file. The
    /// input comes from --input, --input-file (`-` for stdin), or is empty.
    /// On failure the plugin's error goes to stderr and the exit code is the
    /// call's return code (or 1).
    Call(Box<CallArgs>),
    /// List the modules of PLUGIN with their imports and exports.
    Info {
        /// A wasm file, a WAT file, or a manifest file.
        plugin: PathBuf,
    },
}

#[derive(Args)]
struct CallArgs {
    /// A wasm file, a WAT file, or a JSON/TOML manifest file.
    plugin: PathBuf,
    /// The exported function to call.
    function: String,
    /// The input, as text.
    #[arg(long, short, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input from this file (`-` for stdin).
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// Provide WASI to the plugin.
    #[arg(long)]
    wasi: bool,
    /// A config value KEY=VALUE (repeatable); added to the manifest's config.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// A host name glob the plugin may reach over HTTP (repeatable).
    #[arg(long = "allow-host", value_name = "GLOB")]
    allowed_hosts: Vec<String>,
    /// A directory the plugin may use through WASI, HOST:GUEST or HOST
    /// (mounted at the same path); prefix HOST with `ro:` for read-only.
    #[arg(long = "allow-path", value_name = "HOST[:GUEST]")]
    allowed_paths: Vec<String>,
    /// Stop the call after this many milliseconds.
    #[arg(long = "timeout", value_name = "MS")]
    timeout_ms: Option<u64>,
    /// A fuel budget for the call.
    #[arg(long)]
    fuel: Option<u64>,
    /// The memory budget, in 64 KiB pages.
    #[arg(long = "memory-max", value_name = "PAGES")]
    max_pages: Option<u32>,
    /// The largest HTTP response body the plugin may receive, in bytes.
    #[arg(long = "http-response-max", value_name = "BYTES")]
    max_http_response_bytes: Option<u64>,
    /// The size limit of the plugin's var store, in bytes.
    #[arg(long = "var-max", value_name = "BYTES")]
    max_var_bytes: Option<u64>,
    /// Log plugin messages to stderr at this level (trace, debug, info, warn,
    /// error) or with a filter such as `extism=debug`.
    #[arg(long)]
    log_level: Option<String>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("extism: {message}");
    ExitCode::FAILURE
}

/// The manifest PLUGIN names: the manifest itself, or one module at its path.
fn load_manifest(path: &PathBuf) -> Result<Manifest, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match classify(&bytes).map_err(|e| e.to_string())? {
        Source::Manifest(manifest) => Ok(*manifest),
        Source::Module(_) => Ok(Manifest::new(Wasm::File {
            path: path.clone(),
            name: None,
            hash: None,
        })),
    }
}

fn call(args: CallArgs) -> ExitCode {
    let mut manifest = match load_manifest(&args.plugin) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    for pair in &args.config {
        let Some((key, value)) = pair.split_once('=') else {
            return fail(format!("--config {pair}: expected KEY=VALUE"));
        };
        manifest.config.insert(key.to_string(), value.to_string());
    }
    if !args.allowed_hosts.is_empty() {
        manifest
            .allowed_hosts
            .get_or_insert_with(Vec::new)
            .extend(args.allowed_hosts);
    }
    for entry in &args.allowed_paths {
        // `ro:` belongs to the host side; split host and guest after it.
        let (prefix, rest) = entry.strip_prefix("ro:").map(|r| ("ro:", r)).unwrap_or(("", entry));
        let (host, guest) = rest.split_once(':').unwrap_or((rest, rest));
        manifest
            .allowed_paths
            .get_or_insert_with(Default::default)
            .insert(format!("{prefix}{host}"), PathBuf::from(guest));
    }
    if args.timeout_ms.is_some() {
        manifest.timeout_ms = args.timeout_ms;
    }
    let memory = manifest.memory.get_or_insert_with(MemoryOptions::default);
    memory.max_pages = args.max_pages.or(memory.max_pages);
    memory.max_http_response_bytes = args.max_http_response_bytes.or(memory.max_http_response_bytes);
    memory.max_var_bytes = args.max_var_bytes.or(memory.max_var_bytes);

    let input = match (&args.input, &args.input_file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                return fail(format!("stdin: {e}"));
            }
            buf
        }
        (None, Some(path)) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format!("{}: {e}", path.display())),
        },
        (None, None) => Vec::new(),
    };
    if let Some(level) = &args.log_level {
        if let Err(e) = extism_core::log::log_to_file("stderr", Some(level)) {
            return fail(e);
        }
    }

    let mut plugin = match PluginBuilder::from_manifest(manifest)
        .with_wasi(args.wasi)
        .with_fuel_limit(args.fuel)
        .build()
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let result = plugin.call_with_context(&args.function, &input, None);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(plugin.output()).and_then(|()| stdout.flush()).is_err() {
        return fail("cannot write to stdout");
    }
    // The exit status is the return code when it fits one (a WASI exit
    // code, 134 for a trap or timeout), otherwise 1.
    let status = u8::try_from(result.rc).ok().filter(|&rc| rc != 0).unwrap_or(1);
    match result.into_result() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("extism: {e}");
            ExitCode::from(status)
        }
    }
}

fn info(path: PathBuf) -> ExitCode {
    let manifest = match load_manifest(&path) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let compiled = match PluginBuilder::from_manifest(manifest).compile() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut text = String::new();
    for module in compiled.describe() {
        text.push_str(&format!("module {}\n", module.name));
        for (from, name, ty) in &module.imports {
            text.push_str(&format!("  import {from}::{name} {ty}\n"));
        }
        for (name, ty) in &module.exports {
            text.push_str(&format!("  export {name} {ty}\n"));
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Call(args) => call(*args),
        Command::Info { plugin } => info(plugin),
    }
}
