'use strict';
// Running a JS host function for the plugin, on both call paths:
// - `runHost`, for an asynchronous call (the HOST event): the plugin waits on
//   its thread, serving the CallContext, until the host function settles
//   (`hostResolve`/`hostReject`), for an async one when its Promise does;
// - `hostDirect`, for a synchronous call (src/sync_call.rs calls it): the
//   plugin waits on this very thread, so the host function must not return a
//   Promise, and its results (or failure message) are returned.
// Either way the host function gets a CallContext (lib/call-context.js) and
// its return value becomes the wasm results of the import it satisfies.

const fast = require('./fast.js');
const { CallContext } = require('./call-context.js');
const { stateOf } = require('./plugin-state.js');

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

/** The CallContext of one host call (`target` and `generation`: see lib/call-context.js). */
function newCallContext(state, target, generation, hostContextId) {
  const hostContext =
    hostContextId === null || hostContextId === undefined ? undefined : state.hostContexts.get(hostContextId);
  return new CallContext(target, generation, hostContext, state);
}

/** Runs a host function for an asynchronous call: it settles through `hostCall`. */
function runHost(state, index, hostCall, args, hostContextId) {
  if (!state) {
    fast.hostReject(hostCall, 'the plugin was garbage-collected');
    return;
  }
  const f = state.functions[index];
  const results = resultTypes(state, f, index);
  const fail = (e) => {
    state.hostError = e;
    try {
      fast.hostReject(hostCall, messageOf(e));
    } catch {
      // The call is already settled.
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
      fast.hostResolve(hostCall, list);
    } catch {
      // The call is already settled.
    }
  };
  const callContext = newCallContext(state, hostCall, 0, hostContextId);
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

/**
 * `sync.state`: the plugin whose synchronous call runs on this thread now
 * (the innermost), set around each one (`inSync`, and `callSync` in
 * lib/plugin.js without a closure), so that `hostDirect` finds it first.
 */
const sync = { state: null };

/** Run `f` with `state` as the plugin of the running synchronous call. */
function inSync(state, f) {
  const outer = sync.state;
  sync.state = state;
  try {
    return f();
  } finally {
    sync.state = outer;
  }
}

/** Keeps what a host function threw for the call's error; returns its message for the addon. */
function hostFailed(state, e) {
  state.hostError = e;
  return messageOf(e);
}

/**
 * Runs host function `index` for a synchronous call, on this thread, while
 * the plugin waits (src/sync_call.rs). Returns the results checked against the
 * import's types (the value for one, an array for several), or a string: the
 * message of the host function's failure, which is kept for the call's error.
 */
function hostDirect(pluginId, index, generation, hostContextId, ...args) {
  const state = sync.state?.id === pluginId ? sync.state : stateOf(pluginId);
  if (!state) return 'the plugin was garbage-collected';
  const f = state.functions[index];
  const results = resultTypes(state, f, index);
  const callContext = newCallContext(state, state.handle, generation, hostContextId);
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

module.exports = { runHost, hostDirect, sync, inSync, messageOf };
