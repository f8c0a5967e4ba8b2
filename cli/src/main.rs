//! `extism`: call and inspect Extism plugins from the command line. A thin
//! layer over extism-core: it turns options into a manifest and prints what
//! the core returns. The flags follow the official (Go) `extism` CLI, so its
//! scripts and docs work here; `--fuel`, `--input-file` and `info` are ours.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::error::ErrorKind as ClapErrorKind;
use clap::{Args, Parser, Subcommand};
use extism_core::manifest::{LoadOptions, MemoryOptions};
use extism_core::overrides::{path_mapping, ManifestOverrides, Precedence};
use extism_core::source::{classify, Source};
use extism_core::{host_allowed, Manifest, PluginBuilder, WasiOutput, Wasm};

#[derive(Parser)]
#[command(name = "extism", version, about = "Call and inspect Extism WebAssembly plugins")]
struct Cli {
    /// Describe each step on stderr (what is loaded, linked and called).
    #[arg(long, short, global = true, overrides_with = "quiet")]
    verbose: bool,
    /// No informational messages on stderr (undoes an earlier -v); errors are
    /// still reported.
    #[arg(long, short, global = true, overrides_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call FUNCTION of PLUGIN and write its output to stdout.
    ///
    /// PLUGIN is a wasm file, a WAT file, a JSON/TOML manifest file, or an
    /// http(s) URL of any of these; what it is is detected from its content
    /// (-m insists on a manifest). The input comes from --input, --stdin,
    /// --input-file, or is empty.
    ///
    /// Output: on a terminal a newline follows the output; in a pipe or file
    /// the output is written exactly as the plugin set it. With --loop N above
    /// 1 every call's output is followed by a newline, terminal or not, so the
    /// outputs can be told apart.
    ///
    /// On failure the plugin's error goes to stderr and the exit code is the
    /// call's return code (a WASI exit code, 134 for a trap or timeout) or 1.
    /// A malformed option gives a one-line error and exit code 2; a value
    /// that cannot be used (bad --set-config JSON, an unreadable --link, a
    /// URL that cannot be fetched) a one-line error and exit code 1.
    Call(Box<CallArgs>),
    /// List the modules of PLUGIN with their imports and exports.
    Info {
        /// A wasm file, a WAT file, a manifest file, or an http(s) URL of one.
        plugin: String,
    },
}

#[derive(Args)]
struct CallArgs {
    /// A wasm file, a WAT file, a JSON/TOML manifest file, or an http(s) URL.
    plugin: String,
    /// The exported function to call.
    function: String,
    /// The input, as text.
    #[arg(long, short, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input from stdin.
    #[arg(long, conflicts_with_all = ["input", "input_file"])]
    stdin: bool,
    /// Read the input from this file (`-` for stdin).
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// Call the function N times on one plugin instance (vars persist); when
    /// N > 1 each output is followed by a newline. Stops at the first failure.
    #[arg(long = "loop", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Treat PLUGIN as a manifest (JSON or TOML). Without it a manifest is
    /// still recognised by its content.
    #[arg(long, short)]
    manifest: bool,
    /// Provide WASI to the plugin; its stdout and stderr go to this
    /// command's stdout and stderr (its stdout before the call's output).
    #[arg(long)]
    wasi: bool,
    /// A config value KEY=VALUE, or KEY for an empty value (repeatable).
    /// Applied after --set-config; both override the manifest's config.
    #[arg(long = "config", value_name = "KEY[=VALUE]")]
    config: Vec<String>,
    /// Config as a JSON object of strings, e.g. '{"a": "1"}'; merged over the
    /// manifest's config, and --config values override it.
    #[arg(long = "set-config", value_name = "JSON")]
    set_config: Option<String>,
    /// Link an extra module under NAME (repeatable), from a file or an
    /// http(s) URL; with PATH alone the name is the file name without its
    /// extension. Linked modules come before PLUGIN's own modules.
    #[arg(long = "link", value_name = "NAME=PATH")]
    links: Vec<String>,
    /// A host name glob the plugin may reach over HTTP (repeatable). When any
    /// is given, a PLUGIN or --link URL must match one of them too (its
    /// redirects are not checked); without any, such a URL is fetched as
    /// given and the plugin may reach no host.
    #[arg(long = "allow-host", value_name = "GLOB")]
    allowed_hosts: Vec<String>,
    /// A directory the plugin may use through WASI, HOST:GUEST or HOST
    /// (mounted at the same path); prefix HOST with `ro:` for read-only.
    #[arg(long = "allow-path", value_name = "HOST[:GUEST]")]
    allowed_paths: Vec<String>,
    /// Record the headers of HTTP responses, for the plugin's http_headers.
    #[arg(long)]
    enable_http_response_headers: bool,
    /// Stop each call after this many milliseconds.
    #[arg(long = "timeout", value_name = "MS")]
    timeout_ms: Option<u64>,
    /// A fuel budget for each call.
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

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// One line on stderr. A closed stderr is not worth a panic.
fn say(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "extism: {message}");
}

