'use strict';
// createPool and Pool: up to `maxInstances` plugins made from one source, each
// on its own native thread, handed to one call at a time. The core's module
// cache compiles the source once; each further instance costs about an
// instantiation.

const os = require('node:os');
const { createPlugin } = require('./plugin.js');

const TOKEN = Symbol('Pool');

function defaultInstances() {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function checkInstances(value) {
  if (value === undefined || value === null) return defaultInstances();
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`maxInstances must be a whole number of at least 1, not ${String(value)}`);
  }
  return value;
}

/** A source that can be read only once (a Promise, a fetch Response) as bytes. */
async function reusable(source) {
  const value = await source;
  if (typeof Response === 'function' && value instanceof Response) {
    return new Uint8Array(await value.arrayBuffer());
  }
  return value;
}

class Pool {
  #source;
  #options;
  #max;
  /** Every instance made; `#idle` holds those no call is using. */
  #all = [];
  #idle = [];
  /** Instances being made now. */
  #creating = 0;
  /** Callers waiting for an instance, first come first served. */
  #waiters = [];
  /** Calls running now, and what `close()` waits on when they end. */
  #running = 0;
  #drained = null;
  #closed = false;

  constructor(token, source, options, max, first) {
    if (token !== TOKEN) throw new TypeError('Pool cannot be constructed directly: use createPool()');
    this.#source = source;
    this.#options = options;
    this.#max = max;
    this.#all.push(first);
    this.#idle.push(first);
  }

  /** The most instances this pool makes. */
  get maxInstances() {
    return this.#max;
  }

  /** How many instances exist now. */
  get instances() {
    return this.#all.length;
  }

  async #acquire() {
    if (this.#closed) throw new Error('pool is closed');
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.length + this.#creating < this.#max) {
      this.#creating++;
      try {
        const plugin = await createPlugin(this.#source, this.#options);
        this.#all.push(plugin);
        if (this.#closed) {
          await plugin.close();
          throw new Error('pool is closed');
        }
        return plugin;
      } finally {
        this.#creating--;
      }
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #release(plugin) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(plugin);
    else this.#idle.push(plugin);
  }

  /** Run `use(plugin)` on an instance no other call is using. */
  async #with(use) {
    this.#running++;
    try {
      const plugin = await this.#acquire();
      try {
        return await use(plugin);
      } finally {
        this.#release(plugin);
      }
    } finally {
      this.#running--;
      if (this.#running === 0 && this.#drained) this.#drained();
    }
  }

  /**
   * Call `functionName` on an idle instance (waiting for one when all are
   * busy and `maxInstances` exist), as `Plugin.call` does.
   * @returns {Promise<import('./output.js').PluginOutput | null>}
   */
  call(functionName, input, hostContext) {
    return this.#with((plugin) => plugin.call(functionName, input, hostContext));
  }

  /** Whether the plugin exports `name`. */
  functionExists(name) {
    return this.#with((plugin) => plugin.functionExists(name));
  }

  /**
   * Refuse new calls (and those still waiting for an instance), let running
   * calls finish, then close every instance.
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('pool is closed'));
    if (this.#running > 0) await new Promise((resolve) => (this.#drained = resolve));
    await Promise.all(this.#all.map((plugin) => plugin.close()));
    this.#idle = [];
  }
}

/**
 * A pool of up to `maxInstances` plugins (default: the number of CPUs) made
 * from `source` with the options of `createPlugin`. The first instance is
 * made now, so a bad source or option fails here.
 * @returns {Promise<Pool>}
 */
async function createPool(source, opts = {}) {
  const { maxInstances, ...options } = opts ?? {};
  const max = checkInstances(maxInstances);
  const bytesOrManifest = await reusable(source);
  const first = await createPlugin(bytesOrManifest, options);
  return new Pool(TOKEN, bytesOrManifest, options, max, first);
}

module.exports = { createPool, Pool };
