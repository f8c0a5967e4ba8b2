'use strict';
// createPlugin and Plugin: the official JS SDK surface (docs/node.md) over
// the addon's NativePlugin. A call runs on one of two paths:
// - asynchronous (`call()`): a job for the plugin's own native thread
//   (lib/jobs.js); its host function calls, log lines and result come back
//   through `dispatch` (lib/dispatch.js);
// - synchronous (`callSync()`, and `call()` of a short export, see
//   PluginState.runsInline): the plugin runs on this thread, its host
//   functions called through `hostDirect` (lib/host-calls.js).

const native = require('./native.js');
const fast = require('./fast.js');
const { PluginOutput } = require('./output.js');
const { CallContext } = require('./call-context.js');
const { toError, decorate, NOT_REENTRANT } = require('./errors.js');
const { prepare, prepareSync } = require('./manifest.js');
const { PluginState } = require('./plugin-state.js');
const { submit } = require('./jobs.js');
const { hostDirect, sync, inSync } = require('./host-calls.js');
const { dispatch } = require('./dispatch.js');
const { toInput, syncInput, checkName } = require('./input.js');

const TOKEN = Symbol('Plugin');

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
      const job = { op: 'call', name: funcName, hostContext: hc, map: outputOf };
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
    const outer = sync.state;
    sync.state = state;
    let result;
    try {
      result = fast.callSync(state.handle, funcName, bytes, hc);
    } finally {
      sync.state = outer;
      if (hc !== undefined) state.hostContexts.delete(hc);
    }
    const hostError = state.takeHostError();
    if (result === null) return null;
    if (result instanceof ArrayBuffer) return new PluginOutput(result);
    throw toError(result, { op: 'call', name: funcName }, hostError);
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
  const state = new PluginState(prepared);
  const nativePlugin = newNative(state);
  try {
    await submit(state, { op: 'load' }, (id) =>
      nativePlugin.load(id, prepared.manifest, prepared.load),
    );
  } catch (e) {
    nativePlugin.closeSync(); // ends the plugin thread now rather than at GC
    throw e;
  }
  return loaded(nativePlugin, state);
}

/**
 * The synchronous createPlugin: compiles and instantiates on the JS thread.
 * Takes no Promise or fetch Response sources.
 */
function createPluginSync(manifest, opts = {}) {
  const prepared = prepareSync(manifest, opts);
  const state = new PluginState(prepared);
  const nativePlugin = newNative(state);
  const outcome = inSync(state, () => nativePlugin.loadSync(prepared.manifest, prepared.load));
  const hostError = state.takeHostError();
  if (!outcome.ok) throw toError(outcome, { op: 'load' }, hostError);
  return loaded(nativePlugin, state);
}

/** The Plugin of a loaded native plugin. One that may make HTTP requests
 * could wait on this process, so its calls never run on the JS thread. */
function loaded(nativePlugin, state) {
  if (nativePlugin.allowsHttp()) state.inlineCalls = false;
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
