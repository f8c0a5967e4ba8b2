'use strict';
// A plugin's HTTP requests sent with its JS `fetch` (the `fetch` option): the
// FETCH event of the addon (src/fetch.rs) while the plugin thread waits.

const { messageOf } = require('./host-calls.js');

const EMPTY = new Uint8Array(0);

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
 * Sends one HTTP request of the plugin with its `fetch`: the core has checked
 * `allowedHosts` and follows redirects itself (so `redirect: 'manual'`), and
 * checks the body's size. A fetch that throws ends the call with that error,
 * as a host function's would.
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

module.exports = { runFetch };
