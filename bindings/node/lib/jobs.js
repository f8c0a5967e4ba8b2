'use strict';
// The asynchronous jobs of plugins (load, call, functionExists, close): each
// is pending, by id, until the addon's DONE event settles it. While any job is
// pending, a timer keeps the process alive (the addon's event channel does
// not: an idle plugin must not keep a process running).

const { toError } = require('./errors.js');

/** Plugins with pending jobs, held strongly until their jobs finish. */
const busy = new Set();
let keepAlive = null;

let nextJobId = 1;

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

/** Job `jobId` of `state` finished with `outcome` (the DONE event). */
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

module.exports = { submit, settle };
