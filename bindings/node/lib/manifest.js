'use strict';
// ManifestLike + ExtismPluginOptions → what the native load takes: the core's
// manifest (JSON, or manifest text as given; docs/manifest.md), the values set
// beside it in the JS SDK's spelling (a manifest object's camelCase keys, then
// the options: src/load.rs makes them the core's ManifestOverrides, applied by
// the core's precedence) and PluginBuilder settings. Only conversion happens
// here: shapes are checked so they can be converted, and every rule of
// behaviour is left to the core.

const { fileURLToPath } = require('node:url');

const native = require('./native.js');

const LOG_LEVELS = native.logLevelNames();

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

/** A `URL` as a wasm entry: a `file:` URL becomes a path. */
function urlEntry(url) {
  return url.protocol === 'file:' ? { path: fileURLToPath(url) } : { url: url.href };
}

/** A string source (docs/node.md, createPlugin), as the core classifies it.
 * JSON is parsed here (a SyntaxError, as the JS SDK); other manifest text
 * (TOML) stays a string, for the core to read. */
function fromString(text) {
  switch (native.classifySource(text)) {
    case 'wat':
      return { wasm: [{ data: Buffer.from(text) }] };
    case 'manifest':
      return text.trimStart().startsWith('{') ? JSON.parse(text) : text;
    case 'url':
      return { wasm: [{ url: text }] };
    case 'file_url':
      return { wasm: [{ path: fileURLToPath(text) }] };
    default:
      return { wasm: [{ path: text }] };
  }
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

/** One wasm entry in the core's shape: bytes as base64, URLs as text, a
 * `file:` URL (as `path` or as the only form) as a path. The core judges the
 * rest (one form, the types, no unknown keys). `Response` entries must be read first. */
function wasmEntry(item, index) {
  if ('module' in item) throw new TypeError(NO_MODULE);
  if ('data' in item && !isBytes(item.data) && typeof item.data !== 'string' && !isObject(item.data)) {
    throw new TypeError(`"manifest.wasm[${index}].data" must be a Uint8Array, an ArrayBuffer or base64 text`);
  }
  const out = {};
  for (const [key, value] of Object.entries(item)) out[key] = isBytes(value) ? base64(value) : value instanceof URL ? String(value) : value;
  if (item.path instanceof URL) out.path = fileURLToPath(item.path);
  if (!('path' in item || 'data' in item) && String(item.url).startsWith('file://')) {
    const { url, headers, method, ...rest } = out;
    return { ...rest, path: fileURLToPath(url) };
  }
  return out;
}

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

/** A count (a TypeError otherwise, as the JS SDK reports bad options). */
function count(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative number, not ${String(value)}`);
  }
  return Math.ceil(value);
}

function stringMap(value, what) {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Array.isArray(value)) throw new TypeError(`${what} must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new TypeError(`${what}["${k}"] must be a string, not ${typeof v}`);
  }
  return value;
}

/** Manifest values in the JS SDK's spelling (the options, or a manifest
 * object's camelCase keys) as src/load.rs's JsOverrides. */
function overrides(values) {
  const memory = values.memory ?? {};
  if (!isObject(memory)) throw new TypeError('"memory" must be an object');
  const hosts = values.allowedHosts ?? undefined;
  if (hosts !== undefined && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string'))) {
    throw new TypeError('allowedHosts must be an array of strings');
  }
  const paths = stringMap(values.allowedPaths, 'allowedPaths');
  return {
    config: stringMap(values.config, 'config'),
    allowedHosts: hosts,
    allowedPaths: paths && Object.entries(paths), // {guest: host}, in order
    timeoutMs: count(values.timeoutMs, 'timeoutMs'),
    maxPages: count(memory.maxPages, 'memory.maxPages'),
    maxHttpResponseBytes: count(memory.maxHttpResponseBytes, 'memory.maxHttpResponseBytes'),
    maxVarBytes: count(memory.maxVarBytes, 'memory.maxVarBytes'),
  };
}

// A manifest object's keys in the JS SDK's spelling: each means what the
// option of that name means (`allowedPaths` is {guest: host}), and goes to the
// core beside the manifest, with the options (see `overrides`).
const CAMEL_KEYS = new Set(['allowedHosts', 'allowedPaths', 'timeoutMs']);
const CAMEL_MEMORY_KEYS = new Set(['maxPages', 'maxHttpResponseBytes', 'maxVarBytes']);

/** BigInts in the manifest as JSON numbers. */
const bigintsAsNumbers = (key, value) => (typeof value === 'bigint' ? Number(value) : value);

/** A manifest object as the core's manifest JSON and its camelCase keys'
 * overrides; every other key goes to the core, which refuses unknown keys. */
function manifestJson(manifest) {
  checkWasmList(manifest);
  const core = {};
  const camel = {};
  for (const [key, value] of Object.entries(manifest)) {
    if (key === 'wasm') core.wasm = value.map(wasmEntry);
    else if (CAMEL_KEYS.has(key)) camel[key] = value;
    else if (key === 'memory' && isObject(value)) {
      core.memory = {};
      camel.memory = {};
      for (const [k, v] of Object.entries(value)) (CAMEL_MEMORY_KEYS.has(k) ? camel.memory : core.memory)[k] = v;
    } else core[key] = value;
  }
  return { json: JSON.stringify(core, bigintsAsNumbers), overrides: overrides(camel) };
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

/** Everything the native side needs, from a manifest object or manifest text. */
function settings(manifest, opts) {
  const logLevel = checkLogLevel(opts.logLevel ?? 'silent');
  const fetch = customFetch(opts.fetch);
  const functions = hostFunctions(opts.functions);
  const logger = opts.logger ?? console;
  if (!isObject(logger) && typeof logger !== 'function') throw new TypeError('"logger" must be an object with log methods');
  const core = typeof manifest === 'string' ? { json: manifest, overrides: null } : manifestJson(manifest);
  return {
    manifest: core.json,
    functions,
    logger,
    logLevel,
    fetch,
    // Short calls may run on the JS thread (docs/node.md, Where calls run)
    // unless the plugin could wait there for this process: on an `async` host
    // function, a JS fetch or HTTP at all (known once loaded: lib/plugin.js);
    // or the caller asked for a worker.
    inlineCalls: !opts.runInWorker && fetch === null && !functions.some(({ fn }) => fn.constructor?.name === 'AsyncFunction'),
    load: {
      overrides: core.overrides ? [core.overrides, overrides(opts)] : [overrides(opts)],
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
