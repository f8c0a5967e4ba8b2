// Soak of the Node frontend under churn (tests/soak/README.md).
//
// Usage: node soak.mjs SECONDS [TASKS] [RSS_FILE]
//        node soak.mjs --churn CYCLES RSS_FILE
//
// TASKS async workers (default 4) run a random mix for SECONDS: plugins
// created and closed (async and sync), echo calls of random sizes up to
// 1 MiB (call and callSync), sync and async host functions, vars, timeouts
// that fire, traps and calls through a pool; one more worker runs long calls
// that a timer cancels at random, together with idle and closed plugins.
// Every output is checked and every outcome counted. Resident memory is
// sampled each second into RSS_FILE (judged by soak_common.py). A watchdog
// fails the run when a worker makes no progress for 60 s.
//
// With --churn: only create and close plugins, CYCLES times, alternating
// createPlugin and createPluginSync, sampling resident memory every 1000
// cycles into RSS_FILE.
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// EXTISM_NODE_PACKAGE: another copy of the package (a long soak runs from one
// while the tree is rebuilt).
const pkg = process.env.EXTISM_NODE_PACKAGE ?? path.join(here, '..', '..', 'bindings', 'node');
const { default: createPlugin, createPluginSync, createPool } = await import(pathToFileURL(path.join(pkg, 'index.mjs')).href);
const wat = (name) => readFileSync(path.join(here, '..', 'fixtures', 'wat', `${name}.wat`));
const [ECHO, HOST, LIMITS, ERRORS, VARS] = ['echo', 'host', 'limits', 'errors', 'vars_config'].map(wat);
const RANDOM = randomBytes(1 << 20);

if (process.argv[2] === '--churn') {
  const cycles = Number(process.argv[3]);
  const samples = [];
  const start = Date.now();
  for (let k = 0; k < cycles; k++) {
    const p = k % 2 === 0 ? await createPlugin(ECHO) : createPluginSync(ECHO);
    await p.close();
    if (k % 1000 === 0) {
      globalThis.gc?.();
      samples.push(process.memoryUsage().rss);
    }
  }
  writeFileSync(process.argv[4], samples.join('\n') + '\n');
  console.log(`churn node: ${cycles} plugins created and closed in ${((Date.now() - start) / 1000).toFixed(1)} s`);
  process.exit(0);
}

const seconds = Number(process.argv[2] ?? 60);
const tasks = Number(process.argv[3] ?? 4);
const rssFile = process.argv[4] ?? null;

const counts = new Map();
const count = (what, n = 1) => counts.set(what, (counts.get(what) ?? 0) + n);
const failures = [];
let stopping = false;
const progress = new Array(tasks + 2).fill(Date.now());

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function payload() {
  const size = pick([0, 1, 64, 4096, 65536, Math.floor(Math.random() * (1 << 20))]);
  const start = Math.floor(Math.random() * ((1 << 20) - size + 1));
  return RANDOM.subarray(start, start + size);
}

const same = (out, data) => (out === null ? data.length === 0 : Buffer.compare(Buffer.from(out.bytes()), data) === 0);

const hostFunctions = {
  'extism:host/user': {
    hello_world(ctx, addr) {
      return ctx.store(`Hello, ${ctx.read(addr).text()}!`);
    },
  },
};
const asyncHostFunctions = {
  'extism:host/user': {
    async hello_world(ctx, addr) {
      const text = ctx.read(addr).text();
      await null;
      return ctx.store(`Hi, ${text}!`);
    },
  },
};

const pool = await createPool(HOST, { maxInstances: 2, functions: hostFunctions });
const idle = [await createPlugin(ECHO), await createPlugin(ECHO)];
let recent = [...idle];
let victim = null;

