'use strict';
// PluginOutput: a read-only DataView over bytes from a plugin (docs/node.md, PluginOutput).

const decoder = new TextDecoder();

class PluginOutput extends DataView {
  #bytes = null;

  /**
   * @param {ArrayBufferLike} buffer
   * @param {number} [byteOffset]
   * @param {number} [byteLength]
   */
  constructor(buffer, byteOffset, byteLength) {
    super(buffer, byteOffset, byteLength);
  }

  /** @internal A view over a Buffer made by the addon (which owns its ArrayBuffer). */
  static fromBytes(bytes) {
    return new PluginOutput(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  json() {
    return JSON.parse(this.text());
  }

  arrayBuffer() {
    return this.buffer;
  }

  text() {
    return decoder.decode(this.bytes());
  }

  string() {
    return this.text();
  }

  bytes() {
    this.#bytes ??= new Uint8Array(this.buffer, this.byteOffset, this.byteLength);
    return this.#bytes;
  }
}

for (const name of [
  'setInt8',
  'setInt16',
  'setInt32',
  'setUint8',
  'setUint16',
  'setUint32',
  'setFloat32',
  'setFloat64',
  'setBigInt64',
  'setBigUint64',
]) {
  Object.defineProperty(PluginOutput.prototype, name, {
    value: function () {
      throw new Error('Cannot set values on output');
    },
    writable: true,
    configurable: true,
  });
}

module.exports = { PluginOutput };
