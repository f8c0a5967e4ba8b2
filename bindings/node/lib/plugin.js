'use strict';
// createPlugin and Plugin: the official JS SDK surface (docs/node.md) over
// the addon's NativePlugin. Plugin code runs on a native thread per plugin; its
// host function calls, log lines and results come back here through `dispatch`.

const native = require('./native.js');

/** callSync and the synchronous CallContext methods (src/fast.rs). */
const fast = native.fastFunctions();
const { PluginOutput } = require('./output.js');
const { CallContext, DirectContext } = require('./call-context.js');
const { toError, decorate, NOT_REENTRANT } = require('./errors.js');
const { prepare, prepareSync, LOG_LEVELS } = require('./manifest.js');

// Event kinds (src/bridge.rs).
const HOST = 0;
const LOG = 1;
const DONE = 2;
const FETCH = 3;

/** Plugins by id, weakly: an idle plugin that nobody holds can be collected. */
const states = new Map();
const forget = new FinalizationRegistry((id) => {
  if (!states.get(id)?.deref()) states.delete(id);
});
/** Plugins with pending jobs, held strongly until their jobs finish. */
const busy = new Set();
/** A timer that keeps the process alive while any job is pending (the addon's
 * event channel does not: an idle plugin must not keep a process running). */
let keepAlive = null;

let nextPluginId = 1;
let nextJobId = 1;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const TOKEN = Symbol('Plugin');

// `call()` runs on the JS thread, as `callSync` does, when the plugin cannot
// wait on this process (`inlineCalls`), no job of it is pending, the
// input is at most INLINE_MAX_INPUT bytes, and the export's last INLINE_AFTER
// runs each took less than INLINE_BUDGET_MS. Otherwise the call goes to the
// plugin's thread. docs/node.md (Where calls run) says what this means for the
// event loop.
const INLINE_BUDGET_MS = 0.1;
const INLINE_AFTER = 4;
const INLINE_MAX_INPUT = 64 * 1024;

class State {
  constructor(prepared) {
    this.id = nextPluginId;
    nextPluginId = nextPluginId >= 0xffffffff ? 1 : nextPluginId + 1;
    /** `{namespace, name, fn}`, and `results` (wasm types) once asked for (`resultTypes`). */
    this.functions = prepared.functions;
    /** The NativePlugin, and its handle for the `fast` functions. */
    this.native = null;
    this.handle = null;
    this.logger = prepared.logger;
    this.logLevel = prepared.logLevel;
    /** The JS fetch serving the plugin's HTTP requests, or null (the runtime's own client). */
    this.fetch = prepared.fetch;
    this.hostModules = prepared.hostModules;
    /** Pending asynchronous jobs by id. */
    this.pending = new Map();
    /** Host contexts of pending calls by id. */
    this.hostContexts = new Map();
    this.nextHostContext = 1;
    /** What a host function threw during the running job. */
    this.hostError = null;
    /** > 0 while a host function of this plugin runs synchronously. */
    this.inHost = 0;
    /** Whether short calls may run on the JS thread (see INLINE_BUDGET_MS). */
    this.inlineCalls = Boolean(prepared.inlineCalls);
    /** Per export: how many of its latest runs in a row took less than INLINE_BUDGET_MS. */
    this.shortRuns = new Map();
    /** True while a call of this plugin runs on the JS thread through `call()`. */
    this.inlineRunning = false;
    states.set(this.id, new WeakRef(this));
    forget.register(this, this.id);
  }

  addHostContext(value) {
    if (value === undefined) return undefined;
    const id = this.nextHostContext;
    this.nextHostContext = id >= 0xffffffff ? 1 : id + 1;
    this.hostContexts.set(id, value);
    return id;
  }

  /** `CallContext.logLevel = level`: the plugin's level from now on (the JS SDK's semantics). */
  setLogLevel(level) {
    if (!LOG_LEVELS.includes(level)) {
      throw new TypeError(
        `unrecognized log level "${level}"; expected one of "trace", "debug", "info", "warn", "error", "silent"`,
      );
    }
    this.native?.setLogLevel(level);
    this.logLevel = level;
  }

  /** Whether main exports a function named `name` (for the errors of calls). */
  isFunctionExport(name) {
    const exports = this.native?.describe().exports ?? [];
    return exports.some((e) => e.name === name && e.kind === 'function');
  }

  /** Count a run of export `name` that took `ms`. */
  noteRun(name, ms) {
    if (ms < INLINE_BUDGET_MS) this.shortRuns.set(name, Math.min((this.shortRuns.get(name) ?? 0) + 1, INLINE_AFTER));
    else this.shortRuns.delete(name);
  }