async function worker(i) {
  const echo = await createPlugin(ECHO);
  const host = await createPlugin(HOST, { functions: hostFunctions });
  const asyncHost = await createPlugin(HOST, { functions: asyncHostFunctions });
  const vars = await createPlugin(VARS);
  let counter = 0;
  const timed = await createPlugin(LIMITS, { timeoutMs: 20 });
  const errors = await createPlugin(ERRORS);
  while (!stopping) {
    const op = pick(['create', 'createSync', 'echo', 'echo', 'echoSync', 'host', 'asyncHost', 'vars', 'timeout', 'trap', 'pool']);
    if (op === 'create' || op === 'createSync') {
      const p = op === 'create' ? await createPlugin(ECHO) : createPluginSync(ECHO);
      const data = payload();
      expect(same(await p.call('echo', data), data), 'echo from a new plugin');
      await p.close();
      recent.push(p);
      recent = recent.slice(-64);
      count('plugins created');
    } else if (op === 'echo' || op === 'echoSync') {
      const data = payload();
      const out = op === 'echo' ? await echo.call('echo', data) : echo.callSync('echo', data);
      expect(same(out, data), `echo of ${data.length} bytes`);
      count('bytes echoed', data.length);
    } else if (op === 'host' || op === 'asyncHost') {
      const text = `t${i}-${Math.floor(Math.random() * 2 ** 30)}`;
      const out = await (op === 'host' ? host : asyncHost).call('call_host', text);
      expect(out.text() === (op === 'host' ? `Hello, ${text}!` : `Hi, ${text}!`), 'host function');
    } else if (op === 'vars') {
      counter++;
      const got = Number((await vars.call('counter')).getBigUint64(0, true));
      expect(got === counter, `var counter ${got}, expected ${counter}`);
    } else if (op === 'timeout') {
      await timed.call('infinite_loop').then(
        () => expect(false, 'infinite_loop returned'),
        (e) => expect(e.code === 'EXTISM_TIMEOUT', `timeout error ${e.code}: ${e.message}`),
      );
      count('timeouts');
    } else if (op === 'trap') {
      await errors.call('trap').then(
        () => expect(false, 'trap returned'),
        (e) => expect(/unreachable/.test(e.message), `trap error ${e.message}`),
      );
      count('traps');
    } else if (op === 'pool') {
      const text = `pool ${Math.floor(Math.random() * 1000)}`;
      expect((await pool.call('call_host', text)).text() === `Hello, ${text}!`, 'pool call');
      count('pool calls');
    }
    count('calls');
    progress[i] = Date.now();
  }
  await Promise.all([echo, host, asyncHost, vars, timed, errors].map((p) => p.close()));
}

async function longCalls(i) {
  victim = await createPlugin(LIMITS);
  while (!stopping) {
    await victim.call('spin', 'x'.repeat(1 + Math.floor(Math.random() * 40))).then(
      () => count('long calls finished'),
      (e) => {
        expect(e.code === 'EXTISM_TIMEOUT', `cancelled call: ${e.code}: ${e.message}`);
        count('long calls cancelled');
      },
    );
    progress[i] = Date.now();
  }
  await victim.close();
}

async function canceller(i) {
  while (!stopping) {
    await sleep(Math.random() * 20);
    for (const p of [victim, pick(recent), pick(recent)]) {
      if (p !== null) {
        p.cancel();
        count('cancels sent');
      }
    }
    progress[i] = Date.now();
  }
}

function guarded(f, i) {
  return f(i).catch((e) => {
    failures.push(`${f.name} ${i}: ${e.stack ?? e}`);
    stopping = true;
  });
}

const start = Date.now();
const samples = [];
const monitor = setInterval(() => {
  samples.push(process.memoryUsage().rss);
  const stalled = progress.map((t, i) => [i, Date.now() - t]).filter(([, age]) => age > 60_000);
  if (stalled.length) {
    console.log(`FAIL watchdog: workers ${stalled.map(([i]) => i)} made no progress for 60 s`);
    console.log('0 passed, 1 failed');
    process.exit(3);
  }
  if (Date.now() - start >= seconds * 1000) stopping = true;
}, 1000);
const running = Array.from({ length: tasks }, (_, i) => guarded(worker, i));
running.push(guarded(longCalls, tasks), guarded(canceller, tasks + 1));
await Promise.all(running);
clearInterval(monitor);
await pool.close();
await Promise.all(idle.map((p) => p.close()));
if (rssFile) writeFileSync(rssFile, samples.join('\n') + '\n');
const figures = [...counts.entries()].sort().map(([k, v]) => `${k} ${v}`).join(', ');
console.log(`soak node: ${Math.round((Date.now() - start) / 1000)} s, ${tasks} workers: ${figures}`);
for (const f of failures) console.log(`FAIL ${f}`);
console.log(`${failures.length ? 0 : 1} passed, ${failures.length ? 1 : 0} failed`);
process.exit(failures.length ? 1 : 0);
