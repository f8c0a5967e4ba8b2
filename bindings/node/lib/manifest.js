'use strict';
// ManifestLike + ExtismPluginOptions → the core's manifest JSON (docs/manifest.md)
// and PluginBuilder settings. Only conversion happens here: shapes are checked
// so they can be converted, and every rule of behaviour is left to the core.

const { fileURLToPath } = require('node:url');

const LOG_LEVELS = require('./native.js').logLevelNames();

/** A log level option, checked (a TypeError, as the JS SDK reports bad options). */
function checkLogLevel(level) {
  if (!LOG_LEVELS.includes(level)) {
    const names = LOG_LEVELS.map((name) => `"${name}"`).join(', ');
    throw new TypeError(`unrecognized log level "${level}"; expected one of ${names}`);
  }
  return level;
}

function isObject(x) {
  return x !== null && typeof x === 'object';
}

function isBytes(x) {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x) || (typeof SharedArrayBuffer !== 'undefined' && x instanceof SharedArrayBuffer);
}

function toUint8Array(x) {
  if (x instanceof Uint8Array) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return new Uint8Array(x);
}

function base64(bytes) {
  const view = toUint8Array(bytes);
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

function isResponse(x) {
  return isObject(x) && typeof x.arrayBuffer === 'function' && isObject(x.headers) && typeof x.headers.get === 'function';
}

function isModule(x) {
  return typeof WebAssembly !== 'undefined' && x instanceof WebAssembly.Module;
}

const NO_MODULE =
  'WebAssembly.Module sources are not supported by the native addon (the runtime compiles the wasm itself): pass the wasm bytes, a path or a URL';

/** A URL (string or `URL`) as a wasm entry: `file:` URLs become paths. */
function urlEntry(url) {
  const text = String(url);
  if (text.startsWith('file://')) return { path: fileURLToPath(text) };
  return { url: text };
}

/** A string source (docs/node.md, createPlugin): JSON, URL or path. */
function fromString(text) {
  if (text.trimStart().startsWith('{')) return JSON.parse(text);
  if (/^(https?|file):\/\//.test(text)) return { wasm: [urlEntry(text)] };
  return { wasm: [{ path: text }] };
}

/** The source as a manifest object; `Response`s are read (async only). */
async function toManifest(source) {
  if (isResponse(source)) {
    const type = (source.headers.get('content-type') || '').split(';')[0].trim();
    if (type === 'application/octet-stream' || type === 'application/wasm') {
      return { wasm: [{ data: new Uint8Array(await source.arrayBuffer()) }] };
    }
    if (type === 'application/json' || type === 'text/json') {
      return JSON.parse(Buffer.from(await source.arrayBuffer()).toString('utf8'));
    }
    throw new TypeError(`While processing manifest: unknown content-type "${type}"`);
  }
  return toManifestSync(source);
}

function toManifestSync(source) {
  if (typeof source === 'string') return fromString(source);
  if (source instanceof URL) return { wasm: [urlEntry(source)] };
  // Lenient: the official SDK takes only an ArrayBuffer, but any bytes are clear.
  if (isBytes(source)) return { wasm: [{ data: toUint8Array(source) }] };
  if (isModule(source)) throw new TypeError(NO_MODULE);
  if (isResponse(source)) throw new TypeError('a fetch Response source needs createPlugin (async), not createPluginSync');
  if (source !== null && typeof source === 'object' && typeof source.then === 'function') {
    throw new TypeError('a Promise source needs createPlugin (async), not createPluginSync');
  }
  if (!isObject(source)) {
    throw new TypeError(
      `Expected a manifest: an object, a JSON string, a path, a URL or wasm bytes; got ${source === null ? 'null' : typeof source}`,
    );
  }
  return source;
}

function checkWasmList(manifest) {
  if (!('wasm' in manifest)) throw new TypeError('Expected "wasm" key in manifest');
  if (!Array.isArray(manifest.wasm)) throw new TypeError('Expected "manifest.wasm" to be array');
  manifest.wasm.forEach((item, index) => {
    const known = isObject(item) && ('data' in item || 'url' in item || 'path' in item || 'response' in item || 'module' in item);
    if (!known) {
      throw new TypeError(
        `Expected every item in "manifest.wasm" to include either a "data", "url", or "path" key; got bad item at index ${index}`,
      );
    }
  });
}

/** One wasm entry in the core's shape. `Response` entries must be read first. */
function wasmEntry(item, index) {
  const out = {};
  if ('module' in item) throw new TypeError(NO_MODULE);
  if ('data' in item) {
    const data = item.data;
    if (isBytes(data)) out.data = base64(data);
    else if (typeof data === 'string') out.data = data; // base64 text, as the core reads it
    else if (isObject(data)) out.data = data; // let the core judge other shapes
    else throw new TypeError(`"manifest.wasm[${index}].data" must be a Uint8Array, an ArrayBuffer or base64 text`);
  } else if ('path' in item) {
    if (item.path instanceof URL) out.path = fileURLToPath(item.path);
    else if (typeof item.path === 'string') out.path = item.path;
    else throw new TypeError(`"manifest.wasm[${index}].path" must be a string`);
  } else if ('url' in item) {
    if (typeof item.url !== 'string' && !(item.url instanceof URL)) {
      throw new TypeError(`"manifest.wasm[${index}].url" must be a string or a URL`);
    }
    Object.assign(out, urlEntry(item.url));
    if (out.url !== undefined) {
      if (item.headers !== undefined) out.headers = item.headers;
      if (item.method !== undefined) out.method = item.method;
    }
  }
  for (const key of ['name', 'hash']) {
    if (item[key] === undefined || item[key] === null) continue;
    if (typeof item[key] !== 'string') throw new TypeError(`"manifest.wasm[${index}].${key}" must be a string`);
    out[key] = item[key];
  }
  // The core decides what an entry may hold (exactly one of data, path and
  // url; no unknown keys): whatever was not converted above goes to it as is.
  for (const [key, value] of Object.entries(item)) {
    if (!(key in out) && !WASM_ENTRY_CONVERTED.has(key)) out[key] = value;
  }
  // More than one form: hand them all over, for the core to refuse.
  const forms = ['data', 'path', 'url'].filter((key) => key in item);
  if (forms.length > 1) for (const key of forms) out[key] = jsonSafe(item[key]);
  return out;
}

// Keys wasmEntry converts itself.
const WASM_ENTRY_CONVERTED = new Set(['data', 'path', 'url', 'headers', 'method', 'name', 'hash', 'response', 'module']);

/** A value for the core's JSON: bytes as base64, URLs as text. */
function jsonSafe(value) {
  if (isBytes(value)) return base64(value);
  if (value instanceof URL) return String(value);
  return value;
}

// Manifest keys manifestJson converts itself; any other key goes to the core,
// which refuses unknown keys (docs/manifest.md, Fields).
const MANIFEST_CONVERTED = new Set([
  'wasm', 'memory', 'config', 'allowedHosts', 'allowed_hosts', 'allowedPaths', 'allowed_paths', 'timeoutMs', 'timeout_ms',
]);
const MEMORY_CONVERTED = new Set([
  'maxPages', 'max_pages', 'maxHttpResponseBytes', 'max_http_response_bytes', 'maxVarBytes', 'max_var_bytes',
]);

async function readResponses(manifest) {
  if (!manifest.wasm.some((item) => 'response' in item)) return manifest;
  const wasm = [];
  for (const item of manifest.wasm) {
    if ('response' in item) {
      const { response, ...rest } = item;
      wasm.push({ ...rest, data: new Uint8Array(await response.arrayBuffer()) });
    } else {
      wasm.push(item);
    }
  }
  return { ...manifest, wasm };
}

/** A count given as a createPlugin option: checked here (a TypeError, as the
 * JS SDK reports bad options). */
function optionCount(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative number, not ${String(value)}`);
  }
  return Math.ceil(value);
}

/** A count from the manifest itself: BigInts become numbers, anything else
 * goes to the core as it is, and the core refuses what is not a count. */
function manifestCount(value) {
  return typeof value === 'bigint' ? Number(value) : value;
}

function stringMap(value, what) {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Array.isArray(value)) throw new TypeError(`${what} must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new TypeError(`${what}["${k}"] must be a string, not ${typeof v}`);
  }
  return value;
}

/** `{guest: host}` (the JS SDK's direction) → the core's `{host: guest}`. */
function invertPaths(guestToHost) {
  const out = {};
  for (const [guest, host] of Object.entries(guestToHost)) {
    if (host in out) {
      throw new TypeError(`allowedPaths maps both "${out[host]}" and "${guest}" to the host path "${host}"`);
    }
    out[host] = guest;
  }
  return out;
}

function first(...values) {
  // The official precedence: `opts.x || manifest.x || default`.
  return values.find(Boolean);
}

/** The core manifest (as JSON) from a manifest object and the options. */
function manifestJson(manifest, opts) {
  checkWasmList(manifest);
  const out = { wasm: manifest.wasm.map(wasmEntry) };

  const fromMemory = isObject(manifest.memory) ? manifest.memory : {};
  const optMemory = opts.memory === undefined || opts.memory === null ? {} : opts.memory;
  if (!isObject(optMemory)) throw new TypeError('"memory" must be an object');
  const memory = {};
  for (const [camel, snake] of [
    ['maxPages', 'max_pages'],
    ['maxHttpResponseBytes', 'max_http_response_bytes'],
    ['maxVarBytes', 'max_var_bytes'],
  ]) {
    const n = optionCount(optMemory[camel], `memory.${camel}`) ?? manifestCount(fromMemory[camel] ?? fromMemory[snake]);
    if (n !== undefined && n !== null) memory[snake] = n;
  }
  for (const [key, value] of Object.entries(fromMemory)) {
    if (!MEMORY_CONVERTED.has(key)) memory[key] = value;
  }
  if (Object.keys(memory).length) out.memory = memory;

  const config = stringMap(first(opts.config, manifest.config), 'config');
  if (config) out.config = config;

  const hosts = allowedHosts(manifest, opts);
  if (hosts !== undefined) out.allowed_hosts = hosts;

  // camelCase `allowedPaths` is the JS SDK's guest → host map; snake_case
  // `allowed_paths` in a manifest is the core's host → guest map.
  const guestToHost = stringMap(first(opts.allowedPaths, manifest.allowedPaths), 'allowedPaths');
  if (guestToHost) out.allowed_paths = invertPaths(guestToHost);
  else {
    const hostToGuest = stringMap(manifest.allowed_paths, 'allowed_paths');
    if (hostToGuest) out.allowed_paths = hostToGuest;
  }

  // Unlike the official SDK, the manifest's own timeout applies too (docs/compatibility.md, Node).
  const timeout = optionCount(opts.timeoutMs, 'timeoutMs') ?? manifestCount(manifest.timeoutMs ?? manifest.timeout_ms);
  if (timeout !== undefined && timeout !== null) out.timeout_ms = timeout;

  for (const [key, value] of Object.entries(manifest)) {
    if (!MANIFEST_CONVERTED.has(key)) out[key] = value;
  }
  return JSON.stringify(out);
}

/** The hosts a plugin may reach: the option, else the manifest's (either spelling). */
function allowedHosts(manifest, opts) {
  const hosts = first(opts.allowedHosts, manifest.allowedHosts, manifest.allowed_hosts);
  if (hosts !== undefined && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string'))) {
    throw new TypeError('allowedHosts must be an array of strings');
  }
  return hosts;
}

/** The host functions of `opts.functions`, flattened in a fixed order. */
function hostFunctions(functions) {
  const list = [];
  if (functions === undefined || functions === null) return list;
  if (!isObject(functions)) throw new TypeError('"functions" must be an object of namespaces');
  for (const [namespace, group] of Object.entries(functions)) {
    if (!isObject(group)) throw new TypeError(`functions["${namespace}"] must be an object of functions`);
    for (const [name, fn] of Object.entries(group)) {
      if (typeof fn !== 'function') {
        throw new TypeError(`functions["${namespace}"]["${name}"] must be a function, not ${typeof fn}`);
      }
      list.push({ namespace, name, fn });
    }
  }
  return list;
}

function fuelLimit(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value < 1n << 64n) return value;
  throw new TypeError(`fuelLimit must be a non-negative integer (a number or a BigInt), not ${String(value)}`);
}

