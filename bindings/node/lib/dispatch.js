'use strict';
// `dispatch`: receives every event of every plugin from the addon
// (src/js_thread.rs), as `dispatch(kind, pluginId, ...)`, and hands it on.

const fast = require('./fast.js');
const { stateOf } = require('./plugin-state.js');
const { runHost, messageOf } = require('./host-calls.js');
const { settle } = require('./jobs.js');
const { runFetch } = require('./fetch.js');

// Event kinds (src/js_thread.rs).
const HOST = 0;
const LOG = 1;
const DONE = 2;
const FETCH = 3;

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

/**
 * - `HOST, id, index, hostCall, args, hostContextId`: run a host function for an asynchronous call;
 * - `LOG, id, level, text`: a log line;
 * - `DONE, id, jobId, outcome`: a job finished;
 * - `FETCH, id, request, reply`: send an HTTP request with the plugin's fetch.
 */
function dispatch(kind, pluginId, a, b, c, d) {
  const state = stateOf(pluginId);
  if (kind === HOST) {
    try {
      runHost(state, a, b, c, d);
    } catch (e) {
      // Never leave the plugin thread waiting for an answer.
      try {
        fast.hostReject(b, messageOf(e));
      } catch {
        // Already settled.
      }
    }
  } else if (kind === LOG) log(state, a, b);
  else if (kind === DONE) settle(state, a, b);
  else if (kind === FETCH) runFetch(state, a, b);
}

module.exports = { dispatch };
