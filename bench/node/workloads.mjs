// Node-level workloads for one SDK: ours (@extism-rs/extism) or the official
// @extism/extism. Prints `workload ns_per_op ...` lines (one number per sample).
//
// Usage: node workloads.mjs MODULE_PATH PLUGIN.wat MODE [WORKLOAD ...]
//   MODE: async | sync (ours only: callSync) | worker (official runInWorker)
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [modulePath, pluginPath, mode, ...wanted] = process.argv.slice(2);
const sdk = await import(pathToFileURL(modulePath).href);
const createPlugin = sdk.createPlugin ?? sdk.default;
const wasm = readFileSync(pluginPath);
const SAMPLES = 5;

const functions = {
  'extism:host/user': {
    bench_host: (ctx, addr) => ctx.store(ctx.read(addr).bytes()),
  },
};

async function plugin() {
  // The official SDK reads WAT only through a manifest `data` entry on Node.
  return createPlugin({ wasm: [{ data: new Uint8Array(wasm) }] }, { functions, runInWorker: mode === 'worker' });
}

async function timed(n, fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / n;
}

function call(p, name, input) {
  return mode === 'sync' ? p.callSync(name, input) : p.call(name, input);
}

/** ns per call of `callers` callers keeping calls of count_vowels (64 KiB) in flight for ~1 s on `target`. */
async function throughput(target, callers) {
  const data = new Uint8Array(65536).fill(97);
  let done = 0;
  const stop = performance.now() + 1000;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < stop) {
      await target.call('count_vowels', data);
      done++;
    }
  }));
  return Number(process.hrtime.bigint() - start) / Math.max(1, done);
}

const workloads = {
  create: () => timed(10, async () => { const p = await plugin(); await call(p, 'noop', ''); await p.close(); }),
  empty_call: async () => { const p = await plugin(); const r = await timed(3000, () => call(p, 'noop', '')); await p.close(); return r; },
  echo_64: async () => { const p = await plugin(); const d = new Uint8Array(64); const r = await timed(3000, () => call(p, 'echo', d)); await p.close(); return r; },
  echo_1m: async () => { const p = await plugin(); const d = new Uint8Array(1 << 20); const r = await timed(10, () => call(p, 'echo', d)); await p.close(); return r; },
  host: async () => { const p = await plugin(); const d = new Uint8Array(16); const r = await timed(2000, () => call(p, 'host', d)); await p.close(); return r; },
  // Ours only (the official SDKs have no pool): 4 callers on one plugin, and on a pool of 2.
  cpu_plugin: async () => { const p = await plugin(); const r = await throughput(p, 4); await p.close(); return r; },
  cpu_pool2: async () => {
    const pool = await sdk.createPool({ wasm: [{ data: new Uint8Array(wasm) }] }, { functions, maxInstances: 2 });
    const r = await throughput(pool, 4);
    await pool.close();
    return r;
  },
};
const oursOnly = new Set(['cpu_plugin', 'cpu_pool2']);

for (const name of wanted.length ? wanted : Object.keys(workloads)) {
  if (oursOnly.has(name) && (typeof sdk.createPool !== 'function' || mode !== 'async')) continue;
  await workloads[name]();
  const values = [];
  for (let i = 0; i < SAMPLES; i++) values.push(await workloads[name]());
  console.log(name, values.map((v) => v.toFixed(1)).join(' '));
}
process.exit(0);