function checkOptions(opts) {
  if (opts === undefined || opts === null) return {};
  if (!isObject(opts)) throw new TypeError('createPlugin options must be an object');
  return opts;
}

/** Everything the native side needs, from a manifest object. */
function settings(manifest, opts) {
  const logLevel = checkLogLevel(opts.logLevel ?? 'silent');
  const fetch = customFetch(opts.fetch);
  const functions = hostFunctions(opts.functions);
  const logger = opts.logger ?? console;
  if (!isObject(logger) && typeof logger !== 'function') throw new TypeError('"logger" must be an object with log methods');
  return {
    json: manifestJson(manifest, opts),
    functions,
    logger,
    logLevel,
    fetch,
    hostModules: hostModules(functions, Boolean(opts.useWasi)),
    // Short calls may run on the JS thread (docs/node.md, Where calls run)
    // unless the plugin could wait there for this process: on an `async` host
    // function, a JS fetch or HTTP at all; or the caller asked for a worker.
    inlineCalls:
      !opts.runInWorker &&
      fetch === null &&
      !(allowedHosts(manifest, opts)?.length > 0) &&
      !functions.some(({ fn }) => fn.constructor?.name === 'AsyncFunction'),
    load: {
      wasi: Boolean(opts.useWasi),
      wasiOutput: opts.enableWasiOutput === undefined ? undefined : Boolean(opts.enableWasiOutput),
      fuelLimit: fuelLimit(opts.fuelLimit),
      httpResponseHeaders: Boolean(opts.allowHttpResponseHeaders),
      logLevel,
      functions: functions.map(({ namespace, name }) => ({ namespace, name })),
      fetch: fetch !== null,
    },
  };
}

