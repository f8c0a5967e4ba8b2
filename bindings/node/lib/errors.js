'use strict';
// Core errors → JS errors. The core gives a kind and a final message; this maps
// them to the texts of the official JS SDK where the situation is the same
// (docs/node.md, Errors) and adds `code` (from the kind) and `rc`.

const CODES = {
  Manifest: 'EXTISM_MANIFEST',
  Compile: 'EXTISM_COMPILE',
  Instantiate: 'EXTISM_INSTANTIATE',
  FunctionNotFound: 'EXTISM_FUNCTION_NOT_FOUND',
  Plugin: 'EXTISM_PLUGIN',
  Trap: 'EXTISM_TRAP',
  Timeout: 'EXTISM_TIMEOUT',
  OutOfFuel: 'EXTISM_OUT_OF_FUEL',
  OutOfMemory: 'EXTISM_OUT_OF_MEMORY',
  HostFunction: 'EXTISM_HOST_FUNCTION',
  Exit: 'EXTISM_EXIT',
  InvalidArgument: 'EXTISM_INVALID_ARGUMENT',
  Reentrant: 'EXTISM_REENTRANT',
  Other: 'EXTISM_ERROR',
};

function decorate(error, outcome) {
  Object.defineProperty(error, 'code', { value: CODES[outcome.kind] ?? CODES.Other, enumerable: true, writable: true, configurable: true });
  if (outcome.rc !== undefined && outcome.rc !== null) {
    Object.defineProperty(error, 'rc', { value: outcome.rc, enumerable: true, writable: true, configurable: true });
  }
  return error;
}

/**
 * The error of a failed job.
 * @param {{kind: string, message: string, rc?: number}} outcome
 * @param {{op: string, name?: string}} job  `op` is `load` or `call` (or another job name)
 * @param {unknown} hostError  what a JS host function threw during this job, if anything
 */
function toError(outcome, job, hostError) {
  const { kind, message } = outcome;
  switch (kind) {
    case 'HostFunction':
      // The official SDK rejects with the very error the host function threw.
      if (hostError !== null && hostError !== undefined) return hostError;
      return decorate(new Error(message), outcome);
    case 'Plugin':
      return decorate(new Error(`Plugin-originated error: ${message}`), outcome);
    case 'FunctionNotFound':
      // `Function not found: NAME` is a contract text of the core (docs/abi.md, Error texts);
      // any other text of this kind is an export of the wrong type.
      if (message === `Function not found: ${job.name}`) {
        return decorate(new Error(`Plugin error: function "${job.name}" does not exist`), outcome);
      }
      return decorate(new Error(`Plugin error: ${message}`), outcome);
    case 'Timeout':
      return decorate(
        new Error(
          job.op === 'load'
            ? 'EXTISM: timed out while waiting for plugin to instantiate (timeout)'
            : 'EXTISM: call canceled due to timeout',
        ),
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

module.exports = { toError, CODES };
