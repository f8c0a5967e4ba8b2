// Creates, calls (through a host function, both call paths) and closes N plugins,
// then collects garbage: run_frontends.py compares what valgrind reports as
// lost for two values of N, which must be the same.
import createPlugin from '../../bindings/node/index.mjs';

const n = Number(process.argv[2]);
const host = new URL('../fixtures/wat/host.wat', import.meta.url);
for (let i = 0; i < n; i++) {
  const plugin = await createPlugin(host, {
    functions: { 'extism:host/user': { hello_world: (context, offset) => offset } },
  });
  const out = await plugin.call('call_host', 'churn');
  if (out?.text() !== 'churn') throw new Error(`call: ${out?.text()}`);
  const sync = plugin.callSync('call_host', 'sync');
  if (sync?.text() !== 'sync') throw new Error(`callSync: ${sync?.text()}`);
  await plugin.close();
}
for (let i = 0; i < 3; i++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(`churned ${n}`);
