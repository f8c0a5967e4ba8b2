'use strict';
// CommonJS entry. As with the official `@extism/extism`, `require()` returns
// `createPlugin` itself, carrying the named exports as properties.
const api = require('./lib/plugin.js');
const { createPool, Pool } = require('./lib/pool.js');

function createPlugin(manifest, opts) {
  return api.createPlugin(manifest, opts);
}

module.exports = createPlugin;
module.exports.default = createPlugin;
module.exports.createPlugin = createPlugin;
module.exports.newPlugin = createPlugin;
module.exports.createPluginSync = api.createPluginSync;
module.exports.newPluginSync = api.createPluginSync;
module.exports.CAPABILITIES = api.CAPABILITIES;
module.exports.PluginOutput = api.PluginOutput;
module.exports.Plugin = api.Plugin;
module.exports.CallContext = api.CallContext;
module.exports.createPool = createPool;
module.exports.Pool = Pool;
module.exports.version = api.version;
