'use strict';
// A call's input and function name, as the JS SDK takes them.

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** A call's input as bytes: a string (as UTF-8), a number, or bytes; nothing is empty. */
function toInput(input) {
  if (input === undefined || input === null) return EMPTY;
  if (typeof input === 'string') return encoder.encode(input);
  if (typeof input === 'number' || typeof input === 'bigint') return encoder.encode(String(input));
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new TypeError(`call input must be a string, a number or a Uint8Array, not ${typeof input}`);
}

/** A sync call's input: strings go to the addon as they are (it reads their UTF-8 in place). */
function syncInput(input) {
  return typeof input === 'string' ? input : toInput(input);
}

function checkName(name, method) {
  if (typeof name !== 'string') {
    throw new TypeError(`${method}: the function name must be a string, not ${name === null ? 'null' : typeof name}`);
  }
}

module.exports = { toInput, syncInput, checkName };