/// A -v message.
fn note(message: impl std::fmt::Display) {
    if VERBOSE.load(Ordering::Relaxed) {
        say(message);
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    say(message);
    ExitCode::FAILURE
}

fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The host of an http(s) URL as allowed-host globs see it: no user info or
/// port, lower case, brackets kept around an IPv6 address.
fn url_host(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        &host_port[..=host_port.find(']')?]
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Download `url` through the core's manifest loader, after checking its
/// host against `allowed` when that is not empty. Errors name no URL; the
/// caller adds context.
fn download(url: &str, allowed: &[String]) -> Result<Vec<u8>, String> {
    if !allowed.is_empty() {
        let host = url_host(url).ok_or("no host in the URL")?;
        if !host_allowed(Some(allowed), &host) {
            return Err(format!("host {host} is not allowed (see --allow-host)"));
        }
    }
    note(format_args!("downloading {url}"));
    let manifest = Manifest::new(Wasm::Url {
        url: url.to_string(),
        headers: BTreeMap::new(),
        method: None,
        name: None,
        hash: None,
    });
    let mut modules = manifest.load_modules(LoadOptions::default()).map_err(|e| {
        // The HTTP client's own text may start with the URL already.
        let text = e.message();
        text.strip_prefix(url)
            .and_then(|t| t.strip_prefix(": "))
            .unwrap_or(text)
            .to_string()
    })?;
    let bytes = modules.pop().map(|m| m.bytes.into_owned()).unwrap_or_default();
    note(format_args!("downloaded {} bytes", bytes.len()));
    Ok(bytes)
}

/// The manifest PLUGIN names: the manifest itself, or one module at its
/// path or URL. `as_manifest` refuses anything but a manifest.
fn load_manifest(plugin: &str, as_manifest: bool, allowed: &[String]) -> Result<Manifest, String> {
    let bytes = if is_url(plugin) {
        download(plugin, allowed).map_err(|e| format!("{plugin}: {e}"))?
    } else {
        note(format_args!("reading {plugin}"));
        std::fs::read(plugin).map_err(|e| format!("{plugin}: {e}"))?
    };
    if as_manifest {
        let text = std::str::from_utf8(&bytes).map_err(|_| format!("{plugin}: not a manifest (not UTF-8 text)"))?;
        let manifest = Manifest::parse(text).map_err(|e| format!("{plugin}: not a manifest: {e}"))?;
        note(format_args!(
            "{plugin} is a manifest of {} module(s)",
            manifest.wasm.len()
        ));
        return Ok(manifest);
    }
    match classify(&bytes).map_err(|e| format!("{plugin}: {e}"))? {
        Source::Manifest(manifest) => {
            note(format_args!(
                "{plugin} is a manifest of {} module(s)",
                manifest.wasm.len()
            ));
            Ok(*manifest)
        }
        Source::Module(bytes) if is_url(plugin) => Ok(Manifest::new(Wasm::data(bytes))),
        Source::Module(_) => Ok(Manifest::new(Wasm::File {
            path: PathBuf::from(plugin),
            name: None,
            hash: None,
        })),
    }
}

/// The module a `--link` value names: NAME=PATH, or PATH named after its
/// file name without extension. Read now, so a bad path is reported as such.
fn link_module(spec: &str, allowed: &[String]) -> Result<Wasm, String> {
    let (name, path) = match spec.split_once('=') {
        Some((name, path)) => (name.to_string(), path),
        None => {
            let file = spec.split(['?', '#']).next().unwrap_or_default();
            let file = file.rsplit('/').next().unwrap_or_default();
            let stem = Path::new(file).file_stem().unwrap_or_default();
            (stem.to_string_lossy().into_owned(), spec)
        }
    };
    if name.is_empty() || path.is_empty() {
        return Err(format!("--link {spec}: expected NAME=PATH"));
    }
    let bytes = if is_url(path) {
        download(path, allowed)
    } else {
        std::fs::read(path).map_err(|e| e.to_string())
    }
    .map_err(|e| format!("--link {spec}: {e}"))?;
    note(format_args!("linking {path} as module {name}"));
    let mut wasm = Wasm::data(bytes);
    if let Wasm::Data { name: slot, .. } = &mut wasm {
        *slot = Some(name);
    }
    Ok(wasm)
}

/// --set-config, then --config on top.
fn config_values(args: &CallArgs) -> Result<BTreeMap<String, String>, String> {
    let mut config = BTreeMap::new();
    if let Some(json) = args.set_config.as_deref().filter(|j| !j.is_empty()) {
        let values: BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| format!("--set-config: expected a JSON object of strings: {e}"))?;
        config.extend(values);
    }
    for pair in &args.config {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        config.insert(key.to_string(), value.to_string());
    }
    Ok(config)
}

/// The manifest of a call: PLUGIN's, with the links and options applied.
fn call_manifest(args: &CallArgs) -> Result<Manifest, String> {
    let config = config_values(args)?;
    let mut manifest = load_manifest(&args.plugin, args.manifest, &args.allowed_hosts)?;
    let mut modules = args
        .links
        .iter()
        .map(|spec| link_module(spec, &args.allowed_hosts))
        .collect::<Result<Vec<_>, _>>()?;
    modules.append(&mut manifest.wasm);
    manifest.wasm = modules;
    for key in config.keys() {
        note(format_args!("config key {key}"));
    }
    manifest.apply(
        ManifestOverrides {
            config: Some(config),
            allowed_hosts: Some(args.allowed_hosts.clone()),
            allowed_paths: Some(args.allowed_paths.iter().map(|spec| path_mapping(spec)).collect()),
            timeout_ms: args.timeout_ms,
            memory: MemoryOptions {
                max_pages: args.max_pages,
                max_http_response_bytes: args.max_http_response_bytes,
                max_var_bytes: args.max_var_bytes,
            },
        },
        // As the official CLI: flags add to the manifest's config, hosts and paths.
        Precedence::Extend,
    );
    Ok(manifest)
}

fn read_input(args: &CallArgs) -> Result<Vec<u8>, String> {
    let from_stdin = || {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("stdin: {e}"))?;
        Ok(buf)
    };
    match (&args.input, &args.input_file) {
        (Some(text), _) => Ok(text.clone().into_bytes()),
        _ if args.stdin => from_stdin(),
        (None, Some(path)) if path.as_os_str() == "-" => from_stdin(),
        (None, Some(path)) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
        (None, None) => Ok(Vec::new()),
    }
}

