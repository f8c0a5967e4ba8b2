'use strict';
// CallContext: the first argument of every host function (docs/node.md, CallContext),
// over the addon's NativeCallContext (asynchronous calls) or a DirectContext
// (synchronous ones). Its access to plugin memory lasts until its host
// function returns (or, for an async one, settles): afterwards `read` answers
// null and `length` 0n, as the JS SDK does for blocks that are gone, and the
// other memory and var methods throw.

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

function output(bytes) {
  if (!bytes) return null;
  return bytes instanceof ArrayBuffer ? new PluginOutput(bytes) : PluginOutput.fromBytes(bytes);
}

/**
 * @internal The native side of a CallContext whose host function runs for a
 * synchronous call: the addon's `host*` functions (src/fast.rs) on the
 * plugin's handle, naming the host call by generation (a context kept after
 * its call returned reads nothing and is refused everything else).
 */
class DirectContext {
  constructor(fast, handle, generation) {
    this.fast = fast;
    this.handle = handle;
    this.generation = generation;
  }

  read(addr) {
    return this.fast.hostRead(this.handle, this.generation, addr);
  }

  store(bytes) {
    return this.fast.hostStore(this.handle, this.generation, bytes);
  }

  alloc(size) {
    return this.fast.hostAlloc(this.handle, this.generation, size);
  }

  length(addr) {
    return this.fast.hostLength(this.handle, this.generation, addr);
  }

  timeRemaining() {
    return this.fast.hostTimeRemaining(this.handle, this.generation);
  }

  getVariable(name) {
    return this.fast.hostGetVariable(this.handle, this.generation, name);
  }

  setVariable(name, value) {
    this.fast.hostSetVariable(this.handle, this.generation, name, value);
  }

  deleteVariable(name) {
    this.fast.hostDeleteVariable(this.handle, this.generation, name);
  }

  setError(message) {
    this.fast.hostSetError(this.handle, this.generation, message);
  }
}

class CallContext {
  #native;
  #hostContext;
  #plugin;

  /** @internal */
  constructor(native, hostContext, plugin) {
    this.#native = native;
    this.#hostContext = hostContext;
    this.#plugin = plugin;
  }

  /** The `hostContext` given to the `call` that runs this host function. */
  hostContext() {
    return this.#hostContext;
  }

  /** The block at `addr`, or null for 0, an address that is not a block, or after the host call returned. */
  read(addr) {
    return output(this.#native.read(address(addr, 'read(addr): addr')));
  }

  /** Copy a string (as UTF-8) or bytes into a new block; returns its address. */
  store(input) {
    if (input === undefined || input === null) throw new Error('failed to store output');
    return this.#native.store(bytesOf(input, 'store(input): input'));
  }

  /** A new block of `size` bytes; 0n when plugin memory is exhausted. */
  alloc(size) {
    return this.#native.alloc(address(size, 'alloc(size): size'));
  }

  /** The length of the block at `addr`, 0n when there is none (or the host call returned). */
  length(addr) {
    return this.#native.length(address(addr, 'length(addr): addr'));
  }

  /** Beyond the SDK: milliseconds left before the call's timeout, null without one (or after the host call). */
  timeRemaining() {
    return this.#native.timeRemaining();
  }

  getVariable(name) {
    if (typeof name !== 'string') throw new TypeError('getVariable(name): name must be a string');
    return output(this.#native.getVariable(name));
  }

  setVariable(name, value) {
    if (typeof name !== 'string') throw new TypeError('setVariable(name, value): name must be a string');
    this.#native.setVariable(name, bytesOf(value, 'setVariable(name, value): value'));
  }

  deleteVariable(name) {
    if (typeof name !== 'string') throw new TypeError('deleteVariable(name): name must be a string');
    this.#native.deleteVariable(name);
  }

  /** Set the call's error: the call then rejects with `Plugin-originated error: …`. */
  setError(err = null) {
    if (err === null || err === undefined || err === '') throw new Error('could not store error value');
    this.#native.setError(err instanceof Error ? err.message : String(err));
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

module.exports = { CallContext, DirectContext };
