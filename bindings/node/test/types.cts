// Type-checked by `tsc --noEmit` (npm test): the CommonJS view of the package.
import createPlugin = require('@extism-rs/extism');

async function main(): Promise<void> {
  const plugin = await createPlugin.default('plugin.wasm');
  const same = await createPlugin.createPlugin('plugin.wasm', { logLevel: 'silent' });
  const sync = createPlugin.createPluginSync('plugin.wasm');
  const out: createPlugin.PluginOutput | null = sync.callSync('echo', 'x');
  const level: createPlugin.LogLevel = 'warn';
  console.log(plugin, same, out, level, createPlugin.CAPABILITIES.fsAccess);
}

void main;