fn call(args: CallArgs) -> ExitCode {
    let manifest = match call_manifest(&args) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let input = match read_input(&args) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    note(format_args!("input: {} bytes", input.len()));
    if let Some(level) = &args.log_level {
        if let Err(e) = extism_core::log::log_to_file("stderr", Some(level)) {
            return fail(e);
        }
    }

    note(format_args!("creating the plugin ({} module(s))", manifest.wasm.len()));
    let mut plugin = match PluginBuilder::from_manifest(manifest)
        .with_wasi(args.wasi)
        .with_wasi_output(WasiOutput::Inherit)
        .with_fuel_limit(args.fuel)
        .with_http_response_headers(args.enable_http_response_headers)
        .build()
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut stdout = std::io::stdout().lock();
    let terminal = stdout.is_terminal();
    for round in 1..=args.repeat {
        note(format_args!("calling {} ({round}/{})", args.function, args.repeat));
        let started = Instant::now();
        let result = plugin.call_with_context(&args.function, &input, None);
        let output = plugin.output();
        note(format_args!(
            "returned {} bytes, rc {}, in {:?}",
            output.len(),
            result.rc,
            started.elapsed()
        ));
        let newline = args.repeat > 1 || (terminal && !output.is_empty());
        let written = stdout
            .write_all(output)
            .and_then(|()| if newline { stdout.write_all(b"\n") } else { Ok(()) })
            .and_then(|()| stdout.flush());
        if written.is_err() {
            return fail("cannot write to stdout");
        }
        // The exit status is the return code when it fits one (a WASI exit
        // code, 134 for a trap or timeout), otherwise 1.
        let status = u8::try_from(result.rc).ok().filter(|&rc| rc != 0).unwrap_or(1);
        if let Err(e) = result.into_result() {
            say(e);
            return ExitCode::from(status);
        }
    }
    ExitCode::SUCCESS
}

fn info(plugin: &str) -> ExitCode {
    let manifest = match load_manifest(plugin, false, &[]) {
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
        for import in &module.imports {
            text.push_str(&format!("  import {}::{} {}\n", import.module, import.name, import.ty));
        }
        for export in &module.exports {
            text.push_str(&format!("  export {} {}\n", export.name, export.ty));
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// Parse the command line; a usage error becomes one line on stderr (help
/// and version are printed as clap prints them).
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| match e.kind() {
        ClapErrorKind::DisplayHelp
        | ClapErrorKind::DisplayVersion
        | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(e.exit_code().clamp(0, 255) as u8)
        }
        _ => {
            // clap's text: "error: WHAT\n  detail\n\nUsage: ..."; keep the
            // first paragraph, on one line.
            let text = e.render().to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            let line = first.split_whitespace().collect::<Vec<_>>().join(" ");
            say(line.strip_prefix("error: ").unwrap_or(&line));
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    VERBOSE.store(cli.verbose && !cli.quiet, Ordering::Relaxed);
    match cli.command {
        Command::Call(args) => call(*args),
        Command::Info { plugin } => info(&plugin),
    }
}