  /** Whether a call of `name` with `size` bytes of input runs on the JS thread now. */
  runsInline(name, size) {
    return (
      this.inlineCalls &&
      !this.inlineRunning &&
      this.pending.size === 0 &&
      size <= INLINE_MAX_INPUT &&
      this.shortRuns.get(name) === INLINE_AFTER
    );
  }

  takeHostError() {
    const e = this.hostError;
    this.hostError = null;
    return e;
  }
}

function pin(state) {
  busy.add(state);
  keepAlive ??= setInterval(() => {}, 0x7fffffff);
}

function unpin(state) {
  if (state.pending.size > 0) return;
  busy.delete(state);
  if (busy.size === 0 && keepAlive !== null) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

/** Queue an asynchronous job; `start(jobId)` hands it to the addon. */
function submit(state, job, start) {
  return new Promise((resolve, reject) => {
    const id = nextJobId;
    nextJobId = nextJobId >= 0xffffffff ? 1 : nextJobId + 1;
    job.resolve = resolve;
    job.reject = reject;
    state.pending.set(id, job);
    pin(state);
    try {
      start(id);
    } catch (e) {
      state.pending.delete(id);
      if (job.hostContext !== undefined) state.hostContexts.delete(job.hostContext);
      unpin(state);
      reject(e);
    }
  });
}

function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

/** `namespace::name` of a host function record, for messages. */
function label(f) {
  return `${f.namespace}::${f.name}`;
}

/** One wasm result from host function `f`'s return value, by the JS-API rules. */
function toResult(v, type, f) {
  if (type === 'i64') {
    if (typeof v !== 'bigint') {
      throw new TypeError(`host function ${label(f)} must return a BigInt for its i64 result, not ${typeof v}`);
    }
    return BigInt.asIntN(64, v);
  }
  if (typeof v === 'bigint') {
    throw new TypeError(`host function ${label(f)} must return a number for its ${type} result, not a BigInt`);
  }
  return type === 'i32' ? Number(v) | 0 : Number(v);
}

/** Host function `f`'s return value as the list of its wasm results. */
function toResults(value, types, f) {
  if (types.length === 0) return [];
  if (types.length === 1) return [toResult(value, types[0], f)];
  if (value === null || value === undefined || typeof value[Symbol.iterator] !== 'function') {
    throw new TypeError(`host function ${label(f)} must return an array of ${types.length} results`);
  }
  const list = Array.from(value);
  return types.map((type, i) => toResult(list[i], type, f));
}

/** The wasm result types of host function `f`, number `index` (from the import it satisfies). */
function resultTypes(state, f, index) {
  f.results ??= state.native.resultTypes(index);
  return f.results;
}

function isThenable(value) {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof value.then === 'function';
}

/** The CallContext of one host call over `native`, with the call's host context. */
function newCallContext(state, native, hostContextId) {
  const hostContext =
    hostContextId === null || hostContextId === undefined ? undefined : state.hostContexts.get(hostContextId);
  return new CallContext(native, hostContext, state);
}

/** Runs a host function for an asynchronous call: it answers through `ctx`. */
function runHost(state, index, ctx, args) {
  if (!state) {
    ctx.reject('the plugin was garbage-collected');
    return;
  }
  const f = state.functions[index];
  const results = resultTypes(state, f, index);
  const fail = (e) => {
    state.hostError = e;
    try {
      ctx.reject(messageOf(e));
    } catch {
      // The context is already settled.
    }
  };
  const finish = (value) => {
    let list;
    try {
      list = toResults(value, results, f);
    } catch (e) {
      fail(e);
      return;
    }
    try {
      ctx.resolve(list);
    } catch {
      // The context is already settled.
    }
  };
  const callContext = newCallContext(state, ctx, ctx.hostContextId);
  let value;
  state.inHost++;
  try {
    value = f.fn(callContext, ...args);
  } catch (e) {
    fail(e);
    return;
  } finally {
    state.inHost--;
  }
  if (isThenable(value)) {
    // This plugin's host functions may return Promises: its calls stay off the JS thread.
    state.inlineCalls = false;
    Promise.resolve(value).then(finish, fail);
    return;
  }
  finish(value);
}

/** The plugin whose synchronous call runs on this thread now (innermost). */
let syncState = null;

/** Run `f` with `state` as the plugin of the running synchronous call. */
function inSync(state, f) {
  const outer = syncState;
  syncState = state;
  try {
    return f();
  } finally {
    syncState = outer;
  }
}

/** Keeps what a host function threw for the call's error; returns its message for the addon. */
function hostFailed(state, e) {
  state.hostError = e;
  return messageOf(e);
}

/**
 * Runs host function `index` for a synchronous call, on this thread, while
 * the plugin waits (src/direct.rs). Returns the results checked against the
 * import's types (the value for one, an array for several), or a string: the
 * message of the host function's failure, which is kept for the call's error.
 */
function hostDirect(pluginId, index, generation, hostContextId, ...args) {
  const state = syncState?.id === pluginId ? syncState : states.get(pluginId)?.deref();
  if (!state) return 'the plugin was garbage-collected';
  const f = state.functions[index];
  const results = resultTypes(state, f, index);
  const callContext = newCallContext(state, new DirectContext(fast, state.handle, generation), hostContextId);
  let value;
  state.inHost++;
  try {
    value = f.fn(callContext, ...args);
  } catch (e) {
    return hostFailed(state, e);
  } finally {
    state.inHost--;
  }
  if (isThenable(value)) {
    // The JS thread is running the plugin: nothing could settle the Promise.
    // Its later failure (it may use the dead context) is a consequence of this one.
    Promise.resolve(value).catch(() => {});
    if (state.inlineRunning) {
      // A call() that ran here because its export had been short: from now on
      // every call of this plugin runs on its own thread.
      state.inlineCalls = false;
      return hostFailed(
        state,
        new TypeError(
          `host function ${label(f)} returned a Promise while call() ran on the JS thread; declare it \`async\` or pass runInWorker: true so that calls of this plugin wait for it on their own thread`,
        ),
      );
    }
    return hostFailed(
      state,
      new TypeError(`host function ${label(f)} returned a Promise, which callSync cannot wait for; use call()`),
    );
  }
  try {
    return results.length === 1 ? toResult(value, results[0], f) : toResults(value, results, f);
  } catch (e) {
    return hostFailed(state, e);
  }
}

/** A response's headers as `[name, value]` pairs (a `Headers`, pairs, or a plain object). */
function headerPairs(headers) {
  if (headers === null || headers === undefined) return [];
  const pairs = typeof headers[Symbol.iterator] === 'function' ? Array.from(headers) : Object.entries(headers);
  return pairs.map(([name, value]) => [String(name), String(value)]);
}

/** A response's body, reading at most `max + 1` bytes (more fail the request in the core). */
async function bodyUpTo(response, max) {
  const reader = response.body?.getReader?.();
  if (!reader) {
    if (typeof response.arrayBuffer !== 'function') return EMPTY;
    return new Uint8Array(await response.arrayBuffer());
  }
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    if (length > max) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

/**
 * Sends one HTTP request of the plugin with its `fetch` (src/fetch.rs): the
 * core has checked `allowedHosts` and follows redirects itself (so `redirect:
 * 'manual'`), and checks the body's size. A fetch that throws ends the call
 * with that error, as a host function's would.
 */
async function runFetch(state, request, reply) {
  try {
    if (!state?.fetch) throw new Error('the plugin was garbage-collected');
    const init = { method: request.method, headers: request.headers, redirect: 'manual' };
    // As the JS SDK: GET and HEAD send no body (fetch refuses one).
    if (request.body && request.method !== 'GET' && request.method !== 'HEAD') init.body = request.body;
    if (request.timeoutMs !== null && request.timeoutMs !== undefined) {
      init.signal = AbortSignal.timeout(Math.max(1, Math.ceil(request.timeoutMs)));
    }
    const response = await state.fetch(request.url, init);
    const body = await bodyUpTo(response, request.maxBytes);
    reply.resolve(Number(response.status), headerPairs(response.headers), body);
  } catch (e) {
    if (state) state.hostError = e;
    try {
      reply.reject(messageOf(e));
    } catch {
      // Already answered.
    }
  }
}

function log(state, level, text) {
  const logger = state?.logger;
  const method = logger?.[level];
  if (typeof method !== 'function') return;
  try {
    method.call(logger, text);
  } catch {
    // A failing logger must not break the plugin call.
  }
}

function settle(state, jobId, outcome) {
  const job = state?.pending.get(jobId);
  if (!job) return;
  state.pending.delete(jobId);
  if (job.hostContext !== undefined) state.hostContexts.delete(job.hostContext);
  unpin(state);
  const hostError = state.takeHostError();
  if (job.op === 'call' && typeof outcome.runNs === 'number') state.noteRun(job.name, outcome.runNs / 1e6);
  if (outcome.ok) job.resolve(job.map ? job.map(outcome) : undefined);
  else job.reject(toError(outcome, job, hostError));
}

/** Receives every event of every plugin (see src/bridge.rs). */
function dispatch(kind, pluginId, a, b, c) {
  const state = states.get(pluginId)?.deref();
  if (kind === HOST) {
    try {
      runHost(state, a, b, c);
    } catch (e) {
      // Never leave the plugin thread waiting for an answer.
      try {
        b.reject(messageOf(e));
      } catch {
        // Already settled.
      }
    }
  } else if (kind === LOG) log(state, a, b);
  else if (kind === DONE) settle(state, a, b);
  else if (kind === FETCH) runFetch(state, a, b);
}

/** A sync call's input: strings go to the addon as they are (it reads their UTF-8 in place). */
function syncInput(input) {
  return typeof input === 'string' ? input : toInput(input);
}

function toInput(input) {
  if (input === undefined || input === null) return EMPTY;
  if (typeof input === 'string') return encoder.encode(input);
  if (typeof input === 'number' || typeof input === 'bigint') return encoder.encode(String(input));
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new TypeError(`call input must be a string, a number or a Uint8Array, not ${typeof input}`);
}

function checkName(name, method) {
  if (typeof name !== 'string') {
    throw new TypeError(`${method}: the function name must be a string, not ${name === null ? 'null' : typeof name}`);
  }
}

const outputOf = (outcome) => (outcome.output && outcome.output.byteLength > 0 ? PluginOutput.fromBytes(outcome.output) : null);

function descriptors(list, withModule) {
  return list.map((d) => (withModule ? { module: d.module, name: d.name, kind: d.kind } : { name: d.name, kind: d.kind }));
}

class Plugin {
  #native;
  #state;
  #closed = false;

  /** @internal Use createPlugin() or createPluginSync(). */
  constructor(token, nativePlugin, state) {
    if (token !== TOKEN) throw new TypeError('Plugin cannot be constructed directly: use createPlugin()');
    this.#native = nativePlugin;
    this.#state = state;
  }

  #checkOpen() {
    if (this.#closed) throw new Error('plugin is closed');
  }

  #checkIdle(method) {
    if (this.#state.pending.size > 0) {
      throw new Error(`${method}: the plugin is busy with asynchronous work; wait for it before a synchronous call`);
    }
  }

  /**
   * Call `funcName` with `input`; resolves to its output, or null when it set none.
   * Calls on one plugin run one at a time, in order.
   */
  call(funcName, input, hostContext) {
    try {
      checkName(funcName, 'call');
      this.#checkOpen();
      if (this.#state.inHost > 0) {
        // It would wait for the very call that is waiting for this host function.
        throw decorate(new Error(NOT_REENTRANT), { kind: 'Reentrant' });
      }
      const bytes = toInput(input);
      const state = this.#state;
      if (state.runsInline(funcName, bytes.byteLength)) return this.#callInline(funcName, bytes, hostContext);
      const hc = state.addHostContext(hostContext);
      const job = { op: 'call', name: funcName, hostContext: hc, map: outputOf, isFunctionExport: (n) => state.isFunctionExport(n) };
      return submit(state, job, (id) => this.#native.call(id, funcName, bytes, hc));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `call()` of a short export, run on the JS thread; settles as `call()` does. */
  #callInline(funcName, bytes, hostContext) {
    const state = this.#state;
    state.inlineRunning = true;
    const start = performance.now();
    try {
      return Promise.resolve(this.callSync(funcName, bytes, hostContext));
    } catch (e) {
      return Promise.reject(e);
    } finally {
      state.noteRun(funcName, performance.now() - start);
      state.inlineRunning = false;
    }
  }

  /**
   * The synchronous `call`: runs on the JS thread, with host functions called
   * directly (they must not return a Promise). Throws if asynchronous work of
   * this plugin is pending.
   */
  callSync(funcName, input, hostContext) {
    checkName(funcName, 'callSync');
    this.#checkOpen();
    this.#checkIdle('callSync');
    const bytes = syncInput(input);
    const state = this.#state;
    const hc = state.addHostContext(hostContext);
    const outer = syncState;
    syncState = state;
    let result;
    try {
      result = fast.callSync(state.handle, funcName, bytes, hc);
    } finally {
      syncState = outer;
      if (hc !== undefined) state.hostContexts.delete(hc);
    }
    const hostError = state.takeHostError();
    if (result === null) return null;
    if (result instanceof ArrayBuffer) return new PluginOutput(result);
    throw toError(result, { op: 'call', name: funcName, isFunctionExport: (n) => state.isFunctionExport(n) }, hostError);
  }

  /** True if main exports `funcName` as a callable plugin function. */
  functionExists(funcName) {
    try {
      checkName(funcName, 'functionExists');
      this.#checkOpen();
      const job = { op: 'functionExists', name: funcName, map: (o) => o.value };
      return submit(this.#state, job, (id) => this.#native.functionExists(id, funcName));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The synchronous `functionExists`. */
  functionExistsSync(funcName) {
    checkName(funcName, 'functionExistsSync');
    this.#checkOpen();
    this.#checkIdle('functionExistsSync');
    const outcome = this.#native.functionExistsSync(funcName);
    if (!outcome.ok) throw toError(outcome, { op: 'functionExists', name: funcName }, null);
    return outcome.value;
  }

  /** Main's exports as `{name, kind}`. */
  async getExports() {
    this.#checkOpen();
    return descriptors(this.#native.describe().exports, false);
  }

  /** Main's imports as `{module, name, kind}`. */
  async getImports() {
    this.#checkOpen();
    return descriptors(this.#native.describe().imports, true);
  }

  async getInstance() {
    throw new Error(
      'getInstance() is not supported by the native addon: the plugin runs in the Extism runtime, not as a JS WebAssembly.Instance',
    );
  }

  /** Beyond the SDK: the fuel the last call used, or null without a fuel limit (or before the first call). */
  fuelConsumed() {
    this.#checkOpen();
    this.#checkIdle('fuelConsumed');
    return this.#native.fuelConsumed();
  }

  /** True while a call is running on this plugin. */
  isActive() {
    return !this.#closed && this.#native.isActive();
  }

  /** Free the plugin's Extism memory (vars are kept). False while work is pending. */
  async reset() {
    this.#checkOpen();
    if (this.#state.pending.size > 0 || this.#native.isActive()) return false;
    const outcome = this.#native.reset();
    if (!outcome.ok) throw toError(outcome, { op: 'reset' }, null);
    return true;
  }

  /** Stop the call running on this plugin (its Promise rejects with a timeout error). No-op when idle. */
  cancel() {
    if (!this.#closed) this.#native.cancel();
  }

  /** Release the plugin after the calls already queued. Later calls reject. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    const state = this.#state;
    if (state.pending.size === 0) {
      this.#native.closeSync();
      return;
    }
    await submit(state, { op: 'close' }, (id) => this.#native.close(id));
  }
}

function newNative(state) {
  state.native = new native.NativePlugin(state.id, dispatch, hostDirect);
  state.handle = state.native.handle();
  return state.native;
}


/**
 * Create a plugin from a manifest, JSON, path, URL or wasm bytes.
 * @returns {Promise<Plugin>}
 */
async function createPlugin(manifest, opts = {}) {
  const prepared = await prepare(manifest, opts);
  const state = new State(prepared);
  const nativePlugin = newNative(state);
  try {
    await submit(state, { op: 'load', hostModules: prepared.hostModules }, (id) =>
      nativePlugin.load(id, prepared.json, prepared.load),
    );
  } catch (e) {
    nativePlugin.closeSync(); // ends the plugin thread now rather than at GC
    throw e;
  }
  return new Plugin(TOKEN, nativePlugin, state);
}

/**
 * The synchronous createPlugin: compiles and instantiates on the JS thread.
 * Takes no Promise or fetch Response sources.
 */
function createPluginSync(manifest, opts = {}) {
  const prepared = prepareSync(manifest, opts);
  const state = new State(prepared);
  const nativePlugin = newNative(state);
  const outcome = inSync(state, () => nativePlugin.loadSync(prepared.json, prepared.load));
  const hostError = state.takeHostError();
  if (!outcome.ok) throw toError(outcome, { op: 'load', hostModules: prepared.hostModules }, hostError);
  return new Plugin(TOKEN, nativePlugin, state);
}

const CAPABILITIES = Object.freeze({
  // Async host functions work without a worker: the plugin waits on its own thread.
  supportsJSPromiseInterface: true,
  allowSharedBufferCodec: false,
  manifestSupportsPaths: true,
  crossOriginChecksEnforced: false,
  fsAccess: true,
  hasWorkerCapability: true,
  supportsWasiPreview1: true,
  supportsTimeouts: true,
  extismStdoutEnvVarSet: Boolean(process.env.EXTISM_ENABLE_WASI_OUTPUT),
});

module.exports = {
  createPlugin,
  createPluginSync,
  Plugin,
  PluginOutput,
  CallContext,
  CAPABILITIES,
  version: native.version(),
};
