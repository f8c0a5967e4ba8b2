'use strict';
// Core errors → JS errors. The core gives a kind and a final message; this maps
// them to the texts of the official JS SDK where the situation is the same
// (docs/node.md, Errors) and adds `code` (from the kind) and `rc`.

const CODES = {
  Manifest: 'EXTISM_MANIFEST',
  Compile: 'EXTISM_COMPILE',
  Instantiate: 'EXTISM_INSTANTIATE',
  FunctionNotFound: 'EXTISM_FUNCTION_NOT_FOUND',
  // As the JS SDK, one code for a missing export and one a call cannot run.
  ExportType: 'EXTISM_FUNCTION_NOT_FOUND',
  Plugin: 'EXTISM_PLUGIN',
  Trap: 'EXTISM_TRAP',
  Timeout: 'EXTISM_TIMEOUT',
  OutOfFuel: 'EXTISM_OUT_OF_FUEL',
  OutOfMemory: 'EXTISM_OUT_OF_MEMORY',
  HostFunction: 'EXTISM_HOST_FUNCTION',
  Exit: 'EXTISM_EXIT',
  InvalidArgument: 'EXTISM_INVALID_ARGUMENT',
  Reentrant: 'EXTISM_REENTRANT',
  HashMismatch: 'EXTISM_HASH_MISMATCH',
  UnresolvedImport: 'EXTISM_UNRESOLVED_IMPORT',
  VarLimit: 'EXTISM_VAR_LIMIT',
  Other: 'EXTISM_ERROR',
};

/** The JS SDK's text for a reentrant call (also thrown by lib/plugin.js itself). */
const NOT_REENTRANT = 'plugin is not reentrant';

function decorate(error, outcome) {
  Object.defineProperty(error, 'code', { value: CODES[outcome.kind] ?? CODES.Other, enumerable: true, writable: true, configurable: true });
  if (outcome.rc !== undefined && outcome.rc !== null) {
    Object.defineProperty(error, 'rc', { value: outcome.rc, enumerable: true, writable: true, configurable: true });
  }
  return error;
}

/**
 * The error of a failed job, chosen by the core's error kind (and the
 * structured `detail` some kinds carry), never by the core's message text.
 * @param {{kind: string, message: string, rc?: number, detail?: object}} outcome
 * @param {{op: string, name?: string}} job
 *   `op` is `load` or `call` (or another job name)
 * @param {unknown} hostError  what a JS host function threw during this job, if anything
 */
function toError(outcome, job, hostError) {
  const { kind, message } = outcome;
  const detail = outcome.detail ?? {};
  switch (kind) {
    case 'HostFunction':
      // The official SDK rejects with the very error the host function threw.
      if (hostError !== null && hostError !== undefined) return hostError;
      return decorate(new Error(message), outcome);
    case 'Plugin':
      return decorate(new Error(`Plugin-originated error: ${message}`), outcome);
    case 'FunctionNotFound':
      return decorate(new Error(`Plugin error: function "${job.name}" does not exist`), outcome);
    case 'ExportType':
      return decorate(new Error(`Plugin error: ${message}`), outcome);
    case 'Timeout':
      return decorate(
        new Error(
          job.op === 'load' ? 'EXTISM: timed out while waiting for plugin to instantiate' : 'EXTISM: call canceled due to timeout',
        ),
        outcome,
      );
    case 'Reentrant':
      return decorate(new Error(NOT_REENTRANT), outcome);
    case 'HashMismatch':
      return decorate(
        new Error(`Plugin error: hash mismatch. Expected: ${detail.expected}. Actual: ${detail.found}`),
        outcome,
      );
    case 'UnresolvedImport': {
      const from = `from module "${(detail.path ?? []).join('"/"')}"`;
      const what = `cannot resolve import "${detail.module}" "${detail.name}"`;
      if (detail.hostModule) {
        return decorate(
          new Error(`${from}: ${what} ("${detail.module}" is a host module, but does not contain "${detail.name}")`),
          outcome,
        );
      }
      return decorate(new Error(`${from}: ${what}: not provided by host imports nor linked manifest items`), outcome);
    }
    case 'VarLimit':
      return decorate(
        new Error(`var memory limit exceeded: ${detail.requested} bytes requested, ${detail.allowed} allowed`),
        outcome,
      );
    case 'Trap':
      return decorate(new WebAssembly.RuntimeError(message), outcome);
    case 'InvalidArgument':
      return decorate(new TypeError(message), outcome);
    default:
      return decorate(new Error(message), outcome);
  }
}

module.exports = { toError, decorate, CODES, NOT_REENTRANT };
