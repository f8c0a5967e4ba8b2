// ES module entry: the same objects as the CommonJS entry.
import api from './index.js';

export default api.createPlugin;
export const {
  createPlugin,
  newPlugin,
  createPluginSync,
  newPluginSync,
  CAPABILITIES,
  PluginOutput,
  Plugin,
  CallContext,
  createPool,
  Pool,
  version,
} = api;