/** Node's own fetch, as it was when this package was loaded. */
const NODE_FETCH = globalThis.fetch;

/**
 * The fetch that serves the plugin's HTTP requests, or null for the runtime's
 * own HTTP client. As in the JS SDK, `opts.fetch` defaults to the global
 * `fetch`: so a replaced `globalThis.fetch` (a test's mock) is used too, and
 * Node's own fetch is left to the runtime, which does the same job natively.
 */
function customFetch(option) {
  const fetch = option ?? globalThis.fetch;
  if (fetch === undefined || fetch === null || fetch === NODE_FETCH) return null;
  if (typeof fetch !== 'function') throw new TypeError(`"fetch" must be a function, not ${typeof fetch}`);
  return fetch;
}

/** The import modules the host provides (for the JS SDK's texts of unresolved imports). */
function hostModules(functions, wasi) {
  const modules = new Set(['extism:host/env']);
  for (const { namespace } of functions) modules.add(namespace);
  if (wasi) {
    modules.add('wasi_snapshot_preview1');
    modules.add('wasi_unstable');
  }
  return modules;
}

async function prepare(source, opts) {
  opts = checkOptions(opts);
  const manifest = await toManifest(await source);
  if (isObject(manifest) && Array.isArray(manifest.wasm)) {
    return settings(await readResponses(manifest), opts);
  }
  return settings(manifest, opts);
}

function prepareSync(source, opts) {
  opts = checkOptions(opts);
  const manifest = toManifestSync(source);
  if (isObject(manifest) && Array.isArray(manifest.wasm) && manifest.wasm.some((w) => isObject(w) && 'response' in w)) {
    throw new TypeError('"response" wasm entries need createPlugin (async), not createPluginSync');
  }
  return settings(manifest, opts);
}

module.exports = { prepare, prepareSync, checkLogLevel };
