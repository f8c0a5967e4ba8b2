'use strict';
// CallContext: the first argument of every host function (docs/node.md,
// CallContext). Each method is one of the addon's CallContext operations
// (`host*` in lib/fast.js, src/host_context.rs), the same for both call paths:
// the context names its host call by `target` and `generation`,
// - for a synchronous call, the plugin's handle and the host call's generation;
// - for an asynchronous call, the host call's own handle (generation unused).
// Its access to plugin memory lasts until its host function returns (or, for
// an async one, settles): afterwards `read` answers null and `length` 0n, as
// the JS SDK does for blocks that are gone, and the other memory and var
// methods throw.

const fast = require('./fast.js');
const { PluginOutput } = require('./output.js');

const encoder = new TextEncoder();

function address(value, what) {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new TypeError(`${what} must be a BigInt or an integer number, not ${typeof value}`);
}

function bytesOf(value, what) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`${what} must be a string or a Uint8Array, not ${value === null ? 'null' : typeof value}`);
}

/** A PluginOutput over an ArrayBuffer from the addon, or null. */
function output(buffer) {
  return buffer === null ? null : new PluginOutput(buffer);
}

class CallContext {
  #target;
  #generation;
  #hostContext;
  #plugin;

  /** @internal */
  constructor(target, generation, hostContext, plugin) {
    this.#target = target;
    this.#generation = generation;
    this.#hostContext = hostContext;
    this.#plugin = plugin;
  }

  /** The `hostContext` given to the `call` that runs this host function. */
  hostContext() {
    return this.#hostContext;
  }

  /** The block at `addr`, or null for 0, an address that is not a block, or after the host call returned. */
  read(addr) {
    return output(fast.hostRead(this.#target, this.#generation, address(addr, 'read(addr): addr')));
  }

  /** Copy a string (as UTF-8) or bytes into a new block; returns its address. */
  store(input) {
    if (input === undefined || input === null) throw new Error('failed to store output');
    return fast.hostStore(this.#target, this.#generation, bytesOf(input, 'store(input): input'));
  }

  /** A new block of `size` bytes; 0n when plugin memory is exhausted. */
  alloc(size) {
    return fast.hostAlloc(this.#target, this.#generation, address(size, 'alloc(size): size'));
  }

  /** The length of the block at `addr`, 0n when there is none (or the host call returned). */
  length(addr) {
    return fast.hostLength(this.#target, this.#generation, address(addr, 'length(addr): addr'));
  }

  /** Beyond the SDK: milliseconds left before the call's timeout, null without one (or after the host call). */
  timeRemaining() {
    return fast.hostTimeRemaining(this.#target, this.#generation);
  }

  getVariable(name) {
    if (typeof name !== 'string') throw new TypeError('getVariable(name): name must be a string');
    return output(fast.hostGetVariable(this.#target, this.#generation, name));
  }

  setVariable(name, value) {
    if (typeof name !== 'string') throw new TypeError('setVariable(name, value): name must be a string');
    fast.hostSetVariable(this.#target, this.#generation, name, bytesOf(value, 'setVariable(name, value): value'));
  }

  deleteVariable(name) {
    if (typeof name !== 'string') throw new TypeError('deleteVariable(name): name must be a string');
    fast.hostDeleteVariable(this.#target, this.#generation, name);
  }

  /** Set the call's error: the call then rejects with `Plugin-originated error: …`. */
  setError(err = null) {
    if (err === null || err === undefined || err === '') throw new Error('could not store error value');
    fast.hostSetError(this.#target, this.#generation, err instanceof Error ? err.message : String(err));
  }

  /** This plugin's log level (`logLevel` of createPlugin, until it is set here). */
  get logLevel() {
    return this.#plugin.logLevel;
  }

  /**
   * Change the plugin's log level, as in the JS SDK: its later log messages
   * and `get_log_level` follow it, for this call and the following ones
   * (also through a context kept after its host call returned).
   */
  set logLevel(value) {
    this.#plugin.setLogLevel(value);
  }
}

module.exports = { CallContext };
