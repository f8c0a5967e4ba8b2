'use strict';
// PluginState: what the JS side keeps for one plugin (its host functions,
// logger, fetch, pending jobs, host contexts, and whether its short calls run
// on the JS thread), and the registry of plugins by id that the addon's
// events name them by.

const { checkLogLevel } = require('./manifest.js');

/** Plugins by id, weakly: an idle plugin that nobody holds can be collected. */
const states = new Map();
const forget = new FinalizationRegistry((id) => {
  if (!states.get(id)?.deref()) states.delete(id);
});

let nextPluginId = 1;

/** The plugin of `id`, or undefined once it was collected. */
function stateOf(id) {
  return states.get(id)?.deref();
}

// `call()` runs on the JS thread, as `callSync` does, when the plugin cannot
// wait on this process (`inlineCalls`), no job of it is pending, the
// input is at most INLINE_MAX_INPUT bytes, and the export's last INLINE_AFTER
// runs each took less than INLINE_BUDGET_MS. Otherwise the call goes to the
// plugin's thread. docs/node.md (Where calls run) says what this means for the
// event loop.
const INLINE_BUDGET_MS = 0.1;
const INLINE_AFTER = 4;
const INLINE_MAX_INPUT = 64 * 1024;

class PluginState {
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
    checkLogLevel(level);
    this.native?.setLogLevel(level);
    this.logLevel = level;
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

module.exports = { PluginState, stateOf };
